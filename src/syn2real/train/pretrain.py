"""Pre-training a backbone on the first n images of a rendered dataset."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from ..errors import DivergedError, UserError
from ..hashing import stable_hash
from ..jobspecs import PretrainJob
from ..registry import task_names
from ..tasks.models import stem_name
from ..tasks.task import get_task
from .checkpoint import partial_path, save_backbone, snapshot
from .datasets import SyntheticTask
from .distributed import RankBatches, from_env, process_group
from .loop import thin_history, train
from .resume import STATE, TrainState
from .runtime import device_for, seed_all, versions


def pretrain(data: str | Path | PretrainJob, n: int | None = None, task: str = "mulclass",
             arch: str = "resnet18", *, out: str | Path | None = None, iters: int = 600,
             batch: int = 64, lr: float = 0.05, val_images: int = 1000,
             stem: bool | str = "small", seed: int = 0, device: str = "auto", bf16: bool = False,
             channels_last: bool = False, threads: int | None = None,
             val_every: int = 0, data_format: str | None = None,
             state_every: float = 300.0, accumulate: int = 1,
             on_step: Any = None) -> dict[str, Any]:
    """Pre-train a backbone on the first ``n`` images of a rendered dataset.

    Takes a :class:`~syn2real.jobspecs.PretrainJob` (``pretrain(job)``) or its fields as
    arguments (``arch`` is the job's ``model``). The best checkpoint by the validation error
    on the ``val_images`` images that follow the training prefix (held-out synthetic images,
    as in the paper) is written to ``job.checkpoint`` (``out/backbone.pt``) atomically.

    Started by ``torchrun`` (``WORLD_SIZE`` > 1), the processes train one model together
    with DDP on shares of each global batch of ``batch`` images
    (:mod:`~syn2real.train.distributed`); rank 0 writes the checkpoint and returns the row.
    """
    if isinstance(data, PretrainJob):
        job = data
    else:
        if n is None or out is None:
            raise TypeError("pretrain(data, n, ..., out=...) or pretrain(job)")
        job = PretrainJob.make(data=str(data), data_format=data_format, n=n, task=task,
                               model=arch, out=str(out),
                          iters=iters, batch=batch, lr=lr, val_images=val_images,
                          stem=stem_name(stem), seed=seed, bf16=bf16,
                          channels_last=channels_last, val_every=val_every, device=device,
                          state_every=state_every, accumulate=accumulate)
    return run_pretrain(job, threads, on_step=on_step)


def run_pretrain(job: PretrainJob, threads: int | None = None,
                 on_step: Any = None, source: Any = None) -> dict[str, Any]:
    """Run a validated pre-training job; returns its result row (``on_step(1)`` after each
    iteration: progress; ``source``: ``job.data`` already opened by the caller)."""
    from ..data.sources import check_source_for_task, open_source

    task = get_task(job.task, task_names(pretrain=True))
    ds = source if source is not None else open_source(job.data, job.data_format)
    n, val_images = job.n, job.val_images
    if n + val_images > len(ds):
        raise ValueError(f"{job.data} has {len(ds)} images; pre-training on n = {n} plus "
                         f"{val_images} validation images needs n + val <= {len(ds)} (render "
                         "more with syn2real render, or lower --val-images)")
    check_source_for_task(ds, job.task, job.data)
    if ds.format != "syn2real":  # another generator's frames: all checked before training
        from ..data.importers import check_frames

        check_frames(ds, n + val_images)
    else:  # the shards this job reads, by checksum: pixels changed in place are not trained on
        ds.check(n + val_images, full=True)
    g = seed_all(job.seed, threads)
    dist = from_env()
    dev = device_for(job.device) if dist is None else dist.device(device_for(job.device))
    num = task.num_classes(len(ds.class_names))
    size = ds.image_size
    model = task.build(job.model, num, job.stem, size)
    train_ds = SyntheticTask(ds, task, 0, n, flip=True, seed=job.seed)
    io = {"num_workers": job.data_workers, "pin_memory": dev.type == "cuda",
          "persistent_workers": job.data_workers > 0}
    world = 1 if dist is None else dist.world
    if world * job.accumulate > 1:  # each process, each step: its share of a global batch
        if n < job.batch:
            raise UserError(f"n = {n} is smaller than the global batch of {job.batch}: "
                            f"{world} process(es) x {job.accumulate} accumulation step(s) "
                            "share whole batches. Fix: lower --batch or raise n")
        batches = RankBatches(BatchSampler(RandomSampler(train_ds, generator=g), job.batch,
                                           drop_last=True),
                              0 if dist is None else dist.rank, world, job.accumulate)
        loader = DataLoader(train_ds, batch_sampler=batches, generator=g,
                            collate_fn=task.collate, **io)
    else:
        loader = DataLoader(train_ds, batch_size=job.batch, shuffle=True, generator=g,
                            collate_fn=task.collate, drop_last=n >= job.batch, **io)
    val_loader = DataLoader(SyntheticTask(ds, task, n, n + val_images), batch_size=job.batch,
                            collate_fn=task.collate, **io)
    ckpt = job.checkpoint
    config = {"data": job.data, "data_format": ds.format, "spec_hash": ds.content_hash(),
              "n": n,
              "task": job.task, "model": job.model, "stem": job.stem, "iters": job.iters,
              "batch": job.batch, "lr": job.lr, "seed": job.seed, "val_images": val_images,
              "image_size": size, "num_classes": num}
    if job.accumulate > 1:
        config["accumulate"] = job.accumulate

    meta = {"arch": job.model, "stem": job.stem, "task": job.task, "config": config,
            "iters": job.iters}
    # the best model so far travels with the resumable state (a resumed run knows it); a
    # state of another number of processes cut the batches differently: not taken up
    resume = TrainState(Path(job.out) / STATE, stable_hash(
        {"job": job.identity(), "data": config["spec_hash"]}
        | ({"world": world} if world > 1 else {})), every=job.state_every)
    best = resume.extra
    partial = partial_path(job.out)

    def on_best(m: torch.nn.Module, v: dict, iteration: int) -> None:
        # the best model so far: kept in memory for the final checkpoint, and on disk as a
        # partial checkpoint in case the run is interrupted
        best.update(weights=snapshot(m), val=v, iteration=iteration)
        save_backbone(partial, best["weights"], val=v, complete=False, iteration=iteration,
                      **meta)

    main = dist is None or dist.main
    t0 = time.perf_counter()
    with process_group(dist, dev):
        try:
            res = train(task, model, loader, iters=job.iters, lr=job.lr, device=dev,
                        bf16=job.bf16, fp16=job.fp16, channels_last=job.channels_last,
                        validate=(lambda m: task.evaluate(m, val_loader, num, dev)) if main
                        else None,
                        val_every=job.val_every or max(1, job.iters // 4), on_best=on_best,
                        on_step=on_step, resume=resume, accumulate=job.accumulate,
                        dist=dist)
        except DivergedError:
            if main:
                resume.done()  # going on from a state would diverge the same way
            raise
        if main:
            if not best:
                raise RuntimeError(f"pre-training never produced a finite validation error "
                                   f"({res['best_val_error']}); nothing to save (lower --lr?)")
            info = save_backbone(ckpt, best["weights"], val=best["val"], complete=True,
                                 iteration=best["iteration"], **meta)
            partial.unlink(missing_ok=True)
            resume.done()
        if dist is not None:
            dist.barrier()  # every process returns once the checkpoint is there
    if not main:  # the row is rank 0's; the others say what they trained
        return {"kind": "pretrain", "rank": dist.rank, "world": dist.world,
                "checkpoint": str(ckpt), "metrics": {"loss_last": res["history"][-1]["loss"]},
                "timings": {"seconds": time.perf_counter() - t0,
                            "train_images_per_s": res["images_per_s"]}}
    return {"kind": "pretrain", "config": config, "checkpoint": str(ckpt),
            "checkpoint_file": info,
            "metrics": {"val_error_best": res["best_val_error"],
                        "loss_first": res["history"][0]["loss"],
                        "loss_last": res["history"][-1]["loss"]},
            "history": thin_history(res["history"]),
            "timings": {"seconds": time.perf_counter() - t0,
                        "train_images_per_s": res["images_per_s"],
                        "resumed_from": res["resumed_from"], "processes": world},
            "versions": versions()}
