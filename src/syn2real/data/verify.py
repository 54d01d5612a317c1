"""Checking a rendered dataset folder against its manifest.

Every shard entry of ``manifest.json`` records the SHA-256 (and, since this version, the
size) of each file. :func:`check_shards` finds what is missing, truncated or altered:
``full=False`` checks existence and sizes (the size recorded, or for ``.npy`` files the
size their header implies), cheap enough for every open; ``full=True`` also recomputes the
checksums (``syn2real verify``, a rerun of ``syn2real render``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..hashing import sha256_file
from .shards import files_of


class DataFolderError(UserError):
    """A rendered dataset folder that cannot be read as it is."""


@dataclass(frozen=True)
class Problem:
    """One bad file of a shard."""

    shard: int
    file: str
    what: str  # "missing" | "truncated" | "checksum"

    def __str__(self) -> str:
        return f"shard-{self.shard:05d}/{self.file}: {self.what}"


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of a dataset folder; a missing or unreadable one is one clear line."""
    path = Path(root) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict) or not isinstance(manifest.get("spec"), dict) or \
                not isinstance(manifest.get("shards"), dict):
            raise ValueError("not a JSON object with 'spec' and 'shards'")
        return manifest
    except FileNotFoundError:
        raise DataFolderError(f"{root}: no manifest.json. Fix: render the data first "
                              "(syn2real render ...)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataFolderError(f"{path}: not a readable manifest ({exc}). Fix: rerun "
                              "syn2real render with the same spec and --out: it rebuilds the "
                              "manifest from the shard folders") from None


def _npy_bytes(path: Path) -> int | None:
    """The size an ``.npy`` file must have according to its header (None: unreadable)."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            shape, _, dtype = np.lib.format._read_array_header(fh, version)
            return fh.tell() + int(np.prod(shape)) * dtype.itemsize
    except (OSError, ValueError):
        return None


def check_shard(root: Path, entry: dict[str, Any], full: bool = False,
                files: tuple[str, ...] | None = None) -> list[Problem]:
    """Problems of one shard (empty: good); ``files``: the shard's files (default: those the
    entry's checksums name)."""
    k = int(entry["index"])
    d = Path(root) / f"shard-{k:05d}"
    out = []
    for name in files or tuple(entry.get("sha256", {})):
        p = d / name
        if not p.is_file():
            out.append(Problem(k, name, "missing"))
            continue
        size = p.stat().st_size
        want = entry.get("bytes", {}).get(name)
        if want is None and name.endswith(".npy"):
            want = _npy_bytes(p)
            if want is None:
                out.append(Problem(k, name, "truncated"))
                continue
        if want is not None and size != want:
            out.append(Problem(k, name, "truncated" if size < want else "wrong size"))
            continue
        if full and sha256_file(p) != entry["sha256"][name]:
            out.append(Problem(k, name, "checksum"))
    return out


def check_shards(root: str | Path, full: bool = False, n: int | None = None,
                 manifest: dict[str, Any] | None = None) -> list[Problem]:
    """Problems of every shard in the manifest (or of those holding the first ``n``
    images)."""
    root = Path(root)
    manifest = manifest or read_manifest(root)
    size = int(manifest["spec"].get("shard_size", 0)) or 1
    out = []
    for key in sorted(manifest["shards"], key=int):
        entry = manifest["shards"][key]
        if n is not None and int(key) * size >= n:
            continue
        out.extend(check_shard(root, entry, full, files_of(manifest)))
    return out
