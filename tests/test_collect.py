"""Issue 14: fit what users already have (DataFrames, column mapping, trainers' run
folders). Each fixture follows its tool's documented layout (cited per test); TensorBoard's is
written by the real writer (torch.utils.tensorboard)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from studies import tiny
from syn2real.cli.app import app
from syn2real.curves import CurveTableError, read_curves
from syn2real.curves.collect import collect

NS = [1000, 2000, 4000, 8000, 16000]


def _score(n: float) -> float:  # a plausible mAP curve, higher is better
    return 0.6 - 0.9 * n ** -0.3


def test_a_dataframe_gives_the_same_fit_as_the_same_csv(tmp_path):
    from syn2real.law import TransferLaw

    df = pd.DataFrame({"synthetic": NS * 2, "mAP": [_score(n) for n in NS] * 2,
                       "epoch": [10] * 5 + [20] * 5, "model": "r50"})
    df.loc[df.epoch == 20, "mAP"] += 0.01
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    kw = {"n": "synthetic", "score": "mAP", "step": "epoch"}
    mem, disk = read_curves(df, **kw), read_curves(path, **kw)
    pd.testing.assert_frame_equal(mem.data, disk.data)
    assert mem.groups == ["model"] and len(mem.data) == 5
    assert np.allclose(mem.data["err"], [1 - _score(n) - 0.01 for n in NS])  # last epoch
    fits = [TransferLaw().fit(c.data["n"], c.data["err"]).params_ for c in (mem, disk)]
    assert fits[0] == fits[1]


def test_a_step_column_is_never_a_curve_of_its_own():
    df = pd.DataFrame({"n": NS * 2, "error": [0.3] * 5 + [0.2] * 5,
                       "epoch": [1] * 5 + [2] * 5})
    with pytest.raises(CurveTableError,
                       match=r"column 'epoch' looks like a step.*--step-col epoch"):
        read_curves(df)
    best = read_curves(df.assign(error=[0.3, 0.28, 0.26, 0.25, 0.24] * 2), step="epoch",
                       select="best")
    assert len(best.data) == 5


def test_cli_column_flags(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"imgs": NS, "acc": [_score(n) for n in NS], "step": 3}).to_csv(path,
                                                                                  index=False)
    res = CliRunner().invoke(app, ["fit", str(path), "--n-col", "imgs", "--score-col", "acc",
                                   "--step-col", "step", "--json", str(tmp_path / "f.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "f.json").read_text())[0]["n_points"] == 5
    bad = CliRunner().invoke(app, ["fit", str(path), "--n-col", "imgs", "--score-col", "ap"])
    assert bad.exit_code == 2 and "no column 'ap'" in bad.output
    # the same scores in percent (as collect reads detectron2's AP) give the same curve
    frac = read_curves(pd.read_csv(path), n="imgs", score="acc", step="step")
    pct = read_curves(pd.read_csv(path).assign(acc=lambda d: 100 * d["acc"]), n="imgs",
                      score="acc", step="step")
    np.testing.assert_allclose(pct.data["err"], frac.data["err"], rtol=1e-12)
    assert any("'acc' in percent" in x for x in pct.notes)
    assert not any("percent" in x for x in frac.notes)


def _ultralytics(root, n):
    """A run folder written by Ultralytics' own code where it is installed
    (``BaseTrainer.save_metrics`` appends results.csv, ``YAML.save`` writes args.yaml), else
    as its docs show it (https://docs.ultralytics.com/modes/train/: runs/detect/train*/
    results.csv + args.yaml; older versions right-align the column names)."""
    d = root / f"train{n}"
    d.mkdir(parents=True)
    try:
        import time
        from types import SimpleNamespace

        from ultralytics.engine.trainer import BaseTrainer
        from ultralytics.utils import YAML
    except ImportError:
        return _ultralytics_by_hand(d, n)
    YAML.save(d / "args.yaml", {"task": "detect", "mode": "train", "data": f"synth_{n}.yaml",
                                "epochs": 3, "syn": {"images": n}})
    trainer = SimpleNamespace(csv=d / "results.csv", train_time_start=time.time(), epoch=0)
    for ep in range(3):
        trainer.epoch = ep
        m = _score(n) * (ep + 1) / 3
        BaseTrainer.save_metrics(trainer, {"train/box_loss": 1.2, "metrics/precision(B)": 0.5,
                                           "metrics/mAP50(B)": m + 0.1,
                                           "metrics/mAP50-95(B)": m, "val/box_loss": 1.1})


def _ultralytics_by_hand(d, n):
    (d / "args.yaml").write_text(f"task: detect\nmode: train\ndata: synth_{n}.yaml\n"
                                 f"epochs: 3\nsyn:\n  images: {n}\n")
    head = ["epoch", "train/box_loss", "metrics/precision(B)", "metrics/mAP50(B)",
            "metrics/mAP50-95(B)", "val/box_loss"]
    lines = [",".join(f"{h:>20}" for h in head)]
    for ep in (1, 2, 3):
        m = _score(n) * ep / 3
        lines.append(",".join(f"{v:>20}" for v in (ep, 1.2, 0.5, m + 0.1, m, 1.1)))
    (d / "results.csv").write_text("\n".join(lines) + "\n")


def test_collect_ultralytics_runs_then_fit(tmp_path):
    for n in NS:
        _ultralytics(tmp_path / "runs", n)
    df, notes = collect(tmp_path / "runs", metric="metrics/mAP50-95(B)",
                        n_from="config:syn.images")
    assert "error = 1 - metrics/mAP50-95(B) (last evaluation of each run)" in notes
    assert list(df["n"]) == NS and set(df["layout"]) == {"ultralytics"}
    assert np.allclose(df["error"], [1 - _score(n) for n in NS])  # the last epoch
    res = CliRunner().invoke(app, ["collect", str(tmp_path / "runs"), "--metric",
                                   "metrics/mAP50-95(B)", "--n-from", r"regex:train(\d+)",
                                   "-o", str(tmp_path / "c.csv")])
    assert res.exit_code == 0, res.output
    # errors as the trainer logged them, without the float noise of 1 - score
    written = pd.read_csv(tmp_path / "c.csv")
    assert np.allclose(written["error"], df["error"], rtol=1e-11, atol=0)
    assert max(len(v) for v in (tmp_path / "c.csv").read_text().split()[1:]) <= 20
    fit = CliRunner().invoke(app, ["advise", str(tmp_path / "c.csv"), "--target", "0.5"])
    assert fit.exit_code == 0, fit.output
    missing = CliRunner().invoke(app, ["collect", str(tmp_path / "runs"), "--metric", "mAP",
                                       "--n-from", "config:syn.images"])
    assert missing.exit_code == 2 and "metrics/mAP50-95(B)" in missing.output


def test_collect_timm_detectron2_mmengine_and_hf_runs(tmp_path):
    for n in NS:
        # timm train.py: output/train/<exp>/summary.csv + args.yaml, top-1 in percent
        d = tmp_path / "timm" / f"n{n}"
        d.mkdir(parents=True)
        (d / "args.yaml").write_text(f"model: resnet18\nsynthetic_images: {n}\n")
        pd.DataFrame({"epoch": [0, 1], "train_loss": [2.0, 1.5], "eval_loss": [1.9, 1.4],
                      "eval_top1": [50.0, 100 * _score(n)], "eval_top5": [80.0, 90.0]}
                     ).to_csv(d / "summary.csv", index=False)
        # detectron2: OUTPUT_DIR/metrics.json, one JSON object per line (JSONWriter)
        d = tmp_path / "d2" / f"n{n}"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text("\n".join(json.dumps(r) for r in (
            {"iteration": 19, "total_loss": 1.0, "lr": 0.01},
            {"iteration": 99, "bbox/AP": 100 * _score(n), "bbox/AP50": 50.0})) + "\n")
        # mmengine: work_dir/<timestamp>/vis_data/scalars.json (LocalVisBackend)
        d = tmp_path / "mm" / f"n{n}" / "20261201_101010" / "vis_data"
        d.mkdir(parents=True)
        (d / "scalars.json").write_text("\n".join(json.dumps(r) for r in (
            {"lr": 0.02, "loss": 1.3, "step": 50},
            {"coco/bbox_mAP": _score(n), "step": 12})) + "\n")
        # Hugging Face Trainer: output_dir/trainer_state.json with log_history
        d = tmp_path / "hf" / f"n{n}"
        d.mkdir(parents=True)
        (d / "trainer_state.json").write_text(json.dumps({"global_step": 30, "log_history": [
            {"loss": 1.0, "step": 10}, {"eval_loss": 0.9, "eval_accuracy": 0.1, "step": 10},
            {"eval_loss": 0.5, "eval_accuracy": _score(n), "step": 30}]}))
    want = [1 - _score(n) for n in NS]
    for sub, metric, how, layout in [
            ("timm", "eval_top1", "config:synthetic_images", "timm"),
            ("d2", "bbox/AP", r"regex:n(\d+)", "detectron2"),
            ("mm", "coco/bbox_mAP", r"regex:n(\d+)", "mmengine"),
            ("hf", "eval_accuracy", r"regex:n(\d+)", "hf-trainer")]:
        df, _ = collect(tmp_path / sub, metric=metric, n_from=how)
        assert set(df["layout"]) == {layout}, sub
        assert np.allclose(df["error"], want), sub
    loss, _ = collect(tmp_path / "hf", metric="eval_loss", n_from=r"regex:n(\d+)")
    assert np.allclose(loss["error"], 0.5)  # a loss is the error itself


def test_collect_tensorboard_event_files_written_by_torch(tmp_path):
    tb = pytest.importorskip("torch.utils.tensorboard")
    for n in NS:
        w = tb.SummaryWriter(str(tmp_path / "tb" / f"n{n}"))
        for step, frac in ((1, 0.5), (2, 1.0)):
            w.add_scalar("val/acc", _score(n) * frac, step)
        w.close()
    df, _ = collect(tmp_path / "tb", metric="val/acc", n_from=r"regex:n(\d+)")
    assert set(df["layout"]) == {"tensorboard"}
    assert np.allclose(df["error"], [1 - _score(n) for n in NS], atol=1e-6)


def test_collect_bad_inputs_are_one_line(tmp_path):
    _ultralytics(tmp_path / "a", 1000)
    _ultralytics(tmp_path / "b", 1000)
    (tmp_path / "b" / "train1000").rename(tmp_path / "b" / "other")
    (tmp_path / "a" / "train1000").rename(tmp_path / "a" / "x")
    with pytest.raises(CurveTableError, match=r"both have n = 1000.*--allow-repeats"):
        collect(tmp_path, metric="metrics/mAP50-95(B)", n_from="config:syn.images")
    with pytest.raises(CurveTableError, match=r"no key 'syn\.count'"):
        collect(tmp_path, metric="metrics/mAP50-95(B)", n_from="config:syn.count")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CurveTableError, match="no run folder found"):
        collect(tmp_path / "empty", metric="m", n_from=r"regex:(\d+)")


@pytest.mark.slow
def test_mlflow_both_ways_against_a_real_sqlite_store(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    import yaml

    from syn2real.sweep.store import Store

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(tiny(name="tracked", tracking={"mlflow": uri})))
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(run), "--no-report"])
    assert res.exit_code == 0, res.output
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tracked")
    runs = client.search_runs([exp.experiment_id])
    store = Store(run / "results.sqlite")
    assert {r.data.tags["syn2real.key"] for r in runs} == set(store.status())
    ft = next(r for r in runs if r.data.tags["syn2real.kind"] == "finetune"
              and r.data.params["n"] == "40")
    row = next(r for r in store.rows("finetune") if r["params"]["n"] == 40)
    assert ft.data.metrics["error_last"] == pytest.approx(row["result"]["metrics"]["error_last"])
    again = CliRunner().invoke(app, ["run", str(cfg), "--out", str(run), "--no-report"])
    assert again.exit_code == 0
    assert len(client.search_runs([exp.experiment_id])) == len(runs)  # nothing logged twice
    # artefacts beside the store, not in the folder the run was started from
    assert list((tmp_path / "mlartifacts").rglob("row.json"))
    assert not Path("mlruns").exists()
    # ... and back: fit the experiment's runs
    out = tmp_path / "fit.json"
    fit = CliRunner().invoke(app, ["fit", "mlflow:tracked", "--tracking-uri", uri,
                                   "--n-param", "n", "--mlflow-metric", "error_last",
                                   "--json", str(out)])
    assert fit.exit_code == 0, fit.output
    (curve,) = json.loads(out.read_text())
    assert curve["n_points"] == 3
    bad = CliRunner().invoke(app, ["fit", "mlflow:tracked", "--tracking-uri", uri,
                                   "--mlflow-metric", "mAP"])
    assert bad.exit_code == 2 and "no metric 'mAP'" in bad.output and "error_last" in bad.output
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    down = CliRunner().invoke(app, ["fit", "mlflow:tracked", "--tracking-uri",
                                    "http://127.0.0.1:9"])
    assert down.exit_code == 2 and "Fix: check --tracking-uri" in " ".join(down.output.split())


def test_wandb_runs_table_export_is_read_with_its_bookkeeping_set_aside(tmp_path):
    """The CSV that W&B's runs table exports (Project > Runs > Export CSV): run columns
    (Name, State, Notes, User, Tags, Created, Runtime, Sweep) beside the visible config and
    summary columns (docs.wandb.ai, 'Export data from the runs table')."""
    from syn2real.curves import read_curves

    head = "Name,State,Notes,User,Tags,Created,Runtime,Sweep,n_synthetic,lr,val/mAP"
    rows = [head]
    for i, (n, m) in enumerate([(1000, 0.31), (2000, 0.35), (4000, 0.38), (8000, 0.40)]):
        rows.append(f"run-{i},finished,-,ana,,2026-11-0{i + 1}T10:00:00,{3600 + i},,{n},0.01,{m}")
    rows.append("run-x,crashed,-,ana,,2026-11-09T10:00:00,12,,16000,0.01,0.05")
    rows.append("run-y,running,-,ana,,2026-11-09T10:00:00,12,,16000,0.01,")
    p = tmp_path / "wandb_export.csv"
    p.write_text("\n".join(rows) + "\n")
    cs = read_curves(p, n="n_synthetic", score="val/mAP")
    assert sorted(cs.data["n"]) == [1000, 2000, 4000, 8000]
    assert cs.groups == ["lr"]  # Name, Created, Runtime ... are not curves of their own
    assert abs(float(cs.data.sort_values("n")["err"].iloc[0]) - 0.69) < 1e-9
    note = cs.notes[0]
    assert "W&B export" in note and "1 crashed" in note and "1 running" in note
    from typer.testing import CliRunner

    from syn2real.cli.app import app

    res = CliRunner().invoke(app, ["fit", str(p), "--n-col", "n_synthetic", "--score-col",
                                   "val/mAP"])
    assert res.exit_code == 0, res.output
    assert "W&B export" in res.output
    # State hidden before exporting: still read as an export, and said what that costs
    no_state = pd.read_csv(p, dtype=str, keep_default_na=False).drop(columns=["State"])
    no_state = no_state[no_state["Name"].str.startswith("run-") & (no_state["val/mAP"] != "")]
    cs = read_curves(no_state, n="n_synthetic", score="val/mAP")
    assert cs.groups == ["lr"] and sorted(cs.data["n"]) == [1000, 2000, 4000, 8000, 16000]
    assert "without its State column: every run kept" in cs.notes[0]


@pytest.mark.slow
def test_tensorboard_logs_each_training_job_once(tmp_path):
    pytest.importorskip("tensorboard")
    import yaml
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from syn2real.sweep.store import Store

    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(tiny(name="tb", tracking={"tensorboard": "tb"})))
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(run), "--no-report"])
    assert res.exit_code == 0, res.output
    store = Store(run / "results.sqlite")
    trained = [r for r in store.rows() if r["kind"] in ("pretrain", "finetune")]
    folders = sorted((run / "tb").iterdir())
    assert len(folders) == len(trained)
    for r in trained:
        acc = EventAccumulator(str(run / "tb" / f"{r['kind']}-{r['key']}"))
        acc.Reload()
        tags = acc.Tags()["scalars"]
        hist = r["result"]["history"]
        assert [e.value for e in acc.Scalars("train/loss")] == pytest.approx(
            [h["loss"] for h in hist], rel=1e-6)
        assert "val/error" in tags
    files = {p: p.stat().st_mtime_ns for p in (run / "tb").rglob("events.*")}
    again = CliRunner().invoke(app, ["run", str(cfg), "--out", str(run), "--no-report"])
    assert again.exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in (run / "tb").rglob("events.*")} == files


def test_collect_reads_older_ultralytics_csvs_with_padded_headers(tmp_path):
    for n in NS:
        d = tmp_path / "runs" / f"train{n}"
        d.mkdir(parents=True)
        _ultralytics_by_hand(d, n)
    df, _ = collect(tmp_path / "runs", metric="metrics/mAP50-95(B)", n_from="config:syn.images")
    assert list(df["n"]) == NS and np.allclose(df["error"], [1 - _score(n) for n in NS])


def test_collect_decides_units_per_run_and_names_impossible_values(tmp_path):
    """Issue 29.1: one run logged in percent does not rescale the others (mAP 0.33 / 35.0 /
    0.37 are errors 0.67 / 0.65 / 0.63, not 0.9967 ...); detectron2's AP is percent by its
    own convention even when small; COCO's -1 sentinel and a diverged run are named."""
    for n, v in ((1000, 0.33), (2000, 35.0), (4000, 0.37)):
        _ultralytics_by_hand(_mk(tmp_path / "mix" / f"n{n}"), n)
        _set_map(tmp_path / "mix" / f"n{n}" / "results.csv", v)
    df, notes = collect(tmp_path / "mix", metric="metrics/mAP50-95(B)",
                        n_from=r"regex:n(\d+)")
    assert np.allclose(df["error"], [0.67, 0.65, 0.63])
    assert any("in percent in 1 of 3 runs" in x and "n2000" in x for x in notes)
    for n, ap in ((1000, 0.8), (2000, 1.5)):   # detectron2: AP 0.8 means 0.8%
        d = _mk(tmp_path / "d2" / f"n{n}")
        (d / "metrics.json").write_text(json.dumps({"iteration": 9, "bbox/AP": ap}) + "\n")
    d2, _ = collect(tmp_path / "d2", metric="bbox/AP", n_from=r"regex:n(\d+)")
    assert np.allclose(d2["error"], [0.992, 0.985])
    for bad, what in ((-1.0, "-1.0"), (1e308, "1e+308")):
        _set_map(tmp_path / "mix" / "n4000" / "results.csv", bad)
        with pytest.raises(CurveTableError, match=rf"n4000: metrics/mAP50-95\(B\) is "
                                            rf"{re.escape(what)}.*sentinel"):
            collect(tmp_path / "mix", metric="metrics/mAP50-95(B)", n_from=r"regex:n(\d+)")


