"""Running a plan's jobs as Slurm jobs through submitit.

The driver (``syn2real run --executor slurm``, itself e.g. an ``sbatch`` job) submits every
job that is ready as one Slurm job array (``array_parallelism`` at a time), waits for their
results and records them: only the driver writes ``results.sqlite`` (SQLite's locking is
unsafe across hosts on network file systems); a Slurm job returns its row through
submitit's result file. Each submission's job id is kept in the store, so a driver that was
killed and started again reattaches to the jobs still queued or running, and records those
that finished meanwhile, instead of submitting them again. A job that is preempted or
reaches its time limit is requeued by submitit (``executor.slurm.requeues`` time-outs at
most; preemptions always) and a pre-training goes on from its last resumable state
(:mod:`syn2real.train.resume`, every ``executor.state_every`` seconds); job outputs appear
atomically. A job that ends without a result (cancelled, node failure, out of memory) is
recorded as failed with its Slurm state and the tail of its stderr.

Job states come from ``squeue`` and ``scontrol`` (they work without Slurm accounting, which
submitit's own ``sacct`` polling needs).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from ...errors import UserError
from ..config import pretrain_processes
from ..jobs import run_job
from .base import Runner, RunnerSettings

#: states in which a job may still produce its result
ALIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD",
         "REQUEUE_FED", "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "PREEMPTED"}


def _task_class() -> type:
    import submitit

    class SlurmTask(submitit.helpers.Checkpointable):
        """``run_job`` as a Slurm job; on preemption or time-out submitit calls
        ``checkpoint`` (inherited) and requeues the same call."""

        def __call__(self, kind: str, spec: Any, threads: int | None) -> dict[str, Any]:
            if submitit.JobEnvironment().num_tasks > 1:  # one DDP process per GPU
                submitit.helpers.TorchDistributedEnvironment().export(overwrite=True)
            return run_job(kind, spec, threads)

    return SlurmTask


def slurm_resources(ec: Any, kind: str) -> dict[str, Any]:
    """What one job of ``kind`` asks Slurm for (``syn2real plan`` shows it): the executor's
    defaults (``executor.slurm``; no GPU for render and complexity jobs), then what
    ``executor.slurm.resources[kind]`` sets; as submitit's ``SlurmExecutor`` parameters.
    A pre-training on several GPUs or nodes runs one task (DDP process) per GPU:
    ``nodes`` and ``ntasks_per_node`` (= GPUs per node) are set, ``cpus_per_task`` is per
    process; other jobs are one task on one node."""
    sc = ec.slurm
    gpus = int(ec.gpus_per_job) if kind not in ("render", "complexity") else 0
    res: dict[str, Any] = {"cpus_per_task": sc.cpus_per_job, "time": sc.time,
                           "gpus_per_node": gpus}
    for key in ("partition", "mem", "account", "qos"):
        if getattr(sc, key) is not None:
            res[key] = getattr(sc, key)
    stage = sc.resources.get(kind)
    if stage is not None:
        names = {"cpus": "cpus_per_task", "gpus": "gpus_per_node"}
        for key in ("partition", "gpus", "cpus", "mem", "time", "account", "qos",
                    "constraint", "comment"):  # nodes and tasks: pretrain_processes
            if getattr(stage, key) is not None:
                res[names.get(key, key)] = getattr(stage, key)
        if stage.extra:
            res["additional_parameters"] = dict(
                (opt[2:].partition("=")[0].replace("-", "_"), opt.partition("=")[2] or True)
                for opt in stage.extra)
    if kind == "pretrain":
        nodes, tasks = pretrain_processes(ec)
        if nodes * tasks > 1:
            res["nodes"], res["ntasks_per_node"] = nodes, tasks
    return res


def processes(res: dict[str, Any]) -> int:
    """The processes (DDP ranks) of one job asking for ``res`` (:func:`slurm_resources`)."""
    return int(res.get("nodes", 1)) * int(res.get("ntasks_per_node", 1))


def job_states(job_ids: list[str]) -> dict[str, str]:
    """``{job_id: state}`` from squeue (jobs queued or running) and scontrol (jobs ended
    recently); a job unknown to both is missing from the result."""
    if not job_ids:
        return {}
    out: dict[str, str] = {}
    q = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(job_ids)],
                       capture_output=True, text=True)
    for line in q.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    for jid in job_ids:
        if jid in out:
            continue
        s = subprocess.run(["scontrol", "show", "job", "-o", jid], capture_output=True,
                           text=True)
        for field in s.stdout.split():
            if field.startswith("JobState="):
                out[jid] = field.split("=", 1)[1]
    return out


class SlurmRunner(Runner):
    """The Slurm backend of :func:`syn2real.sweep.execute.execute` (see the module doc)."""

    backend = "slurm"

    def __init__(self, folder: str | Path, ec: Any, store: Any, poll: float = 1.0) -> None:
        try:
            import submitit
        except ImportError:
            raise UserError("the slurm executor needs submitit: pip install "
                            "'syn2real[slurm]'") from None
        if shutil.which("sbatch") is None:
            raise UserError("the slurm executor needs Slurm's sbatch on PATH (run the driver "
                            "on a login node or inside an sbatch job)")
        self._submitit = submitit
        self.folder = Path(folder)
        self.ec = ec
        self.store = store
        self.poll = poll
        self.slots = 10_000  # Slurm queues; array_parallelism limits what runs at once
        self._task = _task_class()()
        self._jobs: dict[Any, str] = {}  # handle -> job id
        self.threads = ec.slurm.cpus_per_job

    @classmethod
    def create(cls, settings: RunnerSettings) -> SlurmRunner:
        return cls(settings.run_dir / "slurm", settings.ec, settings.store)

    def _executor(self, kind: str) -> Any:
        ex = self._submitit.SlurmExecutor(folder=self.folder / "%j",
                                          max_num_timeout=self.ec.slurm.requeues)
        res = {"nodes": 1, "ntasks_per_node": 1, **slurm_resources(self.ec, kind)}
        ex.update_parameters(job_name=f"syn2real-{kind}",
                             array_parallelism=self.ec.slurm.array_parallelism,
                             setup=list(self.ec.slurm.setup), **res)
        return ex

    def _adopt(self, jobs: dict[str, Any]) -> None:
        """Record submissions the store does not know (the driver was killed between
        ``sbatch`` and recording the job ids): each submitit folder keeps the submitted call,
        whose (kind, spec) names its plan job. Returns how many were adopted."""
        import pickle

        known = {j for j, _ in self.store.submissions(self.backend).values()}
        by_spec: dict[tuple[str, str], list[str]] = {}
        for key, job in jobs.items():
            by_spec.setdefault((job.kind, job.spec.model_dump_json()), []).append(key)
        found = []
        for pkl in sorted(self.folder.glob("*/*_submitted.pkl")):
            job_id = pkl.name[: -len("_submitted.pkl")]
            if job_id in known:
                continue
            try:
                with open(pkl, "rb") as fh:
                    call = pickle.load(fh)
                kind, spec = call.args[0], call.args[1]
            except Exception:  # not ours or unreadable: leave it alone
                continue
            keys = by_spec.get((kind, spec.model_dump_json()), [])
            if len(keys) == 1:
                found.append((keys[0], job_id, str(pkl.parent)))
        if found:
            self.store.record_submissions(self.backend, found)

    def reattach(self, jobs: dict[str, Any]) -> dict[Any, str]:
        """The jobs submitted by an earlier driver that are alive or left a result (after
        adopting submissions it never recorded); one squeue/scontrol round for all."""
        self._adopt(jobs)
        subs = {k: v for k, v in self.store.submissions(self.backend).items() if k in jobs}
        states = job_states([job_id for job_id, _ in subs.values()])
        out = {}
        for key, (job_id, folder) in subs.items():
            job = self._submitit.SlurmJob(folder=folder, job_id=job_id)
            if job.paths.result_pickle.exists() or states.get(job_id) in ALIVE:
                self._jobs[job] = job_id
                out[job] = key
        return out

    def submit_many(self, jobs: list[Any], threads: int) -> list[Any]:
        """Submit ready jobs, one array per job kind; returns their handles."""
        handles: list[Any] = [None] * len(jobs)
        by_kind: dict[str, list[int]] = {}
        for i, job in enumerate(jobs):
            by_kind.setdefault(job.kind, []).append(i)
        for kind, idx in by_kind.items():
            ex = self._executor(kind)
            cpus = slurm_resources(self.ec, kind)["cpus_per_task"]  # the job's threads
            with ex.batch():
                subs = [ex.submit(self._task, jobs[i].kind, jobs[i].spec, cpus) for i in idx]
            self.store.record_submissions(self.backend, [
                (jobs[i].key, str(sj.job_id), str(sj.paths.folder))
                for i, sj in zip(idx, subs, strict=True)])
            for i, sj in zip(idx, subs, strict=True):
                sj = sj.task(0)  # a DDP job's result is rank 0's (the others return none)
                self._jobs[sj] = str(sj.job_id)
                handles[i] = sj
        return handles

    def wait(self, handles: list[Any]) -> tuple[Any, dict[str, Any]]:
        last_check = 0.0
        while True:
            for h in handles:
                if h.paths.result_pickle.exists():
                    return h, self._outcome(h)
            if time.monotonic() - last_check >= 2 * self.poll:
                last_check = time.monotonic()
                states = job_states([self._jobs[h] for h in handles])
                for h in handles:
                    state = states.get(self._jobs[h])
                    if state not in ALIVE and not h.paths.result_pickle.exists():
                        time.sleep(self.poll)  # the result file may still be appearing
                        if h.paths.result_pickle.exists():
                            return h, self._outcome(h)
                        return h, {"error": self._failure(h, state), "seconds": 0.0}
            time.sleep(self.poll)

    def _outcome(self, h: Any) -> dict[str, Any]:
        try:
            return h.result()
        except Exception as exc:  # the job's own Python failed outside run_job
            return {"error": f"Slurm job {self._jobs[h]} failed: {exc}"[-4000:],
                    "seconds": 0.0}

    def _failure(self, h: Any, state: str | None) -> str:
        try:
            tail = "\n".join((h.stderr() or "").splitlines()[-15:])
        except OSError:
            tail = ""
        what = state or ("was cancelled before it started, or ended long ago (no longer "
                         "known to slurmctld)")
        return (f"Slurm job {self._jobs[h]} {what} without a result"
                + (f"; stderr tail:\n{tail}" if tail else ""))

    def stop(self) -> None:
        """Ctrl-C on the driver: cancel what it submitted and is still alive."""
        ids = list(self._jobs.values())
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True)

    def close(self) -> None:
        pass
