"""Verdicts under the full law: render more, label more real images, change the rendering,
or undecided with the next (n, s) run that would settle it.

A study that measured errors at several synthetic sizes ``n`` *and* real fine-tuning sizes
``s`` can ask more than :func:`syn2real.advise.advise`: with at most ``n_budget`` renders and
``s_budget`` real labels, is the target reached, and which of the two to spend on? The answer
comes from :class:`syn2real.law.grid_predictive.GridPredictor` (eq. 2 with a back-tested
spread):

==============  ==================================================================
``reached``     a *measured* error within the budgets is at or below the target
``reachable``   ``P(reach at (n_budget, s_budget)) >= confidence``; the plan is the
                cheapest (n, s) on the doubling grid whose predictive median reaches it
``floor``       unlikely at the budgets, and as unlikely with 1000x ``n_budget`` renders at
                ``s_budget``: the transfer gap γ is the limit, change the rendering
``infeasible``  unlikely at the budgets, but more renders or labels might
``undecided``   otherwise: the next run is the (n, s) whose measurement most lowers the chance
                of a wrong call per unit of cost (``cost_synthetic·n + cost_real·s``)
==============  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..law.grid_predictive import GridPredictor, fit_grid_predictors
from ..law.predictive import PRACTICAL_FACTOR
from .advice import NextRun, check_question, fmt_n, json_ready

N_DRAWS = 8
#: Grid of the pre-posterior refits (per non-linear parameter; the first fit uses the
#: solver's default).
REFIT_GRID = 16


@dataclass
class GridNextRun(NextRun):
    """The (n, s) measurement that would best settle an undecided verdict (the fields of
    :class:`~syn2real.advise.advice.NextRun` and the real fine-tuning size ``s``)."""

    s: float = float("nan")


@dataclass
class GridAdvice:
    """The full-law advisor's answer for one grid of (n, s) measurements."""

    scenario: str
    verdict: str
    target: float
    n_budget: float
    s_budget: float
    p_reach: float
    p_render: float
    p_label: float
    p_any: float
    plan_n: float
    plan_s: float
    n_current: float
    s_current: float
    err_best: float
    confidence: float
    params: dict[str, float]
    next_run: GridNextRun | None = None
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (infinite values as ``None``)."""
        return json_ready(self)


def _axis(v_max: float, budget: float, k: int) -> np.ndarray:
    """The current size, its doublings up to the budget and the budget, thinned to ``k``."""
    steps = int(np.floor(np.log2(budget / v_max) + 1e-9)) if budget > v_max else 0
    vals = v_max * 2.0 ** np.arange(0, steps + 1)
    vals = np.unique(np.append(vals[vals < budget * (1 - 1e-9)], max(budget, v_max)))
    if len(vals) > k:
        vals = vals[np.unique(np.round(np.linspace(0, len(vals) - 1, k)).astype(int))]
    return vals


def _cost(n: float, s: float, cost_synthetic: float, cost_real: float) -> float:
    return cost_synthetic * n + cost_real * s


def _plan(pred: GridPredictor, target: float, ns: np.ndarray, ss: np.ndarray,
          cost_synthetic: float, cost_real: float) -> tuple[float, float]:
    """Cheapest grid point whose predictive median reaches the target (inf, inf if none)."""
    N, S = np.meshgrid(ns, ss, indexing="ij")
    med = pred.predict(N.ravel(), S.ravel())
    cost = cost_synthetic * N.ravel() + cost_real * S.ravel()
    ok = med <= target
    if not ok.any():
        return float("inf"), float("inf")
    i = int(np.argmin(np.where(ok, cost, np.inf)))
    return float(N.ravel()[i]), float(S.ravel()[i])


def grid_next_run(pred: GridPredictor, target: float, n_budget: float, s_budget: float, *,
                  cost_synthetic: float = 1.0, cost_real: float = 1.0,
                  confidence: float = 0.9, n_draws: int = N_DRAWS) -> GridNextRun | None:
    """The (n, s) run whose measurement best settles "is ``target`` reached within the
    budgets?" per unit of cost (pre-posterior simulation, refits in one batch)."""
    n_max, s_max = float(pred.n_.max()), float(pred.s_.max())
    measured = set(zip(pred.n_.tolist(), pred.s_.tolist(), strict=True))
    cand = [(float(a), float(b)) for a in _axis(n_max, n_budget, 4)
            for b in _axis(s_max, s_budget, 3) if (float(a), float(b)) not in measured]
    if not cand:
        return None
    qs = (np.arange(n_draws) + 0.5) / n_draws
    p0 = pred.p_reach(target, n_budget, s_budget)
    draws = [pred.quantile([a] * n_draws, [b] * n_draws, qs) for a, b in cand]
    spread = (pred.kappa_, pred.dof_)
    refits = fit_grid_predictors(
        [{"n": np.append(pred.n_, a), "s": np.append(pred.s_, b),
          "err": np.append(pred.err_, y), "weights": np.append(pred.weights_, 1.0)}
         for (a, b), ys in zip(cand, draws, strict=True) for y in ys],
        prior=pred.prior, spread=[spread] * (len(cand) * n_draws), grid_size=REFIT_GRID)
    base_cost = _cost(n_max, s_max, cost_synthetic, cost_real)
    rows = []
    for i, (a, b) in enumerate(cand):
        dec, wrong = [], []
        for j, y in enumerate(draws[i]):
            if y <= target:  # measured at or below the target within the budgets: reached
                dec.append(True)
                wrong.append(0.0)
                continue
            pr = refits[i * n_draws + j].p_reach(target, n_budget, s_budget)
            dec.append(pr >= confidence or pr <= 1 - confidence)
            wrong.append(min(pr, 1 - pr))
        cost = _cost(a, b, cost_synthetic, cost_real) / base_cost
        gain = min(p0, 1 - p0) - float(np.mean(wrong))
        rows.append({"n": a, "s": b, "p_decide": float(np.mean(dec)),
                     "p_wrong_after": float(np.mean(wrong)), "cost": cost,
                     "value": gain / cost})
    best = max(rows, key=lambda r: (round(r["value"], 12), -r["cost"]))
    return GridNextRun(n=best["n"], s=best["s"], p_decide=best["p_decide"],
                       p_wrong_now=float(min(p0, 1 - p0)), p_wrong_after=best["p_wrong_after"],
                       cost=best["cost"], candidates=rows)


