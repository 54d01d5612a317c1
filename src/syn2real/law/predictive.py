"""A predictive distribution for a learning curve's error at sizes not yet measured.

Why not the fitted law alone
    Back-tests on real learning curves (``benchmarks/bench_decide.py``: 713 curves from four
    sources) show that no single family extrapolates best everywhere: eq. 1 (``D n^-α + C``)
    is unbiased on LM checkpoints but too pessimistic where a curve steepens (fine-tuning
    losses), a local power law is best there and absurd on noisy, densely spaced
    checkpoints, and the profile interval of one family, conditioned on that family being
    true, covers far less than it claims. :class:`CurvePredictor` therefore averages several
    families and calibrates its spread on the curve's own leave-future-out errors.

Method
    1. *Members*, each fitted with relative-error weights (``1/y²``: the log-space loss) on
       sizes and errors normalised by the smallest size and the best measured error, so
       every bound follows the data's scale (``C`` lies in ``[0, best measured error]``,
       never a silent pin at ``C = 1``):

       * ``transfer``: eq. 1 on all points;
       * ``transfer_tail``: eq. 1 on the last five octaves of ``n`` (drops a warm-up or
         a chance-level plateau at tiny ``n``);
       * ``local2``, ``local3``: a straight line in log-log space through the points of the
         last two / three octaves (a local power law; a rising slope is clipped to flat).

    2. *Leave-future-out back-tests on the curve itself*: every member is refitted on the
       sizes ``n <= n_max / r`` for ``r`` in ``{√2, 2, 4}`` and predicts the later points.
       A member's weight is inversely proportional to its squared mean error on the far
       half of each held-out range (noise averaged out), plus the variance of that mean.
    3. *Spread* (log error), for ``d = max(log(n / n_max), 0)`` octaves-in-nats beyond the
       data::

           var_mean(n) = κ² d² + Var_w(member predictions at n) + s_fit² / m
           var_obs(n)  = var_mean(n) + s_noise²

       ``κ`` (log-error growth per unit ``log n``) is the back-tests' excess error over the
       noise, shrunk towards a corpus prior ``κ0`` with ``ν0`` pseudo back-tests
       (empirical Bayes; :data:`DEFAULT_PRIOR`, built by ``benchmarks/build_prior.py`` from
       the fitted parts of the development curves only); the member disagreement carries the
       model uncertainty; ``s_noise`` is a model-free noise estimate (MAD of second
       differences of ``log y``), so correlated checkpoints and misfit do not masquerade as
       noise. Quantiles are Student-t with ``ν0 + back-tests`` degrees of freedom.

    4. *Beyond the largest measured size* (``extrapolator="pfn+ensemble"``, the default),
       the ensemble's Student-t is pooled with equal weights with the prior-fitted network of
       :mod:`syn2real.law.pfn` (trained on the designed curves of
       :mod:`syn2real.law.curve_prior` only): the mixture of the two distributions
       (``pool="probability"``) or their averaged quantile functions (``"quantile"``). The
       pool won the leave-one-source-out decision back-test of ``benchmarks/bench_decide.py``
       (balanced accuracy 0.823 vs 0.790 for the ensemble alone); its intervals are wider
       than either part's.
    5. *Checkpoints of one run* (``kind="checkpoints"``): the local slope's uncertainty beyond
       the data is the slope itself (:data:`CHECKPOINT_SLOPE_SD`), and the network is told.

Everything is vectorised over curves (:func:`fit_predictors`), so the advisor's
next-run search refits hundreds of hypothetical curves in one call.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from scipy import stats
from scipy.special import stdtr

from .base import NotFittedError
from .batch import pad_curves
from .laws import TransferLaw
from .pfn import BINS, N_COARSE, N_FINE, bar_quantiles, curve_features, load_pfn, smear
from .solver import solve

Array = np.ndarray
MEMBERS = ("transfer", "transfer_tail", "local2", "local3")
SPLITS = (2.0**0.5, 2.0, 4.0)
TAIL_OCTAVES = 5
ALPHA_BOUNDS = (0.02, 3.0)
#: Spread factor when eq. 1 has a parameter at a bound (a guard rail, fixed a priori).
WIDEN_AT_BOUND = 1.5
#: A local line's rise is kept when its slope exceeds this many standard errors of the
#: curve's own noise (else a rising tail is extrapolated flat); fixed a priori, not tuned.
RISE_T = 3.0
#: Golden-section steps of eq. 1's rate inside its best grid cell (a cell of the 96-point grid
#: on ALPHA_BOUNDS is 0.031 wide: 22 steps locate alpha to ~1e-6, far below what any
#: extrapolation resolves; the solver's default 34 cost 50% more time in the next-run search).
GOLDEN_ITERS = 22
GRID_SIZE = 64
#: Eq. 1's floor below this fraction of the best measured error counts as "at its bound 0"
#: (no floor resolved; the golden-section tolerance leaves C ~1e-6 on an exact power law).
C_AT_ZERO = 1e-4
#: What predicts beyond the largest measured size: the equal-weight mixture (linear pool) of
#: the prior-fitted network (:mod:`syn2real.law.pfn`) and the calibrated ensemble of the four
#: members, either alone. The pool won the leave-one-source-out decision back-test, also
#: when the choice itself was made without the scored source (``benchmarks/bench_decide.py``).
EXTRAPOLATORS = ("pfn+ensemble", "pfn", "ensemble")
DEFAULT_EXTRAPOLATOR = "pfn+ensemble"
#: How the pool combines: the equal mixture of the two distributions (a linear pool of
#: probabilities; it won the leave-one-source-out back-test, but it is over-dispersed: 90%
#: intervals cover 0.96 of later measurements there), or averaged quantile functions
#: (Vincentisation: the average spread; 0.95 coverage, balanced accuracy 0.007 lower).
POOLS = ("probability", "quantile")
DEFAULT_POOL = "probability"
_Q_COL = N_COARSE + N_FINE + 2  # the query-distance column of the network's features
#: Sizes (geometric, from the largest measured one) on which n* and its interval are looked
#: for, and sizes inside the step that crosses on which it is refined (log-log between them).
CROSSING_GRID = 64
CROSSING_REFINE = 12
#: quantile tables a predictor keeps for sizes it was asked about (a bounded memo)
QF_MEMO_MAX = 64
#: the predictor's cached tables, dropped when it is fitted again
_CACHES = ("_qf_memo",)
#: Curve kinds: separate runs per size, or checkpoints of one training run.
KINDS = ("runs", "checkpoints")
#: Checkpoints of one run: the local log-log slope is uncertain by its own size beyond the
#: data (a learning-rate schedule can make the last part fall faster or stop it), fixed a
#: priori as "the rate is unknown to 100%", not tuned on any source.
CHECKPOINT_SLOPE_SD = 1.0
#: Sizes this far beyond the largest measured one count as "any practical budget".
PRACTICAL_FACTOR = 1000.0


@dataclass(frozen=True)
class PredictivePrior:
    """Corpus prior of the extrapolation-error growth (empirical Bayes).

    Attributes
    ----------
    kappa : float
        Prior log-error growth per unit ``log n`` beyond the data.
    nu : float
        Its weight, in pseudo back-tests (also the base degrees of freedom).
    built_from : str
        What it was estimated on.
    """

    kappa: float
    nu: float
    built_from: str = ""
    slope_scale: float = 0.0


def load_prior() -> PredictivePrior:
    """The prior shipped with the package (``predictive_prior.json``)."""
    raw = json.loads(resources.files(__package__).joinpath("predictive_prior.json")
                     .read_text(encoding="utf-8"))
    return PredictivePrior(float(raw["kappa"]), float(raw["nu"]), str(raw.get("built_from", "")),
                           float(raw.get("slope_scale", 0.0)))


DEFAULT_PRIOR = load_prior()


# --------------------------------------------------------------------------- inputs
def aggregate(n: Any, err: Any, weights: Any = None) -> tuple[Array, Array, Array]:
    """Sorted unique sizes, weighted mean error per size and the total weight per size."""
    n = np.asarray(n, float).ravel()
    y = np.asarray(err, float).ravel()
    w = np.ones_like(y) if weights is None else np.asarray(weights, float).ravel()
    if not (len(n) == len(y) == len(w)):
        raise ValueError(f"n, err and weights must have the same length, got "
                         f"{len(n)}, {len(y)}, {len(w)}")
    ok = w > 0
    n, y, w = n[ok], y[ok], w[ok]
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise ValueError("n must be finite and > 0")
    if np.any(~np.isfinite(y)) or np.any(y <= 0):
        raise ValueError("err must be finite and > 0 (the predictive works on log errors)")
    if np.any(~np.isfinite(w)):
        raise ValueError("weights must be finite")
    u, inv = np.unique(n, return_inverse=True)
    ws = np.bincount(inv, weights=w)
    ys = np.bincount(inv, weights=w * y) / ws
    return u, ys, ws


def noise_sd(y: Array) -> float:
    """Model-free sd of one measurement's log error: MAD of second differences / sqrt(6)."""
    return float(noise_sds([np.asarray(y, float)])[0])


