"""The law as the judge of a rendering search: which candidates are still worth compute.

Every live candidate's learning curve is fitted in one batch with the decision engine's
predictor (:func:`~syn2real.law.predictive.fit_predictors`); each gets the predictive
distribution of its *mean* error at the target size ``n_max``. The incumbent is the candidate
with the lowest predicted median; a candidate's chance is

    P(its error at n_max < the incumbent's) = P(X_i < X_inc),  X independent,

computed from the two predictive quantile tables. No torch: this module is pure numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..law.predictive import LEVELS, fit_predictors, log_quantile_table

__all__ = ["Judgement", "judge", "p_better"]


@dataclass(frozen=True)
class Judgement:
    """What the law says of one candidate's curve at ``n_max``.

    Attributes
    ----------
    predicted : float
        Predictive median of the mean error at ``n_max``.
    low, high : float
        Central 90% interval of it.
    p_better : float
        P(its error at ``n_max`` < the incumbent's); 1 for the incumbent.
    incumbent : bool
        The lowest predicted median of the judged curves.
    sizes : int
        Distinct sizes the curve had.
    """

    predicted: float
    low: float
    high: float
    p_better: float
    incumbent: bool
    sizes: int


def p_better(Q: np.ndarray, ref: int) -> np.ndarray:
    """P(X_i < X_ref) for every row ``i`` of the quantile table ``Q`` (rows: candidates,
    columns: quantiles at equally spaced levels), X independent; 1 for ``ref`` itself."""
    L = Q.shape[1]
    Qs = np.sort(Q, axis=1)
    # for each candidate: the share of its quantiles below each of the reference's
    below = np.stack([np.searchsorted(Qs[i], Qs[ref], side="left") for i in range(len(Q))])
    p = below.mean(axis=1) / L
    p[ref] = 1.0
    return p


def judge(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], n_max: float, *,
          level: float = 0.9) -> dict[str, Judgement]:
    """Fit every curve ``name -> (n, error)`` (replicates allowed: several errors at one n)
    and judge it at ``n_max`` against the best predicted one.

    Curves with fewer than three distinct sizes cannot be judged and are left out.
    """
    names = [k for k, (n, _) in curves.items() if len(set(np.asarray(n, float))) >= 3]
    if not names:
        return {}
    preds = fit_predictors([{"n": np.asarray(curves[k][0], float),
                             "err": np.asarray(curves[k][1], float)} for k in names])
    Q = log_quantile_table(preds, n_max, "mean")
    q = (1 - level) / 2
    med = np.exp([np.interp(0.5, LEVELS, row) for row in Q])
    lo = np.exp([np.interp(q, LEVELS, row) for row in Q])
    hi = np.exp([np.interp(1 - q, LEVELS, row) for row in Q])
    ref = int(np.argmin(med))
    pb = p_better(Q, ref)
    return {k: Judgement(float(med[i]), float(lo[i]), float(hi[i]), float(pb[i]), i == ref,
                         len(set(np.asarray(curves[k][0], float))))
            for i, k in enumerate(names)}
