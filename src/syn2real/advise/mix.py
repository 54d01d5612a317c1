"""The cost-optimal mix of synthetic images n and real labels s under the full law."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..law import FullTransferLaw
from .advice import fmt_n, json_ready

Array = np.ndarray


@dataclass
class MixPlan:
    """Cheapest (n, s) reaching the target under the full law."""

    target: float
    cost_synthetic: float
    cost_real: float
    feasible: bool
    n: float
    s: float
    cost: float
    n_ci: tuple[float, float]
    s_ci: tuple[float, float]
    cost_ci: tuple[float, float]
    s_min: float
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return json_ready(self)


def _cheapest(params: dict[str, float], target: float, cn: float, cs: float,
              s_cap: float) -> tuple[float, float, float, float]:
    """Minimise cn*n + cs*s s.t. delta (gamma + n^-alpha) s^-beta <= target."""
    a, b = params["alpha"], params["beta"]
    delta, dg = params["delta"], params["delta_gamma"]
    if delta <= 0 or b <= 0:
        return (np.inf, np.inf, np.inf, np.inf)
    gamma = dg / delta
    s_min = (dg / target) ** (1.0 / b) if dg > 0 else 0.0
    lo = max(s_min * (1 + 1e-9), 1e-3)
    s = np.geomspace(lo, max(lo * 1e8, s_cap), 4000)
    room = target * s**b / delta - gamma
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(room > 0, room ** (-1.0 / a), np.inf)
    n = np.maximum(n, 1.0)
    cost = cn * n + cs * s
    i = int(np.argmin(cost))
    return float(n[i]), float(s[i]), float(cost[i]), float(s_min)


def plan_mix(law: FullTransferLaw, target: float, *, cost_synthetic: float, cost_real: float,
             level: float = 0.9, n_boot: int = 300, seed: int = 0) -> MixPlan:
    """Cost-optimal mix of synthetic images n and real labels s reaching ``target``.

    Parameters
    ----------
    law : FullTransferLaw
        Fitted full law.
    target : float
        Required error.
    cost_synthetic, cost_real : float
        Cost of one rendered image and of one labelled real image (any unit).
    level : float
        Interval level (parametric bootstrap of the fit).
    n_boot : int
        Bootstrap replicates.
    seed : int
        Bootstrap seed.
    """
    law.check_is_fitted()
    if not target > 0:
        raise ValueError(f"target must be > 0, got {target}")
    if not (cost_synthetic > 0 and cost_real > 0):
        raise ValueError("costs must be > 0 (cost per synthetic image and per real label)")
    s_cap = 1e3 * float(np.max(law.X_["s"]))
    n, s, cost, s_min = _cheapest(law.params_, target, cost_synthetic, cost_real, s_cap)
    q = (1 - level) / 2
    n_ci = s_ci = cost_ci = (float("nan"), float("nan"))
    if law.dof_ > 0 and n_boot > 0:
        bs = law.bootstrap(n_boot=n_boot, kind="residual", seed=seed)
        sims = np.array([_cheapest({k: float(v[i]) for k, v in bs.items()}, target,
                                   cost_synthetic, cost_real, s_cap) for i in range(n_boot)])

        def ci(x: Array) -> tuple[float, float]:
            return (float(np.quantile(x, q)), float(np.quantile(x, 1 - q)))

        n_ci, s_ci, cost_ci = ci(sims[:, 0]), ci(sims[:, 1]), ci(sims[:, 2])
    feasible = bool(np.isfinite(cost))
    pct = int(round(level * 100))
    if feasible:
        verdict = (f"Cheapest way to error {target:.3g}: n ≈ {fmt_n(n)} synthetic images and "
                   f"s ≈ {fmt_n(s)} real labels, cost {cost:.4g} ({pct}% CI "
                   f"{cost_ci[0]:.4g}–{cost_ci[1]:.4g}). Fewer than {fmt_n(s_min)} real "
                   "labels cannot reach it whatever n.")
    else:
        verdict = f"Error {target:.3g} is not reachable under the fitted full law."
    return MixPlan(float(target), float(cost_synthetic), float(cost_real), feasible, n, s, cost,
                   n_ci, s_ci, cost_ci, s_min, verdict)
