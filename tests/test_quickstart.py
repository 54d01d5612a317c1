"""The README's main job, end to end (`make test-quickstart`, minutes on 2 cores)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "quickstart.yaml"


@pytest.mark.quickstart
def test_quickstart_two_renderings_two_verdicts_checked_on_held_out_sizes(tmp_path):
    cfg = yaml.safe_load(CONFIG.read_text())
    held_n = cfg["fit"]["holdout"]
    fitted_n = [n for n in cfg["pretrain"]["n"] if n not in held_n]
    out = tmp_path / "qs"
    cmd = [sys.executable, "-m", "syn2real.cli.app", "run", str(CONFIG), "--out", str(out),
           "--json", str(tmp_path / "qs.json")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=2400)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((tmp_path / "qs.json").read_text())
    titles = cfg["render"]["titles"]
    # two settings, each fitted on its own sizes, named as a person says them
    fits = summary["fits"]
    assert len(fits) == 2 and all(f["n_points"] == len(fitted_n) for f in fits)
    assert sorted(f["label"].split(" · ")[0] for f in fits) == sorted(titles.values())
    # two different verdicts, each stated first in one sentence
    adv = summary["advice"]
    assert len({a["scenario"] for a in adv}) == 2, [a["verdict"] for a in adv]
    assert all(0 <= a["p_reach"] <= 1 for a in adv)
    assert "What to do (target error" in res.stdout
    # noise below the effects: the standard error of every point, as the run measured it
    pts = summary["points"]
    assert all(p["runs"] >= 2 for p in pts)
    assert max(p["se"] for p in pts) <= 0.01, [(p["label"], p["n"], p["se"]) for p in pts]
    # the job checks itself: every setting's held-out size inside its predictive interval
    checks = summary["holdout"]
    assert sorted((h["label"], h["n"]) for h in checks) == sorted(
        (f["label"], float(n)) for f in fits for n in held_n)
    for h in checks:
        lo, hi = h["interval"]
        assert lo <= h["predicted"] <= hi
        assert h["inside"] == (lo <= h["measured"] <= hi), h
        assert h["inside"], h
        assert f"measured {h['measured']:.3f}" in res.stdout
    # the settings differ by more than their noise at the largest fitted size
    last = {p["label"]: p for p in pts if p["n"] == max(fitted_n)}
    a, b = last.values()
    assert abs(a["mean"] - b["mean"]) > 2 * (a["se"] ** 2 + b["se"] ** 2) ** 0.5
    report = out / "report" / "index.html"
    assert report.exists() and f"report: {report}" in res.stdout.replace("\n", "")
    page = report.read_text()
    assert "Held-out check" in page and "Measured points" in page
