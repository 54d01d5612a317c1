"""Compressed shards (``syn2real render --storage tar``): WebDataset-style tar files of PNGs.

The raw shards store arrays as ``.npy`` (~57 KB per 64 px image with every ground truth);
at the paper's scale (1.28M images, 224 px) that is ~1 TB. A compressed shard holds the same
images in ``shard-<k>/samples.tar`` (plus the same ``coco.json``), one WebDataset sample per
image (``webdataset.WebDataset`` reads it as it is; keys ``<index>.<field>``):

==================  =====================================  ===========================
member              encoding                               decoded
==================  =====================================  ===========================
``.rgb.png``        8-bit RGB PNG                          identical
``.instance.png``   16-bit grey PNG of ``instance + 1``    identical
``.semantic.png``   16-bit grey PNG                        identical
``.normal.png``     8-bit RGB PNG of ``(n + 1) · 127.5``   within 1/127.5 per component,
                                                           renormalised (< 0.5°); 0 where
                                                           no surface was hit
``.depth.png``      16-bit grey PNG of the float16 bits    identical (bit for bit)
``.labels.json``    the visible classes                    identical
==================  =====================================  ===========================

Writing is deterministic (fixed tar headers, PNG without timestamps): the same spec gives the
same bytes on every run and with any number of workers. Reading keeps an index of member
offsets and reads each member with one ``pread``. ``benchmarks/bench_data.py`` measures
bytes per image and read rates of both formats.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

Array = np.ndarray
TAR_FILES = ("samples.tar", "coco.json")
FORMAT = "syn2real-tar/1"


def _png_bytes(a: Array) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    if a.dtype == np.uint16 and a.ndim != 2:
        raise ValueError("16-bit PNGs are single-channel here")
    Image.fromarray(a).save(buf, format="PNG", compress_level=6)  # uint16 2-D: mode I;16
    return buf.getvalue()


def _decode_png(b: bytes) -> Array:
    from PIL import Image

    with Image.open(io.BytesIO(b)) as im:
        return np.asarray(im)


def encode_sample(rgb: Array, instance: Array, semantic: Array, normal: Array, depth: Array,
                  labels: Array) -> dict[str, bytes]:
    """The members of one sample (field -> bytes)."""
    inst = (np.asarray(instance, np.int32) + 1).astype(np.uint16)
    nrm = np.asarray(normal, np.float32)
    q = np.clip(np.rint((nrm + 1.0) * 127.5), 0, 255).astype(np.uint8)
    q[np.asarray(instance) < 0] = 0  # no surface: decoded as 0
    return {"rgb.png": _png_bytes(np.ascontiguousarray(rgb, np.uint8)),
            "instance.png": _png_bytes(inst),
            "semantic.png": _png_bytes(np.asarray(semantic).astype(np.uint16)),
            "normal.png": _png_bytes(q),
            "depth.png": _png_bytes(np.ascontiguousarray(depth, np.float16).view(np.uint16)),
            "labels.json": json.dumps(np.flatnonzero(labels).tolist()).encode()}


def decode_sample(members: dict[str, bytes], n_classes: int) -> dict[str, Array]:
    """A sample as the raw shards give it."""
    inst = _decode_png(members["instance.png"]).astype(np.int32) - 1
    q = _decode_png(members["normal.png"]).astype(np.float32)
    nrm = q / 127.5 - 1.0
    length = np.linalg.norm(nrm, axis=-1, keepdims=True)
    hit = (inst >= 0)[..., None]
    nrm = np.where(hit, nrm / np.maximum(length, 1e-6), 0.0)
    labels = np.zeros(n_classes, np.uint8)
    labels[json.loads(members["labels.json"])] = 1
    return {"rgb": _decode_png(members["rgb.png"]),
            "instance": inst.astype(np.int16),
            "semantic": _decode_png(members["semantic.png"]).astype(np.int16),
            "normal": nrm.astype(np.float16),
            "depth": np.ascontiguousarray(_decode_png(members["depth.png"]).astype(np.uint16))
            .view(np.float16),
            "labels": labels}


def write_tar(path: Path, arrays: dict[str, Any]) -> None:
    """Write a shard's arrays (``render_shard_arrays``) as one deterministic tar."""
    n = len(arrays["rgb.npy"])
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(n):
            sample = encode_sample(arrays["rgb.npy"][i], arrays["instance.npy"][i],
                                   arrays["semantic.npy"][i], arrays["normal.npy"][i],
                                   arrays["depth.npy"][i], arrays["labels.npy"][i])
            for field, data in sample.items():
                info = tarfile.TarInfo(f"{i:06d}.{field}")
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))


class TarShard:
    """Random access to the samples of one ``samples.tar`` (an index of member offsets)."""

    def __init__(self, path: str | Path, n_classes: int) -> None:
        self.path = Path(path)
        self.n_classes = n_classes
        self.index: dict[str, tuple[int, int]] = {}
        try:
            with tarfile.open(self.path, "r") as tar:
                for m in tar.getmembers():
                    self.index[m.name] = (m.offset_data, m.size)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise self._damaged(f"not a readable tar ({exc})") from None
        self.count = len({k.split(".", 1)[0] for k in self.index})
        self._fd: int | None = None

    def __len__(self) -> int:
        return self.count

    def _read(self, name: str) -> bytes:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        off, size = self.index[name]
        return os.pread(self._fd, size, off)

    def _damaged(self, what: str) -> Exception:
        from .verify import DataFolderError

        return DataFolderError(f"{self.path}: {what}: the shard was changed after it was "
                               "written. Fix: syn2real verify on the folder names every bad "
                               "shard; syn2real render with the same spec and --out rewrites "
                               "them")

    def __getitem__(self, j: int) -> dict[str, Array]:
        key = f"{j:06d}"
        names = [f"{key}.{f}" for f in ("rgb.png", "instance.png", "semantic.png",
                                        "normal.png", "depth.png", "labels.json")]
        missing = [n for n in names if n not in self.index]
        if missing:
            raise self._damaged(f"no member {missing[0]}")
        try:
            return decode_sample({n.split(".", 1)[1]: self._read(n) for n in names},
                                 self.n_classes)
        except (ValueError, OSError, KeyError, IndexError) as exc:
            raise self._damaged(f"sample {j} does not decode ({type(exc).__name__}: {exc})"
                                ) from None

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers reopen the file
        d = dict(self.__dict__)
        d["_fd"] = None
        return d

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
