"""Run a plan's jobs on a local process pool or a Ray cluster, recording each in the store.

Both executors share one scheduling loop: a job starts when every job it depends on is done;
a finished job is recorded at once (so a kill loses at most the jobs in flight, which rerun);
a failed job is recorded with its error and only its dependents are held back. Jobs already
done in the store are skipped; jobs that failed before are skipped unless ``retry_failed``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..children import started_without_sigint
from ..errors import UserError
from ..jobspecs import RenderJob
from .jobs import run_job
from .plan import Job, Plan, work_units
from .store import Store

Event = Callable[[str, Job, dict[str, Any] | None], None]


@dataclass
class RunSummary:
    """What a run did: job keys by outcome (``stale``: finished before, but the artefact
    was missing or damaged, so the job ran again)."""

    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked and not self.stopped


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`execute`: what finished is recorded, running jobs were
    stopped (``summary.stopped``) and rerun next time."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__("interrupted")
        self.summary = summary


def artefact_problem(job: Job, result: dict[str, Any] | None) -> str | None:
    """What is wrong with a finished job's output on disk (None: intact).

    Rendered data: the manifest and every shard file of the prefix the study uses, by
    size; checkpoints: present, and size + SHA-256 as recorded when written.
    """
    from ..data.verify import DataFolderError, check_shards, read_manifest
    from ..train.checkpoint import check_file

    spec = job.spec
    if isinstance(spec, RenderJob):
        try:
            manifest = read_manifest(spec.out)
        except DataFolderError as exc:
            return str(exc)
        if int(manifest.get("images", 0)) < spec.n_images:
            return f"{spec.out}: {manifest.get('images', 0)} of {spec.n_images} images"
        bad = check_shards(spec.out, n=spec.n_images, manifest=manifest)
        return f"{spec.out}/{bad[0]}" if bad else None
    checkpoint = getattr(spec, "checkpoint", None)
    if checkpoint is not None:
        return check_file(checkpoint, (result or {}).get("checkpoint_file"))
    return None


def downstream(plan: Plan, keys: set[str]) -> set[str]:
    """``keys`` and every job that depends on them, directly or not."""
    out = set(keys)
    for job in plan.order():  # the plan is in execution order
        if any(d in out for d in job.upstream):
            out.add(job.key)
    return out


def rerun_keys(plan: Plan, selectors: list[str] | None) -> set[str]:
    """The finished jobs ``--rerun`` runs again: the selected ones and all downstream."""
    return downstream(plan, select_jobs(plan, selectors)) if selectors else set()


def select_jobs(plan: Plan, selectors: list[str]) -> set[str]:
    """Jobs named by kinds (``pretrain``) or keys (``pr-1a2b...``, a unique prefix)."""
    out: set[str] = set()
    kinds = {j.kind for j in plan.order()}
    for sel in selectors:
        if sel in kinds:
            out |= {j.key for j in plan.by_kind(sel)}
            continue
        hits = [k for k in plan.jobs if k.startswith(sel)]
        if len(hits) != 1:
            what = "matches no job" if not hits else f"matches {len(hits)} jobs"
            raise UserError(f"--rerun {sel!r} {what}. Fix: give a job kind "
                            f"({', '.join(sorted(kinds))}) or a job key (syn2real plan "
                            "--json lists them)")
        out.add(hits[0])
    return out


def cpu_count() -> int:
    """Cores this process may use (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def execute(plan: Plan, store: Store, *, executor: str | None = None,
            workers: int | None = None, threads: int | None = None,
            address: str | None = None, gpus_per_job: float | None = None,
            retry_failed: bool = False, rerun: list[str] | None = None,
            on_event: Event | None = None) -> RunSummary:
    """Run every unfinished job of ``plan``.

    Parameters
    ----------
    plan, store
        The DAG and its results store.
    executor : {"local", "ray"}, optional
        Default: the config's ``executor.kind``.
    workers : int, optional
        Jobs at a time on the local pool (default: the config's).
    threads : int, optional
        Torch threads per job; default ``cores // workers`` so threads x processes <= cores.
    address : str, optional
        Ray address (``auto`` or ``HOST:PORT``); default: start a local Ray instance.
    gpus_per_job : float, optional
        Ray GPUs per training job (default: the config's).
    retry_failed : bool
        Rerun jobs recorded as failed.
    rerun : list of str, optional
        Job kinds or keys to run again although finished, with everything downstream.
    on_event : callable, optional
        ``on_event(what, job, info)`` with what in start / done / failed / cached / blocked
        / stale.

    Raises
    ------
    Interrupted
        On Ctrl-C: nothing new starts, running jobs are stopped at once, finished ones are
        recorded; the exception carries the summary.
    """
    if plan.missing_data:  # refused before any job, not after the pre-trainings
        raise UserError(plan.missing_data[0])
    ec = plan.config.executor
    kind = executor or ec.kind
    workers = workers or ec.workers
    cores = cpu_count()
    threads = threads or ec.threads or max(1, cores // workers)
    emit = on_event or (lambda *a: None)
    summary = RunSummary()
    status = store.status()
    forced = rerun_keys(plan, rerun)
    finished = {r["key"]: r for r in store.rows()}  # read once: artefact records, tracking
    replace: set[str] = set()
    todo: dict[str, Job] = {}
    for job in plan.order():
        st = status.get(job.key)
        problem = (artefact_problem(job, (finished.get(job.key) or {}).get("result"))
                   if st == "done" and job.key not in forced else None)
        if st == "done" and (problem or job.key in forced):
            summary.stale[job.key] = problem or "rerun asked for"
            replace.add(job.key)
            todo[job.key] = job
            emit("stale", job, {"error": summary.stale[job.key]})
        elif st == "done":
            summary.cached.append(job.key)
            emit("cached", job, None)
        elif st == "failed" and not retry_failed:
            summary.failed[job.key] = "failed in an earlier run (use --retry-failed)"
            emit("failed", job, {"error": summary.failed[job.key], "earlier": True})
        else:
            todo[job.key] = job
    done = set(summary.cached)
    bad = set(summary.failed)
    from .tracking import trackers_of

    trackers = trackers_of(plan)
    for tracker in trackers:
        for key in summary.cached:  # finished before tracking was on, or in another run
            row = finished[key]
            tracker.log(plan.jobs[key], row["result"], row["seconds"] or 0.0)
    if kind == "local":
        runner: Runner = _LocalRunner(workers)
    elif kind == "ray":
        runner = _RayRunner(address, threads, gpus_per_job if gpus_per_job is not None
                            else ec.gpus_per_job, retries=ec.retries)
    elif kind == "slurm":
        from .slurm import SlurmRunner

        runner = SlurmRunner(plan.run_dir / "slurm", ec, store)
        threads = ec.cpus_per_job
    else:
        raise ValueError(f"unknown executor {kind!r}; choose local, ray or slurm")
    running: dict[Any, Job] = {}
    # a restarted driver picks up the cluster jobs it submitted before
    for handle, key in runner.reattach({k: j for k, j in todo.items()
                                        if k not in replace}).items():
        running[handle] = todo.pop(key)
        emit("start", running[handle], {"reattached": True})
    try:
        while todo or running:
            for key in [k for k, j in todo.items() if any(d in bad for d in j.waits_on)]:
                bad.add(key)
                summary.blocked.append(key)
                emit("blocked", todo.pop(key), None)
            ready = [j for j in todo.values() if all(d in done for d in j.waits_on)]
            batch = ready[:max(0, runner.slots - len(running))]
            for job in batch:
                del todo[job.key]
            for job, handle in zip(batch, runner.submit_many(batch, threads), strict=True):
                running[handle] = job
                emit("start", job, None)
            if not running:
                if todo:  # nothing can start: a dependency is missing from the plan
                    raise RuntimeError(f"jobs {sorted(todo)[:3]} wait on jobs not in the plan")
                break
            handle, out = runner.wait(list(running))
            job = running.pop(handle)
            units = work_units(job)
            if "error" in out:
                store.record(job.key, job.kind, job.params, error=out["error"],
                             seconds=out["seconds"], units=units, label=job.label,
                             replace=job.key in replace)
                summary.failed[job.key] = out["error"]
                bad.add(job.key)
                emit("failed", job, out)
            else:
                store.record(job.key, job.kind, job.params, result=out["result"],
                             seconds=out["seconds"], units=units, label=job.label,
                             replace=job.key in replace)
                summary.ran.append(job.key)
                done.add(job.key)
                for tracker in trackers:
                    tracker.log(job, out["result"], out["seconds"])
                emit("done", job, out)
    except KeyboardInterrupt:
        summary.stopped = [j.key for j in running.values()]
        runner.stop()
        raise Interrupted(summary) from None
    finally:
        runner.close()
    return summary


class Runner:
    """What :func:`execute` needs of a backend (local pool, Ray, Slurm)."""

    slots: int

    def submit(self, job: Job, threads: int) -> Any: ...

    def submit_many(self, jobs: list[Job], threads: int) -> list[Any]:
        return [self.submit(job, threads) for job in jobs]

    def reattach(self, jobs: dict[str, Job]) -> dict[Any, str]:
        """``{handle: key}`` of the ``jobs`` already running from an earlier driver (only
        cluster backends outlive their driver)."""
        return {}

    def wait(self, handles: list[Any]) -> tuple[Any, dict[str, Any]]: ...

    def close(self) -> None: ...

    def stop(self) -> None:
        """Stop running jobs now (Ctrl-C)."""
        self.close()


class _LocalRunner(Runner):
    """A spawn-context process pool: a crashing job (segfault, out of memory) is a recorded
    failure, not the end of the sweep."""

    def __init__(self, workers: int) -> None:
        self.slots = workers
        self._pool = self._new_pool()

    def _new_pool(self):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=self.slots, mp_context=mp.get_context("spawn"),
                                   initializer=_worker_init, initargs=(os.getpid(),))

    def submit(self, job: Job, threads: int) -> Any:
        with started_without_sigint():  # a worker spawned here never sees Ctrl-C
            return self._pool.submit(run_job, job.kind, job.spec, threads)

    def wait(self, handles: list[Any]) -> tuple[Any, dict[str, Any]]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        finished, _ = wait(handles, return_when=FIRST_COMPLETED)
        fut = next(iter(finished))
        try:
            return fut, fut.result()
        except BrokenProcessPool as exc:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return fut, {"error": f"worker process died ({exc}); out of memory?", "seconds": 0.0}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def stop(self) -> None:
        # terminate the workers instead of waiting for their jobs (an interrupted job's
        # outputs appear atomically or not at all, so nothing half-written is left behind)
        for proc in list(getattr(self._pool, "_processes", {}).values()):
            proc.terminate()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _worker_init(parent: int) -> None:
    """Worker initialiser: the worker ends when the sweep process dies (kill -9), so that no
    orphan keeps writing while the rerun starts. (Ctrl-C never reaches a worker: it is
    started with SIGINT ignored, see :mod:`syn2real.children`.)"""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class _RayRunner(Runner):
    """Ray tasks: ``num_cpus`` = threads per job, ``num_gpus`` per training job; a task lost
    with its worker or node is started again up to ``retries`` times (Ray's ``max_retries``:
    system failures only; a job reports its own errors as results, never retried here)."""

    def __init__(self, address: str | None, threads: int, gpus: float, *,
                 retries: int = 3) -> None:
        try:
            import ray
        except ImportError:
            raise UserError("the ray executor needs Ray: pip install 'syn2real[ray]'") from None
        self._ray = ray
        self._own = not ray.is_initialized()
        if self._own:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=cpu_count(), include_dashboard=False, log_to_driver=False)
        total = int(ray.cluster_resources().get("CPU", 1))
        self.slots = max(1, total // threads)
        self._fn = ray.remote(run_job)
        self._gpus = gpus
        self._retries = retries
        self._refs: set[Any] = set()

    def submit(self, job: Job, threads: int) -> Any:
        gpus = self._gpus if job.kind != "render" else 0
        cpus = (threads if job.kind != "render"
                else max(threads, getattr(job.spec, "workers", 1)))
        cpus = min(cpus, int(self._ray.cluster_resources().get("CPU", 1)))
        ref = self._fn.options(num_cpus=cpus, num_gpus=gpus, max_retries=self._retries,
                               retry_exceptions=False).remote(job.kind, job.spec, threads)
        self._refs.add(ref)
        return ref

    def wait(self, handles: list[Any]) -> tuple[Any, dict[str, Any]]:
        ready, _ = self._ray.wait(handles, num_returns=1)
        ref = ready[0]
        self._refs.discard(ref)
        try:
            return ref, self._ray.get(ref)
        except Exception as exc:  # a task that died (node lost, OOM kill)
            return ref, {"error": f"Ray task failed: {exc}", "seconds": 0.0}

    def stop(self) -> None:
        for ref in list(self._refs):
            self._ray.cancel(ref, force=True)
        self.close()

    def close(self) -> None:
        if self._own:
            self._ray.shutdown()
