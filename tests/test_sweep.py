"""Sweeps: config validation, the DAG, the SQLite store, local and Ray execution, crash safety.

Real components throughout: real rendering, real torch training on tiny inputs, real SQLite,
real worker processes, a real local Ray instance.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from studies import tiny
from syn2real.sweep import ConfigError, Store, build_plan, load_config, parse_config

pytest.importorskip("torch")

TINY = tiny(complexity={"dataset": "digits", "fraction": 0.2, "iters": 2, "batch": 16,
                        "images": 40})


def _cfg(**changes):
    raw = json.loads(json.dumps(TINY))
    for dotted, value in changes.items():
        d = raw
        *path, last = dotted.split(".")
        for k in path:
            d = d[int(k)] if isinstance(d, list) else d[k]
        d[last] = value
    return raw


def _write(tmp_path: Path, raw: dict, name: str = "study.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(raw))
    return p


# --- config -----------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "expect"), [
    ({"pretrain.tasks": ["mulclas"]}, ["'pretrain.tasks.0'", "'mulclass'", "'objdet'"]),
    ({"pretrain.n": [1000, 2000]}, ["'pretrain.n'", "at least 3"]),
    ({"finetune.0.dataset": "imagenet"}, ["'finetune.0.dataset'", "'mnist'"]),
    ({"finetune.0.counts": None}, ["'finetune.0'", "counts", "fractions"]),
    ({"render.presets": ["lv9"]}, ["'render'", "lv9", "lv7"]),
    ({"render.overrides": {"classes": ["glyph_Z"]}}, ["glyph_Z", "matches no class"]),
    ({"executor.kind": "kubernetes"}, ["'executor.kind'", "'kubernetes'", "local, ray, slurm"]),
    ({"render.titles": {"lv1": "clutter"}}, ["'render'", "titles for ['lv1']", "known: lv0"]),
])
def test_config_errors_name_the_key_and_allowed_values(change, expect):
    with pytest.raises(ConfigError) as exc:
        parse_config(_cfg(**change), "study.yaml")
    msg = str(exc.value)
    assert msg.startswith("study.yaml: ")
    for piece in expect:
        assert piece in msg, msg


def test_config_unknown_key_is_refused():
    raw = _cfg()
    raw["pretrian"] = {}
    with pytest.raises(ConfigError, match="'pretrian': unknown key"):
        parse_config(raw, "x.yaml")


def test_config_defaults_follow_the_paper_protocol():
    cfg = parse_config({"finetune": [{"counts": [100]}]})
    assert cfg.pretrain.n == [1000 * 2**i for i in range(7)]
    assert cfg.executor.kind == "local" and cfg.scratch


def test_cli_reports_config_errors_in_one_line(tmp_path):
    from syn2real.cli.app import app

    path = _write(tmp_path, _cfg(**{"finetune.0.task": "depth"}))
    res = CliRunner().invoke(app, ["plan", str(path)])
    assert res.exit_code == 2
    assert "finetune.0.task" in res.output and "Traceback" not in res.output


# --- plan -------------------------------------------------------------------------------


def test_plan_is_a_dag_with_prefix_rendering_and_content_keys(tmp_path):
    cfg = parse_config(_cfg(seeds=[0, 1]))
    plan = build_plan(cfg, tmp_path)
    kinds = [j.kind for j in plan.order()]
    assert kinds.count("render") == 3 and kinds.count("pretrain") == 6
    assert kinds.count("backbone") == 1 and kinds.count("complexity") == 1
    cx = plan.by_kind("complexity")[0]
    assert {plan.jobs[d].kind for d in cx.deps} == {"render", "backbone"}
    # 2 scratch + 6 pre-trained (each fine-tuned with its own seed)
    assert kinds.count("finetune") == 8
    # rendering is independent parts of one folder: n = 20 and 40 need the first 60 images
    # (n + 20 validation images, in shards of 30), n = 60 also images 60-89 (shard 2 on);
    # both parts run at once; a check of the whole folder waits on them. Each pre-training
    # waits only on the parts it reads, but its key names the whole dataset (one identity
    # per dataset: the key a single render of all 90 images has)
    from syn2real.jobspecs import RenderJob
    from syn2real.sweep.plan import job_key

    first, rest, render = plan.by_kind("render")
    assert (first.params["n_images"], first.params["shards_from"]) == (60, None)
    assert (rest.params["n_images"], rest.params["shards_from"]) == (90, 2)
    assert (render.params["n_images"], render.params["shards_from"]) == (90, None)
    assert first.params["out"] == rest.params["out"] == render.params["out"]
    assert first.waits_on == rest.waits_on == [] and render.waits_on == [first.key, rest.key]
    whole = RenderJob(**{k: render.params[k] for k in ("spec", "n_images", "out", "workers",
                                                       "storage")})
    assert render.key == job_key("render", {**whole.identity(), **render.tags}, [])
    for j in plan.by_kind("pretrain"):
        assert j.deps == [render.key]
        assert j.waits_on == ([first.key, rest.key] if j.params["n"] == 60 else [first.key])
    # render.part_images: at most 30 images per part, so 3 parts; the same dataset key and
    # pre-training keys (how the render is cut is scheduling, not identity)
    split = build_plan(parse_config(_cfg(seeds=[0, 1], **{"render.part_images": 30})),
                       tmp_path)
    parts = split.by_kind("render")
    assert [(j.params["n_images"], j.params["shards_from"]) for j in parts] == [
        (30, None), (60, 1), (90, 2), (90, None)]
    assert parts[-1].key == render.key and parts[-1].waits_on == [j.key for j in parts[:3]]
    assert {j.key for j in split.by_kind("pretrain")} == {j.key for j in plan.by_kind("pretrain")}
    assert all(len(j.waits_on) == (3 if j.params["n"] == 60 else 2)
               for j in split.by_kind("pretrain"))
    seen: set[str] = set()
    for j in plan.order():  # every job comes after what it needs
        assert set(j.waits_on) <= seen
        seen.add(j.key)
    for j in plan.by_kind("finetune"):
        if j.deps:
            assert plan.jobs[j.deps[0]].params["seed"] == j.params["seed"]
    again = build_plan(parse_config(_cfg(seeds=[0, 1])), tmp_path)
    assert list(again.jobs) == list(plan.jobs)
    moved = build_plan(parse_config(_cfg(seeds=[0, 1])), tmp_path / "elsewhere")
    assert list(moved.jobs) == list(plan.jobs)  # keys do not depend on the run folder
    repeats = build_plan(parse_config(_cfg(**{"finetune.0.seeds": [3, 4]})), tmp_path)
    ft = repeats.by_kind("finetune")
    assert len(ft) == 4 * 2 and {j.params["seed"] for j in ft} == {3, 4}


def test_changing_one_setting_changes_only_what_depends_on_it(tmp_path):
    base = build_plan(parse_config(_cfg()), tmp_path)
    ft_lr = build_plan(parse_config(_cfg(**{"finetune.0.lr": 0.2})), tmp_path)
    pt_it = build_plan(parse_config(_cfg(**{"pretrain.iters": 3})), tmp_path)

    def keys(p, kind):
        return {j.key for j in p.by_kind(kind)}

    assert keys(ft_lr, "render") == keys(base, "render")
    assert keys(ft_lr, "pretrain") == keys(base, "pretrain")
    assert not keys(ft_lr, "finetune") & keys(base, "finetune")
    assert keys(pt_it, "render") == keys(base, "render")
    assert not keys(pt_it, "pretrain") & keys(base, "pretrain")
    # the from-scratch fine-tune does not depend on pre-training settings
    assert len(keys(pt_it, "finetune") & keys(base, "finetune")) == 1


def test_pretraining_at_small_n_starts_before_the_whole_render_is_done(tmp_path):
    from syn2real.sweep import execute
    from syn2real.sweep.plan import Plan

    cfg = parse_config(tiny(executor={"workers": 2, "threads": 1}))
    full = build_plan(cfg, tmp_path)
    plan = Plan(cfg, tmp_path, {k: j for k, j in full.jobs.items()
                                if j.kind in ("render", "pretrain")})
    events: list[tuple[str, str]] = []
    summary = execute(plan, Store(tmp_path / "results.sqlite"),
                      on_event=lambda what, job, info: events.append((what, job.label)))
    assert summary.ok and len(summary.ran) == 6
    first_pretrain = events.index(("start", "pretrain lv0 mulclass resnet18 n=20 seed=0"))
    assert events.index(("done", "render lv0 (first 60 images)")) < first_pretrain
    assert first_pretrain < events.index(("done", "render lv0 (90 images: check the parts)"))
    # the chunks wrote one folder, the same bytes as a render of all 90 images at once
    from syn2real.render import render_dataset
    from syn2real.render.shards import read_manifest

    once = render_dataset(cfg.render.spec("lv0"), tmp_path / "once", 90)
    chained = read_manifest(full.by_kind("render")[-1].params["out"])
    assert chained["images"] == 90
    assert ({k: v["sha256"] for k, v in chained["shards"].items()}
            == {k: v["sha256"] for k, v in once["shards"].items()})


# --- store ------------------------------------------------------------------------------


def test_store_writes_are_idempotent_and_success_wins(tmp_path):
    s = Store(tmp_path / "r.sqlite")
    s.record("a", "finetune", {"x": 1}, error="boom")
    s.record("a", "finetune", {"x": 1}, error="boom again")
    assert s.status() == {"a": "failed"}
    s.record("a", "finetune", {"x": 1}, result={"ok": 1}, seconds=2.0, units=4.0)
    s.record("a", "finetune", {"x": 1}, error="late failure")  # never overwrites a success
    s.record("a", "finetune", {"x": 1}, result={"ok": 2})
    rows = s.rows()
    assert len(rows) == 1 and rows[0]["result"] == {"ok": 1} and rows[0]["attempts"] == 3
    assert s.seconds_per_unit() == {"finetune": 0.5}
    con = sqlite3.connect(tmp_path / "r.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- running ----------------------------------------------------------------------------


def _invoke(args):
    from syn2real.cli.app import app

    return CliRunner().invoke(app, args)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    import syn2real.cli.sweep as cli_sweep

    tmp = tmp_path_factory.mktemp("sweep")
    cfg = _write(tmp, _cfg(**{"render.titles": {"lv0": "lv0 test shapes"}}))
    every, cli_sweep.PROGRESS_EVERY = cli_sweep.PROGRESS_EVERY, 0.5  # plain lines, not a TTY
    try:
        res = _invoke(["run", str(cfg), "--out", str(tmp / "run"), "--json",
                       str(tmp / "out.json")])
    finally:
        cli_sweep.PROGRESS_EVERY = every
    assert res.exit_code == 0, res.output
    return tmp, cfg, res


def test_run_says_what_it_expects_shows_progress_and_the_measured_points(finished_run):
    tmp, _, res = finished_run
    plan = build_plan(parse_config(TINY), tmp / "run")
    total = len(plan.jobs)
    text = res.output
    # before anything runs: how many jobs and how long, from the built-in figures
    head = text.index(f"{total} of {total} jobs to run, expected ~")
    assert "built-in figures for 2 CPU cores" in text[head:head + 200]
    # plain periodic lines (not a terminal), the last one when all jobs are through
    lines = [ln for ln in text.splitlines() if ln.startswith("jobs ") and "ETA ~" in ln]
    assert len(lines) >= 2 and "jobs/min" in lines[0]
    assert lines[-1].startswith(f"jobs {total}/{total} ({total} ran, 0 cached, 0 failed)")
    assert text.index(lines[0]) > head
    # the measured curve with its standard errors, under the setting's title
    out = json.loads((tmp / "out.json").read_text())
    pts = [p for p in out["points"] if p["n"] > 0]
    assert [p["n"] for p in pts] == [20.0, 40.0, 60.0]
    assert all(p["runs"] == 1 and p["held_out"] is False for p in pts)
    assert out["fits"][0]["label"].startswith("lv0 test shapes · ResNet-18 → ")
    assert "measured: lv0 test shapes" in text and "std. error" in text
    assert f"{pts[0]['mean']:.3f}" in text
    page = (tmp / "run" / "report" / "index.html").read_text()
    assert "Measured points" in page and "lv0 test shapes" in page
    assert "(open it in a browser)" in text


def test_run_local_end_to_end_then_rerun_skips_everything(finished_run):
    from syn2real.curves import read_curves

    tmp, cfg, res = finished_run
    run = tmp / "run"
    store = Store(run / "results.sqlite")
    plan = build_plan(parse_config(TINY), run)
    assert set(store.status().values()) == {"done"} and len(store.status()) == len(plan.jobs)
    cs = read_curves(run / "results.csv")
    assert sorted(cs.data["n"].unique()) == [20, 40, 60] and len(cs.baseline) == 1
    out = json.loads((tmp / "out.json").read_text())
    assert out["fits"][0]["n_points"] == 3 and out["advice"][0]["target"] == 0.5
    assert out["margins"][0]["n_max"] == 60
    cx = out["complexity"][0]
    assert cx["pdata"] == "lv0" and math.isfinite(cx["negative_entropy"])
    assert cx["estimator"] == "ledoit-wolf"  # 40 images, 512 features
    assert cx["alpha"] == out["fits"][0]["alpha"]
    page = (run / "report" / "index.html").read_text()
    assert "Data complexity" in page and (run / "report" / "fig6_complexity.png").exists()
    assert "transfer at n = 60" in res.output
    assert "What to do (target error 0.5):" in res.output  # first, one line per curve
    for j in plan.by_kind("pretrain"):  # every checkpoint loads
        import torch

        ck = torch.load(Path(j.params["out"]) / "backbone.pt", weights_only=False)
        assert ck["config"]["n"] == j.params["n"]
    before = store.rows()
    again = _invoke(["run", str(cfg), "--out", str(run), "--no-report"])
    assert again.exit_code == 0, again.output
    assert f"0 ran, {len(plan.jobs)} cached" in again.output
    after = store.rows()
    assert [r["finished"] for r in after] == [r["finished"] for r in before]
    # a new fine-tuning lr reruns only the fine-tunes; the old rows stay in the store but
    # are not mixed into the results
    changed = _write(tmp, _cfg(**{"finetune.0.lr": 0.03}), "changed.yaml")
    res3 = _invoke(["run", str(changed), "--out", str(run), "--no-report"])
    assert res3.exit_code == 0, res3.output
    n_ft = len(plan.by_kind("finetune"))
    assert f"{n_ft} ran, {len(plan.jobs) - n_ft} cached" in res3.output
    assert len(store.rows("finetune")) == 2 * n_ft
    assert len((run / "results.csv").read_text().splitlines()) == 1 + n_ft


def test_export_writes_the_cg_transfer_schema_that_fit_reads(finished_run, tmp_path):
    tmp, _, _ = finished_run
    dest = tmp_path / "exported.csv"
    res = _invoke(["export", str(tmp / "run"), "--format", "cg-transfer", "-o", str(dest)])
    assert res.exit_code == 0, res.output
    header = dest.read_text().splitlines()[0].split(",")
    assert header[:11] == ["n_eval", "value", "pretrain.data", "pscale", "ptask", "fdata",
                           "fratio", "ftask", "model", "nparam", "pdata"]
    fit = _invoke(["fit", str(dest), "--json", str(tmp_path / "fit.json")])
    assert fit.exit_code == 0, fit.output
    rows = json.loads((tmp_path / "fit.json").read_text())
    assert len(rows) == 1 and rows[0]["group"]["model"] == "r18"
    bad = _invoke(["export", str(tmp_path / "nowhere")])
    assert bad.exit_code == 2 and "no results.sqlite" in bad.output


def test_plan_command_shows_state_and_estimate(finished_run):
    tmp, cfg, _ = finished_run
    res = _invoke(["plan", str(cfg), "--out", str(tmp / "run")])
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert "done" in text and "measured in this run folder" in text


def test_plan_calibrated_by_a_pilot_run_uses_its_measured_speeds(finished_run, tmp_path):
    """Issue 28 item 5: ``plan --calibrate PILOT`` estimates a larger study from the seconds
    per unit of work measured in a finished run (the cost model's calibration), says so,
    and refuses a folder with nothing measured in one line."""
    from syn2real.sweep.plan import work_units

    tmp, _, _ = finished_run
    big = _cfg(**{"pretrain.n": [20, 40, 60, 120, 240], "pretrain.iters": 20})
    big["executor"] = {"kind": "slurm", "slurm": {"time": 600}}
    cfg = _write(tmp_path, big)
    res = _invoke(["plan", str(cfg), "--out", str(tmp_path / "big"), "--cluster",
                   "--calibrate", str(tmp / "run"), "--json", str(tmp_path / "p.json")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert f"stages (estimates from times measured in {tmp / 'run'})" in text
    speed = Store(tmp / "run" / "results.sqlite").seconds_per_unit()
    assert {"render", "pretrain", "finetune"} <= set(speed)
    plan = build_plan(parse_config(big), tmp_path / "big")
    stages = {r["stage"]: r for r in json.loads((tmp_path / "p.json").read_text())["stages"]}
    for kind, r in stages.items():
        want = sum(work_units(j) * speed[kind] for j in plan.by_kind(kind)) / 3600
        assert r["hours"] == pytest.approx(want), kind
    uncal = build_plan(parse_config(big), tmp_path / "big").estimate_seconds()
    assert stages["pretrain"]["hours"] != pytest.approx(
        sum(uncal[j.key] for j in plan.by_kind("pretrain")) / 3600)
    (tmp_path / "empty").mkdir()
    bad = _invoke(["plan", str(cfg), "--calibrate", str(tmp_path / "empty")])
    assert bad.exit_code == 2 and "no results.sqlite there" in bad.output


def test_plan_says_the_storage_of_the_renders_and_jobs_over_the_time_limit(tmp_path):
    from syn2real.render.shards import NPY_BYTES_PER_PIXEL

    raw = _cfg()
    res = _invoke(["plan", str(_write(tmp_path, raw)), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    # one dataset folder of 90 images (60 + 20 validation, whole shards of 30) at 32 px
    kb = 90 * 32 * 32 * NPY_BYTES_PER_PIXEL / 1e3
    assert f"storage: the renders take ~{kb / 1e3:,.1f} MB (1 dataset folder(s), raw" in text
    assert "time limit" not in text  # local: no limit to check
    raw = {**raw, "pretrain": {**raw["pretrain"], "iters": 200_000},
           "executor": {"kind": "slurm", "time": 5, "cpus_per_job": 1}}
    res = _invoke(["plan", str(_write(tmp_path, raw, "slurm.yaml")), "--out",
                   str(tmp_path / "run2")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "3 pretrain job(s) are estimated above the Slurm time limit of 5 min" in text
    assert "built-in 2-core CPU figures" in text and "finetune job(s)" not in text


def test_a_failing_job_is_recorded_and_does_not_stop_the_others(tmp_path):
    raw = _cfg()
    raw["finetune"].append({"task": "sinclass", "dataset": "fashion-mnist", "counts": [30],
                            "iters": 2, "batch": 16, "data_path": str(tmp_path / "missing")})
    cfg = _write(tmp_path, raw)
    run = tmp_path / "run"
    res = _invoke(["run", str(cfg), "--out", str(run), "--no-report"])
    assert res.exit_code == 1
    store = Store(run / "results.sqlite")
    failed = store.rows(status="failed")
    assert len(failed) == 4 and all("missing" in r["error"] for r in failed)
    assert len(store.rows("finetune")) == 4  # the digits fine-tunes all finished
    res2 = _invoke(["run", str(cfg), "--out", str(run), "--no-report", "--retry-failed"])
    assert res2.exit_code == 1
    assert "4 failed" in res2.output
    assert {r["attempts"] for r in store.rows(status="failed")} == {2}


@pytest.mark.slow
def test_kill_9_mid_sweep_then_rerun_loses_and_duplicates_nothing(tmp_path):
    import torch

    cfg = _write(tmp_path, _cfg(**{"pretrain.iters": 15}))
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "syn2real.cli.app", "run", str(cfg), "--out", str(run),
           "--no-report"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    db = run / "results.sqlite"
    deadline = time.time() + 300
    while time.time() < deadline:  # kill once a pre-training job is recorded
        if db.exists() and len(Store(db).rows("pretrain")) >= 1:
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = Store(db).status()
    plan = build_plan(parse_config(_cfg(**{"pretrain.iters": 15})), run)
    assert 0 < len(partial) < len(plan.jobs)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    store = Store(db)
    assert len(store.status()) == len(plan.jobs)
    assert all(r["attempts"] == 1 for r in store.rows())
    keys = [r["key"] for r in store.rows()]
    assert len(keys) == len(set(keys))
    for j in plan.by_kind("pretrain"):
        torch.load(Path(j.params["out"]) / "backbone.pt", weights_only=False)
    lines = (run / "results.csv").read_text().splitlines()
    assert len(lines) == 1 + len(plan.by_kind("finetune"))


@pytest.mark.slow
def test_ray_executor_on_a_local_instance_gives_the_local_results(finished_run, tmp_path):
    pytest.importorskip("ray")
    tmp, cfg, _ = finished_run
    res = _invoke(["run", str(cfg), "--out", str(tmp_path / "ray"), "--executor", "ray",
                   "--no-report"])
    assert res.exit_code == 0, res.output
    # keys hash content, never paths: the two run folders share them (the local folder also
    # holds rows of an earlier test's changed config, which the keys tell apart)
    local = {r["key"]: r["result"]["metrics"] for r in Store(tmp / "run" /
                                                               "results.sqlite").rows()
             if r["kind"] == "finetune"}
    ray_rows = {r["key"]: r["result"]["metrics"] for r in Store(tmp_path / "ray" /
                                                                  "results.sqlite").rows()
                if r["kind"] == "finetune"}
    assert ray_rows and ray_rows.keys() <= local.keys()
    for k in ray_rows:  # deterministic on CPU: the same numbers whichever executor ran them
        assert ray_rows[k]["error_last"] == pytest.approx(local[k]["error_last"], abs=1e-9)


def test_holdout_is_validated_and_checked_against_the_predictive_interval(tmp_path):
    import pandas as pd

    from syn2real.assess import AssessSettings, assess
    from syn2real.curves import read_curves

    with pytest.raises(ConfigError, match=r"fit.holdout \[100\] not in pretrain.n"):
        parse_config(_cfg(**{"fit.holdout": [100]}), "study.yaml")
    with pytest.raises(ConfigError, match="fewer than 3 sizes"):
        parse_config(_cfg(**{"fit.holdout": [20]}), "study.yaml")
    rng = np.random.default_rng(0)
    n = 1000 * 2.0 ** np.arange(7)
    rows = [{"n": x, "error": 0.5 * x ** -0.3 + 0.1 + rng.normal(0, 0.002), "setting": s}
            for s in ("a", "b") for x in n]
    cs = read_curves(pd.DataFrame(rows))
    held = cs.data[cs.data["n"] == n[-1]]
    fitted = cs.data[cs.data["n"] != n[-1]]
    import dataclasses

    fit_on = dataclasses.replace(cs, data=fitted.reset_index(drop=True))

    def holdout_checks(held):
        a = assess(fit_on, AssessSettings(), labels=["a", "b"], held=held)
        assert all(c.predictor is not None and c.advice is None for c in a.curves)
        return [h for c in a.curves for h in c.holdout]

    checks = holdout_checks(held)
    assert [c["label"] for c in checks] == ["a", "b"] and all(c["n"] == n[-1] for c in checks)
    for c in checks:
        lo, hi = c["interval"]
        assert lo < c["predicted"] < hi and c["inside"]
        assert c["measured"] == pytest.approx(0.5 * n[-1] ** -0.3 + 0.1, abs=0.01)
    # a measurement far off the curve is reported outside
    far = held.assign(err=held["err"] * 2)
    assert not any(c["inside"] for c in holdout_checks(far))


def test_point_noise_counts_the_spread_between_pretrainings():
    from syn2real.sweep.finish import point_noise

    # A: 2 pre-trainings x 2 fine-tunings per size; B: one pre-training
    runs = {("a", 20): {"0/0": 0.30, "0/1": 0.32, "1/0": 0.36, "1/1": 0.38},
            ("a", 40): {"0/0": 0.20, "0/1": 0.22, "1/0": 0.24, "1/1": 0.26},
            ("b", 20): {"0/0": 0.5}, ("b", 40): {"0/0": 0.40, "0/1": 0.42}}
    base = {"pscale": 60, "ptask": "mulclass", "fdata": "mnist", "fratio": 1.0,
            "ftask": "sinclass", "model": "r18"}
    rows = [{**base, "pdata": s, "n": float(n), "err": e, "seed": seed}
            for (s, n), es in runs.items() for seed, e in es.items()]
    curves = [({"pdata": "a", "model": "r18"}, None), ({"pdata": "b"}, None)]
    pts = point_noise(curves, ["A", "B"], pd.DataFrame(rows), held_out=[40])
    by = {(p["label"], p["n"]): p for p in pts}
    assert set(by) == {("A", 20.0), ("A", 40.0), ("B", 20.0), ("B", 40.0)}
    a20, a40 = by[("A", 20.0)], by[("A", 40.0)]
    assert a40["mean"] == pytest.approx(0.23) and a40["runs"] == 4 and a40["held_out"]
    assert a40["pretrains"] == 2 and a40["sd"] == pytest.approx(
        np.std([0.20, 0.22, 0.24, 0.26], ddof=1))
    # relative variances pooled over the two sizes (one degree of freedom each between,
    # two within): V of the pre-trainings' means, W of the fine-tunings within one
    V = (np.var([0.31, 0.37], ddof=1) / 0.34**2 + np.var([0.21, 0.25], ddof=1) / 0.23**2) / 2
    W = (0.0002 / 0.34**2 + 0.0002 / 0.23**2) / 2
    assert a20["se"] == pytest.approx(0.34 * np.sqrt(V / 2))
    assert a40["se"] == pytest.approx(0.23 * np.sqrt(V / 2))
    assert a40["se"] > a40["sd"] / np.sqrt(4)  # the naive figure leaves pre-training out
    assert a20["sd_finetune"] == pytest.approx(0.34 * np.sqrt(W))
    assert a20["sd_pretrain"] == pytest.approx(0.34 * np.sqrt(V - W / 2))
    # B: one pre-training, so fine-tuning noise only, and the component is not measured
    b20 = by[("B", 20.0)]
    assert b20["pretrains"] == 1 and math.isnan(b20["sd_pretrain"]) and not b20["held_out"]
    assert b20["se"] == pytest.approx(0.5 * np.sqrt(0.0002 / 0.41**2 / 1))


def test_epochs_give_large_n_more_steps_and_leave_the_other_keys_alone(tmp_path):
    base = _cfg(**{"pretrain.n": [20, 40, 60], "pretrain.iters": 2, "pretrain.batch": 16})
    plain = build_plan(parse_config(base), tmp_path)
    more = build_plan(parse_config(_cfg(**{"pretrain.n": [20, 40, 60], "pretrain.iters": 2,
                                            "pretrain.batch": 16, "pretrain.epochs": 0.5})),
                      tmp_path)
    steps = {j.params["n"]: j.params["iters"] for j in more.by_kind("pretrain")}
    assert steps == {20: 2, 40: 2, 60: 2}  # ceil(0.5 * n / 16) <= 2: the floor holds
    assert set(plain.jobs) == set(more.jobs)
    most = build_plan(parse_config(_cfg(**{"pretrain.n": [20, 40, 60], "pretrain.iters": 2,
                                            "pretrain.batch": 16, "pretrain.epochs": 1})),
                      tmp_path)
    steps = {j.params["n"]: j.params["iters"] for j in most.by_kind("pretrain")}
    assert steps == {20: 2, 40: 3, 60: 4}  # ceil(n / 16)
    changed = set(most.jobs) - set(plain.jobs)
    assert {most.jobs[k].params.get("n") for k in changed if most.jobs[k].kind == "pretrain"} \
        == {40, 60}
    with pytest.raises(ConfigError, match=r"'pretrain\.epochs'"):
        parse_config(_cfg(**{"pretrain.epochs": 0}), "study.yaml")


@pytest.mark.slow
def test_ray_starts_a_job_lost_with_its_worker_again(tmp_path):
    ray = pytest.importorskip("ray")
    from types import SimpleNamespace

    from syn2real.sweep.runners.ray import RayRunner

    def crash_once(kind: str, marker: str, threads: int) -> dict:
        """A job whose first worker dies (as with a lost node or an OOM kill); defined here
        so that Ray ships it by value to workers that cannot import the tests."""
        import os

        if not os.path.exists(marker):
            with open(marker, "w") as fh:
                fh.write("crashed once")
            os._exit(1)
        return {"result": {"attempt": 2}, "seconds": 0.0}

    runner = RayRunner(None, 1, 0.0, retries=2)
    try:
        runner._fn = ray.remote(crash_once)
        job = SimpleNamespace(kind="pretrain", spec=str(tmp_path / "a"))
        ref = runner.submit(job, 1)
        _, out = runner.wait([ref])
        assert out == {"result": {"attempt": 2}, "seconds": 0.0}  # the second worker ran it
        assert (tmp_path / "a").read_text() == "crashed once"
        # with no retries the lost worker is a failed job, named as such
        once = RayRunner(None, 1, 0.0, retries=0)
        once._fn = runner._fn
        _, out = once.wait([once.submit(SimpleNamespace(kind="pretrain",
                                                        spec=str(tmp_path / "b")), 1)])
        assert out["error"].startswith("Ray task failed")
    finally:
        runner.close()


@pytest.mark.slow
def test_a_pretraining_killed_on_a_ray_worker_goes_on_from_its_state(tmp_path):
    """Issue 28 item 1 on Ray: the worker running a pre-training dies at iteration 7 of 12
    (after its resumable state was written); Ray starts the job again on another worker,
    which goes on from iteration 7 and writes the checkpoint bytes of an uninterrupted run."""
    ray = pytest.importorskip("ray")
    import hashlib
    from types import SimpleNamespace

    from syn2real.jobspecs import PretrainJob
    from syn2real.render import preset, render_dataset
    from syn2real.sweep.runners.ray import RayRunner
    from syn2real.train.pretrain import run_pretrain

    def dies_once_at_7(kind: str, spec: PretrainJob, threads: int) -> dict:
        """run_job's pre-training, whose first worker dies at iteration 7 (shipped by value:
        Ray's workers cannot import the tests)."""
        import os

        from syn2real.train.pretrain import run_pretrain

        marker = spec.out + ".died"

        def step(k: int, seen: list = []) -> None:  # noqa: B006  (a counter per call)
            seen.append(k)
            if len(seen) == 7 and not os.path.exists(marker):
                with open(marker, "w") as fh:
                    fh.write("died at 7")
                os._exit(1)

        return {"result": run_pretrain(spec, threads, on_step=step), "seconds": 0.0}

    data = tmp_path / "data"
    render_dataset(preset("lv0", size=32, classes=3, shard_size=30), data, 60)
    kw = dict(data=str(data), n=40, task="mulclass", iters=12, batch=8, val_images=20,
              stem="imagenet", val_every=3, state_every=0)
    whole = run_pretrain(PretrainJob.make(**kw, out=str(tmp_path / "whole")), 1)
    runner = RayRunner(None, 1, 0.0, retries=2)
    try:
        runner._fn = ray.remote(dies_once_at_7)
        job = PretrainJob.make(**kw, out=str(tmp_path / "ray"))
        _, out = runner.wait([runner.submit(SimpleNamespace(kind="pretrain", spec=job), 1)])
    finally:
        runner.close()
    assert "error" not in out, out.get("error")
    assert (tmp_path / "ray.died").read_text() == "died at 7"
    assert out["result"]["timings"]["resumed_from"] == 7
    assert out["result"]["history"] == whole["history"]

    def sha(p):
        return hashlib.sha256(p.read_bytes()).hexdigest()

    assert sha(tmp_path / "ray" / "backbone.pt") == sha(tmp_path / "whole" / "backbone.pt")


def test_slurm_resources_per_stage_reach_the_sbatch_script(tmp_path):
    pytest.importorskip("submitit")
    from submitit.slurm.slurm import _make_sbatch_string

    from syn2real.sweep.runners.slurm import processes, slurm_resources

    raw = _cfg()
    raw["executor"] = {
        "kind": "slurm", "partition": "gpu", "gpus_per_job": 1, "cpus_per_job": 8,
        "time": 600, "resources": {
            "render": {"partition": "cpu", "cpus": 32, "mem": "64G", "time": 120},
            "pretrain": {"constraint": "a100|h100", "time": 2880, "comment": "paper",
                         "extra": ["--exclusive", "--reservation=syn2real"]}}}
    cfg = load_config(_write(tmp_path, raw))
    render = slurm_resources(cfg.executor, "render")
    assert render == {"cpus_per_task": 32, "time": 120, "gpus_per_node": 0,
                      "partition": "cpu", "mem": "64G"}
    pre = slurm_resources(cfg.executor, "pretrain")
    fine = slurm_resources(cfg.executor, "finetune")  # no block of its own: the defaults
    assert fine == {"cpus_per_task": 8, "time": 600, "gpus_per_node": 1, "partition": "gpu"}
    script = _make_sbatch_string(command="true", folder=str(tmp_path), **pre)
    for line in ("#SBATCH --constraint='a100|h100'", "#SBATCH --time=2880",
                 "#SBATCH --gpus-per-node=1", "#SBATCH --partition=gpu", "#SBATCH --exclusive",
                 "#SBATCH --reservation=syn2real", "#SBATCH --comment=paper",
                 "#SBATCH --cpus-per-task=8"):
        assert line in script.splitlines(), (line, script)
    res = _invoke(["plan", str(_write(tmp_path, raw, "s.yaml")), "--out", str(tmp_path / "r")])
    text = " ".join(res.output.split())
    assert "slurm render jobs ask for: cpus_per_task=32, time=120, gpus_per_node=0, " \
           "partition=cpu, mem=64G" in text
    # a pre-training on 2 nodes x 8 GPUs: one DDP task per GPU, 16 processes
    raw["executor"]["resources"]["pretrain"].update(gpus=8, nodes=2)
    raw["pretrain"]["batch"] = 16  # one global batch shared by the 16 processes
    cfg = load_config(_write(tmp_path, raw))
    pre = slurm_resources(cfg.executor, "pretrain")
    assert (pre["nodes"], pre["ntasks_per_node"], pre["gpus_per_node"]) == (2, 8, 8)
    assert processes(pre) == 16 and processes(slurm_resources(cfg.executor, "render")) == 1
    script = _make_sbatch_string(command="true", folder=str(tmp_path), **pre).splitlines()
    assert {"#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=8",
            "#SBATCH --gpus-per-node=8"} <= set(script), script


@pytest.mark.parametrize("resources, words", [
    ({"rendering": {"cpus": 4}}, ["'executor.slurm.resources.rendering", "got 'rendering'",
                                  "allowed: 'render'"]),
    ({"pretrain": {"extra": ["exclusive"]}}, ["'exclusive' is not an sbatch option",
                                              "--flag"]),
    ({"pretrain": {"gpu": 1}}, ["'executor.slurm.resources.pretrain.gpu'"]),
    ({"finetune": {"nodes": 2}}, ["resources.finetune.nodes is 2",
                                  "only pre-training runs on several nodes"]),
    ({"render": {"gpus": 4}}, ["resources.render.gpus is 4", "one process on one GPU"]),
])
def test_stage_resources_refuse_what_slurm_would_not_read(tmp_path, resources, words):
    raw = _cfg()
    raw["executor"] = {"kind": "slurm", "resources": resources}
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, raw))
    text = " ".join(str(exc.value).split())
    assert all(w in text for w in words), text


