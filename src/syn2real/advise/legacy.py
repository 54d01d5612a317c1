"""The advisor as of commit a633873 (``advise(..., method="legacy")``) and the full-law plan.

Kept for comparison (``benchmarks/bench_decide.py`` scores it as a baseline); the default
engine is :mod:`syn2real.advise.decide`. Scenarios of the paper's Fig. 3:

* ``reached``: the fitted curve is already at or below the target at the largest n.
* ``reachable``: the transfer gap C is below the target; ``n* = (D / (L* - C))^(1/alpha)``
  synthetic images get there (within the budget, when one is given).
* ``floor``: ``C >= L*``: more images cannot help; change the rendering or the model.
* ``infeasible``: reachable in principle, but n* exceeds the budget (alpha too low).

Uncertainty: the interval of n* inverts the profile-likelihood confidence band of the mean
curve (the smallest n where the band's lower / upper edge reaches the target);
``p_floor`` is the profile confidence that ``C >= L*``; the gain from doubling n comes
from a parametric bootstrap of the fit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..law import FullTransferLaw, TransferLaw
from ..law.predictive import first_crossing

Array = np.ndarray
N_MAX_SEARCH = 1e13


@dataclass
class NextRun:
    """The measurement that would best settle an undecided verdict.

    Attributes
    ----------
    n : float
        Size to train and measure next.
    p_decide : float
        Probability that, once measured, the verdict is decided (reached, or
        ``p_reach`` beyond the confidence threshold either way).
    p_wrong_now, p_wrong_after : float
        Probability of a wrong call now (``min(p, 1 - p)``) and expected after the run.
    cost : float
        Its cost relative to the largest run so far (compute grows with ``n``).
    candidates : list of dict
        Every size considered with its ``p_decide`` and ``value`` per unit of cost.
    """

    n: float
    p_decide: float
    p_wrong_now: float
    p_wrong_after: float
    cost: float
    candidates: list[dict[str, float]] = field(default_factory=list)


@dataclass
class Advice:
    """The advisor's answer for one curve and one target error."""

    scenario: str
    verdict: str
    target: float
    level: float
    n_star: float
    n_star_ci: tuple[float, float]
    p_floor: float
    C: float
    C_ci: tuple[float, float]
    alpha: float
    alpha_ci: tuple[float, float]
    n_current: float
    err_current: float
    gain_doubling: float
    gain_doubling_ci: tuple[float, float]
    budget: float | None
    p_reach: float = float("nan")
    method: str = "legacy"
    err_best: float = float("nan")
    confidence: float = float("nan")
    next_run: NextRun | None = None
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (infinite values as ``None``)."""
        return _json_ready(self)


def _json_ready(obj: Any) -> dict[str, Any]:
    """A dataclass as a dict, tuples as lists and non-finite floats as ``None``."""
    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, tuple | list):
            return [clean(x) for x in v]
        if isinstance(v, float) and not np.isfinite(v):
            return None
        return v
    return {k: clean(v) for k, v in asdict(obj).items()}


def _fmt_n(n: float) -> str:
    if not np.isfinite(n):
        return "∞"
    if n >= 1e7:
        return f"{n:.2g}"
    return f"{round(n, -2 if n >= 1e4 else 0):,.0f}"


def advise_legacy(law: TransferLaw, target: float, *, budget: float | None = None,
           level: float = 0.9, n_boot: int = 400, seed: int = 0) -> Advice:
    """The legacy advice for reaching error ``target`` from a fitted :class:`TransferLaw`.

    Parameters
    ----------
    law : TransferLaw
        Fitted law.
    target : float
        Required error L*.
    budget : float, optional
        Most synthetic images one can render; beyond it the target is ``infeasible``.
    level : float
        Confidence level of the intervals.
    n_boot : int
        Bootstrap replicates for the gain from doubling n.
    seed : int
        Seed of the bootstrap.
    """
    law._check_fitted()
    if not np.isfinite(target) or target <= 0:
        raise ValueError(f"target must be a positive error, got {target}")
    if budget is not None and not budget > 0:
        raise ValueError(f"budget must be a positive number of images, got {budget}")
    p = law.params_
    D, a, C = p["D"], p["alpha"], p["C"]
    n_cur = float(np.max(law.X_["n"]))
    err_cur = float(law.predict([n_cur])[0])
    n_star = (D / (target - C)) ** (1.0 / a) if target > C and D > 0 else (
        0.0 if target > C else float("inf"))
    # interval of n*: invert the confidence band of the mean curve
    n_min = float(np.min(law.X_["n"]))
    grid = np.geomspace(n_min, N_MAX_SEARCH, 48)
    if law.dof_ > 0:
        lo_band, hi_band = law.predict_interval(grid, level=level, kind="mean")
        n_lo, n_hi = first_crossing(grid, lo_band, target), first_crossing(grid, hi_band, target)
        if np.isfinite(n_star):
            n_lo, n_hi = min(n_lo, n_star), max(n_hi, n_star)
    else:
        n_lo = n_hi = float("nan")
    free = law.free_params
    C_ci = law.profile_interval("C", level) if "C" in free and law.dof_ > 0 else (C, C)
    a_ci = law.profile_interval("alpha", level) if "alpha" in free and law.dof_ > 0 else (a, a)
    p_floor = law.confidence_probability("C", target) if "C" in free else float(C >= target)
    gain = D * n_cur ** (-a) * (1.0 - 2.0 ** (-a))
    if law.dof_ > 0 and n_boot > 0:
        bs = law.bootstrap(n_boot=n_boot, kind="residual", seed=seed)
        g = bs["D"] * n_cur ** (-bs["alpha"]) * (1.0 - 2.0 ** (-bs["alpha"]))
        q = (1 - level) / 2
        gain_ci = (float(np.quantile(g, q)), float(np.quantile(g, 1 - q)))
    else:
        gain_ci = (float("nan"), float("nan"))
    pct = int(round(level * 100))
    ci_txt = f"{pct}% CI {_fmt_n(n_lo)}–{_fmt_n(n_hi)}"
    c_txt = f"C = {C:.3g} ({pct}% CI {C_ci[0]:.3g}–{C_ci[1]:.3g})"
    if err_cur <= target:
        scenario = "reached"
        verdict = (f"Already there: the fitted error at n = {_fmt_n(n_cur)} is {err_cur:.3g} "
                   f"≤ target {target:.3g}; n* ≈ {_fmt_n(n_star)} ({ci_txt}).")
    elif C >= target:
        scenario = "floor"
        verdict = (f"More synthetic data will not get there: the transfer gap {c_txt} is "
                   f"above the target {target:.3g} (confidence {p_floor:.0%} that C ≥ target). "
                   "Change the rendering (3D models, lights, textures, backgrounds) or use a "
                   "bigger model.")
    elif budget is not None and n_star > budget:
        scenario = "infeasible"
        verdict = (f"Reachable only at n* ≈ {_fmt_n(n_star)} images ({ci_txt}), beyond the "
                   f"budget of {_fmt_n(budget)}: the pre-training rate alpha = {a:.3g} is too "
                   "low. Change the rendering to raise alpha, or accept a higher error.")
    else:
        scenario = "reachable"
        verdict = (f"Render more: about n* ≈ {_fmt_n(n_star)} synthetic images reach error "
                   f"{target:.3g} ({ci_txt}); now n = {_fmt_n(n_cur)} gives {err_cur:.3g}. "
                   f"Doubling n lowers the error by {gain:.2g} ({pct}% CI "
                   f"{gain_ci[0]:.2g}–{gain_ci[1]:.2g}).")
        if not np.isfinite(n_hi):
            verdict += (f" The upper end is unbounded: the floor may lie above the target "
                        f"(confidence {p_floor:.0%} that C ≥ target).")
    # the legacy engine has no P(reach within budget): 1 - p_floor stands in for it
    p_reach = {"reached": 1.0, "infeasible": 0.0}.get(scenario, 1.0 - float(p_floor))
    return Advice(scenario, verdict, float(target), float(level), float(n_star),
                  (float(n_lo), float(n_hi)), float(p_floor), float(C),
                  (float(C_ci[0]), float(C_ci[1])), float(a), (float(a_ci[0]), float(a_ci[1])),
                  n_cur, err_cur, float(gain), gain_ci, budget, p_reach=p_reach,
                  err_best=float(np.min(law.y_)), flags=list(law.flags_))


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
        return _json_ready(self)


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
    law._check_fitted()
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
        verdict = (f"Cheapest way to error {target:.3g}: n ≈ {_fmt_n(n)} synthetic images and "
                   f"s ≈ {_fmt_n(s)} real labels, cost {cost:.4g} ({pct}% CI "
                   f"{cost_ci[0]:.4g}–{cost_ci[1]:.4g}). Fewer than {_fmt_n(s_min)} real "
                   "labels cannot reach it whatever n.")
    else:
        verdict = f"Error {target:.3g} is not reachable under the fitted full law."
    return MixPlan(float(target), float(cost_synthetic), float(cost_real), feasible, n, s, cost,
                   n_ci, s_ci, cost_ci, s_min, verdict)
