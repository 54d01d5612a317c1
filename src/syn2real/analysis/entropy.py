"""Data complexity as the negative entropy of a Gaussian fitted to features (paper Sec. 4.3).

For features ``X`` (N samples x d), the entropy of the fitted Gaussian is
``H = 1/2 log det(2 pi e Sigma)``; the paper reports ``-H`` per rendering setting (lower:
more complex data). The sample covariance is singular when d >= N (and poorly conditioned
near it), so the default estimate switches to Ledoit-Wolf shrinkage there, and the result
says which estimate was used.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Entropy:
    """Negative entropy of a fitted Gaussian and how it was estimated."""

    negative_entropy: float
    logdet: float
    d: int
    n: int
    estimator: str          # "empirical" or "ledoit-wolf"
    shrinkage: float        # Ledoit-Wolf's shrinkage intensity (0 for empirical)
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gaussian_negative_entropy(logdet: float, d: int) -> float:
    """``-1/2 log det(2 pi e Sigma)`` from ``log det Sigma``."""
    return -0.5 * (d * math.log(2 * math.pi * math.e) + logdet)


def negative_entropy(features: np.ndarray, estimator: str = "auto") -> Entropy:
    """Negative entropy of the Gaussian fitted to ``features`` (N x d).

    Parameters
    ----------
    features : array (N, d)
        One row per image (e.g. global-pooled last activations of a backbone).
    estimator : {"auto", "empirical", "ledoit-wolf"}
        ``auto``: the sample covariance when N > 2 d, Ledoit-Wolf shrinkage otherwise.

    Returns
    -------
    Entropy
    """
    x = np.asarray(features, float)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D array (samples x dimensions), got shape "
                         f"{x.shape}")
    n, d = x.shape
    if n < 2:
        raise ValueError(f"need at least 2 samples, got {n}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features contain NaN or inf")
    if estimator not in ("auto", "empirical", "ledoit-wolf"):
        raise ValueError(f"estimator must be auto, empirical or ledoit-wolf, got {estimator!r}")
    use_lw = estimator == "ledoit-wolf" or (estimator == "auto" and n <= 2 * d)
    if use_lw:
        from sklearn.covariance import LedoitWolf

        lw = LedoitWolf().fit(x)
        cov, shrink = lw.covariance_, float(lw.shrinkage_)
        note = (f"Ledoit-Wolf shrinkage ({shrink:.3f}) because N = {n} <= 2 d = {2 * d}: the "
                "sample covariance is singular or ill-conditioned there"
                if estimator == "auto" else f"Ledoit-Wolf shrinkage ({shrink:.3f}) as asked")
    else:
        cov, shrink = np.cov(x, rowvar=False), 0.0
        note = f"sample covariance (N = {n} > 2 d = {2 * d})"
    cov = np.atleast_2d(cov)
    sign, logdet = np.linalg.slogdet(cov)
    # a sample covariance of N <= d points is singular; slogdet may still return a finite,
    # meaningless value from round-off, so the rank decides
    rank_deficient = not use_lw and (n - 1 < d or np.linalg.matrix_rank(cov) < d)
    if sign <= 0 or not np.isfinite(logdet) or rank_deficient:
        raise ValueError(f"the {'shrunk' if use_lw else 'sample'} covariance is singular "
                         "(constant features?); use estimator='ledoit-wolf' or more samples")
    return Entropy(gaussian_negative_entropy(float(logdet), d), float(logdet), d, n,
                   "ledoit-wolf" if use_lw else "empirical", shrink, note)
