"""Contact sheet: a few images with their instance masks, classes, normals and boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..data.shards import ShardDataset

Array = np.ndarray


def _colours(ids: Array, seed: int = 7) -> Array:
    lut = np.random.default_rng(seed).integers(40, 255, (4096, 3)).astype(np.uint8)
    lut[0] = 0
    return lut[np.asarray(ids) % 4096]


def contact_sheet(root: str | Path, n: int = 8, scale: int = 2) -> Path:
    """Write ``contact_sheet.png`` in the dataset folder: rows RGB+boxes, instances,
    semantic classes, normals; ``n`` images from the first shard."""
    ds = ShardDataset(root)
    n = min(n, len(ds))
    rows: list[list[Array]] = [[], [], [], []]
    for i in range(n):
        item = ds[i]
        rgb = Image.fromarray(np.asarray(item["rgb"]))
        draw = ImageDraw.Draw(rgb)
        inst = np.asarray(item["instance"])
        for j in np.unique(inst):
            if j == 0:
                continue
            ys, xs = np.nonzero(inst == j)
            draw.rectangle([xs.min(), ys.min(), xs.max(), ys.max()], outline=(255, 255, 0))
        rows[0].append(np.asarray(rgb))
        rows[1].append(_colours(inst))
        rows[2].append(_colours(np.asarray(item["semantic"]), seed=11))
        rows[3].append(((np.asarray(item["normal"], np.float32) * 0.5 + 0.5) * 255)
                       .clip(0, 255).astype(np.uint8))
    grid = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    img = Image.fromarray(grid)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    out = Path(root) / "contact_sheet.png"
    img.save(out)
    return out
