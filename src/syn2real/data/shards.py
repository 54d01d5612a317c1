"""Reading syn2real shards (the layout is described in :mod:`syn2real.render.shards`, which
writes them): memory-mapped arrays, any prefix of whole shards is a dataset."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Array = np.ndarray
#: Files of one shard folder (raw ``.npy`` storage).
FILES = ("rgb.npy", "instance.npy", "semantic.npy", "normal.npy", "depth.npy", "labels.npy",
         "coco.json")
RAW_FORMAT = "syn2real-shards/1"


@dataclass(frozen=True)
class ShardHeader:
    """What a reader needs of the renders' description (the manifest's ``spec``, written by
    :mod:`syn2real.render.shards`; the full typed description is
    :class:`syn2real.render.spec.DatasetSpec`): image side, views per scene, images per shard
    and the class names (the manifest's ``classes``)."""

    size: int
    views: int
    shard_size: int
    classes: tuple[str, ...]

    @classmethod
    def of(cls, manifest: dict[str, Any], root: Path) -> ShardHeader:
        """Read it from a manifest; a missing or non-positive field is one
        :class:`~syn2real.data.verify.DataFolderError` naming the folder and the field."""
        from .verify import DataFolderError

        spec, values = manifest["spec"], {}
        for key in ("size", "views", "shard_size"):
            v = spec.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise DataFolderError(f"{root}/manifest.json: spec.{key} is {v!r}, not a "
                                      "positive integer. Fix: render the data again (syn2real "
                                      "render with the same spec and --out)")
            values[key] = v
        classes = manifest.get("classes")
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise DataFolderError(f"{root}/manifest.json: no list of class names ('classes'). "
                                  "Fix: render the data again (syn2real render with the same "
                                  "spec and --out)")
        return cls(classes=tuple(classes), **values)


def files_of(manifest: dict) -> tuple[str, ...]:
    """The files of each shard of a dataset, by its storage format."""
    from .tarshards import FORMAT, TAR_FILES

    return TAR_FILES if manifest.get("format") == FORMAT else FILES


class ShardDataset:
    """Memory-mapped reader of a rendered dataset (optionally a prefix of it): a
    :class:`~syn2real.data.sources.DataSource`.

    ``ds[i]`` returns a dict with ``rgb``, ``instance``, ``semantic``, ``normal``, ``depth``
    and ``labels`` of image ``i``. Every shard but the last holds ``header.shard_size`` images;
    the last may be short (a render of any count).
    """

    format = "syn2real"

    def __init__(self, root: str | Path, n: int | None = None, verify: bool = False) -> None:
        """``verify``: also recompute the checksums of the shards used (sizes are always
        checked); a bad or missing file is one :class:`~syn2real.data.verify.DataFolderError`
        naming it and the repair."""
        from .verify import DataFolderError, read_manifest

        self.root = Path(root)
        if not self.root.is_dir():
            raise DataFolderError(f"{self.root}: no such dataset folder. Fix: render the data "
                                  "first (syn2real render ...) or check the path")
        self.manifest = read_manifest(self.root)
        self.header = ShardHeader.of(self.manifest, self.root)
        shards = self.manifest["shards"]
        available = 0
        k = 0
        while str(k) in shards:  # contiguous shards; a short one ends the dataset
            count = int(shards[str(k)].get("images", self.header.shard_size))
            available += count
            k += 1
            if count < self.header.shard_size:
                break
        self.class_names = list(self.header.classes)
        self.compressed = files_of(self.manifest) != FILES
        self.image_size = self.header.size
        self.n = available if n is None else n
        if self.n > available:
            raise ValueError(f"{self.root} has {available} contiguous images, {self.n} asked")
        self.check(self.n, full=verify)
        self._cache: dict[int, dict[str, Array]] = {}

    def check(self, n: int, full: bool = True) -> None:
        """Check the shards holding the first ``n`` images against the manifest (sizes; with
        ``full`` the SHA-256 too); a bad or missing file is one
        :class:`~syn2real.data.verify.DataFolderError` naming it and the repair."""
        from .verify import DataFolderError, check_shards

        bad = check_shards(self.root, full=full, n=n, manifest=self.manifest)
        if bad:
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise DataFolderError(f"{self.root}: {bad[0]}{more}. Fix: rerun syn2real render "
                                  "with the same spec and --out (it re-renders bad shards), "
                                  "or check the folder with syn2real verify")

    def __len__(self) -> int:
        return self.n

    def content_hash(self) -> str:
        """The render spec's hash (shard k depends only on (spec, k))."""
        return str(self.manifest["spec_hash"])

    def scene_id(self, i: int) -> str:
        """Images of one scene (``views`` consecutive views) share it."""
        return str(i // self.header.views)

    def shard(self, k: int) -> Any:
        """Shard ``k``: memory-mapped arrays (raw) or a :class:`~.tarshards.TarShard`."""
        if k not in self._cache:
            d = self.root / f"shard-{k:05d}"
            if self.compressed:
                from .tarshards import TarShard

                self._cache[k] = TarShard(d / "samples.tar", len(self.class_names))
            else:
                self._cache[k] = {name[:-4]: np.load(d / name, mmap_mode="r")
                                  for name in FILES if name.endswith(".npy")}
        return self._cache[k]

    def __getitem__(self, i: int) -> dict[str, Array]:
        if not 0 <= i < self.n:
            raise IndexError(i)
        k, j = divmod(i, self.header.shard_size)
        s = self.shard(k)
        if self.compressed:
            return s[j]
        return {name: arr[j] for name, arr in s.items()}

    def __iter__(self) -> Iterator[dict[str, Array]]:
        for i in range(self.n):
            yield self[i]

    def coco_path(self, k: int) -> Path:
        return self.root / f"shard-{k:05d}" / "coco.json"
