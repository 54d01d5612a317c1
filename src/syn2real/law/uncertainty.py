"""Uncertainty of fitted laws: standard errors, profile-likelihood intervals, prediction
intervals and bootstrap.

Profile intervals
    For a parameter ``p`` the fit is repeated with ``p`` held at ``v``; ``v`` is inside the
    ``level`` interval while ``tau^2(v) = (RSS_p(v) - RSS) / s^2 <= F(1, dof; level)`` with
    ``s^2 = RSS / dof``. In a linear model this is the exact t interval; in a non-linear
    one it follows the curvature of the loss (asymmetric intervals, a floor ``C`` resting on
    its bound gives ``[0, c_hi]``), where the Wald (delta-method) interval does not.

Prediction intervals (extrapolation)
    The same test applied to a *new observation*: ``y0`` at ``n0`` is inside the interval
    when adding the point ``(n0, y0)`` to the data raises the least RSS by at most
    ``s^2 F(1, dof; level)``. For a linear model this is exactly the classical interval
    ``yhat0 +- t s sqrt(1 + h0)``; for the laws it re-fits every parameter for each
    candidate, so the non-linear, one-sided uncertainty of an extrapolation is honoured.
    Giving the new point a very large weight yields the interval of the mean curve
    (``kind="mean"``). Coverage is checked by simulation in the test suite and in
    ``benchmarks/bench_fit.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray


def boundary_search(
    fun: Callable[[Array], Array],
    center: Array,
    direction: float | Array,
    step: Array,
    limit: Array,
    q: float,
    n_expand: int = 28,
    n_refine: int = 12,
    rounds: int = 3,
) -> Array:
    """Vectorised search of where ``fun`` first exceeds ``q`` moving away from ``center``.

    Parameters
    ----------
    fun : callable
        Maps candidate values of shape ``(N, K)`` to statistics ``(N, K)``.
    center, step, limit : ndarray
        Per-problem start, first step (> 0) and hard limit (may be ``±inf``), ``(N,)``.
    direction : {-1, +1} or ndarray
        Search direction (per problem if an array).
    q : float
        Critical value.

    Returns
    -------
    ndarray
        Boundary per problem; ``limit`` where the statistic never exceeds ``q`` before it.
    """
    center = np.asarray(center, float)
    step = np.asarray(step, float)
    limit = np.asarray(limit, float)
    d = np.broadcast_to(np.asarray(direction, float), center.shape)[:, None]
    k = np.arange(n_expand)
    offs = step[:, None] * (np.sqrt(2.0) ** k[None, :] - 1.0 + 1e-3)
    vals = center[:, None] + d * offs
    vals = np.where(d > 0, np.minimum(vals, limit[:, None]), np.maximum(vals, limit[:, None]))
    stat = fun(vals)
    over = stat > q
    has = over.any(axis=1)
    first = np.where(has, np.argmax(over, axis=1), n_expand - 1)
    inner = np.where(first > 0, vals[np.arange(len(center)), np.maximum(first - 1, 0)], center)
    outer = vals[np.arange(len(center)), first]
    for _ in range(rounds):
        t = np.linspace(0.0, 1.0, n_refine + 2)[1:-1]
        cand = inner[:, None] + (outer - inner)[:, None] * t[None, :]
        st = fun(cand)
        ov = st > q
        anyov = ov.any(axis=1)
        j = np.argmax(ov, axis=1)
        rows = np.arange(len(center))
        new_outer = np.where(anyov, cand[rows, j], outer)
        new_inner = np.where(anyov, np.where(j > 0, cand[rows, np.maximum(j - 1, 0)], inner),
                             cand[:, -1])
        inner, outer = new_inner, new_outer
    out = 0.5 * (inner + outer)
    return np.where(has, out, limit)


def case_weights(m: int, n_boot: int, rng: np.random.Generator,
                 groups: Array | None = None) -> Array:
    """Bootstrap weights ``(n_boot, m)``: counts of each point (or each point's block)."""
    if groups is None:
        return rng.multinomial(m, np.full(m, 1.0 / m), size=n_boot).astype(float)
    groups = np.asarray(groups)
    uniq, inv = np.unique(groups, return_inverse=True)
    g = len(uniq)
    counts = rng.multinomial(g, np.full(g, 1.0 / g), size=n_boot).astype(float)
    return counts[:, inv]
