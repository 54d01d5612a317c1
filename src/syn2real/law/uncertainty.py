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

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from .solver import solve

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


#: Points above which a caller that may choose (the CLI's ``--intervals auto``, the
#: advisor) takes Wald intervals: a profile refits every point many times (~1 s per 1,000).
PROFILE_POINTS_MAX = 5_000
#: ... and curves above which such a caller takes Wald intervals for every curve (a profile
#: interval costs ~0.07 s per parameter and curve: 1,000 curves would wait minutes).
PROFILE_CURVES_MAX = 200


class IntervalsMixin:
    """The uncertainty methods of every law (profile, Wald and prediction intervals,
    confidence probabilities, bootstrap); :class:`syn2real.law.base.BaseLaw` mixes them in
    and supplies the fitted state (``X_``, ``y_``, ``w_``, ``params_``, ``dof_``, ...)."""

    # ------------------------------------------------------------------ profiles
    def _crit(self, level: float) -> float:
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        return float(stats.f.ppf(level, 1, max(self.dof_, 1)))

    def _refit_objective(self, fixed: Mapping[str, Array], X: Mapping[str, Array] | None = None,
                         y: Array | None = None, w: Array | None = None) -> Array:
        """Best objective of a batch of refits with some parameters held at given values."""
        X = self.X_ if X is None else X
        y = self.y_ if y is None else y
        w = self.w_ if w is None else w
        B = len(next(iter(fixed.values())))
        pb = self._problem(X, y, w, fixed=fixed, B=B)
        return solve(pb, grid_size=self.grid_size).objective

    def profile_interval(self, param: str, level: float = 0.9) -> tuple[float, float]:
        """Profile-likelihood confidence interval of one parameter.

        Parameters
        ----------
        param : str
            A free parameter, e.g. ``"alpha"`` or ``"C"``.
        level : float
            Confidence level.

        Returns
        -------
        (low, high)
            Clipped to the parameter's bounds when the profile stays below the critical
            value up to the bound.
        """
        self.check_is_fitted()
        if param not in self.free_params:
            raise ValueError(f"{param!r} is not a free parameter of this fit "
                             f"(free: {self.free_params})")
        if self.dof_ <= 0:
            return (float("nan"), float("nan"))
        q = self._crit(level)
        s2 = self.sigma_**2
        est = self.params_[param]
        lo_b, hi_b = self._bounds()[param]
        se = self.se_.get(param, np.nan)
        span = hi_b - lo_b if np.isfinite(hi_b - lo_b) else max(abs(est), 1.0)
        step = se / 4 if np.isfinite(se) and se > 0 else 1e-3 * span
        step = max(step, 1e-9 * max(abs(est), 1.0))

        def fun(vals: Array) -> Array:
            flat = vals.ravel()
            obj = self._refit_objective({param: flat})
            return (2.0 * (obj - self.objective_) / s2).reshape(vals.shape)

        ends = boundary_search(fun, np.array([est, est]), np.array([-1.0, 1.0]),
                               np.array([step, step]), np.array([lo_b, hi_b]), q)
        return (float(ends[0]), float(ends[1]))

    def conf_int(self, level: float = 0.9, method: str = "profile"
                 ) -> dict[str, tuple[float, float]]:
        """Confidence intervals of all free parameters (``method``: profile | wald).

        Computed once per (level, method) and fit: ``summary()`` and ``to_dict()`` reuse them.
        """
        self.check_is_fitted()
        key = (float(level), method)
        if key in self._ci_cache:
            return dict(self._ci_cache[key])
        if method == "profile":
            ci = {p: self.profile_interval(p, level) for p in self.free_params}
        elif method == "wald":
            t = float(stats.t.ppf(0.5 + level / 2, max(self.dof_, 1)))
            ci = {p: (self.params_[p] - t * self.se_[p], self.params_[p] + t * self.se_[p])
                  for p in self.free_params}
        else:
            raise ValueError(f"method must be 'profile' or 'wald', got {method!r}")
        self._ci_cache[key] = ci
        return dict(ci)

    def confidence_probability(self, param: str, value: float, method: str = "profile"
                               ) -> float:
        """Confidence that ``param >= value``.

        ``profile``: from the signed profile root, the confidence distribution
        ``H(v) = F_t(sign(v - est) * sqrt(tau^2(v)))`` with ``dof`` degrees of freedom,
        consistent with :meth:`profile_interval`; ``wald``: ``H(v) = F_t((v - est) / se)``,
        consistent with the Wald intervals of :meth:`conf_int` (no refit: what many curves
        get). A frequentist confidence, not a Bayesian posterior probability.
        """
        self.check_is_fitted()
        if method not in ("profile", "wald"):
            raise ValueError(f"method must be 'profile' or 'wald', got {method!r}")
        est = self.params_[param]
        lo_b, hi_b = self._bounds()[param]
        if self.dof_ <= 0:
            return float("nan")
        if value <= lo_b:
            return 1.0
        if value > hi_b:
            return 0.0
        if method == "wald":
            se = self.se_.get(param, np.nan)
            if not (np.isfinite(se) and se > 0):
                return float(est >= value)
            return 1.0 - float(stats.t.cdf((value - est) / se, self.dof_))
        obj = self._refit_objective({param: np.array([float(value)])})[0]
        tau = np.sqrt(max(2.0 * (obj - self.objective_) / self.sigma_**2, 0.0))
        h = float(stats.t.cdf(np.sign(value - est) * tau, self.dof_))
        return 1.0 - h

    def _augmented_stat(self, X0: Mapping[str, Array], v: Array, w0: float) -> Array:
        """tau^2 of adding points (X0, v) with weight w0: X0 values (N,), v (N, K)."""
        N, K = v.shape
        Xa = {k: np.concatenate([np.broadcast_to(self.X_[k], (N * K, len(self.y_))),
                                 np.repeat(X0[k], K)[:, None]], axis=1) for k in self.X_}
        ya = np.concatenate([np.broadcast_to(self.y_, (N * K, len(self.y_))),
                             v.reshape(-1, 1)], axis=1)
        wa = np.concatenate([np.broadcast_to(self.w_, (N * K, len(self.y_))),
                             np.full((N * K, 1), w0)], axis=1)
        fixed = {k: np.full(N * K, float(val)) for k, val in self.fixed.items()}
        pb = self._problem(Xa, ya, wa, fixed=fixed, B=N * K)
        obj = solve(pb, grid_size=self.grid_size).objective
        return (2.0 * (obj - self.objective_) / self.sigma_**2).reshape(N, K)

    def _predict_interval(self, X0: dict[str, Array], level: float, kind: str,
                          method: str) -> tuple[Array, Array]:
        self.check_is_fitted()
        if kind not in ("observation", "mean"):
            raise ValueError(f"kind must be 'observation' or 'mean', got {kind!r}")
        yhat = self._predict(X0)
        if self.dof_ <= 0:
            nan = np.full_like(yhat, np.nan)
            return nan, nan
        if method == "delta":
            free = self.free_params
            G = np.zeros((len(yhat), len(free)))
            for j, p in enumerate(free):
                v = self.params_[p]
                h = 1e-6 * max(abs(v), 1e-3)
                up, dn = dict(self.params_), dict(self.params_)
                up[p], dn[p] = v + h, v - h
                fu = self.family.predict({k: np.array([x]) for k, x in up.items()},
                                         {k: x[None] for k, x in X0.items()})[0]
                fd = self.family.predict({k: np.array([x]) for k, x in dn.items()},
                                         {k: x[None] for k, x in X0.items()})[0]
                if self.loss == "log":
                    fu, fd = np.log(fu), np.log(fd)
                G[:, j] = (fu - fd) / (2 * h)
            var = np.einsum("ij,jk,ik->i", G, self.cov_, G)
            if kind == "observation":
                var = var + self.sigma_**2
            t = float(stats.t.ppf(0.5 + level / 2, self.dof_))
            half = t * np.sqrt(var)
            if self.loss == "log":
                return yhat * np.exp(-half), yhat * np.exp(half)
            return yhat - half, yhat + half
        if method != "profile":
            raise ValueError(f"method must be 'profile' or 'delta', got {method!r}")
        q = self._crit(level)
        w0 = 1.0 if kind == "observation" else 1e6
        N = len(yhat)
        log = self.loss == "log"
        # both ends of every interval in one vectorised search
        X2 = {k: np.concatenate([v, v]) for k, v in X0.items()}
        center = np.log(yhat) if log else yhat
        center = np.concatenate([center, center])
        direction = np.concatenate([-np.ones(N), np.ones(N)])
        step = np.full(2 * N, max(self.sigma_, 1e-9) / 2)
        limit = direction * np.inf

        def fun(v: Array) -> Array:
            return self._augmented_stat(X2, np.exp(v) if log else v, w0)

        ends = boundary_search(fun, center, direction, step, limit, q)
        if log:
            ends = np.exp(ends)
        return ends[:N], ends[N:]

    # ------------------------------------------------------------------ bootstrap
    def _bootstrap(self, n_boot: int, kind: str, groups: Any, seed: int) -> dict[str, Array]:
        self.check_is_fitted()
        rng = np.random.default_rng(seed)
        m = len(self.y_)
        X = {k: np.broadcast_to(v, (n_boot, m)) for k, v in self.X_.items()}
        if kind in ("case", "block"):
            if kind == "block" and groups is None:
                raise ValueError("kind='block' needs groups (one label per point)")
            g = None if kind == "case" else np.asarray(groups)
            if g is not None and len(g) != m:
                raise ValueError(f"groups must have one label per point ({m}), got {len(g)}")
            W = case_weights(m, n_boot, rng, g) * self.w_[None, :]
            Y = np.broadcast_to(self.y_, (n_boot, m))
        elif kind == "residual":
            W = np.broadcast_to(self.w_, (n_boot, m))
            yhat = self._predict(self.X_)
            scale = self.sigma_ / np.sqrt(np.maximum(self.w_, 1e-12))
            eps = rng.standard_normal((n_boot, m)) * scale
            Y = yhat * np.exp(eps) if self.loss == "log" else yhat + eps
        else:
            raise ValueError(f"kind must be 'case', 'block' or 'residual', got {kind!r}")
        pb = self._problem(X, np.ascontiguousarray(Y), np.ascontiguousarray(W), B=n_boot)
        sol = solve(pb, grid_size=self.grid_size)
        out = dict(sol.params)
        for k in self.family.derived(self.params_):
            out[k] = np.array([self.family.derived({p: v[i] for p, v in sol.params.items()})[k]
                               for i in range(n_boot)])
        return out

    def bootstrap(self, n_boot: int = 1000, kind: str = "case", groups: Sequence[Any] | None
                  = None, seed: int = 0) -> dict[str, Array]:
        """Bootstrap distribution of the parameters.

        Parameters
        ----------
        n_boot : int
            Replicates.
        kind : {"case", "block", "residual"}
            ``case``: resample points; ``block``: resample whole groups (e.g. all checkpoints
            of one run) given by ``groups``; ``residual``: parametric, ``yhat + N(0, s^2)``.
        groups : sequence, optional
            Block label per point (``kind="block"``).
        seed : int
            Seed of the resampling.

        Returns
        -------
        dict of str to ndarray
            ``n_boot`` samples per parameter (replicates are refitted by the same global
            solver, vectorised).
        """
        return self._bootstrap(n_boot, kind, groups, seed)

    # ------------------------------------------------------------------ summary
