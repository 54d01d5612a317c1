"""``syn2real search``: find the rendering with the smallest predicted error at n_max."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from ..atomic import json_safe
from .common import friendly, out, stderr, write_json


def _rung_line(info: dict[str, Any]) -> str:
    b = info["best"]
    best = ""
    if b is not None and b.last:
        j = b.last
        best = (f"; best so far {b.name}: predicted {j['predicted']:.3f} "
                f"[{j['low']:.3f}, {j['high']:.3f}] at n_max")
    left = max(0.0, info["budget"] - info["spent"])
    eta = "" if info.get("eta") is None else f", ETA ~{info['eta'] / 60:.1f} min at this pace"
    going = (f"{info['live']} go on" if info["live"] or not info["last"] else
             "bracket finished")
    return (f"bracket {info['bracket']} rung {info['rung'] + 1} (n up to "
            f"{max(info['sizes']):,}): {info['measured']} measured, {going}"
            f"{best}; spent {info['spent'] / 60:.1f} of {info['budget'] / 60:.1f} min "
            f"({left / 60:.1f} min left{eta})")


@friendly
def search(
    config: Path = typer.Argument(..., help="Search YAML (a study, a starting rendering, "
                                  "the knobs' ranges, the budget)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Search folder (default "
                                        "runs/NAME); rerun the command to resume."),
    executor: str | None = typer.Option(None, help="local | ray | slurm, or a registered "
                                        "backend (default: the "
                                        "study's)."),
    address: str | None = typer.Option(None, help="Ray address: auto or HOST:PORT."),
    workers: int | None = typer.Option(None, help="Local jobs at a time."),
    threads: int | None = typer.Option(None, help="Torch threads per job."),
    report: bool = typer.Option(True, help="Write the search's HTML report."),
    json_out: str | None = typer.Option(None, "--json", help="Write the result here."),
) -> None:
    """Search the renderer's knobs, judged by the law over growing n (resumable)."""
    from ..locking import folder_lock
    from ..search.run import search as run_search
    from ..search.space import load_search
    from .sweep import _Progress

    if executor is not None:
        from ..sweep.runners import runner_class

        runner_class(executor)  # an unknown name: one line with the known ones
    loaded = load_search(config)  # read once: the search gets it as it is
    cfg, study, _ = loaded
    folder = out_dir or Path("runs") / cfg.name
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: exists and is not a folder. Fix: choose another --out")

    def progress(plan: Any, store: Any) -> Any:
        view = _Progress(plan, store, workers or study.executor.workers)
        stderr.print(f"[dim]{escape(view.expectation())}[/]", highlight=False)
        return view.shown()

    with folder_lock(folder, "syn2real search"):
        res = run_search(loaded, run_dir=folder, executor=executor, workers=workers,
                         threads=threads, address=address, progress=progress,
                         on_rung=lambda i: stderr.print(escape(_rung_line(i)), highlight=False),
                         say=lambda m: stderr.print(escape(m), highlight=False))
    for label, msg in res.failures.items():
        stderr.print(f"[red]failed[/] {escape(label)}: {escape(msg)}", highlight=False)
    _print(res)
    if report:
        from ..report.search_page import write_search_report

        page = write_search_report(res, folder / "report")
        out.print(f"report: {page} (open it in a browser)", highlight=False)
    if json_out:
        write_json(json_out, json_safe(res.to_dict()))


def _print(res: Any) -> None:
    from ..advise import todo_sentence

    n = f"{res.n_max:,}"
    lo, hi = res.interval
    what = (f"{res.best.name} ({res.describe(res.best)})" if res.best.params else
            "the starting rendering: no proposal is predicted better")
    out.print(f"[bold]best rendering[/]: {escape(what)}; predicted error at n = {n}: "
              f"{res.predicted:.3f} [{lo:.3f}, {hi:.3f}] (90%)", highlight=False)
    if res.base_predicted is not None:
        blo, bhi = res.base_interval
        out.print(f"starting rendering: predicted {res.base_predicted:.3f} [{blo:.3f}, "
                  f"{bhi:.3f}]", highlight=False)
    if res.advice is not None:
        out.print(f"verdict for it (target {res.advice.target:g}): "
                  f"{escape(todo_sentence(res.advice, res.advice.target))}", highlight=False)
    for c in res.check:
        if c["status"] == "reference":
            if not math.isnan(c["measured"]):
                out.print(f"reference n = {n} ({c['candidate']}): measured {c['measured']:.3f} "
                          f"over {c['runs']} run(s)", highlight=False)
            continue
        if math.isnan(c["measured"]):
            out.print(f"held out n = {n} ({c['candidate']}, {c['status']}): not measured "
                      "(its training failed)", highlight=False)
            continue
        clo, chi = c["interval"]
        out.print(f"held out n = {n} ({c['candidate']}, {c['status']}): predicted "
                  f"{c['predicted']:.3f} [{clo:.3f}, {chi:.3f}], measured {c['measured']:.3f} "
                  f"over {c['runs']} run(s): {'inside' if c['inside'] else 'OUTSIDE'}",
                  highlight=False)
    cands = res.state.candidates
    out.print(f"{len(cands)} candidates in {res.state.brackets} bracket(s): "
              f"{sum(c.status == 'finished' for c in cands)} finished, "
              f"{sum(c.status == 'stopped' for c in cands)} stopped early, "
              f"{sum(c.status == 'failed' for c in cands)} failed; compute "
              f"{res.spent / 60:.1f} min (cost model)", highlight=False)
    if res.importances:
        out.print("knob importance (fANOVA): " + ", ".join(
            f"{k} {v:.2f}" for k, v in res.importances.items()), highlight=False)
    from ..search.space import imported_source

    out.print(f"{'the chosen folder' if imported_source(res.best.params) else 'rendering spec'}"
              f": {res.run_dir / 'best.yaml'}", highlight=False)
