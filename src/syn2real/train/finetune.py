"""Fine-tuning on real data, from a pre-trained backbone or from scratch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..tasks.models import build_model, stem_name
from .checkpoint import checkpoint_path, load_checkpoint, save_backbone
from .datasets import BoardTask, RealClassification, collate
from .loop import evaluate, train
from .runtime import FINETUNE_TASKS, device_for, seed_all, versions


def _real_split(dataset: str, data_path: str | None, seed: int):
    from ..data import load_real, stratified_split

    if dataset == "fashion-mnist":
        train_set = load_real(dataset, split="train", path=data_path)
        test_set = load_real(dataset, split="test", path=data_path)
        from ..data import balanced_subset

        test_set = test_set.take(balanced_subset(test_set.labels, count=2000, seed=seed))
        return train_set, test_set
    full = load_real(dataset, path=data_path)
    tr, te = stratified_split(full.labels, 0.4 if dataset == "mnist" else 0.3, seed=12345)
    return full.take(tr), full.take(te)


def finetune(backbone: str | Path | None, dataset: str, task: str, *,
             fraction: float | None = None, count: int | None = None, arch: str | None = None,
             stem: bool | str | None = None, iters: int = 300, batch: int = 64, lr: float = 0.02,
             size: int = 32, reg_lambda: float = 0.0, boards: int = 200, seed: int = 0,
             device: str = "auto", bf16: bool = False, channels_last: bool = False,
             threads: int | None = None, val_every: int = 0,
             data_path: str | None = None, out: str | Path | None = None,
             data_seed: int = 0) -> dict[str, Any]:
    """Fine-tune all parameters on real data; ``backbone=None`` is the from-scratch baseline.

    ``data_seed`` picks the real subset (and test subset, boards); ``seed`` the training
    randomness (head initialisation, batch order, flips). Keeping ``data_seed`` fixed makes
    runs with different backbones or seeds paired comparisons on the same real images.

    ``out``: also write the fine-tuned model as a backbone checkpoint ``out/backbone.pt`` (at
    the last iteration), e.g. the real-data backbone of the data-complexity analysis.

    Returns the error at the last iteration and the best over the evaluations.
    """
    from ..data import balanced_subset, compose_boards

    if task not in FINETUNE_TASKS:
        raise ValueError(f"unknown fine-tuning task {task!r}; choose one of {FINETUNE_TASKS}")
    ck: dict[str, Any] | None = None
    if backbone is not None:
        ck = load_checkpoint(backbone)
        arch = arch or ck["arch"]
        if stem is None:
            stem = ck["stem"] if "stem" in ck else ck.get("small_stem", True)
    arch = arch or "resnet18"
    stem = stem_name(True if stem is None else stem)
    g = seed_all(seed, threads)
    dev = device_for(device)
    train_set, test_set = _real_split(dataset, data_path, data_seed)
    if (fraction is None) == (count is None):
        fraction = 0.1 if count is None else None
    idx = balanced_subset(train_set.labels, count=count, fraction=fraction, seed=data_seed)
    n_cls = len(train_set.classes)
    if task == "sinclass":
        num = n_cls
        tr = RealClassification(train_set.images[idx], train_set.labels[idx], size, flip=False,
                                seed=seed)
        te = RealClassification(test_set.images, test_set.labels, size)
    else:
        num = n_cls + 1 if task == "semseg" else n_cls
        b_tr = compose_boards(train_set.take(idx), boards, size=size, seed=data_seed)
        b_te = compose_boards(test_set, max(boards // 2, 20), size=size, seed=data_seed + 1)
        tr, te = BoardTask(b_tr, task), BoardTask(b_te, task)
    model = build_model(task, arch, num, stem, size)
    if ck is not None:
        model.load_backbone(ck["backbone"])
    loader = DataLoader(tr, batch_size=min(batch, len(tr)), shuffle=True, generator=g,
                        collate_fn=collate(task), drop_last=len(tr) >= batch)
    test_loader = DataLoader(te, batch_size=batch, collate_fn=collate(task))
    evals: list[dict[str, float]] = []

    def validate(m: torch.nn.Module) -> dict[str, float]:
        v = evaluate(task, m, test_loader, num, dev)
        evals.append(v)
        return v

    t0 = time.perf_counter()
    res = train(task, model, loader, iters=iters, lr=lr, device=dev, bf16=bf16,
                channels_last=channels_last, reg_lambda=reg_lambda, validate=validate,
                val_every=val_every or max(1, iters // 4))
    config = {"backbone": None if backbone is None else str(backbone),
              "pretrain": None if ck is None else ck.get("config"), "dataset": dataset,
              "task": task, "fraction": fraction, "count": count, "s": int(len(idx)),
              "train_pool": int(len(train_set)),
              "model": arch, "stem": stem, "iters": iters, "batch": batch,
              "lr": lr, "size": size, "reg_lambda": reg_lambda, "seed": seed,
              "data_seed": data_seed}
    if out is not None:
        save_backbone(checkpoint_path(out), model, arch=arch, stem=stem, task=task,
                      val=evals[-1], config=config)
    return {"kind": "finetune", "config": config,
            "metrics": {"error_last": evals[-1]["error"],
                        "error_best": min(e["error"] for e in evals), "last": evals[-1]},
            "timings": {"seconds": time.perf_counter() - t0,
                        "train_images_per_s": res["images_per_s"]},
            "versions": versions()}
