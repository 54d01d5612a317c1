"""The paper's figures from fitted curves (matplotlib, headless)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..advise.advice import fmt_n
from ..law import FullTransferLaw, TransferLaw

Array = np.ndarray


@dataclass
class CurveFit:
    """One curve with its fitted law and what the report shows about it."""

    label: str
    group: dict
    n: Array
    err: Array
    law: Any  # a fitted law of n with alpha and D (TransferLaw, PowerLaw)
    w: Array | None = None
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def gap(law: Any) -> float:
    """The transfer gap C of a fitted law (0 for the power law, which has none)."""
    return float(law.params_.get("C", 0.0))


def mpl_text(text: str) -> str:
    """User text for matplotlib: ``$`` would start math mode (``$\\x$`` breaks a figure)."""
    return str(text).replace("$", r"\$")


def _grid(k: int, width: float = 3.2, height: float = 2.6, ncol: int = 4
          ) -> tuple[plt.Figure, list[plt.Axes]]:
    ncol = min(ncol, k)
    nrow = math.ceil(k / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(width * ncol, height * nrow), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[k:]:
        ax.set_visible(False)
    return fig, flat[:k]


def log_n_axis(ax: Any, n: Array) -> None:
    """A log n axis whose labels never overlap: plain numbers (1k, 20k) at 1-2-5 steps, and
    for data spanning less than a decade a few linear-looking ticks instead of matplotlib's
    crowded minor labels."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    ax.set_xscale("log")
    lo, hi = float(np.min(n)), float(np.max(n))
    fmt = FuncFormatter(lambda v, _: fmt_n(v) if v > 0 else "")
    if hi / max(lo, 1e-300) < 10:  # under a decade: four ticks spread over the data
        ticks = np.unique(np.array([float(f"{t:.2g}") for t in np.geomspace(lo, hi, 4)]))
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(fmt)
    ax.xaxis.set_minor_formatter(NullFormatter())


def fig_curves(fits: Sequence[CurveFit], level: float = 0.9) -> plt.Figure:
    """Fig. 1: errors against n with the fitted law and its confidence band."""
    fig, axes = _grid(len(fits), width=5.0 if len(fits) == 1 else 3.2)
    for f, ax in zip(fits, axes, strict=True):
        grid = np.geomspace(f.n.min() / 1.5, f.n.max() * 1.5, 40)
        ax.plot(f.n, f.err, "o", ms=4, color="C0", label="measured")
        if "baseline" in f.extra:
            ax.axhline(f.extra["baseline"], ls="--", color="0.4", lw=1,
                       label="from scratch (n = 0)")
        ax.plot(grid, f.law.predict(grid), "-", color="C1", label="eq. 1 fit")
        if "band" in f.extra:
            lo, hi = f.extra["band"]
            ax.fill_between(f.extra["band_n"], lo, hi, color="C1", alpha=0.2,
                            label=f"{int(level * 100)}% band")
        log_n_axis(ax, f.n)
        ax.set_title(mpl_text(f.label), fontsize=9)
        ax.text(0.97, 0.95, f"α={f.law.alpha_:.3f}\nC={gap(f.law):.3f}\nD={f.law.D_:.3g}",
                transform=ax.transAxes, ha="right", va="top", fontsize=8)
        ax.set_xlabel("synthetic images n", fontsize=8)
        ax.set_ylabel("fine-tuning error", fontsize=8)
        ax.tick_params(labelsize=7)
    # below the panels: a legend inside one can hide the n = 0 line or the points
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle("Fine-tuning error vs. pre-training size, L(n) = D n^-α + C", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7,
               frameon=False)
    return fig