def test_collect_refuses_a_size_read_from_inside_a_default_run_name(tmp_path):
    """Issue 25.1: the README's 'regex:n(\\d+)' reads Ultralytics' default 'train9' as n = 9;
    a match glued inside a word is refused, an anchored one or a real name is accepted."""
    for name in ("train2", "train9"):
        _ultralytics_by_hand(_mk(tmp_path / "detect" / name), 1000)
    with pytest.raises(CurveTableError, match=r"matches 'n2' inside the word 'train2'.*anchor"):
        collect(tmp_path / "detect", metric="metrics/mAP50-95(B)", n_from=r"regex:n(\d+)")
    _ultralytics_by_hand(_mk(tmp_path / "detect" / "train"), 1000)   # the first, unnumbered
    with pytest.raises(CurveTableError, match=r"detect/train: --n-from regex .* does not match"):
        collect(tmp_path / "detect", metric="metrics/mAP50-95(B)", n_from=r"regex:n(\d+)")
    for n in (1000, 2000):
        _ultralytics_by_hand(_mk(tmp_path / "ok" / f"synth_n{n}"), n)
    df, _ = collect(tmp_path / "ok", metric="metrics/mAP50-95(B)", n_from=r"regex:n(\d+)")
    assert list(df["n"]) == [1000, 2000]