def advise_grid(grid: Any, target: float, *, n_budget: float, s_budget: float,
                cost_synthetic: float = 1.0, cost_real: float = 1.0, confidence: float = 0.9,
                with_next_run: bool = True) -> GridAdvice:
    """Render more, label more real images, or change the rendering? (full law, eq. 2)

    Parameters
    ----------
    grid : GridPredictor or (n, s, err[, weights])
        A fitted predictor or the measurements (synthetic size, real fine-tuning size, error).
    target : float
        Required error L*.
    n_budget, s_budget : float
        Most synthetic images one can render and most real images one can label.
    cost_synthetic, cost_real : float
        Cost of one rendered and one labelled real image (any unit; a run at ``(n, s)``
        costs ``cost_synthetic·n + cost_real·s``). Labels usually cost far more than renders:
        say so, the plan and the next run depend on it.
    confidence : float
        A verdict is decided when ``p_reach >= confidence`` or ``<= 1 - confidence``.
    with_next_run : bool
        Search the next run of an undecided verdict.
    """
    check_question(target, n_budget)
    check_question(target, s_budget)
    if not (cost_synthetic > 0 and cost_real > 0):
        raise ValueError("costs must be > 0 (cost per synthetic image and per real label)")
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence}")
    if isinstance(grid, GridPredictor):
        grid.check_is_fitted()
        pred = grid
    elif isinstance(grid, tuple | list) and len(grid) in (3, 4):
        pred = GridPredictor().fit(*grid)
    else:
        raise TypeError("advise_grid() takes a fitted GridPredictor or an (n, s, err[, weights])"
                        f" tuple, got {type(grid).__name__}")
    n, s, err = pred.n_, pred.s_, pred.err_
    n_max, s_max = float(n.max()), float(s.max())
    # the current fine-tuning size: the largest s measured at the largest n
    s_now = float(s[n == n_max].max())
    nb, sb = max(float(n_budget), n_max), max(float(s_budget), s_max)
    p_reach = pred.p_reach(target, nb, sb)
    p_render = pred.p_reach(target, nb, s_now)
    p_label = pred.p_reach(target, n_max, sb)
    p_any = pred.p_reach(target, nb * PRACTICAL_FACTOR, sb)
    ns, ss = _axis(n_max, nb, 12), _axis(s_now, sb, 12)
    plan_n, plan_s = _plan(pred, target, ns, ss, cost_synthetic, cost_real)
    hi, lo = confidence, 1 - confidence
    hit = (err <= target) & (n <= nb * (1 + 1e-12)) & (s <= sb * (1 + 1e-12))
    nxt = None
    budget_txt = f"within {fmt_n(nb)} renders and {fmt_n(sb)} real labels"
    if hit.any():
        scenario = "reached"
        i = int(np.argmin(np.where(hit, cost_synthetic * n + cost_real * s, np.inf)))
        p_reach = 1.0
        verdict = (f"Already there: n = {fmt_n(float(n[i]))}, s = {fmt_n(float(s[i]))} "
                   f"measures {float(err[i]):.4g} ≤ target {target:.4g}.")
    elif p_reach >= hi:
        scenario = "reachable"
        if np.isfinite(plan_n) and plan_s <= s_now * 1.001:
            how = (f"render more: n ≈ {fmt_n(plan_n)} synthetic images at the current "
                   f"s = {fmt_n(s_now)} real ones")
        elif np.isfinite(plan_n) and plan_n <= n_max * 1.001:
            how = (f"label more real images: s ≈ {fmt_n(plan_s)} with the current "
                   f"n = {fmt_n(n_max)} renders")
        elif np.isfinite(plan_n):
            how = (f"render and label more: n ≈ {fmt_n(plan_n)}, s ≈ {fmt_n(plan_s)} is the "
                   "cheapest way")
        else:
            how = "only at the budgets' corner"
        verdict = (f"Reachable {budget_txt} (P = {p_reach:.0%}): {how} (predictive median; "
                   f"P with renders alone {p_render:.0%}, with labels alone {p_label:.0%}).")
    elif p_reach <= lo and p_any <= lo:
        scenario = "floor"
        verdict = (f"Change the rendering: P(reached {budget_txt}) = {p_reach:.0%}, and "
                   f"{p_any:.0%} even with {fmt_n(nb * PRACTICAL_FACTOR)} renders; the "
                   f"transfer gap (γ = {pred.params_['gamma']:.3g}) limits the error to about "
                   f"{float(pred.predict([nb * PRACTICAL_FACTOR], [sb])[0]):.4g} at "
                   f"s = {fmt_n(sb)}.")
    elif p_reach <= lo:
        scenario = "infeasible"
        verdict = (f"Not {budget_txt} (P = {p_reach:.0%}); more renders might get there "
                   f"(P = {p_any:.0%} with {fmt_n(nb * PRACTICAL_FACTOR)}), or more real "
                   "labels.")
    else:
        scenario = "undecided"
        verdict = f"Undecided: P(reached {budget_txt}) = {p_reach:.0%}."
        if with_next_run:
            nxt = grid_next_run(pred, target, nb, sb, cost_synthetic=cost_synthetic,
                                cost_real=cost_real, confidence=confidence)
        if nxt is not None:
            verdict += (f" Run n = {fmt_n(nxt.n)}, s = {fmt_n(nxt.s)} next: it decides with "
                        f"{nxt.p_decide:.0%} probability (the most for its cost).")
    raised = [f"the {what} budget {fmt_n(float(b))} is below the {fmt_n(m)} already "
              f"measured: counted as {fmt_n(m)}" for what, b, m in
              (("synthetic", n_budget, n_max), ("real-label", s_budget, s_max)) if b < m]
    if raised:  # a budget counts every image, those measured included: said, not silent
        verdict += " (" + "; ".join(raised) + ".)"
    if any(f.startswith("at_bound") for f in pred.flags_):
        verdict += (" Eq. 2 has a parameter at a bound (" + ", ".join(
            f.split(":")[1] for f in pred.flags_ if f.startswith("at_bound")) +
            "): it is not identified by these points.")
    return GridAdvice(scenario, verdict, float(target), nb, sb, float(p_reach),
                      float(p_render), float(p_label), float(p_any), plan_n, plan_s, n_max,
                      s_now, float(err.min()), float(confidence), dict(pred.params_), nxt,
                      list(pred.flags_))
