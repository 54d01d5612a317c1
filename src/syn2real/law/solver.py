"""Global, bounded, vectorised least-squares fitting of learning-curve families.

Method (variable projection)
----------------------------
Every family is linear in some parameters given the others (:mod:`.families`). For a fixed
value of the non-linear parameters ``theta`` the best linear coefficients under box bounds
are found *exactly* by enumerating the active sets of the convex quadratic problem
(each coefficient free, at its lower or at its upper bound; at most ``3^k`` cases, k <= 3).
The profile objective ``P(theta) = min_c loss(theta, c)`` is then searched on a dense grid
over the (finite) bounds of ``theta``, so the global basin is found, not a local one:

* one free non-linear parameter and the ``linear`` loss (``TransferLaw``, ``PowerLaw``):
  vectorised golden-section search of the exact profile in the best grid cell; thousands
  of curves are fitted at once without a Python loop;
* otherwise (several non-linear parameters, ``log`` or ``huber`` loss): the best grid
  points are polished per curve with :func:`scipy.optimize.least_squares` (trust-region
  reflective, same bounds and loss), and the best result is kept.

Objective convention (as :func:`scipy.optimize.least_squares`): ``0.5 * sum(w * rho(r^2))``
with residuals ``r = y - f`` (``linear``, ``huber``) or ``r = log y - log f`` (``log``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from .families import Family

Array = np.ndarray
LOSSES = ("linear", "log", "huber")
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
_TINY = 1e-300
_IRLS_ITERS = 12
_SCIPY_POLISH_MAX = 8  # larger batches are refined by the vectorised LM


@dataclass
class Problem:
    """A batch of curves to fit with one family.

    Parameters
    ----------
    family : Family
        Functional form.
    X : mapping of str to ndarray
        Inputs, each of shape ``(B, m)`` (pad short curves and give them zero weight).
    y : ndarray
        Observed errors, ``(B, m)``.
    w : ndarray
        Non-negative weights, ``(B, m)``; 0 marks padding.
    fixed : mapping of str to ndarray
        Parameters held fixed, each of shape ``(B,)``.
    bounds : mapping of str to (float, float)
        Bounds of the free parameters.
    loss : {"linear", "log", "huber"}
        Residual space and robustness.
    f_scale : ndarray
        Huber transition scale per curve, ``(B,)`` (ignored for other losses).
    """

    family: Family
    X: Mapping[str, Array]
    y: Array
    w: Array
    fixed: Mapping[str, Array]
    bounds: Mapping[str, tuple[float, float]]
    loss: str = "linear"
    f_scale: Array | None = None

    @property
    def B(self) -> int:
        return self.y.shape[0]

    def subset(self, idx: Array | slice) -> Problem:
        return Problem(
            self.family,
            {k: v[idx] for k, v in self.X.items()},
            self.y[idx],
            self.w[idx],
            {k: v[idx] for k, v in self.fixed.items()},
            self.bounds,
            self.loss,
            None if self.f_scale is None else self.f_scale[idx],
        )


@dataclass
class Solution:
    """Fitted parameters of a batch: ``params[name]`` of shape ``(B,)`` and the objective."""

    params: dict[str, Array]
    objective: Array


# --------------------------------------------------------------------------- objective
def rho(z: Array, loss: str) -> Array:
    """scipy's ρ applied to squared (scaled) residuals."""
    if loss == "huber":
        return np.where(z <= 1.0, z, 2.0 * np.sqrt(np.maximum(z, 1.0)) - 1.0)
    return z


def objective(pred: Array, pb: Problem) -> Array:
    """Objective of predictions ``pred`` (B, ..., m) against the problem's data."""
    y = pb.y.reshape(pb.y.shape[:1] + (1,) * (pred.ndim - 2) + pb.y.shape[1:])
    w = pb.w.reshape(y.shape)
    if pb.loss == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.log(np.maximum(y, _TINY)) - np.log(np.where(pred > 0, pred, np.nan))
        r = np.where(w > 0, r, 0.0)
        out = 0.5 * np.sum(w * r * r, axis=-1)
        return np.where(np.isfinite(out), out, np.inf)
    r = y - pred
    if pb.loss == "huber":
        f = pb.f_scale.reshape(pb.f_scale.shape + (1,) * (pred.ndim - 1))
        return 0.5 * np.sum(w * f * f * rho((r / f) ** 2, "huber"), axis=-1)
    return 0.5 * np.sum(w * r * r, axis=-1)


