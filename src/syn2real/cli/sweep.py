"""``syn2real plan``, ``syn2real run`` and ``syn2real export``: a whole study from one YAML."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..atomic import atomic_write, json_safe
from ..errors import UserError
from .common import friendly, out, pct, stderr, write_json

if TYPE_CHECKING:
    from ..sweep.finish import StudyOutcome


def _run_dir(cfg: Any, config: Path, out_dir: Path | None) -> Path:
    return out_dir or Path("runs") / (cfg.name or config.stem)


def _fmt_s(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


@friendly
def plan(
    config: Path = typer.Argument(..., help="Experiment YAML."),
    out_dir: Path | None = typer.Option(None, "--out", help="Run folder (default runs/NAME)."),
    json_out: str | None = typer.Option(None, "--json", help="Write the DAG as JSON."),
    cluster: bool = typer.Option(False, "--cluster", help="One row per stage instead of one "
                                 "per job: jobs, hours, the longest job against its time "
                                 "limit, GPU-hours and CPU core-hours, from the times measured "
                                 "in the run folder where there are some."),
    calibrate: Path | None = typer.Option(None, "--calibrate", help="Another run folder "
                                          "(or its results.sqlite) with jobs run on the same "
                                          "machines, e.g. a small pilot study: its measured "
                                          "seconds per unit of work replace the built-in "
                                          "figures for the job kinds it ran (this run "
                                          "folder's own measurements come first)."),
) -> None:
    """Print the job DAG and its estimated cost; runs nothing."""
    from ..sweep import Store, build_plan, load_config

    cfg = load_config(config)
    run_dir = _run_dir(cfg, config, out_dir)
    p = build_plan(cfg, run_dir)
    for why in p.missing_data:  # the plan is shown; syn2real run refuses to start
        stderr.print(f"[yellow]warning:[/] {escape(why)}", highlight=False)
    db = run_dir / "results.sqlite"
    status = Store(db).status() if db.exists() else {}
    history: dict[str, float] = {}
    where = "this run folder"
    if calibrate is not None:
        pilot = calibrate / "results.sqlite" if calibrate.is_dir() else calibrate
        if not pilot.is_file():
            raise UserError(f"--calibrate {calibrate}: no results.sqlite there. Fix: give a "
                            "run folder where syn2real run has finished jobs")
        history.update(Store(pilot).seconds_per_unit())
        if not history:
            raise UserError(f"--calibrate {calibrate}: no finished job to measure. Fix: let "
                            "a job of each stage finish there first")
        where = f"{calibrate}" + (" and this run folder" if db.exists() else "")
    if db.exists():
        history.update(Store(db).seconds_per_unit())
    est = p.estimate_seconds(history)
    workers = cfg.executor.workers
    table = Table(title=f"plan of {config} -> {run_dir}")
    for c in ("job", "needs", "state", "est."):
        table.add_column(c)
    todo_keys = []
    for j in p.order():
        st = status.get(j.key, "todo")
        if st != "done":
            todo_keys.append(j.key)
        needs = ", ".join(p.jobs[d].label.split(" (")[0] for d in j.waits_on) or "-"
        table.add_row(escape(j.label), needs, st, _fmt_s(est[j.key]))
    kinds = Counter(j.kind for j in p.order())
    resources: dict[str, dict[str, Any]] = {}  # per job kind, what one Slurm job asks for
    if cfg.executor.kind == "slurm":
        from ..sweep.runners.slurm import slurm_resources

        resources = {kind: slurm_resources(cfg.executor, kind) for kind in kinds}
    stages = _stages(cfg, p, est, set(todo_keys), resources) if cluster or json_out else []
    basis = f"measured in {where}" if history else ""
    out.print(_stage_table(stages, basis) if cluster else table)
    for kind, res in resources.items():
        out.print(f"slurm {kind} jobs ask for: " + ", ".join(
            f"{k}={v}" for k, v in res.items()), highlight=False)
    src = basis or "built-in 2-core figures"
    if cfg.executor.kind == "slurm":  # Slurm decides how many run at once, not workers
        left = (f"{len(todo_keys):,} jobs, ~{sum(est[k] for k in todo_keys) / 3600:,.1f} "
                f"job-hours ({src}), up to {cfg.executor.slurm.array_parallelism} of a stage "
                "at once as Slurm schedules them (plan --cluster: GPU-hours per stage)")
    else:
        left = (f"~{_fmt_s(p.wall_seconds(todo_keys, history, workers))} with {workers} "
                f"worker(s) ({src})")
    out.print(f"{len(p.jobs)} jobs ({', '.join(f'{v} {k}' for k, v in kinds.items())}), "
              f"then fit -> advise -> report. Remaining: {left}.", highlight=False)
    _plan_storage(p)
    if resources:
        limits = {kind: int(res["time"]) for kind, res in resources.items()}
        _plan_time_limit(p, est, limits, basis, cfg.executor.slurm.requeues)
    if json_out:
        write_json(json_out, json_safe({"run_dir": str(run_dir), "jobs": [j.to_dict() for j in
                                                                      p.order()],
                                    "estimate_s": est, "stages": stages,
                                    "estimates_measured": bool(history),
                                    "estimates_basis": basis or "built-in 2-core figures"}))


def _stages(cfg: Any, p: Any, est: dict[str, float], todo: set[str],
            resources: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per job kind: jobs (and still to do), estimated hours (to do), the longest job, what
    one job asks for (nodes, and over them all cpus, gpus, Slurm time limit: ``resources``,
    what one Slurm job of each kind asks for, empty off Slurm), GPU-hours and CPU core-hours
    to do."""
    from ..sweep.runners import cpu_count

    ec = cfg.executor
    by_kind: dict[str, list[str]] = {}
    for j in p.order():
        by_kind.setdefault(j.kind, []).append(j.key)
    rows = []
    for kind, keys in by_kind.items():
        left = [k for k in keys if k in todo]
        if resources:
            from ..sweep.runners.slurm import processes

            res = resources[kind]
            nodes, limit = int(res.get("nodes", 1)), res["time"]
            cpus = res["cpus_per_task"] * processes(res)
            gpus = res["gpus_per_node"] * nodes
        else:
            nodes = 1
            cpus = ec.threads or max(1, cpu_count() // ec.workers)
            gpus = ec.gpus_per_job if kind in ("pretrain", "finetune", "backbone") else 0.0
            limit = None
        hours = sum(est[k] for k in left) / 3600
        longest = max((est[k] for k in keys), default=0.0)
        rows.append({"stage": kind, "jobs": len(keys), "to_do": len(left), "hours": hours,
                     "longest_s": longest, "nodes": nodes, "cpus": cpus, "gpus": gpus,
                     "time_limit_min": limit, "gpu_hours": hours * gpus,
                     "cpu_core_hours": hours * cpus,
                     "over_limit": 0 if limit is None else
                     sum(est[k] > limit * 60 for k in keys)})
    return rows


def _stage_table(stages: list[dict[str, Any]], measured: str) -> Table:
    """``plan --cluster``: one row per stage (see :func:`_stages`); ``measured``: where the
    times come from ("measured in ..."), empty for the built-in figures."""
    basis = (f"times {measured}" if measured else "built-in 2-core CPU "
             "figures: on GPUs far too long; run one job of each stage and plan again")
    table = Table(title=f"stages (estimates from {basis})")
    for c in ("stage", "jobs (to do)", "hours to do", "longest job", "one job asks",
              "GPU-hours", "CPU core-hours", "over time limit"):
        table.add_column(c)
    for r in stages:
        ask = (f"{r['nodes']} nodes: " if r["nodes"] > 1 else "") + \
            f"{r['cpus']} cpu, {r['gpus']:g} gpu" + (
            f", {r['time_limit_min']} min" if r["time_limit_min"] is not None else "")
        table.add_row(r["stage"], f"{r['jobs']:,} ({r['to_do']:,})", f"{r['hours']:,.1f}",
                      _fmt_s(r["longest_s"]), ask, f"{r['gpu_hours']:,.1f}",
                      f"{r['cpu_core_hours']:,.1f}",
                      "-" if r["time_limit_min"] is None else str(r["over_limit"]))
    return table


def _plan_storage(p: Any) -> None:
    """The disk the study's renders take (each dataset folder at its largest size)."""
    from ..render.shards import image_bytes

    largest: dict[str, tuple[int, int, str]] = {}
    for j in p.by_kind("render"):
        out_dir, n = j.params["out"], int(j.params["n_images"])
        if out_dir not in largest or n > largest[out_dir][0]:
            largest[out_dir] = (n, int(j.params["spec"]["size"]), j.params["storage"])
    if not largest:
        return
    total = sum(n * image_bytes(size, st) for n, size, st in largest.values())
    kinds = sorted({st for *_, st in largest.values()})
    how = ("raw arrays: RGB, masks, normals, depth" if kinds == ["npy"] else
           "tar shards: PNG, an upper estimate")
    out.print(f"storage: the renders take ~{_fmt_bytes(total)} ({len(largest)} dataset "
              f"folder(s), {how}; under the run folder's data/).", highlight=False)


def _plan_time_limit(p: Any, est: dict[str, float], limits: dict[str, int],
                     measured: str, requeues: int = 0) -> None:
    """Slurm: the jobs whose estimate exceeds the time limit their stage asks for
    (``limits``: minutes per job kind, ``executor.slurm.time`` or the stage's own); a
    pre-training that ``requeues`` time-outs complete (it resumes from its state) is a
    note, not a warning."""
    over: dict[str, list[float]] = {}
    for key, secs in est.items():
        kind = p.jobs[key].kind
        if secs > limits[kind] * 60:
            over.setdefault(kind, []).append(secs)
    for kind, secs in sorted(over.items()):
        limit_min = limits[kind]
        basis = (f"the times {measured}" if measured else
                 "the built-in 2-core CPU figures: on GPUs they are far too long, so run one "
                 "job first and plan again (its measured time replaces them)")
        if kind == "pretrain" and max(secs) <= limit_min * 60 * (requeues + 1):
            stderr.print(f"note: {len(secs)} pretrain job(s) are estimated above the Slurm "
                         f"time limit of {limit_min} min (longest ~{_fmt_s(max(secs))}; from "
                         f"{basis}): each is requeued at its limit and goes on from its "
                         f"resumable state (at most {requeues} time-outs: "
                         "executor.slurm.requeues)", highlight=False)
            continue
        stderr.print(f"[yellow]warning:[/] {len(secs)} {kind} job(s) are estimated above the Slurm "
                     f"time limit of {limit_min} min (longest ~{_fmt_s(max(secs))}; from "
                     f"{basis}). Fix: raise executor.slurm.time (or executor.slurm.resources."
                     f"{kind}.time), or give those jobs less work",
                     highlight=False)


def _fmt_bytes(b: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if b >= size:
            return f"{b / size:,.1f} {unit}"
    return f"{b / 1e3:,.0f} kB"


@friendly
def run(
    config: Path = typer.Argument(..., help="Experiment YAML."),
    out_dir: Path | None = typer.Option(None, "--out", help="Run folder (default runs/NAME)."),
    executor: str | None = typer.Option(None, help="local | ray | slurm, or a registered "
                                        "backend (default: the "
                                        "config's)."),
    address: str | None = typer.Option(None, help="Ray address: auto or HOST:PORT."),
    workers: int | None = typer.Option(None, help="Local jobs at a time."),
    threads: int | None = typer.Option(None, help="Torch threads per job."),
    retry_failed: bool = typer.Option(False, help="Rerun jobs that failed before."),
    rerun: list[str] | None = typer.Option(None, help="Run again although finished: a job "
                                           "kind (render, pretrain, finetune, ...) or a job "
                                           "key (unique prefix); everything downstream "
                                           "reruns too. Repeatable."),
    report: bool = typer.Option(True, help="Write the HTML report at the end."),
    json_out: str | None = typer.Option(None, "--json", help="Write fits and verdicts here."),
) -> None:
    """Run a study: render, pre-train, fine-tune, fit, advise, report (resumable; one run
    per folder at a time)."""
    from ..locking import folder_lock
    from ..sweep import load_config

    cfg = load_config(config)
    if executor is not None:
        from ..sweep.runners import runner_class

        runner_class(executor)  # an unknown name: one line with the known ones
    run_dir = _run_dir(cfg, config, out_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"{run_dir}: exists and is not a folder. Fix: choose another --out")
    with folder_lock(run_dir, "syn2real run"):
        _run_locked(cfg, config, run_dir, executor=executor, address=address,
                    workers=workers, threads=threads, retry_failed=retry_failed,
                    rerun=rerun or [], report=report, json_out=json_out)


def _run_locked(cfg: Any, config: Path, run_dir: Path, *, executor: str | None,
                address: str | None, workers: int | None, threads: int | None,
                retry_failed: bool, rerun: list[str], report: bool,
                json_out: str | None) -> None:
    from ..sweep import Store, build_plan, execute
    from ..sweep.execute import Interrupted, rerun_keys
    from ..sweep.finish import finish

    p = build_plan(cfg, run_dir)
    if p.missing_data:  # before the run folder is written to
        raise UserError(p.missing_data[0])
    atomic_write(run_dir / "config.yaml", Path(config).read_text())
    store = Store(run_dir / "results.sqlite")
    view = _Progress(p, store, workers or cfg.executor.workers, forced=rerun_keys(p, rerun))
    stderr.print(view.expectation(), highlight=False)
    t0 = time.perf_counter()
    try:
        with view.shown() as on_event:
            summary = execute(p, store, executor=executor, workers=workers, threads=threads,
                              address=address, retry_failed=retry_failed, rerun=rerun,
                              on_event=on_event)
    except Interrupted as stop:
        s = stop.summary
        stderr.print(f"interrupted: {len(s.ran)} job(s) finished in this run and are recorded "
                     f"({len(s.cached)} were already done); {len(s.stopped)} running job(s) "
                     "stopped. Run the same command again to resume.", highlight=False)
        raise typer.Exit(130) from None
    for key, msg in summary.stale.items():
        stderr.print(f"[yellow]rerun[/] {escape(p.jobs[key].label)}: {escape(msg)}",
                     highlight=False)
    for key, msg in summary.failed.items():
        stderr.print(f"[red]failed[/] {escape(p.jobs[key].label)}: {escape(msg.splitlines()[0])}",
                     highlight=False)
    if summary.blocked:
        stderr.print(f"{len(summary.blocked)} job(s) not run because a job they need failed")
    stderr.print(f"jobs: {len(summary.ran)} ran, {len(summary.cached)} cached, "
                 f"{len(summary.failed)} failed, {len(summary.blocked)} blocked "
                 f"({_fmt_s(time.perf_counter() - t0)})", highlight=False)
    if not store.rows("finetune"):
        raise ValueError("no fine-tuning result yet: nothing to fit (see the failures above)")
    res = finish(cfg, run_dir, store, keys=p.jobs.keys(), report=report)
    for note in res.notes:
        stderr.print(f"[dim]note: {escape(note)}[/]", highlight=False)
    _print_results(res)
    if json_out:
        write_json(json_out, json_safe(res.to_dict()))
    if not summary.ok:
        raise typer.Exit(1)


def _print_results(res: StudyOutcome) -> None:
    from ..advise import todo_sentence

    curves = res.assessment.curves if res.assessment is not None else ()
    if curves and res.target is not None:
        out.print(f"[bold]What to do[/] (target error {res.target:g}):", highlight=False)
        for c in curves:
            out.print(f"  {escape(c.label)}: {escape(todo_sentence(c.advice, res.target))}",
                      highlight=False)
    for g in res.assessment.grid if res.assessment is not None else ():
        adv = g.advice
        out.print(f"  {escape(g.label)}, real and synthetic sizes together (eq. 2): "
                  f"{adv.scenario} (P(reach) {pct(adv.p_reach)}): {escape(adv.verdict)}",
                  highlight=False)
    t = Table(title="transfer law per curve (profile intervals)")
    for col in ("curve", "alpha", "C (transfer gap)", "D", "P(reach)", "verdict"):
        t.add_column(col)
    for c in curves:
        f, a = c.summary, c.advice.to_dict()
        t.add_row(escape(c.label), _cell(f, "alpha"), _cell(f, "C"),
                  _cell(f, "D") if "D" in f else "-",
                  f"{a['p_reach']:.0%}" if a.get("p_reach") is not None else "",
                  escape(a["verdict"]))
    out.print(t)
    for m in res.margins:
        se = "" if math.isnan(m["margin_se"]) else f" ± {m['margin_se']:.3f}"
        out.print(f"transfer at n = {m['n_max']}: error {m['err_n_max']:.3f} vs from scratch "
                  f"{m['err_scratch']:.3f} -> margin {m['margin']:+.3f}{se} "
                  f"({m['setting']} {m['ptask']} {m['model']} -> {m['ftask']}/{m['dataset']})",
                  highlight=False)
    _print_points([p for c in curves for p in c.points])
    for h in (h for c in curves for h in c.holdout):
        lo, hi = h["interval"]
        out.print(f"held out n = {h['n']:,.0f} ({h['label']}): predicted {h['predicted']:.3f} "
                  f"[{lo:.3f}, {hi:.3f}] ({h['level']:.0%}), measured {h['measured']:.3f} over "
                  f"{h['runs']} run(s): {'inside' if h['inside'] else 'OUTSIDE'} the interval",
                  highlight=False)
    if res.csv:
        out.print(f"results: {res.csv}")
    if res.report:
        out.print(f"report: {res.report} (open it in a browser)", highlight=False)


def _print_points(points: list[dict[str, Any]]) -> None:
    """The measured curves: mean error per size with its standard error over the runs
    (pre-training variance included where measured) and the two variance components."""
    by: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        by.setdefault(p["label"], []).append(p)
    for label, pts in by.items():
        t = Table(title=f"measured: {label}", title_justify="left")
        t.add_column("n")
        for p in pts:
            t.add_column(f"{p['n']:,.0f}" + (" (held out)" if p["held_out"] else ""),
                         justify="right")
        t.add_row("error", *[f"{p['mean']:.3f}" for p in pts])
        t.add_row("std. error", *["-" if math.isnan(p["se"]) else f"{p['se']:.3f}"
                                  for p in pts])
        t.add_row("runs (pre-trainings)", *[f"{p['runs']} ({p.get('pretrains', 1)})"
                                             for p in pts])
        out.print(t)
        fitted = [p for p in pts if p["n"] > 0]
        if fitted and not math.isnan(fitted[0].get("sd_pretrain", math.nan)):
            f = fitted[-1]
            out.print(f"  one run's spread at n = {f['n']:,.0f}: ±{f['sd_pretrain']:.3f} between "
                      f"pre-trainings, ±{f['sd_finetune']:.3f} between fine-tunings of one "
                      "(both in the standard errors)", highlight=False)
        elif fitted:
            out.print("  one pre-training per size: the standard errors count fine-tuning "
                      "seeds only (add pre-training seeds, `seeds: [0, 1, 2]`, to measure "
                      "the rest)", highlight=False)


def _cell(fit: dict[str, Any], k: str) -> str:
    ci = fit.get(f"{k}_ci")
    text = f"{fit[k]:.3g}"
    if ci and not fit.get(f"{k}_fixed"):
        text += f" [{ci[0]:.3g}, {ci[1]:.3g}]"
    return text


#: seconds between two plain progress lines when stderr is not a terminal
PROGRESS_EVERY = 30.0


class _Progress:
    """Progress of a study's jobs: counts by state, the running jobs, a rate and an ETA.

    The ETA sums the remaining jobs' estimates: seconds per unit of work measured in this
    run folder (refreshed as jobs finish), else the built-in 2-core figures. On a terminal
    it is a live table with a bar; otherwise a plain line every ``every`` seconds.
    """

    def __init__(self, plan: Any, store: Any, workers: int, every: float | None = None,
                 forced: set[str] | None = None) -> None:
        self.plan = plan
        self.store = store
        self.total = len(plan.jobs)
        self.counts = {"done": 0, "cached": 0, "failed": 0, "blocked": 0, "stale": 0}
        self.running: dict[str, float] = {}
        self.history = store.seconds_per_unit()
        self.workers = workers
        status = store.status()
        self.left = set(plan.jobs)
        forced = forced or set()  # --rerun: finished jobs that run again
        self.todo = [k for k in plan.jobs if status.get(k) != "done" or k in forced]
        self.every = PROGRESS_EVERY if every is None else every
        self.t0 = time.perf_counter()
        self._lock = threading.Lock()  # the plain-line ticker reads what update() changes

    def expectation(self) -> str:
        """What the run will do and how long it should take, said before it starts."""
        if not self.todo:
            return (f"{self.total} jobs, all finished before: only the fit and the report "
                    "remain (each output is checked before use; a damaged one reruns).")
        src = ("speeds measured in this run folder" if self.history
               else "built-in figures for 2 CPU cores")
        return (f"{len(self.todo)} of {self.total} jobs to run, expected ~"
                f"{_fmt_s(self.plan.wall_seconds(self.todo, self.history, self.workers))} "
                f"with {self.workers} worker(s) ({src}).")

    def update(self, what: str, job: Any, info: dict | None) -> None:
        with self._lock:
            self._update(what, job)

    def _update(self, what: str, job: Any) -> None:
        if what == "start":
            self.running[job.key] = time.perf_counter()
            return
        if what == "stale":  # will run again: still to do
            self.counts["stale"] += 1
            return
        self.running.pop(job.key, None)
        self.counts[what] += 1
        self.left.discard(job.key)
        if what == "done":  # this run's own speeds sharpen the ETA
            self.history = self.store.seconds_per_unit()

    def _eta(self) -> float:
        return self.plan.wall_seconds(sorted(self.left), self.history, self.workers)

    def _rate(self) -> str:
        minutes = (time.perf_counter() - self.t0) / 60
        done = self.counts["done"] + self.counts["failed"]
        return f"{done / minutes:.1f} jobs/min" if done and minutes > 0 else "- jobs/min"

    def _finished(self) -> int:
        c = self.counts
        return c["done"] + c["cached"] + c["failed"] + c["blocked"]

    def line(self) -> str:
        """One plain line (logs, CI)."""
        with self._lock:
            return self._line()

    def _line(self) -> str:
        c = self.counts
        running = ", ".join(self.plan.jobs[k].label for k in list(self.running)[:2])
        return (f"jobs {self._finished()}/{self.total} ({c['done']} ran, {c['cached']} cached, "
                f"{c['failed']} failed), {self._rate()}, elapsed "
                f"{_fmt_s(time.perf_counter() - self.t0)}, ETA ~{_fmt_s(self._eta())}"
                + (f"; running: {running}" if running else ""))

    def render(self) -> Table:
        from rich.progress_bar import ProgressBar

        t = Table.grid(padding=(0, 2))
        c = self.counts
        elapsed = time.perf_counter() - self.t0
        t.add_row(f"[bold]{self._finished()}/{self.total}[/] jobs",
                  ProgressBar(total=self.total, completed=self._finished(), width=30),
                  f"[green]{c['done']} done[/]", f"{c['cached']} cached",
                  f"[red]{c['failed']} failed[/]", f"{len(self.running)} running",
                  self._rate(), f"elapsed {_fmt_s(elapsed)}", f"ETA ~{_fmt_s(self._eta())}")
        for key, since in list(self.running.items())[:4]:
            t.add_row(f"  > {escape(self.plan.jobs[key].label)}",
                      f"{_fmt_s(time.perf_counter() - since)}", *[""] * 7)
        return t

    @contextmanager
    def shown(self) -> Iterator[Callable[[str, Any, dict | None], None]]:
        """Show progress while the body runs; yields the ``on_event`` callback."""
        if stderr.is_terminal:
            from rich.live import Live

            with Live(self.render(), console=stderr, refresh_per_second=2,
                      transient=False) as live:
                def on_event(what: str, job: Any, info: dict | None) -> None:
                    self.update(what, job, info)
                    live.update(self.render())

                yield on_event
            return
        stop = threading.Event()

        def tick() -> None:  # a line every `every` seconds, whatever the jobs' lengths
            while not stop.wait(self.every):
                stderr.print(self.line(), highlight=False)

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield self.update
        finally:
            stop.set()
            ticker.join()
            stderr.print(self.line(), highlight=False)


@friendly
def export(
    run_dir: Path = typer.Argument(..., help="Run folder (holds results.sqlite)."),
    fmt: str = typer.Option("cg-transfer", "--format", help="cg-transfer (the paper's CSV)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="CSV path (default "
                                       "RUN_DIR/results.csv)."),
) -> None:
    """Write a run's fine-tuning results as CSV that ``syn2real fit`` reads unchanged."""
    from ..sweep import Store, export_cg

    if fmt != "cg-transfer":
        raise ValueError(f"--format must be cg-transfer, got {fmt!r}")
    db = run_dir / "results.sqlite"
    if not db.exists():
        raise ValueError(f"{run_dir}: no results.sqlite (run syn2real run CONFIG --out "
                         f"{run_dir} first)")
    keys = None
    cfg_path = run_dir / "config.yaml"
    if cfg_path.exists():  # only the jobs of the run's current config
        from ..sweep import build_plan, load_config

        keys = set(build_plan(load_config(cfg_path), run_dir).jobs)
    else:
        stderr.print(f"note: {cfg_path} not found: exporting every fine-tuning row of the store")
    path = export_cg(Store(db), output or run_dir / "results.csv", keys)
    out.print(f"wrote {path}")
