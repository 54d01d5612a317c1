"""A predictive distribution of the error at unseen (n, s) under the full law (eq. 2).

:class:`CurvePredictor` answers for one fine-tuning size; a study that varies both the
synthetic size ``n`` and the real fine-tuning size ``s`` asks where to spend next: render
more, label more real images, or neither. :class:`GridPredictor` gives the distribution of a
measured error at any ``(n, s)`` from the points measured so far.

Method (numpy + scipy, vectorised over many grids)
    1. Eq. 2, ``L = δ (γ + n^-α) s^-β``, fitted in log space (relative errors) on sizes and
       errors normalised by the smallest ``n``, ``s`` and the best error (bounds follow the
       data's scale).
    2. Spread of the log error at ``(n, s)``::

           var_mean = g' Σ g + κ² d²        var_obs = var_mean + σ²

       ``g' Σ g``: the fit's parameter uncertainty (delta method, ``Σ`` from the Jacobian);
       ``σ``: the residual sd (noise and misfit); ``d``: how far the point lies beyond the
       data (``max(log n/n_max, 0) + max(log s/s_max, 0)``); ``κ``: the extrapolation error
       growth, estimated from two leave-future-out back-tests on the grid itself (refit
       without the largest ``n``, then without the largest ``s``; the excess of the held-out
       squared errors over what the fit expected) and shrunk towards the corpus prior of
       :class:`~syn2real.law.predictive.PredictivePrior` (``ν0`` pseudo back-tests).
       Quantiles are Student-t with ``ν0 +`` back-tests degrees of freedom.

The delta method alone under-covers when extrapolating (see :mod:`syn2real.law.uncertainty`);
the back-tested ``κ d`` term is what carries extrapolation risk. ``tests/test_grid_advice.py``
checks coverage on simulated grids with known truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from .base import NotFittedError
from .batch import pad_curves
from .laws import FullTransferLaw
from .predictive import DEFAULT_PRIOR, PredictivePrior
from .solver import jacobian_stats, solve

Array = np.ndarray
#: Fewest distinct (n, s) points: eq. 2 has four parameters.
MIN_POINTS = 5


def _law() -> FullTransferLaw:
    return FullTransferLaw(loss="log")


def _clean(c: Mapping[str, Any]) -> tuple[Array, Array, Array, Array]:
    n = np.asarray(c["n"], float).ravel()
    s = np.asarray(c["s"], float).ravel()
    y = np.asarray(c["err"], float).ravel()
    w = np.ones_like(y) if c.get("weights") is None else np.asarray(c["weights"], float).ravel()
    if not (len(n) == len(s) == len(y) == len(w)):
        raise ValueError(f"n, s, err and weights must have the same length, got "
                         f"{len(n)}, {len(s)}, {len(y)}, {len(w)}")
    for name, v in (("n", n), ("s", s), ("err", y)):
        if np.any(~np.isfinite(v)) or np.any(v <= 0):
            raise ValueError(f"{name} must be finite and > 0 (the predictive works on log "
                             "errors)")
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    keep = w > 0
    return n[keep], s[keep], y[keep], w[keep]


def _solve(items: Sequence[tuple[Array, Array, Array, Array]], n0: Array, s0: Array, y0: Array,
           grid_size: int | None = None) -> tuple[dict[str, Array], Array, Array]:
    """Fit eq. 2 (log loss, normalised) to every item: params, sigma, covariance."""
    law = _law()
    curves = [{"n": n / a, "s": s / b, "err": y / c, "weights": w}
              for (n, s, y, w), a, b, c in zip(items, n0, s0, y0, strict=True)]
    X, Y, W = pad_curves(curves, ("n", "s"))
    pb = law._problem(X, Y, W, B=len(curves))
    sol = solve(pb, grid_size=grid_size)
    sigma, cov, _, _ = jacobian_stats(pb, sol.params, law.free_params)
    return sol.params, sigma, cov


def _log_pred(params: Mapping[str, Array], nn: Array, ss: Array) -> Array:
    """log L at normalised sizes ``(B, k)``."""
    a, b = params["alpha"][:, None], params["beta"][:, None]
    dg, d = params["delta_gamma"][:, None], params["delta"][:, None]
    val = (dg + d * nn ** (-a)) * ss ** (-b)
    return np.log(np.maximum(val, 1e-300))


def _param_var(params: Mapping[str, Array], cov: Array, nn: Array, ss: Array) -> Array:
    """Delta-method variance of log L at ``(B, k)`` points."""
    free = _law().free_params
    base = {k: np.asarray(v, float) for k, v in params.items()}
    G = np.zeros(nn.shape + (len(free),))
    for j, name in enumerate(free):
        v = base[name]
        h = 1e-6 * np.maximum(np.abs(v), 1e-3)
        up, dn = dict(base), dict(base)
        up[name], dn[name] = v + h, v - h
        G[..., j] = (_log_pred(up, nn, ss) - _log_pred(dn, nn, ss)) / (2 * h[:, None])
    var = np.einsum("bki,bij,bkj->bk", G, np.nan_to_num(cov), G)
    return np.maximum(var, 0.0)


def _distance(nn: Array, ss: Array, n_max: Array, s_max: Array) -> Array:
    return (np.maximum(np.log(nn / n_max[:, None]), 0.0)
            + np.maximum(np.log(ss / s_max[:, None]), 0.0))


class GridPredictor:
    """Predictive distribution of the measured error at any ``(n, s)`` (scikit-learn style).

    Parameters
    ----------
    prior : PredictivePrior, optional
        Corpus prior of the extrapolation error (default: the package's).

    Attributes
    ----------
    n_, s_, err_, weights_ : ndarray
        The measured points.
    params_ : dict
        Eq. 2 in original units: ``alpha``, ``beta``, ``delta``, ``gamma``.
    kappa_, noise_, dof_ : float
        Extrapolation growth, residual sd (log) and Student-t degrees of freedom.
    n_backtests_ : int
        Back-tests that could be run (0, 1 or 2).
    flags_ : list of str
        ``at_bound:<param>`` where eq. 2 sits at a bound, ``no_backtest``.
    """

    def __init__(self, prior: PredictivePrior | None = None) -> None:
        self.prior = prior

    def fit(self, n: Any, s: Any, err: Any, weights: Any = None) -> GridPredictor:
        """Fit to errors ``err`` measured at synthetic sizes ``n`` and real sizes ``s``."""
        fitted = fit_grid_predictors([{"n": n, "s": s, "err": err, "weights": weights}],
                                     prior=self.prior)[0]
        self.__dict__.update(fitted.__dict__)
        return self

    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless :meth:`fit` has run."""
        if "n_" not in self.__dict__:
            raise NotFittedError("this GridPredictor is not fitted yet: call fit() first")

    def _log_mean_sd(self, n: Any, s: Any, kind: str) -> tuple[Array, Array]:
        self.check_is_fitted()
        if kind not in ("observation", "mean"):
            raise ValueError(f"kind must be 'observation' or 'mean', got {kind!r}")
        n, s = np.broadcast_arrays(np.atleast_1d(np.asarray(n, float)),
                                   np.atleast_1d(np.asarray(s, float)))
        if np.any(~np.isfinite(n)) or np.any(n <= 0) or np.any(~np.isfinite(s)) or np.any(s <= 0):
            raise ValueError("n and s must be finite and > 0")
        nn, ss = (n / self._n0)[None, :], (s / self._s0)[None, :]
        P = {k: np.array([v]) for k, v in self._pn.items()}
        mu = _log_pred(P, nn, ss)[0] + np.log(self._y0)
        var = _param_var(P, self._cov[None], nn, ss)[0]
        d = _distance(nn, ss, np.array([self.n_.max() / self._n0]),
                      np.array([self.s_.max() / self._s0]))[0]
        var = var + (self.kappa_ * d) ** 2
        if kind == "observation":
            var = var + self.noise_**2
        return mu, np.sqrt(var)

    def predict(self, n: Any, s: Any) -> Array:
        """Predictive median of the error at ``(n, s)``."""
        return np.exp(self._log_mean_sd(n, s, "mean")[0])

    def quantile(self, n: Any, s: Any, q: float | Array, kind: str = "observation") -> Array:
        """Predictive quantile(s) ``q`` of a measurement (or the mean) at ``(n, s)``."""
        mu, sd = self._log_mean_sd(n, s, kind)
        return np.exp(mu + stats.t.ppf(q, self.dof_) * sd)

    def predict_interval(self, n: Any, s: Any, level: float = 0.9, kind: str = "observation"
                         ) -> tuple[Array, Array]:
        """Central ``level`` interval of a new measurement (or the mean) at ``(n, s)``."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        mu, sd = self._log_mean_sd(n, s, kind)
        t = stats.t.ppf(0.5 + level / 2, self.dof_)
        return np.exp(mu - t * sd), np.exp(mu + t * sd)

    def cdf(self, n: Any, s: Any, value: float, kind: str = "observation") -> Array:
        """P(error measured at ``(n, s)`` <= ``value``)."""
        mu, sd = self._log_mean_sd(n, s, kind)
        return stats.t.cdf((np.log(value) - mu) / sd, self.dof_)

    def p_reach(self, target: float, n: float, s: float) -> float:
        """P(a run at ``n`` synthetic and ``s`` real images measures <= ``target``).

        Eq. 2 falls in both sizes, so the budgets' corner is the best run one can do.
        """
        return float(self.cdf([n], [s], target)[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        self.check_is_fitted()
        return {"n_points": int(len(self.n_)), "params": dict(self.params_),
                "kappa": self.kappa_, "noise": self.noise_, "dof": self.dof_,
                "n_backtests": self.n_backtests_, "flags": list(self.flags_)}


def _backtest_excess(items: list[tuple[Array, Array, Array, Array]], norm: tuple[Array, ...],
                     which: str) -> tuple[Array, Array]:
    """Leave the largest ``which`` ('n' or 's') out: excess squared error per unit d² and
    whether the back-test was possible, per item."""
    n0, s0, y0 = norm
    B = len(items)
    sub, held, ok = [], [], np.zeros(B, bool)
    for i, (n, s, y, w) in enumerate(items):
        v = n if which == "n" else s
        top = v.max()
        keep = v < top * (1 - 1e-9)
        if np.unique(v[keep]).size >= 2 and keep.sum() >= MIN_POINTS and (~keep).any():
            ok[i] = True
            sub.append((n[keep], s[keep], y[keep], w[keep]))
            held.append(~keep)
        else:  # a placeholder fit (ignored)
            sub.append((n, s, y, w))
            held.append(np.zeros_like(keep))
    kap = np.zeros(B)
    if not ok.any():
        return kap, ok
    P, sig, cov = _solve(sub, n0, s0, y0)
    for i, (n, s, y, _w) in enumerate(items):
        if not ok[i]:
            continue
        h = held[i]
        Pi = {k: v[i:i + 1] for k, v in P.items()}
        nn, ss = (n[h] / n0[i])[None], (s[h] / s0[i])[None]
        mu = _log_pred(Pi, nn, ss)[0]
        var = _param_var(Pi, cov[i:i + 1], nn, ss)[0] + np.nan_to_num(sig[i]) ** 2
        r2 = (np.log(y[h] / y0[i]) - mu) ** 2
        sn, tn = sub[i][0], sub[i][1]
        d = _distance(nn, ss, np.array([sn.max() / n0[i]]), np.array([tn.max() / s0[i]]))[0]
        d2 = np.maximum(d, 1e-3) ** 2
        kap[i] = float(np.mean(np.maximum(r2 - var, 0.0) / d2))
    return kap, ok


def fit_grid_predictors(curves: Sequence[Mapping[str, Any]], *,
                        prior: PredictivePrior | None = None,
                        spread: Sequence[tuple[float, float]] | None = None,
                        grid_size: int | None = None) -> list[GridPredictor]:
    """Fit :class:`GridPredictor` to many ``{"n", "s", "err"[, "weights"]}`` grids at once.

    Parameters
    ----------
    curves : sequence of mappings
        One grid each.
    prior : PredictivePrior, optional
        Corpus prior of the extrapolation error.
    spread : sequence of (kappa, dof), optional
        Extrapolation growth and degrees of freedom per grid, skipping the back-tests (the
        advisor's pre-posterior refits keep those of the grid they augment by one point).
    grid_size : int, optional
        Global-search grid per non-linear parameter (default: the solver's).
    """
    if not curves:
        return []
    items = []
    for i, c in enumerate(curves):
        try:
            it = _clean(c)
        except ValueError as exc:
            raise ValueError(f"grid {i}: {exc}") from None
        pts = len(set(zip(it[0].tolist(), it[1].tolist(), strict=True)))
        if pts < MIN_POINTS or np.unique(it[0]).size < 2 or np.unique(it[1]).size < 2:
            raise ValueError(f"grid {i}: eq. 2 needs at least {MIN_POINTS} distinct (n, s) "
                             "points with at least two values of each; measure more sizes")
        items.append(it)
    pr = prior or DEFAULT_PRIOR
    n0 = np.array([it[0].min() for it in items])
    s0 = np.array([it[1].min() for it in items])
    y0 = np.array([it[2].min() for it in items])
    P, sig, cov = _solve(items, n0, s0, y0, grid_size)
    if spread is None:
        k_n, ok_n = _backtest_excess(items, (n0, s0, y0), "n")
        k_s, ok_s = _backtest_excess(items, (n0, s0, y0), "s")
    else:
        k_n, ok_n = np.zeros(len(items)), np.zeros(len(items), bool)
        k_s, ok_s = k_n, ok_n
    law = _law()
    bounds = law._bounds()
    out = []
    for i, (n, s, y, w) in enumerate(items):
        g = GridPredictor(prior)
        nbt = int(ok_n[i]) + int(ok_s[i])
        weight = pr.nu + nbt
        kappa2 = (pr.nu * pr.kappa**2 + k_n[i] + k_s[i]) / weight
        if spread is not None:
            kappa2, weight = float(spread[i][0]) ** 2, float(spread[i][1])
        pn = {k: float(v[i]) for k, v in P.items()}
        flags = [f"at_bound:{p}" for p in ("alpha", "beta")
                 if min(abs(pn[p] - bounds[p][0]), abs(bounds[p][1] - pn[p])) < 1e-6]
        if pn["delta_gamma"] <= 1e-12:
            flags.append("at_bound:gamma")
        if nbt == 0 and spread is None:
            flags.append("no_backtest")
        a, b = pn["alpha"], pn["beta"]
        # back to original units: L = y0 * (dg + d (n/n0)^-a) (s/s0)^-b
        delta = y0[i] * pn["delta"] * n0[i] ** a * s0[i] ** b
        dg = y0[i] * pn["delta_gamma"] * s0[i] ** b
        g.__dict__.update(
            n_=n, s_=s, err_=y, weights_=w, _pn=pn, _cov=np.nan_to_num(cov[i]),
            _n0=float(n0[i]), _s0=float(s0[i]), _y0=float(y0[i]),
            params_={"alpha": a, "beta": b, "delta": float(delta),
                     "gamma": float(dg / delta) if delta > 0 else float("nan")},
            kappa_=float(np.sqrt(kappa2)), noise_=float(np.nan_to_num(sig[i], nan=0.1)),
            dof_=float(max(weight, 1.0)), n_backtests_=nbt, flags_=flags)
        out.append(g)
    return out
