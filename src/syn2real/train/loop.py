"""Training and evaluation loops (torchvision-reference style, CPU-friendly, deterministic).

SGD with momentum 0.9 and weight decay 1e-4; linear warm-up then cosine decay (polynomial
0.9 for segmentation); optional bf16 autocast, channels_last and a penalty
``lambda ||theta - theta0||^2`` towards the starting weights (the theory's fine-tuning).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..errors import DivergedError
from ..tasks.task import Task
from .distributed import Dist
from .resume import TrainState


def schedule(task: Task, iters: int, warmup: int) -> Callable[[int], float]:
    """Learning-rate factor per iteration: linear warm-up, then the task's decay (cosine, or
    polynomial 0.9 for segmentation)."""
    poly = task.decay == "poly"

    def f(it: int) -> float:
        if it < warmup:
            return (it + 1) / warmup
        t = (it - warmup) / max(1, iters - warmup)
        if poly:
            return (1 - t) ** 0.9
        return 0.5 * (1 + math.cos(math.pi * t))
    return f


def _epochs(loader: DataLoader, epoch: int, skip: int,
            gen_state: torch.Tensor | None) -> Iterator[tuple[int, int, Any, Any]]:
    """``(epoch, batch, generator state at the epoch's start, (x, y))`` for ever, from
    ``epoch`` on; the first epoch's order comes from the loader generator's state
    ``gen_state`` (its state when that epoch began) and its first ``skip`` batches are read
    but passed over (a resumed run has trained on them; reading them replays the order)."""
    g = loader.generator
    while True:
        ds = loader.dataset
        if hasattr(ds, "epoch"):
            ds.epoch = epoch
        if gen_state is not None and g is not None:
            g.set_state(gen_state)
        start = g.get_state() if g is not None else None
        for b, (x, y) in enumerate(loader):
            if b >= skip:
                yield epoch, b, start, (x, y)
        epoch, skip, gen_state = epoch + 1, 0, None


def train(task: Task, model: nn.Module, loader: DataLoader, *, iters: int, lr: float,
          warmup: int | None = None, device: torch.device | None = None, bf16: bool = False,
          channels_last: bool = False, reg_lambda: float = 0.0,
          validate: Callable[[nn.Module], dict[str, float]] | None = None,
          val_every: int = 0, on_best: Callable[[nn.Module, dict, int], None] | None = None,
          on_step: Callable[[int], None] | None = None, fp16: bool = False,
          resume: TrainState | None = None, accumulate: int = 1,
          dist: Dist | None = None) -> dict[str, Any]:
    """Train for a fixed number of iterations; returns the history and timings.

    ``validate`` (every ``val_every`` iterations and at the end) feeds
    ``on_best(model, metrics, iteration)`` whenever the validation error improves
    (best-checkpoint selection); ``on_step(1)`` after every iteration (progress).
    ``bf16``: bfloat16 autocast (CPU or CUDA); ``fp16``: float16 autocast with a gradient
    scaler (CUDA only). ``resume``: save the run's state now and then and, when a saved
    state of this run exists, go on from it (:class:`~syn2real.train.resume.TrainState`;
    the loader needs a ``generator`` so the data order can be replayed).
    ``accumulate``: loader batches (micro-batches) per optimiser step, their gradients
    averaged. ``dist``: one process of a data-parallel run
    (:mod:`~syn2real.train.distributed`; the loader yields this process's micro-batches):
    the model is wrapped in DDP, the logged loss is the mean over the processes, and only
    rank 0 should be given ``validate`` and save the resumable state.
    """
    device = device or torch.device("cpu")
    if fp16 and device.type != "cuda":
        raise ValueError("fp16 autocast needs a CUDA device (on CPU use bf16)")
    if fp16 and bf16:
        raise ValueError("choose bf16 or fp16, not both")
    if accumulate < 1:
        raise ValueError(f"accumulate must be >= 1, got {accumulate}")
    if resume is not None and loader.generator is None:
        raise ValueError("a resumable run needs a DataLoader with a generator")
    amp_dtype = torch.float16 if fp16 else torch.bfloat16
    scaler = torch.amp.GradScaler("cuda", enabled=fp16)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    warmup = max(1, iters // 20) if warmup is None else max(1, warmup)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule(task, iters, warmup))
    anchor = [p.detach().clone() for p in params] if reg_lambda > 0 else None
    history: list[dict[str, float]] = []
    best = math.inf
    it = seen = 0
    epoch, skip, gen_state = 0, 0, None
    saved = resume.load() if resume is not None else None
    if saved is not None:  # go on where the saved run stopped
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        scaler.load_state_dict(saved["scaler"])
        history, best, it, seen = saved["history"], saved["best"], saved["it"], saved["seen"]
        epoch, skip, gen_state = saved["epoch"], saved["batch"], saved["epoch_gen"]
        if anchor is not None:
            anchor = [a.to(device) for a in saved["anchor"]]
        TrainState.restore_rng(saved)
    net = model if dist is None else dist.wrap(model, device)
    main = dist is None or dist.main
    world = 1 if dist is None else dist.world
    micro, total = 0, None
    t0 = time.perf_counter()
    model.train()
    for ep, b, start, (x, y) in _epochs(loader, epoch, skip, gen_state):
        if it >= iters:
            break
        x = x.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = task.to_device(y, device)
        micro += 1
        last = micro == accumulate
        # DDP averages the gradients on the last micro-batch's backward only
        with nullcontext() if dist is None or last else net.no_sync():
            with torch.autocast(device.type, dtype=amp_dtype, enabled=bf16 or fp16):
                loss = task.loss(net, x, y)
            if anchor is not None:
                loss = loss + reg_lambda * sum(((p - a) ** 2).sum()
                                               for p, a in zip(params, anchor, strict=True))
            if micro == 1:
                opt.zero_grad(set_to_none=True)
            scaler.scale(loss if accumulate == 1 else loss / accumulate).backward()
        total = loss.detach() if total is None else total + loss.detach()
        seen += len(x) * world
        if not last:
            continue
        scaler.step(opt)
        scaler.update()
        sched.step()
        it += 1
        step_loss = total if accumulate == 1 else total / accumulate
        if dist is not None:
            step_loss = dist.mean(step_loss)
        micro, total = 0, None
        rec = {"iter": it, "loss": float(step_loss)}
        if not fp16 and not math.isfinite(rec["loss"]):   # fp16: the scaler skips such steps
            raise DivergedError(f"training diverged at iteration {it} of {iters}: the loss is "
                                f"{rec['loss']} (learning rate {lr:g}). Fix: lower the learning "
                                "rate (--lr), or check the data for nan or inf values")
        if validate is not None and ((val_every and it % val_every == 0) or it == iters):
            v = validate(model)
            rec.update({f"val_{k}": float(val) for k, val in v.items()})
            if v["error"] < best:
                best = v["error"]
                if on_best is not None:
                    on_best(model, v, it)
        history.append(rec)
        if resume is not None and main and it < iters and resume.due():
            resume.save(it=it, epoch=ep, batch=b + 1, epoch_gen=start, seen=seen, best=best,
                        history=history, model=model.state_dict(), opt=opt.state_dict(),
                        sched=sched.state_dict(), scaler=scaler.state_dict(),
                        anchor=[a.cpu() for a in anchor] if anchor is not None else None)
        if on_step is not None:
            on_step(1)
    dt = time.perf_counter() - t0
    return {"history": history, "seconds": dt, "images_per_s": seen / max(dt, 1e-9),
            "best_val_error": best,
            "resumed_from": None if resume is None else resume.resumed_from}


def thin_history(history: list[dict[str, float]], max_points: int = 200
                 ) -> list[dict[str, float]]:
    """At most ``max_points`` records of a training history, evenly spaced, keeping every
    evaluation and the last record (what a job's row carries for TensorBoard and plots)."""
    if len(history) <= max_points:
        return list(history)
    keep = set(np.unique(np.linspace(0, len(history) - 1, max_points).round().astype(int)))
    keep |= {i for i, r in enumerate(history) if any(k.startswith("val_") for k in r)}
    return [history[i] for i in sorted(keep)]
