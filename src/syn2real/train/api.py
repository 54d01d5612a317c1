"""``pretrain`` and ``finetune`` in one import (they live in :mod:`.pretrain` and
:mod:`.finetune`)."""

from .finetune import finetune
from .pretrain import pretrain
from .runtime import FINETUNE_TASKS, PRETRAIN_TASKS, versions

__all__ = ["FINETUNE_TASKS", "PRETRAIN_TASKS", "finetune", "pretrain", "versions"]
