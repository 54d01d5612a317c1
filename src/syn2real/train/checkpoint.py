"""Backbone checkpoints: the one place that names, writes and reads them.

A checkpoint is a ``torch.save``d dict ``{"format": "syn2real-backbone/1", "arch", "stem",
"task", "backbone" (torchvision key names), "model", "val", "config"}`` written atomically.
torch is imported only when a checkpoint is written or read, so planning code can name
checkpoints without torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..atomic import atomic_open

#: File name of the backbone checkpoint inside a run folder.
CHECKPOINT = "backbone.pt"
FORMAT = "syn2real-backbone/1"


def checkpoint_path(folder: str | Path) -> Path:
    """Where the checkpoint of the run folder ``folder`` lives."""
    return Path(folder) / CHECKPOINT


def save_backbone(path: str | Path, model: Any, *, arch: str, stem: str, task: str,
                  val: dict[str, Any], config: dict[str, Any]) -> None:
    """Write ``model`` (a syn2real task model) as a backbone checkpoint, atomically."""
    import torch

    payload = {"format": FORMAT, "arch": arch, "stem": stem, "task": task,
               "backbone": model.backbone_state(), "model": model.state_dict(), "val": val,
               "config": config}
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check a backbone checkpoint; a bad path or file is one clear ``ValueError``."""
    import torch

    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p}: is a folder; give the checkpoint file ({p / CHECKPOINT})")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise ValueError(f"{p}: no such checkpoint") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise ValueError(f"{p}: not a syn2real backbone checkpoint (write one with "
                         "syn2real pretrain or syn2real finetune --out DIR)")
    return ck
