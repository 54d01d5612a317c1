"""Renders out of syn2real: real image files and annotations other trainers read, and nested
n-prefix subsets for running the paper's protocol with any trainer.

Formats (each checked in the tests with the library that consumes it):

``coco``        ``images/<i>.png`` + ``annotations.json`` (instances: boxes, RLE masks,
                categories 1..K by name; pycocotools / detectron2 / mmdet)
``yolo``        Ultralytics' detection layout: ``images/<i>.png``, ``labels/<i>.txt``
                (``class cx cy w h``, normalised) and ``data.yaml`` (``path``, ``train``,
                ``val``, ``names``)
``imagefolder`` ``<class>/<i>.png`` (torchvision ``ImageFolder``; the class of an image is
                the one covering most of its pixels: single-label classification). Every
                class has a folder, also an empty one, so that label indices are the same in
                every subset: load with ``ImageFolder(root, allow_empty=True)``
``list``        (subsets only) ``n_<n>.txt``: the image indices of each subset, one per line

:func:`subset_order` fixes, from a seed, the order in which whole scenes enter: every subset
is a prefix of it (1,000 ⊂ 2,000 ⊂ ...), scenes are never split except the last one of a
subset, cut to give exactly ``n`` images. :func:`write_subsets` writes the images once (for
the largest ``n``) and per subset only annotations or file lists (no copies), plus
``subsets.csv`` (n, where, scenes) and ``runs.csv`` (``n,error``: the runs to do; write each
measured error in as runs finish, then ``syn2real advise runs.csv`` says which to run next;
the errors in an existing ``runs.csv`` are kept).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import UserError, full_disk_reported

Array = np.ndarray
FORMATS = ("coco", "yolo", "imagefolder")
SUBSET_FORMATS = (*FORMATS, "list")


def subset_order(source: Any, seed: int = 0) -> np.ndarray:
    """Image indices, whole scenes in a seeded random order (images of a scene in order)."""
    scenes: dict[str, list[int]] = {}
    for i in range(len(source)):
        scenes.setdefault(source.scene_id(i), []).append(i)
    keys = list(scenes)
    perm = np.random.default_rng(seed).permutation(len(keys))
    return np.array([i for k in perm for i in scenes[keys[k]]], int)


def _check_sizes(ns: Sequence[int], available: int) -> list[int]:
    ns = sorted({int(n) for n in ns})
    if not ns or ns[0] < 1:
        raise UserError(f"subset sizes must be positive, got {list(ns)}. Fix: e.g. --n "
                        "1000,2000,4000")
    if ns[-1] > available:
        raise UserError(f"the largest subset ({ns[-1]:,}) exceeds the {available:,} images "
                        "of the data. Fix: render more or drop that size")
    return ns


def _png(path: Path, a: Array) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(a)).save(path, optimize=False, compress_level=1)


def _box(m: Array) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(m)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min()
                                                                           + 1)


def _name(i: int) -> str:
    return f"{i:07d}.png"


@dataclass(frozen=True)
class ImageNotes:
    """What every export format needs of one image, read from the source once: its size and,
    per object, the class, box ``(x, y, w, h)``, area and COCO RLE mask."""

    width: int
    height: int
    objects: list[tuple[int, tuple[int, int, int, int], int, dict]]

    @property
    def dominant(self) -> int | None:
        """The class covering most pixels (single-label export), None without objects."""
        if not self.objects:
            return None
        area = np.bincount([c for c, *_ in self.objects],
                           weights=[a for _, _, a, _ in self.objects])
        return int(area.argmax())


def read_notes(source: Any, idx: Sequence[int],
               on_image: Callable[[int, Array, ImageNotes], None] | None = None
               ) -> dict[int, ImageNotes]:
    """One pass over the images ``idx``: their notes; ``on_image(i, rgb, notes)`` is called
    for each (to write its file while the sample is in memory)."""
    from pycocotools import mask as mask_utils

    notes = {}
    for i in idx:
        s = source[int(i)]
        inst, sem = np.asarray(s["instance"]), np.asarray(s["semantic"])
        objs = []
        for j in np.unique(inst[inst >= 1]):
            m = inst == j
            c = int(np.bincount(sem[m]).argmax())
            if c == 0:
                continue
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")
            objs.append((c - 1, _box(m), int(m.sum()), rle))
        h, w = s["rgb"].shape[:2]
        notes[int(i)] = ImageNotes(int(w), int(h), objs)
        if on_image is not None:
            on_image(int(i), s["rgb"], notes[int(i)])
    return notes


def _png_once(path: Path, rgb: Array) -> None:
    """Write an image unless it is there (a rerun completes an interrupted export)."""
    if not path.exists():
        _png(path, rgb)


def coco_dict(source: Any, notes: dict[int, ImageNotes], idx: Sequence[int], image_dir: str
              ) -> dict[str, Any]:
    """The COCO instances dict of the images ``idx`` (ids ``i + 1``; categories 1..K)."""
    images, anns = [], []
    for i in idx:
        nt = notes[int(i)]
        images.append({"id": int(i) + 1, "file_name": f"{image_dir}/{_name(int(i))}",
                       "width": nt.width, "height": nt.height})
        for c, box, area, rle in nt.objects:
            anns.append({"id": len(anns) + 1, "image_id": int(i) + 1, "category_id": c + 1,
                         "bbox": list(box), "area": area, "iscrowd": 0, "segmentation": rle})
    return {"info": {"description": f"exported by syn2real from {source.root} "
                                    f"({source.format}, {source.content_hash()})"},
            "images": images, "annotations": anns,
            "categories": [{"id": c + 1, "name": n} for c, n in enumerate(source.class_names)]}


def _yolo_label(nt: ImageNotes) -> str:
    lines = [f"{c} {(x + bw / 2) / nt.width:.6f} {(y + bh / 2) / nt.height:.6f} "
             f"{bw / nt.width:.6f} {bh / nt.height:.6f}" for c, (x, y, bw, bh), _, _ in nt.objects]
    return "\n".join(lines) + ("\n" if lines else "")


def _yaml(path: Path, fields: dict[str, Any]) -> None:
    import yaml

    atomic_write(path, yaml.safe_dump(fields, sort_keys=False))


_OURS = re.compile(r"^\d{7}\.(png|txt)$")


def _prune(folders: Sequence[Path], keep: set[Path]) -> int:
    """Remove the files an earlier export wrote in ``folders`` (syn2real's own 7-digit
    names) that this export does not contain; other files are left alone. Returns the
    number removed."""
    gone = 0
    for d in folders:
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if _OURS.match(p.name) and p not in keep and (p.is_file() or p.is_symlink()):
                p.unlink()
                gone += 1
    return gone


def _class_folders(source: Any, folder: Path) -> None:
    """A folder per class (also an empty one: labels agree across subsets)."""
    for name in source.class_names:
        (folder / _safe(name)).mkdir(parents=True, exist_ok=True)


def _class_path(source: Any, folder: Path, i: int, nt: ImageNotes) -> Path | None:
    """``folder/<class>/<i>.png`` of an image, None for one without any object."""
    c = nt.dominant
    return None if c is None else folder / _safe(source.class_names[c]) / _name(i)


def export_data(source: Any, out: str | Path, fmt: str, indices: Sequence[int] | None = None,
                notes: dict[int, ImageNotes] | None = None,
                val: Sequence[int] | None = None) -> dict[str, Any]:
    """Write ``source`` (or the images ``indices``) as real files in ``fmt``.

    ``val``: images held out for validation (:func:`scene_split`), written where each
    trainer looks for them: YOLO ``data.yaml`` with ``train.txt`` / ``val.txt``, COCO
    ``annotations.json`` (the training images) + ``annotations_val.json``, ImageFolder
    ``train/<class>/`` + ``val/<class>/``. Without it every index names all the images.

    Returns a summary (images written, files, format). Images already exported with the same
    name are kept (a rerun completes an interrupted export); annotation files are written
    atomically last, so a half-finished export is never a loadable one. Each image is read
    from the source once (``notes``: those of an earlier :func:`read_notes`, filled in here).
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    idx = list(range(len(source))) if indices is None else [int(i) for i in indices]
    if not idx:
        raise UserError(f"{source.root}: nothing to export (0 images)")
    held = [] if val is None else [int(i) for i in val]
    out.mkdir(parents=True, exist_ok=True)
    notes = {} if notes is None else notes
    if fmt == "imagefolder" and held:
        a = export_data(source, out / "train", fmt, idx, notes)
        b = export_data(source, out / "val", fmt, held, notes)
        return {**a, "path": str(out), "val_images": b["images"],
                "skipped_no_object": a["skipped_no_object"] + b["skipped_no_object"],
                "removed_stale": a["removed_stale"] + b["removed_stale"]}
    with full_disk_reported(out):
        if fmt == "imagefolder":
            _class_folders(source, out)

            def into_class(i: int, rgb: Array, nt: ImageNotes) -> None:
                p = _class_path(source, out, i, nt)
                if p is not None:  # an image without any object has no class
                    _png_once(p, rgb)

            notes.update(read_notes(source, idx, into_class))
            skipped = sum(notes[i].dominant is None for i in idx)
            keep = {p for i in idx if (p := _class_path(source, out, i, notes[i])) is not None}
            stale = _prune([p for p in out.iterdir() if p.is_dir()], keep)
            return {"format": fmt, "images": len(idx) - skipped, "skipped_no_object": skipped,
                    "removed_stale": stale, "path": str(out)}
        every = idx + held
        images = out / "images"
        images.mkdir(exist_ok=True)
        todo = [i for i in every if i not in notes or not (images / _name(i)).exists()]
        notes.update(read_notes(source, todo,
                                lambda i, rgb, _: _png_once(images / _name(i), rgb)))
        if fmt == "coco":
            atomic_write(out / "annotations.json",
                         json.dumps(coco_dict(source, notes, idx, "images"),
                                    separators=(",", ":")))
        else:
            labels = out / "labels"
            labels.mkdir(exist_ok=True)
            for i in every:
                atomic_write(labels / f"{i:07d}.txt", _yolo_label(notes[i]))
            if held:
                atomic_write(out / "train.txt", "\n".join(
                    str((images / _name(i)).resolve()) for i in idx) + "\n")
            _yaml(out / "data.yaml", {"path": str(out.resolve()),
                                      "train": "train.txt" if held else "images",
                                      "val": "val.txt" if held else "images",
                                      "names": dict(enumerate(source.class_names))})
        if held:
            _write_val(source, out, fmt, np.asarray(held), notes)
        # an earlier export into this folder: its other images would be trained on too
        stale = _prune([images], {images / _name(i) for i in every})
        stale += _prune([out / "labels"], {out / "labels" / f"{i:07d}.txt" for i in every})
    return {"format": fmt, "images": len(idx), "val_images": len(held), "removed_stale": stale,
            "path": str(out)}


