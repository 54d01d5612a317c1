"""Issue 16's catalogue of adversarial inputs: each case failed on commit a633873.

Items 1-15 of the issue, in its order: moved run folders, locks, Ctrl-C (slow), damaged
artefacts and their repair, partial checkpoints, shard checksums, too few points, configs
that cannot mean what they say, file-system errors, full disks, corrupt stores and
manifests, hostile names, many groups, ``--json -`` and file permissions (in test_cli).
"""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager

import pytest
import yaml
from typer.testing import CliRunner

try:  # torch's LLVM (Triton) before Mesa's: this file renders and trains in one process
    import torchvision.ops  # noqa: F401
except ImportError:  # pragma: no cover - without the training extra
    pass

from studies import tiny
from syn2real.advise import advise
from syn2real.cli.app import app
from syn2real.errors import UserError
from syn2real.sweep.config import ConfigError, load_config, parse_config

BASE = {"finetune": [{"counts": [100]}]}


def test_duplicate_yaml_keys_are_refused_not_last_wins(tmp_path):
    p = tmp_path / "study.yaml"
    p.write_text("name: a\npretrain:\n  iters: 10\n  iters: 20\nfinetune:\n  - counts: [100]\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'iters' at line 4 \(first at line 3\)"):
        load_config(p)


@pytest.mark.parametrize("bad, where", [
    ({"pretrain": {"tasks": []}}, "pretrain.tasks"),
    ({"pretrain": {"models": []}}, "pretrain.models"),
    ({"pretrain": {"n": []}}, "pretrain.n"),
    ({"finetune": [{"counts": []}]}, "finetune.0.counts"),
    ({"pretrain": {"iters": True}}, "pretrain.iters"),        # not silently 1
    ({"pretrain": {"n": ["20"]}}, "pretrain.n.0"),            # no string-to-int coercion
    ({"name": "../../escape"}, "name"),                       # the run folder stays in runs/
    ({"name": "/tmp/x"}, "name"),
])
def test_configs_that_cannot_mean_what_they_say_are_refused(bad, where):
    with pytest.raises(ConfigError, match=f"'{where}'"):
        parse_config({**BASE, **bad})


