"""Torch datasets over rendered data (any layout :mod:`syn2real.data.sources` opens) with a
pre-training task's targets; the real data's are the tasks' own
(:mod:`syn2real.tasks.datasets`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.utils.data import Dataset

from ..registry import task_names
from ..tasks.datasets import to_tensor
from ..tasks.task import Task, get_task


class SyntheticTask(Dataset):
    """Images ``[start, stop)`` of a rendered dataset with the target of a pre-training task.

    The target comes from the task object (:meth:`~syn2real.tasks.task.Task.synthetic_target`):
    ``mulclass``: multi-label vector; ``semseg``: class mask (0 background); ``normal``:
    (normals (3, H, W), valid mask); ``objdet``: torchvision target dict (boxes, labels).
    """

    def __init__(self, shards: Any, task: str | Task, start: int, stop: int,
                 flip: bool = False, seed: int = 0) -> None:
        self.task = get_task(task, task_names(pretrain=True))
        self.ds, self.start, self.stop = shards, start, stop
        self.flip = flip and self.task.flips  # a flip would break the normals' frame
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, i: int):
        item = self.ds[self.start + i]
        x = to_tensor(np.asarray(item["rgb"]), normalise=True)
        y = self.task.synthetic_target(item)
        if self.flip and bool(np.random.default_rng((self.seed, self.epoch, i)).integers(2)):
            x = x.flip(-1)
            y = self.task.flip_target(y, x.shape[-1])
        return x, y


def collate(task: str | Task):
    """Batching of a task (stacked tensors; detection targets stay lists)."""
    return get_task(task).collate
