"""Data sources over what other generators write (see :mod:`syn2real.data.sources`).

Each reader turns one frame of the generator's own layout into a syn2real sample, with the
conversions named here (and tested on fixtures written exactly as the writers write them):

``blenderproc`` — BlenderProc's HDF5 writer (``bproc.writer.write_hdf5``): one
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
``replicator`` — Omniverse Replicator's ``BasicWriter``: ``rgb_<k>.png`` (RGBA),
    ``semantic_segmentation_<k>.png`` (colourised RGBA) + ``semantic_segmentation_labels_<k>
    .json`` (``{"(r, g, b, a)": {"class": name}}``), ``instance_segmentation_<k>.png`` +
    ``instance_segmentation_mapping_<k>.json`` (colour → prim path), optional
    ``normals_<k>.npy`` (H, W, 4, world frame) with ``camera_params_<k>.json``
    (``cameraViewTransform``: the world-to-camera 4x4 in USD's row-vector convention, so
    ``n_cam = n_world @ M[:3, :3]``; USD cameras look down -z with y up, syn2real's frame) and
    optional ``distance_to_image_plane_<k>.npy`` (depth; inf where nothing is hit).
    ``BACKGROUND`` and ``UNLABELLED`` are the background. Each frame is its own scene
    (Replicator re-randomises the scene per frame).
``bop`` — the BOP format (:class:`BopSource`): RGB, visible masks, depth; no normals.
``kubric`` — Kubric's per-frame files and ``metadata.json`` (:class:`KubricSource`).
``solo`` — Unity Perception's SOLO datasets (:class:`SoloSource`).
``coco`` — BlenderProc's COCO writer or any COCO export (:class:`CocoSource`): masks only.
``cg-transfer`` — the paper's renderer (``rendering/renderer/render.py`` of
    pfnet-research/cg-transfer): ``<out>/<idx>/`` with the image named in
    ``annotations.json`` (COCO with one image; masks as RLE or polygons, read with
    pycocotools) and ``normal.npy`` (BlenderProc's normals, as above). ``scene_size``
    consecutive indices form a scene (the renderer's ``n_image_per_scene``; default 1).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .sources import Sample, labels_of, read_image, register_layout

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
        self._attrs = {p: self._attributes(p) for p in self.frames}  # read once, at open
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

    def _attributes(self, p: Path) -> dict[int, int] | None:
        """instance idx -> category id of one frame (``None``: only category ids written)."""
        with self._open(p) as f:
            if "instance_attribute_maps" not in f:
                if "category_id_segmaps" in f:
                    return None
                raise ImportedDataError(f"{p}: no instance_attribute_maps or "
                                        "category_id_segmaps. Fix: render with "
                                        "bproc.renderer.enable_segmentation_output(map_by=["
                                        "'category_id', 'instance', 'name'])")
            raw = np.array(f["instance_attribute_maps"]).tobytes().decode("utf-8")
        try:
            items = json.loads(raw)
            return {int(d["idx"]): int(d["category_id"]) for d in items}
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


def check_frames(source: Any, n: int | None = None) -> None:
    """Read the first ``n`` frames (default all) once, so that a bad one stops a run before
    it starts (one line naming the file), never half-way through."""
    if len(source) == 0:
        raise ImportedDataError(f"{source.root}: no frames. Fix: point at the writer's output")
    for i in range(min(len(source), n if n is not None else len(source))):
        source[i]


register_layout("blenderproc", _is_blenderproc, lambda p, **kw: BlenderProcSource(p, **kw),
                "<frame>.hdf5 with colors, normals, depth, category_id_segmaps, "
                "instance_segmaps, instance_attribute_maps (BlenderProc write_hdf5)")
register_layout("replicator", _is_replicator, lambda p, **kw: ReplicatorSource(p, **kw),
                "rgb_<k>.png, semantic_segmentation_<k>.png + labels json, "
                "instance_segmentation_<k>.png + mapping json[, normals_<k>.npy, "
                "camera_params_<k>.json, distance_to_image_plane_<k>.npy] (Replicator "
                "BasicWriter)")
register_layout("bop", _is_bop, lambda p, **kw: BopSource(p, **kw),
                "[train_pbr/]<scene>/{rgb/, depth/, mask_visib/, scene_gt.json, "
                "scene_camera.json} (BOP format, BlenderProc write_bop)")
register_layout("kubric", _is_kubric, lambda p, **kw: KubricSource(p, **kw),
                "<scene>/{rgba_<f>.png, segmentation_<f>.png, depth_<f>.tiff, normal_<f>.png, "
                "metadata.json} (Kubric write_image_dict)")
register_layout("solo", _is_solo, lambda p, **kw: SoloSource(p, **kw),
                "sequence.<k>/step<j>.frame_data.json + its PNG / EXR files (Unity "
                "Perception SOLO)")
register_layout("coco", lambda p: _coco_file(p) is not None,
                lambda p, **kw: CocoSource(p, **kw),
                "[coco_data/]coco_annotations.json + images/ (BlenderProc's COCO writer, any "
                "COCO export)")
register_layout("cg-transfer", _is_cg_transfer, lambda p, **kw: CgTransferSource(p, **kw),
                "<idx>/{<image>.png, annotations.json, normal.npy} (the paper's renderer)")
