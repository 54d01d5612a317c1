"""Functional forms of learning curves.

A *family* describes a curve ``y = sum_k c_k * phi_k(theta, X)``: the coefficients ``c``
enter linearly (the *linear* parameters) and ``theta`` non-linearly. Writing every law in
that form lets the solver in :mod:`syn2real.law.solver` eliminate the linear parameters
exactly (variable projection) and search only the few non-linear ones globally.

Shapes: non-linear parameters arrive as arrays of shape ``(B, G)`` (B curves, G candidate
values per curve), inputs as ``(B, m)``; :meth:`Family.basis` returns ``(B, G, m, k)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

Array = np.ndarray
INF = float("inf")


@dataclass(frozen=True)
class Family:
    """A law's functional form.

    Attributes
    ----------
    name : str
        Short identifier (``"transfer"``, ``"power"``, ...).
    formula : str
        Human-readable formula, printed by ``summary()``.
    inputs : tuple of str
        Names of the explanatory variables (``"n"``, optionally ``"s"``).
    nonlinear : tuple of str
        Parameters searched on a grid and refined.
    linear : tuple of str
        Parameters that enter linearly given the non-linear ones.
    bounds : mapping
        Default ``(low, high)`` bounds of every parameter; non-linear bounds are finite.
    """

    name: str
    formula: str
    inputs: tuple[str, ...]
    nonlinear: tuple[str, ...]
    linear: tuple[str, ...]
    bounds: Mapping[str, tuple[float, float]]

    @property
    def params(self) -> tuple[str, ...]:
        """All parameter names, non-linear first."""
        return self.nonlinear + self.linear

    def basis(self, theta: Mapping[str, Array], X: Mapping[str, Array]) -> Array:
        """Columns multiplying the linear parameters, shape ``(B, G, m, k)``."""
        raise NotImplementedError

    def predict(self, params: Mapping[str, Array], X: Mapping[str, Array]) -> Array:
        """Evaluate the curve; parameters of shape ``(B,)``, inputs ``(B, m)`` → ``(B, m)``."""
        theta = {p: np.asarray(params[p], float)[:, None] for p in self.nonlinear}
        phi = self.basis(theta, X)[:, 0]  # (B, m, k)
        coef = np.stack([np.asarray(params[p], float) for p in self.linear], axis=-1)
        return np.einsum("bmk,bk->bm", phi, coef)

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        """Quantities derived from the fitted parameters (e.g. ``gamma`` of the full law)."""
        return {}


def _n(X: Mapping[str, Array]) -> Array:
    return np.asarray(X["n"], float)[:, None, :]  # (B, 1, m)


def _s(X: Mapping[str, Array]) -> Array:
    return np.asarray(X["s"], float)[:, None, :]


def _t(theta: Mapping[str, Array], name: str) -> Array:
    return np.asarray(theta[name], float)[..., None]  # (B, G, 1)


class _Transfer(Family):
    def basis(self, theta, X):
        n = _n(X)
        a = _t(theta, "alpha")
        x = n ** (-a)
        return np.stack([x, np.ones_like(x)], axis=-1)


class _Power(Family):
    def basis(self, theta, X):
        return (_n(X) ** (-_t(theta, "alpha")))[..., None]


class _Full(Family):
    def basis(self, theta, X):
        n, s = _n(X), _s(X)
        sb = s ** (-_t(theta, "beta"))
        na = n ** (-_t(theta, "alpha"))
        sb, na = np.broadcast_arrays(sb, na)
        # delta*(gamma + n^-a)*s^-b = (delta*gamma)*s^-b + delta*(n^-a s^-b)
        return np.stack([sb, na * sb], axis=-1)

    def derived(self, params):
        delta = params["delta"]
        gamma = params["delta_gamma"] / delta if delta > 0 else float("nan")
        return {"gamma": gamma}


class _Additive(Family):
    def basis(self, theta, X):
        n, s = _n(X), _s(X)
        na = n ** (-_t(theta, "alpha"))
        sb = s ** (-_t(theta, "beta"))
        na, sb = np.broadcast_arrays(na, sb)
        return np.stack([na, sb, np.ones_like(na)], axis=-1)


class _Broken(Family):
    def basis(self, theta, X):
        n = _n(X)
        a = _t(theta, "alpha")
        da = _t(theta, "delta_alpha")
        nb = 10.0 ** _t(theta, "log10_nb")
        x = n ** (-a) * (1.0 + n / nb) ** (-da)
        return np.stack([x, np.ones_like(x)], axis=-1)


TRANSFER = _Transfer(
    name="transfer",
    formula="L(n) = D * n^-alpha + C",
    inputs=("n",),
    nonlinear=("alpha",),
    linear=("D", "C"),
    bounds={"alpha": (0.05, 2.0), "D": (0.0, INF), "C": (0.0, 1.0)},
)

POWER = _Power(
    name="power",
    formula="L(n) = D * n^-alpha",
    inputs=("n",),
    nonlinear=("alpha",),
    linear=("D",),
    bounds={"alpha": (0.0, 2.0), "D": (0.0, INF)},
)

FULL = _Full(
    name="full",
    formula="L(n, s) = delta * (gamma + n^-alpha) * s^-beta",
    inputs=("n", "s"),
    nonlinear=("alpha", "beta"),
    linear=("delta_gamma", "delta"),
    bounds={
        "alpha": (0.05, 2.0),
        "beta": (0.0, 1.5),
        "delta_gamma": (0.0, INF),
        "delta": (0.0, INF),
    },
)

ADDITIVE = _Additive(
    name="additive",
    formula="L(n, s) = A * n^-alpha + B * s^-beta + E",
    inputs=("n", "s"),
    nonlinear=("alpha", "beta"),
    linear=("A", "B", "E"),
    bounds={"alpha": (0.05, 2.0), "beta": (0.0, 1.5), "A": (0.0, INF), "B": (0.0, INF),
            "E": (0.0, 1.0)},
)

BROKEN = _Broken(
    name="broken",
    formula="L(n) = D * n^-alpha * (1 + n/n_b)^-delta_alpha + C   (one-break BNSL, f = 1)",
    inputs=("n",),
    nonlinear=("alpha", "delta_alpha", "log10_nb"),
    linear=("D", "C"),
    bounds={
        "alpha": (0.0, 2.0),
        "delta_alpha": (-1.0, 1.0),
        "log10_nb": (2.0, 7.0),
        "D": (0.0, INF),
        "C": (0.0, 1.0),
    },
)

FAMILIES: dict[str, Family] = {f.name: f for f in (TRANSFER, POWER, FULL, ADDITIVE, BROKEN)}
