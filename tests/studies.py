"""The tiny study the sweep, reliability, tracking and Slurm tests run (seconds per job)."""

from __future__ import annotations

import copy
from typing import Any

TINY_STUDY: dict[str, Any] = {
    "name": "tiny",
    "render": {"presets": ["lv0"], "overrides": {"size": 32, "classes": 3, "shard_size": 30},
               "workers": 1},
    "pretrain": {"n": [20, 40, 60], "iters": 2, "batch": 10, "lr": 0.05, "stem": "imagenet",
                 "val_images": 20},
    "finetune": [{"task": "sinclass", "dataset": "digits", "counts": [30], "iters": 2,
                  "batch": 16}],
    "seeds": [0],
    "executor": {"workers": 1, "threads": 2},
    "fit": {"target": 0.5},
}


def tiny(**top: Any) -> dict[str, Any]:
    """A fresh copy of :data:`TINY_STUDY` with some top-level keys replaced."""
    return {**copy.deepcopy(TINY_STUDY), **copy.deepcopy(top)}