def test_each_backend_has_its_own_settings_block_and_a_misplaced_key_is_one_line(tmp_path):
    """executor.slurm / executor.ray blocks (issue 26 step 2): the flat form of earlier
    versions still reads for its own backend, a key of another backend is refused, and
    executor.ray.address reaches the Ray runner (it was read only from --address)."""
    from syn2real.sweep.runners.base import RunnerSettings
    from syn2real.sweep.runners.ray import RayRunner
    from syn2real.sweep.runners.slurm import slurm_resources

    def cfg(executor):
        return parse_config({**_cfg(), "executor": executor}, "study.yaml")

    block = cfg({"kind": "slurm", "slurm": {"partition": "gpu", "time": 30},
                 "ray": {"address": "auto"}})  # another backend's block may stay
    flat = cfg({"kind": "slurm", "partition": "gpu", "time": 30})
    assert block.executor.slurm == flat.executor.slurm
    assert slurm_resources(flat.executor, "pretrain")["partition"] == "gpu"
    for executor, words in [
            ({"kind": "local", "partition": "gpu"},
             "executor.partition is a slurm setting, but executor.kind is 'local'"),
            ({"kind": "slurm", "retries": 2}, "executor.retries is a ray setting"),
            ({"kind": "slurm", "time": 5, "slurm": {"time": 6}},
             "executor.time and executor.slurm.time both given"),
            ({"kind": "ray", "ray": {"partition": "gpu"}}, "'executor.ray.partition'")]:
        with pytest.raises(ConfigError) as exc:
            cfg(executor)
        assert words in " ".join(str(exc.value).split()), executor
    seen = {}

    class Probe(RayRunner):
        def __init__(self, address, threads, gpus, *, retries):
            seen.update(address=address, retries=retries)

    ec = cfg({"kind": "ray", "ray": {"address": "10.0.0.1:6379", "retries": 5}}).executor
    settings = RunnerSettings(ec=ec, run_dir=tmp_path, store=None, workers=1, threads=1)
    Probe.create(settings)
    assert seen == {"address": "10.0.0.1:6379", "retries": 5}
    Probe.create(RunnerSettings(ec=ec, run_dir=tmp_path, store=None, workers=1, threads=1,
                                address="auto"))
    assert seen["address"] == "auto"  # --address overrides the config


