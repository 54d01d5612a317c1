"""Verdicts from the predictive distribution: reached, render more, change the rendering,
infeasible within the budget, or undecided with the run that would settle it.

``p_reach`` is the probability that the runs of rendering more (doublings of the largest
run up to the budget, :func:`schedule`) measure an error at or below the target, from
:class:`syn2real.law.CurvePredictor` (members averaged by their own leave-future-out
back-tests, spread calibrated on them and on a corpus prior). The verdict:

==============  ==================================================================
``reached``     a *measured* error is already at or below the target
``reachable``   ``p_reach >= confidence``: render more; n* (predictive median) and its
                90% interval
``floor``       ``p_reach <= 1 - confidence`` and reaching it at any practical size
                (1000x the budget) is as unlikely, or the measured error rises with n
                (the predictor's ``rising`` flag) and, if the rise goes on, the target is
                as unlikely (:func:`p_if_rising`, then the verdict's ``p_reach``): change
                the rendering
``infeasible``  ``p_reach <= 1 - confidence`` but a larger size might: n* beyond the
                budget ("not within any practical budget" past 1000x)
``undecided``   otherwise, or fewer than four sizes: the next run is the size whose
                measurement most lowers the chance of a wrong call per unit of compute
==============  ==================================================================

The next run is found by pre-posterior simulation: for each candidate size (doublings of
the largest run up to the budget) the measurement is drawn at stratified quantiles of its
predictive distribution, the predictor is refitted on each augmented curve (all of them in
one vectorised batch) and the new ``p_reach`` computed. ``p_decide`` is the share of draws
after which the verdict is decided.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from ..law import TransferLaw
from ..law.predictive import (
    PRACTICAL_FACTOR,
    CurvePredictor,
    crossings_many,
    fit_predictors,
    p_reach_many,
    p_reach_refitted,
    prime_quantiles,
)
from ..law.uncertainty import PROFILE_CURVES_MAX, PROFILE_POINTS_MAX
from .advice import NO_DECISIVE_RUN, Advice, NextRun, check_question, fmt_n
from .legacy import advise_legacy

N_DRAWS = 8
#: "not handed in" (None is a valid next run: no size left to try)
_UNSET: Any = object()
MAX_CANDIDATES = 5


def _predictor_of(curve: Any, kind: str | None = None
                  ) -> tuple[CurvePredictor, TransferLaw | None]:
    if isinstance(curve, CurvePredictor):
        curve.check_is_fitted()
        if kind is not None and kind != curve.kind_:
            raise ValueError(f"kind={kind!r} differs from the predictor's own kind "
                             f"{curve.kind_!r}: fit the predictor with kind={kind!r}")
        return curve, None
    if isinstance(curve, TransferLaw):
        curve.check_is_fitted()
        return CurvePredictor().fit(curve.X_["n"], curve.y_, curve.w_,
                                    kind=kind or "runs"), curve
    if isinstance(curve, tuple | list) and len(curve) in (2, 3):
        return CurvePredictor().fit(*curve, kind=kind or "runs"), None
    raise TypeError("advise() takes a fitted TransferLaw, a fitted CurvePredictor or an "
                    f"(n, err[, weights]) tuple, got {type(curve).__name__}")


def _check(target: float, budget: float | None, confidence: float) -> None:
    check_question(target, budget)
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence}")


def schedule(n_max: float, budget: float) -> np.ndarray:
    """The runs a user who renders more would do: doublings of the largest run, the budget."""
    k = int(np.floor(np.log2(budget / n_max) + 1e-9)) if budget > n_max else 0
    runs = n_max * 2.0 ** np.arange(1, k + 1)
    return np.append(runs[runs < budget * (1 - 1e-9)], budget)


def _candidates(n_max: float, budget: float) -> np.ndarray:
    """The schedule's runs, thinned to at most MAX_CANDIDATES (log-spaced, budget kept)."""
    if budget <= n_max:
        return np.array([])
    cand = schedule(n_max, budget)
    if len(cand) > MAX_CANDIDATES:
        idx = np.unique(np.round(np.linspace(0, len(cand) - 1, MAX_CANDIDATES)).astype(int))
        cand = cand[idx]
    return cand


