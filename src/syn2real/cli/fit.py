"""The curve commands: ``fit``, ``advise`` and ``report`` (tables of learning curves in)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from ..atomic import json_safe
from ..curves import CurveSet, CurveTableError, curve_label, read_curves
from ..law.uncertainty import PROFILE_CURVES_MAX, PROFILE_POINTS_MAX
from .common import (
    D_DEFAULT,
    LOSS_HELP,
    friendly,
    out,
    parse_D,
    pct,
    progress,
    stderr,
    write_json,
)

#: rows of the terminal table (``--json`` has every curve)
TABLE_MAX = 50


@dataclass(frozen=True)
class TableOptions:
    """How FILE is read: the options ``fit``, ``advise`` and ``report`` share (added to
    each by :func:`table_options`)."""

    select: str = "last"
    metric: str = "error"
    where: list[str] | None = None
    sep: str = ","
    encoding: str = "utf-8-sig"
    n_col: str | None = None
    error_col: str | None = None
    score_col: str | None = None
    s_col: str | None = None
    group_col: list[str] | None = None
    step_col: str | None = None
    n_param: str = "n"
    mlflow_metric: str = "error_last"
    tracking_uri: str | None = None

    def load(self, file: Path) -> CurveSet:
        """The curves of FILE (a CSV, a W&B runs export, ``mlflow:EXPERIMENT`` or
        ``wandb:ENTITY/PROJECT``), notes printed."""
        source: Any = file
        n_col, error_col, score_col = self.n_col, self.error_col, self.score_col
        if str(file).startswith(("mlflow:", "wandb:")):  # a tracker: mlflow:EXP, wandb:E/P
            from ..curves.collect import LOWER_IS_BETTER
            from ..sweep.tracking import mlflow_frame, wandb_frame

            kind, _, name = str(file).partition(":")
            groups = tuple(self.group_col or ())
            source = (mlflow_frame(name, n_param=self.n_param, metric=self.mlflow_metric,
                                   tracking_uri=self.tracking_uri, group_params=groups)
                      if kind == "mlflow" else
                      wandb_frame(name, n_param=self.n_param, metric=self.mlflow_metric,
                                  group_params=groups))
            lower = bool(LOWER_IS_BETTER.search(self.mlflow_metric))
            n_col, error_col, score_col = ("n", self.mlflow_metric if lower else None,
                                           None if lower else self.mlflow_metric)
        cs = read_curves(source, sep=self.sep, encoding=self.encoding, metric=self.metric,
                         select=self.select, where=self.where or [], n=n_col,
                         error=error_col, score=score_col, s=self.s_col,
                         group=self.group_col or None, step=self.step_col)
        for note in cs.notes:
            stderr.print(f"[dim]note: {escape(note)}[/]", highlight=False)
        return cs


_TABLE_OPTIONS: dict[str, tuple[Any, Any]] = {
    "select": (str, typer.Option("last", help="Evaluation kept per run (cg-transfer, or with "
                                 "--step-col): last | best.")),
    "metric": (str, typer.Option("error", help="error (in [0, 1]) or loss (unbounded).")),
    "where": (list[str] | None, typer.Option(None, help="Row filter COL=V1|V2 or COL!=V; "
                                             "repeatable.")),
    "sep": (str, typer.Option(",", help="Field delimiter.")),
    "encoding": (str, typer.Option("utf-8-sig", help="Text encoding.")),
    "n_col": (str | None, typer.Option(None, "--n-col", help="Column of the synthetic image "
                                       "count (default n).")),
    "error_col": (str | None, typer.Option(None, "--error-col", help="Column of the error "
                                           "(default error, err or loss).")),
    "score_col": (str | None, typer.Option(None, "--score-col", help="Column of a score in "
                                           "[0, 1] (accuracy, mAP) instead of an error: "
                                           "error = 1 - score.")),
    "s_col": (str | None, typer.Option(None, "--s-col", help="Column of the real fine-tuning "
                                       "image count.")),
    "group_col": (list[str] | None, typer.Option(None, "--group-col", help="A column that "
                                                 "tells curves apart (repeatable; default: "
                                                 "every other column).")),
    "step_col": (str | None, typer.Option(None, "--step-col", help="A column that varies "
                                          "within a run (step, epoch): each run keeps its "
                                          "last step (--select best: its best).")),
    "n_param": (str, typer.Option("n", "--n-param", help="mlflow: / wandb: sources: the run "
                                  "parameter (config key) holding n.")),
    "mlflow_metric": (str, typer.Option("error_last", "--mlflow-metric", "--run-metric",
                                        help="mlflow: / wandb: sources: the run metric (a "
                                        "loss/error, or a score in [0, 1]).")),
    "tracking_uri": (str | None, typer.Option(None, "--tracking-uri", help="mlflow:EXPERIMENT "
                                              "sources: the tracking URI (default: "
                                              "MLFLOW_TRACKING_URI).")),
}


def table_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the :class:`TableOptions` (its ``table`` parameter) as CLI options."""
    sig = inspect.signature(fn, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "table"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                               annotation=annotation)
             for name, (annotation, option) in _TABLE_OPTIONS.items()]

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        table = TableOptions(**{name: kwargs.pop(name) for name in _TABLE_OPTIONS})
        return fn(*args, table=table, **kwargs)

    params = own + added
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _by(cs: CurveSet, by: str | None) -> list[str]:
    if by is None:
        return list(cs.groups)
    cols = [c.strip() for c in by.split(",") if c.strip()]
    for c in cols:
        if c not in cs.data.columns:
            raise CurveTableError(f"{cs.source}: --by column '{c}' not found. Fix: use some of "
                                  f"{cs.groups}")
    return cols