def scene_split(source: Any, idx: Sequence[int], size: int) -> tuple[list[int], list[int]]:
    """(train, val) of the images ``idx``: whole scenes from the end of ``idx`` held out
    until ``size`` images are (no view of a validation scene is trained on)."""
    idx = [int(i) for i in idx]
    if not 1 <= size < len(idx):
        raise UserError(f"a validation split of {size:,} images out of {len(idx):,}: give "
                        f"1..{len(idx) - 1:,} (or --val 0 for none)")
    by_scene: dict[str, list[int]] = {}
    for i in idx:
        by_scene.setdefault(str(source.scene_id(i)), []).append(i)
    val: list[int] = []
    for scene in reversed(list(by_scene)):
        if len(val) >= size:
            break
        val.extend(by_scene[scene])
    held = set(val)
    train = [i for i in idx if i not in held]
    if not train:
        raise UserError(f"every image is in a scene held out for validation ({len(by_scene)} "
                        "scenes): export more images or a smaller --val")
    return train, sorted(val)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def validation_split(source: Any, order: Array, n_train: int, size: int) -> Array:
    """``size`` images for validation, none from a scene of the first ``n_train`` images of
    ``order`` (no view of a training scene is validated on): the end of the order."""
    train_scenes = {source.scene_id(int(i)) for i in order[:n_train]}
    free = [int(i) for i in order[n_train:] if source.scene_id(int(i)) not in train_scenes]
    if len(free) < size:
        raise UserError(f"{getattr(source, 'root', 'the data')}: no room for a validation "
                        f"split of {size:,} images: the largest subset takes {n_train:,} of "
                        f"the {len(source):,} images and {len(free):,} outside its scenes are "
                        f"left. Fix: render at least {size - len(free):,} more images, or a "
                        "smaller --val")
    return np.array(free[len(free) - size:], int)


