"""The README's main job, end to end (about 10 min on 2 cores): `make test-quickstart`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.quickstart
def test_quickstart_shows_transfer_and_fits_the_law(tmp_path):
    out = tmp_path / "qs"
    cmd = [sys.executable, "-m", "syn2real.cli.app", "run",
           str(ROOT / "examples" / "quickstart.yaml"), "--out", str(out), "--json",
           str(tmp_path / "qs.json")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=2400)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((tmp_path / "qs.json").read_text())
    (m,) = summary["margins"]
    # the claim of the README: pre-training on 1,280 rendered digits beats training from
    # scratch on 100 real MNIST digits, by more than the seed-to-seed noise
    assert m["n_max"] == 1280 and m["seeds"] == [2, 2]
    assert m["margin"] > 0.02 and m["margin"] > 2 * m["margin_se"]
    (fit,) = summary["fits"]
    assert fit["n_points"] == 7
    drop = fit["D"] * (20.0 ** -fit["alpha"] - 1280.0 ** -fit["alpha"])
    assert drop > 0.05  # the fitted law falls from n = 20 to n = 1,280, as the data do
    (adv,) = summary["advice"]
    assert adv["method"] == "predictive" and 0 <= adv["p_reach"] <= 1
    assert adv["scenario"] in ("reachable", "reached", "floor", "infeasible", "undecided")
    if adv["scenario"] == "undecided":  # then it names the run that would settle it
        assert adv["next_run"]["n"] > 1280 and "Run n = " in adv["verdict"]
    assert (out / "report" / "index.html").exists()
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 16
