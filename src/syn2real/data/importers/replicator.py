"""The ``replicator`` layout: Omniverse Replicator's ``BasicWriter``: ``rgb_<k>.png`` (RGBA),
    ``semantic_segmentation_<k>.png`` (colourised RGBA) + ``semantic_segmentation_labels_<k>
    .json`` (``{"(r, g, b, a)": {"class": name}}``), ``instance_segmentation_<k>.png`` +
    ``instance_segmentation_mapping_<k>.json`` (colour → prim path), optional
    ``normals_<k>.npy`` (H, W, 4, world frame) with ``camera_params_<k>.json``
    (``cameraViewTransform``: the world-to-camera 4x4 in USD's row-vector convention, so
    ``n_cam = n_world @ M[:3, :3]``; USD cameras look down -z with y up, syn2real's frame) and
    optional ``distance_to_image_plane_<k>.npy`` (depth; inf where nothing is hit).
    ``BACKGROUND`` and ``UNLABELLED`` are the background. Each frame is its own scene
    (Replicator re-randomises the scene per frame).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

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

_RGB = re.compile(r"^rgb_(.+)\.png$")
_BACKGROUND = {"BACKGROUND", "UNLABELLED", "background", "unlabelled"}


def _is_replicator(root: Path) -> bool:
    return any(root.glob("rgb_*.png"))


def _colour_key(s: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"-?\d+", s))


class ReplicatorSource(_FrameSource):
    """Omniverse Replicator ``BasicWriter`` output (colourised segmentation, the default)."""

    format = "replicator"

    def __init__(self, root: str | Path) -> None:
        super().__init__(Path(root))
        self.frames = sorted(m.group(1) for p in self.root.glob("rgb_*.png")
                             if (m := _RGB.match(p.name)))
        if not self.frames:
            raise ImportedDataError(f"{self.root}: no rgb_*.png. Fix: point at the BasicWriter's "
                                    "output_dir")
        self._label_maps = {k: self._labels(k) for k in self.frames}  # read once, at open
        names = {v for m in self._label_maps.values() for v in m.values()}
        # without the instance annotator, mulclass / semseg need only the semantics; the
        # writer's tight 2-D boxes (bounding_box_2d_tight=True) then serve detection
        self.has_instances = any((self.root / f"instance_segmentation_{k}.png").exists()
                                 for k in self.frames)
        self._box_labels: dict[str, dict[int, str]] = {}
        if not self.has_instances and all(
                (self.root / f"bounding_box_2d_tight_{k}.npy").exists() for k in self.frames):
            self._box_labels = {k: self._box_label_map(k) for k in self.frames}
            names |= {v for m in self._box_labels.values() for v in m.values()}
        self.has_boxes = self.has_instances or bool(self._box_labels)
        # the normals annotator is optional: a frame without it has no normals to learn from
        self.has_normals = all((self.root / f"normals_{k}.npy").exists() for k in self.frames)
        self.class_names = sorted(names - _BACKGROUND)
        self._cls = {c: i for i, c in enumerate(self.class_names)}

    def _box_label_map(self, k: str) -> dict[int, str]:
        p = self.root / f"bounding_box_2d_tight_labels_{k}.json"
        try:
            return {int(i): str(v["class"]).split(",")[0] for i, v in _json(p).items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ImportedDataError(f"{p}: not the BasicWriter's {{\"<semanticId>\": {{\"class\": "
                                    "...}}}} map. Fix: re-write this frame") from None

    def _boxes(self, k: str, shape: tuple[int, int]) -> tuple[Array, Array]:
        """The frame's tight boxes (exclusive ends) and their classes + 1."""
        p = self.root / f"bounding_box_2d_tight_{k}.npy"
        try:
            a = np.load(p)
            x0, y0, x1, y1, sid = (np.asarray(a[f], np.int64) for f in
                                   ("x_min", "y_min", "x_max", "y_max", "semanticId"))
        except (ValueError, KeyError, OSError) as exc:
            raise ImportedDataError(f"{p}: not the bounding_box_2d_tight annotator's structured "
                                    f"array (semanticId, x_min, y_min, x_max, y_max) ({exc}). "
                                    "Fix: re-write this frame") from None
        labels = self._box_labels[k]
        unknown = sorted(set(sid.tolist()) - set(labels))
        if unknown:
            raise ImportedDataError(f"{p}: semantic ids {unknown[:5]} are not in "
                                    f"bounding_box_2d_tight_labels_{k}.json. Fix: re-write "
                                    "this frame")
        h, w = shape
        keep = np.array([labels[int(i)] not in _BACKGROUND for i in sid], bool)
        # the annotator's x_max / y_max are the last covered pixel: one past it is the end
        boxes = np.stack([np.clip(x0, 0, w), np.clip(y0, 0, h), np.clip(x1 + 1, 0, w),
                          np.clip(y1 + 1, 0, h)], axis=1).astype(np.float32)[keep]
        cls = np.array([self._cls[labels[int(i)]] + 1 for i in sid[keep]], np.int64)
        return boxes.reshape(-1, 4), cls

    def _labels(self, k: str) -> dict[tuple[int, ...], str]:
        p = self.root / f"semantic_segmentation_labels_{k}.json"
        raw = _json(p)
        try:
            return {_colour_key(col): str(v["class"]) for col, v in raw.items()}
        except (KeyError, TypeError, AttributeError):
            raise ImportedDataError(f"{p}: not the BasicWriter's {{\"(r, g, b, a)\": {{\"class\": "
                                    "...}}}} map. Fix: write with colorize_semantic_segmentation="
                                    "True (the default)") from None

    def _colour_ids(self, img: Array, where: Path) -> Array:
        """(H, W) packed RGBA colour of a colourised mask."""
        if img.ndim != 3 or img.shape[-1] not in (3, 4):
            raise ImportedDataError(f"{where}: expected a colourised RGBA mask, got shape "
                                    f"{img.shape}. Fix: write with colorize_*_segmentation=True")
        a = img if img.shape[-1] == 4 else np.dstack([img, np.full(img.shape[:2], 255)])
        a = a.astype(np.uint32)
        return (a[..., 0] << 24) | (a[..., 1] << 16) | (a[..., 2] << 8) | a[..., 3]

    @staticmethod
    def _pack(col: tuple[int, ...]) -> int:
        r, g, b, a = (list(col) + [255])[:4]
        return (r << 24) | (g << 16) | (b << 8) | a

    def __getitem__(self, i: int) -> Sample:
        k = self.frames[self._index(i)]
        rgb_p = self.root / f"rgb_{k}.png"
        rgb = _png(rgb_p)[..., :3].astype(np.uint8)
        sem_p = self.root / f"semantic_segmentation_{k}.png"
        sem_ids = self._colour_ids(_png(sem_p), sem_p)
        sem = np.zeros(sem_ids.shape, np.int16)
        labels = self._label_maps[k]
        seen = set(np.unique(sem_ids).tolist())
        for col, name in labels.items():
            if name not in _BACKGROUND:
                sem[sem_ids == self._pack(col)] = self._cls[name] + 1
        unknown = seen - {self._pack(c) for c in labels}
        if unknown:
            raise ImportedDataError(f"{sem_p}: {len(unknown)} colour(s) not in "
                                    f"semantic_segmentation_labels_{k}.json. Fix: re-write this "
                                    "frame")
        inst = np.zeros(sem.shape, np.int16)
        extra: dict[str, Array] = {}
        if self.has_instances:
            ins_p = self.root / f"instance_segmentation_{k}.png"
            ins_ids = self._colour_ids(_png(ins_p), ins_p)
            mapping = _json(self.root / f"instance_segmentation_mapping_{k}.json")
            sem_map = {}
            sm_p = self.root / f"instance_segmentation_semantics_mapping_{k}.json"
            if sm_p.exists():
                sem_map = {self._pack(_colour_key(c)): str(v.get("class", ""))
                           for c, v in _json(sm_p).items()}
            objects = sorted((str(path), self._pack(_colour_key(col)))
                             for col, path in mapping.items()
                             if sem_map.get(self._pack(_colour_key(col)), "") not in _BACKGROUND
                             and str(path) not in _BACKGROUND)
            for j, (_, packed) in enumerate(objects, start=1):
                inst[ins_ids == packed] = j
        elif self._box_labels:
            extra["boxes"], extra["box_labels"] = self._boxes(k, sem.shape)
        n_p, c_p = self.root / f"normals_{k}.npy", self.root / f"camera_params_{k}.json"
        hit = np.ones(rgb.shape[:2], bool)
        if n_p.exists():
            if not c_p.exists():
                raise ImportedDataError(f"{c_p}: missing; world-frame normals need the camera. "
                                        "Fix: add camera_params=True to the BasicWriter")
            view = np.asarray(_json(c_p)["cameraViewTransform"], np.float64).reshape(4, 4)
            nw = np.load(n_p)[..., :3].astype(np.float64)
            normal, hit = _unit(nw @ view[:3, :3])
        else:
            normal = np.zeros(rgb.shape, np.float16)
        d_p = self.root / f"distance_to_image_plane_{k}.npy"
        if d_p.exists():
            depth = np.load(d_p).astype(np.float32).reshape(rgb.shape[:2])
            hit &= np.isfinite(depth)
        else:
            depth = np.full(rgb.shape[:2], np.nan, np.float32)
        inst[~hit] = -1
        return self._check({"rgb": rgb, "instance": inst, "semantic": sem, "normal": normal,
                            "depth": np.where(hit, depth, np.nan).astype(np.float16),
                            **extra}, rgb_p)

    def scene_id(self, i: int) -> str:
        return self.frames[self._index(i)]

    def content_hash(self) -> str:
        files = sorted(p for p in self.root.iterdir() if p.is_file())
        return _hash_files(self.root, files, [p for p in files if p.suffix == ".json"])


LAYOUT = Layout("replicator", _is_replicator, lambda p, **kw: ReplicatorSource(p, **kw),
                "rgb_<k>.png, semantic_segmentation_<k>.png + labels json, "
                "instance_segmentation_<k>.png + mapping json[, normals_<k>.npy, "
                "camera_params_<k>.json, distance_to_image_plane_<k>.npy] (Replicator "
                "BasicWriter)")
