"""Training throughput on a CUDA GPU at the paper's resolutions (issue 17, item 7).

For ResNet-18 / 50 / 101 and the pre-training tasks (mulclass and normal at 224 px, semseg at
512 px, objdet at 640 px), images per second of the real training step (``task.loss`` +
backward + SGD) in fp32, bf16 autocast and fp16 autocast with a gradient scaler, with
channels_last, after a warm-up. Prints one line per case and ``gpu_img_per_s_r50_224_bf16``
last. Without a CUDA device it says so and exits 0 (nothing is measured on CPU here:
``bench_train.py`` does that).

Usage: python benchmarks/bench_gpu.py [--steps 20]
"""

from __future__ import annotations

import argparse
import time

import torch

from syn2real.tasks.task import get_task

CASES = [("mulclass", 224, 128), ("normal", 224, 64), ("semseg", 512, 16), ("objdet", 640, 8)]
MODELS = ("resnet18", "resnet50", "resnet101")


def _batch(task: str, size: int, batch: int, dev: torch.device):
    x = torch.randn(batch, 3, size, size, device=dev)
    if task == "mulclass":
        return x, (torch.rand(batch, 56, device=dev) > 0.8).float()
    if task == "normal":
        n = torch.nn.functional.normalize(torch.randn(batch, 3, size, size, device=dev), dim=1)
        return x, (n, torch.ones(batch, size, size, dtype=torch.bool, device=dev))
    if task == "semseg":
        return x, torch.randint(0, 57, (batch, size, size), device=dev)
    boxes = []
    for _ in range(batch):
        xy = torch.rand(5, 2, device=dev) * (size - 64)
        boxes.append({"boxes": torch.cat([xy, xy + 32 + torch.rand(5, 2, device=dev) * 32], 1),
                      "labels": torch.randint(1, 57, (5,), device=dev)})
    return x, boxes


def rate(task_name: str, model_name: str, size: int, batch: int, amp: str, steps: int,
         dev: torch.device) -> float:
    task = get_task(task_name)
    model = task.build(model_name, task.num_classes(56), "imagenet", size).to(dev)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
    x, y = _batch(task_name, size, batch, dev)
    x = x.contiguous(memory_format=torch.channels_last)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    model.train()
    for i in range(steps + 3):
        if i == 3:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = task.loss(model, x, y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured (bench_train.py measures the CPU)")
        return
    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    key = None
    for task, size, batch in CASES:
        for model in MODELS:
            for amp in ("fp32", "bf16", "fp16"):
                r = rate(task, model, size, batch, amp, args.steps, dev)
                print(f"{task:8s} {model:9s} {size:4d} px batch {batch:4d} {amp}: "
                      f"{r:8.1f} img/s")
                if (task, model, amp) == ("mulclass", "resnet50", "bf16"):
                    key = r
    print(f"gpu_img_per_s_r50_224_bf16: {key:.1f}")


if __name__ == "__main__":
    main()
