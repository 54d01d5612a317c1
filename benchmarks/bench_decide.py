"""Decision back-test: is a target reached within the budget? syn2real vs naive baselines.

First section (issue 24, ``decide_iso.py``): the isotonic protocol of
:mod:`syn2real.law.decision_backtest` — truth from a non-increasing fit of the whole curve,
targets ``S·(1 + d)`` for ``d`` in ±2…20%, near-ties set aside, balanced accuracy as the
headline, everything learned rebuilt without the scored source. Its last line:
``balanced_accuracy: x best_baseline: y margin: m ci: lo hi brier: b``.

Second section, the earlier protocol (issue 11, cases from ``decide_cases.py``): per curve,
fit only the sizes
``x <= x_max / 4`` (at least 4 points); budget = the largest observed size; targets
``y(x_max)·1.01``, midway between the best prefix error and the best later error,
``0.98·min y`` and ``0.90·min y`` (those already met in the prefix dropped); truth = a measured
error at some ``x <= budget`` reaches the target. Sources: ``../shared/data/dev-curves``
(lin2024, colpret, LCDB) and ``../shared/data/cg-transfer``.

Methods, all in this run:

* ``syn2real``: the predictive engine (:class:`syn2real.law.CurvePredictor`, what
  :func:`syn2real.advise.advise` decides from), ``p_reach`` given the runs the curve has after
  the fitted part (their sizes only, never their values); ``syn2real@budget``: the same
  with one run at the budget (the advisor's default question);
* ``legacy``: the advisor of commit a633873 (eq. 1 with default bounds), its decision
  without the intervals (:func:`syn2real.advise.legacy.legacy_call`: reached / floor /
  infeasible / reachable, ``p_reach = 1 - p_floor`` where it has no other probability);
* ``power``: a power law ``D n^-α`` (least squares), reachable iff its prediction at the budget
  is at or below the target;
* ``line2``: the log-log line through the last two fitted points, same rule;
* ``(oracle)``: not a method, the ceiling of this protocol: the mean of the last three *later*
  measurements taken as the prediction (the targets sit within 1-2% of measured values).

Per source and overall: decision accuracy (``p_reach >= 0.5`` counts as "reachable"), Brier
score of ``p_reach``, share of wrong calls among confident ones (``p >= 0.95`` or ``<= 0.05``),
coverage of 90% prediction intervals of the later measurements (every later point, at most 24
per curve, each curve weighted equally) and of 90% n* intervals (cases whose target was
reached), median ``|log2(n*/n_true)|``, seconds per call, and the rising-tail rule of
:func:`syn2real.advise.decide` (curves flagged ``rising``: how often the target was reached
anyway, against syn2real's own ``p_reach`` call on them). ``--loso`` also scores syn2real with
the corpus prior rebuilt without the scored source (what an unseen source would get).

Its last line: ``decision_accuracy: x best_baseline: y brier: z pi_coverage: w``.
Usage: python benchmarks/bench_decide.py [--loso] [--timing-curves 30] [--only-iso]. Run it
alone.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

import decide_iso
from build_prior import build_prior
from decide_cases import Case, load_cases
from syn2real.advise import advise, advise_legacy
from syn2real.advise.legacy import legacy_call
from syn2real.law import CurvePredictor, PowerLaw, TransferLaw, fit_curves, fit_predictors


def _rows(cases: list[Case], p_of) -> list[tuple[str, str, bool, float]]:
    out = []
    for i, c in enumerate(cases):
        for kind, t, truth, _ in c.targets:
            out.append((c.source, kind, truth, float(p_of(i, t))))
    return out


def _scores(rows: list[tuple[str, str, bool, float]]) -> dict[str, dict[str, float]]:
    by: dict[str, list] = defaultdict(list)
    for src, _, truth, p in rows:
        by[src].append((truth, p))
        by["all"].append((truth, p))
    res = {}
    for src, v in by.items():
        t = np.array([a for a, _ in v], float)
        p = np.array([b for _, b in v])
        conf = (p >= 0.95) | (p <= 0.05)
        res[src] = {"acc": float(np.mean((p >= 0.5) == (t > 0.5))),
                    "brier": float(np.mean((p - t) ** 2)),
                    "conf_wrong": float(np.mean(((p >= 0.5) != (t > 0.5))[conf]))
                    if conf.any() else float("nan"),
                    "n_conf": int(conf.sum()), "cases": len(v)}
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loso", action="store_true", help="also leave-one-source-out priors")
    ap.add_argument("--timing-curves", type=int, default=30)
    ap.add_argument("--only-iso", action="store_true", help="the isotonic protocol only")
    args = ap.parse_args()
    print("== isotonic protocol (issue 24) ==")
    iso = decide_iso.run()
    h = iso["head"]["syn2real"]["all"]
    best = max(decide_iso.BASELINES, key=lambda b: iso["table"][b]["all"]["bal_acc"])
    iso_line = (f"balanced_accuracy: {h['bal_acc']:.3f} best_baseline: "
                f"{iso['table'][best]['all']['bal_acc']:.3f} margin: {h['margin']:+.3f} ci: "
                f"{h['ci'][0]:+.3f} {h['ci'][1]:+.3f} brier: {h['brier']:.3f}")
    if args.only_iso:
        print(iso_line)
        return
    print("\n== earlier protocol (issue 11) ==")
    cases = load_cases()
    print(f"{len(cases)} curves, {sum(len(c.targets) for c in cases)} cases: "
          + ", ".join(f"{s} {sum(c.source == s for c in cases)}"
                      for s in sorted({c.source for c in cases})))
    results: dict[str, list] = {}
    t0 = time.perf_counter()
    preds = fit_predictors([{"n": c.x, "err": c.y} for c in cases])
    t_fit = time.perf_counter() - t0
    results["syn2real"] = _rows(cases, lambda i, t: preds[i].p_reach(
        t, cases[i].budget, at=cases[i].x_future))
    results["syn2real@budget"] = _rows(cases, lambda i, t: preds[i].p_reach(
        t, cases[i].budget))
    # naive baselines
    pw = fit_curves(PowerLaw(), [{"n": c.x, "err": c.y} for c in cases])
    pw_pred = [r["D"] * c.budget ** -r["alpha"] for r, c in zip(pw, cases, strict=True)]
    results["power"] = _rows(cases, lambda i, t: float(pw_pred[i] <= t))
    l2 = []
    for c in cases:
        lx, ly = np.log(c.x[-2:]), np.log(c.y[-2:])
        slope = (ly[1] - ly[0]) / (lx[1] - lx[0])
        l2.append(float(np.exp(ly[1] + slope * (np.log(c.budget) - lx[1]))))
    results["line2"] = _rows(cases, lambda i, t: float(l2[i] <= t))
    # not a method: what knowing the future's last three measurements would score
    orc = [float(np.exp(np.mean(np.log(c.y_future[-3:])))) for c in cases]
    results["(oracle)"] = _rows(cases, lambda i, t: float(orc[i] <= t))
    laws = [TransferLaw().fit(c.x, c.y) for c in cases]
    results["legacy"] = _rows(cases, lambda i, t: legacy_call(laws[i], t, cases[i].budget)[3])
    if args.loso:
        for src in sorted({c.source for c in cases}):
            prior = build_prior([c for c in cases if c.source != src])
            print(f"prior without {src}: kappa0 {prior.kappa}, slope_scale "
                  f"{prior.slope_scale}")
            mine = [c for c in cases if c.source == src]
            sub = fit_predictors([{"n": c.x, "err": c.y} for c in mine], prior=prior)
            for p, c in zip(sub, mine, strict=True):
                for kind, t, truth, _ in c.targets:
                    results.setdefault("syn2real-loso", []).append(
                        (c.source, kind, truth, p.p_reach(t, c.budget, at=c.x_future)))
    scores = {m: _scores(r) for m, r in results.items()}
    # intervals of syn2real
    cov_pi: dict[str, list[float]] = defaultdict(list)
    cov_n: dict[str, list[float]] = defaultdict(list)
    err_n: dict[str, list[float]] = defaultdict(list)
    for c, p in zip(cases, preds, strict=True):
        k = np.unique(np.round(np.linspace(0, len(c.x_future) - 1, 24)).astype(int))
        lo, hi = p.predict_interval(c.x_future[k], 0.9)
        inside = float(np.mean((c.y_future[k] >= lo) & (c.y_future[k] <= hi)))
        for s in (c.source, "all"):
            cov_pi[s].append(inside)
        for _, t, truth, n_true in c.targets:
            if not truth:
                continue
            lo_n, mid, hi_n = (p.crossing(t, q, n_max=c.budget * 1e6) for q in (0.05, .5, .95))
            for s in (c.source, "all"):
                cov_n[s].append(float(lo_n <= n_true <= hi_n))
                if np.isfinite(mid):
                    err_n[s].append(abs(np.log2(mid / n_true)))
    # seconds per call (advise() on single curves, next-run search included when undecided)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(cases), size=min(args.timing_curves, len(cases)), replace=False)
    secs: dict[str, list[float]] = defaultdict(list)
    for i in pick:
        c = cases[i]
        t = c.targets[-1][1]
        s0 = time.perf_counter()
        advise((c.x, c.y), t, budget=c.budget)
        secs["syn2real"].append(time.perf_counter() - s0)
        if len(secs["legacy"]) < 5:
            s0 = time.perf_counter()
            advise_legacy(TransferLaw().fit(c.x, c.y), t, budget=c.budget, n_boot=400)
            secs["legacy"].append(time.perf_counter() - s0)
    srcs = ["all"] + sorted({c.source for c in cases})
    print(f"\nsyn2real batch fit of {len(cases)} predictors: {t_fit:.2f} s")
    print(f"\n{'method':14s}" + "".join(f"{s:>22s}" for s in srcs))
    print(f"{'':14s}" + "".join(f"{'acc / brier / cw':>22s}" for _ in srcs))
    for m, sc in scores.items():
        cells = [f"{sc[s]['acc']:.3f} / {sc[s]['brier']:.3f} / {sc[s]['conf_wrong']:.2f}"
                 if s in sc else "-" for s in srcs]
        print(f"{m:14s}" + "".join(f"{x:>22s}" for x in cells))
    print("\nsyn2real intervals and n*:")
    for s in srcs:
        print(f"  {s:12s} 90% PI coverage {np.mean(cov_pi[s]):.3f}   90% n* interval "
              f"coverage {np.mean(cov_n[s]) if cov_n[s] else float('nan'):.3f} "
              f"({len(cov_n[s])} reached)   median |log2(n*/n_true)| "
              f"{np.median(err_n[s]) if err_n[s] else float('nan'):.2f}   confident calls "
              f"{scores['syn2real'][s]['n_conf']}/{scores['syn2real'][s]['cases']}")
    # the advisor's rising-tail rule: a curve whose last octaves rise by more than RISE_T
    # noise widths is called "change the rendering" whatever p_reach says
    rule: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    for c, p in zip(cases, preds, strict=True):
        if "rising" not in p.flags_:
            continue
        for _, t, truth, _ in c.targets:
            for s in (c.source, "all"):
                rule[s].append((truth, p.p_reach(t, c.budget, at=c.x_future)))
    print(f"\nrising-tail rule (flag 'rising': call 'change the rendering'), "
          f"{sum('rising' in p.flags_ for p in preds)} of {len(preds)} curves flagged:")
    for s in srcs:
        v = rule.get(s, [])
        if not v:
            print(f"  {s:12s} no flagged case")
            continue
        t = np.array([a for a, _ in v], float)
        pr = np.array([b for _, b in v])
        print(f"  {s:12s} {len(v)} cases, reached anyway {t.mean():.2f}: rule accuracy "
              f"{1 - t.mean():.3f}, syn2real p_reach accuracy "
              f"{np.mean((pr >= 0.5) == (t > 0.5)):.3f}")
    for m, v in secs.items():
        print(f"seconds per advise() call, {m}: median {np.median(v):.3f}, max {np.max(v):.3f} "
              f"({len(v)} curves)")
    print("\ncase of a 7-point curve:")
    n7 = 1000 * 2.0 ** np.arange(7)
    e7 = 0.48 * n7**-0.4 + 0.2
    t_mid = float(CurvePredictor().fit(n7, e7).predict([1e7])[0])  # a coin flip: undecided
    for t, what in ((0.205, "decided"), (t_mid, "undecided, with the next-run search")):
        s0 = time.perf_counter()
        for _ in range(10):
            adv = advise((n7, e7), t, budget=1e7)
        print(f"{(time.perf_counter() - s0) / 10 * 1000:.1f} ms per advise() ({what}: "
              f"{adv.scenario})")
    n150 = np.linspace(1e9, 1.5e11, 150)
    rng = np.random.default_rng(1)
    e150 = (3.0 * (n150 / 1e9) ** -0.3 + 1.8) * np.exp(rng.normal(0, 0.01, 150))
    s0 = time.perf_counter()
    for _ in range(3):
        adv = advise((n150, e150), float(np.min(e150)) * 0.99, budget=6e11)
    print(f"case of a 150-point curve: {(time.perf_counter() - s0) / 3 * 1000:.1f} ms per "
          f"advise() ({adv.scenario})")
    best = max(v for m, sc in scores.items() if not m.startswith(("syn2real", "("))
               for k, v in [("acc", sc["all"]["acc"])])
    a = scores["syn2real"]["all"]
    print(f"decision_accuracy: {a['acc']:.3f} best_baseline: {best:.3f} brier: "
          f"{a['brier']:.3f} pi_coverage: {np.mean(cov_pi['all']):.3f}")
    print(iso_line)


if __name__ == "__main__":
    main()
