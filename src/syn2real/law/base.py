"""Estimator machinery shared by every law (scikit-learn style)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .families import Family
from .solver import LOSSES, Problem, fit_flags, jacobian_stats, residuals, solve
from .uncertainty import IntervalsMixin

Array = np.ndarray


class NotFittedError(ValueError, AttributeError):
    """Raised when an estimator is used before ``fit`` (as scikit-learn's: ``hasattr`` of a
    fitted attribute is then simply False)."""


def _as_1d(name: str, v: Any) -> Array:
    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        a = a[None]
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    return a


class BaseLaw(IntervalsMixin):
    """A learning-curve law fitted by bounded (weighted) least squares.

    Parameters
    ----------
    loss : {"linear", "log", "huber"}
        ``linear``: residuals ``y - f`` (the authors' notebook); ``log``: ``log y - log f``
        (the paper's text, "log-log space"); ``huber``: linear residuals with the Huber
        loss, transition at ``huber_delta`` (default ``1.345 * 1.4826 * MAD`` of the
        linear-loss residuals).
    bounds : mapping, optional
        ``{param: (low, high)}`` overriding the family's defaults.
    fixed : mapping, optional
        ``{param: value}`` held fixed (e.g. ``{"D": 0.48}``).
    huber_delta : float, optional
        Huber transition scale in units of the error.
    grid_size : int, optional
        Grid points per non-linear parameter of the global search.
    """

    family: Family

    def __init__(self, *, loss: str = "linear", bounds: Mapping[str, tuple[float, float]]
                 | None = None, fixed: Mapping[str, float] | None = None,
                 huber_delta: float | None = None, grid_size: int | None = None) -> None:
        self.loss = loss
        self.bounds = dict(bounds or {})
        self.fixed = dict(fixed or {})
        self.huber_delta = huber_delta
        self.grid_size = grid_size

    # ------------------------------------------------------------------ settings
    def _bounds(self) -> dict[str, tuple[float, float]]:
        out = dict(self.family.bounds)
        for k, v in self.bounds.items():
            if k not in out:
                raise ValueError(f"unknown parameter {k!r} in bounds; {self.family.name} law "
                                 f"has {list(out)}")
            lo, hi = float(v[0]), float(v[1])
            if not lo <= hi:
                raise ValueError(f"bounds of {k!r} must satisfy low <= high, got {(lo, hi)}")
            out[k] = (lo, hi)
        return out

    def _check_settings(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for k in self.fixed:
            if k not in self.family.params:
                raise ValueError(f"unknown parameter {k!r} in fixed; {self.family.name} law "
                                 f"has {list(self.family.params)}")

    @property
    def free_params(self) -> list[str]:
        """Parameters estimated from the data."""
        return [p for p in self.family.params if p not in self.fixed]

    # ------------------------------------------------------------------ data
    def _inputs(self, **X: Any) -> dict[str, Array]:
        out = {}
        for name in self.family.inputs:
            a = _as_1d(name, X[name])
            if np.any(~np.isfinite(a)) or np.any(a <= 0):
                bad = a[(~np.isfinite(a)) | (a <= 0)][:3]
                raise ValueError(f"{name} must be finite and > 0 (got {bad})")
            out[name] = a
        sizes = {len(v) for v in out.values()}
        if len(sizes) != 1:
            raise ValueError(f"inputs {list(out)} must have the same length, got {sorted(sizes)}")
        return out

    def _problem(self, X: Mapping[str, Array], y: Array, w: Array,
                 fixed: Mapping[str, Array] | None = None, B: int = 1) -> Problem:
        fx = {k: np.full(B, float(v)) for k, v in self.fixed.items()}
        if fixed:
            fx.update(fixed)
        Xb = {k: np.broadcast_to(v, (B, v.shape[-1])) if v.ndim == 1 else v for k, v in X.items()}
        yb = np.broadcast_to(y, (B, y.shape[-1])) if y.ndim == 1 else y
        wb = np.broadcast_to(w, (B, w.shape[-1])) if w.ndim == 1 else w
        f_scale = None
        if self.loss == "huber":
            f_scale = np.full(B, self.huber_delta_ if hasattr(self, "huber_delta_")
                              else (self.huber_delta or 1.0))
        return Problem(self.family, Xb, yb, wb, fx, self._bounds(), self.loss, f_scale)

    # ------------------------------------------------------------------ fit
    def check_targets(self, y: Any, weights: Any, m: int) -> tuple[Array, Array]:
        """The errors and weights of one curve of ``m`` points, checked as ``fit`` does."""
        y = _as_1d("err", y)
        if len(y) != m:
            raise ValueError(f"err has {len(y)} values but the inputs have {m}")
        if np.any(~np.isfinite(y)):
            raise ValueError("err contains NaN or inf")
        if self.loss == "log" and np.any(y <= 0):
            raise ValueError("loss='log' needs err > 0; use loss='linear' for zero errors")
        w = np.ones(m) if weights is None else _as_1d("weights", weights)
        if len(w) != m or np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError("weights must be finite, >= 0 and one per point")
        return y, w

    def _fit(self, X: dict[str, Array], y: Any, weights: Any = None) -> BaseLaw:
        self._check_settings()
        y, w = self.check_targets(y, weights, len(next(iter(X.values()))))
        self.X_, self.y_, self.w_ = X, y, w
        if self.loss == "huber":
            if self.huber_delta is not None:
                self.huber_delta_ = float(self.huber_delta)
            else:
                lin = self.clone(loss="linear")
                lin._fit(X, y, w)
                r = y - lin.predict(**X)
                mad = 1.4826 * np.median(np.abs(r - np.median(r)))
                self.huber_delta_ = float(max(1.345 * mad, 1e-6 * max(np.abs(y).max(), 1e-12)))
        pb = self._problem(X, y, w)
        sol = solve(pb, grid_size=self.grid_size)
        self.params_ = {k: float(v[0]) for k, v in sol.params.items()}
        self.objective_ = float(sol.objective[0])
        self._post_fit()
        return self

    def _post_fit(self) -> None:
        free = self.free_params
        pb = self._problem(self.X_, self.y_, self.w_)
        params = {k: np.array([v]) for k, v in self.params_.items()}
        sigma, cov, se, cond = jacobian_stats(pb, params, free)
        self.n_points_ = int(np.sum(self.w_ > 0))
        self.dof_ = int(round(np.sum(self.w_))) - len(free)
        r = residuals(pb, params)[0]
        self.rss_ = float(np.sum(self.w_ * r * r))
        self.sigma_ = float(sigma[0])
        self.cov_ = cov[0]
        self.condition_number_ = float(cond[0])
        self.se_ = {p: float(v) for p, v in zip(free, se[0], strict=True)}
        self.flags_ = fit_flags(self.params_, self.se_, self.condition_number_, self._bounds(),
                                free, self.dof_)
        # explicit fitted attributes (alpha_, C_, D_, gamma_, ...), visible to dir() and IDEs
        for k, v in {**self.params_, **self.family.derived(self.params_)}.items():
            setattr(self, f"{k}_", float(v))
        self._ci_cache: dict[tuple[float, str], dict[str, tuple[float, float]]] = {}

    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless :meth:`fit` has run."""
        if "params_" not in self.__dict__:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def __getattr__(self, name: str) -> float:
        # only reached for attributes that do not exist: fitted ones are set by fit()
        if name.endswith("_") and not name.startswith("_") and "params_" not in self.__dict__:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: {name} exists "
                                 "after fit()")
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def get_params(self) -> dict[str, Any]:
        """Constructor settings (scikit-learn convention)."""
        return {"loss": self.loss, "bounds": dict(self.bounds), "fixed": dict(self.fixed),
                "huber_delta": self.huber_delta, "grid_size": self.grid_size}

    def clone(self, **overrides: Any) -> BaseLaw:
        """Unfitted copy with the same settings (some overridden)."""
        return type(self)(**{**self.get_params(), **overrides})

    # ------------------------------------------------------------------ predict
    def _predict(self, X: dict[str, Array]) -> Array:
        self.check_is_fitted()
        return self.family.predict({k: np.array([v]) for k, v in self.params_.items()},
                                   {k: v[None] for k, v in X.items()})[0]

    # ------------------------------------------------------------------ info criteria
    @property
    def aic_(self) -> float:
        """Gaussian AIC, ``m log(RSS/m) + 2(k+1)`` (k free parameters, +1 for the noise)."""
        self.check_is_fitted()
        m = self.n_points_
        return float(m * np.log(max(self.rss_, 1e-300) / m) + 2 * (len(self.free_params) + 1))

    @property
    def bic_(self) -> float:
        """Gaussian BIC, ``m log(RSS/m) + (k+1) log m``."""
        self.check_is_fitted()
        m = self.n_points_
        return float(m * np.log(max(self.rss_, 1e-300) / m)
                     + (len(self.free_params) + 1) * np.log(m))

    def summary(self, level: float = 0.9, intervals: str = "profile") -> str:
        """A readable table of the fit (statsmodels/lmfit style)."""
        self.check_is_fitted()
        fam = self.family
        lines = [f"{type(self).__name__}: {fam.formula}",
                 f"loss: {self.loss}   points: {self.n_points_}   dof: {self.dof_}   "
                 f"residual sd: {self.sigma_:.4g}   RSS: {self.rss_:.4g}"]
        if self.loss == "huber":
            lines[-1] += f"   huber delta: {self.huber_delta_:.3g}"
        lines.append(f"AIC: {self.aic_:.2f}   BIC: {self.bic_:.2f}")
        ci = self.conf_int(level, intervals) if self.dof_ > 0 else {}
        pct = int(level * 100)
        head = f"{'param':<12}{'estimate':>12}{'std err':>12}   {pct}% CI ({intervals})"
        lines += [head, "-" * len(head)]
        for p in fam.params:
            v = self.params_[p]
            if p in self.fixed:
                lines.append(f"{p:<12}{v:>12.5g}{'fixed':>12}")
                continue
            lo, hi = ci.get(p, (np.nan, np.nan))
            lines.append(f"{p:<12}{v:>12.5g}{self.se_[p]:>12.3g}   [{lo:.5g}, {hi:.5g}]")
        for k, v in fam.derived(self.params_).items():
            lines.append(f"{k:<12}{v:>12.5g}{'derived':>12}")
        lines.append("flags: " + (", ".join(self.flags_) if self.flags_ else "none"))
        return "\n".join(lines)

    def to_dict(self, level: float = 0.9, intervals: bool = True,
                method: str = "profile") -> dict[str, Any]:
        """JSON-ready description of the fit (estimates, SEs, CIs by ``method``, flags)."""
        self.check_is_fitted()
        ci = self.conf_int(level, method) if intervals and self.dof_ > 0 else {}
        out: dict[str, Any] = {"law": self.family.name, "loss": self.loss,
                               "n_points": self.n_points_, "dof": self.dof_,
                               "sigma": self.sigma_, "rss": self.rss_, "aic": self.aic_,
                               "bic": self.bic_, "flags": list(self.flags_)}
        for p in self.family.params:
            out[p] = self.params_[p]
            if p in self.fixed:
                out[f"{p}_fixed"] = True
                continue
            out[f"{p}_se"] = self.se_[p]
            if p in ci:
                out[f"{p}_ci"] = list(ci[p])
        out.update(self.family.derived(self.params_))
        return out
