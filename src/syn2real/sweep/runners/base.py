"""What :func:`~syn2real.sweep.execute.execute` needs of a backend (as submitit's
``Executor``): submit jobs, wait for the next result, stop; and how a backend is built from
the study's executor settings (:meth:`Runner.create`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["Runner", "RunnerSettings", "cpu_count"]


def cpu_count() -> int:
    """Cores this process may use (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class RunnerSettings:
    """Everything a backend may be built from: the study's ``executor`` block (``ec``) and
    the command line's overrides, already resolved (``workers``, ``threads``)."""

    ec: Any  # sweep.config.ExecutorConfig
    run_dir: Path
    store: Any  # sweep.store.Store
    workers: int
    threads: int
    address: str | None = None
    gpus_per_job: float = 0.0


class Runner:
    """A backend: ``slots`` jobs at a time; a handle per submitted job.

    Subclasses implement :meth:`create`, :meth:`submit` (or :meth:`submit_many`),
    :meth:`wait` and :meth:`close`; cluster backends also :meth:`reattach`. Register a new
    one with :func:`syn2real.sweep.runners.register_runner` and name it in
    ``executor.kind``.
    """

    slots: int
    #: torch threads each job gets (the settings' by default)
    threads: int = 1
    #: the backend's own settings block (a pydantic model): ``executor.<name>`` in a study is
    #: validated with it and reaches :meth:`create` as ``settings.ec.block(name)``; None: the
    #: backend takes no settings of its own
    settings_model: ClassVar[type[Any] | None] = None

    @classmethod
    def create(cls, settings: RunnerSettings) -> Runner:
        """The backend for one run of a plan."""
        raise NotImplementedError

    def submit(self, job: Any, threads: int) -> Any:
        raise NotImplementedError

    def submit_many(self, jobs: list[Any], threads: int) -> list[Any]:
        return [self.submit(job, threads) for job in jobs]

    def reattach(self, jobs: dict[str, Any]) -> dict[Any, str]:
        """``{handle: key}`` of the ``jobs`` already running from an earlier driver (only
        cluster backends outlive their driver)."""
        return {}

    def wait(self, handles: list[Any]) -> tuple[Any, dict[str, Any]]:
        """The next finished handle and its outcome (``{"result", "seconds"}`` or
        ``{"error", "seconds"}``)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the backend (after the last result)."""

    def stop(self) -> None:
        """Stop running jobs now (Ctrl-C)."""
        self.close()
