"""What one job does: render a dataset, pre-train a backbone or fine-tune on real data.

:func:`run_job` takes plain values and returns a JSON-ready row, so it runs the same in this
process, in a local worker process or in a Ray task.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any


def run_job(job: dict[str, Any], threads: int | None = None) -> dict[str, Any]:
    """Run one job of a plan (``Job.to_dict()``); returns ``{"result": ..., "seconds": ...}``
    or ``{"error": ..., "seconds": ...}`` (a failure is a value, not an exception, so that one
    failing job never stops the others)."""
    t0 = time.perf_counter()
    try:
        if threads:
            import torch

            torch.set_num_threads(threads)
        kind = job["kind"]
        p = job["params"]
        if kind == "render":
            result = _render(p)
        elif kind == "pretrain":
            result = _pretrain(p, threads)
        elif kind == "finetune":
            result = _finetune(p, threads)
        elif kind == "backbone":
            result = _real_backbone(p, threads)
        elif kind == "complexity":
            result = _complexity(p, threads)
        else:
            raise ValueError(f"unknown job kind {kind!r}")
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


def _render(p: dict[str, Any]) -> dict[str, Any]:
    _llvm_order()
    from ..render.shards import render_dataset
    from ..render.spec import DatasetSpec

    spec = DatasetSpec(**p["spec"])
    workers = min(p.get("workers", 1), os.cpu_count() or 1)
    manifest = render_dataset(spec, p["out"], p["n_images"], workers=workers)
    return {"data": p["out"], "images": manifest["images"],
            "spec_hash": spec.spec_hash()}


def _pretrain(p: dict[str, Any], threads: int | None) -> dict[str, Any]:
    from ..train.api import pretrain
    from ..train.checkpoint import checkpoint_path

    ckpt = checkpoint_path(p["out"])
    row = pretrain(p["data"], p["n"], p["task"], p["model"], out=p["out"], iters=p["iters"],
                   batch=p["batch"], lr=p["lr"], val_images=p["val_images"], stem=p["stem"],
                   seed=p["seed"], bf16=p["bf16"], channels_last=p["channels_last"],
                   threads=threads, device=p.get("device", "auto"))
    if not ckpt.exists():
        raise RuntimeError(f"pre-training finished without writing {ckpt}")
    return row


def _finetune(p: dict[str, Any], threads: int | None) -> dict[str, Any]:
    from ..train.api import finetune

    return finetune(p["backbone"], p["dataset"], p["task"], fraction=p.get("fraction"),
                    count=p.get("count"), arch=p["model"], stem=p["stem"], iters=p["iters"],
                    batch=p["batch"], lr=p["lr"], size=p["image_size"],
                    reg_lambda=p["reg_lambda"], boards=p["boards"], seed=p["seed"],
                    threads=threads, data_path=p["data_path"], device=p.get("device", "auto"),
                    val_every=max(1, p["iters"] // p.get("evals", 1)),
                    data_seed=p.get("data_seed", 0))


def _real_backbone(p: dict[str, Any], threads: int | None) -> dict[str, Any]:
    """Train a classifier on real data from scratch and keep it as a feature backbone."""
    from ..train.api import finetune

    return finetune(None, p["dataset"], p["task"], fraction=p["fraction"], arch=p["model"],
                    stem=p["stem"], iters=p["iters"], batch=p["batch"], lr=p["lr"],
                    size=p["image_size"], seed=p["seed"], threads=threads,
                    data_path=p["data_path"], out=p["out"], device=p.get("device", "auto"),
                    val_every=p["iters"])


def _complexity(p: dict[str, Any], threads: int | None) -> dict[str, Any]:
    from ..analysis.complexity import dataset_complexity

    return dataset_complexity(p["data"], p["backbone"], n=p["images"],
                              estimator=p["estimator"], threads=threads)