def noise_sds(ys: Sequence[Array]) -> Array:
    """:func:`noise_sd` of many curves at once (nan for fewer than four points)."""
    lens = np.array([len(y) for y in ys])
    out = np.full(len(ys), np.nan)
    ok = lens >= 4
    if not ok.any():
        return out
    m = int(lens[ok].max())
    L = np.full((int(ok.sum()), m), np.nan)
    for i, y in enumerate(y for y, k in zip(ys, ok, strict=True) if k):
        L[i, :len(y)] = np.log(y)
    d2 = L[:, 2:] - 2.0 * L[:, 1:-1] + L[:, :-2]
    med = np.nanmedian(d2, axis=1, keepdims=True)
    out[ok] = 1.4826 * np.nanmedian(np.abs(d2 - med), axis=1) / np.sqrt(6.0)
    return out


# --------------------------------------------------------------------------- members
def _local_lines(items: Sequence[tuple[Array, Array, Array]], octaves: int, noise: Array
                 ) -> tuple[Array, Array]:
    """Weighted log-log line through the last ``octaves`` octaves of every curve.

    ``noise``: each curve's model-free noise (:func:`noise_sd` of its points). Returns the
    lines ``(B, 2)`` (slope, intercept) and the t-statistic of each measured slope ``(B,)``
    against that noise (nan where the noise is not estimable).

    At least the last three points are used. A rising slope is clipped to flat unless the
    rise is real: its t-statistic is above :data:`RISE_T`. Noise rises and falls; a curve
    that rises by many noise widths (pre-training that makes the fine-tuned model worse the
    more images it sees) keeps rising when extrapolated.
    """
    B = len(items)
    lens = np.array([len(u) for u, _, _ in items])
    m = int(lens.max())
    LX = np.zeros((B, m))
    LY = np.zeros((B, m))
    W = np.zeros((B, m))
    for b, (u, v, w) in enumerate(items):
        k = len(u)
        sel = u >= u[-1] / 2.0**octaves * (1 - 1e-12)
        if sel.sum() < 3:
            sel = np.arange(k) >= k - 3
        LX[b, :k], LY[b, :k], W[b, :k] = np.log(u), np.log(v), np.where(sel, w, 0.0)
    sw = W.sum(axis=1)
    mx = (W * LX).sum(axis=1) / sw
    my = (W * LY).sum(axis=1) / sw
    sxx = (W * (LX - mx[:, None]) ** 2).sum(axis=1)
    sxy = (W * (LX - mx[:, None]) * (LY - my[:, None])).sum(axis=1)
    # the slope's standard error with equal weights: noise / sqrt(sum of squared deviations)
    S = W > 0
    mu = (S * LX).sum(axis=1) / S.sum(axis=1)
    sxx_u = (S * (LX - mu[:, None]) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sxx > 0, sxy / sxx, 0.0)
        t_rise = slope / (noise / np.sqrt(sxx_u))
    real = (slope > 0) & (t_rise > RISE_T)  # nan compares False
    slope = np.where(real, slope, np.minimum(slope, 0.0))  # noise rises are extrapolated flat
    icpt = my - slope * mx
    return np.stack([slope, icpt], axis=1), t_rise


