"""The end of a study: fit the law per curve, the advisor's verdict, the transfer margin and
the HTML report, all from the results store."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..assess import Assessment
from ..curves import CG_GROUPS, CurveTableError
from .config import StudyConfig
from .plan import build_plan
from .results import export_cg, study_curves, study_rows
from .store import Store


def runs_by_curve(rows: list[dict[str, Any]]
                  ) -> dict[tuple, dict[float, tuple[list[float], list[str]]]]:
    """The fine-tuning runs of :func:`~.results.study_rows` per curve (the
    :data:`~syn2real.curves.CG_GROUPS` values) and size n (0: from scratch): their errors and
    their ``"pseed/fseed"`` labels, in the same order."""
    by_curve: dict[tuple, dict[float, tuple[list[float], list[str]]]] = defaultdict(
        lambda: defaultdict(lambda: ([], [])))
    for r in rows:
        errs, seeds = by_curve[tuple(r[c] for c in CG_GROUPS)][float(r["pretrain.data"])]
        errs.append(1.0 - r["value"])
        seeds.append(str(r["seed"]))
    return by_curve


def transfer_margins(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per curve: from-scratch error vs the error at the largest n (means over seeds).

    ``rows``: :func:`~.results.study_rows` (one per fine-tune, the from-scratch rows copied
    into every curve), grouped into curves by the same columns as the fitted curves.
    ``margin`` = scratch - largest-n error (positive: pre-training helps) with its standard
    error from the seed-to-seed spread (``nan`` with one seed); at the largest n that is the
    spread of the pre-trainings' means where there are two or more
    (:class:`~syn2real.curves.replicates.PointReplicates`), as the fine-tunes of one
    backbone are not independent.
    """
    from ..curves.replicates import PointReplicates

    out = []
    for key, by_n in sorted(runs_by_curve(rows).items(), key=lambda kv: str(kv[0])):
        if 0 not in by_n or len(by_n) < 2:
            continue
        g = dict(zip(CG_GROUPS, key, strict=True))
        n_max = max(by_n)
        a, b = np.array(by_n[0][0]), np.array(by_n[n_max][0])
        rb = PointReplicates.of(b, by_n[n_max][1])
        var_b = (rb.var_means / rb.pretrains if rb.pretrains > 1
                 else b.var(ddof=1) / len(b) if len(b) > 1 else math.nan)
        se = math.sqrt(a.var(ddof=1) / len(a) + var_b) if len(a) > 1 else math.nan
        out.append({"setting": g["pdata"], "ptask": g["ptask"], "ftask": g["ftask"],
                    "dataset": g["fdata"], "fratio": g["fratio"], "model": g["model"],
                    "n_max": n_max, "err_scratch": float(a.mean()),
                    "err_n_max": float(b.mean()), "margin": float(a.mean() - b.mean()),
                    "margin_se": se, "seeds": (len(a), len(b))})
    return out


#: how results name the bundled real data sets ("100 real MNIST digits")
REAL_NOUNS = {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST images",
              "digits": "scikit-learn digits"}


def study_labels(cfg: StudyConfig, curves: list[tuple[dict[str, Any], Any]]) -> list[str]:
    """Curve names as a person says them: ``digit glyphs, front views · ResNet-18 → 100
    real MNIST digits`` (the setting's title from ``render.titles``; the pre-training task,
    the real task and the pre-training pool only where they tell curves apart)."""
    from ..curves import model_name

    groups = [g for g, _ in curves]

    def varies(k: str) -> bool:
        return len({str(g.get(k)) for g in groups}) > 1

    out = []
    for group, g in curves:
        pre = model_name(group["model"]) if "model" in group else ""
        if varies("ptask"):
            pre += f" {group['ptask']}"
        sizes = sorted({int(v) for v in g["s"]}) if "s" in g else []
        fdata = str(group.get("fdata", ""))
        noun = REAL_NOUNS.get(fdata, f"{fdata} images")
        real = (f"{sizes[0]:,} real {noun}" if len(sizes) == 1
                else f"{group.get('fratio')}% of {noun}")
        if group.get("ftask") != "sinclass" or varies("ftask"):
            real += f" ({group.get('ftask')})"
        label = f"{cfg.render.title(str(group.get('pdata')))} · {pre} → {real}"
        if varies("pscale"):
            label += f" (pool {group['pscale']})"
        out.append(label)
    return out


