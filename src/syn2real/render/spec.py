"""Declarative, seeded description of a synthetic dataset (BlenderProc/Kubric style).

A :class:`DatasetSpec` fixes everything that decides the images: the four complexity knobs of
the paper, the object library, image size, views per scene and the seed. Its stable hash (of
the canonical JSON) names the dataset; shard ``k`` is rendered from
``SeedSequence([seed, hash, k])`` alone, so any prefix of ``1000 * 2^i`` images is a valid
dataset and "render more" appends shards.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..hashing import stable_hash


class CameraSpec(BaseModel):
    """Where the camera views come from (degrees; BlenderProc-style sampling ranges).

    Each view looks at a random object of the scene from ``distance`` (scene units; x 0.8
    for single objects) at an elevation in ``elevation``, with a roll in ``[-roll, roll]``;
    ``azimuth`` ``None`` is all around, a range is measured from the front of the looked-at
    object (its readable side for glyphs).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    elevation: tuple[float, float] = (5.0, 89.0)
    azimuth: tuple[float, float] | None = None
    roll: float = Field(45.0, ge=0, le=180)
    distance: tuple[float, float] = (1.2, 3.5)

    @model_validator(mode="after")
    def _ranges(self) -> CameraSpec:
        lo, hi = self.elevation
        if not -89.0 <= lo <= hi <= 89.5:
            raise ValueError(f"elevation {self.elevation}: need -89 <= low <= high <= 89.5")
        dlo, dhi = self.distance
        if not 0 < dlo <= dhi:
            raise ValueError(f"distance {self.distance}: need 0 < low <= high")
        if self.azimuth is not None and self.azimuth[0] > self.azimuth[1]:
            raise ValueError(f"azimuth {self.azimuth}: need low <= high")
        return self


class DatasetSpec(BaseModel):
    """Everything that determines a rendered dataset.

    The four knobs of the paper: ``appearance`` (one object or ``n_objects`` per scene),
    ``light`` (fixed or random colour / position / strength of the point and area lights),
    ``background`` (one texture for floor and walls, or a random texture per scene) and
    ``object_texture`` (uniform colours or procedural textures).

    Strict, like the study config: ``size: '32'`` or ``size: true`` is refused, not read as
    32 or 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    appearance: Literal["single", "multiple"] = "multiple"
    n_objects: int = Field(10, ge=1, le=40, description="objects per scene when multiple")
    light: Literal["fixed", "random"] = "random"
    background: Literal["fixed", "random"] = "random"
    object_texture: Literal["without", "with"] = "with"
    size: int = Field(64, ge=16, le=1024, description="image side in pixels")
    views: int = Field(10, ge=1, le=100, description="camera views per scene")
    shard_size: int = Field(1000, ge=10, description="images per shard")
    classes: int | list[str] | None = Field(
        None, description="first k classes of the library, or a list of class names / glob "
        "patterns (e.g. ['glyph_[0-9]'] for the ten digits); default: all")
    mesh_dir: str | None = Field(None, description="folder of user meshes (OBJ/PLY/GLB; a "
                                 "BOP models/ folder) instead of the built-in library")
    texture_dir: str | None = Field(None, description="folder of user textures (PNG/JPG) "
                                    "instead of procedural ones")
    shadows: bool = Field(False, description="shadow map for the point light")
    camera: CameraSpec = Field(default_factory=CameraSpec)
    seed: int = 0

    @model_validator(mode="after")
    def _shard_multiple_of_views(self) -> DatasetSpec:
        if self.shard_size % self.views:
            raise ValueError(f"shard_size ({self.shard_size}) must be a multiple of views "
                             f"({self.views}) so that no scene spans two shards")
        return self

    @property
    def objects_per_scene(self) -> int:
        return 1 if self.appearance == "single" else self.n_objects

    @model_validator(mode="after")
    def _classes_valid(self) -> DatasetSpec:
        if isinstance(self.classes, int) and self.classes < 2:
            raise ValueError(f"classes = {self.classes}: need at least 2")
        if isinstance(self.classes, list) and not self.classes:
            raise ValueError("classes = []: list at least one class name or pattern")
        return self

    @property
    def class_ids(self) -> tuple[int, ...]:
        """Library indices of the classes used; label ``k`` is library class ``class_ids[k]``."""
        from fnmatch import fnmatchcase

        from .objects import get_library

        names = get_library(self.mesh_dir).names
        if self.classes is None:
            return tuple(range(len(names)))
        if isinstance(self.classes, int):
            if self.classes > len(names):
                raise ValueError(f"classes = {self.classes} but the library has {len(names)}")
            return tuple(range(self.classes))
        ids: list[int] = []
        for pat in self.classes:
            hit = [i for i, n in enumerate(names) if fnmatchcase(n, pat) and i not in ids]
            if not hit and not any(fnmatchcase(n, pat) for n in names):
                raise ValueError(f"classes: {pat!r} matches no class of the library (e.g. "
                                 f"{', '.join(names[:4])}, ...; glob patterns like "
                                 "'glyph_[0-9]' are allowed)")
            ids.extend(hit)
        if len(ids) < 2:
            raise ValueError(f"classes {self.classes} select {len(ids)} class; need at least 2")
        return tuple(ids)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the classes used, in label order."""
        from .objects import get_library

        names = get_library(self.mesh_dir).names
        return tuple(names[i] for i in self.class_ids)

    @property
    def n_classes(self) -> int:
        """Number of classes used: ``classes`` or every class of the library."""
        return len(self.class_ids)

    def spec_hash(self) -> str:
        """Stable 16-hex-digit hash of the canonical JSON and of the user asset files."""
        d = self.model_dump(mode="json")
        if self.camera == CameraSpec():  # hashes of specs made before the camera settings
            d.pop("camera")
        return stable_hash(d, 16, [_folder_digest(f) for f in (self.mesh_dir, self.texture_dir)
                                   if f is not None])

    def shard_seed(self, shard: int) -> np.random.SeedSequence:
        """Seed of one shard: depends on (seed, spec hash, shard index) only."""
        return np.random.SeedSequence([self.seed, int(self.spec_hash(), 16) % 2**63, shard])


def _folder_digest(folder: str) -> str:
    """Content hash of a folder of assets (relative paths and bytes)."""
    from pathlib import Path

    h = hashlib.sha256()
    root = Path(folder)
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(root)).encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


#: cg-transfer's rendering levels (pdata bop-lv0 .. lv7).
PRESETS: dict[str, dict] = {
    "lv0": {"appearance": "single", "light": "fixed", "background": "fixed",
            "object_texture": "without"},
    "lv1": {"appearance": "single", "light": "fixed", "background": "fixed",
            "object_texture": "with"},
    "lv2": {"appearance": "multiple", "light": "fixed", "background": "fixed",
            "object_texture": "without"},
    "lv3": {"appearance": "multiple", "light": "random", "background": "fixed",
            "object_texture": "without"},
    "lv4": {"appearance": "multiple", "light": "fixed", "background": "fixed",
            "object_texture": "with"},
    "lv5": {"appearance": "multiple", "light": "random", "background": "fixed",
            "object_texture": "with"},
    "lv6": {"appearance": "multiple", "light": "random", "background": "random",
            "object_texture": "without"},
    "lv7": {"appearance": "multiple", "light": "random", "background": "random",
            "object_texture": "with"},
}


def preset(name: str, **overrides: object) -> DatasetSpec:
    """A preset spec (``lv0`` .. ``lv7``) with optional overrides (size, seed, ...)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return DatasetSpec(**{**PRESETS[name], **overrides})