def _per_s(cs: CurveSet, by_cols: list[str]) -> list[str]:
    """Eq.-1 curves of a table with several fine-tuning sizes ``s`` per curve: one curve per
    ``s`` (said on stderr), never the sizes pooled into one curve."""
    if not cs.has_s or "s" in by_cols:
        return by_cols
    many = [grp for grp, g in cs.curves(by_cols) if g["s"].nunique() > 1]
    if not many:
        return by_cols
    k = int(cs.data["s"].nunique())
    stderr.print(f"note: {k} fine-tuning sizes s in one curve: eq. 1 is fitted per s (a law "
                 "of both sizes: --law full, or advise --s-budget / --cost-synthetic)",
                 highlight=False)
    return [*by_cols, "s"]


def _ci(v: Any) -> str:
    if not v:
        return ""
    return f"[{v[0]:.4g}, {v[1]:.4g}]"


@friendly
@table_options
def fit(
    file: Path = typer.Argument(..., help="CSV: cg-transfer schema or n,error[,s][,groups]."),
    by: str | None = typer.Option(None, help="Comma-separated grouping columns "
                                  "(default: every setting column)."),
    D: str = typer.Option(D_DEFAULT, "--D", help="Coefficient D: a number (paper: 0.48), 'free', "
                          "'shared' (the paper's App. D iterated medians) or 'joint' (one D "
                          "fitted jointly with every curve's alpha and C)."),
    law: str = typer.Option("transfer", help="transfer | power | broken | full | additive, "
                            "or one added with syn2real.law.register_law."),
    loss: str = typer.Option("linear", help=LOSS_HELP),
    level: float = typer.Option(0.9, help="Confidence level of the intervals."),
    alpha_bounds: str | None = typer.Option(None, help="Bounds of alpha as LOW,HIGH."),
    intervals: str = typer.Option("auto", help="auto (profile likelihood up to "
                                  f"{PROFILE_CURVES_MAX} curves and {PROFILE_POINTS_MAX:,} points, "
                                  "Wald above) | profile | wald | none."),
    json_out: str | None = typer.Option(None, "--json", help="Write one object per group to "
                                        "this file ('-' for stdout)."),
    table: TableOptions = TableOptions(),
) -> None:
    """Fit a law to every curve of FILE, with standard errors and profile intervals."""
    from ..assess import AssessSettings, assess, interval_method, shared_note
    from ..law import LAWS

    bounds = None
    if alpha_bounds:
        try:
            lo, hi = (float(x) for x in alpha_bounds.split(","))
        except ValueError:
            raise ValueError(f"--alpha-bounds must be LOW,HIGH, got {alpha_bounds!r}") from None
        bounds = (lo, hi)
    # the question's checks (law, D, intervals) before the table is read
    settings = AssessSettings(law=law, D=parse_D(D, ("shared", "joint")), loss=loss,
                              level=level, intervals=intervals, alpha_bounds=bounds)
    cs = table.load(file)
    # laws of (n, s): a curve spans every fine-tuning size, so fratio is no grouping column
    by_cols = _by(cs, by) if by is not None or not settings.two_inputs else [
        c for c in cs.groups if c != "fratio"]
    if not settings.two_inputs:
        by_cols = _per_s(cs, by_cols)
    curves = cs.curves(by_cols)
    points = sum(len(g) for _, g in curves)
    profile = interval_method(intervals, len(curves), points) == "profile"
    with progress(len(curves) if profile and len(curves) > 20 else 0,
                  "profile intervals") as tick:
        a = assess(cs, settings, by=by_cols, on_curve=tick)
    method = a.interval_method
    cls = LAWS[law]
    if a.shared is not None:
        name = ("App. D iterated medians" if settings.D == "shared"
                else "joint least squares")
        stderr.print(f"shared D ({name}): D = {a.shared.D:.4f}; {a.shared.note}")
    if intervals == "auto" and method == "wald":
        why = (f"{len(curves):,} curves" if len(curves) > PROFILE_CURVES_MAX else
               f"{points:,} points (a profile refits every point many times: about 1 s per "
               "1,000)")
        stderr.print(f"note: {why}: Wald intervals (estimate ± t·SE); --intervals profile "
                     "gives profile-likelihood ones", highlight=False)
    rows = [c.summary for c in a.curves]
    ci_name = {"profile": "profile CI", "wald": "Wald CI", "none": "no CI"}[method]
    table = Table(title=f"{cls.__name__} fits ({loss} loss, {int(level * 100)}% {ci_name})")
    table.add_column("curve")
    table.add_column("points", justify="right")
    shown = [p for p in cls.family.params]
    for p in shown:
        table.add_column(p, justify="right")
    derived = [k for k in rows[0] if k in cls.family.derived(
        {p: 1.0 for p in cls.family.params})] if rows else []
    for k in derived:
        table.add_column(k, justify="right")
    table.add_column("flags")
    for d in rows[:TABLE_MAX]:
        cells = [escape(d["label"]), str(d["n_points"])]
        for p in shown:
            if d.get(f"{p}_fixed"):
                cells.append(f"{d[p]:.4g} (fixed)")
            else:
                cells.append(f"{d[p]:.4g} ± {d[p + '_se']:.2g} {_ci(d.get(p + '_ci'))}")
        cells += [f"{d[k]:.4g}" for k in derived]
        cells.append(", ".join(d["flags"]))
        table.add_row(*cells)
    # with --json - the JSON owns stdout: the table goes to stderr
    shown = stderr if json_out == "-" else out
    shown.print(table)
    if len(rows) > TABLE_MAX:
        shown.print(f"(the first {TABLE_MAX} of {len(rows):,} curves; --json writes all)",
                    highlight=False)
    if json_out:
        extra = {"law": law, **({"shared_D": shared_note(a.shared)} if a.shared else {})}
        write_json(json_out, [json_safe({**d, **extra}) for d in rows])


