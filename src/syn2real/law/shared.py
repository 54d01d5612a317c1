"""One coefficient D shared by a group of curves (the paper's Appendix D, and a joint fit).

``D`` and ``alpha`` of eq. 1 are nearly unidentifiable from one curve of seven points (a flat
valley of the loss, Fig. 13/14), so the paper fixes one D for every setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .batch import fit_curves, pad_curves
from .laws import TransferLaw
from .solver import golden_section, solve

Array = np.ndarray


@dataclass
class SharedDResult:
    """Outcome of a shared-D procedure.

    Attributes
    ----------
    D : float
        The shared coefficient.
    alpha : float
        Median alpha at convergence (iterated procedure) or NaN (joint fit).
    n_iter : int
        Iterations used.
    converged : bool
        Whether the tolerance was met.
    history : list of (alpha, D)
        The iterates.
    curves : list of dict
        Per-curve fits with D fixed at the result.
    objective : float
        Sum of the per-curve objectives at the result.
    """

    D: float
    alpha: float
    n_iter: int
    converged: bool
    history: list[tuple[float, float]] = field(default_factory=list)
    curves: list[dict[str, Any]] = field(default_factory=list)
    objective: float = float("nan")
    cycle: tuple[tuple[float, float], tuple[float, float]] | None = None

    @property
    def note(self) -> str:
        """One line on how the procedure ended."""
        if self.converged and np.isnan(self.alpha):
            return f"joint least-squares optimum over {len(self.curves)} curves"
        if self.converged:
            return f"converged after {self.n_iter} iterations"
        if self.cycle is not None:
            (a1, d1), (a2, d2) = self.cycle
            return (f"settled into a 2-cycle (D {d1:.4f} <-> {d2:.4f}, alpha {a1:.4f} <-> "
                    f"{a2:.4f}) after {self.n_iter} iterations; reporting the midpoint")
        return f"did not converge in {self.n_iter} iterations"


def shared_D_iterated(curves: Sequence[Mapping[str, Any]], *, alpha0: float = 0.5,
                      D0: float = 0.5, loss: str = "linear",
                      bounds: Mapping[str, tuple[float, float]] | None = None,
                      tol: float = 1e-6, max_iter: int = 100, damping: float = 1.0
                      ) -> SharedDResult:
    """The paper's procedure (Appendix D): iterate medians until D and alpha settle.

    Start from ``alpha_hat = D_hat = 0.5``; fit every curve with ``D = D_hat`` (free alpha, C)
    and with ``alpha = alpha_hat`` (free D, C); set both to the medians; repeat. Medians of
    a few curves can alternate between two of them for ever; such a 2-cycle is detected and
    its midpoint returned (``converged=False``, ``cycle`` set, see ``note``).

    Parameters
    ----------
    curves : sequence of mappings
        ``{"n": ..., "err": ...}`` per setting.
    alpha0, D0 : float
        Starting values (paper: 0.5 and 0.5).
    loss : str
        Fitting loss.
    bounds : mapping, optional
        Bounds of ``alpha``, ``D`` and ``C``.
    tol : float
        Convergence tolerance on both medians.
    max_iter : int
        Iteration cap.
    damping : float
        Step towards the new medians: 1 (default) is the paper's literal update; smaller
        values damp it (same fixed points). On some sets of curves the median map has no
        stable fixed point and drifts along the flat alpha-D valley: ``converged`` is then
        False and :func:`joint_shared_D` is the better-posed estimate.
    """
    a_hat, d_hat = float(alpha0), float(D0)
    history = [(a_hat, d_hat)]
    converged = False
    cycle = None
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (it is reported after the loop)
        rows_a = fit_curves(TransferLaw(D=d_hat, loss=loss, bounds=bounds), curves)
        rows_d = fit_curves(TransferLaw(loss=loss, bounds=bounds, fixed={"alpha": a_hat}),
                            curves)
        a_new = a_hat + damping * (float(np.median([r["alpha"] for r in rows_a])) - a_hat)
        d_new = d_hat + damping * (float(np.median([r["D"] for r in rows_d])) - d_hat)
        history.append((a_new, d_new))
        done = abs(a_new - a_hat) < tol and abs(d_new - d_hat) < tol
        a_hat, d_hat = a_new, d_new
        if done:
            converged = True
            break
        if len(history) >= 5:
            # medians of a few curves can jump between two of them: detect a 2-cycle
            (a2, d2), (a1, d1) = history[-3], history[-2]
            if abs(a_new - a2) < tol and abs(d_new - d2) < tol:
                cycle = ((a1, d1), (a_new, d_new))
                a_hat, d_hat = 0.5 * (a1 + a_new), 0.5 * (d1 + d_new)
                break
    final = fit_curves(TransferLaw(D=d_hat, loss=loss, bounds=bounds), curves)
    return SharedDResult(D=d_hat, alpha=a_hat, n_iter=it, converged=converged, history=history,
                         curves=final, objective=float(sum(r["objective"] for r in final)),
                         cycle=cycle)


def joint_shared_D(curves: Sequence[Mapping[str, Any]], *, loss: str = "linear",
                   bounds: Mapping[str, tuple[float, float]] | None = None,
                   D_range: tuple[float, float] = (1e-3, 1e3), grid: int = 81,
                   iters: int = 60) -> SharedDResult:
    """Joint least squares: one D for all curves, alpha and C per curve.

    Minimises the summed objective over ``log D`` (grid over ``D_range``, then golden-section
    search); each evaluation refits every curve with D fixed, vectorised.
    """
    law = TransferLaw(loss=loss, bounds=bounds)
    X, y, w = pad_curves(curves, ("n",))
    B = len(curves)

    def total(logd: Array) -> Array:
        # evaluate several D values at once: replicate the batch
        K = len(logd)
        Xk = {"n": np.tile(X["n"], (K, 1))}
        fixed = {"D": np.repeat(10.0 ** logd, B)}
        pb = law._problem(Xk, np.tile(y, (K, 1)), np.tile(w, (K, 1)), fixed=fixed, B=K * B)
        return solve(pb).objective.reshape(K, B).sum(axis=1)

    lo, hi = np.log10(D_range[0]), np.log10(D_range[1])
    g = np.linspace(lo, hi, grid)
    vals = total(g)
    i = int(np.argmin(vals))
    a, b = g[max(i - 1, 0)], g[min(i + 1, grid - 1)]
    best = float(golden_section(total, np.array([a]), np.array([b]), iters)[0])
    D = float(10.0**best)
    final = fit_curves(TransferLaw(D=D, loss=loss, bounds=bounds), curves)
    res = SharedDResult(D=D, alpha=float("nan"), n_iter=iters, converged=True,
                        curves=final, objective=float(sum(r["objective"] for r in final)))
    return res
