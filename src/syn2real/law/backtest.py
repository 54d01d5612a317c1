"""Extrapolation back-tests and model comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .base import BaseLaw
from .laws import BrokenPowerLaw, PowerLaw, TransferLaw

Array = np.ndarray


def backtest(law: BaseLaw, data: Mapping[str, Any], train: Array | None = None, *,
             k: int | None = None, level: float = 0.9, intervals: bool = True) -> dict[str, Any]:
    """Fit on part of a curve and score the prediction of the rest.

    Parameters
    ----------
    law : BaseLaw
        Unfitted estimator (a clone is fitted).
    data : mapping
        ``{"n": ..., ["s": ...,] "err": ...}``.
    train : bool array, optional
        Points used for fitting; the others are predicted.
    k : int, optional
        Instead of ``train``: fit on the ``k`` smallest distinct ``n``.
    level : float
        Level of the prediction intervals.
    intervals : bool
        Compute profile prediction intervals and their coverage of the held-out points.

    Returns
    -------
    dict
        ``rmse``, ``mae``, ``max_rel_error`` (held-out), ``pred``, ``lo``, ``hi``,
        ``covered`` (fraction of held-out points inside the interval), ``law`` (fitted).
    """
    n = np.asarray(data["n"], float)
    err = np.asarray(data["err"], float)
    if train is None:
        if k is None:
            raise ValueError("give train (mask) or k (number of smallest sizes)")
        sizes = np.unique(n)
        if not 0 < k < len(sizes):
            raise ValueError(f"k must be in 1..{len(sizes) - 1}, got {k}")
        train = n <= sizes[k - 1]
    train = np.asarray(train, bool)
    test = ~train
    if not test.any():
        raise ValueError("nothing left to predict: every point is in the training part")
    inputs = [np.asarray(data[name], float) for name in law.family.inputs]
    est = law.clone()
    est.fit(*[x[train] for x in inputs], err[train])
    pred = est.predict(*[x[test] for x in inputs])
    resid = err[test] - pred
    out: dict[str, Any] = {
        "law": est,
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "mae": float(np.mean(np.abs(resid))),
        "max_rel_error": float(np.max(np.abs(resid) / np.abs(err[test]))),
        "pred": pred,
        "n_train": int(train.sum()),
        "n_test": int(test.sum()),
    }
    if intervals and est.dof_ > 0:
        lo, hi = est.predict_interval(*[x[test] for x in inputs], level=level)
        out.update(lo=lo, hi=hi, covered=float(np.mean((err[test] >= lo) & (err[test] <= hi))))
    return out


def compare(data: Mapping[str, Any], laws: Mapping[str, BaseLaw] | Sequence[BaseLaw] | None
            = None, *, k: int | None = None, train: Array | None = None) -> Any:
    """Compare laws on one curve: AIC/BIC on all points and held-out extrapolation error.

    Parameters
    ----------
    data : mapping
        ``{"n": ..., "err": ...}`` (and ``"s"`` for laws of two inputs).
    laws : mapping or sequence of BaseLaw, optional
        Default: eq. 1, the power law and the broken power law.
    k, train
        Back-test split (see :func:`backtest`); default ``k`` = all sizes but the largest
        two.

    Returns
    -------
    pandas.DataFrame
        One row per law, sorted by held-out RMSE.
    """
    import pandas as pd

    if laws is None:
        laws = {"transfer": TransferLaw(), "power": PowerLaw(), "broken": BrokenPowerLaw()}
    if not isinstance(laws, Mapping):
        laws = {type(law).__name__: law for law in laws}
    if train is None and k is None:
        k = len(np.unique(np.asarray(data["n"]))) - 2
    rows = []
    inputs_of = {}
    for name, law in laws.items():
        inputs_of[name] = [np.asarray(data[i], float) for i in law.family.inputs]
        full = law.clone().fit(*inputs_of[name], np.asarray(data["err"], float))
        row: dict[str, Any] = {"law": name, "k_params": len(full.free_params),
                               "aic": full.aic_, "bic": full.bic_, "rss": full.rss_}
        try:
            bt = backtest(law, data, train, k=k, intervals=False)
            row.update(holdout_rmse=bt["rmse"], holdout_max_rel_error=bt["max_rel_error"])
        except ValueError as exc:  # too few training points for this family
            row.update(holdout_rmse=np.nan, holdout_max_rel_error=np.nan, note=str(exc))
        rows.append(row)
    return pd.DataFrame(rows).sort_values("holdout_rmse", na_position="last").reset_index(
        drop=True)