# --------------------------------------------------------------------------- inner LS
def _bounded_lstsq(
    phi: Array, r: Array, w: Array, lo: Array, hi: Array
) -> tuple[Array, Array]:
    """Exact weighted least squares with box bounds by active-set enumeration.

    phi (..., m, k), r (..., m), w (..., m), lo/hi (k,). Returns coef (..., k) and
    0.5*sum(w*(r - phi@coef)^2) (...).
    """
    k = phi.shape[-1]
    if k == 0:
        return np.zeros(r.shape[:-1] + (0,)), 0.5 * np.sum(w * r * r, axis=-1)
    # column scaling for conditioning (n^-alpha can be 1e-9 next to a column of ones)
    wsum = np.maximum(np.sum(w, axis=-1), _TINY)[..., None]
    scale = np.sqrt(np.sum(w[..., None] * phi * phi, axis=-2) / wsum) + 1e-300  # (..., k)
    ps = phi / scale[..., None, :]
    wps = ps * w[..., None]
    A = np.empty(r.shape[:-1] + (k, k))
    for i in range(k):
        for j in range(i, k):
            A[..., i, j] = A[..., j, i] = np.sum(wps[..., i] * ps[..., j], axis=-1)
    b = np.sum(wps * r[..., None], axis=-2)
    c0 = 0.5 * np.sum(w * r * r, axis=-1)
    slo = lo * scale  # bounds in scaled units (inf stays inf)
    shi = hi * scale
    best_obj = np.full(r.shape[:-1], np.inf)
    best = np.zeros(r.shape[:-1] + (k,))
    if k <= 2:
        c, obj = _small_qp(A, b, c0, slo, shi)
        return c / scale, np.maximum(obj, 0.0)
    ridge = 1e-13 * (np.trace(A, axis1=-2, axis2=-1)[..., None, None] + 1e-300)
    eye = np.eye(k)
    for states in itertools.product((0, 1, 2), repeat=k):
        if any(s == 1 and not np.isfinite(lo[j]) for j, s in enumerate(states)):
            continue
        if any(s == 2 and not np.isfinite(hi[j]) for j, s in enumerate(states)):
            continue
        c = np.zeros(r.shape[:-1] + (k,))
        free = [j for j, s in enumerate(states) if s == 0]
        fixed = [j for j, s in enumerate(states) if s != 0]
        for j in fixed:
            c[..., j] = slo[..., j] if states[j] == 1 else shi[..., j]
        if free:
            Aff = A[..., free, :][..., :, free] + ridge * eye[np.ix_(free, free)]
            rhs = b[..., free]
            if fixed:
                rhs = rhs - np.sum(A[..., free, :][..., :, fixed] * c[..., None, fixed],
                                   axis=-1)
            if len(free) == 1:
                sol = rhs / Aff[..., 0, :]
            elif len(free) == 2:
                a11, a12 = Aff[..., 0, 0], Aff[..., 0, 1]
                a21, a22 = Aff[..., 1, 0], Aff[..., 1, 1]
                det = a11 * a22 - a12 * a21
                det = np.where(np.abs(det) > 0, det, 1e-300)
                sol = np.stack([(a22 * rhs[..., 0] - a12 * rhs[..., 1]) / det,
                                (a11 * rhs[..., 1] - a21 * rhs[..., 0]) / det], axis=-1)
            else:
                sol = np.linalg.solve(Aff, rhs[..., None])[..., 0]
            c[..., free] = sol
            tol = 1e-10 * (1.0 + np.abs(sol))
            ok = np.all((sol >= slo[..., free] - tol) & (sol <= shi[..., free] + tol), axis=-1)
        else:
            ok = np.ones(r.shape[:-1], bool)
        c = np.clip(c, slo, shi)
        Ac = np.sum(A * c[..., None, :], axis=-1)
        obj = c0 + np.sum(c * (0.5 * Ac - b), axis=-1)
        obj = np.where(ok & np.isfinite(obj), obj, np.inf)
        better = obj < best_obj
        best_obj = np.where(better, obj, best_obj)
        best = np.where(better[..., None], c, best)
    return best / scale, np.maximum(best_obj, 0.0)