def point_noise(curves: list[tuple[dict[str, Any], Any]], labels: list[str],
                runs: pd.DataFrame, held_out: Collection[float] = ()
                ) -> list[dict[str, Any]]:
    """Per curve and size: the mean error over the runs, its standard error counting the
    spread between pre-trainings, and the two variance components; ``held_out``: the sizes
    kept out of the fit (marked).

    ``runs`` is the curve set's :attr:`~syn2real.curves.CurveSet.runs` (one row per
    fine-tune, ``seed`` = ``"p/f"``); a fitted curve's group names some of its grouping
    columns and gathers every run that has those values. The runs of a point are nested
    (fine-tuning seeds inside pre-training seeds); the relative variances are pooled over the
    curve's pre-trained sizes (:func:`~syn2real.curves.replicates.pooled_noise`; the
    from-scratch point on its own). Keys: ``mean``, ``sd`` (of one run, all runs), ``se`` (of
    the mean), ``sd_pretrain`` and ``sd_finetune`` (the components of one run, absolute at
    that mean; nan where not measured), ``runs``, ``pretrains``, ``held_out``.
    """
    from ..curves.replicates import PointReplicates, pooled_noise

    held = {float(n) for n in held_out}
    out = []
    for (group, _), label in zip(curves, labels, strict=True):
        mine = np.ones(len(runs), bool)
        for col, value in group.items():
            mine &= (runs[col] == value).to_numpy() | (runs[col].isna().to_numpy()
                                                        & bool(pd.isna(value)))
        by_n = {float(n): g for n, g in runs[mine].groupby("n", sort=True)}
        sizes = sorted(by_n)
        reps = {n: PointReplicates.of(by_n[n]["err"].to_numpy(), by_n[n]["seed"].tolist())
                for n in sizes}
        for part in ([n for n in sizes if n == 0], [n for n in sizes if n > 0]):
            if not part:
                continue
            cn = pooled_noise([reps[n] for n in part])
            for n, se in zip(part, cn.se, strict=True):
                e = by_n[n]["err"].to_numpy()
                m = reps[n].mean
                out.append({"label": label, "n": n, "mean": m,
                            "sd": float(e.std(ddof=1)) if len(e) > 1 else math.nan,
                            "se": float(se), "sd_pretrain": m * cn.sd_pretrain,
                            "sd_finetune": m * cn.sd_finetune, "runs": reps[n].runs,
                            "pretrains": reps[n].pretrains, "held_out": n in held})
    return out


