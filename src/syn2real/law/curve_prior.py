"""A designed prior over learning curves: what the prior-fitted network is trained on.

Real learning curves come in more shapes than one law: power laws with and without a floor,
curves that are steep and then flatten (few-shot fine-tuning), flat and then steep
(a chance-level plateau, then learning), sudden drops, single training runs whose
learning-rate schedule makes the error fall faster near the end, and tails that rise
(over-fitting, or synthetic data that hurts). :func:`sample_curve` draws one curve from a
mixture of these families, with measurement noise that is Gaussian or heavy-tailed, correlated
along one run's checkpoints, and sometimes an outlier; sizes are spaced geometrically (separate
runs), irregularly, or linearly (checkpoints).

Nothing here is fitted to any real curve: the ranges are wide, fixed a priori, and the same
for every use (``benchmarks/train_curve_pfn.py`` trains :mod:`syn2real.law.pfn` on them; the
tests draw curves with known truth from it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray
FAMILIES = ("power", "broken", "drop", "weibull", "mmf")
#: Drops (a chance-level plateau, then learning) happen anywhere in the measured span and up
#: to this many nats of n beyond it.
DROP_AHEAD = 3.0
#: Query distances beyond the largest measured size, in nats of n: most mass on what a
#: budget asks (x1.02 .. x20), the rest up to x1e6 (the advisor's "any practical budget").
NEAR_Q = (0.02, 3.0)
FAR_Q = (3.0, 14.0)
FAR_SHARE = 0.3
POINTS = (4, 64)


@dataclass(frozen=True)
class SampledCurve:
    """One curve of the prior.

    Attributes
    ----------
    x, y : ndarray
        Measured sizes (increasing) and noisy errors.
    xq, mean_q : ndarray
        Query sizes beyond ``x[-1]`` and the noise-free error there (the truth).
    kind : str
        ``"runs"`` or ``"checkpoints"``.
    family : str
        One of :data:`FAMILIES`.
    """

    x: Array
    y: Array
    xq: Array
    mean_q: Array
    kind: str
    family: str


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _sizes(rng: np.random.Generator, checkpoints: bool) -> Array:
    k = int(round(_loguniform(rng, POINTS[0], POINTS[1] + 0.49)))
    if checkpoints:
        return np.arange(1, k + 1, dtype=float)
    span = rng.uniform(1.0, 10.0)  # nats of n covered by the measurements
    if rng.random() < 0.3:
        u = np.sort(np.concatenate([[0.0, span], rng.uniform(0.0, span, k - 2)]))
    else:
        u = np.linspace(0.0, span, k)
    x = np.unique(np.exp(u))
    return x if len(x) >= POINTS[0] else np.exp(np.linspace(0.0, span, POINTS[0]))


def _mean_curve(rng: np.random.Generator, u: Array, u_data: float) -> tuple[Array, str]:
    """Noise-free error (first size = 1) at log-sizes ``u`` (u[0] = 0; the measurements end
    at ``u_data``) and the family.

    Families (equally likely): eq. 1 (``power``); a smoothly broken power law whose
    log-slope changes either way (``broken``); a sigmoid drop in ``log n`` on a power law
    (``drop``); the Weibull / Janoschek curve ``C + D exp(-(n/τ)^β)``, whose log-log slope
    steepens without bound until the floor (``weibull``); the MMF curve
    ``C + D / (1 + (n/τ)^β)`` (``mmf``) — the standard families of the learning-curve
    literature (Domhan et al. 2015; LC-PFN).
    """
    C = rng.uniform(0.0, 0.95) if rng.random() < 0.8 else 0.0
    D = 1.0 - C
    a1 = _loguniform(rng, 0.02, 2.0)
    fam = FAMILIES[int(rng.integers(len(FAMILIES)))]
    if fam == "power":
        m = C + D * np.exp(-a1 * u)
    elif fam == "broken":
        # smoothly broken power law: log-slope a1 before the break, a2 after
        a2 = _loguniform(rng, 0.01, 2.0)
        ub = rng.uniform(0.0, u[-1])
        f = _loguniform(rng, 0.1, 1.0)
        g = (1 + np.exp((u - ub) / f)) ** (-(a2 - a1) * f) * (1 + np.exp(-ub / f)) ** (
            (a2 - a1) * f)
        m = C + D * np.exp(-a1 * u) * g
    elif fam == "drop":
        uc = rng.uniform(0.0, u_data + DROP_AHEAD)
        s = _loguniform(rng, 0.1, 1.0)
        A = rng.uniform(0.0, 0.9)
        m = (C + D * np.exp(-a1 * u)) * (1 - A / (1 + np.exp(-(u - uc) / s)))
    else:
        tau = rng.uniform(-1.0, u_data + DROP_AHEAD)   # log of the scale, in nats of n
        beta = _loguniform(rng, 0.2, 2.0)
        z = np.exp(beta * (u - tau))
        m = C + D * (np.exp(-(z - z[0])) if fam == "weibull" else (1 + z[0]) / (1 + z))
    return m, fam


def sample_curve(rng: np.random.Generator, *, n_queries: int = 4,
                 checkpoints: bool | None = None) -> SampledCurve:
    """One curve of the prior with ``n_queries`` query sizes beyond its measurements.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    n_queries : int
        Query sizes per curve.
    checkpoints : bool, optional
        Force separate runs (False) or one run's checkpoints (True); default: 35% are
        checkpoints.
    """
    ck = bool(rng.random() < 0.35) if checkpoints is None else checkpoints
    x = _sizes(rng, ck)
    far = rng.random(n_queries) < FAR_SHARE
    q = np.where(far, rng.uniform(*FAR_Q, n_queries), rng.uniform(*NEAR_Q, n_queries))
    xq = x[-1] * np.exp(q)
    u = np.log(np.concatenate([x, xq]) / x[0])
    m, fam = _mean_curve(rng, u, float(u[len(x) - 1]))
    if ck and rng.random() < 0.6:
        # a decaying learning rate: the error falls faster towards the run's end
        x_end = float(xq.max()) * rng.uniform(1.0, 2.0) if rng.random() < 0.5 else \
            float(x[-1]) * np.exp(rng.uniform(*NEAR_Q))
        p = np.minimum(np.exp(u) * x[0] / x_end, 1.0)
        m = m * (1 - rng.uniform(0.0, 0.3) * p ** rng.uniform(2.0, 8.0))
    if rng.random() < 0.1:  # a rising tail
        ur = rng.uniform(0.0, u[len(x) - 1])
        m = m * np.exp(rng.uniform(0.0, 0.15) * np.maximum(0.0, u - ur))
    m = np.maximum(m, 1e-4)
    k = len(x)
    sig = _loguniform(rng, 0.001, 0.2)
    e = rng.standard_t(3, k) / np.sqrt(3.0) if rng.random() < 0.3 else rng.standard_normal(k)
    if ck and rng.random() < 0.7:
        rho = rng.uniform(0.0, 0.9)
        for i in range(1, k):
            e[i] = rho * e[i - 1] + np.sqrt(1 - rho**2) * e[i]
    if rng.random() < 0.1:
        e[rng.integers(k)] += rng.choice([-5.0, 5.0])
    y = m[:k] * np.exp(sig * e)
    scale = _loguniform(rng, 1e-3, 10.0)  # errors and losses of any size
    x0 = _loguniform(rng, 1.0, 1e6)
    return SampledCurve(x * x0, y * scale, xq * x0, m[k:] * scale,
                        "checkpoints" if ck else "runs", fam)
