"""Scale of the curve commands: ``syn2real fit``, ``advise`` and ``report`` on 10,000 groups.

Issue 16 item 14: ``fit`` on 10,000 groups x 7 points took ~19 min (one fit and one profile
interval per group); targets ``fit`` <= 30 s with progress, ``report`` on many groups <= 60 s
(a table for all, figures for a few). The baseline measured in the same run is one
``TransferLaw().fit`` + profile intervals per curve on a sample of the groups, scaled to all
of them (what the command did before); for ``advise``, one ``advise()`` per curve with
eq. 1's profile intervals on a sample (what ``advise`` did for any number of curves before
issue 28). Issue 28 item 7: ``advise`` and ``report`` on 10,000 curves <= 60 s, ``fit`` <= 30 s.

Run alone (a second busy process on 2 cores halves every figure)::

    python benchmarks/bench_many_groups.py [--groups 10000] [--advise-groups 10000]
        [--report-groups 10000]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from syn2real.advise import advise
from syn2real.cli.app import app
from syn2real.law import TransferLaw


def write_table(path: Path, groups: int, seed: int = 0) -> None:
    """A plain table of ``groups`` noisy eq.-1 curves with 7 sizes each."""
    rng = np.random.default_rng(seed)
    n = 1000 * 2.0 ** np.arange(7)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["setting", "n", "error"])
        for g in range(groups):
            alpha, C, D = rng.uniform(0.3, 0.8), rng.uniform(0.05, 0.4), rng.uniform(1, 10)
            err = np.clip(D * n ** -alpha + C + rng.normal(0, 0.004, n.size), 1e-4, 1)
            for x, e in zip(n, err, strict=True):
                w.writerow([f"g{g:05d}", int(x), f"{e:.6f}"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--report-groups", type=int, default=10_000)
    ap.add_argument("--advise-groups", type=int, default=10_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    big, small, mid = tmp / "big.csv", tmp / "small.csv", tmp / "mid.csv"
    write_table(big, args.groups)
    write_table(mid, args.advise_groups, seed=3)
    write_table(small, args.report_groups, seed=1)
    runner = CliRunner()

    # baseline: what fit did per group before (one fit + profile intervals each)
    rng = np.random.default_rng(2)
    n = 1000 * 2.0 ** np.arange(7)
    sample = 40
    t0 = time.perf_counter()
    for _ in range(sample):
        TransferLaw().fit(n, 0.3 * n ** -0.4 + 0.1 + rng.normal(0, 0.004, 7)).to_dict(0.9)
    per_group = (time.perf_counter() - t0) / sample
    baseline = per_group * args.groups
    # advise's baseline: one advise() per curve with eq. 1's profile intervals, on a sample
    t0 = time.perf_counter()
    for _ in range(sample):
        law = TransferLaw().fit(n, rng.uniform(1, 10) * n ** -rng.uniform(0.3, 0.8)
                                + rng.uniform(0.05, 0.4) + rng.normal(0, 0.004, 7))
        advise(law, 0.2, budget=1e6)
    per_advise = (time.perf_counter() - t0) / sample

    t0 = time.perf_counter()
    res = runner.invoke(app, ["fit", str(big), "--json", str(tmp / "fit.json")])
    fit_s = time.perf_counter() - t0
    assert res.exit_code == 0, res.output
    t0 = time.perf_counter()
    res = runner.invoke(app, ["fit", str(big), "--intervals", "none"])
    fit_none_s = time.perf_counter() - t0
    assert res.exit_code == 0, res.output
    t0 = time.perf_counter()
    res = runner.invoke(app, ["advise", str(mid), "--target", "0.2", "--budget", "1e6",
                              "--json", str(tmp / "advice.json")])
    advise_s = time.perf_counter() - t0
    assert res.exit_code == 0, res.output
    t0 = time.perf_counter()
    res = runner.invoke(app, ["report", str(small), "-o", str(tmp / "report"),
                              "--target", "0.2", "--budget", "1e6"])
    report_s = time.perf_counter() - t0
    assert res.exit_code == 0, res.output
    print(f"groups: {args.groups:,} x 7 points")
    print(f"baseline (per-group fit + profile CI, {per_group * 1e3:.0f} ms/group, scaled): "
          f"{baseline:.0f} s")
    print(f"syn2real fit (auto: Wald CI above 200 curves): {fit_s:.1f} s "
          f"({baseline / fit_s:.0f}x faster); --intervals none: {fit_none_s:.1f} s")
    print(f"syn2real advise on {args.advise_groups:,} groups: {advise_s:.1f} s (one advise() "
          f"with profile intervals per curve: {per_advise * 1e3:.0f} ms, scaled "
          f"{per_advise * args.advise_groups:.0f} s: "
          f"{per_advise * args.advise_groups / advise_s:.1f}x)")
    print(f"syn2real report on {args.report_groups:,} groups (verdicts for all, figures for "
          f"the first 12, Fig. 8 for 60): {report_s:.1f} s")
    print(f"fit_s: {fit_s:.1f} advise_s: {advise_s:.1f} report_s: {report_s:.1f} "
          f"baseline_s: {baseline:.0f} (targets, issue 28: fit <= 30 s, advise and report "
          f"<= 60 s on 10,000 curves)")


if __name__ == "__main__":
    main()