@dataclass(frozen=True)
class StudyOutcome:
    """The end of a study: what :func:`finish` found.

    Attributes
    ----------
    csv : str or None
        ``results.csv``, the export of the study's rows.
    assessment : Assessment or None
        Every curve's fit, verdict, held-out checks and measured points
        (:func:`syn2real.assess.assess`); None when no curve could be fitted (see ``notes``).
    target : float or None
        The verdicts' target error (``fit.target``, else 80% of the best error measured).
    margins : list of dict
        Per curve, from-scratch error against the largest n's (:func:`transfer_margins`).
    complexity, knob_effects, model_size
        The analyses the study's settings allow (empty / None otherwise).
    report : str or None
        The HTML report's page.
    notes : list of str
        What the reader and the finish said about the data.
    """

    csv: str | None
    assessment: Assessment | None
    target: float | None
    margins: list[dict[str, Any]] = field(default_factory=list)
    complexity: list[dict[str, Any]] = field(default_factory=list)
    knob_effects: dict[str, Any] | None = None
    model_size: list[dict[str, Any]] | None = None
    report: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``syn2real run --json``): ``csv``, ``fits`` (one per curve),
        ``advice``, ``margins``, ``target``, ``holdout`` (the held-out checks), ``points``
        (mean, sd and standard error per curve and size), the analyses, ``report`` and
        ``notes``; ``grid``: eq. 2's verdicts per setting, where ``fit.s_budget`` asked
        for them."""
        if self.assessment is None:
            return {"csv": self.csv, "fits": [], "advice": [], "margins": self.margins,
                    "target": self.target, "report": None, "notes": self.notes}
        curves = self.assessment.curves
        return {"csv": self.csv, "fits": [c.summary for c in curves],
                "advice": [{"group": c.group, "label": c.label, **c.advice.to_dict()}
                           for c in curves],
                "margins": self.margins, "target": self.target,
                "holdout": [h for c in curves for h in c.holdout],
                "points": [p for c in curves for p in c.points],
                "complexity": self.complexity, "knob_effects": self.knob_effects,
                "model_size": None if self.model_size is None else [
                    {**m, "fit": None if m["fit"] is None else
                     {k: v for k, v in m["fit"].items() if k != "law"}}
                    for m in self.model_size],
                "report": self.report, "notes": self.notes,
                **({"grid": [{**g.to_dict(), "label": g.label}
                             for g in self.assessment.grid]} if self.assessment.grid else {})}


def finish(cfg: StudyConfig, run_dir: str | Path, store: Store, *,
           keys: Collection[str] | None = None, report: bool = True) -> StudyOutcome:
    """Fit the study's law once per curve, advise, write the report and export the CSV.

    The curves come from the store in memory (:func:`~.results.study_curves`) and are
    assessed once (:func:`syn2real.assess.assess`, with the study's law and settings); the
    verdicts, the held-out checks, the model-size study and the report all read that
    assessment. ``results.csv`` is written as the export of the same rows. Only the jobs of
    ``cfg``'s plan count (``keys``: its job keys, as the caller built the plan; rebuilt when
    not given): rows left in the store by an earlier version of the config (e.g. another
    fine-tuning learning rate) stay in the store but are not mixed in.
    """
    from ..assess import AssessSettings, assess

    run_dir = Path(run_dir)
    keys = set(build_plan(cfg, run_dir).jobs if keys is None else keys)
    try:
        rows = study_rows(store, keys)
    except CurveTableError as exc:
        return StudyOutcome(None, None, cfg.fit.target, notes=[f"no law fitted: {exc}"])
    csv_path = export_cg(store, run_dir / "results.csv", keys, rows=rows)
    margins = transfer_margins(rows)
    try:
        cs = study_curves(store, keys, rows=rows)
    except CurveTableError as exc:  # e.g. failed jobs left a curve with fewer than 3 sizes
        return StudyOutcome(str(csv_path), None, cfg.fit.target, margins=margins,
                            notes=[f"no law fitted: {exc}"])
    fc = cfg.fit
    held_rows = None
    if fc.holdout:  # trained, kept out of the fit, predicted from the rest
        import dataclasses

        mask = cs.data["n"].isin([float(n) for n in fc.holdout])
        held_rows = cs.data[mask]
        cs = dataclasses.replace(cs, data=cs.data[~mask].reset_index(drop=True),
                                 notes=[*cs.notes, f"n = {', '.join(map(str, fc.holdout))} "
                                        "held out of the fit (checked against the "
                                        "predictions)"])
    curves = cs.curves()
    labels = study_labels(cfg, curves)
    best = float(cs.data["err"].min())
    target = fc.target if fc.target is not None else 0.8 * best
    notes = list(cs.notes)
    if fc.target is None:
        notes.append(f"no fit.target in the config: the verdict is for 80% of the best error "
                     f"measured ({target:.4g})")
    backtests = 0  # the report's figures back-test the curves they show
    if report:
        from ..report.html import MAX_FIGURE_CURVES

        backtests = MAX_FIGURE_CURVES
    # each curve fitted once, here: the fits, verdicts (the predictive engine, whatever law
    # the table shows), held-out checks and the report all read this assessment
    a = assess(cs, AssessSettings(law=fc.law, D=fc.D if fc.law == "transfer" else None,
                                  loss=fc.loss, level=fc.level, target=target,
                                  budget=fc.budget, s_budget=fc.s_budget,
                                  cost_synthetic=fc.cost_synthetic, cost_real=fc.cost_real,
                                  backtest_curves=backtests,
                                  full_law=report),
               labels=labels, held=held_rows,
               points=point_noise(curves, labels, cs.runs, fc.holdout))
    complexity = complexity_rows(cfg, store, [c.summary for c in a.curves], keys)
    effects = None
    if complexity and len({r["pdata"] for r in complexity}) >= 3:
        from ..analysis.knobs import knob_effects

        effects = knob_effects([r["knob_options"] for r in complexity],
                               {q: [r[q] for r in complexity]
                                for q in ("negative_entropy", "alpha", "C")})
    model_size = None
    if "model" in cs.groups and cs.data["model"].nunique() >= 3:
        from ..analysis import model_size_study
        from ..analysis.modelsize import group_key

        fitted = ({group_key(c.group, cs.groups): c.law for c in a.curves}
                  if fc.law == "transfer" else None)
        model_size = model_size_study(cs, D=fc.D, loss=fc.loss, level=fc.level,
                                      alpha_bounds=None, fitted=fitted)
    page = None
    if report:
        from ..report import build_report

        page = build_report(a, run_dir / "report", model_size=model_size,
                            complexity=complexity, knob_effects=effects)
    return StudyOutcome(str(csv_path), a, target, margins=margins, complexity=complexity,
                        knob_effects=effects, model_size=model_size,
                        report=None if page is None else str(page), notes=notes)


def complexity_rows(cfg: StudyConfig, store: Store, fits: list[dict[str, Any]],
                    keys: Collection[str]) -> list[dict[str, Any]]:
    """Join each rendering setting's negative entropy with the fitted alpha and C of its
    curves (one row per curve)."""
    from ..analysis.knobs import KNOBS

    ent = {r["params"]["setting"]: r["result"] for r in store.rows("complexity")
           if r["key"] in keys}
    rows = []
    for f in fits:
        setting = f["group"].get("pdata")
        if setting not in ent:
            continue
        spec = cfg.render.spec(setting)
        options = {k: getattr(spec, k) for k in KNOBS}
        rows.append({"setting": f["label"], "pdata": setting,
                     "negative_entropy": ent[setting]["negative_entropy"],
                     "estimator": ent[setting]["estimator"], "note": ent[setting]["note"],
                     "alpha": f["alpha"], "alpha_ci": f.get("alpha_ci"),
                     "C": f.get("C", 0.0), "C_ci": f.get("C_ci"), "knob_options": options,
                     "knobs": "/".join(options.values())})
    return rows