def _fit_members(items: Sequence[tuple[Array, Array, Array]], given: Array | None = None
                 ) -> tuple[Array, Array]:
    """Member parameters for normalised curves ``(u, v, w)``: array ``(B, 4, 3)``, and the
    t-statistic of each curve's 3-octave slope ``(B,)``.

    Rows: transfer and transfer_tail ``(D, alpha, C)``; local lines ``(slope, icpt, 0)``.
    ``given``: each item's measured noise (nan: the model-free estimate), what the slope's
    t-statistic is taken against.
    """
    given = np.full(len(items), np.nan) if given is None else np.asarray(given, float)
    # identical items (the next-run search's simulated curves share their back-test
    # prefixes) are fitted once
    keys: dict[bytes, int] = {}
    first, back = [], np.empty(len(items), int)
    for b, (u, v, w) in enumerate(items):
        k = b"|".join((u.tobytes(), v.tobytes(), w.tobytes(), given[b].tobytes()))
        if k not in keys:
            keys[k] = len(first)
            first.append(b)
        back[b] = keys[k]
    if len(first) < len(items):
        P, t_tail = _fit_members([items[b] for b in first], given[first])
        return P[back], t_tail[back]
    B = len(items)
    P = np.zeros((B, len(MEMBERS), 3))
    curves, where = [], []
    has_tail = np.zeros(B, bool)
    for b, (u, v, w) in enumerate(items):
        rel = w / v**2
        curves.append((u, v, rel))
        where.append((b, 0))
        tail = u >= u[-1] / 2.0**TAIL_OCTAVES
        if 4 <= tail.sum() < len(u):
            curves.append((u[tail], v[tail], rel[tail]))
            where.append((b, 1))
            has_tail[b] = True
    D, a, C = _fit_transfer(curves)
    rows = np.array(where)
    P[rows[:, 0], rows[:, 1]] = np.stack([D, a, C], axis=1)
    P[~has_tail, 1] = P[~has_tail, 0]
    noise = noise_sds([v for _, v, _ in items])
    noise = np.where(np.isfinite(given), given, noise)
    for j, octv in ((2, 2), (3, 3)):
        P[:, j, :2], t_tail = _local_lines(items, octv, noise)
    return P, t_tail


def _fit_transfer(curves: Sequence[tuple[Array, Array, Array]]) -> tuple[Array, Array, Array]:
    """Eq. 1 fitted to every ``(u, v, weights)`` curve at once (global within the bounds).

    Curves are batched by length, so a few long curves do not pad thousands of short ones.
    """
    law = TransferLaw(bounds={"alpha": ALPHA_BOUNDS, "C": (0.0, 1.0)})
    B = len(curves)
    D, a, C = np.zeros(B), np.zeros(B), np.zeros(B)
    lens = np.array([len(c[0]) for c in curves])
    order = np.argsort(lens, kind="stable")
    start = 0
    while start < B:
        stop = start + 1
        while stop < B and lens[order[stop]] <= 1.25 * lens[order[start]] + 2 and \
                stop - start < 1024:
            stop += 1
        idx = order[start:stop]
        X, y, w = pad_curves([{"n": curves[i][0], "err": curves[i][1], "weights": curves[i][2]}
                              for i in idx], ("n",))
        sol = solve(law._problem(X, y, w, B=len(idx)), grid_size=GRID_SIZE,
                    golden_iters=GOLDEN_ITERS)
        D[idx], a[idx], C[idx] = sol.params["D"], sol.params["alpha"], sol.params["C"]
        start = stop
    return D, a, C


def _member_log(P: Array, u: Array) -> Array:
    """Log predictions of every member: P ``(4, 3)``, u ``(k,)`` → ``(4, k)``."""
    u = np.asarray(u, float)
    out = np.empty((len(MEMBERS), len(u)))
    for j in (0, 1):
        D, a, C = P[j]
        out[j] = np.log(np.maximum(D * u ** (-a) + C, 1e-300))
    lu = np.log(u)
    for j in (2, 3):
        out[j] = P[j, 1] + P[j, 0] * lu
    return out


def first_crossing(n: Array, values: Array, target: float, *, log_values: bool = False
                   ) -> float:
    """Smallest ``n`` at which ``values`` (on an increasing grid ``n``) reach ``target``.

    Interpolated linearly in ``log n`` (and in ``log values`` if asked); ``inf`` if never,
    ``n[0]`` if already there.
    """
    below = values <= target
    if not below.any():
        return float("inf")
    i = int(np.argmax(below))
    if i == 0:
        return float(n[0])
    f = np.log if log_values else (lambda v: v)
    x0, x1 = np.log(n[i - 1]), np.log(n[i])
    y0, y1, yt = f(values[i - 1]), f(values[i]), f(target)
    t = (y0 - yt) / (y0 - y1) if y0 != y1 else 1.0
    return float(np.exp(x0 + t * (x1 - x0)))


# --------------------------------------------------------------------------- quantile grid
#: Probability levels on which the extrapolated quantile functions are held.
LEVELS = (np.arange(400) + 0.5) / 400


@lru_cache(maxsize=64)
def _t_levels(dof: float) -> Array:
    """Student-t quantiles at :data:`LEVELS` (few distinct degrees of freedom occur)."""
    return stats.t.ppf(LEVELS, dof)


def _at_levels(Q: Array, q: Array) -> Array:
    """Per row of quantile functions ``Q`` (at :data:`LEVELS`), the value at level ``q[r]``
    (linear between levels, flat beyond the outermost)."""
    pos = np.clip((np.asarray(q, float) * len(LEVELS) - 0.5), 0.0, len(LEVELS) - 1.0)
    j = np.minimum(pos.astype(int), len(LEVELS) - 2)
    r = np.arange(len(Q))
    return Q[r, j] + (pos - j) * (Q[r, j + 1] - Q[r, j])


def _level_of(Q: Array, v: Array) -> Array:
    """Per row of quantile functions ``Q``, the level at which it reaches ``v[r]``
    (the predictive CDF; clipped to the outermost levels)."""
    v = np.asarray(v, float)
    j = np.clip(np.sum(Q < v[:, None], axis=1), 1, len(LEVELS) - 1)
    r = np.arange(len(Q))
    lo, hi = Q[r, j - 1], Q[r, j]
    frac = np.clip(np.where(hi > lo, (v - lo) / np.where(hi > lo, hi - lo, 1.0), 0.5), 0, 1)
    return LEVELS[j - 1] + frac * (LEVELS[1] - LEVELS[0])


#: Rows (predictor x size) of the network and its quantile tables evaluated at once: many
#: curves are taken in chunks of about this many rows, so memory stays ~0.5 GB however many
#: curves (10,000 curves' n* tables at once took over 24 GB).
NET_ROWS = 16_384


