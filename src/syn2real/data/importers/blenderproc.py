"""The ``blenderproc`` layout: BlenderProc's HDF5 writer (``bproc.writer.write_hdf5``): one
    ``<frame>.hdf5`` per image with the keys ``colors`` (H, W, 3[+1]) uint8, ``normals``
    (H, W, 3) float in [0, 1], ``depth`` (H, W) float (or ``distance``, the ray length),
    ``category_id_segmaps`` (H, W), ``instance_segmaps`` (H, W) and
    ``instance_attribute_maps`` (a JSON string: ``[{"idx", "category_id", "name"}, ...]``),
    gzip-compressed datasets. BlenderProc's normal pass stores ``0.5 n + 0.5`` of the normal
    in Blender's camera frame (x right, y up, z towards the camera; its compositor graph
    multiplies by the camera rotation and swaps G/B to undo Blender's Z-up), so ``n = 2v - 1``
    is already syn2real's frame. Category 0 is the background; classes are the other
    category ids, in increasing order. ``distance`` cannot become depth without the
    intrinsics: depth is then NaN. All frames in one folder are one scene (one BlenderProc
    run renders several camera poses of one scene).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..sources import Layout, Sample
from .common import (
    ImportedDataError,
    _colors_u8,
    _FrameSource,
    _hash_files,
    _unit,
)


def _is_blenderproc(root: Path) -> bool:
    return any(root.glob("*.hdf5")) or any(root.glob("*/*.hdf5"))


def _frame_key(p: Path) -> tuple[str, int, str]:
    stem = p.stem
    return (str(p.parent), int(stem) if stem.isdigit() else -1, stem)


class BlenderProcSource(_FrameSource):
    """BlenderProc HDF5 output (one ``<frame>.hdf5`` per image; sub-folders are scenes)."""

    format = "blenderproc"

    def __init__(self, root: str | Path) -> None:
        super().__init__(Path(root))
        import h5py

        self._h5py = h5py
        self.frames = sorted(list(self.root.glob("*.hdf5")) + list(self.root.glob("*/*.hdf5")),
                             key=_frame_key)
        if not self.frames:
            raise ImportedDataError(f"{self.root}: no .hdf5 frames. Fix: point at BlenderProc's "
                                    "output folder (bproc.writer.write_hdf5)")
        info = {p: self._frame_info(p) for p in self.frames}  # read once, at open
        self._attrs = {p: attrs for p, (attrs, _) in info.items()}
        # normals are optional (RendererUtility.enable_normals_output): every frame or none
        self.has_normals = all(normals for _, normals in info.values())
        # written with map_by=["category_id"] only: classes, no objects told apart (mulclass
        # and semseg need no more; detection is refused)
        self.has_instances = self.has_boxes = all(a is not None for a in self._attrs.values())
        self._frame_cats = {p: self._categories(p) for p, a in self._attrs.items() if a is None}
        cats = {c for a in self._attrs.values() if a is not None for c in a.values() if c > 0}
        cats |= {c for cs in self._frame_cats.values() for c in cs if c > 0}
        self.categories = sorted(cats)
        self.class_names = [f"category_{c}" for c in self.categories]
        self._cat_index = {c: i for i, c in enumerate(self.categories)}

    def _open(self, p: Path):
        try:
            return self._h5py.File(p, "r")
        except OSError as exc:
            raise ImportedDataError(f"{p}: not a readable HDF5 file ({exc}). Fix: re-render this "
                                    "frame") from None

    def _frame_info(self, p: Path) -> tuple[dict[int, int] | None, bool]:
        """Of one frame: instance idx -> category id (``None``: only category ids written),
        and whether it has normals."""
        with self._open(p) as f:
            normals = "normals" in f
            if "instance_attribute_maps" not in f:
                if "category_id_segmaps" in f:
                    return None, normals
                raise ImportedDataError(f"{p}: no instance_attribute_maps or "
                                        "category_id_segmaps. Fix: render with "
                                        "bproc.renderer.enable_segmentation_output(map_by=["
                                        "'category_id', 'instance', 'name'])")
            raw = np.array(f["instance_attribute_maps"]).tobytes().decode("utf-8")
        try:
            items = json.loads(raw)
            return {int(d["idx"]): int(d["category_id"]) for d in items}, normals
        except (ValueError, KeyError, TypeError) as exc:
            raise ImportedDataError(f"{p}: instance_attribute_maps is not BlenderProc's JSON list "
                                    f"of {{idx, category_id}} ({exc}). Fix: re-render this frame") \
                from None

    def _categories(self, p: Path) -> set[int]:
        with self._open(p) as f:
            return set(np.unique(np.array(f["category_id_segmaps"])).astype(int).tolist())

    def __getitem__(self, i: int) -> Sample:
        p = self.frames[self._index(i)]
        attrs = self._attrs[p]
        seg = "instance_segmaps" if attrs is not None else "category_id_segmaps"
        with self._open(p) as f:
            missing = [k for k in ("colors", seg) if k not in f]
            if missing:
                raise ImportedDataError(f"{p}: no {', '.join(missing)}. Fix: render colours and "
                                        "segmentation (enable_segmentation_output)")
            rgb = _colors_u8(np.array(f["colors"])[..., :3], p)
            seg_raw = np.array(f[seg]).astype(np.int64)
            nrm = np.array(f["normals"]) if "normals" in f else None
            depth = (np.array(f["depth"], np.float32) if "depth" in f
                     else np.full(rgb.shape[:2], np.nan, np.float32))
        if seg_raw.shape != rgb.shape[:2] or (nrm is not None and nrm.shape[:2] != rgb.shape[:2]):
            bad = seg if seg_raw.shape != rgb.shape[:2] else "normals"
            shape = seg_raw.shape if bad == seg else nrm.shape
            raise ImportedDataError(f"{p}: {bad} of shape {shape} for colors of "
                                    f"{rgb.shape[1]}x{rgb.shape[0]} px. Fix: re-render this "
                                    "frame")
        inst = np.zeros(seg_raw.shape, np.int16)
        sem = np.zeros(seg_raw.shape, np.int16)
        if attrs is None:  # category ids only
            for c in np.unique(seg_raw).tolist():
                if c > 0:
                    sem[seg_raw == c] = self._cat_index[c] + 1
        else:
            objects = sorted(k for k, c in attrs.items() if c > 0)
            lut_inst = {k: j + 1 for j, k in enumerate(objects)}
            unknown = set(np.unique(seg_raw).tolist()) - set(attrs)
            if unknown:
                raise ImportedDataError(f"{p}: instance ids {sorted(unknown)[:5]} are not in "
                                        "instance_attribute_maps. Fix: re-render this frame")
            for k, c in attrs.items():
                m = seg_raw == k
                if c > 0:
                    inst[m] = lut_inst[k]
                    sem[m] = self._cat_index[c] + 1
        if nrm is not None:
            raw_n = 2.0 * np.asarray(nrm, np.float32)[..., :3] - 1.0
            known = np.isfinite(raw_n).all(axis=-1)
            normal, hit = _unit(np.where(known[..., None], raw_n, 0.0))
            # a zero normal is BlenderProc's "no surface"; a NaN one is unknown: the pixel
            # keeps its object, and the normal task's mask leaves it out (zero vector)
            inst[~hit & known] = -1
            depth = np.where(hit | ~known, depth, np.nan)
        else:  # no normals rendered: zero vectors, which the normal task never counts
            normal = np.zeros(rgb.shape, np.float16)
        return self._check({"rgb": rgb, "instance": inst, "semantic": sem, "normal": normal,
                            "depth": depth.astype(np.float16)}, p)

    def scene_id(self, i: int) -> str:
        return str(self.frames[self._index(i)].parent.relative_to(self.root))

    def content_hash(self) -> str:
        return _hash_files(self.root, self.frames)


# --------------------------------------------------------------------------- Replicator


LAYOUT = Layout("blenderproc", _is_blenderproc, lambda p, **kw: BlenderProcSource(p, **kw),
                "<frame>.hdf5 with colors, normals, depth, category_id_segmaps, "
                "instance_segmaps, instance_attribute_maps (BlenderProc write_hdf5)")