def fig_linearised(fits: Sequence[CurveFit]) -> plt.Figure:
    """Fig. 10: ``L - C`` against n in log-log space should be the line ``D n^-alpha``."""
    fig, ax = plt.subplots(figsize=(7, 5))
    for i, f in enumerate(fits):
        y = f.err - gap(f.law)
        ok = y > 0
        c = f"C{i % 10}"
        ax.plot(f.n[ok], y[ok], "o", color=c, ms=4, label=mpl_text(f.label))
        if (~ok).any():
            ax.plot(f.n[~ok], np.full((~ok).sum(), np.nan), "x", color=c)
        g = np.geomspace(f.n.min(), f.n.max(), 20)
        ax.plot(g, f.law.D_ * g ** (-f.law.alpha_), "-", color=c, lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("synthetic images n")
    ax.set_ylabel("L − Ĉ")
    ax.set_title("Linearised check: points on straight lines support eq. 1")
    if len(fits) <= 12:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fig_extrapolation(items: Sequence[dict[str, Any]], level: float = 0.9) -> plt.Figure:
    """Fig. 5: fit on small n, predict large n: eq. 1 against the power law."""
    fig, axes = _grid(len(items), 4.0, 3.0, 3)
    for it, ax in zip(items, axes, strict=True):
        n, err, train = it["n"], it["err"], it["train"]
        grid = np.geomspace(n.min(), n.max() * 2, 60)
        ax.plot(n[train], err[train], "o", color="C0", ms=4, label="fitted points")
        ax.plot(n[~train], err[~train], "s", color="C3", ms=4, label="held out")
        if "predictive" in it:
            ax.plot(grid, it["predictive"].predict(grid), "-", color="C0",
                    label=f"syn2real median (RMSE {it['rmse_predictive']:.2g})")
        ax.plot(grid, it["law"].predict(grid), "-.", color="C1",
                label=f"eq. 1 (RMSE {it['rmse_law']:.2g})")
        ax.plot(grid, it["power"].predict(grid), "--", color="C2",
                label=f"power law (RMSE {it['rmse_power']:.2g})")
        if "pi" in it:
            ax.fill_between(it["pi_n"], it["pi"][0], it["pi"][1], color="C0", alpha=0.2,
                            label=f"{int(level * 100)}% prediction interval")
        ax.axvspan(n[~train].min() / 1.2, grid.max(), color="0.9", zorder=-1)
        ax.set_xscale("log")
        ax.set_title(mpl_text(it["label"]), fontsize=9)
        ax.legend(fontsize=6)
        ax.tick_params(labelsize=7)
    fig.suptitle("Extrapolation back-test (grey: predicted region)")
    fig.tight_layout()
    return fig


def fig_params(fits: Sequence[CurveFit], level: float = 0.9) -> plt.Figure:
    """Fig. 8: alpha and C with their profile intervals per curve."""
    k = len(fits)
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.35 * k + 1.5), sharey=True)
    ypos = np.arange(k)
    for ax, p in zip(axes, ("alpha", "C"), strict=True):
        est = np.array([f.law.params_.get(p, 0.0) for f in fits])
        lo = np.array([f.ci.get(p, (np.nan, np.nan))[0] for f in fits])
        hi = np.array([f.ci.get(p, (np.nan, np.nan))[1] for f in fits])
        xerr = np.vstack([np.clip(est - lo, 0, None), np.clip(hi - est, 0, None)])
        ax.errorbar(est, ypos, xerr=np.nan_to_num(xerr), fmt="o", color="C0", capsize=3)
        ax.set_xlabel({"alpha": "pre-training rate α", "C": "transfer gap C"}[p])
        ax.grid(alpha=0.3)
    axes[0].set_yticks(ypos, [mpl_text(f.label) for f in fits], fontsize=7)
    axes[0].invert_yaxis()
    fig.suptitle(f"Parameters with {int(level * 100)}% profile-likelihood intervals")
    fig.tight_layout()
    return fig


def landscape(law: TransferLaw, alphas: Array, Ds: Array) -> Array:
    """Objective over an (alpha, D) grid with C at its best value (Fig. 13/14)."""
    n, y, w = law.X_["n"], law.y_, law.w_
    clo, chi = law._bounds()["C"]
    A, Dm = np.meshgrid(alphas, Ds, indexing="ij")
    x = n[None, None, :] ** (-A[..., None])
    resid0 = y[None, None, :] - Dm[..., None] * x
    C = np.clip(np.sum(w * resid0, axis=-1) / np.sum(w), clo, chi)
    r = resid0 - C[..., None]
    return 0.5 * np.sum(w * r * r, axis=-1)


def fig_landscape(fits: Sequence[CurveFit], max_panels: int = 4) -> plt.Figure:
    """Fig. 13/14: the flat valley of the loss over (alpha, D)."""
    sel = list(fits)[:max_panels]
    fig, axes = _grid(len(sel), 3.6, 3.0, 4)
    for f, ax in zip(sel, axes, strict=True):
        # a window around this curve's own optimum, so its star is always inside
        a0, d0 = float(f.law.alpha_), float(max(f.law.D_, 1e-12))
        alphas = np.linspace(max(0.01, a0 / 3), a0 * 3 + 0.1, 80)
        Ds = np.geomspace(d0 / 30, d0 * 30, 80)
        L = landscape(f.law, alphas, Ds)
        cs = ax.contourf(alphas, Ds, np.log10(L.T + 1e-300), levels=20, cmap="viridis")
        ax.plot(f.law.alpha_, f.law.D_, "r*", ms=10)
        ax.set_yscale("log")
        ax.set_xlabel("α", fontsize=8)
        ax.set_ylabel("D", fontsize=8)
        ax.set_title(mpl_text(f.label), fontsize=9)
        fig.colorbar(cs, ax=ax, label="log10 loss")
    fig.suptitle("Loss landscape over (α, D), C profiled out: a long flat valley")
    fig.tight_layout()
    return fig