def _small_qp(A: Array, b: Array, c0: Array, lo: Array, hi: Array) -> tuple[Array, Array]:
    """Exact box-constrained minimum of ``c0 - b.c + c.A.c/2`` for one or two variables.

    A convex QP's minimum is the unconstrained one if feasible, otherwise on an edge of the
    box at the edge's clipped one-dimensional minimum; all candidates are compared.
    """
    if b.shape[-1] == 1:
        a = np.maximum(A[..., 0, 0], 1e-300)
        c = np.clip(b[..., 0] / a, lo[..., 0], hi[..., 0])
        return c[..., None], c0 - b[..., 0] * c + 0.5 * a * c * c
    a11 = np.maximum(A[..., 0, 0], 1e-300)
    a22 = np.maximum(A[..., 1, 1], 1e-300)
    a12 = A[..., 0, 1]
    b1, b2 = b[..., 0], b[..., 1]
    lo1, lo2, hi1, hi2 = lo[..., 0], lo[..., 1], hi[..., 0], hi[..., 1]

    def q(c1: Array, c2: Array) -> Array:
        return c0 - b1 * c1 - b2 * c2 + 0.5 * (a11 * c1 * c1 + 2 * a12 * c1 * c2 + a22 * c2 * c2)

    det = a11 * a22 - a12 * a12
    good = det > 1e-12 * a11 * a22
    dets = np.where(good, det, 1.0)
    u1 = (a22 * b1 - a12 * b2) / dets
    u2 = (a11 * b2 - a12 * b1) / dets
    inside = good & (u1 >= lo1) & (u1 <= hi1) & (u2 >= lo2) & (u2 <= hi2)
    best1 = np.where(inside, u1, 0.0)
    best2 = np.where(inside, u2, 0.0)
    best = np.where(inside, q(best1, best2), np.inf)
    with np.errstate(invalid="ignore"):
        for fix1 in (lo1, hi1):
            if not np.all(np.isfinite(fix1)):
                continue
            c2 = np.clip((b2 - a12 * fix1) / a22, lo2, hi2)
            v = q(fix1, c2)
            better = v < best
            best, best1, best2 = (np.where(better, v, best), np.where(better, fix1, best1),
                                  np.where(better, c2, best2))
        for fix2 in (lo2, hi2):
            if not np.all(np.isfinite(fix2)):
                continue
            c1 = np.clip((b1 - a12 * fix2) / a11, lo1, hi1)
            v = q(c1, fix2)
            better = v < best
            best, best1, best2 = (np.where(better, v, best), np.where(better, c1, best1),
                                  np.where(better, fix2, best2))
    return np.stack([best1, best2], axis=-1), best


def _split(pb: Problem) -> tuple[list[str], list[str], list[str]]:
    fam = pb.family
    free_nl = [p for p in fam.nonlinear if p not in pb.fixed]
    free_lin = [p for p in fam.linear if p not in pb.fixed]
    fixed_lin = [p for p in fam.linear if p in pb.fixed]
    return free_nl, free_lin, fixed_lin


#: Largest ``B * G * points`` evaluated at once by :func:`profile` (bounds its memory: a
#: few arrays of this many float64 values, ~100 MB each at most).
PROFILE_CHUNK = 4_000_000