def test_empty_spec_file_is_refused_not_rendered_as_defaults(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("")
    res = CliRunner().invoke(app, ["render", "--spec", str(spec), "--n", "10", "--out",
                                   str(tmp_path / "out")])
    assert res.exit_code == 2 and "the file is empty" in res.output
    assert not (tmp_path / "out").exists()
    empty = tmp_path / "empty.yaml"
    empty.write_text("  \n")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config(empty)


def test_three_points_say_too_few_to_decide():
    adv = advise(([1e3, 2e3, 4e3], [0.9, 0.87, 0.84]), 0.5, budget=1e6)
    assert adv.scenario == "undecided" and "too few points to decide" in adv.verdict
    assert "nan" not in adv.verdict.lower()


def test_hostile_group_names_are_shown_literally(tmp_path):
    import json

    import numpy as np

    rows = ["setting,n,error"]
    for name in ("[/]", "[link=http://x]y", r"$\x$"):
        for n in 1000 * 2 ** np.arange(6):
            rows.append(f"\"{name}\",{n},{0.5 * n ** -0.3 + 0.1:.6f}")
    p = tmp_path / "c.csv"
    p.write_text("\n".join(rows) + "\n")
    runner = CliRunner()
    res = runner.invoke(app, ["fit", str(p)])
    assert res.exit_code == 0, res.output
    assert "setting=[/]" in res.output and "[link=http://x]y" in res.output
    res = runner.invoke(app, ["advise", str(p), "--target", "0.2"])
    assert res.exit_code == 0 and "setting=[/]" in res.output
    res = runner.invoke(app, ["report", str(p), "--target", "0.2", "-o", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "fig1_curves.png").stat().st_size > 10_000
    # with --json - stdout holds only the JSON; the table went to stderr
    res = CliRunner().invoke(app, ["fit", str(p), "--json", "-"])
    assert res.exit_code == 0
    assert len(json.loads(res.stdout)) == 3


def _study(tmp_path, name="study.yaml", **finetune_changes):
    import yaml

    raw = tiny()
    raw["finetune"][0].update(finetune_changes)
    p = tmp_path / name
    p.write_text(yaml.safe_dump(raw))
    return p


def test_a_moved_run_folder_keeps_its_cache_and_its_checkpoints(tmp_path, monkeypatch):
    """Item 1: pre-training folders were named by a hash of the data *path*."""
    import shutil

    from syn2real.sweep.store import Store

    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(app, ["run", str(_study(tmp_path)), "--out", "runs/a",
                                     "--no-report"])
    assert first.exit_code == 0, first.output
    shutil.move(tmp_path / "runs" / "a", tmp_path / "moved")
    changed = _study(tmp_path, "changed.yaml", lr=0.03)  # reruns only the fine-tunes
    res = CliRunner().invoke(app, ["run", str(changed), "--out", str(tmp_path / "moved"),
                                   "--no-report"])
    assert res.exit_code == 0, res.output
    from syn2real.sweep import build_plan, load_config

    plan = build_plan(load_config(changed), tmp_path / "moved")
    n_ft = len(plan.by_kind("finetune"))  # only the fine-tunes rerun; renders, pre-trainings
    assert n_ft == 4                      # and their checkpoints are found in the new place
    assert f"{n_ft} ran, {len(plan.jobs) - n_ft} cached, 0 failed" in " ".join(res.output.split())
    store = Store(tmp_path / "moved" / "results.sqlite")
    assert not [r for r in store.rows(status="failed")]


# --- item 2: one process owns a folder -------------------------------------------------------


def test_a_second_run_on_a_folder_in_use_is_refused_with_its_holder(tmp_path):
    from syn2real.locking import folder_lock

    run = tmp_path / "run"
    with folder_lock(run, "syn2real run"):
        res = CliRunner().invoke(app, ["run", str(_study(tmp_path)), "--out", str(run)])
        assert res.exit_code == 2
        text = " ".join(res.output.split())
        assert "in use by syn2real run (pid" in text and "since" in text
        assert not (run / "results.sqlite").exists()  # nothing touched
        render = CliRunner().invoke(app, ["render", "--out", str(run), "--n", "1000"])
        assert render.exit_code == 2 and "in use by" in render.output
    # the lock file stays behind after its holder is gone: stale, simply taken over
    assert (run / ".syn2real.lock").exists()
    with folder_lock(run, "again"):
        pass


def test_a_lock_left_by_a_killed_process_is_stale(tmp_path):
    import subprocess
    import sys

    from syn2real.locking import folder_lock

    code = ("import os, sys; from syn2real.locking import folder_lock\n"
            f"with folder_lock({str(tmp_path)!r}, 'holder'):\n"
            "    print('held', flush=True); os.kill(os.getpid(), 9)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "held" and proc.returncode == -9
    with folder_lock(tmp_path, "next"):  # the kernel dropped the lock with the process
        pass


def _no_flock(monkeypatch):
    """flock as Lustre mounted without -o flock answers it."""
    import errno
    import fcntl

    def refuse(fd, op):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", refuse)


def test_a_file_system_without_flock_gets_an_exclusive_lock_file(tmp_path, monkeypatch):
    import json
    import socket

    from syn2real.locking import HELD_NAME, FolderInUse, folder_lock

    _no_flock(monkeypatch)
    run = tmp_path / "run"
    with folder_lock(run, "syn2real run"):
        assert json.loads((run / HELD_NAME).read_text())["what"] == "syn2real run"
        with pytest.raises(FolderInUse, match="in use by syn2real run"):
            with folder_lock(run, "second"):
                pass
    assert not (run / HELD_NAME).exists()  # released: removed
    # a holder on another host cannot be checked: named, with what clears it
    (run / HELD_NAME).write_text(json.dumps({"pid": 1, "host": "login02", "what": "run",
                                             "since": "yesterday"}))
    with pytest.raises(FolderInUse, match=r"pid 1 on login02.*remove .*\.held"):
        with folder_lock(run, "third"):
            pass
    assert socket.gethostname() != "login02"


def test_without_flock_a_killed_holder_of_this_host_is_stale(tmp_path, monkeypatch):
    import subprocess
    import sys

    from syn2real.locking import HELD_NAME, folder_lock

    code = ("import errno, fcntl, os\n"
            "def refuse(fd, op): raise OSError(errno.ENOLCK, 'No locks available')\n"
            "fcntl.flock = refuse\n"
            "from syn2real.locking import folder_lock\n"
            f"with folder_lock({str(tmp_path)!r}, 'holder'):\n"
            "    print('held', flush=True); os.kill(os.getpid(), 9)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "held" and proc.returncode == -9, proc.stderr
    assert (tmp_path / HELD_NAME).exists()  # left behind: nothing removed it
    _no_flock(monkeypatch)
    with folder_lock(tmp_path, "next"):  # its pid is gone: stale, taken over
        pass
    assert not (tmp_path / HELD_NAME).exists()


# --- items 4-6: artefacts verified before use, repaired by rerunning their producer -------


def _shards(tmp_path, n=20):
    from syn2real.render import PRESETS, DatasetSpec, render_dataset

    spec = DatasetSpec(**{**PRESETS["lv0"], "size": 16, "classes": 2, "shard_size": 10})
    root = tmp_path / "data"
    render_dataset(spec, root, n)
    return spec, root


def test_verify_finds_altered_missing_and_truncated_shards_and_render_repairs_them(tmp_path):
    import numpy as np

    from syn2real.data import ShardDataset
    from syn2real.data.verify import DataFolderError, check_shards
    from syn2real.render import render_dataset

    spec, root = _shards(tmp_path)
    good = {p.name: p.read_bytes() for p in (root / "shard-00001").iterdir()}
    ok = CliRunner().invoke(app, ["verify", str(root)])
    assert ok.exit_code == 0 and "checksums match" in ok.output
    rgb = root / "shard-00000" / "rgb.npy"
    a = np.load(rgb)
    a[0, 0, 0, 0] ^= 1  # same size, other pixels
    np.save(rgb, a)
    (root / "shard-00001" / "labels.npy").unlink()
    bad = CliRunner().invoke(app, ["verify", str(root)])
    assert bad.exit_code == 1
    assert "shard-00000/rgb.npy: checksum" in bad.output
    assert "shard-00001/labels.npy: missing" in bad.output
    with pytest.raises(DataFolderError, match=r"shard-00001/labels\.npy: missing"):
        ShardDataset(root)  # a reader checks sizes always
    (root / "shard-00001" / "labels.npy").write_bytes(good["labels.npy"])
    ShardDataset(root)  # sizes fine again; the altered pixels need the checksum:
    with pytest.raises(DataFolderError, match=r"rgb\.npy: checksum"):
        ShardDataset(root, verify=True)
    with open(root / "shard-00001" / "normal.npy", "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(DataFolderError, match=r"normal\.npy: truncated"):
        ShardDataset(root)
    render_dataset(spec, root, 20)  # the rerun repairs exactly the bad shards
    assert check_shards(root, full=True) == []
    assert {p.name: p.read_bytes() for p in (root / "shard-00001").iterdir()} == good


def test_a_corrupt_manifest_is_named_and_rebuilt_by_render(tmp_path):
    from syn2real.data import ShardDataset
    from syn2real.data.verify import DataFolderError
    from syn2real.render import render_dataset

    spec, root = _shards(tmp_path)
    (root / "manifest.json").write_text("{not json")
    with pytest.raises(DataFolderError, match=r"manifest.json: not a readable manifest.*"
                       r"rebuilds the manifest"):
        ShardDataset(root)
    manifest = render_dataset(spec, root, 20)
    assert len(manifest["shards"]) == 2 and len(ShardDataset(root)) == 20


def test_partial_checkpoints_are_refused_unless_allowed(tmp_path):
    torch = pytest.importorskip("torch")  # noqa: F841
    from syn2real.tasks.models import build_model
    from syn2real.train.checkpoint import CheckpointError, load_checkpoint, save_backbone

    model = build_model("mulclass", "resnet18", 3, "small", 16)
    path = tmp_path / "backbone.partial.pt"
    save_backbone(path, model, arch="resnet18", stem="small", task="mulclass", val={},
                  config={}, complete=False, iteration=50, iters=200)
    with pytest.raises(CheckpointError, match=r"partial checkpoint .* first 50 of 200"):
        load_checkpoint(path)
    assert load_checkpoint(path, allow_partial=True)["iteration"] == 50
    with pytest.raises(CheckpointError, match=r"interrupted run left .*--allow-partial"):
        load_checkpoint(tmp_path / "backbone.pt")
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path, allow_partial=True)


def test_pretrain_writes_a_complete_checkpoint_with_its_checksum(tmp_path):
    pytest.importorskip("torch")
    import hashlib

    from syn2real.train.checkpoint import load_checkpoint
    from syn2real.train.pretrain import pretrain

    _, root = _shards(tmp_path, 30)
    row = pretrain(root, 20, "mulclass", out=tmp_path / "pt", iters=4, batch=10,
                   val_images=10, threads=2, val_every=2)
    ck_path = tmp_path / "pt" / "backbone.pt"
    assert not (tmp_path / "pt" / "backbone.partial.pt").exists()
    ck = load_checkpoint(ck_path)
    assert ck["complete"] is True and ck["iteration"] in (2, 4) and ck["iters"] == 4
    data = ck_path.read_bytes()
    assert row["checkpoint_file"] == {"bytes": len(data),
                                      "sha256": hashlib.sha256(data).hexdigest()}


def test_a_damaged_checkpoint_of_a_finished_job_reruns_its_producer(tmp_path):
    from syn2real.sweep import Store, build_plan, load_config

    cfg_path = _study(tmp_path)
    run = tmp_path / "run"
    first = CliRunner().invoke(app, ["run", str(cfg_path), "--out", str(run), "--no-report"])
    assert first.exit_code == 0, first.output
    plan = build_plan(load_config(cfg_path), run)
    victim = plan.by_kind("pretrain")[0]
    ck = victim.spec.checkpoint
    ck.write_bytes(ck.read_bytes()[:-10])  # truncated: every dependent would fail on it
    again = CliRunner().invoke(app, ["run", str(cfg_path), "--out", str(run), "--no-report"])
    assert again.exit_code == 0, again.output
    text = " ".join(again.output.split())
    assert "rerun pretrain" in text and "written" in text  # size differs from the record
    assert f"1 ran, {len(plan.jobs) - 1} cached" in text
    store = Store(run / "results.sqlite")
    row = next(r for r in store.rows() if r["key"] == victim.key)
    assert row["attempts"] == 2
    # --rerun KIND runs those jobs and everything downstream again
    forced = CliRunner().invoke(app, ["run", str(cfg_path), "--out", str(run), "--no-report",
                                      "--rerun", "pretrain"])
    assert forced.exit_code == 0, forced.output
    text = " ".join(forced.output.split())
    pre = {j.key for j in plan.by_kind("pretrain")}
    again = pre | {j.key for j in plan.by_kind("finetune") if set(j.deps) & pre}
    assert len(again) == 6  # 3 pretrain + their 3 fine-tunes; not the renders, not scratch
    assert f"6 ran, {len(plan.jobs) - 6} cached" in text
    assert f"6 of {len(plan.jobs)} jobs to run, expected ~" in text  # said before it starts
    nope = CliRunner().invoke(app, ["run", str(cfg_path), "--out", str(run), "--rerun", "zz"])
    assert nope.exit_code == 2 and "matches no job" in nope.output


# --- items 10, 11: full disks and corrupt stores --------------------------------------------


def test_a_corrupt_results_store_is_named_with_the_fix(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.sqlite").write_bytes(b"this is not a database" * 100)
    for args in (["run", str(_study(tmp_path)), "--out", str(run)],
                 ["plan", str(_study(tmp_path)), "--out", str(run)],
                 ["export", str(run)]):
        res = CliRunner().invoke(app, args)
        text = " ".join(res.output.split())
        assert res.exit_code == 2, (args, res.output)
        assert "results.sqlite: not a readable results store" in text and "Fix:" in text
        assert "Traceback" not in res.output


@contextmanager
def tmpfs(path, options: str):
    """A tmpfs mounted at ``path`` for the test (small or read-only); skips without root."""
    import subprocess

    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)


@pytest.mark.parametrize(("size", "shard", "disk", "n"),
                         [(32, 50, "2m", 180),    # ~0.8 MB a shard
                          (64, 60, "9m", 200)])   # ~3.5 MB: > 1 MiB
def test_a_full_disk_is_one_line_and_leaves_no_temporary_files(tmp_path, size, shard, disk, n):
    # n: more than the disk holds, within the up-front estimate's margin (the disk fills
    # half-way through the render)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"preset: lv0\nsize: {size}\nshard_size: {shard}\n")
    with tmpfs(tmp_path / "small", f"size={disk}") as mnt:
        res = CliRunner().invoke(app, ["render", "--out", str(mnt / "d"), "--n", str(n),
                                       "--spec", str(spec), "--no-sheet"])
        assert res.exit_code == 2, res.output
        assert "no space left on" in res.output and "Traceback" not in res.output
        left = [p.name for p in (mnt / "d").iterdir()]
        assert not [n for n in left if n.startswith(".shard-") or n.endswith(".tmp")], left
        from syn2real.data.verify import check_shards

        assert check_shards(mnt / "d", full=True) == []  # what finished is intact


# --- items 3, 13: Ctrl-C -----------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_stops_a_run_at_once_says_what_finished_and_resumes(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from syn2real.sweep.store import Store

    raw = yaml.safe_load(_study(tmp_path).read_text())
    raw["pretrain"]["iters"] = 400  # long enough to be interrupted mid-job
    cfg = tmp_path / "long.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "syn2real.cli.app", "run", str(cfg), "--out", str(run),
           "--no-report"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    from syn2real.sweep import build_plan, load_config

    renders = len(build_plan(load_config(cfg), run).by_kind("render"))  # the chunk chain
    db = run / "results.sqlite"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until the render is done and a pre-training runs
        if db.exists() and len(Store(db).rows("render")) == renders:
            break
        time.sleep(0.2)
    time.sleep(2)
    t0 = time.time()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert time.time() - t0 < 15  # no waiting for the running pre-training to finish
    text = " ".join(err.split())
    assert (f"interrupted: {renders} job(s) finished in this run and are recorded (0 were "
            "already") in text
    assert "running job(s) stopped. Run the same command again to resume" in text
    assert "Traceback" not in err
    assert not list(run.glob("pretrain/*/backbone.pt"))
    raw["pretrain"]["iters"] = 2
    cfg.write_text(yaml.safe_dump(raw))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]


@pytest.mark.slow
def test_ctrl_c_on_a_parallel_render_prints_no_worker_tracebacks(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from syn2real.data.verify import check_shards

    spec = tmp_path / "spec.yaml"
    spec.write_text("preset: lv0\nsize: 32\nshard_size: 50\n")
    out = tmp_path / "d"
    cmd = [sys.executable, "-m", "syn2real.cli.app", "render", "--out", str(out), "--n",
           "2000", "--spec", str(spec), "--workers", "2", "--no-sheet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("shard-*")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "SpawnPoolWorker" not in err
    assert "run the same command again to resume" in err
    assert not list(out.glob(".shard-*"))
    assert check_shards(out, full=True) == []  # what finished is whole


# --- item 14: many groups ------------------------------------------------------------------


def _many_groups(path, groups: int, sizes: int):
    """A CSV of ``groups`` noisy eq.-1 curves (column g) at ``sizes`` doublings of n."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = 1000 * 2 ** np.arange(sizes)
    lines = ["g,n,error"]
    for g in range(groups):
        err = 0.8 * n ** -0.35 + 0.1 + rng.normal(0, 0.003, n.size)
        lines += [f"c{g},{x},{e:.6f}" for x, e in zip(n, err, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_on_many_groups_is_one_batch_with_wald_intervals_and_a_short_table(tmp_path):
    import json

    csv_path = _many_groups(tmp_path / "many.csv", 260, 6)
    res = CliRunner().invoke(app, ["fit", str(csv_path), "--json", str(tmp_path / "f.json")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "260 curves: Wald intervals" in text and "the first 50 of 260 curves" in text
    rows = json.loads((tmp_path / "f.json").read_text())
    assert len(rows) == 260 and all("alpha_ci" in r for r in rows)
    r = rows[0]  # Wald: symmetric about the estimate
    assert r["alpha_ci"][1] - r["alpha"] == pytest.approx(r["alpha"] - r["alpha_ci"][0])
    prof = CliRunner().invoke(app, ["fit", str(csv_path), "--where", "g=c0|c1", "--json",
                                    str(tmp_path / "p.json")])
    assert prof.exit_code == 0 and "profile CI" in " ".join(prof.output.split())


# --- item 9: file-system errors are one line naming the path --------------------------------


def test_file_system_mistakes_are_one_line_naming_the_path(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [
        (["render", "--out", str(afile), "--n", "1000"], "exists and is not a folder"),
        (["render", "--out", str(afile / "sub"), "--n", "1000"], str(afile)),
        (["run", str(_study(tmp_path)), "--out", str(afile)], "exists and is not a folder"),
        (["pretrain", "--data", str(tmp_path / "nonexistent"), "--n", "10", "--out",
          str(tmp_path / "ck")], "no such dataset folder"),
        (["finetune", "--backbone", str(tmp_path), "--dataset", "digits", "--count", "20"],
         "is a folder; give the checkpoint file"),
        (["verify", str(tmp_path)], "no manifest.json"),
    ]
    for args, expect in cases:
        res = CliRunner().invoke(app, args)
        text = " ".join(res.output.split())
        assert res.exit_code == 2, (args, res.output)
        assert expect in text and "Traceback" not in res.output, (args, res.output)
        assert "internal error" not in text, (args, res.output)


def test_a_read_only_folder_is_one_line(tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        res = CliRunner().invoke(app, ["render", "--out", str(ro / "d"), "--n", "1000"])
        text = " ".join(res.output.split())
        assert res.exit_code == 2 and "Read-only file system" in text and str(ro) in text


def test_a_full_disk_under_the_results_store_is_one_line(tmp_path):
    from syn2real.sweep.store import Store, StoreError

    with tmpfs(tmp_path / "small", "size=256k") as mnt:
        store = Store(mnt / "results.sqlite")
        store.record("a", "finetune", {"x": 1}, result={"ok": True})
        with open(mnt / "filler", "wb") as fh:  # fill the disk
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        with pytest.raises(StoreError, match="no space left on"):
            for i in range(200):
                store.record(f"k{i}", "finetune", {"blob": "y" * 4000}, result={"r": i})
        (mnt / "filler").unlink()  # space freed: what was recorded is all there
        assert store.status()["a"] == "done"


def test_a_curve_of_many_points_is_fitted_in_bounded_memory_with_wald_intervals(tmp_path):
    """Per-step logs give curves of 10^4..10^5 points (issue 29 item 9): the profile grid is
    evaluated in slices (the same numbers), fit and advise choose Wald intervals and say
    why, instead of a silent OOM kill."""
    import resource

    import numpy as np

    import syn2real.law.solver as solver
    from syn2real.law import TransferLaw

    rng = np.random.default_rng(0)
    n = np.arange(1, 6001) * 100.0
    e = (0.5 * n**-0.3 + 0.1) * np.exp(rng.normal(0, 0.02, len(n)))
    whole = TransferLaw().fit(n, e)
    old = solver.PROFILE_CHUNK
    try:
        solver.PROFILE_CHUNK = 10_000  # far fewer values at a time: the same fit
        sliced = TransferLaw().fit(n, e)
        lo_s, hi_s = sliced.profile_interval("alpha", 0.9)
    finally:
        solver.PROFILE_CHUNK = old
    for k in ("D", "alpha", "C"):
        assert sliced.params_[k] == whole.params_[k]
    assert (lo_s, hi_s) == whole.profile_interval("alpha", 0.9)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from syn2real.advise import advise_many

    adv = advise_many([{"n": n, "err": e}], 0.1, laws=[whole])[0]
    assert "intervals:wald" in adv.flags
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 1500, grown_mb
    path = tmp_path / "steps.csv"
    path.write_text("n,error\n" + "\n".join(f"{a:g},{b:.6f}" for a, b in
                                            zip(n, e, strict=True)) + "\n")
    res = CliRunner().invoke(app, ["fit", str(path)])
    assert res.exit_code == 0, res.output
    assert "6,000 points" in " ".join(res.output.split()) and "Wald intervals" in res.output


def test_an_intact_store_in_a_read_only_folder_is_not_called_unreadable(tmp_path):
    """Issue 29 item 10: following "move it aside, the training jobs run again" would discard
    every result; a read-only store is named as such, with a fix that keeps it."""
    import subprocess

    from syn2real.sweep.store import Store, StoreError

    with tmpfs(tmp_path / "ro", "size=4m") as mnt:
        store = Store(mnt / "results.sqlite")
        store.record("a", "finetune", {"x": 1}, result={"ok": True})
        del store
        before = (mnt / "results.sqlite").read_bytes()
        if subprocess.run(["mount", "-o", "remount,ro", str(mnt)],
                          capture_output=True).returncode != 0:
            pytest.skip("remounting read-only needs root")
        with pytest.raises(StoreError) as info:
            Store(mnt / "results.sqlite").record("b", "finetune", {"x": 2}, result={})
        text = str(info.value)
        assert "read-only" in text and "results are intact: do not move it aside" in text
        assert "not a readable results store" not in text and "run again" not in text
        assert (mnt / "results.sqlite").read_bytes() == before


@pytest.mark.parametrize("case", ["empty results.csv", "binary results.csv",
                                  "truncated trainer_state", "bad regex", "budget inf",
                                  "manifest {}", "manifest list"])
def test_bad_inputs_are_one_line_not_an_internal_error(tmp_path, case):
    """Issue 29 item 12: each of these was 'internal error (...)'; now one line naming the
    file or the flag, exit 2."""
    ul = tmp_path / "ul" / "train"
    ul.mkdir(parents=True)
    (ul / "args.yaml").write_text("epochs: 3\n")
    hf = tmp_path / "hf" / "n10"
    hf.mkdir(parents=True)
    (hf / "trainer_state.json").write_text(
        '{"global_step": 3, "log_history": [{"eval_loss": 1, "step": 3}]}')
    curve = tmp_path / "c.csv"
    curve.write_text("n,error\n1000,0.5\n2000,0.4\n4000,0.35\n8000,0.32\n")
    collect_ul = ["collect", str(tmp_path / "ul"), "--metric", "x", "--n-from", r"regex:n(\d+)"]
    args, want = {
        "empty results.csv": (collect_ul, r"results\.csv: not readable as this trainer"),
        "binary results.csv": (collect_ul, r"results\.csv: not readable .*UnicodeDecodeError"),
        "truncated trainer_state": (["collect", str(tmp_path / "hf"), "--metric", "eval_loss",
                                     "--n-from", r"regex:n(\d+)"],
                                    r"trainer_state\.json: not readable .*JSONDecodeError"),
        "bad regex": (["collect", str(tmp_path / "hf"), "--metric", "eval_loss", "--n-from",
                       r"regex:n(\d+"], r"--n-from: 'n\(\\d\+' is not a valid regular"),
        "budget inf": (["advise", str(curve), "--target", "0.3", "--budget", "inf"],
                       r"budget must be a positive, finite number"),
        "manifest {}": (["verify", str(tmp_path / "m")], r"manifest\.json: not a readable"),
        "manifest list": (["pretrain", "--data", str(tmp_path / "m"), "--n", "10", "--out",
                           str(tmp_path / "ck")], r"manifest\.json: not a readable"),
    }[case]
    (ul / "results.csv").write_bytes(b"\x00\x01\xff\xfe binary" if "binary" in case else b"")
    if case == "truncated trainer_state":
        (hf / "trainer_state.json").write_text('{"global_step": 3, "log_hi')
    if case.startswith("manifest"):
        (tmp_path / "m").mkdir()
        (tmp_path / "m" / "manifest.json").write_text("{}" if "{}" in case else "[1, 2]")
    res = CliRunner().invoke(app, args)
    text = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert "internal error" not in text and "Traceback" not in text
    import re

    assert re.search(want, text), text


def test_a_render_far_larger_than_the_disk_is_refused_before_it_starts(tmp_path):
    """Issue 29 item 13: n = 10^12 started with a 1.27-million-hour ETA and no disk check."""
    res = CliRunner().invoke(app, ["render", "--out", str(tmp_path / "d"), "--n",
                                   "1000000000000", "--size", "32"])
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "needs about" in text and "--storage tar" in text, text
    assert not (tmp_path / "d" / "shard-00000").exists()


def test_unclear_messages_of_round_3_say_what_happened(tmp_path, monkeypatch):
    """Issue 29 item 13: a missing real-data folder is refused at plan (not after the
    pre-trainings), Ctrl-C on a single training says it starts over, and a failed write
    names the file asked for, not its hidden temporary name."""
    import syn2real.train.api as api
    from syn2real.sweep.plan import build_plan

    study = parse_config({
        "name": "s", "render": {"presets": ["lv0"], "overrides": {"size": 16}},
        "pretrain": {"n": [8, 16, 32], "val_images": 4},
        "finetune": [{"task": "sinclass", "counts": [10],
                      "dataset": {"kind": "imagefolder", "path": str(tmp_path / "nowhere")}}]})
    plan = build_plan(study, tmp_path / "run")  # the plan is shown, with the reason
    assert any("nowhere: no such folder" in w for w in plan.missing_data)
    from syn2real.sweep import Store, execute

    with pytest.raises(UserError, match=r"finetune\[0\]\.dataset\.path .*nowhere: no such "
                                        r"folder, so its fine-tunings could not run"):
        execute(plan, Store(tmp_path / "run" / "results.sqlite"))
    assert not any(Store(tmp_path / "run" / "results.sqlite").status().values())

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "finetune", interrupted)
    res = CliRunner().invoke(app, ["finetune", "--dataset", "digits", "--iters", "1"])
    text = " ".join(res.output.split())
    assert res.exit_code == 130 and "starts it over" in text, text
    assert "run the same command again to resume" not in text
    with tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        from syn2real.atomic import atomic_write

        with pytest.raises(OSError) as info:
            atomic_write(ro / "curves.csv", "n,error\n")
        assert info.value.filename == str(ro / "curves.csv")


def test_render_out_empty_and_collect_through_a_symlink_loop(tmp_path):
    """Issue 29 item 8: --out '' rendered into the current folder; a symlink back up the
    runs tree made 3 runs into 123."""
    res = CliRunner().invoke(app, ["render", "--out", "", "--n", "10"])
    assert res.exit_code == 2 and "--out is empty" in res.output
    import json

    from syn2real.curves.collect import collect

    for n in (1000, 2000, 4000):
        d = tmp_path / "runs" / f"n{n}"
        d.mkdir(parents=True)
        (d / "trainer_state.json").write_text(json.dumps(
            {"global_step": 1, "log_history": [{"eval_loss": 1000 / n, "step": 1}]}))
    (tmp_path / "runs" / "n1000" / "loop").symlink_to(tmp_path / "runs")
    (tmp_path / "runs" / "alias").symlink_to(tmp_path / "runs" / "n2000")
    df, notes = collect(tmp_path / "runs", metric="eval_loss", n_from=r"regex:(?:^|/)n(\d+)",
                        allow_repeats=True)
    assert sorted(df["n"]) == [1000, 2000, 4000] and notes[0].startswith("3 runs")


def test_pretrain_refuses_shards_whose_pixels_changed_in_place(tmp_path):
    """Issue 29 item 6: a shard altered in place (same size) was trained on; only verify
    noticed. Pre-training checks the checksums of the shards it reads."""
    import numpy as np

    from syn2real.data.verify import DataFolderError
    from syn2real.train.api import pretrain

    _, root = _shards(tmp_path)
    rgb = root / "shard-00000" / "rgb.npy"
    a = np.load(rgb)
    a[0, 0, 0, 0] ^= 1  # same size, other pixels
    np.save(rgb, a)
    with pytest.raises(DataFolderError, match=r"shard-00000/rgb\.npy: checksum.*rerun syn2real "
                                              r"render with the same spec"):
        pretrain(root, 4, "mulclass", out=tmp_path / "ck", iters=1, batch=2, val_images=2,
                 threads=1)
    assert not (tmp_path / "ck" / "backbone.pt").exists()


@pytest.mark.parametrize("value", ["'32'", "true", "32.0"])
def test_render_settings_are_strict(tmp_path, value):
    """Issue 29 item 8: size: '32' was accepted and size: true became 1."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"preset: lv0\nsize: {value}\n")
    res = CliRunner().invoke(app, ["render", "--spec", str(spec), "--n", "10", "--out",
                                   str(tmp_path / "d")])
    assert res.exit_code == 2 and "'size': Input should be a valid integer" in res.output
    assert not (tmp_path / "d").exists()


def test_a_report_of_many_curves_shows_its_progress(tmp_path, monkeypatch):
    """Issue 29 item 13: report on 100 groups ran 82 s with no output."""
    path = _many_groups(tmp_path / "many.csv", 24, 5)
    res = CliRunner().invoke(app, ["report", str(path), "-o", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "report of 24 curves" in text and "24/24" in text, text
    # Fig. 8 (a row per curve) shows at most MAX_PARAM_ROWS curves and says so (10,000
    # curves made a figure 3,500 inches tall); the tables list all
    import importlib

    monkeypatch.setattr(importlib.import_module("syn2real.report.html"), "MAX_PARAM_ROWS", 10)
    res = CliRunner().invoke(app, ["report", str(path), "-o", str(tmp_path / "rep2")])
    page = (tmp_path / "rep2" / "index.html").read_text()
    assert res.exit_code == 0 and "The first 10 of 24 curves (the tables list all)" in page


# --- issue 28 item 6: a results store on shared storage ------------------------------------


def _journal(path) -> str:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(path)) as con:
        return con.execute("PRAGMA journal_mode").fetchone()[0]


def test_the_store_on_network_storage_uses_the_rollback_journal(tmp_path, monkeypatch):
    import syn2real.sweep.store as store_mod
    from syn2real.sweep import Store

    local = Store(tmp_path / "local" / "results.sqlite")
    local.record("a", "pretrain", {"n": 1}, result={"err": 0.1})
    assert local.journal == "WAL"
    assert _journal(local.path) == "wal"
    monkeypatch.setattr(store_mod, "mount_type", lambda path: "nfs4")
    shared = Store(tmp_path / "nfs" / "results.sqlite")
    shared.record("a", "pretrain", {"n": 1}, result={"err": 0.1})
    assert shared.journal == "DELETE"
    assert _journal(shared.path) == "delete"
    assert not (shared.path.parent / "results.sqlite-wal").exists()
    # a store written in WAL mode on a disk later mounted over the network is switched
    moved = Store(local.path)
    assert moved.journal == "DELETE" and moved.status() == {"a": "done"}
    assert _journal(local.path) == "delete"


def test_a_reader_in_another_process_sees_whole_rows_while_the_driver_writes(tmp_path):
    """The driver writes, a second process (as on a login node) reads: rollback journal."""
    import subprocess
    import sys

    db = tmp_path / "results.sqlite"
    force = "import syn2real.sweep.store as m; m.mount_type = lambda p: 'lustre'\n"
    go = tmp_path / "reader-ready"
    writer = (force + "import os, time\nfrom syn2real.sweep import Store\n"
              f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
              f"s = Store({str(db)!r})\n"
              "for i in range(300):  # jobs finish one after another\n"
              "    s.record(f'k{i}', 'pretrain', {'i': i}, result={'err': i / 1000})\n"
              "    time.sleep(0.005)\n")
    reader = (force + "import time, os\nfrom syn2real.sweep import Store\n"
              f"open({str(go)!r}, 'w').close()\n"
              f"while not os.path.exists({str(db)!r}): time.sleep(0.001)\n"
              "seen, t0 = [], time.time()\n"
              "while time.time() - t0 < 120:\n"
              f"    rows = Store({str(db)!r}).rows()\n"
              "    assert all(r['result']['err'] == r['params']['i'] / 1000 for r in rows)\n"
              "    seen.append(len(rows))\n"
              "    if len(rows) == 300: break\n"
              "assert seen == sorted(seen), seen\n"
              "print(len(set(seen)), seen[-1])\n")
    w = subprocess.Popen([sys.executable, "-c", writer], stderr=subprocess.PIPE, text=True)
    r = subprocess.run([sys.executable, "-c", reader], capture_output=True, text=True,
                       timeout=300)
    assert w.wait(timeout=300) == 0, w.stderr.read()
    assert r.returncode == 0, r.stderr[-2000:]
    distinct, last = map(int, r.stdout.split())
    assert last == 300 and distinct >= 2  # it read while the writer wrote
    assert not (tmp_path / "results.sqlite-wal").exists()


@pytest.mark.parametrize("case", ["duplicate header", "target as percent", "baseline above 1",
                                  "repeated seeds", "repeated counts", "filter leaves nothing",
                                  "power law on a loss"])
def test_inputs_that_would_silently_mean_something_else_are_refused(tmp_path, case):
    """A fourth adversarial pass (this round): a CSV header naming ``n`` twice had its copy
    renamed ``n.1`` by pandas and taken as a grouping column (the error then spoke of a curve
    'n.1=1'); ``--target 1.5`` on errors answered 'already there'; a study's repeated seeds or
    counts ran once each, silently fewer runs than written."""
    curve = tmp_path / "c.csv"
    curve.write_text("n,error\n1000,0.5\n2000,0.4\n4000,0.35\n8000,0.32\n")
    study = {"name": "s", "render": {"presets": ["lv0"]}, "pretrain": {"n": [20, 40, 60]},
             "finetune": [{"task": "sinclass", "dataset": "digits", "counts": [10]}]}
    if case == "duplicate header":
        curve.write_text("n,n,error\n1000,1,0.5\n2000,2,0.4\n4000,3,0.3\n")
        args, want = ["fit", str(curve)], r"row 1: column 'n' appears 2 times in the header"
    elif case == "target as percent":
        args, want = (["advise", str(curve), "--target", "1.5", "--budget", "1e6"],
                      r"--target 1\.5 is not an error below 1 .*an error in percent / 100")
    elif case == "filter leaves nothing":  # was "internal error (TypeError ...)"
        curve.write_text("n_eval,value,pretrain.data,pscale,pdata\n9,0.5,1000,64k,a\n"
                         "9,0.6,2000,64k,a\n9,0.65,4000,64k,a\n")
        args, want = (["modelsize", str(curve), "--where", "pscale=8k"],
                      r"column 'pscale': no row is left by the filter 'pscale=8k'\. Fix: .*"
                      r"pscale = '64k'")
    elif case == "power law on a loss":  # C >= 0 was imposed on a law without a C
        res = CliRunner().invoke(app, ["fit", str(curve), "--metric", "loss", "--law", "power",
                                       "--json", str(tmp_path / "p.json")])
        assert res.exit_code == 0, res.output
        fit = json.loads((tmp_path / "p.json").read_text())
        assert "C" not in fit[0] and fit[0]["law"] == "power" and fit[0]["alpha"] > 0
        return
    elif case == "baseline above 1":
        args, want = (["advise", str(curve), "--target", "0.2", "--baseline", "2"],
                      r"--baseline 2 is not an error below 1")
    else:
        if case == "repeated seeds":
            study["seeds"] = [0, 1, 0]
            want = r"'seeds': pre-training seed 0 is listed twice.*list distinct"
        else:
            study["finetune"][0]["counts"] = [10, 20, 10]
            want = r"'finetune\.0\.counts': count 10 is listed twice"
        path = tmp_path / "study.yaml"
        path.write_text(yaml.safe_dump(study))
        args = ["plan", str(path), "--out", str(tmp_path / "run")]
    res = CliRunner().invoke(app, args)
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "internal error" not in text, res.output
    import re

    assert re.search(want, text), text


def test_an_empty_argument_is_refused_not_taken_as_the_current_folder(tmp_path):
    """``report FILE -o ''`` wrote index.html into the current folder (``Path('')`` is
    ``.``); every command now refuses an empty argument before it runs."""
    from syn2real.cli.app import empty_argument

    assert empty_argument(["report", "c.csv", "-o", "out"]) is None
    assert "the value of -o is empty" in empty_argument(["report", "c.csv", "-o", ""])
    assert "the value of --out is empty" in empty_argument(["run", "s.yaml", "--out="])
    curve = tmp_path / "c.csv"
    curve.write_text("n,error\n1000,0.5\n2000,0.4\n4000,0.35\n8000,0.32\n")
    res = subprocess.run([sys.executable, "-m", "syn2real.cli.app", "report", str(curve), "-o",
                          ""], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 2 and "the value of -o is empty" in res.stderr
    assert not (tmp_path / "index.html").exists()
