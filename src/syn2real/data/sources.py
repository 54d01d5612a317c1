"""The data-source protocol: what pre-training, export and subsets read, whoever rendered it.

A *data source* is an indexed collection of rendered images with the ground truth of every
pre-training task. ``source[i]`` is a :data:`Sample`, a dict of numpy arrays:

=============  ==================  ===============================================
key            shape / dtype        meaning
=============  ==================  ===============================================
``rgb``        (H, W, 3) uint8      the image
``instance``   (H, W) int16         0: background / room, i > 0: i-th object, -1: no
                                    surface hit (normals and depth invalid there)
``semantic``   (H, W) int16         0: background, c + 1: class c
``normal``     (H, W, 3) float16    unit normals in syn2real's camera frame: x right,
                                    y up, z towards the camera (OpenGL / Blender / USD
                                    camera axes)
``depth``      (H, W) float16       distance along the optical axis (NaN: unknown)
``labels``     (classes,) uint8     multi-label vector of the visible classes
=============  ==================  ===============================================

Every source also has ``class_names``, ``image_size``, ``format``, ``root``,
``content_hash()`` (stable over the files it reads: the cache key of what is trained on it)
and ``scene_id(i)`` (images of one scene share it: n-prefixes and subsets are drawn by whole
scenes). syn2real's own shards (:class:`~syn2real.data.shards.ShardDataset`) are one source;
:mod:`syn2real.data.importers` reads what BlenderProc (HDF5, BOP and COCO writers), Omniverse
Replicator, Kubric, Unity Perception (SOLO) and the paper's own renderer write, one module per
layout; :func:`register_layout` adds one. A source without normals in every frame says
``has_normals = False`` (without boxes or instance masks, ``has_boxes = False``); a
task's registered ``needs`` name what it reads (:func:`check_source_for_task`).
:func:`open_source` detects the layout of a folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import UserError

Array = np.ndarray
Sample = dict[str, Array]


@runtime_checkable
class DataSource(Protocol):
    """Indexed rendered images with the ground truth of every pre-training task."""

    root: Path
    format: str
    class_names: list[str]
    image_size: int

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> Sample: ...

    def content_hash(self) -> str: ...

    def scene_id(self, i: int) -> str: ...


class UnknownLayout(UserError):
    """A folder none of the readers recognises."""


@dataclass(frozen=True)
class Layout:
    """A data layout ``open_source`` knows: its name, how to recognise a folder of it, how
    to open one, and what it looks like (for help texts and errors)."""

    name: str
    detect: Callable[[Path], bool]
    open: Callable[..., Any]
    looks_like: str


#: The built-in layouts: name -> the module whose ``LAYOUT`` it is, in detection order
#: (imported on first use; syn2real's own shards are registered here, last).
BUILTIN_LAYOUTS: dict[str, str] = {
    "blenderproc": "syn2real.data.importers.blenderproc",
    "replicator": "syn2real.data.importers.replicator",
    "bop": "syn2real.data.importers.bop",
    "kubric": "syn2real.data.importers.kubric",
    "solo": "syn2real.data.importers.solo",
    "coco": "syn2real.data.importers.coco",
    "cg-transfer": "syn2real.data.importers.cg_transfer",
    "syn2real": "syn2real.data.shards",
}
#: Their names, for help texts and configs that must not import the readers.
LAYOUT_NAMES = ("syn2real", *(k for k in BUILTIN_LAYOUTS if k != "syn2real"))

_LAYOUTS: dict[str, Layout] = {}


def register_layout(layout: Layout) -> None:
    """Make ``open_source`` know a layout (detected after the built-in ones)."""
    _ensure_registered()
    _LAYOUTS[layout.name] = layout


def layouts() -> dict[str, str]:
    """Known layouts and what each looks like."""
    _ensure_registered()
    return {k: v.looks_like for k, v in _LAYOUTS.items()}


def _ensure_registered() -> None:
    if _LAYOUTS.keys() >= BUILTIN_LAYOUTS.keys():
        return
    import importlib

    from .shards import ShardDataset

    builtin: dict[str, Layout] = {}
    for name, module in BUILTIN_LAYOUTS.items():
        if name == "syn2real":
            builtin[name] = Layout("syn2real", lambda p: (p / "manifest.json").is_file(),
                                   lambda p, **kw: ShardDataset(p, **kw),
                                   "manifest.json + shard-00000/{rgb,instance,...}.npy "
                                   "(syn2real render)")
        else:
            builtin[name] = importlib.import_module(module).LAYOUT
    added = {k: v for k, v in _LAYOUTS.items() if k not in builtin}
    _LAYOUTS.clear()
    _LAYOUTS.update(builtin)
    _LAYOUTS.update(added)


def detect_layout(root: str | Path) -> str:
    """The layout of ``root``; one line naming what was looked for when none matches."""
    _ensure_registered()
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such dataset folder. Fix: check the path (or render data "
                        "first with syn2real render)")
    for name, layout in _LAYOUTS.items():
        if layout.detect(root):
            return name
    known = "; ".join(f"{k}: {v.looks_like}" for k, v in _LAYOUTS.items())
    raise UnknownLayout(f"{root}: not a data layout syn2real reads (no manifest.json, no "
                        "*.hdf5 frames, no rgb_*.png, no <scene>/scene_gt.json, no "
                        f"<idx>/annotations.json). Known: {known}. Fix: point at the writer's "
                        "output folder or give --format")


def open_source(root: str | Path, format: str | None = None, **kwargs: Any) -> DataSource:
    """Open a data folder as a :class:`DataSource` (layout detected unless ``format``)."""
    _ensure_registered()
    name = format or detect_layout(root)
    if name not in _LAYOUTS:
        raise UserError(f"unknown data format {name!r}; choose one of {sorted(_LAYOUTS)}")
    return _LAYOUTS[name].open(Path(root), **kwargs)


def read_image(path: Path, *, fix: str, error: type[Exception] = UserError,
               rgb_size: int | None = None) -> Array:
    """An image file as an array (``rgb_size``: as RGB, resized to a square of that side);
    a missing or unreadable file is one ``error`` line naming it, with ``fix``."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if rgb_size is not None:
                return np.asarray(im.convert("RGB").resize((rgb_size, rgb_size)))
            return np.asarray(im)
    except FileNotFoundError:
        raise error(f"{path}: missing. Fix: {fix}") from None
    except OSError as exc:
        raise error(f"{path}: not a readable image ({exc}). Fix: {fix}") from None