def profile(pb: Problem, theta: Mapping[str, Array]) -> tuple[Array, dict[str, Array]]:
    """Profile objective at non-linear values ``theta`` (each ``(B, G)``).

    Returns the objective ``(B, G)`` (exact for the linear loss; for the other losses the
    linear coefficients come from a first-order weighted solve) and the coefficients.
    Long curves are evaluated in slices of the ``G`` candidates (at most
    :data:`PROFILE_CHUNK` values at a time), so memory does not grow with ``G · points``.
    """
    G = next(iter(theta.values())).shape[1] if theta else 1
    m = pb.y.shape[-1]
    step = max(1, PROFILE_CHUNK // max(pb.B * m, 1))
    if theta and G > step:
        parts = [profile(pb, {k: v[:, i:i + step] for k, v in theta.items()})
                 for i in range(0, G, step)]
        obj = np.concatenate([o for o, _ in parts], axis=1)
        return obj, {k: np.concatenate([c[k] for _, c in parts], axis=1) for k in parts[0][1]}
    fam = pb.family
    _, free_lin, fixed_lin = _split(pb)
    th = {}
    for p in fam.nonlinear:
        th[p] = theta[p] if p in theta else np.repeat(pb.fixed[p][:, None], G, axis=1)
    phi = fam.basis(th, pb.X)  # (B, G, m, k)
    B, G, m, _ = phi.shape
    y = np.broadcast_to(pb.y[:, None, :], (B, G, m))
    w = np.broadcast_to(pb.w[:, None, :], (B, G, m))
    offset = np.zeros((B, G, m))
    for p in fixed_lin:
        j = fam.linear.index(p)
        offset = offset + pb.fixed[p][:, None, None] * phi[..., j]
    idx = [fam.linear.index(p) for p in free_lin]
    pf = phi[..., idx]
    lo = np.array([pb.bounds[p][0] for p in free_lin], float)
    hi = np.array([pb.bounds[p][1] for p in free_lin], float)
    r = y - offset
    if pb.loss == "linear":
        coef, obj = _bounded_lstsq(pf, r, w, lo, hi)
        return obj, {p: coef[..., i] for i, p in enumerate(free_lin)}
    # Non-quadratic losses: iteratively reweighted least squares on the linear coefficients.
    # Huber is convex in them, so IRLS reaches the exact inner optimum; for the log loss the
    # weights 1/f^2 linearise log y - log f around the current curve.
    weff = w / np.maximum(y, 1e-12) ** 2 if pb.loss == "log" else w
    best_obj = np.full((B, G), np.inf)
    best = np.zeros((B, G, len(free_lin)))
    for _ in range(_IRLS_ITERS):
        coef, _ = _bounded_lstsq(pf, r, weff, lo, hi)
        pred = offset + np.einsum("bgmk,bgk->bgm", pf, coef)
        obj = objective(pred, pb)
        better = obj < best_obj
        best_obj = np.where(better, obj, best_obj)
        best = np.where(better[..., None], coef, best)
        if pb.loss == "log":
            weff = w / np.maximum(pred, 1e-12) ** 2
        else:
            f = pb.f_scale[:, None, None]
            weff = w * np.minimum(1.0, f / np.maximum(np.abs(y - pred), 1e-300))
    return best_obj, {p: best[..., i] for i, p in enumerate(free_lin)}


def _grid(pb: Problem, free_nl: list[str], size: int | None) -> list[Array]:
    if size is None:
        size = {0: 1, 1: 96, 2: 36, 3: 14}[len(free_nl)]
    axes = []
    for p in free_nl:
        lo, hi = pb.bounds[p]
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"non-linear parameter {p!r} needs finite bounds, got {(lo, hi)}")
        axes.append(np.linspace(lo, hi, size if hi > lo else 1))
    mesh = np.meshgrid(*axes, indexing="ij")
    return [a.ravel() for a in mesh]


def golden_section(fun: Callable[[Array], Array], lo: Array, hi: Array, iters: int = 34
                   ) -> Array:
    """Vectorised golden-section minimisation of ``fun`` in ``[lo, hi]`` per problem.

    ``fun`` maps candidate values ``(B,)`` to objective values ``(B,)``; one new evaluation
    per iteration.
    """
    a, b = np.array(lo, float), np.array(hi, float)
    c = b - _GOLDEN * (b - a)
    d = a + _GOLDEN * (b - a)
    fc, fd = fun(c), fun(d)
    for _ in range(iters):
        left = fc <= fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new = np.where(left, b - _GOLDEN * (b - a), a + _GOLDEN * (b - a))
        fn = fun(new)
        d_new = np.where(left, c, new)
        fd_new = np.where(left, fc, fn)
        c = np.where(left, new, d)
        fc = np.where(left, fn, fd)
        d, fd = d_new, fd_new
    return np.where(fc <= fd, c, d)


