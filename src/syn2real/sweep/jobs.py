"""What one job does: render a dataset, pre-train a backbone or fine-tune on real data.

:func:`run_job` takes a typed spec (:mod:`syn2real.jobspecs`, picklable) and returns a
JSON-ready row, so it runs the same in this process, in a local worker process or in a Ray
task.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

from ..jobspecs import ComplexityJob, FinetuneJob, JobSpec, PretrainJob, RenderJob


def run_job(kind: str, spec: JobSpec, threads: int | None = None) -> dict[str, Any]:
    """Run one job of a plan; returns ``{"result": ..., "seconds": ...}`` or
    ``{"error": ..., "seconds": ...}`` (a failure is a value, not an exception, so that one
    failing job never stops the others)."""
    t0 = time.perf_counter()
    try:
        if threads and kind != "render":
            import torch

            torch.set_num_threads(threads)
        if isinstance(spec, RenderJob):
            result = _render(spec)
        elif isinstance(spec, PretrainJob):
            result = _pretrain(spec, threads)
        elif isinstance(spec, FinetuneJob):
            result = _finetune(spec, threads)
        elif isinstance(spec, ComplexityJob):
            result = _complexity(spec, threads)
        else:
            raise TypeError(f"no runner for a {type(spec).__name__} ({kind} job)")
        return {"result": result, "seconds": time.perf_counter() - t0}
    except Exception as exc:  # recorded in the store with its traceback
        tb = traceback.format_exc(limit=6)
        return {"error": f"{type(exc).__name__}: {exc}\n{tb}", "seconds": time.perf_counter() - t0}


def _llvm_order() -> None:
    """Load torch's Triton before Mesa's llvmpipe: both bring LLVM, and Triton imported
    after an EGL context exists segfaults (seen with torch 2.14 + Mesa 22); in this order a
    worker can render and then train."""
    try:
        import torchvision.ops  # noqa: F401  (imports torch._dynamo -> triton)
    except ImportError:  # rendering without the training extra
        pass


def _render(job: RenderJob) -> dict[str, Any]:
    _llvm_order()
    from ..render.shards import render_dataset

    workers = min(job.workers, os.cpu_count() or 1)
    manifest = render_dataset(job.spec, job.out, job.n_images, workers=workers,
                              storage=job.storage, shards_from=job.shards_from)
    if job.shards_from is not None:  # a part of the folder: what it rendered (the folder's
        return {"data": job.out, "images": job.images_rendered,  # total depends on timing)
                "shards_from": job.shards_from, "spec_hash": job.spec.spec_hash()}
    return {"data": job.out, "images": manifest["images"], "spec_hash": job.spec.spec_hash()}


def _pretrain(job: PretrainJob, threads: int | None) -> dict[str, Any]:
    from ..train.pretrain import run_pretrain

    row = run_pretrain(job, threads)
    if not job.checkpoint.exists():
        raise RuntimeError(f"pre-training finished without writing {job.checkpoint}")
    return row


def _finetune(job: FinetuneJob, threads: int | None) -> dict[str, Any]:
    from ..train.finetune import run_finetune

    return run_finetune(job, threads)


def _complexity(job: ComplexityJob, threads: int | None) -> dict[str, Any]:
    from ..analysis.complexity import dataset_complexity

    return dataset_complexity(job.data, job.backbone, n=job.images, estimator=job.estimator,
                              threads=threads)
