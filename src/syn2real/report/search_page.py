"""The rendering search's report: every candidate's curve and where it stopped, the knobs'
importance, the promotion tree (one HTML page with its PNG figure)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..atomic import atomic_write

__all__ = ["fig_search", "write_search_report"]


def _mean_curve(c: Any) -> tuple[np.ndarray, np.ndarray]:
    """A candidate's sizes and its mean error at each (over replicates)."""
    n = np.array([p[0] for p in c.points])
    e = np.array([p[1] for p in c.points])
    sizes = np.unique(n)
    return sizes, np.array([e[n == s].mean() for s in sizes])


def fig_search(res: Any) -> plt.Figure:
    """Left: measured curves (mean per size), stopped ones grey and cut where they stopped,
    the pick and the start in colour with their predicted 90% interval at n_max. Right:
    the knobs' fANOVA importance."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2),
                                 gridspec_kw={"width_ratios": [2.2, 1]})
    for c in res.state.candidates:
        if not c.points or c is res.best or c is res.base:
            continue
        sizes, mean = _mean_curve(c)
        ax.plot(sizes, mean, color="0.75" if c.status != "finished" else "0.45", lw=1,
                marker="x" if c.status == "stopped" else ".", ms=4, zorder=1)
    for c, colour, what in ((res.base, "tab:blue", "start"), (res.best, "tab:red", "pick")):
        if c is None or not c.points:
            continue
        ax.plot(*_mean_curve(c), color=colour, lw=2, marker="o", label=f"{what}: {c.name}",
                zorder=3)
        j = c.last
        if j:
            ax.errorbar([res.n_max], [j["predicted"]],
                        yerr=[[j["predicted"] - j["low"]], [j["high"] - j["predicted"]]],
                        color=colour, capsize=4, marker="D", zorder=3)
    for row in res.check:
        if np.isfinite(row["measured"]):
            ax.plot([res.n_max], [row["measured"]], "k*", ms=10, zorder=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("synthetic pre-training images n")
    ax.set_ylabel("fine-tuning error")
    ax.set_title(f"{len(res.state.candidates)} renderings (x: stopped; diamond: predicted "
                 f"at n_max; star: measured)", fontsize=9)
    ax.legend(fontsize=8)
    imp = res.importances
    if imp:
        keys = list(imp)[::-1]
        bx.barh(keys, [imp[k] for k in keys], color="tab:gray")
        bx.set_xlabel("fANOVA importance")
    else:
        bx.text(0.5, 0.5, "too few candidates for importances", ha="center", va="center")
        bx.set_axis_off()
    fig.tight_layout()
    return fig


def _row(c: Any, knobs: str) -> str:
    rungs = " → ".join(f"n={j['n']:,}: {j['predicted']:.3f} (P better {j['p_better']:.2f})"
                       for j in c.judgements)
    return (f"<tr><td>{c.bracket + 1}</td><td>{html.escape(c.name)}</td>"
            f"<td>{html.escape(knobs)}</td><td>{c.status}</td><td>{html.escape(rungs)}</td></tr>")


def write_search_report(res: Any, out: str | Path) -> Path:
    """Write ``out/index.html`` and ``out/search.png``; returns the page."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig = fig_search(res)
    tmp = out / "search.tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out / "search.png")
    lo, hi = res.interval
    base = ("" if res.base_predicted is None else
            f"<p>Starting rendering: predicted {res.base_predicted:.3f} "
            f"[{res.base_interval[0]:.3f}, {res.base_interval[1]:.3f}].</p>")
    checks = "".join(
        f"<li>{html.escape(c['candidate'])} ({c['status']}): predicted {c['predicted']:.3f} "
        f"[{c['interval'][0]:.3f}, {c['interval'][1]:.3f}], measured {c['measured']:.3f} "
        f"over {c['runs']} run(s): {'inside' if c['inside'] else 'OUTSIDE'}</li>"
        if c["status"] != "reference" else
        f"<li>reference {html.escape(c['candidate'])}: measured {c['measured']:.3f} over "
        f"{c['runs']} run(s)</li>"
        for c in res.check if np.isfinite(c["measured"]))
    rows = "".join(_row(c, res.describe(c)) for c in res.state.candidates)
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>rendering search</title><style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}
td,th{{padding:2px 8px;border-bottom:1px solid #ddd;font-size:13px}}</style></head><body>
<h1>Rendering search</h1>
<p>Best rendering <b>{html.escape(res.best.name)}</b>: predicted error at n = {res.n_max:,}
{res.predicted:.3f} [{lo:.3f}, {hi:.3f}] (90%).</p>{base}
<ul>{checks}</ul>
<img src="search.png" alt="candidate curves and knob importance" style="width:100%">
<h2>Promotion tree</h2>
<table><tr><th>bracket</th><th>candidate</th><th>knobs</th><th>status</th>
<th>rungs: predicted error at n_max (P better than the incumbent)</th></tr>{rows}</table>
</body></html>"""
    return atomic_write(out / "index.html", page)