def _golden(pb: Problem, name: str, lo: Array, hi: Array, iters: int = 34) -> Array:
    """Golden-section search of the exact profile in [lo, hi] per curve."""
    return golden_section(lambda x: profile(pb, {name: x[:, None]})[0][:, 0], lo, hi, iters)


def _assemble(pb: Problem, theta: Mapping[str, Array]) -> dict[str, Array]:
    """Full parameter dict (B,) for non-linear values theta (B,) via the exact inner solve."""
    _obj, coefs = profile(pb, {k: v[:, None] for k, v in theta.items()})
    out = {k: np.asarray(v, float).copy() for k, v in pb.fixed.items()}
    out.update({k: np.asarray(v, float) for k, v in theta.items()})
    out.update({k: v[:, 0] for k, v in coefs.items()})
    return out


def evaluate(pb: Problem, params: Mapping[str, Array]) -> Array:
    """Objective of full parameter sets (each ``(B,)``)."""
    pred = pb.family.predict(params, pb.X)
    return objective(pred[:, None, :], pb)[:, 0]


def _polish_one(pb: Problem, b: int, start: Mapping[str, float], free: list[str]) -> dict:
    fam = pb.family
    lo = np.array([pb.bounds[p][0] for p in free], float)
    hi = np.array([pb.bounds[p][1] for p in free], float)
    x0 = np.array([start[p] for p in free], float)
    span = np.where(np.isfinite(hi - lo), hi - lo, np.maximum(1.0, np.abs(x0)))
    x0 = np.clip(x0, lo + 1e-9 * span, hi - 1e-9 * span)
    keep = pb.w[b] > 0
    X = {k: v[b : b + 1, keep] for k, v in pb.X.items()}
    y = pb.y[b, keep]
    sw = np.sqrt(pb.w[b, keep])
    fixed = {k: float(v[b]) for k, v in pb.fixed.items()}

    def resid(x: Array) -> Array:
        params = dict(fixed)
        params.update(zip(free, x, strict=True))
        pred = fam.predict({k: np.array([v]) for k, v in params.items()}, X)[0]
        if pb.loss == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.log(y) - np.log(np.maximum(pred, 1e-300))
            return sw * r
        return sw * (y - pred)

    kw = {}
    if pb.loss == "huber":
        kw = {"loss": "huber", "f_scale": float(pb.f_scale[b])}
    try:
        res = least_squares(resid, x0, bounds=(lo, hi), method="trf", x_scale="jac",
                            xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=400, **kw)
        x = res.x
    except (ValueError, np.linalg.LinAlgError):
        x = x0
    out = dict(fixed)
    out.update(zip(free, x, strict=True))
    return out


def _lm_refine(pb: Problem, params: dict[str, Array], free: list[str], iters: int = 100
               ) -> tuple[dict[str, Array], Array]:
    """Vectorised, bound-projected Levenberg-Marquardt on all free parameters.

    Used instead of the per-curve scipy polish when many curves are solved at once
    (bootstrap replicates, profile and prediction-interval refits); it starts from the
    global-grid solution, so it only has to converge locally.
    """
    B = pb.B
    p = len(free)
    lo = np.array([pb.bounds[k][0] for k in free], float)
    hi = np.array([pb.bounds[k][1] for k in free], float)
    x = np.stack([params[k] for k in free], axis=1)
    lam = np.full(B, 1e-3)
    cur = {k: v.copy() for k, v in params.items()}
    best = evaluate(pb, cur)
    w = pb.w
    for _ in range(iters):
        r = residuals(pb, cur)
        J = np.zeros(r.shape + (p,))
        for j, name in enumerate(free):
            h = 1e-7 * np.maximum(np.abs(x[:, j]), 1e-2)
            up = dict(cur)
            up[name] = x[:, j] + h
            J[..., j] = -(residuals(pb, up) - r) / h[:, None]  # d(prediction)/dx
        weff = w
        if pb.loss == "huber":
            f = pb.f_scale[:, None]
            weff = w * np.minimum(1.0, f / np.maximum(np.abs(r), 1e-300))
        Jw = J * weff[..., None]
        A = np.einsum("bmi,bmj->bij", Jw, J)
        g = np.einsum("bmi,bm->bi", Jw, np.where(w > 0, r, 0.0))
        d = np.einsum("bii->bi", A) + 1e-300
        Ad = A + (lam[:, None] * d)[:, :, None] * np.eye(p)[None]
        try:
            step = np.linalg.solve(Ad, g[..., None])[..., 0]  # r(x + step) ~ r - J step
        except np.linalg.LinAlgError:
            step = g / d
        xn = np.clip(x + step, lo, hi)
        trial = dict(cur)
        for j, name in enumerate(free):
            trial[name] = xn[:, j]
        val = evaluate(pb, trial)
        ok = val < best
        x = np.where(ok[:, None], xn, x)
        best = np.where(ok, val, best)
        for j, name in enumerate(free):
            cur[name] = x[:, j]
        lam = np.where(ok, lam / 3, lam * 4)
        if np.all(lam > 1e8):
            break
    return cur, best


