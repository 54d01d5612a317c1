"""The Ray backend: one Ray task per job on a local instance or a cluster."""

from __future__ import annotations

from typing import Any

from ...errors import UserError
from ..jobs import run_job
from .base import Runner, RunnerSettings, cpu_count

__all__ = ["RayRunner"]


class RayRunner(Runner):
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
        self.threads = threads
        self.slots = max(1, total // threads)
        self._fn = ray.remote(run_job)
        self._gpus = gpus
        self._retries = retries
        self._refs: set[Any] = set()

    @classmethod
    def create(cls, settings: RunnerSettings) -> RayRunner:
        return cls(settings.address or settings.ec.ray.address, settings.threads,
                   settings.gpus_per_job, retries=settings.ec.ray.retries)

    def submit(self, job: Any, threads: int) -> Any:
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