def _quantile_functions(preds: Sequence[CurvePredictor], ns: Sequence[Array], kind: str,
                        cols: Array | None = None) -> list[Array]:
    """Log-error quantiles at :data:`LEVELS` beyond the data, ``(len(n), L)`` per predictor
    and its sizes, the network evaluated once for all of them (in chunks of at most
    :data:`NET_ROWS` rows, whole predictors each). ``cols``: only these columns of the
    tables (indices into :data:`LEVELS`; each column is computed on its own, so equal to the
    full table's).

    ``pfn``: the network's; ``pfn+ensemble``: the average of the network's and the
    ensemble's quantile functions (quantile averaging, ``pool="quantile"``), or the
    quantiles of the equal mixture of the two distributions (``pool="probability"``). For a
    measurement (``kind="observation"``) the network's bars are smeared by the noise.
    """
    if len(preds) > 1 and sum(len(n) for n in ns) > NET_ROWS:
        cuts = [0]
        rows = 0
        for i, n in enumerate(ns):
            if rows and rows + len(n) > NET_ROWS:
                cuts.append(i)
                rows = 0
            rows += len(n)
        cuts.append(len(ns))
        chunks = list(itertools.pairwise(cuts))
        workers = min(len(chunks), _cores())
        if workers > 1:  # numpy and scipy's ufuncs release the GIL on arrays this large
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(lambda c: _quantile_functions(
                    preds[c[0]:c[1]], ns[c[0]:c[1]], kind, cols), chunks))
        else:
            parts = [_quantile_functions(preds[a:b], ns[a:b], kind, cols) for a, b in chunks]
        return [Q for part in parts for Q in part]
    F = np.concatenate([np.repeat(p._pfn_row, len(n), axis=0) for p, n in zip(preds, ns,
                                                                               strict=True)])
    F[:, _Q_COL] = np.concatenate([np.log(n / p.n_[-1]) for p, n in zip(preds, ns,
                                                                         strict=True)])
    P_all = load_pfn().probs(F)
    bounds = np.cumsum([0] + [len(n) for n in ns])
    edges0 = np.concatenate([[-np.inf], BINS[1:-1], [np.inf]])
    mixed = []
    ens_rows, ens_dof, ens_shift, ens_sd = [], [], [], []
    for i, (p, n) in enumerate(zip(preds, ns, strict=True)):
        P = P_all[bounds[i]:bounds[i + 1]]
        if kind == "observation":
            P = smear(P, p.noise_)
        mixed.append(P)
        if p.extrapolator_ != "pfn" and p.pool == "probability":
            mu, sd = p._scale(n, kind)
            ens_rows.append(np.arange(bounds[i], bounds[i + 1]))
            ens_dof.append(np.full(len(n), float(p.dof_)))
            ens_shift.append(p._ly_last - mu)
            ens_sd.append(sd)
    M = np.concatenate(mixed)
    if ens_rows:  # the equal mixture with the ensemble's Student-t: one stdtr for all rows
        rows = np.concatenate(ens_rows)
        T = stdtr(np.concatenate(ens_dof)[:, None],
                  (edges0[None, :] + np.concatenate(ens_shift)[:, None])
                  / np.concatenate(ens_sd)[:, None])
        M[rows] = 0.5 * M[rows] + 0.5 * np.diff(T, axis=1)
    Q_all = bar_quantiles(M, LEVELS if cols is None else LEVELS[cols])
    out = []
    for i, (p, n) in enumerate(zip(preds, ns, strict=True)):
        Q = p._ly_last + Q_all[bounds[i]:bounds[i + 1]]
        if p.extrapolator_ != "pfn" and p.pool != "probability":
            mu, sd = p._scale(n, kind)
            tl = _t_levels(float(p.dof_))
            ens = mu[:, None] + (tl if cols is None else tl[cols])[None, :] * sd[:, None]
            Q = 0.5 * Q + 0.5 * ens
        out.append(Q)
    return out