def write_subsets(source: Any, ns: Sequence[int], out: str | Path, fmt: str, seed: int = 0,
                  val: int | None = None) -> list[dict[str, Any]]:
    """Nested, scene-grouped, seeded n-prefix subsets in a trainer's format, and ``runs.csv``.

    Parameters
    ----------
    source : DataSource
        The synthetic images.
    ns : sequence of int
        Subset sizes (e.g. 1000·2^i).
    out : path
        Output folder.
    fmt : {"coco", "yolo", "imagefolder", "list"}
        ``coco``: one ``images/`` folder and ``annotations_n<n>.json`` per subset;
        ``yolo``: ``images/`` + ``labels/``, ``train_n<n>.txt`` (image paths) and
        ``data_n<n>.yaml`` per subset; ``imagefolder``: ``n_<n>/<class>/`` of symbolic links
        into ``images/``; ``list``: ``n_<n>.txt`` of image indices.
    seed : int
        Order of the scenes.
    val : int, optional
        Images of the fixed validation split (default: 10% of the largest subset, at least
        1): the same for every subset, from scenes no subset contains (YOLO's ``val:`` is
        ``val.txt``; COCO ``annotations_val.json``; ImageFolder ``val/``; list ``val.txt``).
        A trainer validating on its own training images would report training-set accuracy.

    Returns
    -------
    list of dict
        One row per subset (what ``subsets.csv`` holds).
    """
    if fmt not in SUBSET_FORMATS:
        raise UserError(f"unknown subset format {fmt!r}; choose one of "
                        f"{', '.join(SUBSET_FORMATS)}")
    ns = _check_sizes(ns, len(source))
    order = subset_order(source, seed)
    out = Path(out)
    digests = {n: _subset_digest(source, order[:n]) for n in ns}
    _check_recut(out, digests)      # before anything is written: measured errors stay valid
    out.mkdir(parents=True, exist_ok=True)
    largest = order[: ns[-1]]
    size = max(1, round(0.1 * ns[-1])) if val is None else int(val)
    if size < 1:
        raise UserError(f"--val must be at least 1 image, got {size}. Fix: a trainer needs "
                        "images to validate on that it does not train on")
    val_idx = validation_split(source, order, ns[-1], size)
    every = np.concatenate([largest, val_idx])
    rows = []
    notes: dict[int, ImageNotes] = {}  # each image read once, whatever the number of subsets
    with full_disk_reported(out):
        if fmt in ("coco", "yolo"):
            export_data(source, out, fmt, every, notes=notes)  # images (and labels) once
        elif fmt == "imagefolder":
            images = out / "images"
            images.mkdir(exist_ok=True)
            notes = read_notes(source, every,
                               lambda i, rgb, _: _png_once(images / _name(i), rgb))
        _write_val(source, out, fmt, val_idx, notes)
        for n in ns:
            idx = order[:n]
            if fmt == "list":
                path = out / f"n_{n}.txt"
                atomic_write(path, "\n".join(str(int(i)) for i in idx) + "\n")
            elif fmt == "coco":
                path = out / f"annotations_n{n}.json"
                atomic_write(path, json.dumps(coco_dict(source, notes, idx, "images"),
                                              separators=(",", ":")))
            elif fmt == "yolo":
                lst = out / f"train_n{n}.txt"
                atomic_write(lst, "\n".join(str((out / "images" / _name(int(i))).resolve())
                                            for i in idx) + "\n")
                path = out / f"data_n{n}.yaml"
                _yaml(path, {"path": str(out.resolve()), "train": lst.name,
                             "val": "val.txt", "names": dict(enumerate(source.class_names))})
            else:
                path = out / f"n_{n}"
                _link_classes(source, path, idx, notes)
            rows.append({"n": n, "subset": str(path),
                         "scenes": len({source.scene_id(int(i)) for i in idx}),
                         "digest": digests[n]})
        _csv(out / "subsets.csv", rows, ["n", "subset", "scenes", "digest"])
        runs = out / "runs.csv"
        done: dict[int, str] = {}
        if runs.exists():  # errors a user has written in are kept, new sizes added
            with open(runs, newline="") as fh:
                for r in csv.DictReader(fh):
                    try:
                        done[int(float(r["n"]))] = (r.get("error") or "").strip()
                    except (KeyError, ValueError):
                        raise UserError(f"{runs}: not the n,error table syn2real wrote. "
                                        "Fix: move it away and run syn2real subsets again") \
                            from None
        sizes = sorted(set(done) | {r["n"] for r in rows})
        _csv(runs, [{"n": n, "error": done.get(n, "")} for n in sizes], ["n", "error"])
    return rows


