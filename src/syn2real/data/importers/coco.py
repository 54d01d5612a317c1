"""The ``coco`` layout: BlenderProc's COCO writer or any COCO export (:class:`CocoSource`):
masks only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..sources import Layout, Sample
from .common import (
    ImportedDataError,
    _coco_categories,
    _FrameSource,
    _hash_files,
    _json,
    _png,
    paint_coco,
)


def _coco_file(root: Path) -> Path | None:
    for p in (root / "coco_annotations.json", root / "coco_data" / "coco_annotations.json",
              root / "annotations.json"):  # the last: syn2real export-data --format coco
        if p.is_file():
            return p
    return None


class CocoSource(_FrameSource):
    """A COCO instances file with its images as a pre-training source: BlenderProc's COCO
    writer (``bproc.writer.write_coco_annotations``: ``[coco_data/]coco_annotations.json``
    beside ``images/``; RLE or polygon masks) or any generator that exports COCO. No normals
    or depth; every image is its own scene unless the file groups them (``scene_id`` per
    image, as some writers add)."""

    format = "coco"
    has_normals = False

    def __init__(self, root: str | Path) -> None:
        super().__init__(Path(root))
        p = _coco_file(self.root)
        if p is None:
            raise ImportedDataError(f"{self.root}: no coco_annotations.json. Fix: point at the "
                                    "COCO writer's output folder")
        self.ann_path = p
        raw = _json(p)
        cats = raw.get("categories", [])
        self.categories, self.class_names = _coco_categories(cats)
        self._cat_index = {c: i for i, c in enumerate(self.categories)}
        self.frames = sorted(raw.get("images", []), key=lambda im: im["id"])
        if not self.frames:
            raise ImportedDataError(f"{p}: no images (an empty file). Fix: re-run the writer")
        ids = {im["id"] for im in self.frames}
        self._anns: dict[int, list[dict]] = {}
        for a in raw.get("annotations", []):
            if a.get("image_id") not in ids:
                raise ImportedDataError(f"{p}: annotation {a.get('id')} points to image_id "
                                        f"{a.get('image_id')}, which is not in images. Fix: drop "
                                        "the annotation or add the image")
            self._anns.setdefault(a["image_id"], []).append(a)

    def __getitem__(self, i: int) -> Sample:
        im = self.frames[self._index(i)]
        rgb_p = self.ann_path.parent / im["file_name"]
        rgb = _png(rgb_p)
        rgb = np.repeat(rgb[..., None], 3, -1) if rgb.ndim == 2 else rgb[..., :3]
        h, w = rgb.shape[:2]
        inst, sem = paint_coco(self._anns.get(im["id"], []), h, w, self._cat_index,
                               self.ann_path)
        return self._check({"rgb": rgb.astype(np.uint8), "instance": inst, "semantic": sem,
                            "normal": np.zeros((h, w, 3), np.float16),
                            "depth": np.full((h, w), np.nan, np.float16)}, rgb_p)

    def scene_id(self, i: int) -> str:
        im = self.frames[self._index(i)]
        return str(im.get("scene_id", im["id"]))

    def content_hash(self) -> str:
        files = sorted(self.ann_path.parent / im["file_name"] for im in self.frames)
        return _hash_files(self.root, files, [self.ann_path])


# --------------------------------------------------------------------------- cg-transfer


LAYOUT = Layout("coco", lambda p: _coco_file(p) is not None,
                lambda p, **kw: CocoSource(p, **kw),
                "[coco_data/]coco_annotations.json + images/ (BlenderProc's COCO writer, any "
                "COCO export)")
