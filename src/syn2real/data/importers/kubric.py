"""The ``kubric`` layout: Kubric's per-frame files and ``metadata.json`` (:class:`KubricSource`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import UserError
from ..sources import Layout, Sample
from .common import (
    Array,
    ImportedDataError,
    _FrameSource,
    _hash_files,
    _json,
    _png,
    _unit,
)


def _kubric_scenes(root: Path) -> list[Path]:
    cands = [root] + sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return [d for d in cands if (d / "metadata.json").is_file() and any(d.glob("rgba_*.png"))]


def _is_kubric(root: Path) -> bool:
    return bool(_kubric_scenes(root))


def _quat_matrix(q: Any) -> Array:
    """Rotation matrix of a (w, x, y, z) quaternion."""
    w, x, y, z = (float(v) for v in q)
    n = np.sqrt(w * w + x * x + y * y + z * z) or 1.0
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _png16(path: Path) -> Array:
    """A PNG with 16-bit colour channels (Pillow keeps only 8 of them): read with pypng."""
    try:
        import png
    except ImportError:
        raise UserError(f"{path}: 16-bit colour PNGs need pypng (pip install pypng, part of "
                        "syn2real[data])") from None
    try:
        w, h, rows, info = png.Reader(filename=str(path)).asDirect()
    except FileNotFoundError:
        raise ImportedDataError(f"{path}: missing. Fix: re-run the writer for this frame") from None
    except png.Error as exc:
        raise ImportedDataError(f"{path}: not a readable PNG ({exc}). Fix: re-write this frame") \
            from None
    return np.vstack([np.asarray(r, np.uint16) for r in rows]).reshape(h, w, info["planes"])


def _tiff(path: Path) -> Array:
    try:
        import tifffile

        return np.asarray(tifffile.imread(path))
    except ImportError:
        return _png(path)  # Pillow reads single-channel float TIFFs too
    except FileNotFoundError:
        raise ImportedDataError(f"{path}: missing. Fix: re-run the Kubric worker for this scene") \
            from None
    except (ValueError, OSError, IndexError, KeyError) as exc:  # truncated or not a TIFF
        raise ImportedDataError(f"{path}: not a readable TIFF ({exc}). Fix: re-run the Kubric "
                                "worker for this scene") from None


class KubricSource(_FrameSource):
    """Kubric's output (``kb.write_image_dict`` + ``metadata.json``, e.g. the MOVi workers):
    per scene folder ``rgba_<f:05d>.png``, ``segmentation_<f:05d>.png`` (instance index + 1,
    0 = background), ``depth_<f:05d>.tiff`` (float: distance from the camera *centre*),
    ``normal_<f:05d>.png`` (16-bit, ``(n + 1) / 2`` of world-frame normals) and
    ``metadata.json`` (``instances`` with ``category`` / ``shape_label`` / ``asset_id``;
    ``camera`` with per-frame ``quaternions`` (w, x, y, z, camera to world), ``focal_length``
    and ``sensor_width`` in mm). Brought into syn2real's frame: normals rotated into the camera
    (Blender camera axes, as syn2real's), ray distance turned into depth along the optical
    axis with the pinhole intrinsics. A scene folder is a scene (a video of frames).
    """

    format = "kubric"

    def __init__(self, root: str | Path) -> None:
        super().__init__(Path(root))
        self.scenes = _kubric_scenes(self.root)
        if not self.scenes:
            raise ImportedDataError(f"{self.root}: no Kubric scene (metadata.json + "
                                    "rgba_*.png). Fix: point at the worker's output folder "
                                    "or its parent")
        self._meta: dict[Path, dict] = {}
        names: set[str] = set()
        for s in self.scenes:
            meta = _json(s / "metadata.json")
            inst = meta.get("instances")
            if not isinstance(inst, list) or "camera" not in meta:
                raise ImportedDataError(f"{s / 'metadata.json'}: no instances list or camera. Fix: "
                                        "write it with kb.get_instance_info / kb.get_camera_info")
            self._meta[s] = meta
            names.update(self._category(d) for d in inst)
            frames = sorted(int(p.stem.split("_")[1]) for p in s.glob("rgba_*.png"))
            self.frames += [(s, f) for f in frames]
        self.class_names = sorted(names)
        self._cls = {c: i for i, c in enumerate(self.class_names)}
        self.has_normals = all((s / f"normal_{f:05d}.png").exists() for s, f in self.frames)

    @staticmethod
    def _category(inst: dict) -> str:
        for k in ("category", "shape_label", "asset_id"):
            if inst.get(k) not in (None, ""):
                return str(inst[k])
        return "object"

    def __getitem__(self, i: int) -> Sample:
        s, f = self.frames[self._index(i)]
        meta = self._meta[s]
        rgb_p = s / f"rgba_{f:05d}.png"
        rgb = _png(rgb_p)[..., :3].astype(np.uint8)
        h, w = rgb.shape[:2]
        seg_p = s / f"segmentation_{f:05d}.png"
        seg = _png(seg_p).astype(np.int64)
        seg = seg[..., 0] if seg.ndim == 3 else seg
        k = len(meta["instances"])
        if seg.max(initial=0) > k:
            raise ImportedDataError(f"{seg_p}: instance id {int(seg.max())} but metadata.json "
                                    f"lists {k} instances. Fix: re-run "
                                    "kb.adjust_segmentation_idxs")
        lut = np.array([0] + [self._cls[self._category(d)] + 1 for d in meta["instances"]])
        inst = seg.astype(np.int16)
        sem = lut[seg].astype(np.int16)
        cam = meta["camera"]
        hit = np.ones((h, w), bool)
        n_p = s / f"normal_{f:05d}.png"
        if n_p.exists():
            quats = cam.get("quaternions")
            if quats is None or len(quats) <= f:
                raise ImportedDataError(f"{s / 'metadata.json'}: no camera quaternion for frame "
                                        f"{f}. Fix: write kb.get_camera_info(scene.camera)")
            v = _png16(n_p).astype(np.float64)[..., :3] / 65535.0
            nw = 2.0 * v - 1.0
            normal, hit = _unit(nw @ _quat_matrix(quats[f]))  # n_cam = R^T n_world
        else:
            normal = np.zeros((h, w, 3), np.float16)
        d_p = s / f"depth_{f:05d}.tiff"
        depth = np.full((h, w), np.nan, np.float32)
        if d_p.exists():
            ray = _tiff(d_p).astype(np.float32).reshape(h, w)
            f_px = float(cam.get("focal_length", 35.0)) / float(cam.get("sensor_width", 32.0)) * w
            u = (np.arange(w) + 0.5 - w / 2) / f_px
            vv = (np.arange(h) + 0.5 - h / 2) / f_px
            depth = ray / np.sqrt(1.0 + u[None, :] ** 2 + vv[:, None] ** 2)
            hit &= np.isfinite(depth)
        inst[~hit] = -1
        return self._check({"rgb": rgb, "instance": inst, "semantic": sem, "normal": normal,
                            "depth": np.where(hit, depth, np.nan).astype(np.float16)}, rgb_p)

    def scene_id(self, i: int) -> str:
        return str(self.frames[self._index(i)][0].relative_to(self.root))

    def content_hash(self) -> str:
        files = sorted(p for s in self.scenes for p in s.iterdir() if p.is_file())
        return _hash_files(self.root, files, [s / "metadata.json" for s in self.scenes])


# --------------------------------------------------------------------------- Unity SOLO


LAYOUT = Layout("kubric", _is_kubric, lambda p, **kw: KubricSource(p, **kw),
                "<scene>/{rgba_<f>.png, segmentation_<f>.png, depth_<f>.tiff, normal_<f>.png, "
                "metadata.json} (Kubric write_image_dict)")