def p_if_rising(pred: CurvePredictor, target: float, budget: float) -> float:
    """P(a run of the schedule measures <= ``target``) if the curve's rise goes on.

    The rise is the predictor's log-log line through the last three octaves (the one its
    ``rising`` flag tests); each scheduled run is that line plus the measured noise, with
    the line's slope uncertain by its standard error from that noise. The smallest scheduled
    run is the likeliest to reach a target on a rising curve; the runs share the slope.
    """
    n = pred.n_
    u = np.log(n / n[0])
    sel = u >= u[-1] - 3 * np.log(2.0) - 1e-12
    if sel.sum() < 3:
        sel = np.arange(len(n)) >= len(n) - 3
    x = u[sel]
    slope, icpt = pred.rise_line_
    noise = max(float(pred.noise_), 1e-6)
    se = noise / np.sqrt(max(float(np.sum((x - x.mean()) ** 2)), 1e-12))
    runs = schedule(float(n[-1]), budget)
    d = np.log(runs / n[0]) - x.mean()
    mean = icpt + slope * np.log(runs / n[0])
    z = stats.t.ppf((np.arange(64) + 0.5) / 64, max(int(sel.sum()) - 2, 1))[:, None]
    p_each = stats.norm.cdf((np.log(target) - mean[None, :] - z * se * d[None, :]) / noise)
    return float(1.0 - np.prod(1.0 - p_each, axis=1).mean())


def next_run(pred: CurvePredictor, target: float, budget: float, *, confidence: float = 0.9,
             n_draws: int = N_DRAWS) -> NextRun | None:
    """The size whose measurement best settles "is ``target`` reached within ``budget``?".

    Parameters
    ----------
    pred : CurvePredictor
        Fitted on the runs so far.
    target, budget : float
        The question.
    confidence : float
        Threshold of a decided verdict.
    n_draws : int
        Simulated measurements per candidate (stratified quantiles).

    Returns
    -------
    NextRun or None
        ``None`` when no size between the largest run and the budget exists.
    """
    return next_runs([pred], [target], [budget], confidence=confidence, n_draws=n_draws)[0]


def next_runs(preds: list[CurvePredictor], targets: Any, budgets: Any, *,
              confidence: float = 0.9, n_draws: int = N_DRAWS,
              p0: Any = None) -> list[NextRun | None]:
    """:func:`next_run` of many curves, their pre-posterior refits in one batch.

    For each curve, each candidate size between its largest run and the budget gets
    ``n_draws`` simulated measurements (stratified quantiles of its predictive); a draw above
    the target is appended to the curve, which is refitted — every such augmented curve of
    every curve in one :func:`~syn2real.law.predictive.fit_predictors` call, their
    ``p_reach`` in one :func:`~syn2real.law.predictive.p_reach_many` call. ``p0``: each
    curve's ``p_reach`` now, when the caller has it.
    """
    B = len(preds)
    tg = np.broadcast_to(np.asarray(targets, float), (B,))
    bud = np.broadcast_to(np.asarray(budgets, float), (B,))
    nmax = [float(p.n_[-1]) for p in preds]
    if p0 is None:
        p0 = p_reach_many(preds, tg, bud, [schedule(m, b) for m, b in zip(nmax, bud,
                                                                          strict=True)])
    qs = (np.arange(n_draws) + 0.5) / n_draws
    cands = [_candidates(m, float(b)) for m, b in zip(nmax, bud, strict=True)]
    sizes = [np.repeat(c, n_draws) for c in cands]
    have = [k for k in range(B) if len(cands[k])]
    prime_quantiles([preds[k] for k in have], [sizes[k] for k in have], "observation")
    draws = {k: preds[k].quantile(sizes[k], np.tile(qs, len(cands[k])))
             .reshape(len(cands[k]), n_draws) for k in have}            # (candidates, draws)
    # a draw at or below the target settles it (reached, nc <= budget): only the others
    # need the predictor refitted
    open_ = [(k, i, j) for k in have for i in range(len(cands[k])) for j in range(n_draws)
             if draws[k][i, j] > tg[k]]
    reach: dict[tuple[int, int, int], float] = {}
    by_setup: dict[tuple[int, str, str], list[tuple[int, int, int]]] = {}
    for key in open_:  # curves refitted alike (prior, extrapolator, pool) share a batch
        p = preds[key[0]]
        by_setup.setdefault((id(p.prior), p.extrapolator_, p.pool), []).append(key)
    for keys in by_setup.values():
        p = preds[keys[0][0]]
        got = p_reach_refitted(
            [{"n": np.append(preds[k].n_, cands[k][i]),
              "err": np.append(preds[k].err_, draws[k][i, j]),
              "weights": np.append(preds[k].counts_, 1.0), "kind": preds[k].kind_,
              **({"noise": preds[k].noise_} if "noise:measured" in preds[k].flags_ else {})}
             for k, i, j in keys], [tg[k] for k, _, _ in keys], [bud[k] for k, _, _ in keys],
            [schedule(float(cands[k][i]), float(bud[k])) for k, i, _ in keys],
            prior=p.prior, extrapolator=p.extrapolator_, pool=p.pool)
        reach.update(zip(keys, (float(v) for v in got), strict=True))
    lo, hi = 1 - confidence, confidence
    out: list[NextRun | None] = []
    for k in range(B):
        if not len(cands[k]):
            out.append(None)
            continue
        p_now = float(p0[k])
        rows = []
        for i, nc in enumerate(cands[k]):
            dec, wrong = [], []
            for j in range(n_draws):
                if (k, i, j) not in reach:  # measured at or below the target: reached
                    dec.append(True)
                    wrong.append(0.0)
                    continue
                pr = reach[k, i, j]
                dec.append(pr >= hi or pr <= lo)
                wrong.append(min(pr, 1 - pr))
            cost = float(nc / nmax[k])
            gain = min(p_now, 1 - p_now) - float(np.mean(wrong))
            rows.append({"n": float(nc), "p_decide": float(np.mean(dec)),
                         "p_wrong_after": float(np.mean(wrong)), "cost": cost,
                         "value": gain / cost})
        # the most for its cost among the runs likely enough to settle it (a cheap run that
        # settles nothing is not named while a larger one would)
        pool = [r for r in rows if r["p_decide"] >= NO_DECISIVE_RUN] or rows
        best = max(pool, key=lambda r: (round(r["value"], 12), -r["n"]))
        out.append(NextRun(best["n"], best["p_decide"], float(min(p_now, 1 - p_now)),
                           best["p_wrong_after"], best["cost"], rows))
    return out


