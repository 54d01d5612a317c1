"""Synthetic scene generator: seeded scene specs, procedural objects and textures, a headless
OpenGL renderer (moderngl/EGL) and shards with ground truth for every pre-training task."""

from .objects import CLASS_NAMES, class_mesh
from .shards import ShardDataset, render_dataset, write_shard
from .spec import PRESETS, DatasetSpec, preset

__all__ = ["CLASS_NAMES", "PRESETS", "DatasetSpec", "ShardDataset", "class_mesh", "preset",
           "render_dataset", "write_shard"]
