"""``syn2real complexity`` and ``syn2real modelsize``: the paper's Sections 4.3 and 4.5."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..atomic import json_safe
from .common import D_DEFAULT, friendly, out, parse_D, stderr, write_json


@friendly
def complexity(
    data: Path = typer.Argument(..., help="Rendered dataset folder (syn2real render)."),
    backbone: Path = typer.Option(..., help="backbone.pt trained on real data (e.g. "
                                  "syn2real finetune --out DIR)."),
    n: int = typer.Option(1000, help="Images used (the first n)."),
    estimator: str = typer.Option("auto", help="auto | empirical | ledoit-wolf covariance."),
    threads: int | None = typer.Option(None, help="torch threads."),
    json_out: str | None = typer.Option(None, "--json", help="Also write the result here."),
) -> None:
    """Negative entropy of the Gaussian fitted to a backbone's features of DATA."""
    from ..analysis.complexity import dataset_complexity

    res = dataset_complexity(data, backbone, n=n, estimator=estimator, threads=threads)
    out.print(f"negative entropy -H = {res['negative_entropy']:.2f} (d = {res['d']}, "
              f"N = {res['n']}; {res['note']})", highlight=False)
    if json_out:
        write_json(json_out, json_safe(res))


@friendly
def modelsize(
    file: Path = typer.Argument(..., help="CSV with model and nparam columns (cg-transfer or "
                                "syn2real export)."),
    D: str = typer.Option(D_DEFAULT, "--D", help="Fixed D of eq. 1 (paper: 0.48) or 'free'."),
    where: list[str] | None = typer.Option(None, help="Row filter COL=V1|V2 or COL!=V."),
    level: float = typer.Option(0.9, help="Interval level."),
    figure: Path | None = typer.Option(None, help="Write the C-vs-size figure (PNG)."),
    json_out: str | None = typer.Option(None, "--json", help="Write the study as JSON."),
) -> None:
    """Transfer gap C against model size, with a power-law fit per setting (Fig. 4 right)."""
    from ..analysis import model_size_study
    from ..curves import read_curves

    cs = read_curves(file, where=where or [])
    for note in cs.notes:
        stderr.print(f"[dim]note: {note}[/]", highlight=False)
    study = model_size_study(cs, D=parse_D(D), level=level)
    for s in study:
        t = Table(title=s["label"] or "all curves")
        for c in ("model", "params (M)", "C", f"{int(level * 100)}% CI", "alpha"):
            t.add_column(c)
        for p in s["points"]:
            t.add_row(str(p["model"]), f"{p['size']:.1f}", f"{p['C']:.4f}",
                      f"[{p['C_ci'][0]:.4f}, {p['C_ci'][1]:.4f}]", f"{p['alpha']:.3f}")
        out.print(t)
        f = s["fit"]
        if f is None:
            out.print(f"  {s['note']}")
        else:
            out.print(f"  C = {f['k']:.3g} * P^-{f['b']:.3f}  (b {int(level * 100)}% CI "
                      f"[{f['b_ci'][0]:.3f}, {f['b_ci'][1]:.3f}])"
                      + (f"  flags: {', '.join(f['flags'])}" if f["flags"] else ""),
                      highlight=False)
    if figure:
        from ..report.figures import fig_model_size
        from ..report.html import save_figure

        save_figure(fig_model_size(study, level), figure.parent, figure.stem)
        out.print(f"figure written to {figure}")
    if json_out:
        write_json(json_out, json_safe([{k: v for k, v in s.items() if k != "fit"} |
                                    {"fit": None if s["fit"] is None else
                                     {k: v for k, v in s["fit"].items() if k != "law"}}
                                    for s in study]))
