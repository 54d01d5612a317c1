"""Training throughput: syn2real's loop vs a bare PyTorch loop, and the data loader alone.

Same model (ResNet-18, small stem), data (rendered lv7 shards, 32 px, mulclass targets),
batch, optimiser and number of iterations. Baseline (named ``bare_loop``): a plain
``for x, y in loader: loss.backward(); opt.step()`` loop measured in the same run.
Targets of the issue: ours >= 0.9 x bare, loader alone >= 5 x the training rate.

Usage: python benchmarks/bench_train.py [--iters 12] [--batch 32] [--size 32]
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
from syn2real.train.datasets import SyntheticTask, collate
from syn2real.train.loop import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=12)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        spec = preset("lv7", size=args.size, shard_size=200)
        render_dataset(spec, root, 400)
        ds = ShardDataset(root)
        n_cls = ds.spec.n_classes
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
        res = train("mulclass", model, loader(), iters=args.iters, lr=0.05)
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


if __name__ == "__main__":
    main()
