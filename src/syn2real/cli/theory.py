"""``syn2real theory``: the two-layer ASGD simulation and the rate table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table

from ..atomic import atomic_write, json_safe
from ..yamlfile import load_yaml_mapping
from .common import build_settings, friendly, out, stderr, write_json

app = typer.Typer(no_args_is_help=True, help="The theory of App. E: simulation and rates.")


@app.command()
@friendly
def rates(
    r0: float = typer.Option(..., help="Smoothness of phi0, in [1/2, 1]."),
    r1: float = typer.Option(..., help="Smoothness of phi1, in [1/2, 1]."),
    xi: float = typer.Option(..., help="NTK eigen-decay exponent, > 1."),
    zeta: float = typer.Option(..., help="Fine-tuning learning rate eta1 = T1^-zeta."),
    json_out: str | None = typer.Option(None, "--json", help="Write the cases as JSON."),
) -> None:
    """Which case of Table 1 applies, and the bound's exponents of T0 (alpha) and T1 (beta)."""
    from ..theory import CONDITIONS, pretraining_exponent, rate_table

    cases = rate_table(r0, r1, xi, zeta)
    out.print(f"pre-training error ~ T0^-{pretraining_exponent(r0, xi):.4g}")
    if not cases:
        out.print("[yellow]No case of Table 1 covers these inputs.[/] Conditions:")
        for k, v in CONDITIONS.items():
            out.print(f"  {k}: {v}")
    else:
        table = Table(title="bound: eps + (c + c' T0^-p) T1^-q")
        for col in ("case", "regime", "p (T0)", "q (T1)", "lambda1", "conditions"):
            table.add_column(col)
        for c in cases:
            table.add_row(c.case, c.regime, f"{c.t0_exponent:.4g}", f"{c.t1_exponent:.4g}",
                          c.lambda1, c.conditions)
        out.print(table)
    if json_out:
        write_json(json_out, [c.to_dict() for c in cases])


@app.command()
@friendly
def simulate(
    config: Path | None = typer.Option(None, help="YAML file of SimulationConfig settings."),
    output: Path = typer.Option(Path("theory-out"), "-o", "--output", help="Output folder."),
    seeds: int | None = typer.Option(None, help="Override the number of seeds."),
) -> None:
    """Simulate pre-training + fine-tuning of a two-layer network; fit both laws."""
    from ..report import save_figure
    from ..report.figures import fig_full, fig_plateau
    from ..theory import SimulationConfig, fit_grid
    from ..theory import simulate as run

    raw: dict[str, Any] = {}
    if config is not None:
        raw = load_yaml_mapping(config)
    if seeds is not None:
        raw["seeds"] = seeds
    cfg = build_settings(SimulationConfig, raw, config or "settings")
    output.mkdir(parents=True, exist_ok=True)
    res = run(cfg, progress=lambda m: stderr.print(f"[dim]{m}[/]"))
    rows = res["rows"]
    lines = ["n,s,phi1_norm,seed,error"] + [
        f"{n},{s},{nm},{sd},{e:.8g}" for n, s, nm, sd, e in
        zip(rows["n"], rows["s"], rows["phi1_norm"], rows["seed"], rows["error"], strict=True)]
    atomic_write(output / "grid.csv", "\n".join(lines) + "\n")
    fits = []
    table = Table(title=f"laws fitted to the simulated grid (xi = {res['xi']:.3g})")
    for col in ("||phi1||", "eq. 2 alpha", "beta", "gamma", f"C at s={max(cfg.s_grid)}",
                "AIC mult.", "AIC add.", "held-out mult.", "held-out add.", "winner"):
        table.add_column(col)
    plateau = {}
    s_show = max(cfg.s_grid)
    for norm in cfg.phi1_norms:
        f = fit_grid(rows, norm)
        mul, add = f["multiplicative"], f["additive"]
        law = mul.pop("law")
        add.pop("law")
        gap = f["transfer_gap"].get(int(s_show), {}).get("C", float("nan"))
        table.add_row(f"{norm:g}", f"{mul['params']['alpha']:.3f}", f"{mul['params']['beta']:.3f}",
                      f"{mul['params']['gamma']:.3g}", f"{gap:.3g}",
                      f"{mul['aic']:.1f}", f"{add['aic']:.1f}",
                      f"{mul['holdout_rmse_log']:.3f}", f"{add['holdout_rmse_log']:.3f}",
                      f"{f['winner_aic']} (AIC), {f['winner_holdout']} (held-out)")
        fits.append(f)
        m = (rows["phi1_norm"] == norm) & (rows["n"] > 0)
        ns = np.unique(rows["n"][m])
        mean = np.array([[rows["error"][m & (rows["n"] == n) & (rows["s"] == s)].mean()
                          for n in ns] for s in cfg.s_grid])
        plateau[norm] = (mean[-1], gap)
        n_flat = np.repeat(ns, len(cfg.s_grid)).astype(float)
        s_flat = np.tile(cfg.s_grid, len(ns)).astype(float)
        fig = fig_full(f"‖φ1‖ = {norm:g}", n_flat, s_flat, mean.T.ravel(), law,
                       ("pre-training steps n", "fine-tuning steps s"))
        save_figure(fig, output,
              f"fig9_full_law_norm{norm:g}")
    save_figure(fig_plateau(np.unique(rows["n"][rows["n"] > 0]).astype(float), plateau, s_show),
          output, "fig_plateau")
    out.print(table)
    write_json(str(output / "fits.json"), json_safe({"xi": res["xi"], "a0": res["a0"],
                                                "config": res["config"], "fits": fits}))
    out.print(f"wrote {output}/grid.csv, fits.json and figures")