def _cores() -> int:
    """Cores this process may use (threads for the network's chunks)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def log_quantile_table(preds: Sequence[CurvePredictor], n: float, kind: str = "mean"
                       ) -> Array:
    """Log-error quantiles of every predictor at one size ``n``, at :data:`LEVELS`:
    ``(len(preds), len(LEVELS))``, the network evaluated once for all predictors that
    extrapolate there (what a search compares candidates by)."""
    if kind not in ("observation", "mean"):
        raise ValueError(f"kind must be 'observation' or 'mean', got {kind!r}")
    out = np.empty((len(preds), len(LEVELS)))
    far = []
    for i, p in enumerate(preds):
        size, beyond = p._split([n])
        if beyond[0]:
            far.append(i)
        else:
            mu, sd = p._scale(size, kind)
            out[i] = mu[0] + _t_levels(float(p.dof_)) * sd[0]
    if far:
        tables = _quantile_functions([preds[i] for i in far], [np.array([float(n)])] * len(far),
                                     kind)
        for i, Q in zip(far, tables, strict=True):
            out[i] = Q[0]
    return out


def p_reach_many(preds: Sequence[CurvePredictor], target: float | Sequence[float],
                 budget: float | Sequence[float], ats: Sequence[Any]) -> Array:
    """:meth:`CurvePredictor.p_reach` of many fitted predictors (``ats[i]`` the sizes of
    ``preds[i]``; ``target`` and ``budget`` one for all or one per predictor), the network
    evaluated once for all of them."""
    if len(preds) != len(ats):
        raise ValueError(f"{len(preds)} predictors but {len(ats)} size lists")
    B = len(preds)
    targets = np.broadcast_to(np.asarray(target, float), (B,))
    budgets = np.broadcast_to(np.asarray(budget, float), (B,))
    out = np.empty(B)
    sizes = [p._reach_sizes(float(b), at) for p, b, at in zip(preds, budgets, ats, strict=True)]
    one = [i for i, s in enumerate(sizes) if len(s) == 1]
    many = [i for i, s in enumerate(sizes) if len(s) > 1]
    # one measurement: its predictive CDF at the target
    far = [i for i in one if preds[i].extrapolator_ != "ensemble"
           and sizes[i][0] > preds[i].n_[-1] * (1 + 1e-9)]
    for i in set(one) - set(far):
        out[i] = float(preds[i].cdf(sizes[i], targets[i])[0])
    if far:
        Qs = _quantile_functions([preds[i] for i in far], [sizes[i] for i in far],
                                 "observation")
        Q = np.concatenate(Qs)
        out[far] = _level_of(Q, np.log(targets[far]))
    # several: they share the mean curve's quantile and have independent noise
    u = (np.arange(64) + 0.5) / 64
    pos = np.clip(u * len(LEVELS) - 0.5, 0.0, len(LEVELS) - 1.0)
    j = np.minimum(pos.astype(int), len(LEVELS) - 2)
    net = [i for i in many if preds[i].extrapolator_ != "ensemble"]
    Qs = dict(zip(net, _quantile_functions([preds[i] for i in net], [sizes[i] for i in net],
                                           "mean"), strict=True)) if net else {}
    for i in many:
        p = preds[i]
        if i in Qs:
            Q = Qs[i]
            mean = (Q[:, j] + (pos - j) * (Q[:, j + 1] - Q[:, j])).T            # (64, sizes)
        else:
            mu, sdm = p._log_mean_sd(sizes[i])
            mean = mu[None, :] + stats.t.ppf(u, p.dof_)[:, None] * sdm[None, :]
        noise = max(p.noise_, 1e-6)
        p_each = stats.norm.cdf((np.log(targets[i]) - mean) / noise)
        out[i] = float(1.0 - np.prod(1.0 - p_each, axis=1).mean())
    return out


#: refits at least this many curves in worker processes (one per core), in equal parts
PARALLEL_REFITS = 4000


def p_reach_refitted(curves: Sequence[Mapping[str, Any]], targets: Sequence[float],
                     budgets: Sequence[float], ats: Sequence[Any], *,
                     prior: PredictivePrior | None = None,
                     extrapolator: str = DEFAULT_EXTRAPOLATOR, pool: str = DEFAULT_POOL,
                     workers: int | None = None) -> Array:
    """``p_reach`` of freshly fitted curves (:func:`fit_predictors` then
    :func:`p_reach_many`), what a next-run search asks of its augmented curves.

    From :data:`PARALLEL_REFITS` curves on they are split into ``workers`` contiguous parts
    (default: the cores this process may use), each fitted and evaluated in a worker
    process: every curve is fitted on its own (the batch only vectorises), so the numbers
    do not depend on the split (tested)."""
    import multiprocessing

    B = len(curves)
    workers = _cores() if workers is None else max(1, int(workers))
    if B < PARALLEL_REFITS or workers < 2 or \
            "fork" not in multiprocessing.get_all_start_methods():  # e.g. Windows: here
        return _p_reach_part((list(curves), list(targets), list(budgets), list(ats), prior,
                              extrapolator, pool))
    from concurrent.futures import ProcessPoolExecutor

    cuts = np.linspace(0, B, workers + 1).round().astype(int)
    parts = [(list(curves[a:b]), list(targets[a:b]), list(budgets[a:b]), list(ats[a:b]), prior,
              extrapolator, pool) for a, b in itertools.pairwise(cuts)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as ex:
        return np.concatenate(list(ex.map(_p_reach_part, parts)))


def _p_reach_part(args: tuple) -> Array:
    curves, targets, budgets, ats, prior, extrapolator, pool = args
    fitted = fit_predictors(curves, prior=prior, extrapolator=extrapolator, pool=pool)
    return p_reach_many(fitted, targets, budgets, ats)


def prime_quantiles(preds: Sequence[CurvePredictor], ns: Sequence[Any], kind: str) -> None:
    """Evaluate the quantile tables of many predictors beyond their data (``ns[i]`` the
    sizes of ``preds[i]``) in one batch and keep them for their later single questions
    (``predict``, ``quantile``, ``predict_interval``, ``cdf`` at those sizes)."""
    todo = []
    for p, n in zip(preds, ns, strict=True):
        n, far = p._split(n)
        if far.all() and len(n):
            todo.append((p, n))
    if not todo:
        return
    Qs = _quantile_functions([p for p, _ in todo], [n for _, n in todo], kind)
    for (p, n), Q in zip(todo, Qs, strict=True):
        p._remember(n, kind, Q)


def _level_cols(q: float) -> tuple[int, int, float]:
    """The two columns of :data:`LEVELS` that :func:`_at_levels` interpolates for level
    ``q``, and the weight of the second."""
    pos = float(np.clip(q * len(LEVELS) - 0.5, 0.0, len(LEVELS) - 1.0))
    j = min(int(pos), len(LEVELS) - 2)
    return j, j + 1, pos - j


def crossings_many(preds: Sequence[CurvePredictor], targets: Sequence[float],
                   qs: Sequence[float], n_max: Sequence[float], kind: str = "observation"
                   ) -> Array:
    """:meth:`CurvePredictor.crossing` of many predictors at several quantiles:
    ``(len(preds), len(qs))``, ``targets[i]`` and ``n_max[i]`` those of ``preds[i]``.

    Each predictor's size grid (``CROSSING_GRID`` sizes up to its ``n_max``) is evaluated
    by the network once for all predictors, at the two table levels each ``q`` interpolates
    (the values are those of the full quantile tables); the crossing found on it is refined
    inside the grid step that crosses (``CROSSING_REFINE`` sizes), the refinements of all
    predictors and quantiles in one more batch."""
    qs = [float(q) for q in qs]
    out = np.full((len(preds), len(qs)), np.inf)
    brackets = [_level_cols(q) for q in qs]
    cols = np.unique([c for j, k, _ in brackets for c in (j, k)])
    where = {int(c): i for i, c in enumerate(cols)}
    net = [i for i, p in enumerate(preds) if p.extrapolator_ != "ensemble"]
    grids = {i: preds[i]._crossing_grid(float(n_max[i])) for i in net}
    tables = dict(zip(net, _quantile_functions([preds[i] for i in net],
                                               [grids[i][1:] for i in net], kind, cols),
                      strict=True)) if net else {}

    def at(Q: Array, b: int) -> Array:  # _at_levels' interpolation on the kept columns
        j, k, frac = brackets[b]
        lo, hi = Q[:, where[j]], Q[:, where[k]]
        return lo + frac * (hi - lo)

    jobs: list[tuple[int, int, Array, float, float]] = []
    for i, (p, t, h) in enumerate(zip(preds, targets, n_max, strict=True)):
        p.check_is_fitted()
        if p.extrapolator_ == "ensemble":
            grid = np.geomspace(p.n_[-1], max(h, p.n_[-1] * 1.01), 600)
            out[i] = [first_crossing(grid, p.quantile(grid, q, kind), t, log_values=True)
                      for q in qs]
            continue
        grid, Q = grids[i], tables[i]
        mu0, sd0 = p._scale(grid[:1], kind)
        for b, q in enumerate(qs):
            first = mu0 + stats.t.ppf(q, p.dof_) * sd0  # the data's end: the ensemble
            vals = np.exp(np.concatenate([first, at(Q, b)]))
            coarse = first_crossing(grid, vals, t, log_values=True)
            if not np.isfinite(coarse) or coarse <= grid[0]:
                out[i, b] = coarse
                continue
            k = int(np.searchsorted(grid, coarse))
            fine = np.geomspace(grid[k - 1], grid[min(k, len(grid) - 1)], CROSSING_REFINE)
            jobs.append((i, b, fine, float(vals[k - 1]), coarse))
    if jobs:
        Qs = _quantile_functions([preds[i] for i, *_ in jobs], [f[1:] for _, _, f, *_ in jobs],
                                 kind, cols)
        for (i, b, fine, lo_v, coarse), Qf in zip(jobs, Qs, strict=True):
            fv = np.exp(at(Qf, b))
            got = first_crossing(fine, np.concatenate([[lo_v], fv]), targets[i],
                                 log_values=True)
            out[i, b] = got if np.isfinite(got) else coarse
    return out


# --------------------------------------------------------------------------- predictor
class CurvePredictor:
    """Predictive distribution of the measured error at any size ``n`` (scikit-learn style).

    Parameters
    ----------
    prior : PredictivePrior, optional
        Corpus prior of the extrapolation error (default :data:`DEFAULT_PRIOR`).

    Attributes
    ----------
    n_, err_, counts_ : ndarray
        The measured curve (sorted unique sizes, mean error, weight per size).
    member_weights_ : dict
        Weight of each member family.
    kappa_ : float
        Log-error growth per unit ``log n`` beyond the data (posterior).
    noise_ : float
        Sd of one measurement's log error: the measured one where given (flag
        ``noise:measured``), else the model-free estimate (:func:`noise_sd`).
    fit_sd_ : float
        Residual sd of the averaged fit (log space).
    dof_ : float
        Degrees of freedom of the Student-t quantiles.
    n_backtests_ : int
        Leave-future-out back-tests used.
    flags_ : list of str
        ``transfer:C_at_best_error`` (eq. 1 finds a plateau at the measured error),
        ``transfer:C_at_zero`` (no floor resolved: eq. 1 is a pure power law),
        ``transfer:alpha_at_bound``, ``few_points`` (< 4 sizes), ``no_backtest``,
        ``rising`` (the last three octaves rise by more than :data:`RISE_T` noise widths:
        more images made the error worse).
    kind_ : str
        ``"runs"`` or ``"checkpoints"`` (flag ``checkpoints``: the local slope's
        uncertainty beyond the data is :data:`CHECKPOINT_SLOPE_SD` times the slope).
    rise_t_ : float
        t-statistic of the log-log slope of the last three octaves against the curve's own
        noise (positive: rising; nan with fewer than four sizes).
    rise_line_ : tuple of float
        That line: ``(slope, intercept)`` with ``log error = intercept + slope·log(n/n[0])``.
    transfer_ : dict
        The eq.-1 member's parameters in the data's units: ``D``, ``alpha``, ``C``
        (``error = D·n^-alpha + C``).

    Examples
    --------
    >>> import numpy as np
    >>> n = 1000 * 2.0 ** np.arange(6)
    >>> p = CurvePredictor().fit(n, 0.5 * n ** -0.3 + 0.1)
    >>> bool(p.predict([64000])[0] < 0.5 * 32000 ** -0.3 + 0.1)
    True
    """

    def __init__(self, prior: PredictivePrior | None = None,
                 extrapolator: str = DEFAULT_EXTRAPOLATOR, pool: str = DEFAULT_POOL) -> None:
        self.prior = prior
        self.extrapolator = extrapolator
        self.pool = pool

    # -------------------------------------------------------------- fit
    def fit(self, n: Any, err: Any, weights: Any = None, *, kind: str = "runs",
            noise: float | None = None) -> CurvePredictor:
        """Fit to errors ``err`` measured at sizes ``n``; returns self.

        ``kind``: ``"runs"`` (one training per size) or ``"checkpoints"`` (the sizes are
        evaluations along one training run: the spread beyond the data is wider).
        ``noise``: the measured noise of one point in log space (e.g. the relative standard
        error of its mean over replicate pre-trainings,
        :class:`~syn2real.curves.replicates.CurveNoise`); default: estimated from the
        curve's own wiggle (:func:`noise_sd`).
        """
        c = {"n": n, "err": err, "weights": weights, "kind": kind}
        fitted = fit_predictors([c if noise is None else {**c, "noise": noise}],
                                prior=self.prior, extrapolator=self.extrapolator,
                                pool=self.pool)[0]
        for cache in _CACHES:  # tables of an earlier fit must not answer for this one
            self.__dict__.pop(cache, None)
        self.__dict__.update(fitted.__dict__)
        return self

    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless :meth:`fit` has run."""
        if "n_" not in self.__dict__:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() "
                                 "first")

    # the members were fitted on sizes / n[0] and errors / best error (``_n0``, ``_ly0``):
    # these read them back in the data's units
    @property
    def rise_line_(self) -> tuple[float, float]:
        """``(slope, intercept)`` of the last three octaves' line, ``log error = intercept +
        slope·log(n/n[0])``."""
        self.check_is_fitted()
        return float(self._P[3, 0]), self._ly0 + float(self._P[3, 1])

    @property
    def transfer_(self) -> dict[str, float]:
        """The eq.-1 member's ``D``, ``alpha``, ``C`` (``error = D·n^-alpha + C``)."""
        self.check_is_fitted()
        Dn, a, Cn = (float(v) for v in self._P[0])
        scale = float(np.exp(self._ly0))
        return {"D": scale * Dn * self._n0 ** a, "alpha": a, "C": Cn * scale}

    # -------------------------------------------------------------- distribution
    def _log_mean_sd(self, n: Any) -> tuple[Array, Array]:
        self.check_is_fitted()
        n = np.atleast_1d(np.asarray(n, float))
        if np.any(~np.isfinite(n)) or np.any(n <= 0):
            raise ValueError("n must be finite and > 0")
        M = _member_log(self._P, n / self._n0) + self._ly0
        w = self._w
        mu = w @ M
        var_m = w @ (M - mu) ** 2
        d = np.maximum(np.log(n / self.n_[-1]), 0.0)
        var = ((self.kappa_ * d) ** 2 + (self.slope_sd_ * d) ** 2 + var_m
               + self.fit_sd_**2 / len(self.n_))
        return mu, np.sqrt(var)

    def _scale(self, n: Any, kind: str) -> tuple[Array, Array]:
        """Ensemble log mean and sd (the Student-t part; within the data for the PFN)."""
        if kind not in ("observation", "mean"):
            raise ValueError(f"kind must be 'observation' or 'mean', got {kind!r}")
        mu, sd = self._log_mean_sd(n)
        if kind == "observation":
            sd = np.sqrt(sd**2 + self.noise_**2)
        return mu, sd

    def _split(self, n: Any) -> tuple[Array, Array]:
        """Sizes as an array and the mask of those the network extrapolates."""
        self.check_is_fitted()
        n = np.atleast_1d(np.asarray(n, float))
        if np.any(~np.isfinite(n)) or np.any(n <= 0):
            raise ValueError("n must be finite and > 0")
        if self.extrapolator_ == "ensemble":
            return n, np.zeros(len(n), bool)
        return n, n > self.n_[-1] * (1 + 1e-9)

    def _qf(self, n: Array, kind: str) -> Array:
        """Log-error quantiles at :data:`LEVELS` for sizes beyond the data ``(sizes, L)``
        (see :func:`_quantile_functions`); a size asked before (or primed for many
        predictors at once, :func:`prime_quantiles`) is not evaluated again."""
        Q = self.__dict__.get("_qf_memo", {}).get((np.asarray(n, float).tobytes(), kind))
        return Q if Q is not None else self._remember(
            n, kind, _quantile_functions([self], [n], kind)[0])

    def _remember(self, n: Any, kind: str, Q: Array) -> Array:
        """Keep the quantile table ``Q`` of sizes ``n`` (a bounded memo); returns it."""
        memo = self.__dict__.setdefault("_qf_memo", {})
        if len(memo) >= QF_MEMO_MAX:
            memo.clear()
        memo[(np.asarray(n, float).tobytes(), kind)] = Q
        return Q

    def _log_quantile(self, n: Any, q: Any, kind: str) -> Array:
        if kind not in ("observation", "mean"):
            raise ValueError(f"kind must be 'observation' or 'mean', got {kind!r}")
        n, q = np.broadcast_arrays(np.atleast_1d(np.asarray(n, float)),
                                   np.atleast_1d(np.asarray(q, float)))
        n, far = self._split(n)
        out = np.empty(len(n))
        if (~far).any():
            mu, sd = self._scale(n[~far], kind)
            out[~far] = mu + stats.t.ppf(q[~far], self.dof_) * sd
        if far.any():
            out[far] = _at_levels(self._qf(n[far], kind), q[far])
        return out

    def predict(self, n: Any) -> Array:
        """Predictive median of the error at sizes ``n``."""
        return np.exp(self._log_quantile(n, 0.5, "mean"))

    def quantile(self, n: Any, q: float | Array, kind: str = "observation") -> Array:
        """Predictive quantile(s) ``q`` of a measurement (or the mean curve) at ``n``."""
        return np.exp(self._log_quantile(n, q, kind))

    def predict_interval(self, n: Any, level: float = 0.9, kind: str = "observation"
                         ) -> tuple[Array, Array]:
        """Central ``level`` interval of a new measurement (or the mean curve) at ``n``."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        return (self.quantile(n, 0.5 - level / 2, kind), self.quantile(n, 0.5 + level / 2,
                                                                        kind))

    def cdf(self, n: Any, value: float | Array, kind: str = "observation") -> Array:
        """P(error measured at ``n`` <= ``value``)."""
        if kind not in ("observation", "mean"):
            raise ValueError(f"kind must be 'observation' or 'mean', got {kind!r}")
        n, lv = np.broadcast_arrays(np.atleast_1d(np.asarray(n, float)),
                                    np.atleast_1d(np.log(np.asarray(value, float))))
        n, far = self._split(n)
        out = np.empty(len(n))
        if (~far).any():
            mu, sd = self._scale(n[~far], kind)
            out[~far] = stats.t.cdf((lv[~far] - mu) / sd, self.dof_)
        if far.any():
            out[far] = _level_of(self._qf(n[far], kind), lv[far])
        return out

    def p_reach(self, target: float, budget: float, at: Any = None) -> float:
        """P(a measured error <= ``target`` within ``budget`` images).

        Parameters
        ----------
        target, budget : float
            The question.
        at : array-like, optional
            Sizes that will be measured (those above ``budget`` are ignored); default: one
            run at the budget. Sizes closer than a factor √2 are counted once (checkpoints of
            one run, or neighbouring sizes, share most of their noise), the largest kept.
            Several runs share the extrapolation error (the same quantile of the mean curve
            at every size) and have independent measurement noise.
        """
        return float(p_reach_many([self], target, budget, [at])[0])

    def _reach_sizes(self, budget: float, at: Any) -> Array:
        """The sizes :meth:`p_reach` counts: one (a single measurement, possibly within the
        data) or several beyond the data, largest first."""
        self.check_is_fitted()
        if at is None:
            return np.array([float(budget)])
        sizes = np.sort(np.asarray(at, float).ravel())
        sizes = sizes[(sizes > self.n_[-1]) & (sizes <= budget * (1 + 1e-12))]
        if len(sizes) == 0:
            return np.array([float(budget)])
        keep = [sizes[-1]]
        for x in sizes[::-1][1:]:
            if x <= keep[-1] / np.sqrt(2.0):
                keep.append(x)
        return np.array(keep)

    def crossing(self, target: float, q: float = 0.5, *, n_max: float | None = None,
                 kind: str = "observation") -> float:
        """Smallest ``n`` beyond the data whose ``q``-quantile is <= ``target`` (inf if none).

        ``q = 0.5`` gives n*; ``0.05`` / ``0.95`` the ends of its 90% interval.
        """
        self.check_is_fitted()
        hi = n_max if n_max is not None else self.n_[-1] * PRACTICAL_FACTOR * 1e3
        return float(crossings_many([self], [target], [q], [hi], kind)[0, 0])

    def _crossing_grid(self, hi: float) -> Array:
        return np.geomspace(self.n_[-1], max(hi, self.n_[-1] * 1.01), CROSSING_GRID)

    def _apply_prior(self, prior: PredictivePrior) -> None:
        weight = prior.nu + self.n_backtests_
        kappa2 = (prior.nu * prior.kappa**2 + self.kappa_obs_) / weight if weight > 0 else 0.0
        self.prior = prior
        self.kappa_ = float(np.sqrt(kappa2)) * self._widen
        scale = max(prior.slope_scale, CHECKPOINT_SLOPE_SD if self.kind_ == "checkpoints"
                    else 0.0)
        self.slope_sd_ = float(scale * abs(self._P[2, 0])) * self._widen
        self.dof_ = float(max(weight, 1.0))

    def with_prior(self, prior: PredictivePrior) -> CurvePredictor:
        """A copy whose spread uses another corpus prior (no refit: members do not depend on
        it)."""
        self.check_is_fitted()
        other = CurvePredictor(prior, self.extrapolator, self.pool)
        other.__dict__.update({k: v for k, v in self.__dict__.items()
                               if k != "prior" and k not in _CACHES})
        other._apply_prior(prior)
        return other

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the fitted predictor."""
        self.check_is_fitted()
        return {"n_points": int(len(self.n_)), "kind": self.kind_,
                "extrapolator": self.extrapolator_,
                "member_weights": dict(self.member_weights_),
                "kappa": self.kappa_, "noise": self.noise_, "fit_sd": self.fit_sd_,
                "dof": self.dof_, "n_backtests": self.n_backtests_, "flags": list(self.flags_)}