def _write_val(source: Any, out: Path, fmt: str, idx: Array,
               notes: dict[int, ImageNotes]) -> None:
    """The validation split in ``fmt`` (see :func:`write_subsets`)."""
    if fmt == "list":
        atomic_write(out / "val.txt", "\n".join(str(int(i)) for i in idx) + "\n")
    elif fmt == "yolo":
        atomic_write(out / "val.txt", "\n".join(str((out / "images" / _name(int(i))).resolve())
                                                for i in idx) + "\n")
    elif fmt == "coco":
        atomic_write(out / "annotations_val.json",
                     json.dumps(coco_dict(source, notes, idx, "images"), separators=(",", ":")))
    else:
        _link_classes(source, out / "val", idx, notes)


def _link_classes(source: Any, path: Path, idx: Any, notes: dict[int, ImageNotes]) -> None:
    """``path/<class>/<i>.png`` links into ``images/`` for the images ``idx``; links of
    another cut left in ``path`` are removed."""
    _class_folders(source, path)
    links = set()
    for i in idx:
        link = _class_path(source, path, int(i), notes[int(i)])
        if link is None:
            continue
        if not link.is_symlink():
            link.symlink_to(Path("..", "..", "images", _name(int(i))))
        links.add(link)
    _prune([p for p in path.iterdir() if p.is_dir()], links)


