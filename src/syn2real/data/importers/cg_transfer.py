"""The ``cg-transfer`` layout: the paper's renderer (``rendering/renderer/render.py`` of
    pfnet-research/cg-transfer): ``<out>/<idx>/`` with the image named in
    ``annotations.json`` (COCO with one image; masks as RLE or polygons, read with
    pycocotools) and ``normal.npy`` (BlenderProc's normals, as above). ``scene_size``
    consecutive indices form a scene (the renderer's ``n_image_per_scene``; default 1).
"""

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
    _unit,
    paint_coco,
)


def _cg_dirs(root: Path) -> list[Path]:
    return sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()),
                  key=lambda p: int(p.name))


def _is_cg_transfer(root: Path) -> bool:
    dirs = _cg_dirs(root) if root.is_dir() else []
    return bool(dirs) and (dirs[0] / "annotations.json").is_file()


class CgTransferSource(_FrameSource):
    """The paper's renderer output: ``<idx>/{<image>, annotations.json, normal.npy}``."""

    format = "cg-transfer"

    def __init__(self, root: str | Path, scene_size: int = 1) -> None:
        super().__init__(Path(root))
        if scene_size < 1:
            raise ValueError(f"scene_size must be >= 1, got {scene_size}")
        self.scene_size = scene_size
        self.frames = _cg_dirs(self.root)
        if not self.frames:
            raise ImportedDataError(f"{self.root}: no <idx>/annotations.json folders. Fix: point "
                                    "at the renderer's --out folder")
        cats = _json(self.frames[0] / "annotations.json").get("categories", [])
        self.categories, self.class_names = _coco_categories(cats)
        self._cat_index = {c: i for i, c in enumerate(self.categories)}
        self.has_normals = all((d / "normal.npy").exists() for d in self.frames)

    def __getitem__(self, i: int) -> Sample:
        d = self.frames[self._index(i)]
        ann_p = d / "annotations.json"
        ann = _json(ann_p)
        imgs = ann.get("images") or []
        if len(imgs) != 1:
            raise ImportedDataError(f"{ann_p}: {len(imgs)} images listed, the layout has one per "
                                    "folder. Fix: re-split the renderer's output")
        img = imgs[0]
        rgb = _png(d / img["file_name"])[..., :3].astype(np.uint8)
        h, w = rgb.shape[:2]
        inst, sem = paint_coco(ann.get("annotations", []), h, w, self._cat_index, ann_p)
        n_p = d / "normal.npy"
        if n_p.exists():
            try:
                raw_n = np.load(n_p)
            except (ValueError, OSError, EOFError) as exc:
                raise ImportedDataError(f"{n_p}: not a readable .npy ({exc}). Fix: re-write "
                                        "this frame") from None
            if raw_n.ndim != 3 or raw_n.shape[:2] != (h, w) or raw_n.shape[2] < 3:
                raise ImportedDataError(f"{n_p}: normals of shape {raw_n.shape} for a {w}x{h} "
                                        f"image (expected ({h}, {w}, 3)). Fix: re-write this "
                                        "frame")
            normal, hit = _unit(2.0 * raw_n.astype(np.float32)[..., :3] - 1.0)
        else:
            normal, hit = np.zeros((h, w, 3), np.float16), np.ones((h, w), bool)
        inst[~hit] = -1
        return self._check({"rgb": rgb, "instance": inst, "semantic": sem, "normal": normal,
                            "depth": np.full((h, w), np.nan, np.float16)}, ann_p)

    def scene_id(self, i: int) -> str:
        return str(int(self.frames[self._index(i)].name) // self.scene_size)

    def content_hash(self) -> str:
        files = sorted(p for d in self.frames for p in d.iterdir() if p.is_file())
        return _hash_files(self.root, files, [d / "annotations.json" for d in self.frames])


# --------------------------------------------------------------------------- BOP


LAYOUT = Layout("cg-transfer", _is_cg_transfer, lambda p, **kw: CgTransferSource(p, **kw),
                "<idx>/{<image>.png, annotations.json, normal.npy} (the paper's renderer)")