def test_a_registered_backend_runs_a_study_without_editing_any_list(tmp_path):
    """A backend in a module of its own: registered by name, accepted by the config and the
    command line, and every job of the tiny study runs through it."""
    import importlib.util
    import textwrap

    from syn2real.sweep import execute
    from syn2real.sweep.runners import _RUNNERS

    mod = tmp_path / "inline_backend.py"
    mod.write_text(textwrap.dedent('''
        from syn2real.sweep.jobs import run_job
        from syn2real.sweep.runners import Runner, register_runner

        from pydantic import BaseModel, ConfigDict

        class InlineSettings(BaseModel):
            model_config = ConfigDict(extra="forbid")
            label: str = "inline"

        class InlineRunner(Runner):
            """Runs each job in this process as it is submitted."""
            ran = []
            labels = []
            settings_model = InlineSettings

            def __init__(self, threads):
                self.slots, self.threads, self._out = 1, threads, {}

            @classmethod
            def create(cls, settings):
                cls.labels.append(settings.ec.block("inline").label)
                return cls(settings.threads)

            def submit(self, job, threads):
                InlineRunner.ran.append(job.key)
                self._out[job.key] = run_job(job.kind, job.spec, threads)
                return job.key

            def wait(self, handles):
                return handles[0], self._out.pop(handles[0])

        register_runner("inline", InlineRunner)
    '''))
    spec = importlib.util.spec_from_file_location("inline_backend", mod)
    backend = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backend)
    try:
        cfg = parse_config(tiny(executor={"kind": "inline", "threads": 1,
                                          "inline": {"label": "mine"}}))
        plan = build_plan(cfg, tmp_path / "run")
        store = Store(tmp_path / "run" / "results.sqlite")
        summary = execute(plan, store)
        assert summary.ok and sorted(backend.InlineRunner.ran) == sorted(plan.jobs)
        assert backend.InlineRunner.labels == ["mine"]  # its own settings block reached it
        # its block is validated with its model; without one, the model's defaults
        with pytest.raises(ConfigError, match=r"in executor\.inline, 'lable': unknown key"):
            parse_config(tiny(executor={"kind": "inline", "inline": {"lable": "x"}}))
        assert parse_config(tiny(executor={"kind": "inline"})).executor.block(
            "inline").label == "inline"
        assert parse_config(tiny()).executor.block("slurm").partition is None
        assert len(store.rows("finetune")) == len(plan.by_kind("finetune"))
        with pytest.raises(ConfigError, match=r"unknown executor 'nope'; choose .*inline"):
            parse_config(tiny(executor={"kind": "nope"}))
        res = _invoke(["run", str(_write(tmp_path, tiny())), "--executor", "nope", "--out",
                       str(tmp_path / "other")])
        assert res.exit_code != 0 and "unknown executor 'nope'" in res.output
    finally:
        _RUNNERS.pop("inline", None)


