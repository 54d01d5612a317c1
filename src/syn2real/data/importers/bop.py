"""The ``bop`` layout: the BOP format (:class:`BopSource`): RGB, visible masks, depth; no normals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..sources import Layout, Sample
from .common import (
    ImportedDataError,
    _FrameSource,
    _hash_files,
    _json,
    _png,
)


def _bop_scenes(root: Path) -> list[Path]:
    found = sorted({p.parent for pat in ("*/scene_gt.json", "*/*/scene_gt.json")
                    for p in root.glob(pat)})
    return found


def _bop_image_id(scene: Path):
    """Sort key of scene_gt.json's image ids; one that is not a number is one line."""
    def key(im: str) -> int:
        if not str(im).isdigit():
            raise ImportedDataError(f"{scene / 'scene_gt.json'}: image id {im!r} is not a "
                                    "number. Fix: write the ground truth again (write_bop)")
        return int(im)
    return key


def _is_bop(root: Path) -> bool:
    return bool(_bop_scenes(root))


class BopSource(_FrameSource):
    """The BOP format (BlenderProc's ``bproc.writer.write_bop``, the BOP Challenge's PBR
    images): ``[train_pbr/]<scene>/{rgb/<im>.jpg|png, depth/<im>.png, mask_visib/<im>_<gt>.png,
    scene_gt.json, scene_camera.json}`` (thodan/bop_toolkit docs/bop_datasets_format.md).

    Instances are the visible masks in ``scene_gt`` order (needs ``mask_visib``: BlenderProc's
    ``calc_mask_info_coco_data=True`` or the toolkit's ``calc_gt_masks``); classes are the
    ``obj_id``s; depth is ``depth · depth_scale`` mm, given in metres (0: none, NaN). BOP has
    no normals: the source says so (``has_normals = False``) and the normal task refuses it.
    Each scene folder is a scene.
    """

    format = "bop"
    has_normals = False

    def __init__(self, root: str | Path) -> None:
        super().__init__(Path(root))
        self.scenes = _bop_scenes(self.root)
        if not self.scenes:
            raise ImportedDataError(f"{self.root}: no <scene>/scene_gt.json. Fix: point at the BOP "
                                    "split folder (e.g. train_pbr) or its parent")
        known = set(self.scenes)
        for parent in sorted({s.parent for s in self.scenes}):
            for d in sorted(parent.iterdir()):
                if d.is_dir() and (d / "rgb").is_dir() and d not in known:
                    raise ImportedDataError(
                        f"{d}: a BOP scene folder (rgb/) without scene_gt.json; its images "
                        "would be left out. Fix: write its ground truth again (write_bop) or "
                        "move the folder out")
        objs: set[int] = set()
        self._index_cache: dict[tuple[Path, str], dict[Any, Path]] = {}
        self._gt: dict[Path, dict[str, list[dict]]] = {}
        self._cam: dict[Path, dict[str, dict]] = {}
        for s in self.scenes:
            gt = _json(s / "scene_gt.json")
            self._gt[s] = gt
            self._cam[s] = _json(s / "scene_camera.json") if (s / "scene_camera.json").exists() \
                else {}
            for im in sorted(gt, key=_bop_image_id(s)):
                entries = gt[im]
                bad = [j for j, o in enumerate(entries if isinstance(entries, list) else [None])
                       if not isinstance(o, dict) or not isinstance(o.get("obj_id"), int)]
                if bad:
                    raise ImportedDataError(f"{s / 'scene_gt.json'}: image {im}, entry {bad[0]} "
                                            "has no integer obj_id (BOP: a list of {obj_id, "
                                            "cam_R_m2c, cam_t_m2c} per image). Fix: write the "
                                            "ground truth again (write_bop)")
                self.frames.append((s, int(im)))
                objs.update(int(o["obj_id"]) for o in entries)
        self.obj_ids = sorted(objs)
        self.class_names = [f"obj_{o:06d}" for o in self.obj_ids]
        self._cls = {o: i for i, o in enumerate(self.obj_ids)}

    def _files(self, s: Path, sub: str) -> dict[Any, Path]:
        """The numbered files of one scene folder (``rgb``, ``gray``, ``depth``: image id ->
        path; ``mask_visib``: (image id, gt index) -> path), whatever their zero-padding
        (``000012.png``; older ``write_bop`` wrote ``0012.png``)."""
        key = (s, sub)
        if key not in self._index_cache:
            found: dict[Any, Path] = {}
            d = s / sub
            exts = (".png",) if sub in ("depth", "mask_visib") else \
                (".jpg", ".png", ".jpeg", ".tif")
            for p in sorted(d.iterdir()) if d.is_dir() else []:
                parts = p.stem.split("_")
                if p.suffix.lower() not in exts or not all(x.isdigit() for x in parts) or \
                        len(parts) != (2 if sub == "mask_visib" else 1):
                    continue
                k = tuple(int(x) for x in parts) if sub == "mask_visib" else int(parts[0])
                if k in found:
                    raise ImportedDataError(f"{p}: the same image number as {found[k].name}. "
                                            "Fix: keep one of the two files")
                found[k] = p
            self._index_cache[key] = found
        return self._index_cache[key]

    def _rgb_path(self, s: Path, im: int) -> Path:
        for sub in ("rgb", "gray"):
            if im in self._files(s, sub):
                return self._files(s, sub)[im]
        raise ImportedDataError(f"{s}/rgb/{im:06d}.jpg|png: missing. Fix: re-write this image")

    def __getitem__(self, i: int) -> Sample:
        s, im = self.frames[self._index(i)]
        rgb_p = self._rgb_path(s, im)
        rgb = _png(rgb_p)
        rgb = np.repeat(rgb[..., None], 3, -1) if rgb.ndim == 2 else rgb[..., :3]
        h, w = rgb.shape[:2]
        inst = np.zeros((h, w), np.int16)
        sem = np.zeros((h, w), np.int16)
        for j, o in enumerate(self._gt[s][str(im)]):
            m_p = self._files(s, "mask_visib").get((im, j),
                                                   s / "mask_visib" / f"{im:06d}_{j:06d}.png")
            if not m_p.exists():
                raise ImportedDataError(f"{m_p}: missing. Fix: write the visible masks "
                                        "(BlenderProc write_bop(..., calc_mask_info_coco_data=True)"
                                        " or bop_toolkit scripts/calc_gt_masks.py)")
            m = _png(m_p)
            if m.shape[:2] != (h, w):
                raise ImportedDataError(f"{m_p}: mask of {m.shape[1]}x{m.shape[0]} px for a "
                                        f"{w}x{h} image. Fix: re-write the mask")
            m = (m if m.ndim == 2 else m[..., 0]) > 0
            inst[m] = j + 1
            sem[m] = self._cls[int(o["obj_id"])] + 1
        d_p = self._files(s, "depth").get(im)
        depth = np.full((h, w), np.nan, np.float32)
        if d_p is not None:
            scale = float(self._cam[s].get(str(im), {}).get("depth_scale", 1.0))
            raw = _png(d_p).astype(np.float32)
            depth = np.where(raw > 0, raw * scale / 1000.0, np.nan)
        return self._check({"rgb": rgb.astype(np.uint8), "instance": inst, "semantic": sem,
                            "normal": np.zeros((h, w, 3), np.float16),
                            "depth": depth.astype(np.float16)}, rgb_p)

    def scene_id(self, i: int) -> str:
        return str(self.frames[self._index(i)][0].relative_to(self.root))

    def content_hash(self) -> str:
        files = sorted(p for s in self.scenes for p in s.rglob("*") if p.is_file())
        return _hash_files(self.root, files, [s / "scene_gt.json" for s in self.scenes])


# --------------------------------------------------------------------------- Kubric


LAYOUT = Layout("bop", _is_bop, lambda p, **kw: BopSource(p, **kw),
                "[train_pbr/]<scene>/{rgb/, depth/, mask_visib/, scene_gt.json, "
                "scene_camera.json} (BOP format, BlenderProc write_bop)")
