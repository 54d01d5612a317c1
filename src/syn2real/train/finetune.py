"""Fine-tuning on real data, from a pre-trained backbone or from scratch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..data.folders import load_user_split
from ..data.realspec import RealDataSpec, dataset_label
from ..jobspecs import FinetuneJob
from ..registry import task_names
from ..tasks.models import stem_name
from ..tasks.task import get_task
from .checkpoint import load_checkpoint, save_backbone
from .loop import thin_history, train
from .runtime import device_for, seed_all, versions


def _real_split(dataset: str, data_path: str | None, seed: int, test_images: int):
    from ..data import balanced_subset, load_real, stratified_split

    if dataset == "fashion-mnist":
        train_set = load_real(dataset, split="train", path=data_path)
        test_set = load_real(dataset, split="test", path=data_path)
        test_set = test_set.take(balanced_subset(test_set.labels, count=test_images,
                                                 seed=seed))
        return train_set, test_set
    full = load_real(dataset, path=data_path)
    tr, te = stratified_split(full.labels, 0.4 if dataset == "mnist" else 0.3, seed=12345)
    if test_images < len(te):  # a fixed balanced part of the fixed split
        te = te[balanced_subset(full.labels[te], count=test_images, seed=12345)]
    return full.take(tr), full.take(te)


def finetune(backbone: str | Path | FinetuneJob | None, dataset: Any = "mnist",
             task: str = "sinclass", *, fraction: float | None = None,
             count: int | None = None, arch: str | None = None,
             stem: bool | str | None = None, iters: int = 300, batch: int = 64, lr: float = 0.02,
             size: int = 32, reg_lambda: float = 0.0, boards: int = 200, seed: int = 0,
             device: str = "auto", bf16: bool = False, channels_last: bool = False,
             threads: int | None = None, val_every: int = 0,
             data_path: str | None = None, out: str | Path | None = None,
             data_seed: int = 0, allow_partial: bool = False,
             on_step: Any = None, fp16: bool = False, data_workers: int = 0,
             resize: bool = False) -> dict[str, Any]:
    """Fine-tune all parameters on real data; ``backbone=None`` is the from-scratch baseline.

    Takes a :class:`~syn2real.jobspecs.FinetuneJob` (``finetune(job)``) or its fields as
    arguments (``arch`` is the job's ``model``, ``size`` its ``image_size``; ``val_every``
    sets the number of evaluations, ``iters // val_every``).

    ``data_seed`` picks the real subset (and test subset, boards); ``seed`` the training
    randomness (head initialisation, batch order, flips). Keeping ``data_seed`` fixed makes
    runs with different backbones or seeds paired comparisons on the same real images.

    ``out``: also write the fine-tuned model as a backbone checkpoint ``out/backbone.pt`` (at
    the last iteration), e.g. the real-data backbone of the data-complexity analysis.

    Returns the error at the last iteration and the best over the evaluations.
    """
    if isinstance(backbone, FinetuneJob):
        job = backbone
    else:
        job = FinetuneJob.make(
            backbone=None if backbone is None else str(backbone), dataset=dataset, task=task,
            fraction=fraction, count=count, model=arch,
            stem=None if stem is None else stem_name(stem), iters=iters, batch=batch, lr=lr,
            image_size=size, reg_lambda=reg_lambda, boards=boards, seed=seed,
            data_seed=data_seed, evals=max(1, iters // val_every) if val_every else 4,
            bf16=bf16, channels_last=channels_last, data_path=data_path,
            out=None if out is None else str(out), device=device,
            allow_partial=allow_partial, fp16=fp16, data_workers=data_workers,
            resize=resize)
    return run_finetune(job, threads, on_step=on_step)


def run_finetune(job: FinetuneJob, threads: int | None = None,
                 on_step: Any = None) -> dict[str, Any]:
    """Run a validated fine-tuning job; returns its result row (``on_step(1)`` after each
    iteration: progress)."""
    task = get_task(job.task, task_names(finetune=True))
    ck: dict[str, Any] | None = None
    arch, stem = job.model, job.stem
    if job.backbone is not None:
        ck = load_checkpoint(job.backbone, allow_partial=job.allow_partial)
        arch = arch or ck["arch"]
        if stem is None:
            stem = ck["stem"] if "stem" in ck else ck.get("small_stem", True)
    arch = arch or "resnet18"
    stem = stem_name(True if stem is None else stem)
    size, boards, data_seed = job.image_size, job.boards, job.data_seed
    g = seed_all(job.seed, threads)
    dev = device_for(job.device)
    fraction, count = job.fraction, job.count
    if fraction is None and count is None:
        fraction = 0.1
    user_data = isinstance(job.dataset, RealDataSpec)
    if user_data:
        train_set, test_set = load_user_split(job.dataset, task.name, size)
    else:
        train_set, test_set = _real_split(job.dataset, job.data_path, data_seed,
                                          job.test_images)
    idx = task.real_subset(train_set, count=count, fraction=fraction, seed=data_seed,
                           user_data=user_data)
    num = task.num_classes(len(train_set.classes))
    tr, te = task.real_sets(train_set, test_set, idx, size=size, seed=job.seed,
                            data_seed=data_seed, boards=boards, resize=job.resize,
                            user_data=user_data)
    model = task.build(arch, num, stem, size)
    if ck is not None:
        model.load_backbone(ck["backbone"])
    batch = job.batch
    io = {"num_workers": job.data_workers, "pin_memory": dev.type == "cuda",
          "persistent_workers": job.data_workers > 0}
    loader = DataLoader(tr, batch_size=min(batch, len(tr)), shuffle=True, generator=g,
                        collate_fn=task.collate, drop_last=len(tr) >= batch, **io)
    test_loader = DataLoader(te, batch_size=batch, collate_fn=task.collate, **io)
    evals: list[dict[str, float]] = []

    def validate(m: torch.nn.Module) -> dict[str, float]:
        v = task.evaluate(m, test_loader, num, dev)
        evals.append(v)
        return v

    t0 = time.perf_counter()
    res = train(task, model, loader, iters=job.iters, lr=job.lr, device=dev, bf16=job.bf16,
                fp16=job.fp16,
                channels_last=job.channels_last, reg_lambda=job.reg_lambda, validate=validate,
                val_every=job.val_every, on_step=on_step)
    config = {"backbone": job.backbone,
              "pretrain": None if ck is None else ck.get("config"),
              "dataset": dataset_label(job.dataset),
              "task": job.task, "fraction": fraction, "count": count, "s": int(len(idx)),
              "train_pool": int(len(train_set)),
              "model": arch, "stem": stem, "iters": job.iters, "batch": batch,
              "lr": job.lr, "size": size, "resize": job.resize, "reg_lambda": job.reg_lambda,
              "seed": job.seed,
              "data_seed": data_seed}
    info = None
    if job.checkpoint is not None:
        info = save_backbone(job.checkpoint, model, arch=arch, stem=stem, task=job.task,
                             val=evals[-1], config=config, iteration=job.iters,
                             iters=job.iters)
    return {"kind": "finetune", "config": config,
            **({"checkpoint": str(job.checkpoint), "checkpoint_file": info} if info else {}),
            "metrics": {"error_last": evals[-1]["error"],
                        "error_best": min(e["error"] for e in evals), "last": evals[-1]},
            "history": thin_history(res["history"]),
            "timings": {"seconds": time.perf_counter() - t0,
                        "train_images_per_s": res["images_per_s"]},
            "versions": versions()}
