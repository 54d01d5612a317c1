"""Pre-training a backbone on the first n images of a rendered dataset."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..tasks.models import build_model, stem_name
from .checkpoint import checkpoint_path, save_backbone
from .datasets import SyntheticTask, collate
from .loop import evaluate, train
from .runtime import PRETRAIN_TASKS, device_for, seed_all, versions


def pretrain(data: str | Path, n: int, task: str, arch: str = "resnet18", *, out: str | Path,
             iters: int = 600, batch: int = 64, lr: float = 0.05, val_images: int = 1000,
             stem: bool | str = "small", seed: int = 0, device: str = "auto", bf16: bool = False,
             channels_last: bool = False, threads: int | None = None,
             val_every: int = 0) -> dict[str, Any]:
    """Pre-train ``arch`` on the first ``n`` images of a rendered dataset.

    The best checkpoint by the validation error on the ``val_images`` images that follow the
    training prefix (held-out synthetic images, as in the paper) is written to
    ``out/backbone.pt`` atomically.
    """
    from ..data.shards import ShardDataset

    if task not in PRETRAIN_TASKS:
        raise ValueError(f"unknown pre-training task {task!r}; choose one of {PRETRAIN_TASKS}")
    ds = ShardDataset(data)
    if n < 1 or n + val_images > len(ds):
        raise ValueError(f"{data} has {len(ds)} images; pre-training on n = {n} plus "
                         f"{val_images} validation images needs n + val <= {len(ds)} (render "
                         "more with syn2real render, or lower --val-images)")
    stem = stem_name(stem)
    g = seed_all(seed, threads)
    dev = device_for(device)
    n_classes = ds.spec.n_classes
    num = n_classes + 1 if task == "semseg" else n_classes
    size = ds.spec.size
    model = build_model(task, arch, num, stem, size)
    train_ds = SyntheticTask(ds, task, 0, n, flip=True, seed=seed)
    loader = DataLoader(train_ds, batch_size=batch, shuffle=True, generator=g,
                        collate_fn=collate(task), drop_last=n >= batch)
    val_loader = DataLoader(SyntheticTask(ds, task, n, n + val_images), batch_size=batch,
                            collate_fn=collate(task))
    out = Path(out)
    ckpt = checkpoint_path(out)
    config = {"data": str(data), "spec_hash": ds.manifest["spec_hash"], "n": n, "task": task,
              "model": arch, "stem": stem, "iters": iters, "batch": batch, "lr": lr,
              "seed": seed, "val_images": val_images, "image_size": size,
              "num_classes": num}

    def on_best(m: torch.nn.Module, v: dict) -> None:
        save_backbone(ckpt, m, arch=arch, stem=stem, task=task, val=v, config=config)

    t0 = time.perf_counter()
    res = train(task, model, loader, iters=iters, lr=lr, device=dev, bf16=bf16,
                channels_last=channels_last,
                validate=lambda m: evaluate(task, m, val_loader, num, dev),
                val_every=val_every or max(1, iters // 4), on_best=on_best)
    return {"kind": "pretrain", "config": config, "checkpoint": str(ckpt),
            "metrics": {"val_error_best": res["best_val_error"],
                        "loss_first": res["history"][0]["loss"],
                        "loss_last": res["history"][-1]["loss"]},
            "timings": {"seconds": time.perf_counter() - t0,
                        "train_images_per_s": res["images_per_s"]},
            "versions": versions()}
