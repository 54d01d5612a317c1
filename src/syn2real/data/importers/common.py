"""What the importers share: their error, image/JSON readers, the frame-list base class,
COCO mask painting and the frame check a run does before it starts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import UserError
from ..sources import Sample, labels_of, read_image

Array = np.ndarray


class ImportedDataError(UserError):
    """A frame of another generator's output that cannot be read as it is."""


def _png(path: Path) -> Array:
    return read_image(path, fix="re-write this frame (re-run the writer for it)",
                      error=ImportedDataError)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ImportedDataError(f"{path}: missing. Fix: re-run the writer for this frame") from None
    except ValueError as exc:
        raise ImportedDataError(f"{path}: not valid JSON ({exc}). Fix: re-write this frame") \
            from None


def _unit(v: Array) -> tuple[Array, Array]:
    """Normalised vectors and whether each was a real normal (length > 0.5)."""
    v = np.asarray(v, np.float32)
    length = np.linalg.norm(v, axis=-1)
    ok = length > 0.5
    out = np.where(ok[..., None], v / np.maximum(length, 1e-6)[..., None], 0.0)
    return out.astype(np.float16), ok


def _colors_u8(a: Array, path: Path) -> Array:
    """A colour image as uint8: 8-bit as is; floats in [0, 1] (BlenderProc writes them when
    its colour depth is 32) scaled by 255; 16-bit scaled by 1/257; anything else refused."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return (a.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        finite = np.isfinite(a)
        if not finite.all() or a.min() < 0 or a.max() > 1.0 + 1e-6:
            lo, hi = (float(a[finite].min()), float(a[finite].max())) if finite.any() else (0, 0)
            raise ImportedDataError(f"{path}: colours are floats outside [0, 1] (range {lo:g}.."
                                    f"{hi:g}{', NaN/inf' if not finite.all() else ''}). Fix: "
                                    "write 8-bit colours (BlenderProc: set_output_format "
                                    "color_depth=8) or tone-map to [0, 1]")
        return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise ImportedDataError(f"{path}: colours of type {a.dtype} (expected uint8, uint16 or "
                            "float in [0, 1]). Fix: write 8-bit colours")


def _hash_files(root: Path, files: Sequence[Path], full: Sequence[Path] = ()) -> str:
    """Stable content hash: relative names and sizes of every file, and the bytes of the
    (small) annotation files in ``full``."""
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.relative_to(root)}\0{p.stat().st_size}\n".encode())
    for p in full:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


class _FrameSource:
    """Common part of the importers: frame list, sizes, checks.

    ``has_instances``: the writer wrote instance masks (objects told apart); without them
    ``instance`` holds no objects (0, -1 where nothing was hit) and detection needs the
    writer's own boxes (``has_boxes``: a sample's ``boxes`` ``(K, 4)`` x0, y0, x1, y1 with
    exclusive ends, and ``box_labels`` ``(K,)`` class + 1).
    """

    format = ""
    has_instances = True
    has_boxes = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.frames: list[Any] = []
        self.class_names: list[str] = []
        self._size: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def image_size(self) -> int:
        if self._size is None:
            self._size = self[0]["rgb"].shape[:2]
        return int(self._size[0])

    def _check(self, sample: Sample, where: Path) -> Sample:
        h, w = sample["rgb"].shape[:2]
        if self._size is None:
            self._size = (h, w)
        if (h, w) != self._size:
            raise ImportedDataError(f"{where}: image of {h}x{w} px, the first frame has "
                                    f"{self._size[0]}x{self._size[1]}. Fix: render every frame at "
                                    "one resolution (or import the folders separately)")
        for k in ("instance", "semantic", "depth"):
            if sample[k].shape != (h, w):
                raise ImportedDataError(f"{where}: {k} mask of shape {sample[k].shape}, the image "
                                        f"is {h}x{w}. Fix: re-write this frame")
        sample["labels"] = labels_of(sample["semantic"], len(self.class_names))
        return sample

    def _index(self, i: int) -> int:
        if not 0 <= i < len(self.frames):
            raise IndexError(i)
        return i


# --------------------------------------------------------------------------- BlenderProc


def paint_coco(anns: list[dict], h: int, w: int, cat_index: dict[int, int], where: Path
               ) -> tuple[Array, Array]:
    """Instance (1..k in annotation order) and class (index + 1) masks of one image's COCO
    annotations (RLE, uncompressed RLE or polygons, through pycocotools)."""
    from pycocotools import mask as mask_utils

    inst = np.zeros((h, w), np.int16)
    sem = np.zeros((h, w), np.int16)
    for j, a in enumerate(anns, start=1):
        c = int(a["category_id"])
        if c not in cat_index:
            raise ImportedDataError(f"{where}: annotation {a.get('id', j)} has category_id {c}, "
                                    "absent from the categories. Fix: add it to categories or "
                                    "drop the annotation")
        seg = a.get("segmentation")
        if seg is None:
            raise ImportedDataError(f"{where}: annotation {a.get('id', j)} has no segmentation. "
                                    "Fix: write masks (BlenderProc: enable_segmentation_output)")
        if isinstance(seg, list):  # polygons
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        elif isinstance(seg.get("counts"), list):  # uncompressed RLE
            rle = mask_utils.frPyObjects(seg, h, w)
        else:
            rle = seg
        m = mask_utils.decode(rle).astype(bool)
        if m.shape != (h, w):
            raise ImportedDataError(f"{where}: annotation {a.get('id', j)} has a {m.shape} mask "
                                    f"for a {h}x{w} image. Fix: re-write the annotation")
        inst[m] = j
        sem[m] = cat_index[c] + 1
    return inst, sem


# --------------------------------------------------------------------------- COCO writer
def _coco_categories(cats: list[dict]) -> tuple[list[int], list[str]]:
    """Distinct category ids (sorted) and a name for each, from a COCO ``categories`` list.

    BlenderProc's COCO writer, appending to an existing output, adds a category entry for
    every new ``{id, name, supercategory}`` combination, so one id comes back once per object
    name: the classes are the distinct ids (the first name of each), never one per entry.
    """
    names: dict[int, str] = {}
    for c in cats:
        names.setdefault(int(c["id"]), str(c.get("name", c["id"])))
    ids = sorted(names)
    return ids, [names[i] for i in ids]


def check_frames(source: Any, n: int | None = None) -> None:
    """Read the first ``n`` frames (default all) once, so that a bad one stops a run before
    it starts (one line naming the file), never half-way through."""
    if len(source) == 0:
        raise ImportedDataError(f"{source.root}: no frames. Fix: point at the writer's output")
    for i in range(min(len(source), n if n is not None else len(source))):
        source[i]
