"""The one list of what syn2real knows by name: tasks, models, stems and real data sets.

Configs (``Literal`` types), job specs, the training code and the results export all read
these names from here, so adding a task or a model is one edit. Nothing here imports torch.
"""

from __future__ import annotations

from typing import Literal

#: pre-training tasks on rendered images (paper Sec. 4.1)
PRETRAIN_TASKS = ("mulclass", "objdet", "semseg", "normal")
#: fine-tuning tasks on real images
FINETUNE_TASKS = ("sinclass", "objdet", "semseg")
#: every task a model can be built and trained for
TASKS = ("mulclass", "sinclass", "semseg", "normal", "objdet")
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
PretrainTask = Literal[PRETRAIN_TASKS]  # type: ignore[valid-type]
FinetuneTask = Literal[FINETUNE_TASKS]  # type: ignore[valid-type]
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
