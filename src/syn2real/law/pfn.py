"""A prior-fitted network for learning-curve extrapolation (numpy inference only).

The network (as LC-PFN, Adriaensen et al. 2023, in spirit; a small MLP on a fixed-length
description of the curve rather than a transformer, so it trains on two CPU cores) maps a
measured curve and a query size beyond it to a distribution of the noise-free error there.
It is trained by ``benchmarks/train_curve_pfn.py`` on curves drawn from the designed prior of
:mod:`syn2real.law.curve_prior` only, never on a real curve, so no data set it is judged on
has shaped it. Its output is a *bar distribution*: probabilities of
``L = log(error(n_query) / last measured error)`` in fixed bins (:data:`BINS`).

The weights ship with the package (``curve_pfn.npz``, with the training script's name, its
seed and held-out loss inside); torch is needed only to train them.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

Array = np.ndarray
#: Log-ratio bins of the output distribution (L = log(err(n_q) / last error)).
BINS = np.linspace(-4.0, 1.0, 201)
N_COARSE, N_FINE = 12, 6
#: The recent window of the fine grid, in nats of n.
FINE_SPAN = 1.5
N_FEATURES = N_COARSE + N_FINE + 8
WEIGHTS = "curve_pfn.npz"


def curve_features(x: Any, y: Any, xq: Any, kind: str, noise: float) -> Array:
    """The network's input for one measured curve and each query size ``xq``.

    Parameters
    ----------
    x, y : array-like
        Sorted unique sizes (at least two) and their mean errors (> 0).
    xq : array-like
        Query sizes (> ``x[-1]``).
    kind : {"runs", "checkpoints"}
        What the sizes are.
    noise : float
        The curve's model-free noise (:func:`syn2real.law.predictive.noise_sd` of ``y``; nan
        with fewer than four points).

    Returns
    -------
    ndarray ``(len(xq), N_FEATURES)``, float32
        The log-error profile relative to the last point on a coarse grid over the whole
        measured span and a fine grid over its last :data:`FINE_SPAN` nats (both in
        ``log n``), the span, the number of points, the query distance, the model-free noise
        (and whether it is estimable), the last spacing, the kind and the profile's minimum.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    t = np.log(x / x[-1])
    lv = np.log(y / y[-1])
    span = -float(t[0])
    g1 = np.interp(-span * (1 - np.arange(N_COARSE) / (N_COARSE - 1)), t, lv)
    s2 = min(span, FINE_SPAN)
    g2 = np.interp(-s2 * (1 - np.arange(N_FINE) / (N_FINE - 1)), t, lv)
    nz = float(noise)
    base = np.concatenate([g1, g2, [span, np.log(len(x)),
                                    0.0,  # the query distance, filled below
                                    np.log(np.nan_to_num(nz, nan=0.0) + 1e-3),
                                    float(np.isnan(nz)), np.log(x[-1] / x[-2]),
                                    float(kind == "checkpoints"), float(lv.min())]])
    q = np.log(np.asarray(xq, float).ravel() / x[-1])
    F = np.repeat(base[None, :], len(q), axis=0)
    F[:, N_COARSE + N_FINE + 2] = q
    return F.astype(np.float32)


class CurvePFN:
    """The trained network: ``probs(F)`` gives bar probabilities per feature row.

    Parameters
    ----------
    arrays : mapping
        ``mu``, ``sd`` (input standardisation), ``W0``, ``b0``, ``W1``, ``b1``, ... (layers,
        GELU between them), as the training script saves them.
    """

    def __init__(self, arrays: Any) -> None:
        self.mu = np.asarray(arrays["mu"], np.float32)
        self.sd = np.asarray(arrays["sd"], np.float32)
        self.layers = []
        i = 0
        while f"W{i}" in arrays:
            self.layers.append((np.asarray(arrays[f"W{i}"], np.float32),
                                np.asarray(arrays[f"b{i}"], np.float32)))
            i += 1
        if not self.layers or self.layers[0][0].shape[0] != N_FEATURES:
            raise ValueError("curve PFN weights do not match this version's features")
        self.info = {k: str(arrays[k]) for k in ("trained_by", "seed", "heldout_loss")
                     if k in arrays}

    def probs(self, F: Array) -> Array:
        """Bar probabilities ``(rows, len(BINS) - 1)`` for feature rows ``F``."""
        h = (np.asarray(F, np.float32) - self.mu) / self.sd
        for j, (W, b) in enumerate(self.layers):
            h = h @ W + b
            if j < len(self.layers) - 1:  # GELU (tanh form)
                h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * (h * h * h))))
        h = h - h.max(axis=1, keepdims=True)
        e = np.exp(h.astype(np.float64))
        return e / e.sum(axis=1, keepdims=True)