def labels_of(semantic: Array, n_classes: int) -> Array:
    """Multi-label vector of the classes visible in a semantic mask (0 = background)."""
    out = np.zeros(n_classes, np.uint8)
    ids = np.unique(semantic)
    ids = ids[(ids > 0) & (ids <= n_classes)]
    out[ids - 1] = 1
    return out


#: Ground truth a source may lack (:attr:`syn2real.registry.TaskInfo.needs`): what a source
#: without it says (``has_<name> = False``) and how to get it.
GROUND_TRUTH = {
    "normals": ("surface normals (in some or all frames)", "render normals"),
    "boxes": ("instance masks or boxes (written without the instance annotator), so objects "
              "cannot be told apart", "write instances (Replicator: "
              "instance_segmentation=True or bounding_box_2d_tight=True; BlenderProc: "
              "map_by=['category_id', 'instance', 'name'])"),
}


def check_source_for_task(source: Any, task: str, where: str | Path) -> None:
    """Refuse, in one line, a pre-training task whose ground truth the source lacks (the
    task's registered :attr:`~syn2real.registry.TaskInfo.needs`; a source without an item
    says ``has_<item> = False``); the fix names the pre-training tasks the source serves."""
    from ..registry import task_info, task_names

    def lacks(name: str) -> list[str]:
        return [g for g in task_info(name).needs if not getattr(source, f"has_{g}", True)]

    missing = lacks(task)
    if not missing:
        return
    what, how = GROUND_TRUTH.get(missing[0],
                                 (missing[0], f"give the data its {missing[0]}"))
    usable = [t for t in task_names(pretrain=True) if not lacks(t)]
    choice = (", ".join(usable[:-1]) + f" or {usable[-1]}" if len(usable) > 1
              else "".join(usable))
    raise UserError(f"{where}: {getattr(source, 'format', 'this')} data has no {what}. Fix: "
                    + (f"pre-train on {choice}, or {how}" if usable else how))
