"""Transfer gap against model size (paper Sec. 4.5, Fig. 4 right).

Per setting, eq. 1 is fitted for every model; the transfer gaps ``C`` (with profile
intervals) are then fitted by a power law in the number of backbone parameters,
``C(P) = k P^-b`` (log loss, so relative errors count), with a profile interval for ``b``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..curves import CurveSet, curve_label
from ..law import BaseLaw, PowerLaw, TransferLaw


def group_key(group: Mapping[str, Any], columns: Sequence[str]) -> tuple:
    """A hashable key of a curve's group over ``columns`` (values as text)."""
    return tuple((c, str(group.get(c))) for c in columns)


def model_size_study(cs: CurveSet, *, D: float | None = 0.48, loss: str = "linear",
                     level: float = 0.9, model_col: str = "model",
                     size_col: str = "nparam",
                     alpha_bounds: tuple[float, float] | None = (0.1, 1.5),
                     fitted: Mapping[tuple, BaseLaw] | None = None
                     ) -> list[dict[str, Any]]:
    """C against model size for every setting with at least 3 models.

    Parameters
    ----------
    cs : CurveSet
        Curves with a model column and a parameter-count column (cg-transfer: ``model``,
        ``nparam`` in millions; ``syn2real export`` writes both).
    D : float or None
        Fixed D of eq. 1 (the paper's shared 0.48) or None for free D per curve.
    loss, level
        Fitting loss of eq. 1 and interval level.
    alpha_bounds : (low, high) or None
        Bounds of alpha in eq. 1 (the paper's figures use 0.1 - 1.5).
    fitted : mapping, optional
        Eq. 1 already fitted with these settings, by curve (:func:`group_key` of the curve's
        group): used instead of fitting again.

    Returns
    -------
    list of dict
        Per setting: ``setting`` (the other grouping columns), ``points`` (model, size, C,
        C_ci, alpha) and ``fit`` (``k``, ``b``, ``b_ci``, ``flags``) or ``fit = None`` with a
        ``note`` when there are fewer than 3 models.
    """
    if model_col not in cs.groups:
        raise ValueError(f"{cs.source}: no '{model_col}' column: the model-size study needs "
                         "curves for several models")
    if size_col not in cs.data.columns:
        raise ValueError(f"{cs.source}: no '{size_col}' column (parameters per model)")
    others = [g for g in cs.groups if g not in (model_col, size_col)]
    out = []
    for setting, g in (cs.data.groupby(others, dropna=False) if others else [((), cs.data)]):
        key = setting if isinstance(setting, tuple) else (setting,)
        points = []
        for model, gm in g.groupby(model_col):
            if gm["n"].nunique() < 3:
                continue
            group = {**dict(zip(others, key, strict=True)), model_col: model}
            law = None if fitted is None else fitted.get(group_key(group, cs.groups))
            if law is None:
                kw: dict[str, Any] = {"loss": loss}
                if D is not None:
                    kw["D"] = D
                if alpha_bounds is not None:
                    kw["bounds"] = {"alpha": alpha_bounds}
                law = TransferLaw(**kw).fit(gm["n"].to_numpy(), gm["err"].to_numpy(),
                                            weights=gm["weight"].to_numpy())
            ci = law.conf_int(level=level)["C"]
            points.append({"model": model, "size": float(gm[size_col].iloc[0]),
                           "C": float(law.params_["C"]), "C_ci": [float(ci[0]), float(ci[1])],
                           "alpha": float(law.params_["alpha"])})
        points.sort(key=lambda p: p["size"])
        entry: dict[str, Any] = {"setting": dict(zip(others, key, strict=True)),
                                 "label": curve_label(dict(zip(others, key, strict=True))),
                                 "points": points, "fit": None}
        zero = [p["model"] for p in points if p["C"] <= 0]
        if len(points) < 3 or len({p["size"] for p in points}) < 3:
            entry["note"] = f"{len(points)} model(s) with >= 3 sizes: need 3 to fit C(P)"
        elif zero:
            entry["note"] = (f"C = 0 (at its bound) for {', '.join(map(str, zero))}: no "
                             "power law in size through a zero gap; the curves show no floor "
                             "yet (more sizes n or seeds would tell)")
        else:
            entry["fit"] = fit_gap_vs_size([p["size"] for p in points],
                                           [p["C"] for p in points], level=level)
        out.append(entry)
    return out


def fit_gap_vs_size(sizes: Sequence[float], gaps: Sequence[float],
                    level: float = 0.9) -> dict[str, Any]:
    """Power law ``C = k P^-b`` through (size, C) points; ``b > 0``: bigger models transfer
    better. Log loss; ``b`` may be negative (bounds -2..2)."""
    P = np.asarray(sizes, float)
    C = np.asarray(gaps, float)
    if np.any(C <= 0):
        raise ValueError("transfer gaps must be positive for a power law in model size")
    law = PowerLaw(loss="log", bounds={"alpha": (-2.0, 2.0)}).fit(P, C)
    ci = law.conf_int(level=level)
    return {"k": float(law.params_["D"]), "b": float(law.params_["alpha"]),
            "b_ci": [float(ci["alpha"][0]), float(ci["alpha"][1])],
            "flags": list(law.flags_), "law": law}
