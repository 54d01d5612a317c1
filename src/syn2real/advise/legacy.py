"""The advisor as of commit a633873 (``advise(..., method="legacy")``).

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

import numpy as np

from ..law import TransferLaw
from ..law.predictive import first_crossing
from .advice import Advice, check_question, fmt_n

N_MAX_SEARCH = 1e13


def legacy_call(law: TransferLaw, target: float, budget: float | None
                ) -> tuple[str, float, float, float]:
    """The legacy decision alone (no intervals): scenario, n*, p_floor and the ``p_reach``
    that stands in for it (the legacy engine has none: ``1 - p_floor``, 1 when reached, 0
    when infeasible). Cheap enough for the decision benchmark."""
    p = law.params_
    D, a, C = p["D"], p["alpha"], p["C"]
    n_cur = float(np.max(law.X_["n"]))
    n_star = (D / (target - C)) ** (1.0 / a) if target > C and D > 0 else (
        0.0 if target > C else float("inf"))
    if law.predict([n_cur])[0] <= target:
        scenario = "reached"
    elif C >= target:
        scenario = "floor"
    elif budget is not None and n_star > budget:
        scenario = "infeasible"
    else:
        scenario = "reachable"
    p_floor = (law.confidence_probability("C", target) if "C" in law.free_params
               else float(C >= target))
    p_reach = {"reached": 1.0, "infeasible": 0.0}.get(scenario, 1.0 - p_floor)
    return scenario, float(n_star), float(p_floor), float(p_reach)


def _interval_text(pct: int, lo: float, hi: float, dof: float) -> str:
    """The n* interval in words: never "∞–∞" (no data-driven interval at all)."""
    if dof <= 0 or not (np.isfinite(lo) or np.isfinite(hi)):
        why = ("as many parameters as sizes" if dof <= 0 else
               f"its {pct}% band never reaches the target")
        return f"no {pct}% interval: {why}"
    if not np.isfinite(hi):
        return f"{pct}% CI {fmt_n(lo)} – unbounded"
    return f"{pct}% CI {fmt_n(lo)}–{fmt_n(hi)}"


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
    law.check_is_fitted()
    check_question(target, budget)
    scenario, n_star, p_floor, p_reach = legacy_call(law, target, budget)
    p = law.params_
    D, a, C = p["D"], p["alpha"], p["C"]
    n_cur = float(np.max(law.X_["n"]))
    err_cur = float(law.predict([n_cur])[0])
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
    gain = D * n_cur ** (-a) * (1.0 - 2.0 ** (-a))
    if law.dof_ > 0 and n_boot > 0:
        bs = law.bootstrap(n_boot=n_boot, kind="residual", seed=seed)
        g = bs["D"] * n_cur ** (-bs["alpha"]) * (1.0 - 2.0 ** (-bs["alpha"]))
        q = (1 - level) / 2
        gain_ci = (float(np.quantile(g, q)), float(np.quantile(g, 1 - q)))
    else:
        gain_ci = (float("nan"), float("nan"))
    pct = int(round(level * 100))
    ci_txt = _interval_text(pct, n_lo, n_hi, law.dof_)
    c_txt = (f"C = {C:.3g} ({pct}% CI {C_ci[0]:.3g}–{C_ci[1]:.3g})" if law.dof_ > 0 else
             f"C = {C:.3g} (no {pct}% interval: as many parameters as sizes)")
    sure = (f"confidence {p_floor:.0%} that C ≥ target" if np.isfinite(p_floor) else
            "no confidence can be given: as many parameters as sizes")
    if scenario == "reached":
        verdict = (f"Already there: the fitted error at n = {fmt_n(n_cur)} is {err_cur:.3g} "
                   f"≤ target {target:.3g}; n* ≈ {fmt_n(n_star)} ({ci_txt}).")
    elif scenario == "floor":
        verdict = (f"More synthetic data will not get there: the transfer gap {c_txt} is "
                   f"above the target {target:.3g} ({sure}). "
                   "Change the rendering (3D models, lights, textures, backgrounds) or use a "
                   "bigger model.")
    elif scenario == "infeasible":
        verdict = (f"Reachable only at n* ≈ {fmt_n(n_star)} images ({ci_txt}), beyond the "
                   f"budget of {fmt_n(budget)}: the pre-training rate alpha = {a:.3g} is too "
                   "low. Change the rendering to raise alpha, or accept a higher error.")
    else:
        gain_txt = (f" ({pct}% CI {gain_ci[0]:.2g}–{gain_ci[1]:.2g})"
                    if np.all(np.isfinite(gain_ci)) else "")
        verdict = (f"Render more: about n* ≈ {fmt_n(n_star)} synthetic images reach error "
                   f"{target:.3g} ({ci_txt}); now n = {fmt_n(n_cur)} gives {err_cur:.3g}. "
                   f"Doubling n lowers the error by {gain:.2g}{gain_txt}.")
        if not np.isfinite(n_hi) and np.isfinite(p_floor):
            verdict += (f" The upper end is unbounded: the floor may lie above the target "
                        f"(confidence {p_floor:.0%} that C ≥ target).")
    return Advice(scenario, verdict, float(target), float(level), float(n_star),
                  (float(n_lo), float(n_hi)), float(p_floor), float(C),
                  (float(C_ci[0]), float(C_ci[1])), float(a), (float(a_ci[0]), float(a_ci[1])),
                  n_cur, err_cur, float(gain), gain_ci, budget, p_reach=p_reach,
                  err_best=float(np.min(law.y_)), flags=list(law.flags_))
