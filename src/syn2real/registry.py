"""The one list of what syn2real knows by name: tasks, models, stems and real data sets.

Configs, job specs, the training code, the plan's cost model and the results export all read
these names from here. Nothing here imports torch: a task is registered by a
:class:`TaskInfo` naming its torch implementation (a :class:`syn2real.tasks.task.Task`
subclass, imported on first use), so ``syn2real plan`` and the config checks never load
torch. A new task is its ``Task`` class plus one :func:`register_task` call (the built-ins:
:data:`BUILTIN_TASKS`); every list of task names is derived from the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator


@dataclass(frozen=True)
class TaskInfo:
    """A task, as the code outside training needs it.

    Attributes
    ----------
    name : str
        The name configs, job specs and results use.
    impl : str
        ``"module:Class"`` of its :class:`syn2real.tasks.task.Task` subclass (the model, the
        targets, the loss, batching, evaluation and its real-data sets).
    pretrain : bool
        A pre-training task on rendered images.
    finetune : bool
        A fine-tuning task on real images.
    cost : float
        A training step's cost relative to classification's (the plan's estimates).
    real_layouts : tuple of str
        The real-data layouts (:data:`syn2real.data.realspec.REAL_KINDS`) that hold its
        ground truth (fine-tuning tasks).
    needs : tuple of str
        Ground truth a rendered source may lack that the task reads (pre-training tasks):
        names of :data:`syn2real.data.sources.GROUND_TRUTH` (``"normals"``, ``"boxes"``); a
        source saying ``has_<name> = False`` is refused for it before training.
    """

    name: str
    impl: str
    pretrain: bool = False
    finetune: bool = False
    cost: float = 1.0
    real_layouts: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()


#: the built-in tasks (paper Sec. 4.1): four pre-training tasks on rendered images, three
#: fine-tuning tasks on real images
BUILTIN_TASKS = (
    TaskInfo("mulclass", "syn2real.tasks.task:MultiLabel", pretrain=True),
    TaskInfo("sinclass", "syn2real.tasks.task:SingleLabel", finetune=True,
             real_layouts=("imagefolder", "hf")),
    TaskInfo("semseg", "syn2real.tasks.task:Segmentation", pretrain=True, finetune=True,
             cost=3.0, real_layouts=("coco", "ade20k")),
    TaskInfo("normal", "syn2real.tasks.task:SurfaceNormals", pretrain=True, cost=3.0,
             needs=("normals",)),
    TaskInfo("objdet", "syn2real.tasks.task:Detection", pretrain=True, finetune=True,
             cost=4.0, real_layouts=("coco",), needs=("boxes",)),
)
_TASKS: dict[str, TaskInfo] = {t.name: t for t in BUILTIN_TASKS}


def register_task(info: TaskInfo) -> None:
    """Make a task known by name to configs, job specs, the plan and training (a name
    already taken is refused)."""
    if info.name in _TASKS and _TASKS[info.name] != info:
        raise ValueError(f"task {info.name!r} is already registered")
    if ":" not in info.impl:
        raise ValueError(f"TaskInfo.impl must be 'module:Class', got {info.impl!r}")
    _TASKS[info.name] = info


def task_info(name: str) -> TaskInfo:
    """The registered task of a name; an unknown name is a ValueError naming the known."""
    try:
        return _TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of "
                         f"{', '.join(repr(t) for t in _TASKS)}") from None


def task_names(*, pretrain: bool | None = None, finetune: bool | None = None
               ) -> tuple[str, ...]:
    """The registered task names, in registration order (``pretrain`` / ``finetune``: only
    those that are, or are not, that kind)."""
    return tuple(t.name for t in _TASKS.values()
                 if (pretrain is None or t.pretrain == pretrain)
                 and (finetune is None or t.finetune == finetune))


_KIND_WORDS = {"pretrain": "pre-training", "finetune": "fine-tuning"}


def _kind_checker(kind: str) -> AfterValidator:
    def check(name: str) -> str:
        allowed = task_names(**{kind: True})
        if name not in allowed:
            raise ValueError(f"Input should be {' or '.join(repr(t) for t in allowed)} "
                             f"(a registered {_KIND_WORDS[kind]} task), got {name!r}")
        return name
    return AfterValidator(check)


#: torchvision ResNets and their backbone parameter counts (without ``fc``; checked against
#: torchvision in the tests), so exporting results needs no torch
MODELS = {"resnet18": 11_176_512, "resnet34": 21_284_672, "resnet50": 23_508_032,
          "resnet101": 42_500_160, "resnet152": 58_143_808}
#: input stems: 3x3 stride 1 ("small"), the same plus max-pool, the ImageNet 7x7/2 + pool
STEMS = ("small", "small-pool", "imagenet")
#: real data sets available offline (``syn2real.data.load_real``)
REAL_DATASETS = ("mnist", "fashion-mnist", "digits")

#: a layout of pre-training data: a name registered with ``syn2real.data.sources`` (the
#: built-in ones: ``syn2real.data.sources.LAYOUT_NAMES``); checked where it enters
DataFormat = str
#: a registered pre-training / fine-tuning task's name (checked when a config or job spec
#: is validated, against the registry as it is then)
PretrainTask = Annotated[str, _kind_checker("pretrain")]
FinetuneTask = Annotated[str, _kind_checker("finetune")]
ModelName = Literal[tuple(MODELS)]  # type: ignore[valid-type]
StemName = Literal[STEMS]  # type: ignore[valid-type]
RealDataset = Literal[REAL_DATASETS]  # type: ignore[valid-type]


def backbone_millions(model: str) -> float:
    """Backbone parameters of ``model`` in millions."""
    try:
        return MODELS[model] / 1e6
    except KeyError:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}") from None


def short_model(model: str) -> str:
    """The cg-transfer spelling of a model name (``resnet18`` -> ``r18``)."""
    return model.replace("resnet", "r")
