"""Torch datasets of real images, their targets and the model input: what the fine-tuning
tasks (:mod:`syn2real.tasks.task`) build from a real data set, and :func:`to_tensor`, the one
conversion of an image to the models' input."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

Array = np.ndarray
MEAN = torch.tensor([0.5, 0.5, 0.5]).view(3, 1, 1)
STD = torch.tensor([0.25, 0.25, 0.25]).view(3, 1, 1)


def to_tensor(img: Array, size: int | None = None, normalise: bool = True,
              resize: bool = False) -> torch.Tensor:
    """uint8 (H, W) or (H, W, 3) → float (3, S, S); grey images are repeated to 3 channels and
    centre-padded (never interpolated) to ``size``, or with ``resize`` resized to it (area
    average down, bilinear up)."""
    a = torch.from_numpy(np.array(img, copy=True)).float() / 255.0  # mmap is read-only
    a = a.unsqueeze(0).repeat(3, 1, 1) if a.ndim == 2 else a.permute(2, 0, 1)
    if resize and size is not None and a.shape[-2:] != (size, size):
        down = a.shape[-1] > size
        a = torch.nn.functional.interpolate(a[None], size=(size, size),
                                            mode="area" if down else "bilinear",
                                            **({} if down else {"align_corners": False}))[0]
    if size is not None and a.shape[-1] != size:
        pad = size - a.shape[-1]
        if pad < 0:
            raise ValueError(f"image of {a.shape[-1]} px is larger than the input size {size}. "
                             "Fix: a larger size, or resize the images (finetune resize: "
                             "true in a study, --resize for syn2real finetune)")
        a = torch.nn.functional.pad(a, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))
    return (a - MEAN) / STD if normalise else a


class RealClassification(Dataset):
    """Single-label classification on an :class:`~syn2real.data.real.ImageSet` subset."""

    def __init__(self, images: Array, labels: Array, size: int, flip: bool = False,
                 seed: int = 0, resize: bool = False) -> None:
        self.images, self.labels, self.size, self.flip, self.seed = images, labels, size, flip, seed
        self.resize = resize
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = to_tensor(self.images[i], self.size, resize=self.resize)
        if self.flip and np.random.default_rng((self.seed, self.epoch, i)).integers(2):
            x = x.flip(-1)
        return x, int(self.labels[i])


class _RealSubset(Dataset):
    """The images ``idx`` of a real data set (loaded by :mod:`syn2real.data.folders`)."""

    def __init__(self, data: Any, idx: Array) -> None:
        self.d, self.idx = data, np.asarray(idx, int)

    def __len__(self) -> int:
        return len(self.idx)


class RealDetection(_RealSubset):
    """Detection on real images (:class:`~syn2real.data.folders.DetectionSet` subset)."""

    def __getitem__(self, i: int):
        j = int(self.idx[i])
        return to_tensor(self.d.images[j]), {
            "boxes": torch.from_numpy(np.asarray(self.d.boxes[j], np.float32).reshape(-1, 4)),
            "labels": torch.from_numpy(np.asarray(self.d.labels[j], np.int64) + 1)}


class RealSegmentation(_RealSubset):
    """Semantic segmentation on real images (:class:`~syn2real.data.folders.SegmentationSet`
    subset; 0 = background)."""

    def __getitem__(self, i: int):
        j = int(self.idx[i])
        return to_tensor(self.d.images[j]), torch.from_numpy(self.d.masks[j].astype(np.int64))


class BoardTask(Dataset):
    """Detection or segmentation on composed boards (:class:`~syn2real.data.boards.Boards`)."""

    def __init__(self, boards: Any, task: str) -> None:
        if task not in ("objdet", "semseg"):
            raise ValueError(f"boards support objdet and semseg, got {task!r}")
        self.b, self.task = boards, task

    def __len__(self) -> int:
        return len(self.b)

    def __getitem__(self, i: int):
        x = to_tensor(self.b.images[i])
        if self.task == "semseg":
            return x, torch.from_numpy(self.b.semantic[i].astype(np.int64))
        return x, {"boxes": torch.from_numpy(self.b.boxes[i]),
                   "labels": torch.from_numpy(self.b.classes[i] + 1)}