def _mk(d: Path) -> Path:
    d.mkdir(parents=True)
    return d


def _set_map(path: Path, value: float) -> None:
    df = pd.read_csv(path)
    col = next(c for c in df.columns if c.strip() == "metrics/mAP50-95(B)")
    df[col] = value
    df.to_csv(path, index=False)


def test_collect_sets_aside_incomplete_runs_and_reads_checkpoints_as_one_run(tmp_path):
    """Issue 25.3/25.4: a crashed Ultralytics run (2 of 50 epochs by its own args.yaml) is
    set aside and named, not used as that n's result; an HF output_dir of checkpoint-*
    folders is one run (its latest checkpoint), incomplete by max_steps; MLflow's copies of
    results.csv under mlruns/ are not runs."""
    for n in NS[:3]:
        _ultralytics_by_hand(_mk(tmp_path / "u" / f"n{n}"), n)
    crashed = tmp_path / "u" / "n1000" / "args.yaml"
    crashed.write_text(crashed.read_text().replace("epochs: 3", "epochs: 50"))
    copy = _mk(tmp_path / "u" / "mlruns" / "1" / "abc" / "artifacts")
    for f in ("results.csv", "args.yaml"):
        (copy / f).write_text((tmp_path / "u" / "n2000" / f).read_text())
    df, notes = collect(tmp_path / "u", metric="metrics/mAP50-95(B)", n_from=r"regex:n(\d+)")
    assert list(df["n"]) == [2000, 4000]
    assert any("set aside 1 incomplete" in x and "n1000 (3 of 50 epochs)" in x for x in notes)
    kept, _ = collect(tmp_path / "u", metric="metrics/mAP50-95(B)", n_from=r"regex:n(\d+)",
                      allow_incomplete=True)
    assert list(kept["n"]) == [1000, 2000, 4000]
    for n, steps in ((1000, (10, 20)), (2000, (10, 30))):
        for st in steps:
            d = _mk(tmp_path / "hf" / f"n{n}" / f"checkpoint-{st}")
            (d / "trainer_state.json").write_text(json.dumps({
                "global_step": st, "max_steps": 30, "log_history": [
                    {"eval_accuracy": 0.5 + st / 100, "step": s} for s in range(10, st + 1, 10)
                ]}))
    hf, notes = collect(tmp_path / "hf", metric="eval_accuracy", n_from=r"regex:n(\d+)")
    assert list(hf["n"]) == [2000] and np.allclose(hf["error"], 1 - 0.8)
    assert any("n1000 (20 of 30 steps)" in x for x in notes)
    (tmp_path / "u" / "n2000" / "args.yaml").write_text("epochs: 50\n")
    (tmp_path / "u" / "n4000" / "args.yaml").write_text("epochs: 50\n")
    with pytest.raises(CurveTableError, match="every run is incomplete"):
        collect(tmp_path / "u", metric="metrics/mAP50-95(B)", n_from=r"regex:n(\d+)")


