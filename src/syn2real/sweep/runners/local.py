"""The local backend: a spawn-context process pool on this machine."""

from __future__ import annotations

import os
from typing import Any

from ...children import started_without_sigint
from ..jobs import run_job
from .base import Runner, RunnerSettings

__all__ = ["LocalRunner"]


class LocalRunner(Runner):
    """A spawn-context process pool: a crashing job (segfault, out of memory) is a recorded
    failure, not the end of the sweep."""

    def __init__(self, workers: int, threads: int = 1) -> None:
        self.slots = workers
        self.threads = threads
        self._pool = self._new_pool()

    @classmethod
    def create(cls, settings: RunnerSettings) -> LocalRunner:
        return cls(settings.workers, settings.threads)

    def _new_pool(self) -> Any:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=self.slots, mp_context=mp.get_context("spawn"),
                                   initializer=_worker_init, initargs=(os.getpid(),))

    def submit(self, job: Any, threads: int) -> Any:
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
