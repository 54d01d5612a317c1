"""The one step from learning curves to what they say: :func:`assess`.

Every reader of a curve table — ``syn2real fit``, ``advise`` and ``report``, a study's end
(:func:`syn2real.sweep.finish.finish`) — hands its curves and an :class:`AssessSettings` to
:func:`assess` once and reads the frozen :class:`Assessment` it returns: per curve the fitted
law with its intervals, the predictive distribution, the verdict (against the no-pre-training
baseline), the extrapolation back-test and the held-out checks, and for tables with several
fine-tuning sizes the full law of eq. 2. What is shown (a terminal table, JSON, the HTML
report) is drawn from it and never recomputed, so the same curves give the same numbers in
every output.

The errors stay errors throughout (``err`` in [0, 1], or a loss); nothing here draws or
prints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .advise import GridAdvice, advise_grid, advise_legacy, advise_many, against_baseline
from .advise.advice import Advice
from .atomic import json_safe
from .curves import CurveSet, baseline_error, curve_arrays, curve_label, curve_labels
from .curves.read import CurveTableError
from .law import (
    LAWS,
    BaseLaw,
    CurvePredictor,
    FullTransferLaw,
    PowerLaw,
    TransferLaw,
    fit_estimators,
    fit_predictors,
    joint_shared_D,
    shared_D_iterated,
)
from .law.predictive import KINDS
from .law.shared import SharedDResult
from .law.uncertainty import PROFILE_CURVES_MAX, PROFILE_POINTS_MAX

INTERVALS = ("auto", "profile", "wald", "none")


@dataclass(frozen=True)
class AssessSettings:
    """What to fit and what to ask of the curves.

    Attributes
    ----------
    law : str
        A name of :data:`syn2real.law.LAWS` (``transfer``: eq. 1).
    D : float, "shared", "joint" or None
        eq. 1's coefficient: fixed, one value for all curves (the paper's App. D iterated
        medians, or joint least squares), or free per curve (None).
    loss : str
        Fitting loss.
    level : float
        Level of every interval.
    intervals : {"auto", "profile", "wald", "none"}
        The law's parameter intervals; ``auto``: profile likelihood up to
        :data:`~syn2real.law.uncertainty.PROFILE_CURVES_MAX` curves and
        :data:`~syn2real.law.uncertainty.PROFILE_POINTS_MAX` points, Wald above.
    alpha_bounds : (float, float), optional
        Bounds of α.
    target : float, optional
        The error to reach; with it every curve gets a verdict.
    budget : float, optional
        The most synthetic images one can render.
    confidence : float
        A verdict is decided when P(reach) is at least this, or at most 1 minus it.
    curve_kind : str
        ``runs`` (one training per n) or ``checkpoints`` (:data:`syn2real.law.predictive.KINDS`).
    method : {"predictive", "legacy"}
        The advisor: the predictive engine, or the eq.-1-only advisor of earlier versions.
    baseline : float, optional
        The no-pre-training error for every curve, where the table has no ``n = 0`` rows.
    backtest_curves : int
        Back-test the extrapolation (fit the smaller sizes, predict the rest) on the first
        this many curves (the report's figures).
    cutoff : float, optional
        Back-test split: fit n < cutoff (default: all but the two largest sizes).
    full_law : bool
        Also fit eq. 2, L(n, s), per setting with at least 3 fine-tuning sizes.
    s_budget : float, optional
        The most real images one can label: with a target and ``budget`` every setting's
        (n, s) grid gets eq. 2's verdict — render more, label more, or change the rendering,
        and the next (n, s) run (:func:`syn2real.advise.advise_grid`).
    cost_synthetic, cost_real : float
        The cost of one synthetic and one real labelled image (the next (n, s) run's value
        per cost).
    per_curve : bool
        With a target, also give every n-only curve (one fine-tuning size) its verdict;
        ``advise --s-budget`` asks for the grid's alone.
    """

    law: str = "transfer"
    D: float | str | None = None
    loss: str = "linear"
    level: float = 0.9
    intervals: str = "auto"
    alpha_bounds: tuple[float, float] | None = None
    target: float | None = None
    budget: float | None = None
    confidence: float = 0.9
    curve_kind: str = "runs"
    method: str = "predictive"
    baseline: float | None = None
    backtest_curves: int = 0
    cutoff: float | None = None
    full_law: bool = False
    s_budget: float | None = None
    cost_synthetic: float = 1.0
    cost_real: float = 1.0
    per_curve: bool = True

    def __post_init__(self) -> None:
        if self.law not in LAWS:
            raise ValueError(f"unknown law {self.law!r}; choose one of {list(LAWS)}")
        if self.D is not None and self.law != "transfer":
            raise ValueError("--D applies to the transfer law only")
        if isinstance(self.D, str) and self.D not in ("shared", "joint"):
            raise ValueError(f"D must be a number, 'shared', 'joint' or None, got {self.D!r}")
        if self.intervals not in INTERVALS:
            raise ValueError(f"--intervals must be auto, profile, wald or none, got "
                             f"{self.intervals!r}")
        if self.curve_kind not in KINDS:
            raise ValueError(f"--curve-kind must be one of {', '.join(KINDS)}, got "
                             f"{self.curve_kind!r}")
        if self.method not in ("predictive", "legacy"):
            raise ValueError(f"--method must be predictive or legacy, got {self.method!r}")
        if self.baseline is not None and not (math.isfinite(self.baseline)
                                              and self.baseline >= 0):
            raise ValueError(f"--baseline must be an error >= 0, got {self.baseline:g}")
        if self.s_budget is not None and self.budget is None:
            raise ValueError("--s-budget needs --budget too (the most synthetic images you "
                             "can render)")
        for name, cost in (("--cost-synthetic", self.cost_synthetic),
                           ("--cost-real", self.cost_real)):
            if not (math.isfinite(cost) and cost > 0):
                raise ValueError(f"{name} must be a finite cost > 0 per image, got {cost:g}")

    @property
    def two_inputs(self) -> bool:
        """Whether the law is one of (n, s) (a curve of it spans every fine-tuning size)."""
        return "s" in LAWS[self.law].family.inputs


@dataclass(frozen=True)
class CurveResult:
    """What one curve says.

    Attributes
    ----------
    group, label : dict, str
        The curve's grouping values and its name.
    arrays : dict of arrays
        ``n``, ``err``, ``weights`` (runs averaged per point), ``noise`` where replicates
        measured it, ``s`` for a law of two inputs (:func:`syn2real.curves.curve_arrays`).
    law : BaseLaw
        The fitted law.
    summary : dict
        The law's JSON summary (estimates, standard errors, intervals, flags) with
        ``group`` and ``label``: a row of ``syn2real fit --json``.
    ci : dict
        The parameters' intervals (empty without any).
    predictor : CurvePredictor or None
        The predictive distribution (fitted when a verdict or a held-out check needs it).
    advice : Advice or None
        The verdict (with a target).
    baseline : float or None
        The no-pre-training error beside the curve.
    backtest : dict or None
        The extrapolation back-test (:func:`backtest`).
    holdout : tuple of dict
        Held-out sizes: predicted median and interval against the measurement.
    points : tuple of dict
        Measured points with their standard errors (a study's replicates).
    """

    group: dict[str, Any]
    label: str
    arrays: dict[str, Any]
    law: BaseLaw
    summary: dict[str, Any]
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    predictor: CurvePredictor | None = None
    advice: Advice | None = None
    baseline: float | None = None
    backtest: dict[str, Any] | None = None
    holdout: tuple[dict[str, Any], ...] = ()
    points: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the fit, the verdict, the back-test's errors and the checks."""
        out: dict[str, Any] = {"group": self.group, "label": self.label,
                               "fit": self.summary, "baseline": self.baseline}
        if self.advice is not None:
            out["advice"] = self.advice.to_dict()
        if self.backtest is not None:
            out["backtest"] = {k: self.backtest[k] for k in
                               ("rmse_predictive", "rmse_law", "rmse_power", "covered")}
        if self.holdout:
            out["holdout"] = [{k: v for k, v in h.items() if k != "group"}
                              for h in self.holdout]
        if self.points:
            out["points"] = list(self.points)
        return out


@dataclass(frozen=True)
class FullLawResult:
    """eq. 2 fitted to one setting's (n, s) grid."""

    group: dict[str, Any]
    label: str
    n: np.ndarray
    s: np.ndarray
    err: np.ndarray
    law: FullTransferLaw


@dataclass(frozen=True)
class GridResult:
    """eq. 2's verdict for one setting's (n, s) grid (``AssessSettings.s_budget``)."""

    group: dict[str, Any]
    label: str
    advice: GridAdvice

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the group and the advice (``advise --s-budget --json``'s row)."""
        return {"group": self.group, "advice": self.advice.to_dict()}


@dataclass(frozen=True)
class Assessment:
    """What a table of learning curves says, curve by curve (:func:`assess`).

    Attributes
    ----------
    source, schema, metric : str
        Where the curves came from, the table's schema and ``error`` or ``loss``.
    settings : AssessSettings
        What was asked.
    curves : tuple of CurveResult
        One per curve, in the table's order.
    interval_method : {"profile", "wald", "none"}
        How the parameters' intervals were computed.
    D : float or None
        eq. 1's D where one value was used for every curve (fixed or shared).
    shared : SharedDResult or None
        The shared-D procedure's outcome (``D`` = ``"shared"`` / ``"joint"``).
    full : tuple of FullLawResult
        eq. 2 per setting (``full_law``).
    grid : tuple of GridResult
        eq. 2's verdict per setting (``s_budget``).
    notes : tuple of str
        What the reader and the assessment said about the data.
    """

    source: str
    schema: str
    metric: str
    settings: AssessSettings
    curves: tuple[CurveResult, ...]
    interval_method: str
    D: float | None = None
    shared: SharedDResult | None = None
    full: tuple[FullLawResult, ...] = ()
    grid: tuple[GridResult, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def target(self) -> float | None:
        """The target error of the verdicts (None: no verdicts)."""
        return self.settings.target

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary of every curve (fit, verdict, back-test, checks)."""
        s = self.settings
        out: dict[str, Any] = {"source": self.source, "law": s.law, "loss": s.loss,
                               "level": s.level, "intervals": self.interval_method,
                               "target": s.target, "budget": s.budget,
                               "curves": [c.to_dict() for c in self.curves],
                               "notes": list(self.notes)}
        if self.shared is not None:
            out["shared_D"] = shared_note(self.shared)
        if self.full:
            out["full_law"] = [{"group": f.group, "label": f.label,
                                **f.law.to_dict(level=s.level, intervals=False)}
                               for f in self.full]
        if self.grid:
            out["grid"] = [{**g.to_dict(), "label": g.label} for g in self.grid]
        return json_safe(out)

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=2)


def shared_note(res: SharedDResult) -> dict[str, Any]:
    """The shared-D outcome as ``syn2real fit --json`` states it."""
    return {"D": res.D, "alpha_median": res.alpha, "iterations": res.n_iter,
            "converged": res.converged, "cycle": res.cycle, "note": res.note}


def interval_method(requested: str, curves: int, points: int) -> str:
    """The intervals ``requested`` (``auto``: profile likelihood up to
    :data:`PROFILE_CURVES_MAX` curves and :data:`PROFILE_POINTS_MAX` points, Wald above)."""
    if requested != "auto":
        return requested
    return "profile" if curves <= PROFILE_CURVES_MAX and points <= PROFILE_POINTS_MAX else "wald"


def law_bounds(settings: AssessSettings, metric: str) -> dict[str, tuple[float, float]]:
    """The law's parameter bounds: C ≥ 0 for a loss (unbounded above) where the law has a
    C, α's if given."""
    has_c = "C" in LAWS[settings.law].family.params
    bounds = {"C": (0.0, math.inf)} if metric == "loss" and has_c else {}
    if settings.alpha_bounds is not None:
        bounds["alpha"] = tuple(settings.alpha_bounds)
    return bounds


def assess(cs: CurveSet, settings: AssessSettings, *, by: Sequence[str] | None = None,
           labels: Sequence[str] | None = None, held: pd.DataFrame | None = None,
           points: Sequence[Mapping[str, Any]] = (),
           on_curve: Callable[[], None] | None = None) -> Assessment:
    """Fit, judge and check every curve of ``cs`` once.

    Parameters
    ----------
    cs : CurveSet
        Validated curves (:func:`syn2real.curves.read_curves`).
    settings : AssessSettings
        What to fit and ask.
    by : sequence of str, optional
        Grouping columns (default: every setting column of ``cs``).
    labels : sequence of str, optional
        One name per curve (default :func:`~syn2real.curves.curve_labels`).
    held : DataFrame, optional
        Rows of ``cs``'s shape trained but kept out of the fit (``n``, ``err``, ``weight``
        and the grouping columns): each is predicted from the curve's fit and checked.
    points : sequence of dict, optional
        Measured points with their standard errors, each with the ``label`` of its curve
        (a study's replicates, :func:`syn2real.sweep.finish.point_noise`).
    on_curve : callable, optional
        Called after each curve's intervals (progress: they are most of the time).

    Returns
    -------
    Assessment
    """
    s = settings
    curves = cs.curves(by)
    if cs.metric == "error":  # errors are fractions: a target or baseline of 1 or more
        for what, v in (("--target", s.target), ("--baseline", s.baseline)):  # is a unit slip
            if v is not None and v >= 1:
                raise CurveTableError(f"{cs.source}: {what} {v:g} is not an error below 1 "
                                      "(the table's errors are fractions in [0, 1]). Fix: give "
                                      "it as a fraction (an error in percent / 100), or pass "
                                      "--metric loss for a loss")
    if s.two_inputs and not cs.has_s:
        raise CurveTableError(f"{cs.source}: law '{s.law}' needs the fine-tuning size s. Fix: "
                              "add an 's' column (or fratio and fdata in the cg-transfer "
                              "schema)")
    if s.s_budget is not None and not cs.has_s:
        raise CurveTableError(f"{cs.source}: --s-budget needs the fine-tuning size s. Fix: add "
                              "an 's' column (or fratio + fdata, or --s-col), or drop --s-budget")
    if labels is None:
        labels = curve_labels([grp for grp, _ in curves])
    elif len(labels) != len(curves):
        raise ValueError(f"{len(labels)} labels for {len(curves)} curves")
    bounds = law_bounds(s, cs.metric)
    kwargs: dict[str, Any] = {"loss": s.loss, "bounds": bounds or None}
    shared = None
    D = s.D
    if isinstance(D, str):
        how = shared_D_iterated if D == "shared" else joint_shared_D
        shared = how([{"n": g["n"].to_numpy(), "err": g["err"].to_numpy()} for _, g in curves],
                     loss=s.loss, bounds=bounds or None)
        D = shared.D
    if s.law == "transfer":
        kwargs["D"] = D
    data = [{**curve_arrays(g, s=s.two_inputs), "kind": s.curve_kind} for _, g in curves]
    laws = fit_estimators(LAWS[s.law](**kwargs), data)  # one vectorised search for all
    method = interval_method(s.intervals, len(curves), sum(len(g) for _, g in curves))
    how_ci = "wald" if method == "wald" else "profile"
    summaries, cis = [], []
    for law, (group, _), label in zip(laws, curves, labels, strict=True):
        # conf_int is cached by the law: the summary's intervals are the same computation
        cis.append(law.conf_int(s.level, how_ci) if method != "none" and law.dof_ > 0 else {})
        summaries.append({**law.to_dict(level=s.level, intervals=method != "none",
                                        method=how_ci), "group": group, "label": label})
        if on_curve is not None:
            on_curve()
    eq1 = not s.two_inputs
    need_pred = eq1 and ((s.target is not None and s.method == "predictive" and s.per_curve)
                         or held is not None)
    preds = fit_predictors(data) if need_pred else [None] * len(curves)
    baselines = [baseline_error(cs, group) if s.baseline is None else s.baseline
                 for group, _ in curves]
    advice: list[Advice | None] = [None] * len(curves)
    if s.target is not None and eq1 and s.per_curve:
        if s.method == "legacy":
            advice = [advise_legacy(law, s.target, budget=s.budget, level=s.level)
                      for law in laws]
        else:
            advice = advise_many(data, s.target, budgets=s.budget, level=s.level,
                                 confidence=s.confidence, predictors=preds,
                                 laws=[law if isinstance(law, TransferLaw) else None
                                       for law in laws])
        advice = [against_baseline(a, b) for a, b in zip(advice, baselines, strict=True)]
    points_of: dict[str, list[Mapping[str, Any]]] = {}
    for p in points:
        points_of.setdefault(p["label"], []).append(p)
    results = []
    for i, ((group, _), label) in enumerate(zip(curves, labels, strict=True)):
        arrays = data[i]
        results.append(CurveResult(
            group=group, label=label, arrays=arrays, law=laws[i], summary=summaries[i],
            ci=cis[i], predictor=preds[i], advice=advice[i], baseline=baselines[i],
            backtest=(backtest(arrays, label, cutoff=s.cutoff, D=D, loss=s.loss,
                               bounds=bounds or None, level=s.level)
                      if eq1 and i < s.backtest_curves else None),
            holdout=tuple(holdout_checks(group, label, preds[i], held, cs.groups, s.level))
            if held is not None and preds[i] is not None else (),
            points=tuple(points_of.get(label, ()))))
    full = tuple(full_laws(cs, by, s.loss)) if s.full_law and cs.has_s else ()
    grid = (tuple(grid_verdicts(cs, by, s)) if s.s_budget is not None and s.target is not None
            else ())
    return Assessment(source=cs.source, schema=cs.schema, metric=cs.metric, settings=s,
                      curves=tuple(results), interval_method=method,
                      D=None if D is None else float(D), shared=shared, full=full,
                      grid=grid, notes=tuple(cs.notes))


def setting_columns(cs: CurveSet, by: Sequence[str] | None) -> list[str]:
    """The grouping of eq. 2 (a setting's whole (n, s) grid): ``by`` (default every setting
    column) without the fine-tuning size (``s``, cg-transfer's ``fratio``)."""
    return [c for c in (by or cs.groups) if c not in ("fratio", "s")]


def grid_verdicts(cs: CurveSet, by: Sequence[str] | None, s: AssessSettings
                  ) -> list[GridResult]:
    """eq. 2's verdict per setting: render more, label more, or change the rendering, and
    the next (n, s) run (:func:`syn2real.advise.advise_grid`)."""
    out = []
    for group, g in cs.curves(setting_columns(cs, by)):
        adv = advise_grid((g["n"], g["s"], g["err"], g["weight"]), s.target, n_budget=s.budget,
                          s_budget=s.s_budget, cost_synthetic=s.cost_synthetic,
                          cost_real=s.cost_real, confidence=s.confidence)
        out.append(GridResult(group, curve_label(group), adv))
    return out


def holdout_checks(group: Mapping[str, Any], label: str, pred: CurvePredictor,
                   held: pd.DataFrame, groups: Sequence[str], level: float
                   ) -> list[dict[str, Any]]:
    """The held-out sizes of one curve (the rows of ``held`` that agree with ``group`` on
    ``groups``): the predictive median and ``level`` interval of the error from ``pred``
    (fitted without them) against the mean measured over the runs, and whether it fell
    inside."""
    mine = held
    for k in groups:
        mine = mine[mine[k] == group[k]]
    out = []
    for _, r in mine.sort_values("n").iterrows():
        n = float(r["n"])
        lo, hi = pred.predict_interval([n], level)
        mid = float(pred.predict([n])[0])
        measured = float(r["err"])
        out.append({"label": label, "group": dict(group), "n": n, "predicted": mid,
                    "interval": (float(lo[0]), float(hi[0])), "level": level,
                    "measured": measured, "runs": int(r["weight"]),
                    "inside": bool(lo[0] <= measured <= hi[0])})
    return out


def backtest(arrays: Mapping[str, Any], label: str, *, cutoff: float | None,
             D: float | None, loss: str, bounds: Any, level: float) -> dict[str, Any] | None:
    """The extrapolation back-test of one curve: fit the sizes below the split (with the
    curve's weights), predict the held-out ones with eq. 1, the power law and the predictive
    distribution (None where the curve has too few sizes on either side).

    Returns a dict: ``label``, ``n``, ``err``, ``train`` (mask), the fitted ``law``,
    ``power`` and ``predictive``, their ``rmse_*`` on the held-out sizes, the predictive
    interval ``pi`` over ``pi_n`` (for the figure) and ``covered``, the share of held-out
    points inside it."""
    n, err = np.asarray(arrays["n"]), np.asarray(arrays["err"])
    w = arrays.get("weights")
    sizes = np.unique(n)
    cut = cutoff if cutoff is not None else sizes[-2] if len(sizes) >= 5 else None
    if cut is None:
        return None
    train = n < cut
    if np.unique(n[train]).size < 3 or train.all():
        return None
    n_tr, e_tr = n[train], err[train]
    w_tr = None if w is None else np.asarray(w)[train]
    law = TransferLaw(D=D, loss=loss, bounds=bounds).fit(n_tr, e_tr, weights=w_tr)
    pw = PowerLaw(loss=loss).fit(n_tr, e_tr, weights=w_tr)
    pred = CurvePredictor().fit(n_tr, e_tr, w_tr)
    test = ~train

    def rmse(model: Any) -> float:
        return float(np.sqrt(np.mean((model.predict(n[test]) - err[test]) ** 2)))

    item = {"label": label, "n": n, "err": err, "train": train, "law": law, "power": pw,
            "predictive": pred, "rmse_law": rmse(law), "rmse_power": rmse(pw),
            "rmse_predictive": rmse(pred)}
    pn = np.geomspace(n_tr.max(), n.max() * 2, 24)
    item["pi"] = pred.predict_interval(pn, level=level)
    item["pi_n"] = pn
    lo, hi = pred.predict_interval(n[test], level=level)
    item["covered"] = float(np.mean((err[test] >= lo) & (err[test] <= hi)))
    return item


def full_laws(cs: CurveSet, by: Sequence[str] | None, loss: str) -> list[FullLawResult]:
    """eq. 2 per setting (the grouping without the fine-tuning size) that has at least 3
    fine-tuning sizes."""
    out = []
    for group, g in cs.curves(setting_columns(cs, by)):
        if g["s"].nunique() < 3:
            continue
        n, s, e = (g[c].to_numpy(float) for c in ("n", "s", "err"))
        full = FullTransferLaw(loss=loss).fit(n, s, e, weights=g["weight"].to_numpy())
        out.append(FullLawResult(group, curve_label(group), n, s, e, full))
    return out