def test_error_rates_in_percent_are_divided_losses_are_not(tmp_path):
    """Hugging Face's speech recipes log eval_wer = 100·WER: read as a fraction; a loss above
    1.5 stays a loss; a rate above 100 is refused."""
    for n in NS:
        d = tmp_path / "hf" / f"n{n}"
        d.mkdir(parents=True)
        wer = 100 * (0.2 + n ** -0.3)
        (d / "trainer_state.json").write_text(json.dumps({"global_step": 20, "log_history": [
            {"eval_loss": 3.0, "eval_wer": 95.0, "step": 10},
            {"eval_loss": 2.0, "eval_wer": wer, "step": 20}]}))
    df, notes = collect(tmp_path / "hf", metric="eval_wer", n_from=r"regex:n(\d+)")
    assert np.allclose(df["error"], [0.2 + n ** -0.3 for n in NS])
    assert any("eval_wer in percent" in x for x in notes)
    loss, notes = collect(tmp_path / "hf", metric="eval_loss", n_from=r"regex:n(\d+)")
    assert np.allclose(loss["error"], 2.0) and not any("percent" in x for x in notes)
    bad = tmp_path / "hf" / f"n{NS[0]}" / "trainer_state.json"
    state = json.loads(bad.read_text())
    state["log_history"][0]["eval_wer"] = 250.0
    bad.write_text(json.dumps(state))
    with pytest.raises(CurveTableError,
                       match=r"eval_wer reaches 250 .* neither in \[0, 1\] nor in"):
        collect(tmp_path / "hf", metric="eval_wer", n_from=r"regex:n(\d+)")


