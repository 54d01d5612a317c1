"""Training throughput: syn2real's loop vs a bare PyTorch loop, and the data loader alone.

Same model (ResNet-18, small stem), data (rendered lv7 shards, 32 px, mulclass targets),
batch, optimiser and number of iterations. Baseline (named ``bare_loop``): a plain
``for x, y in loader: loss.backward(); opt.step()`` loop measured in the same run.
Targets of the issue: ours >= 0.9 x bare, loader alone >= 5 x the training rate.

How close training runs to the machine (issue 17, item 4): the fp32 GEMM rate of this machine
(``torch.mm`` of 2048 x 2048, the same threads) is the peak; the FLOPs of one training step
(forward + backward, counted by ``torch.utils.flop_counter``) times the measured steps per
second give the achieved rate; ``fraction_of_gemm_peak`` at 32 and 64 px for ResNet-18 with
the small (3x3/1), small-pool (3x3/1 + max-pool) and imagenet (7x7/2) stems, in the default
and the channels_last memory format (``--compile`` adds ``torch.compile``). Issue 17's
target: >= 0.3.

Usage: python benchmarks/bench_train.py [--iters 12] [--batch 32] [--size 32] [--compile]
Run it alone: a second busy process on 2 cores halves every figure.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from syn2real.render import ShardDataset, preset, render_dataset
from syn2real.tasks.models import build_model
from syn2real.tasks.task import get_task
from syn2real.train.datasets import SyntheticTask, collate
from syn2real.train.loop import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=12)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--compile", action="store_true", help="also measure torch.compile")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        spec = preset("lv7", size=args.size, shard_size=200)
        render_dataset(spec, root, 400)
        ds = ShardDataset(root)
        n_cls = len(ds.class_names)
        data = SyntheticTask(ds, "mulclass", 0, 400, flip=True)

        def loader() -> DataLoader:
            g = torch.Generator()
            g.manual_seed(0)
            return DataLoader(data, batch_size=args.batch, shuffle=True, generator=g,
                              collate_fn=collate("mulclass"), drop_last=True)

        # data loader alone
        t0 = time.perf_counter()
        seen = 0
        while seen < args.iters * args.batch:
            for x, _ in loader():
                seen += len(x)
                if seen >= args.iters * args.batch:
                    break
        loader_rate = seen / (time.perf_counter() - t0)

        # bare PyTorch loop
        torch.manual_seed(0)
        model = build_model("mulclass", "resnet18", n_cls, small_stem=True)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
        model.train()
        it = 0
        t0 = time.perf_counter()
        while it < args.iters:
            for x, y in loader():
                loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                it += 1
                if it >= args.iters:
                    break
        bare_rate = args.iters * args.batch / (time.perf_counter() - t0)

        # syn2real's loop (schedule, bookkeeping; no validation)
        torch.manual_seed(0)
        model = build_model("mulclass", "resnet18", n_cls, small_stem=True)
        res = train(get_task("mulclass"), model, loader(), iters=args.iters, lr=0.05)
        ours_rate = res["images_per_s"]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"threads: {torch.get_num_threads()}, batch {args.batch}, {args.size} px, "
          f"{args.iters} iterations")
    print(f"data loader alone: {loader_rate:9.1f} img/s")
    print(f"bare_loop:         {bare_rate:9.1f} img/s")
    print(f"syn2real train:    {ours_rate:9.1f} img/s")
    print(f"ratio_vs_bare: {ours_rate / bare_rate:.2f}")
    print(f"loader_vs_train: {loader_rate / ours_rate:.1f}")
    peak0 = gemm_rate()
    rows = []
    for size in (32, 64):
        for stem in ("small", "small-pool", "imagenet"):
            for fmt in ("default", "channels_last") + (("compile",) if args.compile else ()):
                rows.append((size, stem, fmt, *step_rate(size, stem, args.batch, fmt,
                                                         max(4, args.iters // 2))))
    # the peak measured before and after the table, the better one: a busy spell on a shared
    # machine lowers one of them, and a low peak would inflate every fraction
    peak = max(peak0, gemm_rate())
    print(f"peak (best before/after, {torch.get_num_threads()} threads): {peak / 1e9:.1f} "
          "GFLOP/s")
    best: dict[int, float] = {}
    for size, stem, fmt, flops, rate in rows:
        frac = flops * rate / peak
        best[size] = max(best.get(size, 0.0), frac)
        print(f"  {size:3d} px, stem {stem:10s} {fmt:13s}: {rate * args.batch:7.1f} img/s, "
              f"{flops / 1e9:6.2f} GFLOP/step -> {frac:.2f} of the GEMM peak")
    print(f"fraction_of_gemm_peak_32: {best[32]:.2f} fraction_of_gemm_peak_64: {best[64]:.2f}")


def gemm_rate(n: int = 2048, reps: int = 4, blocks: int = 3) -> float:
    """fp32 FLOP/s of a large matrix product on this machine (the peak training can reach).

    The best block of ``torch.mm`` (MKL) and of the same product as a 1x1 convolution
    (oneDNN, the library the training convolutions run in): with syn2real's AVX2 pin, MKL in
    its reproducible mode can be slower than oneDNN, and a peak below what training reaches
    would overstate the fraction.
    """
    a, b = torch.randn(n, n), torch.randn(n, n)
    x = torch.randn(1, n, 32, n // 32)          # (C=n, H*W=n): a GEMM of n x n x n
    w = torch.randn(n, n, 1, 1)

    def best(fn) -> float:
        fn()
        times = []
        for _ in range(blocks):
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            times.append(time.perf_counter() - t0)
        return 2 * n**3 * reps / min(times)

    with torch.no_grad():
        mm = best(lambda: torch.mm(a, b))
        conv = best(lambda: torch.nn.functional.conv2d(x, w))
    print(f"fp32 GEMM n={n}: torch.mm {mm / 1e9:.1f} GFLOP/s, as a 1x1 conv {conv / 1e9:.1f} "
          "GFLOP/s")
    return max(mm, conv)


def step_rate(size: int, stem: str, batch: int, fmt: str, steps: int) -> tuple[float, float]:
    """(FLOPs of one training step, steps per second) of ResNet-18 mulclass on random data."""
    from torch.utils.flop_counter import FlopCounterMode

    from syn2real.tasks.task import get_task

    task = get_task("mulclass")
    torch.manual_seed(0)
    model = task.build("resnet18", 56, stem, size)
    x = torch.randn(batch, 3, size, size)
    y = (torch.rand(batch, 56) > 0.8).float()
    with FlopCounterMode(display=False) as fc:
        task.loss(model, x, y).backward()
    flops = float(fc.get_total_flops())
    if fmt == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    run = torch.compile(model) if fmt == "compile" else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(run(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return flops, steps / (time.perf_counter() - t0)


if __name__ == "__main__":
    main()