def _budgets(pred: CurvePredictor, budget: float | None) -> tuple[float, float]:
    """The budget a verdict is about (1000x the largest run when none is given) and "any
    practical budget" (1000x that)."""
    n_max = float(pred.n_[-1])
    eff = float(budget) if budget is not None else n_max * PRACTICAL_FACTOR
    return eff, max(eff, n_max) * PRACTICAL_FACTOR


def decide(pred: CurvePredictor, target: float, *, budget: float | None = None,
           level: float = 0.9, confidence: float = 0.9, law: TransferLaw | None = None,
           with_next_run: bool = True, wald: bool = False,
           _reach: tuple[float, float] | None = None,
           _cross: tuple[float, float, float] | None = None,
           _next: Any = _UNSET) -> Advice:
    """The verdict for reaching error ``target`` within ``budget`` images.

    Parameters
    ----------
    pred : CurvePredictor
        Fitted predictor of the curve.
    target : float
        Required error L*.
    budget : float, optional
        Most synthetic images one can render (default: 1000x the largest run, "any
        practical budget").
    level : float
        Level of the n* interval.
    confidence : float
        A verdict is decided when ``p_reach >= confidence`` or ``<= 1 - confidence``.
    law : TransferLaw, optional
        A fitted eq. 1 whose α and C (with profile intervals) are reported beside the
        verdict; by default those of the predictor's eq.-1 member.
    with_next_run : bool
        Search the next run of an undecided verdict.
    wald : bool
        Wald intervals for eq. 1's α and C (flag ``intervals:wald``) instead of profile
        likelihood (taken anyway above :data:`PROFILE_POINTS_MAX` points).
    """
    _check(target, budget, confidence)
    pred.check_is_fitted()
    n, err = pred.n_, pred.err_
    n_max = float(n[-1])
    eff_budget, practical = _budgets(pred, budget)
    pct = int(round(level * 100))
    q = (1 - level) / 2
    if _reach is None:  # advise_many hands them in, computed for every curve in one batch
        p_reach = pred.p_reach(target, eff_budget, at=schedule(n_max, eff_budget))
        p_any = pred.p_reach(target, practical, at=schedule(n_max, practical))
    else:
        p_reach, p_any = _reach
    if _cross is None:  # advise_many hands them in, found for every curve in one batch
        _cross = tuple(crossings_many([pred], [target], [0.5, q, 1 - q], [practical * 10])[0])
    n_star, n_ci = _cross[0], (_cross[1], _cross[2])
    err_best = float(err.min())
    med_now = float(pred.predict([n_max])[0])
    lo2, hi2 = pred.predict_interval([2 * n_max], level, kind="mean")
    gain = med_now - float(pred.predict([2 * n_max])[0])
    gain_ci = (med_now - float(hi2[0]), med_now - float(lo2[0]))
    wald_ci = False
    if law is not None and law.dof_ > 0:
        C, a = law.params_["C"], law.params_["alpha"]
        # cached: the fit table asked for the same intervals; a profile refits every point
        # many times, so a long curve (per-step logs) gets Wald intervals, flagged
        wald_ci = wald or len(law.y_) > PROFILE_POINTS_MAX
        ci = law.conf_int(level, method="wald" if wald_ci else "profile")
        C_ci, a_ci = ci.get("C", (C, C)), ci.get("alpha", (a, a))
        p_floor = (law.confidence_probability("C", target,
                                              method="wald" if wald_ci else "profile")
                   if "C" in law.free_params else float(C >= target))
    else:  # eq. 1 as the predictor's member fitted it; p_floor from the predictive
        a, C = pred.transfer_["alpha"], pred.transfer_["C"]
        C_ci = a_ci = (float("nan"), float("nan"))
        p_floor = 1.0 - p_any
    flags = list(pred.flags_) + (["intervals:wald"] if wald_ci else [])
    notes = _flag_notes(flags)
    budget_txt = (f"within the budget of {fmt_n(eff_budget)}" if budget is not None
                  else f"within {fmt_n(eff_budget)} images (1000x the largest run)")
    ci_txt = f"{pct}% interval {fmt_n(n_ci[0])}–{fmt_n(n_ci[1])}"
    nxt = None
    few = len(n) < 4
    hit = (err <= target) & (n <= eff_budget * (1 + 1e-12))
    if hit.any():
        scenario = "reached"
        i = int(np.argmax(hit))
        p_reach = 1.0
        notes = ""
        verdict = (f"Already there: the error measured at n = {fmt_n(float(n[i]))} is "
                   f"{float(err[i]):.4g} ≤ target {target:.4g}.")
    elif (not few and "rising" in flags
          and (p_rise := p_if_rising(pred, target, eff_budget)) <= 1 - confidence):
        scenario = "floor"
        i0 = int(np.argmin(err))
        per_doubling = 2.0 ** pred.rise_line_[0] - 1.0  # the 3-octave line, kept rising
        p_model, p_reach = p_reach, p_rise
        against = ("the measured noise of its points (replicates)"
                   if "noise:measured" in flags else "the curve's own scatter")
        verdict = (f"Change the rendering (3D models, lights, textures, backgrounds) or the "
                   f"model: more synthetic data makes it worse. The error rises with n, from "
                   f"{float(err[i0]):.4g} at n = {fmt_n(float(n[i0]))} to "
                   f"{float(err[-1]):.4g} at n = {fmt_n(n_max)}: {per_doubling:+.0%} per "
                   f"doubling over the last three octaves, t = {pred.rise_t_:.1f} against "
                   f"{against}; target {target:.4g}. If the rise goes on, P(reached "
                   f"{budget_txt}) = {p_reach:.0%}; the curve-shape model, which does not "
                   f"carry a rise on, would give {p_model:.0%}.")
    elif not few and p_reach >= confidence:
        scenario = "reachable"
        if n_star <= n_max * 1.01:
            how = (f"the target is within the noise of the largest run (n = {fmt_n(n_max)} "
                   f"measures {float(err[-1]):.4g}): a run at n = {fmt_n(2 * n_max)} "
                   "should get there")
        else:
            how = (f"n* ≈ {fmt_n(n_star)} synthetic images reach error {target:.4g} "
                   f"({ci_txt})")
        verdict = (f"Render more: {how}; P(reached {budget_txt}) = {p_reach:.0%}. "
                   f"Now n = {fmt_n(n_max)} measures {float(err[-1]):.4g}; doubling n "
                   f"lowers the error by about {gain:.2g}.")
    elif not few and p_reach <= 1 - confidence and p_any <= 1 - confidence:
        scenario = "floor"
        verdict = (f"Change the rendering (3D models, lights, textures, backgrounds) or the "
                   f"model: more synthetic data will not get there. P(reached {budget_txt}) "
                   f"= {p_reach:.0%}, and {p_any:.0%} even at {fmt_n(practical)} images; "
                   f"the curve levels off near {float(pred.predict([practical])[0]):.4g} "
                   f"(target {target:.4g}).")
    elif not few and p_reach <= 1 - confidence:
        scenario = "infeasible"
        where = (f"not within any practical budget either (n* beyond {fmt_n(practical)})"
                 if n_star > practical else f"reachable only at n* ≈ {fmt_n(n_star)} "
                 f"({ci_txt})")
        verdict = (f"Not {budget_txt} (P = {p_reach:.0%}); {where}. The rate is "
                   "too low for the budget: change the rendering to raise it, or accept a "
                   "higher error.")
    else:
        scenario = "undecided"
        why = ("too few points to decide (fewer than four sizes)" if few
               else f"P(reached {budget_txt}) = {p_reach:.0%}")
        verdict = f"Undecided: {why}."
        if with_next_run:  # advise_many hands it in, searched for every curve in one batch
            nxt = (next_run(pred, target, eff_budget, confidence=confidence)
                   if _next is _UNSET else _next)
        sure = (max(nxt.candidates, key=lambda c: (round(c["p_decide"], 9), -c["n"]))
                if nxt is not None else None)
        if nxt is not None and sure["p_decide"] < NO_DECISIVE_RUN:
            verdict += (f" No single run up to the budget is likely to settle it (the best, "
                        f"n = {fmt_n(sure['n'])}, decides with {sure['p_decide']:.0%} "
                        "probability): more runs per size would narrow the noise.")
        elif nxt is not None:
            verdict += (f" Run n = {fmt_n(nxt.n)} next: it decides with "
                        f"{nxt.p_decide:.0%} probability")
            if sure["n"] != nxt.n and sure["p_decide"] > nxt.p_decide + 0.1:
                verdict += (f" (the most for its cost; n = {fmt_n(sure['n'])} decides with "
                            f"{sure['p_decide']:.0%})")
            verdict += "."
    if notes:
        verdict += " " + notes
    return Advice(scenario, verdict, float(target), float(level), float(n_star),
                  (float(n_ci[0]), float(n_ci[1])), float(p_floor), float(C),
                  (float(C_ci[0]), float(C_ci[1])), float(a),
                  (float(a_ci[0]), float(a_ci[1])), n_max, med_now, float(gain),
                  (float(gain_ci[0]), float(gain_ci[1])), budget, p_reach=float(p_reach),
                  method="predictive", err_best=err_best, confidence=float(confidence),
                  next_run=nxt, flags=flags)