@lru_cache(maxsize=1)
def load_pfn() -> CurvePFN:
    """The network shipped with the package."""
    with resources.files(__package__).joinpath(WEIGHTS).open("rb") as fh:
        arrays = dict(np.load(fh, allow_pickle=False))
    return CurvePFN(arrays)


def smear(probs: Array, noise: float) -> Array:
    """Bar probabilities of ``L + e``, ``e ~ N(0, noise²)`` independent (a measurement rather
    than the noise-free error); mass beyond the bins stays in the end bins.

    The bins are uniform, so the kernel depends on the offset between bins only: one
    ``ndtr`` per offset, gathered into the bin-to-bin matrix.
    """
    if not noise > 0:
        return probs
    from scipy.special import ndtr

    B = len(BINS) - 1
    w = BINS[1] - BINS[0]
    s = np.sqrt(noise**2 + w**2 / 12.0)
    off = np.arange(-B + 1, B)                               # target bin - source bin
    wk = ndtr((off + 0.5) * w / s) - ndtr((off - 0.5) * w / s)
    K = wk[_OFFSETS + B - 1]                                 # (source, target)
    src = np.arange(B)
    K[:, 0] += ndtr((-src - 0.5) * w / s)                    # below the first bin
    K[:, -1] += ndtr(-(B - 1 - src + 0.5) * w / s)           # above the last
    return probs @ K


_OFFSETS = np.arange(len(BINS) - 1)[None, :] - np.arange(len(BINS) - 1)[:, None]


def _cum(probs: Array) -> Array:
    return np.concatenate([np.zeros((len(probs), 1)), np.cumsum(probs, axis=1)], axis=1)


def bar_quantiles(probs: Array, levels: Any) -> Array:
    """Quantiles at every level of ``levels`` per row of bar ``probs``: ``(rows, levels)``.

    Each row's quantile function is linear inside a bar. Which bar a level falls in is
    ``#{k : C[r, k] < level}`` (``C`` the row's cumulative probabilities; what
    ``searchsorted(C[r], level, side="left")`` gives), counted for all rows at once: every
    cumulative value is placed among the sorted levels, one histogram per row and its
    running sum give the counts (exact; no per-row search). Rows go in blocks of
    :data:`QUANTILE_BLOCK`, so the temporaries stay small.
    """
    probs = np.asarray(probs, float)
    lv = np.asarray(levels, float).ravel()
    out = np.empty((len(probs), len(lv)))
    order = np.argsort(lv, kind="stable")
    for a in range(0, len(probs), QUANTILE_BLOCK):
        out[a:a + QUANTILE_BLOCK] = _bar_quantiles(probs[a:a + QUANTILE_BLOCK], lv, order)
    return out


#: rows per block of :func:`bar_quantiles`
QUANTILE_BLOCK = 1024


def _bar_quantiles(probs: Array, lv: Array, order: Array) -> Array:
    C = _cum(probs)
    w = BINS[1] - BINS[0]
    rows, m = C.shape
    L = len(lv)
    first = np.searchsorted(lv[order], C, side="right")               # (rows, m) in 0..L
    flat = (first + (L + 1) * np.arange(rows)[:, None]).ravel()
    counts = np.cumsum(np.bincount(flat, minlength=rows * (L + 1)).reshape(rows, L + 1),
                       axis=1)[:, :L]
    raw = np.empty_like(counts)
    raw[:, order] = counts
    j = np.clip(raw, 1, m - 1)
    at = (m * np.arange(rows))[:, None] + j
    Cf = C.ravel()
    lo, hi = Cf[at - 1], Cf[at]
    gap = hi - lo
    frac = np.where(gap > 0, (lv[None, :] - lo) / np.where(gap > 0, gap, 1.0), 0.5)
    return BINS[j - 1] + np.clip(frac, 0.0, 1.0) * w
