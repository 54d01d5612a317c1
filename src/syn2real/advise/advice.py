"""What the advisor returns (:class:`Advice`, :class:`NextRun`) and what every engine
shares: the question's checks, number formatting, JSON output and the one-sentence
"what to do" of a verdict (:func:`todo_sentence`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..atomic import json_safe


def check_question(target: float, budget: float | None) -> None:
    """A target must be a positive error and a budget a positive number of images."""
    if not np.isfinite(target) or target <= 0:
        raise ValueError(f"target must be a positive error, got {target}")
    if budget is not None and not (np.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be a positive, finite number of images, got {budget} "
                         "(leave it out for no budget: the advisor then looks up to 1000x the "
                         "largest run)")


#: below this chance of settling the question, no next run is named as decisive
NO_DECISIVE_RUN = 0.1


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


#: what a practitioner does on each scenario: the verdict a stability check compares
ACTIONS = {"reached": "done", "reachable": "render more", "floor": "change the rendering",
           "infeasible": "change the rendering", "undecided": "undecided"}


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
    baseline: float = float("nan")

    @property
    def action(self) -> str:
        """The scenario as what to do (:data:`ACTIONS`): ``done``, ``render more``,
        ``change the rendering`` or ``undecided``."""
        return ACTIONS.get(self.scenario, self.scenario)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (infinite values as ``None``), with :attr:`action`."""
        return {**json_ready(self), "action": self.action}


def against_baseline(adv: Advice, baseline: float | None) -> Advice:
    """The advice with the no-pre-training error beside it: when no pre-trained run has
    measured better than training from scratch, the verdict says so first (flag
    ``worse_than_scratch``) — whatever the law extrapolates, synthetic pre-training has so
    far cost accuracy."""
    if baseline is None or not np.isfinite(baseline):
        return adv
    if not np.isfinite(adv.err_best) or adv.err_best < baseline:
        return replace(adv, baseline=float(baseline))
    lead = (f"Synthetic pre-training has so far measured worse than none: the best "
            f"pre-trained error is {adv.err_best:.3g}, training from scratch (n = 0) gives "
            f"{baseline:.3g}")
    lead += (", which already meets the target. " if baseline <= adv.target else
             "; more of these renders is a bet against that. ")
    return replace(adv, verdict=lead + adv.verdict, baseline=float(baseline),
                   flags=[*adv.flags, "worse_than_scratch"])


def json_ready(obj: Any) -> dict[str, Any]:
    """A dataclass as a dict, tuples as lists and non-finite floats as ``None``."""
    return json_safe(asdict(obj))


def fmt_n(n: float) -> str:
    """A number of images as people write it (1,000 / 256,000 / 1e+07, ∞)."""
    if not np.isfinite(n):
        return "∞"
    if n >= 1e7:
        return f"{n:.2g}"
    return f"{round(n, -2 if n >= 1e4 else 0):,.0f}"


def todo_sentence(advice: Any, target: float) -> str:
    """What to do, in one sentence, from one curve's advice (an ``Advice`` or its
    ``to_dict()``: the run's JSON)."""
    a = advice.to_dict() if hasattr(advice, "to_dict") else advice
    p = f"P(reach) {a['p_reach']:.0%}"
    if a["scenario"] == "reached":
        return f"error {target:g} is already reached: nothing to render."
    if a["scenario"] == "reachable":
        n_star = a["n_star"] if a["n_star"] is not None else float("inf")
        return (f"render more: about n = {fmt_n(n_star)} synthetic images reach error "
                f"{target:g} ({p}).")
    if a["scenario"] == "floor" and "rising" in (a.get("flags") or []):
        return ("change the rendering (or the model): more images of this kind made the error "
                "worse.")
    if a["scenario"] == "floor":
        return (f"change the rendering (or the model): more images of this kind will not reach "
                f"error {target:g} ({p}).")
    if a["scenario"] == "infeasible":
        return f"not within the budget at this rate: change the rendering to raise it ({p})."
    nxt = a.get("next_run")
    if not nxt:
        how = "measure more sizes"
    elif nxt["p_decide"] < NO_DECISIVE_RUN:
        how = (f"no single run up to the budget is likely to settle it (n = "
               f"{fmt_n(nxt['n'])} decides with {nxt['p_decide']:.0%} probability): more "
               "runs per size would narrow the noise")
    else:
        how = (f"run n = {fmt_n(nxt['n'])} next, it decides with {nxt['p_decide']:.0%} "
               "probability")
    return f"not settled yet ({p}): {how}."