def _flag_notes(flags: list[str]) -> str:
    txt = {"transfer:C_at_best_error": "Eq. 1 puts the floor C at the best measured error "
                                       "(a plateau; its bound, not the data, sets it).",
           "transfer:C_at_zero": "Eq. 1 resolves no floor (C at its bound 0: a pure power "
                                 "law), so the floor is not identified.",
           "transfer:alpha_at_bound": "Eq. 1's rate α sits at a bound: α is not identified "
                                      "by these points.",
           "no_backtest": "No back-test was possible on so few points: the spread is the "
                          "corpus prior's.",
           "checkpoints": "The sizes are checkpoints of one training run: a learning-rate "
                          "schedule can bend the rest of the curve either way, so the "
                          "extrapolation's rate is taken as uncertain by its own size."}
    parts = [txt[f] for f in flags if f in txt]
    if any(f.startswith("transfer:") for f in flags):
        parts.append("The intervals are widened for it.")
    return " ".join(parts)


def advise(curve: Any, target: float, *, budget: float | None = None, level: float = 0.9,
           confidence: float = 0.9, method: str = "predictive", n_boot: int = 400,
           seed: int = 0, with_next_run: bool = True, kind: str | None = None) -> Advice:
    """Should you render more images or change how you render them?

    Parameters
    ----------
    curve : TransferLaw, CurvePredictor or (n, err[, weights])
        A fitted eq. 1 (its data are used, and its α and C reported), a fitted predictor, or
        the measurements.
    target : float
        Required error L*.
    budget : float, optional
        Most synthetic images one can render.
    level : float
        Interval level.
    confidence : float
        Threshold of a decided verdict (predictive method).
    method : {"predictive", "legacy"}
        ``legacy`` is the advisor of commit a633873 (profile-likelihood of eq. 1 alone).
    n_boot, seed : int
        Legacy method: bootstrap replicates and seed.
    with_next_run : bool
        Search the next run when undecided.
    kind : {"runs", "checkpoints"}, optional
        What the sizes are (default: runs, or the predictor's own kind): separate trainings
        per size, or evaluations along one training run (wider, humbler extrapolation).
    """
    if method == "legacy":
        if not isinstance(curve, TransferLaw):
            raise TypeError("method='legacy' needs a fitted TransferLaw")
        return advise_legacy(curve, target, budget=budget, level=level, n_boot=n_boot,
                             seed=seed)
    if method != "predictive":
        raise ValueError(f"method must be 'predictive' or 'legacy', got {method!r}")
    pred, law = _predictor_of(curve, kind)
    return decide(pred, target, budget=budget, level=level, confidence=confidence, law=law,
                  with_next_run=with_next_run)


