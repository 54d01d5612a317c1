"""The isotonic decision protocol's section of ``bench_decide.py`` (issue 24).

Cases from :func:`decide_cases.load_iso_cases` (protocol:
:mod:`syn2real.law.decision_backtest`): truth = a non-increasing isotonic fit of the whole
curve, targets ``S·(1 + d)``, near-ties (within 2σ) outside the headline. Every method that
learns from curves is scored leave-one-source-out: its learned parts are rebuilt without the
scored source.

Methods
-------
* ``syn2real``: :class:`syn2real.law.CurvePredictor` as ``advise`` uses it (curve kind
  given; beyond the data the equal mixture of the prior-fitted network and the calibrated
  ensemble), ``p_reach`` with the curve's later sizes as the runs; its corpus prior rebuilt
  without the scored source; ``syn2real-quantile``: the two quantile functions averaged
  instead; ``syn2real-pfn`` and ``syn2real-ensemble``: each alone;
* ``power``: a least-squares power law ``D n^-α``, reachable iff its prediction at the budget
  is at or below the target;
* ``line2``: the log-log line through the last two fitted points, same rule.

Baselines rank their calls (risk–coverage) by ``|log(n*/budget)|``, ``n*`` their crossing of
the target; syn2real by ``|p - 0.5|``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from build_prior import build_prior
from decide_cases import load_iso_cases
from syn2real.law import PowerLaw, fit_curves, fit_predictors
from syn2real.law.decision_backtest import (
    DELTAS,
    DecisionCase,
    bootstrap_margin,
    decision_scores,
    risk_coverage,
)

Array = np.ndarray
BASELINES = ("power", "line2")
#: Sources with fewer usable curves are scored but left out of the source mean (too few to
#: weigh as much as a source of hundreds).
MIN_SOURCE_CURVES = 20


def _baseline_calls(cases: list[DecisionCase]) -> dict[str, list[tuple[Array, Array]]]:
    """Per baseline and case: (p of reachable per target, confidence per target)."""
    pw = fit_curves(PowerLaw(), [{"n": c.x, "err": c.y} for c in cases])
    out: dict[str, list] = {"power": [], "line2": []}
    for c, r in zip(cases, pw, strict=True):
        T = np.array([t["target"] for t in c.targets])
        D, a = r["D"], r["alpha"]
        lx, ly = np.log(c.x[-2:]), np.log(c.y[-2:])
        slope = (ly[1] - ly[0]) / (lx[1] - lx[0])
        for name, logpred, lognstar in (
                ("power", np.log(D) - a * np.log(c.budget),
                 (np.log(D) - np.log(T)) / a if a > 0 else np.full(len(T), np.inf)),
                ("line2", ly[1] + slope * (np.log(c.budget) - lx[1]),
                 lx[1] + (np.log(T) - ly[1]) / slope if slope < 0 else
                 np.full(len(T), np.inf))):
            p = (logpred <= np.log(T)).astype(float)
            conf = np.abs(lognstar - np.log(c.budget))
            out[name].append((p, np.where(np.isfinite(conf), conf, 1e9)))
    return out



#: 90% prediction-interval coverage of the later measurements, per method and source
COVERAGE: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))


def _engine(extrapolator: str, pool: str = "probability"):
    def calls(train: list[DecisionCase], test: list[DecisionCase]
              ) -> list[tuple[Array, Array]]:
        """The engine with its corpus prior built on ``train`` only, its calls on ``test``."""
        prior = build_prior(train)  # reads source, x, y: the fitted prefixes only
        preds = fit_predictors([{"n": c.x, "err": c.y, "kind": c.kind} for c in test],
                               prior=prior, extrapolator=extrapolator, pool=pool)
        out = []
        name = ("syn2real" if extrapolator == "pfn+ensemble" and pool == "probability" else
                "syn2real-quantile" if extrapolator == "pfn+ensemble" else
                f"syn2real-{extrapolator}")
        for c, p in zip(test, preds, strict=True):
            ps = np.array([p.p_reach(t["target"], c.budget, at=c.x_future)
                           for t in c.targets])
            out.append((ps, np.abs(ps - 0.5)))
            k = np.unique(np.round(np.linspace(0, len(c.x_future) - 1, 24)).astype(int))
            lo, hi = p.predict_interval(c.x_future[k], 0.9)
            inside = float(np.mean((c.y_future[k] >= lo) & (c.y_future[k] <= hi)))
            COVERAGE[name][c.source].append(inside)
            COVERAGE[name]["all"].append(inside)
        return out
    return calls


METHODS: dict[str, Callable[[list[DecisionCase], list[DecisionCase]],
                            list[tuple[Array, Array]]]] = {
    "syn2real": _engine("pfn+ensemble"), "syn2real-quantile": _engine("pfn+ensemble",
                                                                      "quantile"),
    "syn2real-pfn": _engine("pfn"), "syn2real-ensemble": _engine("ensemble")}


def loso(method, cases: list[DecisionCase]) -> list[tuple[Array, Array]]:
    """Calls of ``method`` on every case, each source scored with the rest as training."""
    res: list = [None] * len(cases)
    for src in sorted({c.source for c in cases}):
        idx = [i for i, c in enumerate(cases) if c.source == src]
        train = [c for c in cases if c.source != src]
        for i, r in zip(idx, method(train, [cases[i] for i in idx]), strict=True):
            res[i] = r
    return res


def _flatten(cases, calls):
    rows = []
    for ci, (c, (p, conf)) in enumerate(zip(cases, calls, strict=True)):
        for t, pi, ki in zip(c.targets, p, conf, strict=True):
            rows.append((c.source, ci, t["d"], t["reachable"], t["near_tie"], float(pi),
                         float(ki)))
    return rows


def run(methods: tuple[str, ...] = ("syn2real", "syn2real-quantile", "syn2real-pfn",
                                    "syn2real-ensemble"),
        cases: list[DecisionCase] | None = None,
        n_boot: int = 1000) -> dict:
    """Score ``methods`` and the baselines; print the tables; return the headline numbers."""
    cases = cases if cases is not None else load_iso_cases()
    srcs = sorted({c.source for c in cases})
    n_t = sum(len(c.targets) for c in cases)
    n_tie = sum(t["near_tie"] for c in cases for t in c.targets)
    print(f"isotonic protocol: {len(cases)} curves, {n_t} cases ({n_tie} near-ties set aside): "
          + ", ".join(f"{s} {sum(c.source == s for c in cases)}" for s in srcs))
    calls = {m: loso(METHODS[m], cases) for m in methods}
    calls.update(_baseline_calls(cases))
    rows = {m: _flatten(cases, v) for m, v in calls.items()}

    def sel(m, src=None, d=None, ties=False):
        r = [x for x in rows[m] if x[4] == ties and (src is None or x[0] == src)
             and (d is None or x[2] == d)]
        return (np.array([x[3] for x in r], bool), np.array([x[5] for x in r]),
                np.array([x[6] for x in r]), np.array([x[1] for x in r]))

    groups = ["all", *srcs]
    print(f"\n{'method':18s}" + "".join(f"{g:>30s}" for g in groups))
    print(f"{'':18s}" + "".join(f"{'bal / acc / brier / cw':>30s}" for _ in groups))
    table: dict[str, dict[str, dict]] = defaultdict(dict)
    for m in rows:
        cells = []
        for g in groups:
            t, p, _, _ = sel(m, None if g == "all" else g)
            sc = decision_scores(t, p)
            table[m][g] = sc
            cells.append(f"{sc['bal_acc']:.3f} / {sc['acc']:.3f} / {sc['brier']:.3f} / "
                         f"{sc['conf_wrong']:.2f}")
        print(f"{m:18s}" + "".join(f"{x:>30s}" for x in cells))
    big = [g for g in srcs if sum(c.source == g for c in cases) >= MIN_SOURCE_CURVES]
    print(f"\nmean over the {len(big)} sources with >= {MIN_SOURCE_CURVES} curves (each source "
          "weighted equally; the 'all' column weighs every case equally):")
    for m in rows:
        sm = {k: float(np.nanmean([table[m][g][k] for g in big])) for k in
              ("bal_acc", "brier", "conf_wrong")}
        table[m]["source-mean"] = sm
        print(f"  {m:18s} {sm['bal_acc']:.3f} / {sm['brier']:.3f} / {sm['conf_wrong']:.2f}")
    print("\nreachable / unreachable accuracy:")
    for m in rows:
        print(f"  {m:18s}" + "".join(
            f"{g}: {table[m][g]['acc_reachable']:.3f} / {table[m][g]['acc_unreachable']:.3f}  "
            for g in groups))
    print("\nbalanced accuracy per d (all sources):")
    print(f"  {'method':18s}" + "".join(f"{d:>+8.0%}" for d in DELTAS))
    for m in rows:
        cells = []
        for d in DELTAS:
            t, p, _, _ = sel(m, d=d)
            cells.append(f"{decision_scores(t, p)['acc']:8.3f}" if len(t) else f"{'-':>8s}")
        print(f"  {m:18s}" + "".join(cells))
    print("  (one d is all-reachable or all-unreachable: its balanced accuracy is its accuracy)")
    head: dict = {}
    print("\nmargin over the best baseline (balanced accuracy, 95% curve-bootstrap CI) and "
          "risk–coverage (accuracy of the most confident 50%):")
    for m in methods:
        for g in groups:
            best = max(BASELINES, key=lambda b: table[b][g]["bal_acc"])
            t, p, _, gi = sel(m, None if g == "all" else g)
            pb = sel(best, None if g == "all" else g)[1]
            mar, lo, hi = bootstrap_margin(gi, t, p, pb, n_boot=n_boot)
            rc = {x: risk_coverage(t, sel(x, None if g == "all" else g)[1] >= 0.5,
                                   sel(x, None if g == "all" else g)[2])
                  for x in (m, *BASELINES)}
            print(f"  {m:18s} {g:12s} vs {best:6s}: {mar:+.3f} [{lo:+.3f}, {hi:+.3f}]   "
                  "risk–coverage@50%: " + ", ".join(f"{x} {v:.3f}" for x, v in rc.items()))
            head.setdefault(m, {})[g] = {"margin": mar, "ci": (lo, hi), "rc": rc,
                                         **table[m][g]}
    print("\n90% prediction intervals of the later measurements (each curve weighted "
          "equally), coverage:")
    for m in methods:
        print(f"  {m:18s}" + "   ".join(f"{g} {np.mean(COVERAGE[m][g]):.3f}" for g in groups))
        for g in groups:
            head[m][g]["pi_coverage"] = float(np.mean(COVERAGE[m][g]))
    print("\nnear-ties (|log T - log S| < 2σ), not in the headline:")
    for m in rows:
        t, p, _, _ = sel(m, ties=True)
        sc = decision_scores(t, p)
        print(f"  {m:18s} {sc['cases']} cases: acc {sc['acc']:.3f}, brier {sc['brier']:.3f}")
    return {"table": table, "head": head}

