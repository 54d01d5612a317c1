"""Run a plan's jobs on a backend (:mod:`syn2real.sweep.runners`: a local process pool, Ray,
Slurm, or one you register), recording each in the store.

Every backend shares one scheduling loop: a job starts when every job it depends on is done;
a finished job is recorded at once (so a kill loses at most the jobs in flight, which rerun);
a failed job is recorded with its error and only its dependents are held back. Jobs already
done in the store are skipped; jobs that failed before are skipped unless ``retry_failed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..jobspecs import RenderJob
from .plan import Job, Plan, work_units
from .runners import RunnerSettings, cpu_count, runner_class
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
    executor : str, optional
        A registered backend (:func:`~syn2real.sweep.runners.runner_names`: ``local``,
        ``ray``, ``slurm``, ...); default: the config's ``executor.kind``.
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
    runner = runner_class(kind).create(RunnerSettings(
        ec=ec, run_dir=plan.run_dir, store=store, workers=workers, threads=threads,
        address=address,
        gpus_per_job=gpus_per_job if gpus_per_job is not None else ec.gpus_per_job))
    threads = runner.threads
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