def test_n_and_s_from_config_values_mmengine_config_py_and_a_grid(tmp_path):
    """n where the tools keep it: Ultralytics' data yaml name, detectron2's OUTPUT_DIR,
    mmengine's dumped config.py; s beside it; one collect writes the (n, s) grid and fit
    fits eq. 1 per s, saying so."""
    grid = [(n, s) for n in NS for s in (100, 400)]
    for i, (n, s) in enumerate(grid):
        # Ultralytics: default run names train, train2, ... ; n and s only in args.yaml values
        d = tmp_path / "ul" / ("train" if i == 0 else f"train{i + 1}")
        d.mkdir(parents=True)
        (d / "args.yaml").write_text(f"data: /data/syn_n{n}.yaml\nfraction: {s / 1000}\n"
                                     f"name: real_s{s}\nepochs: 1\n")
        (d / "results.csv").write_text(
            "epoch,metrics/mAP50-95(B)\n1," + f"{_score(n) + 0.1 * np.log10(s)}\n")
        # detectron2: config.yaml in OUTPUT_DIR
        d = tmp_path / "d2" / f"run{i}"
        d.mkdir(parents=True)
        (d / "config.yaml").write_text(f"OUTPUT_DIR: ./output/syn{n}_real{s}\n"
                                       f"DATASETS:\n  TRAIN: [syn_n{n}, coco_s{s}]\n")
        (d / "metrics.json").write_text(json.dumps({"iteration": 9, "bbox/AP": 40.0}) + "\n")
        # mmengine: <work_dir>/<config>.py as Runner dumps it, dict(...) calls
        d = tmp_path / "mm" / f"exp{i}"
        (d / "20260101_000000" / "vis_data").mkdir(parents=True)
        (d / "20260101_000000" / "vis_data" / "scalars.json").write_text(
            json.dumps({"coco/bbox_mAP": 0.4, "step": 3}) + "\n")
        (d / "retinanet_syn.py").write_text(
            "train_dataloader = dict(batch_size=2, dataset=dict(type='CocoDataset', "
            f"ann_file='annotations/syn_n{n}.json', indices={s}))\n"
            "work_dir = './work_dirs/x'\nauto_scale_lr = dict(enable=False, base_batch_size=16)\n"
            "base = train_dataloader['batch_size'] * 2\n")  # an expression: not read
    df, _ = collect(tmp_path / "ul", metric="metrics/mAP50-95(B)",
                    n_from=r"config:data~_n(\d+)", s_from=r"config:name~_s(\d+)")
    assert sorted(zip(df["n"], df["s"], strict=True)) == sorted(grid)
    for sub, metric, n_from, s_from in [
            ("d2", "bbox/AP", r"config:OUTPUT_DIR~syn(\d+)", r"config:DATASETS.TRAIN~_s(\d+)"),
            ("mm", "coco/bbox_mAP", r"config:train_dataloader.dataset.ann_file~_n(\d+)",
             "config:train_dataloader.dataset.indices")]:
        got, _ = collect(tmp_path / sub, metric=metric, n_from=n_from, s_from=s_from)
        assert sorted(zip(got["n"], got["s"], strict=True)) == sorted(grid), sub
    with pytest.raises(CurveTableError, match=r"pattern '_m\(\\d\+\)' finds no number in data ="):
        collect(tmp_path / "ul", metric="metrics/mAP50-95(B)", n_from=r"config:data~_m(\d+)")
    with pytest.raises(CurveTableError, match=r"train and train2 both have n = 1000, s = 1\."):
        collect(tmp_path / "ul", metric="metrics/mAP50-95(B)", n_from=r"config:data~_n(\d+)",
                s_from="config:epochs")  # every run has epochs 1: not s
    out = tmp_path / "grid.csv"
    res = CliRunner().invoke(app, ["collect", str(tmp_path / "ul"), "--metric",
                                   "metrics/mAP50-95(B)", "--n-from", r"config:data~_n(\d+)",
                                   "--s-from", r"config:name~_s(\d+)", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out).columns.tolist() == ["n", "s", "error"]
    fit = CliRunner().invoke(app, ["fit", str(out), "--json", str(tmp_path / "f.json")])
    assert fit.exit_code == 0, fit.output
    assert "2 fine-tuning sizes s in one curve: eq. 1 is fitted per s" in fit.output
    assert len(json.loads((tmp_path / "f.json").read_text())) == 2  # one curve per s
