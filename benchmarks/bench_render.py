"""Rendering throughput with all ground truth written to shards.

For 64, 128 and 256 px, lv7 (10 objects, random light, background and textures), 1 and 2
worker processes: images/s of ``render_dataset`` (RGB, instance and class masks, normals,
depth, labels, COCO RLE json, checksums, atomic shard writes) and the peak resident memory.
Baseline (named ``gl_only``): the same scenes rendered by one process with no ground truth
post-processing and nothing written, measured in the same run; the ratio shows what the
ground truth and the shard writing cost. The issue's targets on 2 cores: >= 150 img/s at
64 px and >= 80 img/s at 128 px. Also the Mitsuba 3 backend (scalar_rgb, 16 spp path
tracing of the same scenes; its Python ray-cast ground truth excluded) at 64 px, with
``ratio_gl_vs_mitsuba``.

Usage: python benchmarks/bench_render.py [--images 400]
Run it alone: a second busy process on 2 cores halves every figure.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from syn2real.render import preset, render_dataset
from syn2real.render.gl import Renderer
from syn2real.render.scene import sample_scene


def gl_only(size: int, images: int) -> float:
    spec = preset("lv7", size=size)
    r = Renderer(size)
    rng = np.random.default_rng(0)
    r.render(sample_scene(spec, rng))  # warm-up: meshes and shaders
    t0 = time.perf_counter()
    n = 0
    while n < images:
        n += len(r.render(sample_scene(spec, rng)))
    dt = time.perf_counter() - t0
    r.release()
    return n / dt


def shards(size: int, images: int, workers: int) -> tuple[float, float]:
    shard = images // 2
    spec = preset("lv7", size=size, shard_size=shard)
    root = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        t0 = time.perf_counter()
        render_dataset(spec, root, 2 * shard, workers=workers)
        dt = time.perf_counter() - t0
    finally:
        shutil.rmtree(root, ignore_errors=True)
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return 2 * shard / dt, peak


def _mitsuba_job(size: int, views: int) -> float:
    from syn2real.render.mitsuba_backend import _load, build_scene

    mi = _load("scalar_rgb")
    spec = preset("lv7", size=size, views=views)
    scene = sample_scene(spec, np.random.default_rng(0))
    t0 = time.perf_counter()
    for view, _ in scene.cameras:
        mi.render(build_scene(scene, view, size), spp=16)
    return views / (time.perf_counter() - t0)


def mitsuba_rate(size: int, views: int = 4) -> float | None:
    """Mitsuba in a child process: it must not share a process with llvmpipe."""
    import importlib.util
    import multiprocessing as mp

    if importlib.util.find_spec("mitsuba") is None:
        return None
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_mitsuba_job, (size, views))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=400, help="images per configuration")
    args = ap.parse_args()
    targets = {64: 150, 128: 80}
    for size in (64, 128, 256):
        n = args.images if size < 256 else max(args.images // 2, 40)
        base = gl_only(size, n)
        print(f"{size:4d} px  gl_only (1 process, no GT, no writes): {base:7.1f} img/s")
        if size == 64:
            mrate = mitsuba_rate(size)
            if mrate is None:
                print("  64 px  mitsuba: not installed (pip install mitsuba)")
            else:
                print(f"  64 px  mitsuba scalar_rgb 16 spp: {mrate:7.2f} img/s  "
                      f"ratio_gl_vs_mitsuba {base / mrate:6.0f}")
        for w in (1, 2):
            rate, peak = shards(size, n, w)
            line = (f"{size:4d} px  shards, {w} worker(s): {rate:7.1f} img/s  "
                    f"ratio_vs_gl_only {rate / base:5.2f}  peak RSS {peak:6.0f} MiB")
            if size in targets and w == 2:
                verdict = "met" if rate >= targets[size] else "MISSED"
                line += f"  target {targets[size]} img/s: {verdict}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