@friendly
@table_options
def advise(
    file: Path = typer.Argument(..., help="CSV of learning curves."),
    target: float = typer.Option(..., help="Required error L*."),
    budget: float | None = typer.Option(None, help="Most synthetic images you can render."),
    s_budget: float | None = typer.Option(None, help="Most real images you can label: the "
                                          "full-law verdict (needs an s column and --budget): "
                                          "render more, label more, or change the rendering, "
                                          "and the next (n, s) run."),
    cost_synthetic: float | None = typer.Option(None, help="Cost of one synthetic image "
                                                "(with --cost-real: cheapest (n, s) mix)."),
    cost_real: float | None = typer.Option(None, help="Cost of one real labelled image."),
    by: str | None = typer.Option(None, help="Comma-separated grouping columns."),
    D: str = typer.Option(D_DEFAULT, "--D", help="D: a number or 'free'."),
    loss: str = typer.Option("linear", help=LOSS_HELP),
    level: float = typer.Option(0.9, help="Confidence level."),
    confidence: float = typer.Option(0.9, help="A verdict is decided when P(reach) is at "
                                     "least this, or at most 1 minus it."),
    method: str = typer.Option("predictive", help="predictive (default) or legacy (the "
                               "eq.-1-only advisor of earlier versions)."),
    json_out: str | None = typer.Option(None, "--json", help="Write the advice as JSON."),
    curve_kind: str = typer.Option("runs", "--curve-kind", help="runs: one training per n "
                                   "(default); checkpoints: the n are evaluations along one "
                                   "training run (tokens or images seen): a learning-rate "
                                   "schedule can bend the rest, so the advice is humbler."),
    baseline: float | None = typer.Option(None, help="Error of training on the real images "
                                          "alone (no pre-training), where the table has no "
                                          "n = 0 rows: a verdict says when no pre-trained "
                                          "run has beaten it."),
    table: TableOptions = TableOptions(),
) -> None:
    """Should you render more images or change how you render them?"""
    from ..advise import plan_mix
    from ..assess import AssessSettings, assess
    from ..law import FullTransferLaw

    # the question's checks (baseline, curve kind, method, budgets) before the table is read
    if (cost_synthetic is None) != (cost_real is None):
        raise ValueError("give both --cost-synthetic and --cost-real, or neither")
    costs = {k: v for k, v in (("cost_synthetic", cost_synthetic), ("cost_real", cost_real))
             if v is not None}
    settings = AssessSettings(D=parse_D(D), loss=loss, level=level, intervals="none",
                              target=target, budget=budget, confidence=confidence,
                              curve_kind=curve_kind, method=method, baseline=baseline,
                              s_budget=s_budget, per_curve=s_budget is None, **costs)
    cs = table.load(file)
    results = []
    if s_budget is not None:
        by_cols = _by(cs, by) if by is not None else None
        for g in assess(cs, settings, by=by_cols).grid:
            adv = g.advice
            out.print(f"[bold]{escape(g.label)}[/] {adv.scenario} "
                      f"(P(reach) {pct(adv.p_reach)}): {escape(adv.verdict)}", highlight=False)
            results.append(g.to_dict())
    elif cost_synthetic is not None:
        if not cs.has_s:
            raise CurveTableError(f"{cs.source}: the cost-optimal mix needs the fine-tuning "
                                  "size s. Fix: add an 's' column (or fratio + fdata), or "
                                  "drop the costs")
        by_cols = _by(cs, by) if by is not None else [
            c for c in cs.groups if c not in ("fratio",)]
        for group, g in cs.curves(by_cols):
            full = FullTransferLaw(loss=loss).fit(g["n"], g["s"], g["err"], weights=g["weight"])
            plan = plan_mix(full, target, cost_synthetic=cost_synthetic, cost_real=cost_real,
                            level=level)
            out.print(f"[bold]{escape(curve_label(group))}[/]: {escape(plan.verdict)}",
                      highlight=False)
            results.append({"group": group, "mix": plan.to_dict()})
    else:
        by_cols = _per_s(cs, _by(cs, by))
        curves = cs.curves(by_cols)
        longest = max(len(g) for _, g in curves)
        if longest > PROFILE_POINTS_MAX:  # per-step logs: say what the wait is
            stderr.print(f"note: a curve of {longest:,} points: the fit and the next-run search "
                         f"take about {max(1, round(longest / 4000))} s on 2 cores",
                         highlight=False)
        if method == "predictive" and len(curves) > PROFILE_CURVES_MAX:
            stderr.print(f"note: {len(curves):,} curves: eq. 1's α and C get Wald intervals "
                         "(estimate ± t·SE, flag intervals:wald); syn2real fit --intervals "
                         "profile gives profile-likelihood ones", highlight=False)
        lines = []
        for c in assess(cs, settings, by=by_cols).curves:
            adv = c.advice
            colour = {"reachable": "green", "reached": "green", "floor": "red",
                      "infeasible": "yellow", "undecided": "cyan"}[adv.scenario]
            lines.append(f"[bold]{escape(c.label)}[/] [{colour}]{adv.scenario}[/] "
                         f"(P(reach) {pct(adv.p_reach)}): {escape(adv.verdict)}")
            results.append({"group": c.group, "advice": adv.to_dict()})
        if lines:  # one print: the same text as a print per line, far faster for many
            out.print("\n".join(lines), highlight=False)
    if json_out:
        write_json(json_out, json_safe(results))


