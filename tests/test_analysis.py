"""Data complexity (negative entropy) and the model-size study."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from syn2real.analysis import (
    fit_gap_vs_size,
    gaussian_negative_entropy,
    model_size_study,
    negative_entropy,
)
from syn2real.analysis.knobs import knob_effects


def test_entropy_of_a_known_gaussian_matches_the_closed_form():
    rng = np.random.default_rng(0)
    d = 6
    A = rng.normal(size=(d, d))
    cov = A @ A.T + 0.5 * np.eye(d)
    x = rng.multivariate_normal(np.zeros(d), cov, size=40_000)
    exact = -0.5 * math.log(np.linalg.det(2 * math.pi * math.e * cov))
    res = negative_entropy(x)
    assert res.estimator == "empirical" and res.shrinkage == 0.0
    assert res.negative_entropy == pytest.approx(exact, abs=0.03)
    assert gaussian_negative_entropy(float(np.linalg.slogdet(cov)[1]), d) == \
        pytest.approx(exact, rel=1e-12)


def test_shrinkage_keeps_log_det_finite_when_features_outnumber_samples():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 50))  # d > N: the sample covariance is singular
    with pytest.raises(ValueError, match="singular"):
        negative_entropy(x, estimator="empirical")
    res = negative_entropy(x)
    assert res.estimator == "ledoit-wolf" and 0 < res.shrinkage <= 1
    assert math.isfinite(res.logdet) and math.isfinite(res.negative_entropy)
    assert "N = 20 <= 2 d = 100" in res.note
    # a wider distribution has a lower negative entropy under the same estimator
    wider = negative_entropy(3 * x)
    assert wider.negative_entropy < res.negative_entropy
    with pytest.raises(ValueError, match="2-D"):
        negative_entropy(np.zeros(5))


def test_knob_effects_recover_main_effects_of_a_factorial_design():
    knobs, alpha = [], []
    for light in ("fixed", "random"):
        for tex in ("without", "with"):
            for rep in range(2):
                knobs.append({"appearance": "multiple", "light": light, "background": "fixed",
                              "object_texture": tex})
                alpha.append(0.3 + 0.1 * (light == "random") - 0.05 * (tex == "with")
                             + 0.001 * rep)
    res = knob_effects(knobs, {"alpha": alpha})
    assert res["knobs"] == ["light", "object_texture"] and res["dof"] == 5
    assert res["effects"]["alpha"]["light"]["effect"] == pytest.approx(0.1, abs=1e-9)
    assert res["effects"]["alpha"]["object_texture"]["effect"] == pytest.approx(-0.05,
                                                                                abs=1e-9)
    confounded = knob_effects(
        [{"appearance": a, "light": a2, "background": "fixed", "object_texture": "with"}
         for a, a2 in (("single", "fixed"), ("multiple", "random"), ("single", "fixed"))],
        {"alpha": [1.0, 2.0, 1.1]})
    assert "confounded" in confounded["note"] and not confounded["effects"]


def test_gap_vs_size_power_law_recovers_its_exponent():
    P = np.array([11.2, 21.3, 23.5, 42.5, 58.1])
    C = 0.9 * P ** -0.12
    f = fit_gap_vs_size(P, C)
    assert f["b"] == pytest.approx(0.12, abs=1e-6) and f["k"] == pytest.approx(0.9, rel=1e-5)
    with pytest.raises(ValueError, match="positive"):
        fit_gap_vs_size(P, np.r_[C[:-1], 0.0])
    noisy = C * np.exp(np.random.default_rng(0).normal(0, 0.01, C.size))
    g = fit_gap_vs_size(P, noisy)
    assert g["b_ci"][0] < 0.12 < g["b_ci"][1]


@pytest.mark.paper
def test_model_size_study_on_the_authors_results(cg_path, tmp_path):
    from syn2real.cli.app import app
    from syn2real.curves import read_curves

    cs = read_curves(cg_path, where=["pscale=64k", "fratio=1", "pdata=bop",
                                     "ptask=mulclass|objdet", "ftask=sinclass|objdet"])
    study = model_size_study(cs, D=0.48)
    by_task = {(s["setting"]["ptask"], s["setting"]["ftask"]): s for s in study}
    for key in (("mulclass", "sinclass"), ("objdet", "objdet")):
        s = by_task[key]
        assert [p["model"] for p in s["points"]] == ["r18", "r34", "r50", "r101", "r152"]
        assert s["fit"] is not None
        for p in s["points"]:
            assert p["C_ci"][0] <= p["C"] <= p["C_ci"][1]
    # Fig. 4 (right): bigger models have a smaller transfer gap for mulclass -> sinclass
    assert by_task[("mulclass", "sinclass")]["fit"]["b"] > 0
    res = CliRunner().invoke(app, ["modelsize", str(cg_path), "--D", "0.48", "--where",
                                   "pscale=64k",
                                   "--where", "fratio=1", "--where", "pdata=bop", "--where",
                                   "ptask=mulclass", "--where", "ftask=sinclass", "--figure",
                                   str(tmp_path / "c_vs_p.png"), "--json",
                                   str(tmp_path / "ms.json")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c_vs_p.png").stat().st_size > 10_000
    rows = json.loads((tmp_path / "ms.json").read_text())
    assert rows[0]["fit"]["b"] == pytest.approx(by_task[("mulclass", "sinclass")]["fit"]["b"])
    rep = CliRunner().invoke(app, ["report", str(cg_path), "--where", "pscale=64k", "--where",
                                   "fratio=1", "--where", "pdata=bop", "--where",
                                   "ptask=mulclass", "--where", "ftask=sinclass", "--D",
                                   "0.48", "--model-size", "-o", str(tmp_path / "rep")])
    assert rep.exit_code == 0, rep.output
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "Transfer gap against model size" in page
    assert (tmp_path / "rep" / "fig4_model_size.png").exists()


def test_complexity_of_rendered_data_under_a_real_data_backbone(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("moderngl")
    from syn2real.cli.app import app
    from syn2real.render import preset, render_dataset
    from syn2real.train.api import finetune

    for name in ("lv0", "lv7"):
        render_dataset(preset(name, size=32, shard_size=60), tmp_path / name, 60)
    row = finetune(None, "digits", "sinclass", count=200, iters=3, batch=32, size=32,
                   stem="imagenet", threads=2, out=tmp_path / "real")
    assert row["config"]["dataset"] == "digits"
    vals = {}
    for name in ("lv0", "lv7"):
        res = CliRunner().invoke(app, ["complexity", str(tmp_path / name), "--backbone",
                                       str(tmp_path / "real" / "backbone.pt"), "--n", "60",
                                       "--threads", "2", "--json",
                                       str(tmp_path / f"{name}.json")])
        assert res.exit_code == 0, res.output
        vals[name] = json.loads((tmp_path / f"{name}.json").read_text())
        assert vals[name]["d"] == 512 and vals[name]["n"] == 60
        assert vals[name]["estimator"] == "ledoit-wolf" and "Ledoit-Wolf" in res.output
        assert math.isfinite(vals[name]["negative_entropy"])
        assert vals[name]["backbone_trained_on"] == "digits"
    assert vals["lv0"]["negative_entropy"] != vals["lv7"]["negative_entropy"]
    bad = CliRunner().invoke(app, ["complexity", str(tmp_path / "lv0"), "--backbone",
                                   str(tmp_path / "none.pt"), "--n", "60"])
    assert bad.exit_code == 2 and "no such checkpoint" in bad.output


def test_report_shows_complexity_table_figure_and_knob_effects(tmp_path):
    from importlib.resources import files

    from syn2real.assess import AssessSettings, assess
    from syn2real.curves import read_curves
    from syn2real.report import build_report

    cs = read_curves(files("syn2real.examples") / "example_curves.csv")
    knobs = [{"appearance": a, "light": li, "background": "fixed", "object_texture": "with"}
             for a, li in (("single", "fixed"), ("multiple", "fixed"), ("single", "random"),
                           ("multiple", "random"))]
    rows = [{"setting": f"s{i}", "negative_entropy": -100.0 - 10 * i, "estimator": "empirical",
             "alpha": 0.3 + 0.05 * i, "alpha_ci": [0.2, 0.5], "C": 0.2 - 0.01 * i,
             "C_ci": [0.1, 0.3], "knobs": "/".join(k.values())} for i, k in enumerate(knobs)]
    effects = knob_effects(knobs, {"alpha": [r["alpha"] for r in rows],
                                   "C": [r["C"] for r in rows]})
    page = build_report(assess(cs, AssessSettings()), tmp_path, complexity=rows,
                        knob_effects=effects).read_text()
    assert "Data complexity" in page and "Which knob moves which parameter" in page
    assert "appearance" in page and "light" in page
    assert (tmp_path / "fig6_complexity.png").stat().st_size > 5_000
