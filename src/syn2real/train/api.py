"""``pretrain`` and ``finetune`` in one import (they live in :mod:`.pretrain` and
:mod:`.finetune`)."""

from .finetune import finetune
from .pretrain import pretrain
from .runtime import versions

__all__ = ["finetune", "pretrain", "versions"]
