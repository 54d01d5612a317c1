"""Loaders for data users already have: ImageFolder, COCO json and the ADE20K layout.

Each returns plain numpy data (images resized to a square side) so subsets, boards and the
torch datasets of :mod:`syn2real.train` can use them like the bundled sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .sources import read_image

Array = np.ndarray
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _rgb(path: Path, size: int) -> Array:
    return read_image(path, fix="replace or remove it", rgb_size=size)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_image_folder(root: str | Path, size: int = 64):
    """ImageNet-style ``root/<class>/<image>`` → an :class:`~syn2real.data.real.ImageSet` of
    RGB images ``(N, size, size, 3)``; classes sorted by folder name."""

    from .real import ImageSet

    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder. Fix: give the ImageFolder root "
                        "(<root>/<class>/<image>)")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    images, labels = [], []
    for k, c in enumerate(classes):
        for p in _images_in(root / c):
            images.append(_rgb(p, size))
            labels.append(k)
    if not images:
        raise UserError(f"{root}: no images found in class folders "
                        f"({', '.join(IMAGE_SUFFIXES)}). Fix: point at <root> of "
                        "<root>/<class>/<image>")
    return ImageSet(np.stack(images), np.array(labels, np.int64), tuple(classes), "imagefolder",
                    str(root))


@dataclass
class DetectionSet:
    """Images with boxes ``(k, 4)`` (x0, y0, x1, y1 in resized pixels) and labels (0-based)."""

    images: Array
    boxes: list[Array]
    labels: list[Array]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)


def load_coco(annotations: str | Path, images_dir: str | Path, size: int = 64,
              max_images: int | None = None) -> DetectionSet:
    """A COCO instances json (pycocotools) with its image folder; boxes rescaled to ``size``."""
    coco = _coco(annotations)
    cat_ids = sorted(coco.getCatIds())
    index = {c: i for i, c in enumerate(cat_ids)}
    names = tuple(coco.loadCats(c)[0]["name"] for c in cat_ids)
    images, boxes, labels = [], [], []
    for img_id, info, path in _coco_images(coco, annotations, images_dir, max_images):
        sx, sy = size / info["width"], size / info["height"]
        images.append(_rgb(path, size))
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=False))]
        b = np.array([[a["bbox"][0] * sx, a["bbox"][1] * sy, (a["bbox"][0] + a["bbox"][2]) * sx,
                       (a["bbox"][1] + a["bbox"][3]) * sy] for a in anns], np.float32)
        boxes.append(b.reshape(-1, 4))
        labels.append(np.array([index[a["category_id"]] for a in anns], np.int64))
    return DetectionSet(np.stack(images), boxes, labels, names)


def _coco(annotations: str | Path) -> Any:
    """A COCO index with every reference checked (one line naming what points nowhere)."""
    import contextlib
    import io
    import json

    from pycocotools.coco import COCO

    p = Path(annotations)
    try:
        raw = json.loads(p.read_text())
    except FileNotFoundError:
        raise UserError(f"{p}: missing. Fix: give the COCO root holding "
                        "annotations/instances_<split>.json") from None
    except ValueError as exc:
        raise UserError(f"{p}: not valid JSON ({exc}). Fix: re-download or re-export it") \
            from None
    imgs = {im["id"] for im in raw.get("images", [])}
    cats = {c["id"] for c in raw.get("categories", [])}
    if not imgs:
        raise UserError(f"{p}: no images (an empty split). Fix: choose a split with images")
    for a in raw.get("annotations", []):
        if a.get("image_id") not in imgs:
            raise UserError(f"{p}: annotation {a.get('id')} points to image_id "
                            f"{a.get('image_id')}, which is not in images. Fix: drop the "
                            "annotation or add the image")
        if a.get("category_id") not in cats:
            raise UserError(f"{p}: annotation {a.get('id')} has category_id "
                            f"{a.get('category_id')}, absent from categories. Fix: add the "
                            "category or drop the annotation")
    coco = COCO()
    coco.dataset = raw
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco.createIndex()
    return coco


def _coco_images(coco: Any, annotations: str | Path, images_dir: str | Path,
                 max_images: int | None) -> list[tuple[int, dict, Path]]:
    out = []
    for img_id in sorted(coco.getImgIds())[:max_images]:
        info = coco.loadImgs(img_id)[0]
        path = Path(images_dir) / info["file_name"]
        if not path.exists():
            raise UserError(f"{path}: image {img_id} of {annotations} is missing. Fix: copy "
                            "the images next to the annotations or drop the image")
        out.append((img_id, info, path))
    return out


@dataclass
class SegmentationSet:
    """Images and class masks (0 = background / unlabelled, as in ADE20K)."""

    images: Array
    masks: Array
    classes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.images)


def load_coco_segmentation(annotations: str | Path, images_dir: str | Path, size: int = 64,
                           max_images: int | None = None) -> SegmentationSet:
    """Semantic masks from COCO instance masks (pycocotools; painted in annotation order,
    class c + 1, 0 = background), resized to ``size`` with nearest neighbours."""
    from PIL import Image

    coco = _coco(annotations)
    cat_ids = sorted(coco.getCatIds())
    index = {c: i for i, c in enumerate(cat_ids)}
    names = tuple(coco.loadCats(c)[0]["name"] for c in cat_ids)
    imgs, masks = [], []
    for img_id, info, path in _coco_images(coco, annotations, images_dir, max_images):
        h, w = int(info["height"]), int(info["width"])
        m = np.zeros((h, w), np.uint8)
        for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=None)):
            am = coco.annToMask(a)
            if am.shape != (h, w):
                raise UserError(f"{annotations}: annotation {a['id']} has a {am.shape} mask "
                                f"for a {h}x{w} image. Fix: correct width/height or the mask")
            m[am > 0] = index[a["category_id"]] + 1
        imgs.append(_rgb(path, size))
        masks.append(np.asarray(Image.fromarray(m).resize((size, size), Image.NEAREST)))
    return SegmentationSet(np.stack(imgs), np.stack(masks).astype(np.int64), names)


def load_ade20k(root: str | Path, split: str = "training", size: int = 64,
                max_images: int | None = None) -> SegmentationSet:
    """The ADEChallengeData2016 layout: ``images/<split>/*.jpg`` with
    ``annotations/<split>/*.png`` (same stem; pixel value = class, 0 = other)."""
    from PIL import Image

    root = Path(root)
    img_dir, ann_dir = root / "images" / split, root / "annotations" / split
    if not img_dir.is_dir() or not ann_dir.is_dir():
        raise UserError(f"{root}: expected images/{split}/ and annotations/{split}/ "
                        "(ADEChallengeData2016 layout). Fix: give the folder holding them")
    imgs, masks = [], []
    for p in _images_in(img_dir)[:max_images]:
        ann = ann_dir / (p.stem + ".png")
        if not ann.exists():
            raise UserError(f"{ann}: annotation of {p.name} is missing. Fix: add it or "
                            "remove the image")
        with Image.open(p) as im, Image.open(ann) as am:
            if im.size != am.size:
                raise UserError(f"{ann}: mask of {am.size[0]}x{am.size[1]} px for an image "
                                f"of {im.size[0]}x{im.size[1]}. Fix: re-export the mask")
            mask = np.asarray(am.resize((size, size), Image.NEAREST))
        imgs.append(_rgb(p, size))
        masks.append(mask)
    if not imgs:
        raise UserError(f"{img_dir}: no images (an empty split). Fix: choose another split")
    m = np.stack(masks).astype(np.int64)
    k = max(int(m.max()), 150 if split in ("training", "validation") else 1)
    return SegmentationSet(np.stack(imgs), m, tuple(str(c) for c in range(1, k + 1)))


#: Where a COCO split's annotations may lie, relative to the data folder (``{s}``: the
#: split): COCO 2017's tree, Roboflow's export, a detectron2-style folder of jsons.
COCO_ANNOTATIONS = ("annotations/instances_{s}.json", "{s}/_annotations.coco.json",
                    "annotations/{s}.json", "{s}.json")


def coco_default_splits(root: Path) -> tuple[str, str]:
    """COCO 2017's ``train2017`` / ``val2017``, or a Roboflow export's ``train`` / ``valid``
    (``test`` when it has no ``valid``)."""
    if (root / "annotations" / "instances_train2017.json").exists() or \
            not (root / "train" / "_annotations.coco.json").exists():
        return "train2017", "val2017"
    te = "valid" if (root / "valid" / "_annotations.coco.json").exists() else "test"
    return "train", te


def coco_split(root: Path, split: str, images: str | None = None) -> tuple[Path, Path]:
    """(annotation json, image folder) of one COCO split.

    ``split`` is a split name (looked for as :data:`COCO_ANNOTATIONS`) or a json file
    (absolute or relative to ``root``). The images lie in ``images`` when given, else in the
    first of the split's folder, the json's folder, ``root/images`` and ``root`` that holds
    the json's first image.
    """
    import json

    if split.endswith(".json"):
        ann = Path(split) if Path(split).is_absolute() else root / split
        if not ann.exists():
            raise UserError(f"{ann}: missing. Fix: give the COCO json's path (absolute, or "
                            f"relative to {root})")
    else:
        found = [root / t.format(s=split) for t in COCO_ANNOTATIONS]
        ann = next((p for p in found if p.exists()), None)
        if ann is None:
            raise UserError(f"{root}: no annotations for split {split!r} (looked for "
                            f"{', '.join(str(p.relative_to(root)) for p in found)}). Fix: give "
                            "split / test_split as a split name or a COCO json path")
    if images is not None:
        img = Path(images) if Path(images).is_absolute() else root / images
        return ann, img
    # the layouts that say where their images are: no need to read the json for it (COCO
    # 2017's train json is 450 MB, read again by the loader)
    if ann == root / COCO_ANNOTATIONS[0].format(s=split) and (root / split).is_dir():
        return ann, root / split
    if ann == root / COCO_ANNOTATIONS[1].format(s=split):
        return ann, ann.parent
    try:
        first = json.loads(ann.read_text()).get("images", [{}])[0].get("file_name")
    except (ValueError, IndexError, AttributeError):
        return ann, root / split  # _coco names what is wrong with the file
    cands = [root / Path(split).stem if split.endswith(".json") else root / split,
             ann.parent, root / "images", root]
    for c in cands:
        if first is not None and (c / first).exists():
            return ann, c
    return ann, cands[0]  # the loader names the missing image


def load_user_split(spec: Any, task: str, size: int, seed: int = 12345
                    ) -> tuple[Any, Any]:
    """(train, test) of a :class:`~syn2real.data.realspec.RealDataSpec` for ``task``:
    :class:`~syn2real.data.real.ImageSet` (sinclass), :class:`DetectionSet` (objdet) or
    :class:`SegmentationSet` (semseg)."""
    from .realspec import tasks_of

    if task not in tasks_of(spec.kind):
        raise UserError(f"{spec.kind} data serves {' / '.join(tasks_of(spec.kind))}, not "
                        f"{task}. Fix: pick one of those tasks or another data set")
    root = Path(spec.path)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder ({spec.kind} data). Fix: check the path")
    tr, te = spec.splits
    if spec.kind == "imagefolder":
        if (root / tr).is_dir():
            test_root = root / te
            if not test_root.is_dir():
                raise UserError(f"{test_root}: no test split folder. Fix: add it, or give "
                                "test_split")
            return load_image_folder(root / tr, size), load_image_folder(test_root, size)
        from .real import stratified_split

        full = load_image_folder(root, size)
        a, b = stratified_split(full.labels, 0.3, seed=seed)
        return full.take(a), full.take(b)
    if spec.kind == "hf":
        return load_hf(spec, tr, size), load_hf(spec, te, size)
    if spec.kind == "coco":
        load = load_coco if task == "objdet" else load_coco_segmentation
        if spec.split is None and spec.test_split is None:
            tr, te = coco_default_splits(root)
        return (load(*coco_split(root, tr, spec.images), size),
                load(*coco_split(root, te, spec.test_images), size))
    return load_ade20k(root, tr, size), load_ade20k(root, te, size)


def load_hf(spec: Any, split: str, size: int = 64):
    """One split of a Hugging Face data set on disk (``save_to_disk`` folder or parquet files)
    as an :class:`~syn2real.data.real.ImageSet` of RGB images ``(N, size, size, 3)``."""
    try:
        import datasets
    except ImportError:
        raise UserError("Hugging Face data needs the datasets library: pip install datasets"
                        ) from None
    from .real import ImageSet

    root = Path(spec.path)
    try:
        if (root / "dataset_dict.json").exists() or (root / "dataset_info.json").exists():
            ds = datasets.load_from_disk(str(root))
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise UserError(f"{root}: no split {split!r} (has {', '.join(ds)}). Fix: "
                                    "give split / test_split")
                ds = ds[split]
            elif split != spec.splits[0]:
                raise UserError(f"{root}: one saved Dataset, no split {split!r}. Fix: save a "
                                "DatasetDict with the splits")
        else:
            files = sorted(root.glob(f"{split}*.parquet")) + sorted(
                root.glob(f"data/{split}-*.parquet"))
            if not files:
                raise UserError(f"{root}: no save_to_disk folder and no {split}*.parquet or "
                                f"data/{split}-*.parquet. Fix: save with Dataset.save_to_disk "
                                "or point at the parquet files' folder")
            ds = datasets.load_dataset("parquet", data_files=[str(f) for f in files],
                                       split="train")
    except UserError:
        raise
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(f"{root}: not readable by datasets ({exc}). Fix: check the path") \
            from None
    feats = ds.features
    img_col = spec.image_column or next((k for k, f in feats.items()
                                         if isinstance(f, datasets.Image)), None)
    lab_col = spec.label_column or next((k for k, f in feats.items()
                                         if isinstance(f, datasets.ClassLabel)), None)
    for what, col in (("image", img_col), ("label", lab_col)):
        if col is None or col not in feats:
            raise UserError(f"{root} ({split}): no {what} column found in {list(feats)}. Fix: "
                            f"give {what}_column")
    if len(ds) == 0:
        raise UserError(f"{root} ({split}): an empty split. Fix: choose a split with rows")
    lab = feats[lab_col]
    classes = (tuple(lab.names) if isinstance(lab, datasets.ClassLabel)
               else tuple(str(c) for c in sorted(set(ds[lab_col]))))
    labels = np.asarray(ds[lab_col], np.int64)
    images = np.stack([np.asarray(im.convert("RGB").resize((size, size)))
                       for im in ds.cast_column(img_col, datasets.Image())[img_col]])
    return ImageSet(images, labels, classes, "hf", str(root))