def solve(pb: Problem, grid_size: int | None = None, polish: bool | None = None,
          n_starts: int | None = None, chunk: int = 2048, golden_iters: int = 34
          ) -> Solution:
    """Fit every curve of the batch to its global optimum within bounds.

    Parameters
    ----------
    pb : Problem
        The batch.
    grid_size : int, optional
        Grid points per free non-linear parameter (default 96 / 36 / 14 for 1 / 2 / 3).
    polish : bool, optional
        Force (or skip) the per-curve ``least_squares`` polish. Default: only where the
        vectorised path is not exact (several non-linear parameters or a non-linear loss).
    n_starts : int
        Distinct grid optima polished per curve.
    chunk : int
        Curves per vectorised block (bounds memory).
    golden_iters : int
        Golden-section steps inside the best grid cell of a single non-linear parameter
        (each shrinks the bracket by 0.618: 34 reach 1e-7 of a cell, 22 about 2.5e-5).
    """
    if pb.loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {pb.loss!r}")
    if pb.B > chunk:
        parts = [solve(pb.subset(slice(i, i + chunk)), grid_size, polish, n_starts, chunk,
                       golden_iters)
                 for i in range(0, pb.B, chunk)]
        names = parts[0].params.keys()
        return Solution({k: np.concatenate([p.params[k] for p in parts]) for k in names},
                        np.concatenate([p.objective for p in parts]))
    free_nl, free_lin, _ = _split(pb)
    if n_starts is None:
        n_starts = 3 if len(free_nl) <= 2 else 8
    exact = pb.loss == "linear" and len(free_nl) <= 1
    if polish is None:
        polish = not exact
    B = pb.B
    if free_nl:
        axes = _grid(pb, free_nl, grid_size)
        theta = {p: np.broadcast_to(a, (B, a.size)) for p, a in zip(free_nl, axes, strict=True)}
        obj, _ = profile(pb, theta)  # (B, G)
        order = np.argsort(obj, axis=1)
        gbest = order[:, 0]
        if len(free_nl) == 1:
            name = free_nl[0]
            ax = axes[0]
            lo = ax[np.maximum(gbest - 1, 0)]
            hi = ax[np.minimum(gbest + 1, ax.size - 1)]
            best_theta = {name: _golden(pb, name, lo, hi, golden_iters)}
        else:
            best_theta = {p: a[gbest] for p, a in zip(free_nl, axes, strict=True)}
        params = _assemble(pb, best_theta)
    else:
        params = _assemble(pb, {})
        obj = None
    best_obj = evaluate(pb, params)
    if polish and (free_nl or free_lin) and B > _SCIPY_POLISH_MAX:
        params, best_obj = _lm_refine(pb, params, free_nl + free_lin)
        polish = False
    if polish and (free_nl or free_lin):
        free = free_nl + free_lin
        starts: list[list[dict]] = [[{k: float(v[b]) for k, v in params.items()}]
                                    for b in range(B)]
        if free_nl and n_starts > 1 and obj is not None:
            # further distinct starts: best grid points that are local minima of the grid
            for b in range(B):
                seen = {int(gbest[b])}
                for g in order[b, 1:]:
                    if len(starts[b]) >= n_starts or not np.isfinite(obj[b, g]):
                        break
                    if any(abs(int(g) - s) <= 1 for s in seen):
                        continue
                    seen.add(int(g))
                    th = {p: np.array([a[g]]) for p, a in zip(free_nl, axes, strict=True)}
                    sub = pb.subset(slice(b, b + 1))
                    cand = _assemble(sub, th)
                    starts[b].append({k: float(v[0]) for k, v in cand.items()})
        for b in range(B):
            sub = pb.subset(slice(b, b + 1))
            for st in starts[b]:
                cand = _polish_one(pb, b, st, free)
                val = evaluate(sub, {k: np.array([v]) for k, v in cand.items()})[0]
                if val < best_obj[b]:
                    best_obj[b] = val
                    for k in params:
                        params[k][b] = cand[k]
    return Solution({p: params[p] for p in pb.family.params}, best_obj)


