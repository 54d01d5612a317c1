"""The README's main job, end to end, and its stability (`make test-quickstart`, about half an
hour on 2 cores: the study three times, see benchmarks/quickstart_variants.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from quickstart_variants import (  # noqa: E402
    CONFIG,
    VARIANTS,
    run_variant,
    setting_of,
    spread_table,
)


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    out = {}
    for name in VARIANTS:
        r = run_variant(name, root)
        assert r["returncode"] == 0, (name, r["stderr"][-3000:])
        out[name] = r
    print("\n" + spread_table(list(out.values())))
    return out


@pytest.mark.quickstart
def test_quickstart_two_renderings_two_verdicts_checked_on_held_out_sizes(variants):
    cfg = yaml.safe_load(CONFIG.read_text())
    res = variants["default"]
    held_n = cfg["fit"]["holdout"]
    fitted_n = [n for n in cfg["pretrain"]["n"] if n not in held_n]
    titles = cfg["render"]["titles"]
    # two settings, each fitted on its own sizes, named as a person says them
    fits = res["fits"]
    assert len(fits) == 2 and all(f["n_points"] == len(fitted_n) for f in fits)
    assert sorted(setting_of(f["label"]) for f in fits) == sorted(titles.values())
    # two different verdicts, each stated first in one sentence
    adv = res["advice"]
    assert len({a["action"] for a in adv}) == 2, [a["verdict"] for a in adv]
    assert all(0 <= a["p_reach"] <= 1 for a in adv)
    assert "What to do (target error" in res["stdout"]
    # noise that counts pre-training: every pre-trained point has two or more pre-trainings,
    # each fine-tuned twice or more, and both variance components are measured
    pts = res["points"]
    trained = [p for p in pts if p["n"] > 0]
    assert all(p["pretrains"] >= 2 and p["runs"] >= 2 * p["pretrains"] for p in trained)
    assert all(p["sd_pretrain"] == p["sd_pretrain"] and p["sd_finetune"] > 0 for p in trained)
    assert max(p["se"] for p in pts) <= 0.05, [(p["label"], p["n"], p["se"]) for p in pts]
    # the standard error counts the spread between pre-trainings: never below what the
    # fine-tuning seeds alone give, and above it where pre-trainings differ (any view)
    assert all(p["se"] >= 0.99 * p["sd_finetune"] / p["runs"] ** 0.5 for p in trained)
    assert any(p["se"] > 1.5 * p["sd_finetune"] / p["runs"] ** 0.5 for p in trained)
    assert "between pre-trainings" in res["stdout"]
    # the job checks itself: every setting's held-out size inside its predictive interval
    checks = res["holdout"]
    assert sorted((h["label"], h["n"]) for h in checks) == sorted(
        (f["label"], float(n)) for f in fits for n in held_n)
    for h in checks:
        lo, hi = h["interval"]
        assert lo <= h["predicted"] <= hi
        assert h["inside"] == (lo <= h["measured"] <= hi), h
        assert f"measured {h['measured']:.3f}" in res["stdout"]
    # the settings differ by more than their noise at the largest fitted size
    last = {p["label"]: p for p in pts if p["n"] == max(fitted_n)}
    a, b = last.values()
    assert abs(a["mean"] - b["mean"]) > 2 * (a["se"] ** 2 + b["se"] ** 2) ** 0.5
    report = Path(res["run_dir"]) / "report" / "index.html"
    assert report.exists() and f"report: {report}" in res["stdout"].replace("\n", "")
    page = report.read_text()
    assert "Held-out check" in page and "Measured points" in page
    assert "sd pre-training" in page


@pytest.mark.quickstart
def test_quickstart_verdicts_do_not_depend_on_rounding_or_seeds(variants):
    """Other kernels (native ISA) or other seeds change every number; the verdict of each
    rendering and every held-out check must not change."""
    verdicts = {name: {setting_of(a["label"]): a["action"] for a in r["advice"]}
                for name, r in variants.items()}
    first = verdicts["default"]
    for name, v in verdicts.items():
        assert v == first, (name, verdicts)
    for name, r in variants.items():
        for h in r["holdout"]:
            assert h["inside"], (name, h["label"], h["measured"], h["interval"])
