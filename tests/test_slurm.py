"""The Slurm executor against a real one-node Slurm (slurmctld + slurmd + munge) that these
tests start on localhost and stop at the end (issue 15). Skipped where Slurm's daemons are
not installed or the tests do not run as root (``make slurm-deps`` installs them), except in
CI (``CI`` set), where that is a failure: CI runs ``make test-slurm`` to test the executor,
not to skip it. The fixture stops only the daemons it started, by their own process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from studies import tiny
from syn2real.sweep import Store, build_plan, load_config

pytestmark = pytest.mark.slurm

STUDY = tiny(name="slurmy", executor={"kind": "slurm", "cpus_per_job": 1, "time": 10,
                                      "threads": 1})


def _conf(root: Path) -> str:
    host = socket.gethostname()
    return "\n".join([
        "ClusterName=s2rtest", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", f"StateSaveLocation={root}/state",
        f"SlurmdSpoolDir={root}/spool", f"SlurmctldPidFile={root}/slurmctld.pid",
        f"SlurmdPidFile={root}/slurmd.pid", f"SlurmctldLogFile={root}/slurmctld.log",
        f"SlurmdLogFile={root}/slurmd.log", "SlurmctldPort=16917", "SlurmdPort=16918",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
        "SchedulerType=sched/builtin", "MpiDefault=none", "ReturnToService=2",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none",
        "MinJobAge=900",
        f"NodeName={host} CPUs=2 RealMemory=8000 State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""])


def _unavailable(why: str) -> None:
    """Skip, or fail in CI (where the Slurm tests must run)."""
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the Slurm tests (make slurm-deps, as root)")
    pytest.skip(why)


def _munge_works() -> bool:
    return subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    for tool in ("slurmctld", "slurmd", "munged", "sbatch"):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} not installed (make slurm-deps)")
    if os.geteuid() != 0:
        _unavailable("a private Slurm needs root here (slurmd runs jobs as their user)")
    try:
        import submitit  # noqa: F401
    except ImportError:
        _unavailable("submitit not installed (pip install 'syn2real[slurm]')")
    root = tmp_path_factory.mktemp("slurm")
    for d in ("state", "spool"):
        (root / d).mkdir()
    conf = root / "slurm.conf"
    conf.write_text(_conf(root))
    munged = None  # a munged this fixture started (in the foreground: its own process)
    if not _munge_works():
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        munged = subprocess.Popen(["munged", "--foreground", "--force"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while not _munge_works():
            if munged.poll() is not None or time.time() > deadline:
                _stop(munged)
                raise RuntimeError("munged did not start: "
                                   + munged.stderr.read().decode(errors="replace")[-2000:])
            time.sleep(0.2)
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)  # the daemons, sbatch and the drivers read it
    ctld = subprocess.Popen(["slurmctld", "-D", "-f", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1)
    slurmd = subprocess.Popen(["slurmd", "-D", "-f", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        s = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
        if s.stdout.strip() == "idle":
            break
        time.sleep(0.5)
    else:
        raise RuntimeError(f"Slurm did not come up: {(root / 'slurmctld.log').read_text()}")
    try:
        yield root
    finally:
        for proc in (slurmd, ctld):
            _stop(proc)
        if munged is not None:
            _stop(munged)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def _write(tmp_path: Path, raw: dict, name: str = "study.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(raw))
    return p


def _driver(cfg: Path, run: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "syn2real.cli.app", "run", str(cfg), "--out", str(run),
            "--no-report", *extra]


def test_plan_shows_the_slurm_resources_of_each_stage(tmp_path):
    from typer.testing import CliRunner

    from syn2real.cli.app import app

    raw = {**STUDY, "executor": {**STUDY["executor"], "partition": "gpu", "mem": "8G",
                                 "gpus_per_job": 1}}
    res = CliRunner().invoke(app, ["plan", str(_write(tmp_path, raw)), "--out",
                                   str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "slurm pretrain jobs ask for: cpus_per_task=1, time=10, gpus_per_node=1, " \
           "partition=gpu, mem=8G" in text
    assert "slurm render jobs ask for: cpus_per_task=1, time=10, gpus_per_node=0" in text


def test_slurm_gives_the_local_numbers_and_a_killed_driver_submits_nothing_twice(slurm,
                                                                                 tmp_path):
    cfg = _write(tmp_path, STUDY)
    local = tmp_path / "local"
    res = subprocess.run(_driver(cfg, local, "--executor", "local"), capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    run = tmp_path / "slurm-run"
    proc = subprocess.Popen(_driver(cfg, run), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    db = run / "results.sqlite"
    deadline = time.time() + 300
    while time.time() < deadline:  # wait until pre-trainings are submitted, then kill
        if db.exists() and any(k.startswith("pr-")
                               for k in Store(db).submissions("slurm")):
            break
        time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = Store(db).submissions("slurm")
    assert before and len(Store(db).status()) < len(before) + 8
    again = subprocess.run(_driver(cfg, run), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    store = Store(db)
    plan = build_plan(load_config(cfg), run)
    subs = store.submissions("slurm")
    assert set(subs) == set(plan.jobs)  # every job went through Slurm ...
    for key, (job_id, _) in before.items():  # ... the ones submitted before were reattached
        assert subs[key][0] == job_id
    submitted = list((run / "slurm").rglob("*_submitted.pkl"))
    assert len(submitted) == len(plan.jobs)  # nothing was submitted twice
    assert all(r["attempts"] == 1 for r in store.rows())
    loc = {r["key"]: r["result"]["metrics"]["error_last"]
           for r in Store(local / "results.sqlite").rows("finetune")}
    slu = {r["key"]: r["result"]["metrics"]["error_last"] for r in store.rows("finetune")}
    assert slu.keys() == loc.keys()
    for k in loc:  # deterministic on CPU: the same numbers whichever executor ran them
        assert slu[k] == pytest.approx(loc[k], abs=1e-9)


def test_a_cancelled_job_is_recorded_failed_and_retry_failed_reruns_it(slurm, tmp_path):
    raw = yaml.safe_load(yaml.safe_dump(STUDY))
    raw["pretrain"]["iters"] = 300  # long enough to cancel while it runs
    cfg = _write(tmp_path, raw)
    run = tmp_path / "run"
    proc = subprocess.Popen(_driver(cfg, run), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    db = run / "results.sqlite"
    victim = None
    deadline = time.time() + 300
    from syn2real.sweep.runners.slurm import job_states

    while time.time() < deadline and victim is None:  # a pre-training while it runs
        if db.exists():
            subs = Store(db).submissions("slurm")
            ids = [v[0] for k, v in subs.items() if k.startswith("pr-")]
            victim = next((j for j, s in job_states(ids).items() if s == "RUNNING"), None)
        time.sleep(0.3)
    assert victim is not None
    subprocess.run(["scancel", victim], check=True)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 1, err[-3000:]
    store = Store(db)
    failed = store.rows(status="failed")
    assert len(failed) == 1 and f"Slurm job {victim} CANCELLED" in failed[0]["error"]
    raw["pretrain"]["iters"] = 300
    retry = subprocess.run(_driver(cfg, run, "--retry-failed"), capture_output=True, text=True,
                           timeout=900)
    assert retry.returncode == 0, retry.stderr[-3000:]
    assert not Store(db).rows(status="failed")


def test_a_preempted_pretraining_is_requeued_and_goes_on_from_its_state(slurm, tmp_path):
    """Issue 28 item 1: USR2 (what Slurm sends before preempting or at the time limit, as
    submitit asks) makes submitit requeue the job; the pre-training goes on from its last
    resumable state, not from iteration 0, and ends with the bytes of a run never stopped."""
    import hashlib

    from syn2real.sweep.runners.slurm import job_states
    from syn2real.train.pretrain import run_pretrain

    raw = yaml.safe_load(yaml.safe_dump(STUDY))
    raw["pretrain"]["iters"] = 150
    raw["executor"]["state_every"] = 0.5
    cfg = _write(tmp_path, raw)
    run = tmp_path / "run"
    plan = build_plan(load_config(cfg), run)
    proc = subprocess.Popen(_driver(cfg, run), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    db = run / "results.sqlite"
    victim = None
    deadline = time.time() + 300
    while time.time() < deadline and victim is None:  # a pre-training with a saved state
        if db.exists():
            pre = {k: v[0] for k, v in Store(db).submissions("slurm").items()
                   if k.startswith("pr-")}
            states = job_states(list(pre.values()))
            victim = next(((k, j) for k, j in pre.items() if states.get(j) == "RUNNING"
                           and (Path(plan.jobs[k].spec.out) / "train_state.pt").exists()),
                          None)
        time.sleep(0.2)
    assert victim is not None
    key, job_id = victim
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    row = next(r for r in Store(db).rows("pretrain") if r["key"] == key)
    assert row["attempts"] == 1 and (row["result"]["timings"]["resumed_from"] or 0) > 0
    assert Store(db).submissions("slurm")[key][0] == job_id  # the same job, requeued
    spec = plan.jobs[key].spec
    again = run_pretrain(spec.model_copy(update={"out": str(tmp_path / "again")}), 1)
    assert again["timings"]["resumed_from"] is None

    def sha(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    assert sha(Path(spec.out) / "backbone.pt") == sha(tmp_path / "again" / "backbone.pt")


def test_a_pretraining_on_two_slurm_tasks_trains_one_model_with_ddp(slurm, tmp_path):
    """Issue 28 item 2 on the test Slurm: ``resources.pretrain.tasks: 2`` makes one job of
    two tasks that join one gloo group through the variables submitit exports; the runner
    gets rank 0's row, and the losses are those of one process that accumulates the same
    global batch in 2 micro-batches."""
    from types import SimpleNamespace

    from syn2real.jobspecs import PretrainJob
    from syn2real.render import preset, render_dataset
    from syn2real.sweep.runners.slurm import SlurmRunner, slurm_resources
    from syn2real.train.pretrain import run_pretrain

    data = tmp_path / "data"
    render_dataset(preset("lv0", size=32, classes=3, shard_size=30), data, 60)
    raw = tiny(name="ddp", executor={"kind": "slurm", "time": 10, "slurm": {
        "resources": {"pretrain": {"tasks": 2, "cpus": 1}}}})
    cfg = load_config(_write(tmp_path, raw))
    assert slurm_resources(cfg.executor, "pretrain")["ntasks_per_node"] == 2
    kw = dict(data=str(data), n=40, task="mulclass", iters=4, batch=8, val_images=20,
              stem="imagenet", val_every=4)
    job = PretrainJob.make(**kw, out=str(tmp_path / "ddp"))
    runner = SlurmRunner(tmp_path / "slurm", cfg.executor, Store(tmp_path / "r.sqlite"))
    (h,) = runner.submit_many([SimpleNamespace(kind="pretrain", spec=job, key="k")], 1)
    _, outcome = runner.wait([h])
    assert "error" not in outcome, outcome.get("error")
    row = outcome["result"]  # run_job's value of rank 0
    assert row["timings"]["processes"] == 2 and (tmp_path / "ddp" / "backbone.pt").is_file()
    one = run_pretrain(PretrainJob.make(**kw, accumulate=2, out=str(tmp_path / "one")), 1)
    assert [r["loss"] for r in row["history"]] == pytest.approx(
        [r["loss"] for r in one["history"]], rel=1e-4)
