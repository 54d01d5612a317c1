from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from syn2real.cli.app import app
from syn2real.curves import example_path
from syn2real.curves.example import TRUE_PARAMS

runner = CliRunner()
EX = str(example_path())


def test_fit_table_and_json(tmp_path):
    out = tmp_path / "fits.json"
    res = runner.invoke(app, ["fit", EX, "--D", "0.48", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "TransferLaw fits" in res.output
    rows = json.loads(out.read_text())
    assert len(rows) == len(TRUE_PARAMS)
    for r in rows:
        key = (r["group"]["preset"], r["group"]["ptask"])
        _, _alpha, C = TRUE_PARAMS[key]
        for k in ("alpha", "alpha_se", "alpha_ci", "C", "C_se", "C_ci", "D", "loss",
                  "n_points", "flags"):
            assert k in r
        assert r["D"] == 0.48 and r["n_points"] == 7 and r["loss"] == "linear"
        assert abs(r["C"] - C) < 0.01
        lo, hi = r["C_ci"]
        assert lo <= r["C"] <= hi


@pytest.mark.parametrize("how", ["shared", "joint"])
def test_fit_shared_D_reports_the_value_used(tmp_path, how):
    out = tmp_path / "f.json"
    res = runner.invoke(app, ["fit", EX, "--D", how, "--json", str(out)])
    assert res.exit_code == 0, res.output
    rows = json.loads(out.read_text())
    assert "note" in rows[0]["shared_D"]
    assert all(r["D"] == pytest.approx(rows[0]["shared_D"]["D"]) for r in rows)
    assert all(r.get("D_fixed") for r in rows)


def test_advise_gives_verdicts(tmp_path):
    out = tmp_path / "a.json"
    res = runner.invoke(app, ["advise", EX, "--D", "0.48", "--target", "0.28", "--json",
                              str(out)])
    assert res.exit_code == 0, res.output
    adv = {(a["group"]["preset"], a["group"]["ptask"]): a["advice"]
           for a in json.loads(out.read_text())}
    assert adv[("lv2", "mulclass")]["scenario"] == "floor"     # C = 0.405 > 0.28
    assert adv[("lv7", "objdet")]["scenario"] == "floor"       # C = 0.318
    assert adv[("lv7", "mulclass")]["scenario"] in ("reachable", "reached")  # C = 0.262


def test_advise_undecided_names_the_next_run_and_legacy_still_works(tmp_path):
    import numpy as np

    from syn2real.curves import read_curves
    from syn2real.law import CurvePredictor

    g = read_curves(EX).data
    g = g[(g["preset"] == "lv7-notex")]
    pred = CurvePredictor().fit(g["n"], g["err"])
    target = float(pred.predict([64 * g["n"].max()])[0])     # a coin flip at the budget
    out = tmp_path / "a.json"
    res = runner.invoke(app, ["advise", EX, "--where", "preset=lv7-notex", "--target",
                              str(target), "--budget", str(64 * g["n"].max()), "--json",
                              str(out)])
    assert res.exit_code == 0, res.output
    adv = json.loads(out.read_text())[0]["advice"]
    assert adv["scenario"] == "undecided" and 0.1 < adv["p_reach"] < 0.9
    assert g["n"].max() < adv["next_run"]["n"] <= 64 * g["n"].max()
    assert np.isfinite(adv["next_run"]["p_decide"])
    from syn2real.advise.decide import NO_DECISIVE_RUN

    text = " ".join(res.output.split())
    # the run that settles it, or, when no candidate is likely to, that more runs per size
    # would; never both (the cheapest run may decide little while the budget run decides)
    best = max(c["p_decide"] for c in adv["next_run"]["candidates"])
    said, never = (("No single run up to the budget is likely to settle it", "Run n = ")
                   if best < NO_DECISIVE_RUN else
                   ("Run n = ", "No single run up to the budget is likely"))
    assert "undecided" in text and said in text and never not in text
    res = runner.invoke(app, ["advise", EX, "--D", "0.48", "--target", "0.28", "--method",
                              "legacy"])
    assert res.exit_code == 0 and "floor" in res.output


@pytest.mark.parametrize("args, text", [
    (["fit", "missing.csv"], "no such file"),
    (["fit", EX, "--law", "nope"], "unknown law"),
    (["fit", EX, "--D", "abc"], "--D must be a number"),
    (["fit", EX, "--by", "colour"], "--by column 'colour' not found"),
    (["fit", EX, "--law", "full"], "needs the fine-tuning size s"),
    (["advise", EX, "--target", "-1"], "target must be a positive error"),
])
def test_user_mistakes_exit_2_without_traceback(args, text):
    res = subprocess.run([sys.executable, "-m", "syn2real.cli.app", *args],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert text in res.stderr.replace("\n", " ")
    assert "Traceback" not in res.stderr + res.stdout


def test_advise_cost_optimal_mix_from_a_table_with_s(tmp_path):
    rows = ["n,s,error"]
    for s in (1e5, 4e5, 1.6e6):
        for n in (1000, 2000, 4000, 8000, 16000, 32000):
            rows.append(f"{n},{s},{40 * (0.5 + n ** -0.55) * s ** -0.32:.6f}")
    p = tmp_path / "ns.csv"
    p.write_text("\n".join(rows) + "\n")
    out = tmp_path / "mix.json"
    res = runner.invoke(app, ["advise", str(p), "--target", "0.4", "--cost-synthetic", "0.001",
                              "--cost-real", "0.5", "--json", str(out)])
    assert res.exit_code == 0, res.output
    mix = json.loads(out.read_text())[0]["mix"]
    assert mix["feasible"] and mix["s"] >= mix["s_min"]
    assert mix["cost"] == pytest.approx(0.001 * mix["n"] + 0.5 * mix["s"], rel=1e-9)
    assert "Cheapest way to error 0.4" in res.output
    # a cost of 0 was silently taken as 1 (issue 29 item 8): refused, naming the option
    res = runner.invoke(app, ["advise", str(p), "--target", "0.4", "--cost-synthetic", "0",
                              "--cost-real", "0.5"])
    assert res.exit_code == 2 and "--cost-synthetic must be a finite cost > 0" in res.output


def test_sizes_with_fractions_are_refused_not_truncated():
    from syn2real.cli.data import _parse_sizes

    assert _parse_sizes("1000, 2e3") == [1000, 2000]
    for bad in ("10.7,20.2", "0", "a,b", ""):
        with pytest.raises(ValueError, match="whole image counts"):
            _parse_sizes(bad)


def test_atomic_write_keeps_the_umask_and_leaves_no_temp_file(tmp_path):
    import os

    from syn2real.atomic import atomic_open, atomic_write

    old = os.umask(0o022)
    try:
        p = atomic_write(tmp_path / "sub" / "a.json", "{}")
        assert p.read_text() == "{}" and (p.stat().st_mode & 0o777) == 0o644
        with pytest.raises(RuntimeError), atomic_open(tmp_path / "b.csv", "w") as fh:
            fh.write("half")
            raise RuntimeError("disk went away")
        assert not (tmp_path / "b.csv").exists()
        assert [f.name for f in tmp_path.iterdir()] == ["sub"]   # no temporary file left
    finally:
        os.umask(old)


def test_internal_errors_say_so_and_debug_shows_the_traceback(monkeypatch, tmp_path):
    import syn2real.cli.common as common
    import syn2real.cli.fit as app_mod

    def broken(*a, **k):
        raise TypeError("boom")

    monkeypatch.setattr(common, "DEBUG", False)
    # a file-system error names the file, exit 2
    res = runner.invoke(app, ["fit", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2 and "nope.csv" in res.output and "Traceback" not in res.output
    monkeypatch.setattr(app_mod, "read_curves", broken)
    res = runner.invoke(app, ["fit", EX])
    assert res.exit_code == 1
    assert "internal error (TypeError: boom)" in res.output and "--debug" in res.output
    res = runner.invoke(app, ["--debug", "fit", EX])
    assert isinstance(res.exception, TypeError)          # the traceback is not hidden


def test_help_lists_every_data_layout_and_real_data_kind():
    from syn2real.data.realspec import REAL_KINDS
    from syn2real.data.sources import LAYOUT_NAMES, layouts

    assert set(LAYOUT_NAMES) == set(layouts())  # the help's list is the registry's
    res = runner.invoke(app, ["pretrain", "--help"], env={"COLUMNS": "400"})
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert all(name in text for name in LAYOUT_NAMES), text
    res = runner.invoke(app, ["finetune", "--help"], env={"COLUMNS": "400"})
    text = " ".join(res.output.split())
    assert all(f"{kind}:PATH" in text for kind in REAL_KINDS), text