@friendly
@table_options
def report(
    file: Path = typer.Argument(..., help="CSV of learning curves."),
    output: Path = typer.Option(Path("report"), "-o", "--output", help="Output folder."),
    by: str | None = typer.Option(None, help="Comma-separated grouping columns."),
    D: str = typer.Option(D_DEFAULT, "--D", help="D: a number, 'free' or 'shared'."),
    loss: str = typer.Option("linear", help=LOSS_HELP),
    target: float | None = typer.Option(None, help="Target error for the advisor section."),
    cutoff: float | None = typer.Option(None, help="Extrapolation back-test: fit n < CUTOFF "
                                        "(default: all but the two largest sizes)."),
    budget: float | None = typer.Option(None, help="Most synthetic images you can render "
                                        "(advisor section)."),
    model_size: bool = typer.Option(False, help="Add the transfer gap vs model size study "
                                    "(needs model and nparam columns, >= 3 models)."),
    s_budget: float | None = typer.Option(None, help="Most real images you can label: adds "
                                          "eq. 2's verdict per setting (needs an s column, "
                                          "--target and --budget)."),
    table: TableOptions = TableOptions(),
) -> None:
    """Write an HTML report with the paper's figures for FILE."""
    from ..report import build_report

    cs = table.load(file)
    d_value = parse_D(D, ("shared",))
    study = None
    if model_size:
        from ..analysis import model_size_study

        study = model_size_study(cs, D=d_value if isinstance(d_value, float) else None,
                                 loss=loss)
    from ..assess import AssessSettings, assess
    from ..report.html import MAX_FIGURE_CURVES

    by_cols = _per_s(cs, _by(cs, by))
    k = len(cs.curves(by_cols))
    if s_budget is not None and target is None:
        raise ValueError("--s-budget asks for eq. 2's verdict: give --target too")
    settings = AssessSettings(D=d_value, loss=loss, target=target, budget=budget,
                              cutoff=cutoff, backtest_curves=MAX_FIGURE_CURVES, full_law=True,
                              s_budget=s_budget)
    with progress(k if k > 20 else 0, f"report of {k:,} curves", "curves") as tick:
        a = assess(cs, settings, by=by_cols, on_curve=lambda: tick(1))
    page = build_report(a, output, model_size=study)
    out.print(f"report written to {page}")


