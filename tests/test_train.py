"""Training engine: real torch training on tiny inputs (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from syn2real.tasks import metrics  # noqa: E402


def test_average_precision_hand_computed():
    # ranking: pos, neg, pos -> precisions at positives 1/1 and 2/3
    assert metrics.average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1])) == \
        pytest.approx((1 + 2 / 3) / 2)
    s = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    t = np.array([[1, 0], [0, 1], [0, 0]])
    assert metrics.multilabel_map(s, t) == pytest.approx(1.0)
    assert metrics.accuracy(np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0])) == 0.5


def test_mean_iou_and_normal_errors_hand_computed():
    pred = np.array([0, 0, 1, 1])
    tgt = np.array([0, 1, 1, 1])
    conf = metrics.confusion(pred, tgt, 2)
    # class 0: inter 1, union 2; class 1: inter 2, union 3
    assert metrics.mean_iou(conf) == pytest.approx((1 / 2 + 2 / 3) / 2)
    n = np.zeros((1, 3, 1, 2))
    n[0, 2] = 1.0
    p = n.copy() * 5.0
    p[0, :, 0, 1] = [1.0, 0.0, 1.0]  # 45 degrees off
    r = metrics.normal_errors(p, n, np.ones((1, 1, 2), bool))
    assert r["mean_angle"] == pytest.approx(22.5, abs=1e-4)
    assert r["within_11.25"] == 0.5


def test_detection_map_matches_cocoeval_cases():
    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    t = [{"boxes": boxes, "labels": np.array([1, 2])}]
    perfect = [{"boxes": boxes, "labels": np.array([1, 2]), "scores": np.array([0.9, 0.8])}]
    assert metrics.detection_map(perfect, t, 2) == pytest.approx(1.0)
    wrong = [{"boxes": boxes + 15, "labels": np.array([1, 2]), "scores": np.array([0.9, 0.8])}]
    assert metrics.detection_map(wrong, t, 2) == pytest.approx(0.0)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    from syn2real.render import preset, render_dataset

    root = tmp_path_factory.mktemp("synthetic")
    render_dataset(preset("lv4", size=32, shard_size=20, n_objects=3, classes=6), root, 140)
    return root


DET_ITERS = 80


def _untrained_error(task, shards, arch_kwargs, start, stop, size=32):
    from torch.utils.data import DataLoader

    from syn2real.render import ShardDataset
    from syn2real.tasks.models import build_model
    from syn2real.tasks.task import get_task
    from syn2real.train.datasets import SyntheticTask, collate

    ds = ShardDataset(shards)
    num = len(ds.class_names) + (1 if task == "semseg" else 0)
    torch.manual_seed(0)
    model = build_model(task, "resnet18", num, image_size=size, **arch_kwargs)
    loader = DataLoader(SyntheticTask(ds, task, start, stop), batch_size=20,
                        collate_fn=collate(task))
    return get_task(task).evaluate(model, loader, num, torch.device("cpu"))["error"]


def test_pretrain_mulclass_learns_and_checkpoint_uses_torchvision_names(shards, tmp_path):
    import torchvision

    from syn2real.train.api import pretrain

    row = pretrain(shards, 100, "mulclass", out=tmp_path, iters=30, batch=20, lr=0.1,
                   val_images=40, threads=2, val_every=8)
    assert set(row) >= {"config", "metrics", "timings", "versions"}
    assert row["metrics"]["val_error_best"] < _untrained_error("mulclass", shards,
                                                               {"small_stem": "small"}, 100, 140)
    ck = torch.load(tmp_path / "backbone.pt", weights_only=False)
    net = torchvision.models.resnet18()
    net.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = torch.nn.Identity()
    missing, unexpected = net.load_state_dict(ck["backbone"], strict=False)
    assert sorted(missing) == ["fc.bias", "fc.weight"] and not unexpected
    assert not list(tmp_path.glob(".backbone.pt.*"))  # written atomically


@pytest.mark.parametrize("task", ["semseg", "normal"])
def test_pretrain_dense_tasks_learn(shards, tmp_path, task):
    from syn2real.train.api import pretrain

    row = pretrain(shards, 100, task, out=tmp_path, iters=20, batch=20, lr=0.05,
                   val_images=40, threads=2, stem="imagenet", val_every=10)
    base = _untrained_error(task, shards, {"small_stem": "imagenet"}, 100, 140)
    assert row["metrics"]["val_error_best"] < base


def test_finetune_from_checkpoint_and_scratch_learn(shards, tmp_path):
    from syn2real.train.api import finetune, pretrain

    pretrain(shards, 100, "mulclass", out=tmp_path, iters=4, batch=20, val_images=40,
             threads=2)
    kw = {"count": 300, "iters": 30, "batch": 16, "lr": 0.05, "size": 16, "threads": 2,
          "val_every": 15}
    scratch = finetune(None, "digits", "sinclass", **kw)
    tuned = finetune(tmp_path / "backbone.pt", "digits", "sinclass", **kw)
    for row in (scratch, tuned):
        assert row["metrics"]["error_last"] < 0.5  # chance is 0.9
        assert row["metrics"]["error_best"] <= row["metrics"]["error_last"]
    assert tuned["config"]["pretrain"]["task"] == "mulclass"
    again = finetune(None, "digits", "sinclass", **kw)
    assert again["metrics"]["error_last"] == scratch["metrics"]["error_last"]  # deterministic


def test_detection_on_boards_trains(tmp_path):
    from torch.utils.data import DataLoader

    from syn2real.data import compose_boards, load_real
    from syn2real.tasks.datasets import BoardTask
    from syn2real.tasks.models import build_model
    from syn2real.tasks.task import get_task
    from syn2real.train.datasets import collate
    from syn2real.train.loop import train

    torch.manual_seed(0)
    src = load_real("digits")
    boards = compose_boards(src, 40, size=48, items=(1, 2), scale=(2.0, 3.0), threshold=40)
    ds = BoardTask(boards, "objdet")
    loader = DataLoader(ds, batch_size=8, shuffle=True, collate_fn=collate("objdet"))
    model = build_model("objdet", "resnet18", 10, small_stem=False, image_size=48)
    det = get_task("objdet")
    res = train(det, model, loader, iters=16, lr=0.02)
    losses = [h["loss"] for h in res["history"]]
    assert np.mean(losses[-4:]) < np.mean(losses[:4])
    ev = det.evaluate(model, DataLoader(ds, batch_size=8, collate_fn=collate("objdet")),
                      10, torch.device("cpu"))
    assert 0.0 <= ev["mAP"] <= 1.0


def test_cli_finetune_prints_a_json_row_and_rejects_bad_input(tmp_path):
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "syn2real.cli.app", "finetune", "--dataset", "digits",
           "--count", "100", "--iters", "4", "--batch", "16", "--size", "16", "--threads", "2",
           "--json", str(tmp_path / "row.json")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    row = json.loads((tmp_path / "row.json").read_text())
    assert row["kind"] == "finetune" and row["config"]["s"] == 100
    assert 0 <= row["metrics"]["error_last"] <= 1 and "torch" in row["versions"]
    bad = subprocess.run(cmd[:4] + ["--backbone", str(tmp_path / "none.pt")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "no such checkpoint" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("task", ["semseg", "objdet"])
def test_finetune_on_boards_runs_end_to_end(task):
    from syn2real.train.api import finetune

    row = finetune(None, "digits", task, count=200, iters=4, batch=16, size=32,
                   stem="imagenet", boards=40, threads=2)
    assert row["config"]["s"] == 200 and row["config"]["task"] == task
    assert 0.0 <= row["metrics"]["error_last"] <= 1.0
    assert ("mIoU" if task == "semseg" else "mAP") in row["metrics"]["last"]


def test_stems_set_the_resolution_kept_to_layer4():
    from syn2real.tasks.models import build_backbone, stem_name

    x = torch.zeros(1, 3, 32, 32)
    sides = {}
    for stem in ("imagenet", "small-pool", "small"):
        net = build_backbone("resnet18", stem).eval()
        f = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        sides[stem] = net.layer4(net.layer3(net.layer2(net.layer1(f)))).shape[-1]
    assert sides == {"imagenet": 1, "small-pool": 2, "small": 4}
    assert stem_name(True) == "small" and stem_name(False) == "imagenet"
    with pytest.raises(ValueError, match="unknown stem"):
        stem_name("tiny")


@pytest.mark.slow
def test_objdet_pretrain_on_shards_learns_then_finetunes_on_boards(tmp_path):
    from syn2real.render import preset, render_dataset
    from syn2real.train.api import finetune, pretrain

    data = tmp_path / "single"  # one object per image: a detection task a short run learns
    render_dataset(preset("lv0", size=48, shard_size=40, classes=3), data, 240)
    row = pretrain(data, 200, "objdet", out=tmp_path / "ck", iters=DET_ITERS, batch=8,
                   lr=0.02, val_images=40, threads=2, stem="imagenet",
                   val_every=DET_ITERS // 2)
    assert row["metrics"]["loss_last"] < row["metrics"]["loss_first"]
    base = _untrained_error("objdet", data, {"small_stem": "imagenet"}, 200, 240, size=48)
    # COCO mAP@[.5:.95] from ~0 to > 0.02 (0.043 measured with 80 iterations on 2 cores)
    assert row["metrics"]["val_error_best"] < base - 0.02
    ck = torch.load(tmp_path / "ck" / "backbone.pt", weights_only=False)
    assert ck["task"] == "objdet" and not any(k.startswith("fc.") for k in ck["backbone"])
    tuned = finetune(tmp_path / "ck" / "backbone.pt", "digits", "objdet", count=200, iters=4,
                     batch=8, size=32, boards=30, threads=2)
    assert tuned["config"]["pretrain"]["task"] == "objdet"
    assert 0.0 <= tuned["metrics"]["error_last"] <= 1.0


@pytest.mark.slow
def test_board_segmentation_learns():
    from syn2real.train.api import finetune

    kw = {"count": 300, "batch": 16, "size": 32, "stem": "imagenet", "boards": 80,
          "threads": 2, "lr": 0.05}
    untrained = finetune(None, "digits", "semseg", iters=1, **{**kw, "lr": 1e-8})
    trained = finetune(None, "digits", "semseg", iters=60, **kw)
    assert trained["metrics"]["error_last"] < untrained["metrics"]["error_last"] - 0.05


def test_checkpoint_errors_name_the_file_and_the_fix(tmp_path):
    from syn2real.train.checkpoint import load_checkpoint

    with pytest.raises(ValueError, match="is a folder; give the checkpoint file"):
        load_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a syn2real backbone checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_an_unknown_task_is_an_error_instead_of_scoring_detection():
    from syn2real.tasks.models import build_model
    from syn2real.train.datasets import collate

    for call in (lambda: build_model("depth"), lambda: collate("depth")):
        with pytest.raises(ValueError, match="unknown task 'depth'"):
            call()


def test_loader_workers_give_the_same_numbers_and_fp16_needs_cuda(shards, tmp_path):
    from syn2real.errors import UserError
    from syn2real.jobspecs import PretrainJob
    from syn2real.train.api import pretrain

    kw = dict(data=str(shards), n=40, task="mulclass", iters=4, batch=10, val_images=20,
              stem="imagenet")
    a = pretrain(PretrainJob.make(**kw, out=str(tmp_path / "a")), threads=1)
    b = pretrain(PretrainJob.make(**kw, out=str(tmp_path / "b"), data_workers=2), threads=1)
    assert a["metrics"] == b["metrics"]  # worker processes change nothing but speed
    # the runtime choice is not part of the job's identity; fp16 is, once set
    j0, j2 = PretrainJob.make(**kw, out="x"), PretrainJob.make(**kw, out="x", data_workers=2)
    assert j0.identity() == j2.identity() and "fp16" not in j0.identity()
    assert PretrainJob.make(**kw, out="x", fp16=True).identity()["fp16"] is True
    if not torch.cuda.is_available():
        with pytest.raises((ValueError, UserError), match="fp16 autocast needs a CUDA"):
            pretrain(PretrainJob.make(**kw, out=str(tmp_path / "c"), fp16=True,
                                      device="cpu"), threads=1)


def test_a_diverged_training_fails_as_such_and_an_infinite_lr_is_refused(shards, tmp_path):
    """Issue 29.5: lr = inf was accepted, the loss was nan from iteration 2 and the
    checkpoint was marked complete with exit code 0."""
    from syn2real.errors import DivergedError, UserError
    from syn2real.jobspecs import PretrainJob
    from syn2real.train.api import pretrain

    kw = dict(data=str(shards), n=40, task="mulclass", iters=6, batch=10, val_images=20,
              stem="imagenet")
    with pytest.raises(UserError, match="'lr': Input should be a finite number"):
        PretrainJob.make(**kw, out="x", lr=float("inf"))
    out = tmp_path / "d"
    with pytest.raises(DivergedError, match=r"training diverged at iteration \d+ of 6.*--lr"):
        pretrain(PretrainJob.make(**kw, out=str(out), lr=1e30), threads=1)
    left = [p.name for p in out.rglob("*") if p.is_file()]
    assert all(".partial." in name for name in left), left   # nothing marked finished


def test_an_interrupted_pretraining_goes_on_from_its_state_to_the_same_bytes(shards, tmp_path):
    """Issue 28 item 1: a pre-training killed at iteration 7 of 12 (in its second epoch)
    goes on from its saved state and ends with the checkpoint bytes, history and metrics of
    a run never interrupted; a state of other settings is not taken."""
    import hashlib

    from syn2real.jobspecs import PretrainJob
    from syn2real.train.pretrain import run_pretrain

    kw = dict(data=str(shards), n=40, task="mulclass", iters=12, batch=8, val_images=20,
              stem="imagenet", val_every=3, state_every=0)
    whole = run_pretrain(PretrainJob.make(**kw, out=str(tmp_path / "a")), 1)

    class Killed(Exception):
        pass

    steps = []

    def kill_at_7(k: int) -> None:
        steps.append(k)
        if len(steps) == 7:
            raise Killed

    job = PretrainJob.make(**kw, out=str(tmp_path / "b"))
    with pytest.raises(Killed):
        run_pretrain(job, 1, on_step=kill_at_7)
    assert (tmp_path / "b" / "train_state.pt").is_file()
    assert not (tmp_path / "b" / "backbone.pt").exists()
    again = run_pretrain(job, 1)
    assert again["timings"]["resumed_from"] == 7 and whole["timings"]["resumed_from"] is None

    def sha(p):
        return hashlib.sha256(p.read_bytes()).hexdigest()

    assert sha(tmp_path / "a" / "backbone.pt") == sha(tmp_path / "b" / "backbone.pt")
    assert again["metrics"] == whole["metrics"] and again["history"] == whole["history"]
    assert not (tmp_path / "b" / "train_state.pt").exists()  # done: the state is gone
    # a state left by other settings (another learning rate) is not gone on from
    other = PretrainJob.make(**{**kw, "lr": 0.04}, out=str(tmp_path / "c"))
    steps.clear()
    with pytest.raises(Killed):
        run_pretrain(other, 1, on_step=kill_at_7)
    fresh = run_pretrain(PretrainJob.make(**kw, out=str(tmp_path / "c")), 1)
    assert fresh["timings"]["resumed_from"] is None
    assert sha(tmp_path / "c" / "backbone.pt") == sha(tmp_path / "a" / "backbone.pt")


def test_real_images_larger_than_the_input_are_refused_or_resized():
    from syn2real.tasks.datasets import to_tensor
    from syn2real.train.api import finetune

    img = np.full((28, 28), 200, np.uint8)
    img[:14] = 0  # top half black: an area resize keeps the halves
    with pytest.raises(ValueError, match="resize"):
        to_tensor(img, 16)
    x = to_tensor(img, 16, normalise=False, resize=True)
    assert x.shape == (3, 16, 16)
    assert float(x[:, :7].max()) == 0.0 and float(x[:, 9:].min()) == pytest.approx(200 / 255)
    assert to_tensor(img, 32, normalise=False).shape == (3, 32, 32)  # padding unchanged
    # fine-tuning at 16 px on 28 px MNIST digits: refused without resize, trains with it
    kw = {"count": 50, "iters": 2, "batch": 8, "size": 16, "threads": 2}
    with pytest.raises(ValueError, match="larger than the input size 16"):
        finetune(None, "mnist", **kw)
    row = finetune(None, "mnist", resize=True, **kw)
    assert row["config"]["size"] == 16 and row["config"]["resize"] is True
    assert 0.0 <= row["metrics"]["error_last"] <= 1.0


def test_a_task_registered_from_its_own_module_works_end_to_end(shards, tmp_path,
                                                                 monkeypatch):
    """A new pre-training task: one Task subclass in a module of its own and one
    register_task call — no list edited: job specs and study configs accept it, the plan
    estimates it with its own cost, and pre-training trains it (issue 26 step 3)."""
    import textwrap

    from syn2real import registry
    from syn2real.jobspecs import PretrainJob
    from syn2real.sweep.config import ConfigError, parse_config
    from syn2real.sweep.plan import build_plan, work_units
    from syn2real.tasks import task as task_mod
    from syn2real.train.api import pretrain

    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))  # restored after the test
    monkeypatch.setattr(task_mod, "_INSTANCES", {})
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "toy_count_task.py").write_text(textwrap.dedent('''
        import numpy as np
        from syn2real.tasks.task import SingleLabel

        class ObjectCount(SingleLabel):
            """How many objects a rendered image shows (0..7), as one label."""
            name, metric = "count", "accuracy"

            def num_classes(self, n_classes):
                return 8

            def synthetic_target(self, item):
                inst = np.asarray(item["instance"])
                return int(min(len(np.unique(inst[inst >= 0])), 7))
    '''))
    with pytest.raises(ValueError, match="'count'"):
        PretrainJob(data="d", n=10, out="o", task="count")
    registry.register_task(registry.TaskInfo("count", "toy_count_task:ObjectCount",
                                             pretrain=True, cost=2.0))
    assert "count" in registry.task_names(pretrain=True)
    assert "count" not in registry.task_names(finetune=True)
    study = {"name": "s", "render": {"presets": ["lv0"], "overrides": {"size": 32}},
             "pretrain": {"tasks": ["count", "mulclass"], "n": [20, 40, 60], "iters": 2},
             "finetune": [{"task": "sinclass", "dataset": "digits", "counts": [10]}]}
    plan = build_plan(parse_config(study), tmp_path / "run")
    by_task = {j.spec.task: work_units(j) for j in plan.jobs.values()
               if j.kind == "pretrain" and j.spec.n == 20}
    assert by_task["count"] == pytest.approx(2 * by_task["mulclass"])  # its own cost
    with pytest.raises(ConfigError, match="'count'"):  # not a fine-tuning task
        parse_config({**study, "finetune": [{"task": "count", "dataset": "digits",
                                             "counts": [10]}]})
    row = pretrain(shards, 40, "count", out=tmp_path / "ck", iters=2, batch=10,
                   val_images=20, threads=1)
    assert row["config"]["task"] == "count" and row["config"]["num_classes"] == 8
    assert 0.0 <= row["metrics"]["val_error_best"] <= 1.0


_RANK_SCRIPT = """
import json, os, sys
from syn2real.jobspecs import PretrainJob
from syn2real.train.pretrain import run_pretrain
die_at = int(sys.argv[3]) if len(sys.argv) > 3 else 0
steps = []
def step(k):
    steps.append(k)
    if len(steps) == die_at:
        os._exit(3)  # killed (preempted) after the state of this iteration was written
