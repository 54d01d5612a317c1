"""Two-layer network and online averaged SGD (ASGD), vectorised over independent runs.

``g(x) = M^{-1/2} sum_r a_r s(b_r . x)``; symmetric initialisation (``a_r = +1`` for the
first half, ``-1`` for the second, ``b`` paired and uniform on the sphere) gives ``g = 0``.
Each step draws one fresh ``x`` uniform on ``S^{d-1}`` per run and minimises

    (y - g(x))^2 / 2 + (lambda/2) (||a - a_anchor||^2 + sum_r ||b_r - b_anchor_r||^2)

with step ``eta``; the output is the average of the iterates ``Theta(1..T)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .targets import activation

Array = np.ndarray


@dataclass
class Params:
    """Parameters of R networks: ``a`` (R, M), ``b`` (R, M, d)."""

    a: Array
    b: Array

    def copy(self) -> Params:
        return Params(self.a.copy(), self.b.copy())

    def take(self, idx: Array) -> Params:
        return Params(self.a[idx].copy(), self.b[idx].copy())


def init_symmetric(runs: int, width: int, d: int, rng: np.random.Generator) -> Params:
    """Symmetric initialisation: the network is identically zero."""
    if width % 2:
        raise ValueError(f"width must be even for the symmetric initialisation, got {width}")
    half = width // 2
    b = rng.standard_normal((runs, half, d))
    b /= np.linalg.norm(b, axis=2, keepdims=True)
    a = np.concatenate([np.ones((runs, half)), -np.ones((runs, half))], axis=1)
    return Params(a, np.concatenate([b, b], axis=1))


def forward(p: Params, x: Array, act: str = "softplus") -> Array:
    """Outputs of each run's network at its own inputs: x (R, N, d) → (R, N)."""
    s, _ = activation(act)
    u = np.einsum("rmd,rnd->rnm", p.b, x)
    return np.einsum("rnm,rm->rn", s(u), p.a) / np.sqrt(p.a.shape[1])


def sphere(rng: np.random.Generator, shape: tuple[int, ...], d: int) -> Array:
    """Uniform samples on ``S^{d-1}``."""
    x = rng.standard_normal((*shape, d))
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def asgd(p0: Params, anchor: Params, target: Callable[[Array], Array], steps: Array,
         eta: Array, lam: Array, rng: np.random.Generator, act: str = "softplus",
         trace: bool = False) -> Params | tuple[Params, list[Params]]:
    """Averaged online SGD for R runs at once.

    Parameters
    ----------
    p0 : Params
        Starting parameters (R runs).
    anchor : Params
        Regularisation centre (the initial or the pre-trained parameters).
    target : callable
        ``target(x)`` with x (R, d) → y (R,): the labels of each run's sample.
    steps, eta, lam : ndarray
        Per run: number of steps T, learning rate, regularisation coefficient.
    rng : numpy.random.Generator
        Source of the samples.
    act : str
        Activation.
    trace : bool
        Also return every iterate (small runs only: for tests).

    Returns
    -------
    Params
        The average of the iterates ``Theta(1..T)`` of each run (``Theta(0)`` if T = 0).
    """
    s, ds = activation(act)
    p = p0.copy()
    R, M = p.a.shape
    d = p.b.shape[2]
    steps = np.asarray(steps, int)
    eta = np.asarray(eta, float)
    lam = np.asarray(lam, float)
    sum_a = np.zeros_like(p.a)
    sum_b = np.zeros_like(p.b)
    root = np.sqrt(M)
    hist = []
    for t in range(int(steps.max(initial=0))):
        active = (t < steps).astype(float)
        x = sphere(rng, (R,), d)
        y = target(x)
        u = np.einsum("rmd,rd->rm", p.b, x)
        su = s(u)
        e = np.sum(p.a * su, axis=1) / root - y
        ga = e[:, None] * su / root + lam[:, None] * (p.a - anchor.a)
        coef = e[:, None] * p.a * ds(u) / root
        gb = coef[:, :, None] * x[:, None, :] + lam[:, None, None] * (p.b - anchor.b)
        step = (eta * active)
        p.a -= step[:, None] * ga
        p.b -= step[:, None, None] * gb
        sum_a += active[:, None] * p.a
        sum_b += active[:, None, None] * p.b
        if trace:
            hist.append(p.copy())
    n = np.maximum(steps, 1).astype(float)
    avg = Params(sum_a / n[:, None], sum_b / n[:, None, None])
    zero = steps == 0
    avg.a[zero] = p0.a[zero]
    avg.b[zero] = p0.b[zero]
    return (avg, hist) if trace else avg
