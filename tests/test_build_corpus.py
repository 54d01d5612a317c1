"""The development-corpus builder (benchmarks/build_corpus.py) on tiny git repositories laid
out as the public ones are: Pythia's zero-shot JSONs, modded-nanogpt's logs, timm's results
CSVs and MLPerf Training's compliance logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import build_corpus  # noqa: E402
from build_corpus import MLPERF, NANOGPT, PYTHIA, TIMM  # noqa: E402


def _repo(path: Path, files: dict[str, str]) -> str:
    """A git repository holding ``files``; returns its commit."""
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    env = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(path), *env, "commit", "-qm", "data"], check=True)
    return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def _pythia_files() -> dict[str, str]:
    files = {"LICENSE": "Apache License 2.0\n"}
    for model, scale in (("pythia-70m", 1.0), ("pythia-160m", 0.9), ("pythia-410m", 0.8),
                         ("pythia-1b", 0.7), ("pythia-1.4b", 0.65), ("pythia-2.8b", 0.6)):
        for step in (0, 1, 512, 1000, 13000, 143000):
            acc = 0.25 + 0.5 * (1 - scale) + 0.0001 * step ** 0.5
            res = {"piqa": {"acc": acc, "acc_stderr": 0.01},
                   "lambada_openai": {"acc": acc / 2, "ppl": 50.0 / acc},
                   "hendrycksTest-anatomy": {"acc": 0.25}}
            size = model.split("-")[1]
            files[f"evals/pythia-v1/{model}/zero-shot/{size}_step{step}.json"] = json.dumps(
                {"results": res, "versions": {}, "config": {}})
    # a batch-size variant: its checkpoints are a curve, but not a point of the size curve
    files["evals/pythia-v1/pythia-160m-0.5MtokBS/zero-shot/160m_step1000.json"] = json.dumps(
        {"results": {"piqa": {"acc": 0.99}}})
    return files


def _nanogpt_files() -> dict[str, str]:
    files = {"LICENSE": "MIT License\n"}
    for i, shift in enumerate((0.0, 0.02)):
        lines = [f"step:{s}/1000 val_loss:{4.0 * (s + 1) ** -0.1 + shift:.4f} train_time:0ms"
                 for s in range(0, 1001, 125)]
        files[f"records/track_1_short/2024-10-10_Muon/run{i}.txt"] = "code\n" + "\n".join(lines)
    files["records/track_1_short/2024-10-10_Muon/README.md"] = "step:125/1000 val_loss:9"
    files["records/track_1_short/2024-11-01_Short/a.log"] = \
        "step:0/10 val_loss:9.0\nstep:10/10 val_loss:4.0\n"  # too few evaluations: left out
    return files


def _timm_files() -> dict[str, str]:
    files = {"LICENSE": "Apache License 2.0\n"}
    rows = ["model,img_size,top1,top1_err,top5,top5_err,param_count,crop_pct,interpolation"]
    for size, params, err in (("002", "3.16", 30.0), ("004", "4.34", 26.0),
                              ("008", "6.26", 24.0), ("016", "11.2", 22.0),
                              ("032", "19.44", 21.0), ("320", "145.05", 18.0),
                              ("1280", "1,234.5", 16.0)):
        rows.append(f"regnety_{size}.pycls_in1k,224,{100 - err},{err},0,0,\"{params}\",0.9,bic")
    rows.append("resnet50.a1_in1k,224,80.0,20.0,0,0,25.56,0.9,bic")  # a family of one
    for test_set in build_corpus.TIMM_SETS:
        files[f"results/results-{test_set}.csv"] = "\n".join(rows) + "\n"
    return files


def _mllog(key: str, value, **metadata) -> str:
    return ":::MLLOG " + json.dumps({"namespace": "", "time_ms": 1, "event_type": "POINT_IN_TIME",
                                     "key": key, "value": value,
                                     "metadata": {"file": "x.py", "lineno": 1, **metadata}})


def _mlperf_files(round_: int) -> dict[str, str]:
    files = {"LICENSE.md": "Apache License\nVersion 2.0\n"}
    bert = [_mllog("submission_benchmark", "bert")]
    for i in range(1, 21):  # samples_count increases; epoch_num stays 1 (as NVIDIA's logs)
        bert.append("noise before " + _mllog("eval_accuracy", 0.3 + 0.02 * i ** 0.5,
                                             epoch_num=1, samples_count=150_000 * i))
    bert.append(_mllog("run_stop", None, status="success"))
    files["Org/results/sys8xA100/bert/result_0.txt"] = "\n".join(bert)
    aborted = bert[:-1] + [_mllog("run_stop", None, status="aborted")]
    files["Org/results/sys8xA100/bert/result_1.txt"] = "\n".join(aborted)
    rnnt = [_mllog("eval_accuracy", 9.6 if e == 1 else 1.0 / e, epoch_num=e) for e in
            range(1, 13)] + [_mllog("run_stop", None, status="success")]
    files["Org/results/sys8xA100/rnnt/result_0.txt"] = "\n".join(rnnt)
    files["Org/results/sys8xA100/minigo/result_0.txt"] = "\n".join(  # not a benchmark read
        _mllog("eval_accuracy", 0.5, epoch_num=e) for e in range(1, 9))
    files["Org/benchmarks/bert/README.md"] = "not a result"
    return files


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    commits = {}
    for repo, files in ((PYTHIA, _pythia_files()), (NANOGPT, _nanogpt_files()),
                        (TIMM, _timm_files()),
                        *((r, _mlperf_files(i)) for i, r in enumerate(MLPERF))):
        commits[repo.name] = _repo(root / repo.name.replace("/", "+"), files)
    git = {name: build_corpus.Git(root / name.replace("/", "+"), c)
           for name, c in commits.items()}
    corpus = build_corpus.build(git)
    build_corpus.write(corpus, root / "out", git)
    return corpus, root / "out"


def test_pythia_checkpoint_and_size_curves(built):
    corpus, _ = built
    ck = corpus[corpus["source"] == "pythia-ckpt"]
    piqa = ck[ck["curve"] == "pythia-v1/pythia-70m/piqa:error"].sort_values("x")
    assert piqa["x"].tolist() == [1, 512, 1000, 13000, 143000]  # step 0 dropped (x > 0)
    assert piqa["y"].iloc[0] == pytest.approx(1 - (0.25 + 0.0001))
    assert set(ck["kind"]) == {"checkpoints"}
    assert not ck["metric"].str.startswith("hendrycksTest").any()  # at chance: not read
    ppl = ck[ck["metric"] == "lambada_openai:ppl"]
    assert len(ppl) > 0 and ppl["y"].min() > 1
    size = corpus[corpus["curve"] == "pythia-v1/standard/piqa:error"].sort_values("x")
    assert size["x"].tolist() == [7e7, 1.6e8, 4.1e8, 1e9, 1.4e9, 2.8e9]
    assert set(size["kind"]) == {"runs"}
    # the batch-size variant is its own checkpoint curve, not a point of the size curve
    assert 0.01 not in size["y"].round(6).tolist()


def test_nanogpt_logs_of_one_record_averaged(built):
    corpus, _ = built
    ng = corpus[corpus["source"] == "nanogpt-speedrun"]
    assert ng["curve"].unique().tolist() == ["records/track_1_short/2024-10-10_Muon@1000"]
    first = ng.sort_values("x").iloc[0]
    assert first["x"] == 125 and first["y"] == pytest.approx(4.0 * 126 ** -0.1 + 0.01, abs=1e-4)


def test_timm_families_and_thousands_separator(built):
    corpus, out = built
    tm = corpus[corpus["source"] == "timm-size"]
    curves = tm["curve"].unique()
    assert len(curves) == len(build_corpus.TIMM_SETS)  # regnety on each set; resnet50 alone out
    one = tm[tm["curve"] == "regnety_#.pycls_in1k/imagenet"].sort_values("x")
    assert one["x"].max() == pytest.approx(1234.5e6)
    assert one["y"].tolist()[0] == pytest.approx(0.30)
    prov = (out / "PROVENANCE.md").read_text()
    assert "EleutherAI/pythia" in prov and "| timm-size | 8 |" in prov
    assert (out / "LICENSE-nanogpt-speedrun.txt").read_text().startswith("MIT")
    back = pd.read_csv(out / "curves.csv.gz")
    assert len(back) == len(corpus) and set(back.columns) >= {"source", "curve", "x", "y", "kind"}


def test_mlperf_runs_that_succeeded(built):
    corpus, out = built
    ml = corpus[corpus["source"].str.startswith("mlperf-")]
    # per round: one successful bert run and one rnnt run; the aborted run and minigo left out
    assert sorted(ml["source"].unique()) == ["mlperf-bert", "mlperf-rnnt"]
    assert ml.groupby("source")["curve"].nunique().to_dict() == {
        "mlperf-bert": len(MLPERF), "mlperf-rnnt": len(MLPERF)}
    bert = ml[ml["curve"] == "v0.7/Org/results/sys8xA100/bert/result_0.txt"].sort_values("x")
    assert bert["x"].tolist() == [150_000.0 * i for i in range(1, 21)]  # samples, not epochs
    assert bert["y"].iloc[0] == pytest.approx(1 - 0.32)  # an accuracy becomes an error
    rnnt = ml[ml["source"] == "mlperf-rnnt"].sort_values("x")
    assert rnnt["y"].iloc[0] == pytest.approx(9.6) and rnnt["y"].iloc[-1] == pytest.approx(
        1 / 12)  # a word error rate is an error as it is
    assert set(ml["kind"]) == {"checkpoints"}
    prov = (out / "PROVENANCE.md").read_text()
    assert "mlcommons/training_results_v0.7" in prov and "| mlperf-bert | 4 |" in prov
    assert "Apache" in (out / "LICENSE-mlperf-rnnt.txt").read_text()


def test_unknown_repo_refused():
    with pytest.raises(SystemExit, match="OWNER/NAME=PATH"):
        build_corpus.main(["--repo", "someone/else=/tmp/x", "--out", "/tmp/never"])
