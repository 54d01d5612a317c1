"""Loaders for data users already have: ImageFolder, COCO json and the ADE20K layout.

Each returns plain numpy data (images resized to a square side) so subsets, boards and the
torch datasets of :mod:`syn2real.train` can use them like the bundled sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

Array = np.ndarray
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_image_folder(root: str | Path, size: int = 64):
    """ImageNet-style ``root/<class>/<image>`` → an :class:`~syn2real.data.real.ImageSet` of
    RGB images ``(N, size, size, 3)``; classes sorted by folder name."""
    from PIL import Image

    from .real import ImageSet

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected <root>/<class>/<image>)")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    images, labels = [], []
    for k, c in enumerate(classes):
        for p in _images_in(root / c):
            images.append(np.asarray(Image.open(p).convert("RGB").resize((size, size))))
            labels.append(k)
    if not images:
        raise ValueError(f"{root}: no images found in class folders ({', '.join(IMAGE_SUFFIXES)})")
    return ImageSet(np.stack(images), np.array(labels, np.int64), tuple(classes), "imagefolder",
                    str(root))


@dataclass
class DetectionSet:
    """Images with boxes ``(k, 4)`` (x0, y0, x1, y1 in resized pixels) and labels (0-based)."""

    images: Array
    boxes: list[Array]
    labels: list[Array]
    classes: tuple[str, ...]


def load_coco(annotations: str | Path, images_dir: str | Path, size: int = 64,
              max_images: int | None = None) -> DetectionSet:
    """A COCO instances json (pycocotools) with its image folder; boxes rescaled to ``size``."""
    from PIL import Image
    from pycocotools.coco import COCO

    coco = COCO(str(annotations))
    cat_ids = sorted(coco.getCatIds())
    index = {c: i for i, c in enumerate(cat_ids)}
    names = tuple(coco.loadCats(c)[0]["name"] for c in cat_ids)
    images, boxes, labels = [], [], []
    for img_id in sorted(coco.getImgIds())[:max_images]:
        info = coco.loadImgs(img_id)[0]
        path = Path(images_dir) / info["file_name"]
        if not path.exists():
            raise FileNotFoundError(f"{path}: image of id {img_id} in {annotations} is missing")
        sx, sy = size / info["width"], size / info["height"]
        images.append(np.asarray(Image.open(path).convert("RGB").resize((size, size))))
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=False))]
        b = np.array([[a["bbox"][0] * sx, a["bbox"][1] * sy, (a["bbox"][0] + a["bbox"][2]) * sx,
                       (a["bbox"][1] + a["bbox"][3]) * sy] for a in anns], np.float32)
        boxes.append(b.reshape(-1, 4))
        labels.append(np.array([index[a["category_id"]] for a in anns], np.int64))
    return DetectionSet(np.stack(images), boxes, labels, names)


@dataclass
class SegmentationSet:
    """Images and class masks (0 = background / unlabelled, as in ADE20K)."""

    images: Array
    masks: Array


def load_ade20k(root: str | Path, split: str = "training", size: int = 64,
                max_images: int | None = None) -> SegmentationSet:
    """The ADEChallengeData2016 layout: ``images/<split>/*.jpg`` with
    ``annotations/<split>/*.png`` (same stem; pixel value = class, 0 = other)."""
    from PIL import Image

    root = Path(root)
    img_dir, ann_dir = root / "images" / split, root / "annotations" / split
    if not img_dir.is_dir() or not ann_dir.is_dir():
        raise FileNotFoundError(f"{root}: expected images/{split}/ and annotations/{split}/ "
                                "(ADEChallengeData2016 layout)")
    imgs, masks = [], []
    for p in _images_in(img_dir)[:max_images]:
        ann = ann_dir / (p.stem + ".png")
        if not ann.exists():
            raise FileNotFoundError(f"{ann}: annotation of {p.name} is missing")
        imgs.append(np.asarray(Image.open(p).convert("RGB").resize((size, size))))
        masks.append(np.asarray(Image.open(ann).resize((size, size), Image.NEAREST)))
    if not imgs:
        raise ValueError(f"{img_dir}: no images")
    return SegmentationSet(np.stack(imgs), np.stack(masks).astype(np.int64))
