"""Synthetic scene generator: seeded scene specs, procedural objects and textures, a headless
OpenGL renderer (moderngl/EGL) and shards with ground truth for every pre-training task."""

from .objects import CLASS_NAMES, class_mesh
from .shards import render_dataset, write_shard
from .spec import PRESETS, DatasetSpec, preset

__all__ = ["CLASS_NAMES", "PRESETS", "DatasetSpec", "ShardDataset", "class_mesh", "preset",
           "render_dataset", "write_shard"]


def __getattr__(name: str) -> object:
    # the reader lives in syn2real.data; kept reachable here for existing code
    if name == "ShardDataset":
        from ..data.shards import ShardDataset

        return ShardDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