def fig_full(label: str, n: Array, s: Array, err: Array, law: FullTransferLaw,
             xlabels: tuple[str, str] = ("synthetic images n", "real fine-tuning images s")
             ) -> plt.Figure:
    """Fig. 9: the full law as curves in n for each s and in s for each n.

    The error axis is logarithmic when the errors span more than a factor of 10.
    """
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ss = np.unique(s)
    ns = np.unique(n)
    gn = np.geomspace(ns.min(), ns.max(), 40)
    for i, sv in enumerate(ss):
        m = s == sv
        a1.plot(n[m], err[m], "o", color=f"C{i % 10}", ms=4, label=f"s={sv:,.0f}")
        a1.plot(gn, law.predict(gn, np.full_like(gn, sv)), "-", color=f"C{i % 10}", lw=1)
    gs = np.geomspace(ss.min(), ss.max(), 40)
    for i, nv in enumerate(ns):
        m = n == nv
        a2.plot(s[m], err[m], "o", color=f"C{i % 10}", ms=4, label=f"n={nv:,.0f}")
        a2.plot(gs, law.predict(np.full_like(gs, nv), gs), "-", color=f"C{i % 10}", lw=1)
    logy = err.min() > 0 and err.max() / err.min() > 10
    for ax, xl in ((a1, xlabels[0]), (a2, xlabels[1])):
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel("error")
        ax.legend(fontsize=7)
    fig.suptitle(f"{mpl_text(label)}: L(n, s) = δ(γ + n^-α) s^-β, α={law.alpha_:.3f}, "
                 f"β={law.beta_:.3f}, γ={law.gamma_:.3f}, δ={law.delta_:.3g}")
    fig.tight_layout()
    return fig


__all__ = [
    "CurveFit",
    "fig_curves",
    "fig_extrapolation",
    "fig_full",
    "fig_landscape",
    "fig_linearised",
    "fig_params",
    "fig_plateau",
    "landscape",
]


def fig_plateau(n: Array, curves: dict[float, tuple[Array, float]], s: float) -> plt.Figure:
    """L(n) at fixed s for several task dissimilarities, with each fitted floor C(s)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (norm, (err, floor)) in enumerate(sorted(curves.items())):
        c = f"C{i % 10}"
        ax.plot(n, err, "o-", color=c, ms=4, label=f"‖φ1‖ = {norm:g}")
        if np.isfinite(floor):
            ax.axhline(floor, color=c, ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pre-training steps n")
    ax.set_ylabel("fine-tuning error E‖g − φ‖²")
    ax.set_title(f"L(n) at s = {s:,.0f} per task dissimilarity (dotted: fitted C of eq. 1)",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_model_size(study: Sequence[dict[str, Any]], level: float = 0.9) -> plt.Figure:
    """Fig. 4 (right): transfer gap C against backbone parameters, log-log, with the C
    intervals and the fitted power law ``C = k P^-b`` per setting."""
    k = max(1, len(study))
    fig, axes = _grid(k, width=3.6, height=3.0, ncol=3)
    for ax, s in zip(axes, study, strict=False):
        pts = s["points"]
        if pts:
            P = np.array([p["size"] for p in pts])
            C = np.array([p["C"] for p in pts])
            lo = np.array([p["C_ci"][0] for p in pts])
            hi = np.array([p["C_ci"][1] for p in pts])
            ax.errorbar(P, C, yerr=np.vstack([np.clip(C - lo, 0, None),
                                              np.clip(hi - C, 0, None)]),
                        fmt="o", capsize=3, color="C0")
            for p in pts:
                ax.annotate(mpl_text(p["model"]), (p["size"], p["C"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
            f = s.get("fit")
            if f:
                grid = np.geomspace(P.min() / 1.3, P.max() * 1.3, 50)
                ax.plot(grid, f["k"] * grid ** -f["b"], color="C1",
                        label=f"C = {f['k']:.3g}·P^-{f['b']:.3f}\n"
                              f"b {int(level * 100)}% CI [{f['b_ci'][0]:.3f}, "
                              f"{f['b_ci'][1]:.3f}]")
                ax.legend(fontsize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("backbone parameters (millions)")
        ax.set_ylabel("transfer gap C")
        ax.set_title(mpl_text(s.get("label") or "all curves"), fontsize=8)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def fig_complexity(rows: Sequence[dict[str, Any]], level: float = 0.9) -> plt.Figure:
    """Fig. 6: per rendering setting, negative entropy against alpha and against C (with
    their intervals)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    H = np.array([r["negative_entropy"] for r in rows])
    for ax, p, name in zip(axes, ("alpha", "C"), ("pre-training rate α", "transfer gap C"),
                           strict=True):
        est = np.array([r[p] for r in rows])
        lo = np.array([r[f"{p}_ci"][0] if r.get(f"{p}_ci") else np.nan for r in rows])
        hi = np.array([r[f"{p}_ci"][1] if r.get(f"{p}_ci") else np.nan for r in rows])
        yerr = np.nan_to_num(np.vstack([np.clip(est - lo, 0, None), np.clip(hi - est, 0, None)]))
        ax.errorbar(H, est, yerr=yerr, fmt="o", capsize=3)
        for r in rows:
            ax.annotate(mpl_text(r["setting"]), (r["negative_entropy"], r[p]), fontsize=8,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("negative entropy −H (lower: more complex data)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Data complexity against the law's parameters ({int(level * 100)}% intervals)")
    fig.tight_layout()
    return fig