def _subset_digest(source: Any, idx: Any) -> str:
    """Identity of one subset: the data folder, its size and the chosen images (a new seed
    or other data gives another digest)."""
    import hashlib

    root = str(getattr(source, "root", "") or getattr(source, "path", ""))
    text = f"{root}|{len(source)}|" + ",".join(str(int(i)) for i in idx)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _check_recut(out: Path, digests: dict[int, str]) -> None:
    """Refuse to re-cut subsets into ``out`` when ``runs.csv`` holds an error measured on a
    subset of the same size that the new cut would change."""
    runs, subs = out / "runs.csv", out / "subsets.csv"
    if not (runs.is_file() and subs.is_file()):
        return
    with open(subs, newline="") as fh:
        old = {int(float(r["n"])): (r.get("digest") or "") for r in csv.DictReader(fh)
               if r.get("n")}
    with open(runs, newline="") as fh:
        measured = {int(float(r["n"])) for r in csv.DictReader(fh)
                    if r.get("n") and (r.get("error") or "").strip()}
    changed = sorted(n for n in measured if n in digests and old.get(n) != digests[n])
    if changed:
        raise UserError(f"{runs}: holds errors measured on the subsets n = "
                        f"{', '.join(map(str, changed))}, and this cut (another --seed or other "
                        "data) would change those subsets. Fix: write the new cut to another "
                        "-o folder, or move runs.csv away if those errors are to be discarded")


def _csv(path: Path, rows: list[dict[str, Any]], fields: list[str]) -> None:
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write(path, buf.getvalue())