def test_built_in_estimate_follows_the_stems_measured_cost_not_only_the_pixel_count():
    """The CLI's default imagenet stem at 64 px: 200 steps of 64 took 73-78 s on 2 cores;
    the pixel-count rule said about 3 min (issue 25, item 12)."""
    from syn2real.jobspecs import PretrainJob
    from syn2real.sweep.plan import estimate_spec_seconds

    def seconds(stem: str, size: int) -> float:
        job = PretrainJob(data="d", n=1000, out="o", iters=200, val_images=200, stem=stem)
        return estimate_spec_seconds("pretrain", job, image_size=size)

    assert 50 < seconds("imagenet", 64) < 110
    assert seconds("imagenet", 32) < seconds("imagenet", 64) < seconds("imagenet", 128)
    # between measured sides the cost is monotone and continuous at the measured points
    assert seconds("imagenet", 63) < seconds("imagenet", 64) < seconds("imagenet", 65)
    # the small-pool stem keeps the pixel-count rule it was measured to follow
    assert seconds("small-pool", 64) - 2 == pytest.approx(4 * (seconds("small-pool", 32) - 2))


def test_a_study_with_two_real_sizes_gets_eq2_verdict_in_output_json_and_report(tmp_path):
    """fit.s_budget: the study's end asks eq. 2 too (issue 26: advise_grid on the same
    path as the per-curve verdicts)."""
    with pytest.raises(ConfigError, match=r"fit\.s_budget needs fit\.budget"):
        parse_config(_cfg(**{"fit.s_budget": 1000}), "study.yaml")
    with pytest.raises(ConfigError, match="needs two or more counts"):
        parse_config(_cfg(**{"fit.s_budget": 1000, "fit.budget": 1e5}), "study.yaml")
    raw = _cfg(**{"finetune.0.counts": [30, 60], "fit.s_budget": 1000, "fit.budget": 1e5})
    res = _invoke(["run", str(_write(tmp_path, raw)), "--out", str(tmp_path / "run"),
                   "--json", str(tmp_path / "out.json")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "out.json").read_text())
    assert len(out["advice"]) == 2 and len(out["grid"]) == 1  # two s-curves, one setting
    grid = out["grid"][0]["advice"]
    assert grid["s_budget"] == 1000 and grid["n_budget"] == 1e5
    text = " ".join(res.output.split())
    assert f"real and synthetic sizes together (eq. 2): {grid['scenario']}" in text
    page = (tmp_path / "run" / "report" / "index.html").read_text()
    assert "Render more or label more (eq. 2, target error 0.5)" in page


