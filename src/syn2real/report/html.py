"""The HTML report: one self-contained page plus PNG and SVG files of every figure."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..advise import todo_sentence
from ..advise.advice import fmt_n
from ..assess import Assessment, CurveResult, GridResult
from ..atomic import atomic_write
from ..errors import UserError
from ..law import TransferLaw
from .figures import (
    CurveFit,
    fig_complexity,
    fig_curves,
    fig_extrapolation,
    fig_full,
    fig_landscape,
    fig_linearised,
    fig_model_size,
    fig_params,
    gap,
)


def save_figure(fig: plt.Figure, out: Path, name: str) -> str:
    """Write PNG and SVG; return the PNG as a data URI for the page."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    svg = io.BytesIO()
    fig.savefig(svg, format="svg")
    plt.close(fig)
    atomic_write(out / f"{name}.png", png.getvalue())
    atomic_write(out / f"{name}.svg", svg.getvalue())
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()


def _fmt_ci(ci: Sequence[float] | None) -> str:
    if not ci:
        return ""
    return f"[{ci[0]:.4g}, {ci[1]:.4g}]"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px}
th{background:#f3f3f3}figure{margin:1.5em 0}img{max-width:100%;border:1px solid #eee}
figcaption{font-size:13px;color:#555}.flag{color:#b00}.note{color:#666;font-size:13px}
.floor{color:#b00}.reachable,.reached{color:#070}.infeasible{color:#a60}.undecided{color:#06c}
"""

_JS = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.length > 0 && imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-ok', ok ? 'yes' : 'no');
  document.body.setAttribute('data-images', String(imgs.length));
});
"""


#: per-curve figures show at most this many curves (the tables list every curve)
MAX_FIGURE_CURVES = 12
#: rows of Fig. 8 (α and C per curve; 10,000 curves made a figure 3,500 inches tall)
MAX_PARAM_ROWS = 60


def build_report(assessment: Assessment, output: str | Path, *,
                 model_size: Sequence[dict[str, Any]] | None = None,
                 complexity: Sequence[dict[str, Any]] | None = None,
                 knob_effects: dict[str, Any] | None = None,
                 max_figure_curves: int = MAX_FIGURE_CURVES) -> Path:
    """Write ``index.html`` with the paper's figures for an assessment; draws only.

    Parameters
    ----------
    assessment : Assessment
        What :func:`syn2real.assess.assess` found: the fits, intervals, verdicts (with a
        target), back-tests (``backtest_curves``: the first ``max_figure_curves``), held-out
        checks, measured points and the full law.
    output : path
        Folder; created if needed. Figures are written as PNG and SVG beside the page.
    model_size : list of dict, optional
        :func:`syn2real.analysis.model_size_study` output: adds the C-vs-size section.
    complexity : list of dict, optional
        Per rendering setting: ``setting``, ``negative_entropy``, ``alpha``, ``alpha_ci``,
        ``C``, ``C_ci`` (the data-complexity study): adds the Fig. 6 section.
    knob_effects : dict, optional
        :func:`syn2real.analysis.knobs.knob_effects` output, shown with that section.
    max_figure_curves : int
        Per-curve figures show the first this many curves; the tables list all of them.

    Returns
    -------
    Path
        The page.
    """
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder (the report is a folder: "
                        "index.html and its figures). Fix: give another -o")
    if assessment.settings.two_inputs:
        raise ValueError("the report draws laws of n (eq. 1 and the power laws); eq. 2 is "
                         "its own section (AssessSettings.full_law)")
    out.mkdir(parents=True, exist_ok=True)
    a = assessment
    level = a.settings.level
    ci_name = "Wald (estimate ± t·SE)" if a.interval_method == "wald" else "profile-likelihood"
    fits = [_curve_fit(c) for c in a.curves]
    shown = fits[:max_figure_curves]
    for f in shown:  # the mean band of Fig. 1, only where a figure shows it
        if f.law.dof_ > 0:
            bn = np.geomspace(f.n.min() / 1.5, f.n.max() * 1.5, 24)
            f.extra["band"] = f.law.predict_interval(bn, level=level, kind="mean")
            f.extra["band_n"] = bn
    figs: list[tuple[str, str, str]] = []
    more = (f" Figures show the first {len(shown)} of {len(fits)} curves (the tables list "
            "all; choose curves with --where)." if len(shown) < len(fits) else "")
    figs.append(("curves", save_figure(fig_curves(shown, level), out, "fig1_curves"),
                 "Fig. 1: fine-tuning error against the number of synthetic pre-training "
                 "images, with the fitted law and its confidence band for the mean." + more))
    rows = fits[:MAX_PARAM_ROWS]  # one row per curve: a page, not a poster
    figs.append(("params", save_figure(fig_params(rows, level), out, "fig8_params"),
                 f"Fig. 8: pre-training rate α and transfer gap C with {ci_name} "
                 "intervals." + (f" The first {len(rows)} of {len(fits)} curves (the tables "
                                 "list all)." if len(rows) < len(fits) else "")))
    figs.append(("linear", save_figure(fig_linearised(shown), out, "fig10_linearised"),
                 "Fig. 10: L − Ĉ in log-log space; eq. 1 predicts straight lines." + more))
    items = [c.backtest for c in a.curves[:max_figure_curves] if c.backtest is not None]
    if items:
        figs.append(("extrapolation", save_figure(fig_extrapolation(items, level), out,
                                            "fig5_extrapolation"),
                     "Fig. 5: fitted on the smaller sizes only; held-out sizes predicted by "
                     "syn2real's predictive distribution (median and prediction interval), "
                     "eq. 1 alone and the power law." + more))
    if any(isinstance(f.law, TransferLaw) for f in shown):
        figs.append(("landscape", save_figure(
            fig_landscape([f for f in shown if isinstance(f.law, TransferLaw)]), out,
            "fig13_landscape"),
            "Fig. 13/14: loss over (α, D) with C at its best value: D and α trade off "
            "along a flat valley, hence the shared D."))
    for i, fl in enumerate(a.full[:3], start=1):
        figs.append((f"full{i}", save_figure(fig_full(fl.label, fl.n, fl.s, fl.err, fl.law),
                                             out, f"fig9_full_law_{i}"),
                     f"Fig. 9: the full law for {html.escape(fl.label)}."))
    extra_html = []
    if model_size:
        figs.append(("modelsize", save_figure(fig_model_size(model_size, level), out,
                                              "fig4_model_size"),
                     "Fig. 4 (right): transfer gap C against backbone parameters, with the "
                     "power law C = k·P<sup>−b</sup> fitted per setting."))
        extra_html.append(_model_size_html(model_size, level))
    points = [p for c in a.curves for p in c.points]
    if points:
        extra_html.append(_points_html(points))
    holdout = [h for c in a.curves for h in c.holdout]
    if holdout:
        extra_html.append(_holdout_html(holdout))
    if complexity:
        figs.append(("complexity", save_figure(fig_complexity(complexity, level), out,
                                               "fig6_complexity"),
                     "Fig. 6: negative entropy of each rendering setting's features against "
                     "α and C."))
        extra_html.append(_complexity_html(complexity, level))
        if knob_effects:
            extra_html.append(_knobs_html(knob_effects))
    page = _page(a, fits, items, figs, extra_html, ci_name=ci_name)
    dest = out / "index.html"
    atomic_write(dest, page.encode())
    summary = [{"curve": f.label, **f.law.to_dict(level=level, intervals=False),
                "ci": {k: list(v) for k, v in f.ci.items()}} for f in fits]
    atomic_write(out / "fits.json", json.dumps(summary, indent=2, default=float).encode())
    return dest


def _curve_fit(c: CurveResult) -> CurveFit:
    """A curve as the figures draw it: its points, fitted law, intervals, from-scratch
    baseline and verdict."""
    f = CurveFit(c.label, c.group, c.arrays["n"], c.arrays["err"], c.law,
                 w=c.arrays["weights"], ci=dict(c.ci))
    if c.baseline is not None:
        f.extra["baseline"] = c.baseline
    if c.advice is not None:
        f.extra["advice"] = c.advice
    return f


def _page(a: Assessment, fits: list[CurveFit], items: list[dict], figs: list[tuple[str, str, str]],
          extra_html: Sequence[str] = (), ci_name: str = "profile-likelihood") -> str:
    level, target, loss = a.settings.level, a.target, a.settings.loss
    shared, D = a.shared, a.D
    e = html.escape
    pct = int(level * 100)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>syn2real report"
             f"</title><style>{_CSS}</style><script>{_JS}</script></head><body>",
             "<h1>syn2real: syn-to-real transfer report</h1>",
             f"<p>Source: <code>{e(a.source)}</code> ({e(a.schema)} schema, {len(fits)} "
             f"curves). Law L(n) = D·n<sup>−α</sup> + C fitted by bounded least squares "
             f"({e(loss)} loss), global optimum by profiling α; {pct}% {e(ci_name)} "
             "intervals.</p>"]
    if target is not None and fits:
        parts.append(_todo_html(fits, target))
    if shared is not None:
        parts.append(f"<p>Shared D by the paper's iterated-median procedure (App. D): "
                     f"<b>D = {shared.D:.4f}</b> (median α {shared.alpha:.3f}); "
                     f"{html.escape(shared.note)}.</p>")
    elif D is not None:
        parts.append(f"<p>D fixed at {float(D):.4g}.</p>")
    if a.notes:
        parts.append("<ul class='note'>" + "".join(f"<li>{e(n)}</li>" for n in a.notes)
                     + "</ul>")
    parts.append(f"<h2>Fits</h2><table><tr><th>curve</th><th>points</th><th>α</th>"
                 f"<th>{pct}% CI</th><th>C</th><th>{pct}% CI</th><th>D</th><th>resid. sd</th>"
                 "<th>flags</th></tr>")
    for f in fits:
        lw = f.law
        parts.append(
            f"<tr><td>{e(f.label)}</td><td>{lw.n_points_}</td><td>{lw.alpha_:.4f}</td>"
            f"<td>{_fmt_ci(f.ci.get('alpha'))}</td><td>{gap(lw):.4f}</td>"
            f"<td>{_fmt_ci(f.ci.get('C'))}</td><td>{lw.D_:.4g}</td><td>{lw.sigma_:.2g}</td>"
            f"<td class='flag'>{e(', '.join(lw.flags_))}</td></tr>")
    parts.append("</table>")
    if target is not None:
        parts.append(_advice_html(fits, target, pct))
    if a.grid:
        parts.append(_grid_html(a.grid, target))
    if items:
        parts.append("<h2>Extrapolation back-test</h2><table><tr><th>curve</th>"
                     "<th>fitted points</th><th>held out</th><th>RMSE syn2real</th>"
                     "<th>RMSE eq. 1</th><th>RMSE power law</th>"
                     f"<th>{pct}% PI coverage (syn2real)</th></tr>")
        for it in items:
            cov = f"{it['covered']:.0%}" if "covered" in it else ""
            parts.append(f"<tr><td>{e(it['label'])}</td><td>{int(it['train'].sum())}</td>"
                         f"<td>{int((~it['train']).sum())}</td>"
                         f"<td>{it['rmse_predictive']:.3g}</td><td>{it['rmse_law']:.3g}</td>"
                         f"<td>{it['rmse_power']:.3g}</td><td>{cov}</td></tr>")
        parts.append("</table>")
    if a.full:
        parts.append("<h2>Full law L(n, s)</h2><table><tr><th>setting</th><th>α</th><th>β</th>"
                     "<th>γ</th><th>δ</th><th>points</th></tr>")
        for full in a.full:
            fl = full.law
            parts.append(f"<tr><td>{e(full.label)}</td><td>{fl.alpha_:.3f} ± {fl.se_['alpha']:.2g}"
                         f"</td><td>{fl.beta_:.3f} ± {fl.se_['beta']:.2g}</td>"
                         f"<td>{fl.gamma_:.3f}</td><td>{fl.delta_:.3g}</td>"
                         f"<td>{fl.n_points_}</td></tr>")
        parts.append("</table>")
    parts.extend(extra_html)
    parts.append("<h2>Figures</h2>")
    for key, uri, cap in figs:
        parts.append(f"<figure id='{key}'><img src='{uri}' alt='{e(cap)}'>"
                     f"<figcaption>{cap}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _section_table(title: str, note: str, header: Sequence[str], body: Sequence[str]) -> str:
    """A report section: heading, one-line note and a table (``body``: ready ``<tr>`` rows)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return (f"<h2>{html.escape(title)}</h2><p class='note'>{html.escape(note)}</p>"
            f"<table><tr>{head}</tr>{''.join(body)}</table>")


def _points_html(points: Sequence[dict[str, Any]]) -> str:
    e = html.escape
    body, last = [], None
    for p in points:
        se = "–" if np.isnan(p["se"]) else f"{p['se']:.4f}"
        body.append(f"<tr><td>{e(p['label']) if p['label'] != last else ''}</td>"
                    f"<td>{p['n']:,.0f}</td><td>{p['mean']:.4f}</td><td>{se}</td>"
                    f"<td>{p['runs']} ({p.get('pretrains', 1)})</td>"
                    f"<td>{_sd(p.get('sd_pretrain'))}</td><td>{_sd(p.get('sd_finetune'))}</td>"
                    f"<td>{'held out of the fit' if p['held_out'] else ''}</td></tr>")
        last = p["label"]
    return _section_table(
        "Measured points", "Mean fine-tuning error over the runs at each size, with its "
        "standard error: the noise the law is fitted through. The runs are nested, "
        "fine-tuning seeds inside pre-training seeds; the standard error counts the spread "
        "between pre-trainings where there are two or more (pooled over the curve's sizes), "
        "else fine-tuning seeds only. The last two columns: one run's spread between "
        "pre-trainings and between fine-tunings of one pre-training.",
        ["curve", "n", "error", "std. error", "runs (pre-trainings)", "sd pre-training",
         "sd fine-tuning", ""], body)


def _sd(v: float | None) -> str:
    return "–" if v is None or v != v else f"{v:.4f}"


def _holdout_html(checks: Sequence[dict[str, Any]]) -> str:
    e = html.escape
    body = []
    for h in checks:
        lo, hi = h["interval"]
        ok = "inside" if h["inside"] else "OUTSIDE"
        body.append(f"<tr><td>{e(h['label'])}</td><td>{h['n']:,.0f}</td>"
                    f"<td>{h['predicted']:.4f}</td><td>[{lo:.4f}, {hi:.4f}] "
                    f"({h['level']:.0%})</td><td>{h['measured']:.4f}</td><td>{h['runs']}</td>"
                    f"<td class='{'reachable' if h['inside'] else 'floor'}'>{ok}</td></tr>")
    return _section_table(
        "Held-out check", "Sizes trained but kept out of the fit, predicted from the smaller "
        "ones by the predictive distribution.",
        ["curve", "n", "predicted", "interval", "measured", "runs", ""], body)


def _todo_html(fits: Sequence[CurveFit], target: float) -> str:
    e = html.escape
    rows = [f"<h2>What to do (target error {target:g})</h2><ul class='todo'>"]
    for f in fits:
        a = f.extra["advice"]
        rows.append(f"<li><b>{e(f.label)}</b>: <span class='{a.scenario}'>"
                    f"{e(todo_sentence(a, target))}</span></li>")
    rows.append("</ul>")
    return "\n".join(rows)


def _advice_html(fits: Sequence[CurveFit], target: float, pct: int) -> str:
    e = html.escape
    rows = [f"<h2>Advisor (target error {target:g})</h2>",
            "<ul class='verdicts'>"]
    for f in fits:
        a = f.extra["advice"]
        rows.append(f"<li><b>{e(f.label)}</b>: <span class='{a.scenario}'>{e(a.verdict)}"
                    "</span></li>")
    rows.append("</ul><table><tr><th>curve</th><th>verdict</th><th>P(reach)</th>"
                f"<th>n*</th><th>{pct}% interval</th><th>next run</th><th>flags</th></tr>")
    for f in fits:
        a = f.extra["advice"]
        nxt = (f"n = {fmt_n(a.next_run.n)} (decides with {a.next_run.p_decide:.0%})"
               if a.next_run is not None else "")
        if a.scenario == "reached":  # measured, not predicted: no n* beside "reached"
            reached = f.n[f.err <= a.target]
            star = f"measured at {fmt_n(float(reached.min()))}" if len(reached) else "—"
            ci = "—"
        else:
            star = fmt_n(a.n_star)
            ci = f"{fmt_n(a.n_star_ci[0])}–{fmt_n(a.n_star_ci[1])}"
        rows.append(f"<tr><td>{e(f.label)}</td><td class='{a.scenario}'>{a.scenario}</td>"
                    f"<td>{a.p_reach:.0%}</td><td>{star}</td><td>{ci}</td>"
                    f"<td>{e(nxt)}</td><td class='flag'>{e(', '.join(a.flags))}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _grid_html(grid: Sequence[GridResult], target: float) -> str:
    e = html.escape
    body = []
    for g in grid:
        a = g.advice
        nxt = (f"n = {fmt_n(a.next_run.n)}, s = {fmt_n(a.next_run.s)} (decides with "
               f"{a.next_run.p_decide:.0%})" if a.next_run is not None else "")
        body.append(f"<tr><td>{e(g.label)}</td><td class='{a.scenario}'>{a.scenario}</td>"
                    f"<td>{a.p_reach:.0%}</td><td>{a.p_render:.0%}</td><td>{a.p_label:.0%}"
                    f"</td><td>{e(nxt)}</td><td>{e(a.verdict)}</td></tr>")
    return _section_table(
        f"Render more or label more (eq. 2, target error {target:g})",
        "The full law L(n, s) fitted to each setting's grid of synthetic (n) and real (s) "
        "sizes: P(reach) within both budgets, by rendering alone and by labelling alone, "
        "and the (n, s) run that best settles it per unit of cost.",
        ["setting", "verdict", "P(reach)", "P(render more)", "P(label more)", "next run",
         ""], body)


def _model_size_html(study: Sequence[dict[str, Any]], level: float) -> str:
    e = html.escape
    pct = int(level * 100)
    rows = ["<h2>Transfer gap against model size</h2><table><tr><th>setting</th><th>model</th>"
            f"<th>params (M)</th><th>C</th><th>{pct}% CI</th><th>fit C = k·P<sup>−b</sup>"
            "</th></tr>"]
    for s in study:
        f = s.get("fit")
        fit = (f"b = {f['b']:.3f} {_fmt_ci(f['b_ci'])}" if f else e(s.get("note", "")))
        for i, p in enumerate(s["points"]):
            rows.append(f"<tr><td>{e(s.get('label') or '') if i == 0 else ''}</td>"
                        f"<td>{e(str(p['model']))}</td><td>{p['size']:.1f}</td>"
                        f"<td>{p['C']:.4f}</td><td>{_fmt_ci(p['C_ci'])}</td>"
                        f"<td>{fit if i == 0 else ''}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _complexity_html(rows_in: Sequence[dict[str, Any]], level: float) -> str:
    e = html.escape
    pct = int(level * 100)
    rows = ["<h2>Data complexity</h2><table><tr><th>setting</th><th>knobs</th>"
            f"<th>−H</th><th>covariance</th><th>α</th><th>{pct}% CI</th><th>C</th>"
            f"<th>{pct}% CI</th></tr>"]
    for r in rows_in:
        rows.append(f"<tr><td>{e(r['setting'])}</td><td>{e(r.get('knobs', ''))}</td>"
                    f"<td>{r['negative_entropy']:.1f}</td><td>{e(r.get('estimator', ''))}</td>"
                    f"<td>{r['alpha']:.3f}</td><td>{_fmt_ci(r.get('alpha_ci'))}</td>"
                    f"<td>{r['C']:.4f}</td><td>{_fmt_ci(r.get('C_ci'))}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _knobs_html(effects: dict[str, Any]) -> str:
    e = html.escape
    parts = ["<h3>Which knob moves which parameter</h3>",
             f"<p class='note'>{e(effects.get('note', ''))}</p>"]
    if effects.get("effects"):
        qs = list(effects["effects"])
        parts.append("<table><tr><th>knob (second option)</th>"
                     + "".join(f"<th>effect on {e(q)}</th>" for q in qs) + "</tr>")
        for knob in effects["knobs"]:
            cells = []
            for q in qs:
                v = effects["effects"][q][knob]
                se = "" if v["se"] != v["se"] else f" ± {v['se']:.3g}"
                cells.append(f"<td>{v['effect']:+.4g}{se}</td>")
            parts.append(f"<tr><td>{e(knob)}</td>{''.join(cells)}</tr>")
        parts.append("</table>")
    return "".join(parts)