def residuals(pb: Problem, params: Mapping[str, Array]) -> Array:
    """Unweighted residuals ``(B, m)`` in the loss's space (``log`` loss: log-ratios)."""
    pred = pb.family.predict(params, pb.X)
    if pb.loss == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.maximum(pb.y, _TINY)) - np.log(np.maximum(pred, _TINY))
    return pb.y - pred


def jacobian_stats(pb: Problem, params: Mapping[str, Array], free: list[str]
                   ) -> tuple[Array, Array, Array, Array]:
    """Residual scale, covariance, standard errors and condition number per curve.

    Returns ``sigma (B,)``, ``cov (B, p, p)``, ``se (B, p)``, ``cond (B,)`` with
    ``cov = s^2 (J^T W J)^+`` and ``s^2 = sum(w r^2) / (sum(w) - p)``.
    """
    B = pb.B
    base = {k: np.asarray(v, float) for k, v in params.items()}
    r = residuals(pb, base)
    w = pb.w
    dof = np.round(np.sum(w, axis=1)) - len(free)
    rss = np.sum(w * np.where(w > 0, r, 0.0) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.where(dof > 0, np.sqrt(rss / np.maximum(dof, 1)), np.nan)
    p = len(free)
    J = np.zeros(r.shape + (p,))
    for j, name in enumerate(free):
        v = base[name]
        h = 1e-6 * np.maximum(np.abs(v), 1e-3)
        up, dn = dict(base), dict(base)
        up[name], dn[name] = v + h, v - h
        J[..., j] = -(residuals(pb, up) - residuals(pb, dn)) / (2 * h[:, None])
    J = np.where(w[..., None] > 0, J, 0.0) * np.sqrt(w)[..., None]
    JTJ = np.einsum("bmi,bmj->bij", J, J)
    if p == 0:
        return sigma, np.zeros((B, 0, 0)), np.zeros((B, 0)), np.ones(B)
    d = np.sqrt(np.maximum(np.einsum("bii->bi", JTJ), 1e-300))
    Jn = JTJ / (d[:, :, None] * d[:, None, :])
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(Jn)
    cov = np.linalg.pinv(JTJ) * (sigma**2)[:, None, None]
    se = np.sqrt(np.maximum(np.einsum("bii->bi", cov), 0.0))
    return sigma, cov, se, np.where(np.isfinite(cond), cond, np.inf)


def fit_flags(params: Mapping[str, float], se: Mapping[str, float], cond: float,
              bounds: Mapping[str, tuple[float, float]], free: list[str], dof: int) -> list[str]:
    """Diagnostics of one fit: parameters at a bound, non-identifiability, unstable alpha."""
    flags = []
    if not np.isfinite(cond) or cond > 1e10:
        flags.append("non_identifiable")
    for p in free:
        lo, hi = bounds[p]
        v = params[p]
        span = (hi - lo) if np.isfinite(hi - lo) else max(1.0, abs(v))
        near_lo = np.isfinite(lo) and v - lo <= 1e-6 * span
        near_hi = np.isfinite(hi) and hi - v <= 1e-6 * span
        if near_lo or near_hi:
            flags.append(f"at_bound:{p}")
    if se.get("alpha", 0.0) > 1:
        flags.append("alpha_se_gt_1")
    if dof <= 0:
        flags.append("no_dof")
    return flags
