"""Fit one law to many curves at once (vectorised), e.g. every group of a results table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import BaseLaw
from .solver import fit_flags, jacobian_stats, solve

Array = np.ndarray


def pad_curves(curves: Sequence[dict[str, Any]], inputs: Sequence[str]) -> tuple[
        dict[str, Array], Array, Array]:
    """Stack curves of different lengths into ``(B, m_max)`` arrays with zero-weight padding.

    Each curve is a mapping with the law's inputs (``"n"``, optionally ``"s"``), ``"err"`` and
    optionally ``"weights"``.
    """
    if not curves:
        raise ValueError("no curves to fit")
    m = max(len(np.atleast_1d(c["err"])) for c in curves)
    B = len(curves)
    X = {k: np.ones((B, m)) for k in inputs}
    y = np.ones((B, m))
    w = np.zeros((B, m))
    for i, c in enumerate(curves):
        e = np.asarray(c["err"], float)
        k = len(e)
        for name in inputs:
            X[name][i, :k] = np.asarray(c[name], float)
        y[i, :k] = e
        w[i, :k] = np.asarray(c.get("weights", np.ones(k)), float)
    return X, y, w


def fit_curves(law: BaseLaw, curves: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fit ``law`` to every curve; vectorised over curves.

    Parameters
    ----------
    law : BaseLaw
        An (unfitted) estimator whose settings (fixed parameters, bounds, loss) are used.
    curves : sequence of mappings
        ``{"n": ..., ["s": ...,] "err": ..., ["weights": ...]}`` per curve.

    Returns
    -------
    list of dict
        Per curve: parameters, ``<param>_se``, ``objective``, ``sigma``, ``n_points``,
        ``dof`` and ``flags``.
    """
    law._check_settings()
    for i, c in enumerate(curves):  # the checks fit() makes, curve by curve
        try:
            law.check_targets(c["err"], c.get("weights"), len(np.atleast_1d(c["err"])))
        except ValueError as exc:
            raise ValueError(f"curve {i}: {exc}") from None
    X, y, w = pad_curves(curves, law.family.inputs)
    for name, v in X.items():
        if np.any(~np.isfinite(v)) or np.any(v <= 0):
            raise ValueError(f"{name} must be finite and > 0 in every curve")
    if np.any(~np.isfinite(y)):
        raise ValueError("err contains NaN or inf")
    if law.loss == "huber":
        raise ValueError("fit_curves supports the linear and log losses; fit huber curves "
                         "one by one with the estimator (its scale is set per curve)")
    pb = law._problem(X, y, w, B=len(curves))
    sol = solve(pb, grid_size=law.grid_size)
    free = law.free_params
    sigma, _, se, cond = jacobian_stats(pb, sol.params, free)
    bounds = law._bounds()
    out = []
    for b in range(len(curves)):
        params = {k: float(v[b]) for k, v in sol.params.items()}
        ses = {p: float(se[b, j]) for j, p in enumerate(free)}
        dof = int(round(w[b].sum())) - len(free)
        row: dict[str, Any] = dict(params)
        row.update({f"{p}_se": v for p, v in ses.items()})
        row.update(law.family.derived(params))
        row.update(objective=float(sol.objective[b]), sigma=float(sigma[b]),
                   n_points=int(np.sum(w[b] > 0)), dof=dof,
                   flags=fit_flags(params, ses, float(cond[b]), bounds, free, dof))
        out.append(row)
    return out


def fit_estimators(law: BaseLaw, curves: Sequence[dict[str, Any]]) -> list[BaseLaw]:
    """Fitted estimators for many curves from one vectorised solve.

    The same result as ``law.clone().fit(...)`` per curve (same global search, same solver),
    but the search runs once over all curves. Each estimator is complete: summaries,
    profile intervals (computed on first use and cached) and predictions work as after
    ``fit``. Huber-loss laws, whose scale is set per curve, are fitted one by one.

    Parameters
    ----------
    law : BaseLaw
        Unfitted estimator whose settings are used.
    curves : sequence of mappings
        ``{"n": ..., ["s": ...,] "err": ..., ["weights": ...]}`` per curve.
    """
    if not curves:
        return []
    inputs = law.family.inputs
    if law.loss == "huber":
        return [law.clone().fit(*[c[k] for k in inputs], c["err"], weights=c.get("weights"))
                for c in curves]
    law._check_settings()
    ests, checked = [], []
    for i, c in enumerate(curves):  # the checks fit() makes, curve by curve
        est = law.clone()
        try:
            X = est._inputs(**{k: c[k] for k in inputs})
            y, w = est.check_targets(c["err"], c.get("weights"), len(next(iter(X.values()))))
        except ValueError as exc:
            raise ValueError(f"curve {i}: {exc}") from None
        ests.append(est)
        checked.append({**X, "err": y, "weights": w})
    Xb, yb, wb = pad_curves(checked, inputs)
    sol = solve(law._problem(Xb, yb, wb, B=len(curves)), grid_size=law.grid_size)
    for b, est in enumerate(ests):
        c = checked[b]
        est.X_, est.y_, est.w_ = {k: c[k] for k in inputs}, c["err"], c["weights"]
        est.params_ = {k: float(v[b]) for k, v in sol.params.items()}
        est.objective_ = float(sol.objective[b])
        est._post_fit()
    return ests


def fit_groups(df: Any, law: BaseLaw, by: Sequence[str], *, n: str = "n", err: str = "err",
               s: str | None = None, weights: str | None = None, intervals: bool = False,
               level: float = 0.9) -> Any:
    """Fit ``law`` to every group of a DataFrame (vectorised), one row per group.

    Parameters
    ----------
    df : pandas.DataFrame
        Long table with one row per observation.
    law : BaseLaw
        Estimator settings to use.
    by : sequence of str
        Grouping columns (empty: one curve).
    n, err, s, weights : str
        Column names.
    intervals : bool
        Also compute profile-likelihood intervals (``<param>_ci``), one fit per group.
    level : float
        Interval level.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd  # optional at import time: the law engine itself needs only numpy

    by = list(by)
    groups = list(df.groupby(by, sort=True, dropna=False)) if by else [((), df)]
    curves, keys = [], []
    for key, g in groups:
        c = {"n": g[n].to_numpy(float), "err": g[err].to_numpy(float)}
        if s is not None:
            c["s"] = g[s].to_numpy(float)
        if weights is not None:
            c["weights"] = g[weights].to_numpy(float)
        curves.append(c)
        keys.append(key if isinstance(key, tuple) else (key,))
    rows = fit_curves(law, curves)
    for key, row, c in zip(keys, rows, curves, strict=True):
        row.update(dict(zip(by, key, strict=True)))
        if intervals and row["dof"] > 0:
            est = law.clone()
            args = [c["n"]] + ([c["s"]] if "s" in c else []) + [c["err"]]
            est.fit(*args, weights=c.get("weights"))
            for p, ci in est.conf_int(level).items():
                row[f"{p}_ci"] = ci
    return pd.DataFrame(rows)[by + [k for k in rows[0] if k not in by]]