def fit_predictors(curves: Sequence[Mapping[str, Any]], *, prior: PredictivePrior | None = None,
                   extrapolator: str = DEFAULT_EXTRAPOLATOR, pool: str = DEFAULT_POOL
                   ) -> list[CurvePredictor]:
    """Fit a :class:`CurvePredictor` to every curve at once (one batched fit per family).

    Parameters
    ----------
    curves : sequence of mappings
        ``{"n": ..., "err": ..., ["weights": ..., "kind": ..., "noise": ...]}`` per curve
        (at least 3 distinct sizes; ``kind`` one of :data:`KINDS`, default ``"runs"``;
        ``noise``: the measured log-space noise of one point, see :meth:`CurvePredictor.fit`,
        which then replaces the model-free estimate everywhere: the intervals of a
        measurement, the rising-tail test and the network's noise feature).
    prior : PredictivePrior, optional
        Default :data:`DEFAULT_PRIOR`.
    extrapolator : {"pfn+ensemble", "pfn", "ensemble"}
        What predicts beyond the largest measured size (see :class:`CurvePredictor`).
    pool : {"probability", "quantile"}
        How ``pfn+ensemble`` combines its two distributions: the equal mixture (default) or
        averaged quantile functions.
    """
    if extrapolator not in EXTRAPOLATORS:
        raise ValueError(f"extrapolator must be one of {EXTRAPOLATORS}, got {extrapolator!r}")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    prior = prior or DEFAULT_PRIOR
    data, items, index, kinds, given = [], [], [], [], []
    for ci, c in enumerate(curves):
        kind = c.get("kind") or "runs"
        if kind not in KINDS:
            raise ValueError(f"curve {ci}: kind must be one of {KINDS}, got {kind!r}")
        kinds.append(kind)
        nz = c.get("noise")
        if nz is not None and not (np.isfinite(nz) and nz > 0):
            raise ValueError(f"curve {ci}: noise must be a finite number > 0, got {nz!r}")
        given.append(np.nan if nz is None else float(nz))
        n, y, w = aggregate(c["n"], c["err"], c.get("weights"))
        if len(n) < 3:
            raise ValueError(f"curve {ci}: at least 3 distinct sizes are needed to predict, "
                             f"got {len(n)}")
        n0, y0 = n[0], y.min()
        u, v = n / n0, y / y0
        data.append((n, y, w, u, v))
        items.append((u, v, w))
        index.append((ci, None))
        for r in SPLITS:
            m = u <= u[-1] / r * (1 + 1e-9)   # the back-test fits these, predicts the rest
            if m.sum() >= 3 and not m.all():
                items.append((u[m], v[m], w[m]))
                index.append((ci, m))
    given_a = np.array(given)
    P, t_tail = _fit_members(items, given_a[[ci for ci, _ in index]])
    full: dict[int, Array] = {}
    rise_t: dict[int, float] = {}
    tests: dict[int, list[tuple[Array, Array]]] = {i: [] for i in range(len(curves))}
    for k, (ci, m) in enumerate(index):
        if m is None:
            full[ci], rise_t[ci] = P[k], float(t_tail[k])
            continue
        n, y, w, u, v = data[ci]
        e = _member_log(P[k], u[~m]) - np.log(v[~m])        # (4, held-out)
        d = np.log(u[~m] / u[m][-1])
        tests[ci].append((e, d))
    out = []
    curve_noise = noise_sds([d[1] for d in data])
    curve_noise = np.where(np.isfinite(given_a), given_a, curve_noise)
    for ci in range(len(curves)):
        n, y, w, u, v = data[ci]
        s_noise = float(curve_noise[ci])
        Pf = full[ci]
        M = _member_log(Pf, u)
        resid = M - np.log(v)
        tl = tests[ci]
        # member weights: inverse squared mean error on the far half of each back-test
        if tl:
            S = np.zeros(len(MEMBERS))
            for e, d in tl:
                far = d >= d.max() / 2
                noise_var = (s_noise if np.isfinite(s_noise) else 0.0) ** 2 / far.sum()
                S += e[:, far].mean(axis=1) ** 2 + noise_var
            S = S / len(tl) + 1e-10
            wts = 1.0 / S
        else:
            wts = np.ones(len(MEMBERS))
        wts = wts / wts.sum()
        fit_res = wts @ resid
        fit_sd = float(np.sqrt(np.sum(w * fit_res**2) / max(np.sum(w), 1e-12)
                               * len(n) / max(len(n) - 3, 1)))
        sn = s_noise if np.isfinite(s_noise) else fit_sd
        num = den = 0.0
        for e, d in tl:
            ee = wts @ e
            num += float(np.mean(np.maximum(ee**2 - sn**2, 0.0)))
            den += float(np.mean(d**2))
        k_obs = (num / den) * len(tl) if den > 0 else 0.0
        flags = []
        _, a, C = Pf[0]
        if C >= 1.0 - 1e-6:
            flags.append("transfer:C_at_best_error")
        elif C <= C_AT_ZERO:
            flags.append("transfer:C_at_zero")
        if a <= ALPHA_BOUNDS[0] * (1 + 1e-6) or a >= ALPHA_BOUNDS[1] * (1 - 1e-6):
            flags.append("transfer:alpha_at_bound")
        if len(n) < 4:
            flags.append("few_points")
        if not tl:
            flags.append("no_backtest")
        if rise_t[ci] > RISE_T:
            flags.append("rising")
        if kinds[ci] == "checkpoints":
            flags.append("checkpoints")
        if np.isfinite(given_a[ci]):
            flags.append("noise:measured")
        p = CurvePredictor(prior, extrapolator, pool)
        p.kind_ = kinds[ci]
        p.extrapolator_ = extrapolator
        p._ly_last = float(np.log(y[-1]))
        if extrapolator != "ensemble":
            p._pfn_row = curve_features(n, y, [n[-1] * 2.0], kinds[ci], curve_noise[ci])
        p.n_, p.err_, p.counts_ = n, y, w
        p._P, p._w, p._n0, p._ly0 = Pf, wts, float(n[0]), float(np.log(y.min()))
        p.member_weights_ = {m: float(x) for m, x in zip(MEMBERS, wts, strict=True)}
        p.noise_ = float(sn)
        p.fit_sd_ = fit_sd
        p.n_backtests_ = len(tl)
        p.kappa_obs_ = float(k_obs)
        p.rise_t_ = rise_t[ci]
        p.flags_ = flags
        # guard rail: eq. 1 at a bound is set by the bound, not the data: widen the spread
        p._widen = WIDEN_AT_BOUND if any(f.startswith("transfer:") for f in flags) else 1.0
        p._apply_prior(prior)
        out.append(p)
    return out
