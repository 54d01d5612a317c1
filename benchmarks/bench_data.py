"""Storage at paper scale: bytes per image and read rates of raw (.npy) and compressed (tar)
shards, next to the training rate (issue 13, item 6).

For 64, 224 and 640 px (lv7: 10 objects, textures, random light), the same spec rendered in
both storages: bytes per image with every ground truth (RGB, instance and class masks,
normals, depth, labels, COCO json), split by field for the tar shards, and the projection for
1.28M images at 224 px. Decoding is checked against the raw arrays (identical except normals,
within their 8-bit quantisation: the largest component error is printed). Read rate: images
per second through the pre-training loader (``SyntheticTask`` + ``DataLoader``, mulclass, one
process, then two workers) at 64 px for both storages, against the measured training rate of
a ResNet-18 (imagenet stem) at 64 px on the same machine: ``loader_over_train`` must be >= 5.

Targets: 1.28M images at 224 px <= 200 GB; loader >= 5x the training rate at 64 px on 2
cores. Usage: python benchmarks/bench_data.py [--images 200]. Run it alone.
"""

from __future__ import annotations

import argparse
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch  # before rendering (see syn2real.render.gl)
from torch.utils.data import DataLoader

from syn2real.data import ShardDataset
from syn2real.render import preset, render_dataset
from syn2real.train.datasets import SyntheticTask


def _bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()
               and p.parent.name.startswith("shard-"))


def _fields(root: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for tar_path in root.glob("shard-*/samples.tar"):
        with tarfile.open(tar_path) as tar:
            for m in tar.getmembers():
                f = m.name.split(".", 1)[1]
                out[f] = out.get(f, 0) + m.size + 512  # + its tar header
    return out


def _read_rate(ds: ShardDataset, workers: int, batch: int = 64) -> float:
    loader = DataLoader(SyntheticTask(ds, "mulclass", 0, len(ds), flip=True), batch_size=batch,
                        shuffle=True, num_workers=workers, generator=torch.Generator()
                        .manual_seed(0), persistent_workers=False)
    t0 = time.perf_counter()
    seen = 0
    for x, _ in loader:
        seen += len(x)
    return seen / (time.perf_counter() - t0)


def _train_rate(size: int, batch: int = 64, steps: int = 6) -> float:
    from syn2real.tasks.task import get_task

    task = get_task("mulclass")
    model = task.build("resnet18", 10, "imagenet", size)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, 3, size, size)
    y = (torch.rand(batch, 10) > 0.5).float()
    for i in range(steps + 2):
        if i == 2:
            t0 = time.perf_counter()
        loss = task.loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200, help="images per size (640 px: 1/5)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="bench-data-"))
    sizes = {64: args.images, 224: args.images, 640: max(20, args.images // 5)}
    per_image: dict[int, dict[str, float]] = {}
    for size, n in sizes.items():
        spec = preset("lv7", size=size, shard_size=min(n, 100), views=10)
        for storage in ("npy", "tar"):
            root = tmp / f"{size}-{storage}"
            t0 = time.perf_counter()
            render_dataset(spec, root, n, workers=2, storage=storage)
            per_image.setdefault(size, {})[storage] = _bytes(root) / n
            print(f"{size:4d} px {storage}: {per_image[size][storage] / 1e3:8.1f} KB/image "
                  f"(rendered {n} in {time.perf_counter() - t0:.1f} s)")
        fields = _fields(tmp / f"{size}-tar")
        print("      tar by field: " + ", ".join(f"{k} {v / n / 1e3:.1f} KB"
                                                 for k, v in sorted(fields.items())))
        raw, tar = ShardDataset(tmp / f"{size}-npy"), ShardDataset(tmp / f"{size}-tar")
        worst = 0.0
        for i in range(0, n, max(1, n // 20)):
            a, b = raw[i], tar[i]
            for k in ("rgb", "instance", "semantic", "depth", "labels"):
                if not np.array_equal(np.asarray(a[k]), b[k], equal_nan=True):
                    raise SystemExit(f"{size} px image {i}: {k} differs after decoding")
            v = np.asarray(a["instance"]) >= 0
            worst = max(worst, float(np.abs(np.asarray(a["normal"], np.float32)[v]
                                            - b["normal"].astype(np.float32)[v]).max()))
        print(f"      decoded == rendered (rgb, masks, depth, labels); normals within {worst:.4f}")
    gb = per_image[224]["tar"] * 1.28e6 / 1e9
    gb_raw = per_image[224]["npy"] * 1.28e6 / 1e9
    print(f"\n1.28M images at 224 px: tar {gb:.0f} GB, npy {gb_raw:.0f} GB (target <= 200 GB)")
    train = _train_rate(64)
    print(f"training rate, ResNet-18 (imagenet stem) at 64 px, 2 threads: {train:.0f} img/s")
    rates = {}
    for storage in ("npy", "tar"):
        ds = ShardDataset(tmp / f"64-{storage}")
        for w in (0, 2):
            rates[storage, w] = _read_rate(ds, w)
            print(f"loader at 64 px, {storage}, {w} worker(s): {rates[storage, w]:.0f} img/s "
                  f"= {rates[storage, w] / train:.1f}x training")
    ratio = rates["tar", 0] / train
    print(f"bytes_per_image_224_tar: {per_image[224]['tar']:.0f} projected_1.28M_224_GB: "
          f"{gb:.0f} loader_over_train_64_tar: {ratio:.1f}")


if __name__ == "__main__":
    main()
