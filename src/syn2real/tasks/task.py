"""Task objects: what a task is, in one place (its model, targets, loss, batching,
evaluation and, for fine-tuning, the datasets it builds from real data).

Training and evaluation code asks the task object instead of branching on its name. A new
task is one :class:`Task` subclass (here or in any module) plus one
:func:`syn2real.registry.register_task` naming it (its cost and the real layouts it
serves live there, torch-free). An unknown name is an error (:func:`get_task`), never a
silent fall-through to another task's metric.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..registry import task_info
from . import datasets, metrics


class Task:
    """Base class; subclasses set ``name``, ``metric`` and override what differs."""

    name: ClassVar[str]
    metric: ClassVar[str]
    #: horizontal flips keep the target valid (not for surface normals)
    flips: ClassVar[bool] = True
    #: learning-rate decay after warm-up: "cosine" or "poly" (0.9)
    decay: ClassVar[str] = "cosine"

    def num_classes(self, n_classes: int) -> int:
        """The class count the head and the metric use for ``n_classes`` object classes."""
        return n_classes

    def build(self, arch: str, num_classes: int, stem: bool | str, size: int) -> nn.Module:
        """The task's model (head for ``num_classes`` from :meth:`num_classes`) on a randomly
        initialised torchvision ResNet backbone (:mod:`syn2real.tasks.models`)."""
        raise NotImplementedError

    # -- fine-tuning on real data -------------------------------------------------------------
    def real_subset(self, train_set: Any, *, count: int | None, fraction: float | None,
                    seed: int, user_data: bool) -> np.ndarray:
        """The indices of the real training images used: class-balanced by default."""
        from ..data import balanced_subset

        return balanced_subset(train_set.labels, count=count, fraction=fraction, seed=seed)

    def real_sets(self, train_set: Any, test_set: Any, idx: np.ndarray, *, size: int,
                  seed: int, data_seed: int, boards: int, resize: bool, user_data: bool
                  ) -> tuple[Any, Any]:
        """The (train, test) torch datasets of a fine-tuning on real data: ``train_set`` /
        ``test_set`` as :func:`syn2real.data.folders.load_user_split` (``user_data``) or the
        bundled sets give them, ``idx`` from :meth:`real_subset`."""
        raise ValueError(f"{self.name} is not a fine-tuning task on real images")

    # -- targets ---------------------------------------------------------------------------
    def synthetic_target(self, item: dict[str, Any]) -> Any:
        """The target of one rendered image (a shard item)."""
        raise ValueError(f"{self.name} is not a pre-training task on rendered images")

    def flip_target(self, y: Any, width: int) -> Any:
        return y

    def collate(self, batch: list[tuple[torch.Tensor, Any]]) -> tuple[torch.Tensor, Any]:
        xs = torch.stack([b[0] for b in batch])
        ys = [b[1] for b in batch]
        if isinstance(ys[0], torch.Tensor):
            return xs, torch.stack(ys)
        return xs, torch.tensor(ys)

    def to_device(self, y: Any, device: torch.device) -> Any:
        return y.to(device)

    # -- training and evaluation ------------------------------------------------------------
    def loss(self, model: nn.Module, x: torch.Tensor, y: Any) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader: Any, num_classes: int,
                 device: torch.device) -> dict[str, float]:
        """Metric and error (1 - metric) of ``model`` on ``loader``."""
        model.eval()
        state: list[Any] = []
        try:
            for x, y in loader:
                state.append(self._batch_eval(model, x.to(device), y, num_classes))
        finally:
            model.train()
        m = self._finish(state, num_classes)
        return {**m, "error": 1.0 - m[self.metric]} if "error" not in m else m

    def _batch_eval(self, model: nn.Module, x: torch.Tensor, y: Any, num_classes: int) -> Any:
        raise NotImplementedError

    def _finish(self, state: list[Any], num_classes: int) -> dict[str, float]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<task {self.name}>"


class _Classification(Task):
    """Logits against labels, scored by ``score(logits, labels)`` over the whole set."""

    score: ClassVar[Any]

    def build(self, arch, num_classes, stem, size):
        from .models import Classifier, build_backbone

        return Classifier(build_backbone(arch, stem), num_classes)

    def _batch_eval(self, model, x, y, num_classes):
        return model(x).float().cpu().numpy(), y.numpy()

    def _finish(self, state, num_classes):
        logits = np.concatenate([s[0] for s in state])
        labels = np.concatenate([s[1] for s in state])
        return {self.metric: type(self).score(logits, labels)}


class MultiLabel(_Classification):
    name, metric, score = "mulclass", "mAP", metrics.multilabel_map

    def synthetic_target(self, item: dict[str, Any]) -> torch.Tensor:
        return torch.from_numpy(np.asarray(item["labels"], np.float32))

    def loss(self, model, x, y):
        return nn.functional.binary_cross_entropy_with_logits(model(x), y)


class SingleLabel(_Classification):
    name, metric, score = "sinclass", "accuracy", metrics.accuracy

    def real_sets(self, train_set, test_set, idx, *, size, seed, data_seed, boards, resize,
                  user_data):
        return (datasets.RealClassification(train_set.images[idx], train_set.labels[idx], size,
                                            flip=False, seed=seed, resize=resize),
                datasets.RealClassification(test_set.images, test_set.labels, size,
                                            resize=resize))

    def loss(self, model, x, y):
        return nn.functional.cross_entropy(model(x), y)


class _Dense(Task):
    """A task of real images with per-object ground truth (detection, segmentation): the
    user's data as nested, seeded prefixes of its images (1% ⊂ 2% ⊂ ...); the bundled sets'
    digits composed into boards (``real_dataset``: the torch dataset of the user's data)."""

    real_dataset: ClassVar[type]

    def real_subset(self, train_set, *, count, fraction, seed, user_data):
        if not user_data:
            return super().real_subset(train_set, count=count, fraction=fraction, seed=seed,
                                       user_data=user_data)
        from ..data.real import nested_prefix

        return nested_prefix(len(train_set), count=count, fraction=fraction, seed=seed)

    def real_sets(self, train_set, test_set, idx, *, size, seed, data_seed, boards, resize,
                  user_data):
        if user_data:
            real = self.real_dataset
            return real(train_set, idx), real(test_set, np.arange(len(test_set)))
        from ..data import compose_boards

        b_tr = compose_boards(train_set.take(idx), boards, size=size, seed=data_seed)
        b_te = compose_boards(test_set, max(boards // 2, 20), size=size, seed=data_seed + 1)
        return datasets.BoardTask(b_tr, self.name), datasets.BoardTask(b_te, self.name)


class Segmentation(_Dense):
    name, metric, decay = "semseg", "mIoU", "poly"
    real_dataset = datasets.RealSegmentation

    def build(self, arch, num_classes, stem, size):
        from .models import DenseModel, build_backbone

        return DenseModel(build_backbone(arch, stem, dilated=True), num_classes, aux=True)

    def num_classes(self, n_classes: int) -> int:
        return n_classes + 1  # class 0 is the background

    def synthetic_target(self, item):
        return torch.from_numpy(np.asarray(item["semantic"], np.int64))

    def flip_target(self, y, width):
        return y.flip(-1)

    def loss(self, model, x, y):
        out = model(x)
        loss = nn.functional.cross_entropy(out["out"], y)
        if "aux" in out:
            loss = loss + 0.5 * nn.functional.cross_entropy(out["aux"], y)
        return loss

    def _batch_eval(self, model, x, y, num_classes):
        pred = model(x)["out"].argmax(1).cpu().numpy()
        return metrics.confusion(pred.ravel(), y.numpy().ravel(), num_classes)

    def _finish(self, state, num_classes):
        return {"mIoU": metrics.mean_iou(sum(state))}


class SurfaceNormals(Task):
    name, metric, flips = "normal", "within_11.25", False

    def build(self, arch, num_classes, stem, size):
        from .models import DenseModel, build_backbone

        return DenseModel(build_backbone(arch, stem, dilated=True), 3, aux=False)

    def synthetic_target(self, item):
        """Normals and the valid mask: a surface (instance >= 0) with a real normal (length
        > 0.5; an imported frame without normals, or with NaN ones, has none)."""
        nrm = np.nan_to_num(np.asarray(item["normal"], np.float32))
        valid = (np.asarray(item["instance"]) >= 0) & (np.linalg.norm(nrm, axis=-1) > 0.5)
        return torch.from_numpy(nrm).permute(2, 0, 1), torch.from_numpy(valid)

    def collate(self, batch):
        xs = torch.stack([b[0] for b in batch])
        return xs, (torch.stack([b[1][0] for b in batch]), torch.stack([b[1][1] for b in batch]))

    def to_device(self, y, device):
        return y[0].to(device), y[1].to(device)

    def loss(self, model, x, y):
        n, valid = y
        pred = nn.functional.normalize(model(x)["out"], dim=1)
        return (1.0 - (pred * n).sum(dim=1))[valid].mean()

    def _batch_eval(self, model, x, y, num_classes):
        return model(x)["out"].float().cpu().numpy(), y[0].numpy(), y[1].numpy()

    def _finish(self, state, num_classes):
        r = metrics.normal_errors(*(np.concatenate([s[k] for s in state]) for k in range(3)))
        # error in [0, 1]: share of valid pixels outside 11.25 degrees
        return {**r, "error": 1 - r["within_11.25"]}


class Detection(_Dense):
    name, metric = "objdet", "mAP"
    real_dataset = datasets.RealDetection

    def build(self, arch, num_classes, stem, size):
        from .models import Detector, build_backbone

        return Detector(build_backbone(arch, stem), num_classes, size)

    def synthetic_target(self, item):
        if "boxes" in item:  # the writer's own boxes (no instance masks were written)
            b = np.asarray(item["boxes"], np.float32).reshape(-1, 4)
            lab = np.asarray(item["box_labels"], np.int64)
            keep = ((b[:, 2] - b[:, 0]) >= 2) & ((b[:, 3] - b[:, 1]) >= 2)
            return {"boxes": torch.from_numpy(b[keep].copy()),
                    "labels": torch.from_numpy(lab[keep].copy())}
        return _det_target(np.asarray(item["instance"]), np.asarray(item["semantic"]))

    def flip_target(self, y, width):
        b = y["boxes"].clone()
        b[:, [0, 2]] = width - y["boxes"][:, [2, 0]]
        return {"boxes": b, "labels": y["labels"]}

    def collate(self, batch):
        return torch.stack([b[0] for b in batch]), [b[1] for b in batch]

    def to_device(self, y, device):
        return [{k: v.to(device) for k, v in t.items()} for t in y]

    def loss(self, model, x, y):
        return sum(model(list(x), y).values())

    def _batch_eval(self, model, x, y, num_classes):
        preds = model(list(x))
        return ([{k: v.cpu().numpy() for k, v in p.items()} for p in preds],
                [{k: v.numpy() for k, v in t.items()} for t in y])

    def _finish(self, state, num_classes):
        outs = [o for s in state for o in s[0]]
        tgts = [t for s in state for t in s[1]]
        return {"mAP": metrics.detection_map(outs, tgts, num_classes)}


def _det_target(inst: np.ndarray, sem: np.ndarray) -> dict[str, torch.Tensor]:
    from scipy.ndimage import find_objects

    lab = np.clip(inst, 0, None)
    boxes, labels = [], []
    for j, sl in enumerate(find_objects(lab), start=1):
        if sl is None:
            continue
        ys, xs = sl
        if xs.stop - xs.start < 2 or ys.stop - ys.start < 2:
            continue
        boxes.append([xs.start, ys.start, xs.stop, ys.stop])
        labels.append(int(sem[lab == j].max()))
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(labels, dtype=torch.int64)}


_INSTANCES: dict[str, Task] = {}


def get_task(task: str | Task, allowed: tuple[str, ...] | None = None) -> Task:
    """The task object of a registered name (or the object itself; ``allowed``: the names
    accepted here, e.g. ``task_names(pretrain=True)``); an unknown name is a ValueError."""
    import importlib

    name = task.name if isinstance(task, Task) else task
    if allowed is not None and name not in allowed:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(allowed)}")
    if isinstance(task, Task):
        return task
    info = task_info(name)
    if name not in _INSTANCES:
        module, _, cls = info.impl.partition(":")
        impl = getattr(importlib.import_module(module), cls)()
        if not isinstance(impl, Task) or impl.name != name:
            raise TypeError(f"{info.impl} is not the Task of {name!r}")
        _INSTANCES[name] = impl
    return _INSTANCES[name]