def advise_many(curves: list[dict[str, Any]], targets: Any, *, budgets: Any = None,
                level: float = 0.9, confidence: float = 0.9, laws: list[Any] | None = None,
                with_next_run: bool = True,
                predictors: list[CurvePredictor] | None = None) -> list[Advice]:
    """Advice for many curves, their predictors fitted in one vectorised batch.

    Parameters
    ----------
    curves : list of dict
        ``{"n": ..., "err": ..., ["weights": ...]}`` per curve.
    targets, budgets : float or sequence
        One per curve (or one for all); ``budgets`` entries may be ``None``.
    laws : list of TransferLaw or None, optional
        Fitted eq. 1 per curve, reported beside the verdict.
    predictors : list of CurvePredictor, optional
        The curves' predictors when the caller has fitted them already.

    Notes
    -----
    What every verdict needs from the network — ``p_reach`` within the budget and at any
    practical size, n* and its interval (:func:`~syn2real.law.predictive.crossings_many`),
    the gain of doubling n — is evaluated for all curves at once (in chunks, on every core),
    and the undecided curves' next-run searches refit their augmented curves in one batch
    (:func:`next_runs`); each verdict is the one :func:`decide` gives for its curve alone, up
    to the float32 rounding of the network (probabilities within ~1e-6). Above
    :data:`~syn2real.law.uncertainty.PROFILE_CURVES_MAX` curves eq. 1's α and C get Wald
    intervals (flag ``intervals:wald``), as ``syn2real fit`` does, and the confidence that
    C is above the target is the Wald one too (no refit per curve).
    """
    preds = predictors if predictors is not None else fit_predictors(curves)
    B = len(preds)
    tg = np.broadcast_to(np.asarray(targets, float), (B,))
    bud = [budgets] * B if budgets is None or np.ndim(budgets) == 0 else list(budgets)
    bud = [None if b is None else float(b) for b in bud]
    laws = laws or [None] * B
    for t, b in zip(tg, bud, strict=True):
        _check(float(t), b, confidence)
    if B == 0:
        return []
    eff, practical = (np.array(v) for v in zip(*(_budgets(p, b) for p, b in
                                                  zip(preds, bud, strict=True)), strict=True))
    nmax = [float(p.n_[-1]) for p in preds]
    p_reach = p_reach_many(preds, tg, eff, [schedule(m, e) for m, e in zip(nmax, eff,
                                                                          strict=True)])
    p_any = p_reach_many(preds, tg, practical, [schedule(m, e) for m, e in
                                                zip(nmax, practical, strict=True)])
    q = (1 - level) / 2
    cross = crossings_many(preds, tg, [0.5, q, 1 - q], practical * 10)
    # the verdicts' single questions beyond the data (the gain of doubling n, its interval)
    prime_quantiles(preds, [[2.0 * m] for m in nmax], "mean")
    wald = B > PROFILE_CURVES_MAX

    def one(k: int, **kw: Any) -> Advice:
        c = cross[k]
        return decide(preds[k], float(tg[k]), budget=bud[k], level=level,
                      confidence=confidence, law=laws[k], wald=wald,
                      _reach=(float(p_reach[k]), float(p_any[k])),
                      _cross=(float(c[0]), float(c[1]), float(c[2])), **kw)

    out = [one(k, with_next_run=False) for k in range(B)]
    undecided = [k for k, a in enumerate(out) if a.scenario == "undecided"]
    if with_next_run and undecided:  # their next-run searches in one batch
        nxts = next_runs([preds[k] for k in undecided], tg[undecided], eff[undecided],
                         confidence=confidence, p0=p_reach[undecided])
        for k, nxt in zip(undecided, nxts, strict=True):
            out[k] = one(k, with_next_run=True, _next=nxt)
    return out
