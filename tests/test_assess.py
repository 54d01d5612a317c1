"""The assessment step: one path from curves to fits, verdicts, checks and the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from syn2real.advise import todo_sentence
from syn2real.assess import AssessSettings, assess
from syn2real.cli.app import app
from syn2real.curves import example_path, read_curves


def _run(args: list[str]) -> None:
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output


def test_fit_advise_and_report_show_the_one_assessment(tmp_path):
    """`fit --json`, `advise --json` and the report page say exactly what assess() found."""
    cs = read_curves(example_path())
    a = assess(cs, AssessSettings(D=0.48, target=0.28, budget=1e7, backtest_curves=12))
    assert len(a.curves) == len(cs.curves()) == 4
    _run(["fit", str(example_path()), "--D", "0.48", "--json", str(tmp_path / "fit.json")])
    rows = json.loads((tmp_path / "fit.json").read_text())
    ours = json.loads(a.to_json())["curves"]
    for row, mine in zip(rows, ours, strict=True):
        assert row["group"] == mine["group"]
        for k in ("alpha", "C", "alpha_se", "alpha_ci", "C_ci", "flags"):
            assert row[k] == mine["fit"][k], k
    _run(["advise", str(example_path()), "--D", "0.48", "--target", "0.28", "--budget", "1e7",
          "--json", str(tmp_path / "adv.json")])
    adv = json.loads((tmp_path / "adv.json").read_text())
    assert [r["advice"] for r in adv] == [m["advice"] for m in ours]
    _run(["report", str(example_path()), "--D", "0.48", "--target", "0.28", "--budget",
          "1e7", "-o", str(tmp_path / "rep")])
    page = (tmp_path / "rep" / "index.html").read_text()
    for c in a.curves:
        assert todo_sentence(c.advice, 0.28) in page
        assert c.backtest is not None  # 7 sizes: the two largest are predicted
        assert f"{c.backtest['rmse_predictive']:.3g}" in page


def test_the_replicates_noise_reaches_every_verdict(tmp_path):
    """A table with pre-training replicates (se, pretrains): the report's verdict uses the
    measured noise as advise does (before the assessment step it was dropped there)."""
    rng = np.random.default_rng(3)
    rows = []
    for n in 1000 * 2 ** np.arange(6):
        for pseed in (0, 1, 2):  # a study's results.csv: 3 pre-trainings x 2 fine-tunings
            shift = rng.normal(0, 0.03)
            for fseed in (0, 1):
                err = (0.6 * n ** -0.35 + 0.12) * (1 + shift + rng.normal(0, 0.01))
                rows.append({"n_eval": 2, "value": 1 - err, "pretrain.data": n, "pscale": 64,
                             "ptask": "mulclass", "fdata": "digits", "fratio": 10,
                             "ftask": "sinclass", "model": "r18", "nparam": 11.2,
                             "pdata": "lv0", "s": 100, "seed": f"{pseed}/{fseed}"})
    p = tmp_path / "results.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    cs = read_curves(p)
    plain = pd.DataFrame({"n": cs.data["n"], "error": cs.data["err"]})
    t = 0.125  # below every measurement: undecided, where the noise moves P(reach)
    quiet = assess(read_curves(plain), AssessSettings(target=t, budget=1e6)).curves[0]
    noisy = assess(cs, AssessSettings(target=t, budget=1e6)).curves[0]
    assert "noise" in noisy.arrays and "noise" not in quiet.arrays
    assert abs(noisy.advice.p_reach - quiet.advice.p_reach) > 0.05
    _run(["advise", str(p), "--target", str(t), "--budget", "1e6", "--json",
          str(tmp_path / "adv.json")])
    _run(["report", str(p), "--target", str(t), "--budget", "1e6", "-o", str(tmp_path / "r")])
    adv = json.loads((tmp_path / "adv.json").read_text())[0]["advice"]
    assert adv["p_reach"] == pytest.approx(noisy.advice.p_reach)
    page = (tmp_path / "r" / "index.html").read_text()
    assert todo_sentence(noisy.advice, t) in page
    assert todo_sentence(quiet.advice, t) not in page


def test_settings_are_checked_before_any_fit():
    with pytest.raises(ValueError, match="unknown law"):
        AssessSettings(law="cubic")
    with pytest.raises(ValueError, match="--D applies to the transfer law only"):
        AssessSettings(law="power", D=0.5)
    with pytest.raises(ValueError, match="--curve-kind"):
        AssessSettings(curve_kind="epochs")
    with pytest.raises(ValueError, match="--baseline"):
        AssessSettings(baseline=float("nan"))


def test_shared_D_and_the_full_law_are_part_of_the_assessment():
    cs = read_curves(example_path())
    a = assess(cs, AssessSettings(D="shared"))
    assert a.shared is not None and a.D == pytest.approx(a.shared.D)
    assert all(c.law.params_["D"] == pytest.approx(a.D) for c in a.curves)
    assert json.loads(a.to_json())["shared_D"]["D"] == pytest.approx(a.D)
    rows = [{"n": n, "s": s, "error": 40 * (0.5 + n ** -0.55) * s ** -0.32}
            for s in (1e5, 4e5, 1.6e6) for n in 1000 * 2 ** np.arange(6)]
    full = assess(read_curves(pd.DataFrame(rows)), AssessSettings(full_law=True), by=["s"])
    assert len(full.curves) == 3 and len(full.full) == 1
    assert full.full[0].law.alpha_ == pytest.approx(0.55, abs=0.02)


def _grid_table(tmp_path):
    rng = np.random.default_rng(5)
    rows = [{"n": n, "s": s,
             "error": 8 * (0.05 + n ** -0.5) * s ** -0.3 * (1 + rng.normal(0, 0.01))}
            for s in (100, 400, 1600) for n in 1000 * 2 ** np.arange(5)]
    p = tmp_path / "grid.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


def test_eq2_verdict_takes_the_same_path_in_advise_and_report(tmp_path):
    p = _grid_table(tmp_path)
    a = assess(read_curves(p), AssessSettings(target=0.15, budget=1e6, s_budget=1e4,
                                              per_curve=False))
    assert len(a.grid) == 1 and all(c.advice is None for c in a.curves)
    g = a.grid[0].advice
    assert g.scenario in ("reachable", "undecided", "floor", "infeasible", "reached")
    _run(["advise", str(p), "--target", "0.15", "--budget", "1e6", "--s-budget", "1e4",
          "--json", str(tmp_path / "g.json")])
    row = json.loads((tmp_path / "g.json").read_text())[0]["advice"]
    assert row["scenario"] == g.scenario and row["p_reach"] == pytest.approx(g.p_reach)
    _run(["report", str(p), "--target", "0.15", "--budget", "1e6", "--s-budget", "1e4",
          "-o", str(tmp_path / "r")])
    page = (tmp_path / "r" / "index.html").read_text()
    assert "Render more or label more (eq. 2, target error 0.15)" in page
    assert f"<td>{g.p_reach:.0%}</td><td>{g.p_render:.0%}</td>" in page
    with pytest.raises(ValueError, match="--s-budget needs --budget"):
        AssessSettings(target=0.15, s_budget=1e4)
