"""Target functions on the sphere with controlled smoothness (source condition).

Dot-product kernels on ``S^{d-1}`` (the network's NTK at initialisation is one) have the
spherical harmonics as eigenfunctions; the eigenvalue ``mu_l`` of degree ``l`` follows from
the Funk-Hecke formula. A zonal harmonic ``P_l(<u, x>)`` (Gegenbauer polynomial, normalised
to unit L2 norm) lies in the degree-``l`` eigenspace, so

    phi(x) = sum_l  mu_l^r * h_l * P_l(<u_l, x>),   h_l = 1/l

lies in ``R(Sigma^r)`` (``h`` square-summable). ``r`` is the smoothness of the source
condition and the overall scale is set to the requested L2 norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import eval_gegenbauer, roots_jacobi

Array = np.ndarray


def activation(name: str) -> tuple:
    """Activation and its derivative; both satisfy assumption (A1) (smooth, ``|s'| <= 2``)."""
    if name == "softplus":
        return (lambda u: np.logaddexp(0.0, u), lambda u: 0.5 * (1.0 + np.tanh(0.5 * u)))
    if name == "tanh":
        return (np.tanh, lambda u: 1.0 - np.tanh(u) ** 2)
    raise ValueError(f"activation must be 'softplus' or 'tanh', got {name!r}")


def _gegen(l: int, d: int, t: Array) -> Array:
    lam = (d - 2) / 2.0
    if d == 2:
        return np.cos(l * np.arccos(np.clip(t, -1, 1)))
    return eval_gegenbauer(l, lam, t)


def _quadrature(d: int, k: int = 200) -> tuple[Array, Array]:
    """Nodes and normalised weights for E over x on S^{d-1} of f(<u, x>)."""
    a = (d - 3) / 2.0
    t, w = roots_jacobi(k, a, a)
    return t, w / w.sum()


def harmonic_norms(d: int, L: int) -> Array:
    """``sqrt(E[P_l(<u,x>)^2])`` for l = 0..L (to normalise the zonal harmonics)."""
    t, w = _quadrature(d)
    return np.array([np.sqrt(np.sum(w * _gegen(l, d, t) ** 2)) for l in range(L + 1)])


def ntk_eigenvalues(d: int, L: int, act: str = "softplus", n_mc: int = 20000,
                    seed: int = 0) -> Array:
    """Eigenvalues ``mu_l`` (l = 0..L) of the two-layer NTK at initialisation on S^{d-1}.

    ``k(t) = E_b[s(b.x) s(b.x')] + t E_b[s'(b.x) s'(b.x')]`` with ``b`` uniform on the sphere
    (both layers trained), evaluated by Monte Carlo over ``b``; ``mu_l`` by Funk-Hecke with
    Gauss-Jacobi quadrature in ``t = <x, x'>``.
    """
    s, ds = activation(act)
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((n_mc, d))
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    t, w = _quadrature(d)
    u1 = b[:, 0]
    # x = e1, x' = t e1 + sqrt(1 - t^2) e2
    u2 = t[:, None] * b[None, :, 0] + np.sqrt(1 - t**2)[:, None] * b[None, :, 1]
    k = np.mean(s(u1)[None] * s(u2), axis=1) + t * np.mean(ds(u1)[None] * ds(u2), axis=1)
    out = []
    for l in range(L + 1):
        p = _gegen(l, d, t)
        p1 = _gegen(l, d, np.array([1.0]))[0]
        out.append(np.sum(w * k * p / p1))
    return np.abs(np.array(out))


@dataclass
class HarmonicTarget:
    """``phi(x) = sum_j coef_j * P_{deg_j}(<dirs_j, x>) / norm_{deg_j}``."""

    dirs: Array    # (J, d) unit vectors
    degrees: Array  # (J,)
    coef: Array    # (J,)

    def __call__(self, x: Array) -> Array:
        return evaluate(self.dirs, self.degrees, self.coef[None], x)


def evaluate(dirs: Array, degrees: Array, coef: Array, x: Array) -> Array:
    """Evaluate targets with per-row coefficients: coef (R, J), x (R, d) → (R,)."""
    d = dirs.shape[1]
    t = x @ dirs.T  # (R, J)
    norms = harmonic_norms(d, int(degrees.max()))
    vals = np.stack([_gegen(int(l), d, t[:, j]) / norms[int(l)]
                     for j, l in enumerate(degrees)], axis=1)
    return np.sum(vals * coef, axis=1)


def make_target(d: int, r: float, norm: float, L: int, mu: Array,
                rng: np.random.Generator) -> HarmonicTarget:
    """A random target in ``R(Sigma^r)`` with L2 norm ``norm`` (degrees 1..L)."""
    deg = np.arange(1, L + 1)
    dirs = rng.standard_normal((L, d))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    c = mu[deg] ** r / deg
    c = c / np.sqrt(np.sum(c**2)) * norm if norm > 0 else np.zeros_like(c)
    return HarmonicTarget(dirs, deg, c)


def eigen_decay_exponent(mu: Array, d: int) -> float:
    """Fitted ``xi`` of ``gamma_i ~ i^-xi`` counting each degree with its multiplicity."""
    from math import comb

    ls = np.arange(1, len(mu))
    mult = np.array([comb(l + d - 1, d - 1) - comb(l + d - 3, d - 1) if l >= 2 else
                     (d if l == 1 else 1) for l in ls], float)
    idx = np.cumsum(mult)
    keep = mu[1:] > mu[1:].max() * 1e-10
    slope = np.polyfit(np.log(idx[keep]), np.log(mu[1:][keep]), 1)[0]
    return float(-slope)
