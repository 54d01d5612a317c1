"""Build the corpus prior of :class:`syn2real.law.predictive.CurvePredictor` (empirical Bayes).

Only the part of each development curve that the decision back-test fits is used (sizes
``<= x_max / 4``, from ``decide_cases``: lin2024, colpret, LCDB and the paper's cg-transfer
curves), so the prior never sees the points it is later judged on. Inside that part the
decision protocol is repeated once more: the predictor is fitted on the sizes ``<= x / 4``
of the part (at least 3) and predicts the rest of it. The prior's two spread constants,
``κ0`` (log-error growth per unit ``log n``) and ``slope_scale`` (extra growth per unit of
the local log-log slope), follow Gneiting's rule "as sharp as possible subject to
calibration": among the grid points whose 90% prediction intervals cover at least 90% of
the held-out points, the one with the best held-out log score (each source weighted equally
whatever its number of curves); ``ν0 = 2`` pseudo back-tests is a fixed,
weak weight (not searched). Members and weights do not depend on the prior, so the grid is
scored without refitting (:meth:`CurvePredictor.with_prior`).

Usage: python benchmarks/build_prior.py [--write]   (--write updates the packaged JSON)
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from decide_cases import load_cases
from syn2real.law.predictive import PredictivePrior, fit_predictors

OUT = Path(__file__).resolve().parents[1] / "src" / "syn2real" / "law" / "predictive_prior.json"
NU0 = 2.0
KAPPAS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08)
SLOPES = (0.0, 0.125, 0.25, 0.5, 1.0)


def inner_splits(cases):
    """(source, fitted x, fitted y, held-out x, held-out y) inside each fitted part."""
    out = []
    for c in cases:
        m = c.x <= c.x[-1] / 4 * (1 + 1e-9)
        if m.sum() >= 3 and not m.all():
            out.append((c.source, c.x[m], c.y[m], c.x[~m], c.y[~m]))
    return out


def scores(pred, x, y) -> tuple[float, float]:
    """Mean log score and 90% interval coverage of held-out points."""
    mu, sd = pred._scale(x, "observation")
    sd = np.maximum(sd, 1e-6)
    z = (np.log(y) - mu) / sd
    return (float(np.mean(stats.t.logpdf(z, pred.dof_) - np.log(sd))),
            float(np.mean(np.abs(z) <= stats.t.ppf(0.95, pred.dof_))))


def build_prior(cases, verbose: bool = False) -> PredictivePrior:
    """The prior from ``decide_cases`` cases (their fitted parts only)."""
    splits = inner_splits(cases)
    base = fit_predictors([{"n": x, "err": y} for _, x, y, _, _ in splits],
                          prior=PredictivePrior(0.0, NU0))
    table = {}
    for k in KAPPAS:
        for a in SLOPES:
            prior = PredictivePrior(k, NU0, slope_scale=a)
            per: dict[str, list[tuple[float, float]]] = defaultdict(list)
            for (src, _, _, xt, yt), p in zip(splits, base, strict=True):
                per[src].append(scores(p.with_prior(prior), xt, yt))
            table[(k, a)] = tuple(float(np.mean([np.mean([x[i] for x in v])
                                                 for v in per.values()])) for i in (0, 1))
    ok = {key: v for key, v in table.items() if v[1] >= 0.9}
    if not ok:
        raise SystemExit("no grid point is calibrated: extend the grid")
    (kappa, slope), (best, cover) = max(ok.items(), key=lambda kv: kv[1][0])
    srcs = sorted({s for s, *_ in splits})
    counts = {s: sum(1 for x in splits if x[0] == s) for s in srcs}
    if verbose:
        print("held-out log score / 90% coverage (source-balanced); rows kappa0, columns "
              "slope_scale")
        print("       " + "".join(f"{a:>15}" for a in SLOPES))
        for k in KAPPAS:
            print(f"{k:7}" + "".join(f"{table[(k, a)][0]:9.3f} {table[(k, a)][1]:.3f}"
                                     for a in SLOPES))
        print(f"prior: kappa0 = {kappa}, slope_scale = {slope}, nu0 = {NU0} (log score "
              f"{best:.3f}, coverage {cover:.3f})")
    return PredictivePrior(kappa, NU0, "benchmarks/build_prior.py: sharpest calibrated "
                           "spread on back-tests inside the fitted parts of " + ", ".join(
                               f"{s} ({counts[s]})" for s in srcs), slope_scale=slope)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write the packaged prior")
    args = ap.parse_args()
    prior = build_prior(load_cases(), verbose=True)
    if args.write:
        OUT.write_text(json.dumps({"kappa": prior.kappa, "slope_scale": prior.slope_scale,
                                   "nu": prior.nu, "built_from": prior.built_from},
                                  indent=1) + "\n", encoding="utf-8")
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