def test_numbers_in_exponent_form_are_numbers_in_a_config(tmp_path):
    """`budget: 1e5` is a string to PyYAML (YAML 1.1) and was refused as 'not a valid
    number'; settings files read it as YAML 1.2 does. PyYAML's own loader is untouched."""
    raw = {k: v for k, v in _cfg().items() if k != "fit"}
    p = tmp_path / "study.yaml"
    p.write_text(yaml.safe_dump(raw) + "fit: {target: 5E-1, budget: 1e5}\n")
    cfg = load_config(p)
    assert cfg.fit.budget == 100_000.0 and cfg.fit.target == 0.5
    assert yaml.safe_load("a: 1e5") == {"a": "1e5"}


def test_plan_cluster_shows_each_stage_with_its_gpu_and_cpu_hours(tmp_path):
    """Issue 28 item 5: ``plan --cluster``: per stage the jobs, hours, the longest job
    against its Slurm time limit, GPU-hours and CPU core-hours, and the estimates' basis."""
    from syn2real.sweep.plan import estimate_spec_seconds

    raw = _cfg(**{"executor": {"kind": "slurm", "gpus_per_job": 2, "slurm": {
        "cpus_per_job": 4, "time": 1, "resources": {"render": {"cpus": 8, "time": 600}}}}})
    res = _invoke(["plan", str(_write(tmp_path, raw)), "--out", str(tmp_path / "run"),
                   "--cluster", "--json", str(tmp_path / "plan.json")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "stages (estimates from built-in 2-core CPU figures" in text
    stages = {r["stage"]: r for r in json.loads((tmp_path / "plan.json").read_text())["stages"]}
    plan = build_plan(parse_config(raw), tmp_path / "run")
    est = plan.estimate_seconds()
    for k, j in plan.jobs.items():  # 2 GPUs: 2 DDP processes share a pre-training's work
        if j.kind == "pretrain":
            assert est[k] == pytest.approx(estimate_spec_seconds(j.kind, j.spec, **j.tags) / 2)
    for kind, r in stages.items():
        keys = [k for k, j in plan.jobs.items() if j.kind == kind]
        assert r["jobs"] == r["to_do"] == len(keys)
        assert r["hours"] == pytest.approx(sum(est[k] for k in keys) / 3600)
        assert r["cpu_core_hours"] == pytest.approx(r["hours"] * r["cpus"])
        assert r["gpu_hours"] == pytest.approx(r["hours"] * r["gpus"])
    assert stages["render"]["cpus"] == 8 and stages["render"]["gpus"] == 0
    assert stages["pretrain"]["gpus"] == 2 and stages["pretrain"]["time_limit_min"] == 1
    assert stages["render"]["over_limit"] == 0
    assert stages["pretrain"]["over_limit"] == sum(
        est[k] > 60 for k, j in plan.jobs.items() if j.kind == "pretrain")
    assert stages["pretrain"]["cpus"] == 8 and stages["finetune"]["cpus"] == 4
    assert "pretrain" in text and "over time limit" in text
    # the remaining work on Slurm: jobs and job-hours (the stages' sum), not "1 worker"
    hours = sum(r["hours"] for r in stages.values())
    assert (f"Remaining: {len(plan.jobs)} jobs, ~{hours:,.1f} job-hours (built-in 2-core "
            "figures), up to 64 of a stage at once") in text and "worker(s)" not in text


def test_a_ddp_pretraining_needs_whole_batches_shared_equally(tmp_path):
    """Issue 28 item 2: a study whose pre-training runs as several DDP processes (or
    accumulates) is refused at load time, not on the cluster, when its batch cannot be
    shared equally or a size is below one batch; planned, its jobs carry the accumulation."""
    raw = _cfg()
    raw["pretrain"].update(batch=10)
    raw["executor"] = {"kind": "slurm", "resources": {"pretrain": {"gpus": 4}}}
    with pytest.raises(ConfigError, match="multiple of 4"):
        load_config(_write(tmp_path, raw))
    raw["pretrain"].update(batch=12, accumulate=2)
    with pytest.raises(ConfigError, match="multiple of 8"):
        load_config(_write(tmp_path, raw))
    raw["pretrain"].update(batch=16, n=[8, 32, 64])
    with pytest.raises(ConfigError, match=r"pretrain.n \[8\] smaller than pretrain.batch 16"):
        load_config(_write(tmp_path, raw))
    raw["pretrain"].update(n=[16, 32, 64])
    cfg = load_config(_write(tmp_path, raw))
    jobs = [j for j in build_plan(cfg, tmp_path / "run").order() if j.kind == "pretrain"]
    assert jobs and all(j.spec.accumulate == 2 for j in jobs)