@friendly
def collect(
    runs_dir: Path = typer.Argument(..., help="Folder holding the runs (any depth)."),
    metric: str = typer.Option(..., help="Metric name as the runs log it (e.g. "
                               "metrics/mAP50-95(B), eval_accuracy, bbox/AP)."),
    n_from: str = typer.Option(..., "--n-from", help="Where each run's n is: config:KEY (a "
                               "dotted key of args.yaml / config.yaml / config.json / "
                               "mmengine's config.py), config:KEY~PATTERN (the number in the "
                               "key's value, e.g. 'config:data~_n(\\d+)'), or "
                               "regex:PATTERN on the run's path (first group)."),
    output: Path = typer.Option(Path("curves.csv"), "-o", "--output", help="CSV to write "
                                "(n,error: syn2real fit / advise / report read it)."),
    select: str = typer.Option("last", help="Each run's last evaluation or its best."),
    lower_is_better: bool | None = typer.Option(None, "--lower-is-better/--higher-is-better",
                                                help="Override the guess from the metric's "
                                                "name (loss/error: lower is better)."),
    allow_repeats: bool = typer.Option(False, help="Accept several runs with one n (seeds; "
                                       "they are averaged)."),
    s_from: str | None = typer.Option(None, "--s-from", help="Where each run's real "
                                      "fine-tuning size s is (as --n-from): one collect "
                                      "writes an (n, s) grid."),
    allow_incomplete: bool = typer.Option(False, help="Keep runs that stopped before the "
                                          "epochs / max_steps their trainer planned (early "
                                          "stopping); by default they are set aside, named."),
) -> None:
    """Collect one learning curve from trainers' run folders (Ultralytics, timm, detectron2,
    mmengine, Hugging Face Trainer, TensorBoard): one run per synthetic size n."""
    from ..atomic import atomic_write
    from ..curves.collect import collect as collect_runs

    df, notes = collect_runs(runs_dir, metric=metric, n_from=n_from, select=select,
                             lower_is_better=lower_is_better, allow_repeats=allow_repeats,
                             allow_incomplete=allow_incomplete, s_from=s_from)
    for note in notes:
        stderr.print(f"[dim]note: {escape(note)}[/]", highlight=False)
    cols = ["n"] + (["s"] if s_from is not None else []) + ["error"]
    # 12 significant digits: what trainers log, without the noise of 1 - score
    atomic_write(output, df[cols].to_csv(index=False, float_format="%.12g"))
    out.print(f"wrote {output}: {len(df)} runs, n = {df['n'].min():g} .. {df['n'].max():g}",
              highlight=False)
