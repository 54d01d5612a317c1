"""Fitting speed and quality: syn2real's vectorised global fit vs. a scipy curve_fit loop.

Curves: every curve of the authors' results (../shared/data/cg-transfer, when present) and
N synthetic noisy curves of eq. 1 (7 sizes, 1k..64k). Law: L = D n^-alpha + C, linear loss,
bounds alpha in [0.05, 2], D >= 0, C in [0, 1]. Baseline (named ``curve_fit``): a Python loop
of ``scipy.optimize.curve_fit`` (trf, same bounds), best of 10 seeded random starts per curve.

The baseline takes about 0.2 s per curve here, so by default it runs on the first 1,000
curves (all cg-transfer curves first), and losses are compared on those; syn2real fits all
of them. ``--baseline-curves 0`` runs the baseline on every curve (about 35 min for 10k).

Prints fits/s of both, the final losses, and last lines
``speedup_vs_curve_fit: <x>`` and ``worse_loss_curves: <k>`` (curves where syn2real's loss is
above the baseline's by more than 1e-6 relative). Also prints the coverage of 90% prediction
intervals on the cg-transfer extrapolation back-tests (fit n < 64k, predict larger n).

Usage: python benchmarks/bench_fit.py [--n-synthetic 10000] [--starts 10] [--baseline-curves 1000]
Run it alone: a second busy process on 2 cores halves every figure.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from syn2real.law import TransferLaw, fit_curves

ROOT = Path(__file__).resolve().parents[1]
CG = ROOT.parent / "shared" / "data" / "cg-transfer" / "results_finetune.csv"
N = 1000 * 2.0 ** np.arange(7)
BOUNDS = {"alpha": (0.05, 2.0), "D": (0.0, np.inf), "C": (0.0, 1.0)}


def cg_curves() -> list[dict]:
    if not CG.exists():
        print(f"cg-transfer results not found at {CG}: synthetic curves only")
        return []
    from syn2real.curves import read_curves

    cs = read_curves(CG)
    return [{"n": g["n"].to_numpy(), "err": g["err"].to_numpy()} for _, g in cs.curves()]


def synthetic_curves(k: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        a = rng.uniform(0.1, 1.2)
        D = 10 ** rng.uniform(-1, 1)
        C = rng.uniform(0.0, 0.9)
        sd = rng.choice([1e-3, 5e-3, 1e-2])
        out.append({"n": N, "err": D * N ** -a + C + rng.normal(0, sd, N.size)})
    return out


def model(n, alpha, D, C):
    return D * n ** (-alpha) + C


def baseline(curves: list[dict], starts: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo = [BOUNDS["alpha"][0], BOUNDS["D"][0], BOUNDS["C"][0]]
    hi = [BOUNDS["alpha"][1], BOUNDS["D"][1], BOUNDS["C"][1]]
    losses = np.empty(len(curves))
    for i, c in enumerate(curves):
        best = np.inf
        for _ in range(starts):
            p0 = [rng.uniform(0.05, 2.0), 10 ** rng.uniform(-2, 1), rng.uniform(0, 1)]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", OptimizeWarning)
                    p, _ = curve_fit(model, c["n"], c["err"], p0=p0, bounds=(lo, hi),
                                     method="trf", maxfev=2000)
            except (RuntimeError, ValueError):
                continue
            r = c["err"] - model(c["n"], *p)
            best = min(best, 0.5 * float(r @ r))
        losses[i] = best
    return losses


def coverage_on_cg() -> None:
    if not CG.exists():
        return
    from syn2real.curves import read_curves
    from syn2real.law import backtest

    cs = read_curves(CG, where=["fratio=1", "pdata=bop"])
    hit = hit_delta = total = 0
    for _, g in cs.curves(["ptask", "ftask", "model"]):
        n, e = g["n"].to_numpy(), g["err"].to_numpy()
        if n.max() <= 64_000 or np.unique(n[n < 64_000]).size < 5:
            continue
        bt = backtest(TransferLaw(), {"n": n, "err": e}, n < 64_000)
        law = bt["law"]
        test = n >= 64_000
        lo, hi = law.predict_interval(n[test], 0.9, method="delta")
        hit += int(round(bt["covered"] * test.sum()))
        hit_delta += int(np.sum((e[test] >= lo) & (e[test] <= hi)))
        total += int(test.sum())
    if total:
        print(f"cg-transfer extrapolation (fit n < 64k, {total} held-out points): coverage of "
              f"90% intervals: profile {hit / total:.2f}, delta method {hit_delta / total:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-synthetic", type=int, default=10_000)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--baseline-curves", type=int, default=1000,
                    help="curves the baseline fits (0: all)")
    args = ap.parse_args()
    curves = cg_curves() + synthetic_curves(args.n_synthetic)
    print(f"curves: {len(curves)}")
    law = TransferLaw(bounds=BOUNDS)
    t0 = time.perf_counter()
    rows = fit_curves(law, curves)
    t_ours = time.perf_counter() - t0
    ours = np.array([r["objective"] for r in rows])
    k = len(curves) if args.baseline_curves <= 0 else min(args.baseline_curves, len(curves))
    t0 = time.perf_counter()
    ref = baseline(curves[:k], args.starts)
    t_ref = time.perf_counter() - t0
    mine = ours[:k]
    worse = int(np.sum(mine > ref * (1 + 1e-6) + 1e-12))
    better = int(np.sum(ref > mine * (1 + 1e-6) + 1e-12))
    rate_ours, rate_ref = len(curves) / t_ours, k / t_ref
    print(f"syn2real fit_curves: {rate_ours:10.1f} fits/s ({len(curves)} curves, {t_ours:.2f} s)"
          f", loss on the compared curves {mine.sum():.6g}")
    print(f"curve_fit x{args.starts} starts: {rate_ref:10.1f} fits/s ({k} curves, {t_ref:.2f} s)"
          f", loss {ref.sum():.6g}")
    print(f"curves where curve_fit's best start is worse than syn2real: {better} of {k}")
    coverage_on_cg()
    print(f"speedup_vs_curve_fit: {rate_ours / rate_ref:.1f}")
    print(f"worse_loss_curves: {worse}")


if __name__ == "__main__":
    main()
