"""Detection / segmentation fine-tuning boards composed from real images.

Several real items (digits, fashion items) are resized and placed on a dark canvas without
overlap; each item's foreground (pixels above a threshold) gives its instance mask, its class
mask and a tight box. Seeded; a train and a test set built from disjoint source images
(:func:`syn2real.data.real.stratified_split`) never share an item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import zoom

from .real import ImageSet

Array = np.ndarray


@dataclass
class Boards:
    """Composed images and their ground truth.

    Attributes
    ----------
    images : (N, S, S) uint8
    instance : (N, S, S) int16, 0 background, i the i-th item of the board
    semantic : (N, S, S) int16, 0 background, c + 1 class c
    boxes : list of (k, 4) float arrays, ``x0, y0, x1, y1`` (pixel edges, exclusive end)
    classes : list of (k,) int arrays
    sources : list of (k,) int arrays, index of each item's source image
    class_names : tuple of str
    """

    images: Array
    instance: Array
    semantic: Array
    boxes: list[Array]
    classes: list[Array]
    sources: list[Array]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    def to_coco(self, first_id: int = 0) -> dict:
        """COCO instances dict with RLE masks (loadable by pycocotools)."""
        from pycocotools import mask as mask_utils

        S = self.images.shape[1]
        images, anns = [], []
        for i in range(len(self)):
            img_id = first_id + i
            images.append({"id": img_id, "width": S, "height": S, "file_name": str(img_id)})
            for j, (box, c) in enumerate(zip(self.boxes[i], self.classes[i], strict=True)):
                m = np.asfortranarray((self.instance[i] == j + 1).astype(np.uint8))
                rle = mask_utils.encode(m)
                rle["counts"] = rle["counts"].decode("ascii")
                x0, y0, x1, y1 = (float(v) for v in box)
                anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": int(c) + 1,
                             "bbox": [x0, y0, x1 - x0, y1 - y0], "area": int(m.sum()),
                             "iscrowd": 0, "segmentation": rle})
        cats = [{"id": k + 1, "name": n} for k, n in enumerate(self.class_names)]
        return {"images": images, "annotations": anns, "categories": cats}


def compose_boards(source: ImageSet, n: int, *, size: int = 64, items: tuple[int, int] = (2, 4),
                   scale: tuple[float, float] = (0.6, 1.2), threshold: int = 64,
                   pool: Array | None = None, seed: int = 0) -> Boards:
    """Compose ``n`` boards of ``size`` x ``size`` pixels.

    Parameters
    ----------
    source : ImageSet
        Real items (grey images, dark background).
    n : int
        Boards.
    size : int
        Canvas side.
    items : (min, max)
        Items per board (inclusive).
    scale : (min, max)
        Resize factor of an item.
    threshold : int
        Foreground threshold of an item's pixels.
    pool : array of int, optional
        Source indices allowed (use disjoint pools for train and test).
    seed : int
        Seed.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 1 <= items[0] <= items[1]:
        raise ValueError(f"items must satisfy 1 <= min <= max, got {items}")
    rng = np.random.default_rng(seed)
    pool = np.arange(len(source)) if pool is None else np.asarray(pool)
    imgs = np.zeros((n, size, size), np.uint8)
    inst = np.zeros((n, size, size), np.int16)
    sem = np.zeros((n, size, size), np.int16)
    boxes, classes, sources = [], [], []
    for b in range(n):
        k = int(rng.integers(items[0], items[1] + 1))
        bx, cl, src = [], [], []
        occupied = np.zeros((size, size), bool)
        for _ in range(k):
            for _attempt in range(30):
                idx = int(pool[rng.integers(len(pool))])
                item = zoom(source.images[idx].astype(np.float32), rng.uniform(*scale), order=1)
                fg = item > threshold
                if not fg.any():
                    break
                ys, xs = np.nonzero(fg)
                item, fg = (item[ys.min():ys.max() + 1, xs.min():xs.max() + 1],
                            fg[ys.min():ys.max() + 1, xs.min():xs.max() + 1])
                h, w = fg.shape
                if h > size or w > size:
                    continue
                y0 = int(rng.integers(0, size - h + 1))
                x0 = int(rng.integers(0, size - w + 1))
                if occupied[y0:y0 + h, x0:x0 + w].any():
                    continue
                j = len(bx) + 1
                occupied[y0:y0 + h, x0:x0 + w] = True
                region = imgs[b, y0:y0 + h, x0:x0 + w]
                region[fg] = item[fg].clip(0, 255).astype(np.uint8)
                inst[b, y0:y0 + h, x0:x0 + w][fg] = j
                sem[b, y0:y0 + h, x0:x0 + w][fg] = int(source.labels[idx]) + 1
                fy, fx = np.nonzero(fg)
                bx.append([x0 + fx.min(), y0 + fy.min(), x0 + fx.max() + 1, y0 + fy.max() + 1])
                cl.append(int(source.labels[idx]))
                src.append(idx)
                break
        boxes.append(np.array(bx, np.float32).reshape(-1, 4))
        classes.append(np.array(cl, np.int64))
        sources.append(np.array(src, np.int64))
    return Boards(imgs, inst, sem, boxes, classes, sources, source.classes)
