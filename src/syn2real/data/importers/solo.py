"""The ``solo`` layout: Unity Perception's SOLO datasets (:class:`SoloSource`).
"""

from __future__ import annotations

import re
from pathlib import Path

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


def _natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key reading digit runs as numbers (``sequence.10`` after ``sequence.9``; a
    folder renamed ``sequence.old`` sorts among them instead of failing)."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.findall(r"\d+|\D+", name))


def _solo_frames(root: Path) -> list[Path]:
    return sorted(root.glob("sequence.*/step*.frame_data.json"),
                  key=lambda p: (_natural(p.parent.name), _natural(p.name)))


def _is_solo(root: Path) -> bool:
    return any(root.glob("sequence.*/step*.frame_data.json"))


def _exr(path: Path) -> Array:
    """The channels of an EXR image, (H, W, C) float32 (OpenEXR)."""
    try:
        import OpenEXR
    except ImportError:
        raise UserError(f"{path}: EXR images (SOLO depth and normals) need OpenEXR (pip install "
                        "OpenEXR)") from None
    if not path.exists():
        raise ImportedDataError(f"{path}: missing. Fix: re-run the Perception scenario") from None
    ch = OpenEXR.File(str(path)).channels()
    if len(ch) == 1:  # one layer: "RGBA", "RGB" or "Y"/"R"
        (arr,) = (np.asarray(c.pixels, np.float32) for c in ch.values())
        return arr if arr.ndim == 3 else arr[..., None]
    order = [k for k in ("R", "G", "B", "A", "Y") if k in ch]
    return np.stack([np.asarray(ch[k].pixels, np.float32) for k in order], -1)


_SOLO = "type.unity.com/unity.solo."


class SoloSource(_FrameSource):
    """Unity Perception's SOLO datasets (``SoloEndpoint``): ``sequence.<k>/step<j>.
    frame_data.json`` whose RGB capture names its PNG and its annotations' files —
    ``InstanceSegmentationAnnotation`` (colour PNG + ``instances``: ``color``,
    ``labelName``), ``SemanticSegmentationAnnotation`` (colour PNG + ``pixelValue`` per
    ``labelName``; unlabelled pixels black), optionally ``DepthAnnotation`` (EXR;
    ``measurementStrategy`` ``Depth``, or ``Range`` turned into depth with the capture's
    projection ``matrix``) and ``NormalAnnotation`` (EXR of ``(n + 1) / 2`` in sensor space
    with z inverted by Perception's WorldToSensorNormals shader, i.e. syn2real's frame; all
    zero: no surface). Classes are the label names; each sequence is a scene.
    """

    format = "solo"

    def __init__(self, root: str | Path) -> None:
        super().__init__(Path(root))
        self.frames = _solo_frames(self.root)
        if not self.frames:
            raise ImportedDataError(f"{self.root}: no sequence.*/step*.frame_data.json. Fix: point "
                                    "at the SOLO dataset folder (solo_<n>)")
        self._captures = {p: self._capture(p) for p in self.frames}  # read once, at open
        names = {str(e["labelName"]) for _, anns in self._captures.values()
                 for kind in ("InstanceSegmentationAnnotation", "SemanticSegmentationAnnotation")
                 for e in anns.get(kind, {}).get("instances", [])}
        self.class_names = sorted(names)
        self._cls = {c: i for i, c in enumerate(self.class_names)}
        self.has_normals = all("NormalAnnotation" in anns for _, anns in self._captures.values())

    def _capture(self, p: Path) -> tuple[dict, dict[str, dict]]:
        frame = _json(p)
        caps = [c for c in frame.get("captures", []) if "RGBCamera" in str(c.get("@type", ""))]
        if not caps:
            raise ImportedDataError(f"{p}: no RGB camera capture. Fix: add a PerceptionCamera")
        cap = caps[0]
        anns = {str(a.get("@type", "")).replace(_SOLO, ""): a for a in cap.get("annotations", [])}
        if "InstanceSegmentationAnnotation" not in anns:
            raise ImportedDataError(f"{p}: no instance segmentation. Fix: add an "
                                    "InstanceSegmentationLabeler to the camera")
        return cap, anns

    @staticmethod
    def _packed(img: Array) -> Array:
        a = img.astype(np.uint32)
        if a.shape[-1] == 3:
            a = np.dstack([a, np.full(a.shape[:2], 255, np.uint32)])
        return (a[..., 0] << 24) | (a[..., 1] << 16) | (a[..., 2] << 8) | a[..., 3]

    def __getitem__(self, i: int) -> Sample:
        p = self.frames[self._index(i)]
        d = p.parent
        cap, anns = self._captures[p]
        rgb_p = d / cap["filename"]
        rgb = _png(rgb_p)[..., :3].astype(np.uint8)
        h, w = rgb.shape[:2]
        ia = anns["InstanceSegmentationAnnotation"]
        ids = self._packed(_png(d / ia["filename"]))
        inst = np.zeros((h, w), np.int16)
        sem = np.zeros((h, w), np.int16)
        for j, e in enumerate(sorted(ia.get("instances", []), key=lambda e: e["instanceId"]),
                              start=1):
            m = ids == ((int(e["color"][0]) << 24) | (int(e["color"][1]) << 16)
                        | (int(e["color"][2]) << 8) | int(e["color"][3]))
            inst[m] = j
            sem[m] = self._cls[str(e["labelName"])] + 1
        hit = np.ones((h, w), bool)
        normal = np.zeros((h, w, 3), np.float16)
        if "NormalAnnotation" in anns:
            v = _exr(d / anns["NormalAnnotation"]["filename"])[..., :3]
            if v.shape[:2] != (h, w):
                raise ImportedDataError(f"{d / anns['NormalAnnotation']['filename']}: {v.shape[1]}x"
                                        f"{v.shape[0]} px for a {w}x{h} image. Fix: re-render")
            empty = np.all(v == 0, axis=-1)
            normal, ok = _unit(2.0 * v - 1.0)
            hit = ok & ~empty
            normal[~hit] = 0
        depth = np.full((h, w), np.nan, np.float32)
        if "DepthAnnotation" in anns:
            da = anns["DepthAnnotation"]
            z = _exr(d / da["filename"])[..., 0].reshape(h, w)
            if str(da.get("measurementStrategy", "Depth")).lower() == "range":
                m = np.asarray(cap.get("matrix", [1, 0, 0, 0, 1, 0, 0, 0, 1]), float).ravel()
                x = (2 * (np.arange(w) + 0.5) / w - 1) / m[0]
                y = (1 - 2 * (np.arange(h) + 0.5) / h) / m[4]
                z = z / np.sqrt(1 + x[None, :] ** 2 + y[:, None] ** 2)
            depth = np.where(z > 0, z, np.nan).astype(np.float32)
        inst[~hit] = -1
        return self._check({"rgb": rgb, "instance": inst, "semantic": sem, "normal": normal,
                            "depth": depth.astype(np.float16)}, rgb_p)

    def scene_id(self, i: int) -> str:
        return self.frames[self._index(i)].parent.name

    def content_hash(self) -> str:
        files = sorted(p for s in {f.parent for f in self.frames} for p in s.iterdir()
                       if p.is_file())
        return _hash_files(self.root, files, list(self.frames))


LAYOUT = Layout("solo", _is_solo, lambda p, **kw: SoloSource(p, **kw),
                "sequence.<k>/step<j>.frame_data.json + its PNG / EXR files (Unity "
                "Perception SOLO)")