row = run_pretrain(PretrainJob.model_validate_json(sys.argv[1]), 1, on_step=step)
with open(sys.argv[2], "w") as fh:
    json.dump(row, fh, default=str)
"""


def _ddp_run(job, tmp_path, *extra: str) -> list[int]:
    """Run ``job`` as 2 gloo processes with torchrun's variables; their exit codes (rows in
    ``tmp_path/rank<r>.json``)."""
    import os
    import subprocess
    import sys

    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen(
            [sys.executable, "-c", _RANK_SCRIPT, job.model_dump_json(),
             str(tmp_path / f"rank{rank}.json"), *extra], env=env, stderr=subprocess.PIPE,
            text=True))
    codes = []
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode in (0, 3), err[-2000:]
        codes.append(p.returncode)
    return codes


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ddp_processes_take_the_step_of_one_process_on_the_global_batch(shards, tmp_path):
    """Issue 28 item 2: two gloo processes (torchrun's variables), each on half of every
    global batch of 8, train the model that one process computes with the same global batch
    cut into 2 accumulated micro-batches: same losses and weights (float summation order
    aside); rank 0 alone writes the checkpoint and returns the full row. Both processes
    killed after iteration 4 and started again go on from rank 0's state to the bytes of
    the uninterrupted run (item 1 with DDP)."""
    import json

    from syn2real.jobspecs import PretrainJob
    from syn2real.train.checkpoint import load_checkpoint
    from syn2real.train.pretrain import run_pretrain

    kw = dict(data=str(shards), n=40, task="mulclass", iters=6, batch=8, val_images=20,
              stem="imagenet", val_every=6, state_every=1e6)
    one = run_pretrain(PretrainJob.make(**kw, accumulate=2, out=str(tmp_path / "one")), 1)
    job = PretrainJob.make(**kw, out=str(tmp_path / "ddp"))
    assert _ddp_run(job, tmp_path) == [0, 0]
    rows = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert rows[0]["timings"]["processes"] == 2 and rows[1]["rank"] == 1
    assert "metrics" in rows[0] and "val_error_best" in rows[0]["metrics"]
    assert "val_error_best" not in rows[1]["metrics"]  # rank 1 neither validates nor writes
    losses = [h["loss"] for h in rows[0]["history"]]
    assert losses == pytest.approx([h["loss"] for h in one["history"]], rel=1e-4)
    assert rows[1]["metrics"]["loss_last"] == losses[-1]  # the loss is the mean over ranks
    a = load_checkpoint(tmp_path / "one" / "backbone.pt")["model"]
    b = load_checkpoint(tmp_path / "ddp" / "backbone.pt")["model"]
    params = [k for k in a if "running" not in k and "num_batches" not in k]
    assert params and set(a) == set(b)
    for k in params:  # batch-norm buffers: rank 0's micro-batches (DDP broadcasts them)
        assert torch.allclose(a[k], b[k], rtol=1e-3, atol=1e-5), k
    # and the step is not that of one process on a single micro-batch's worth of images
    plain = run_pretrain(PretrainJob.make(**{**kw, "batch": 4}, out=str(tmp_path / "half")), 1)
    assert [h["loss"] for h in plain["history"]] != pytest.approx(losses, rel=1e-3)
    # both processes killed at iteration 4 (rank 0 had written the state) and started
    # again: every rank takes the state up, and the run ends as the uninterrupted one did
    cut = PretrainJob.make(**{**kw, "state_every": 0}, out=str(tmp_path / "cut"))
    (tmp_path / "k").mkdir()
    assert _ddp_run(cut, tmp_path / "k", "4") == [3, 3]
    assert (tmp_path / "cut" / "train_state.pt").is_file()
    assert _ddp_run(cut, tmp_path / "k") == [0, 0]
    again = json.loads((tmp_path / "k" / "rank0.json").read_text())
    assert again["timings"]["resumed_from"] == 4 and again["history"] == rows[0]["history"]
    assert (tmp_path / "cut" / "backbone.pt").read_bytes() == \
        (tmp_path / "ddp" / "backbone.pt").read_bytes()


def test_rank_batches_share_each_global_batch_once_and_refuse_uneven_shares():
    from torch.utils.data import BatchSampler

    from syn2real.errors import UserError
    from syn2real.train.distributed import RankBatches, from_env

    glob = BatchSampler(range(24), 8, drop_last=True)
    parts = [list(RankBatches(glob, r, 2, 2)) for r in range(2)]
    assert all(len(p) == 6 for p in parts) and all(len(m) == 2 for p in parts for m in p)
    for k, batch in enumerate(glob):  # step k: ranks 0 and 1, 2 micro-batches each
        got = [i for r in range(2) for a in range(2) for i in parts[r][2 * k + a]]
        assert got == batch
    with pytest.raises(UserError, match="multiple of 6"):
        RankBatches(glob, 0, 3, 2)
    assert from_env({}) is None and from_env({"WORLD_SIZE": "1"}) is None
    with pytest.raises(UserError, match="MASTER_ADDR"):
        from_env({"WORLD_SIZE": "2", "RANK": "0", "MASTER_PORT": "1"})
    d = from_env({"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "1"})
    assert (d.rank, d.world, d.main) == (1, 2, False)
