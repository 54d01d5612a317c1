"""Backbone checkpoints: the one place that names, writes and reads them.

A checkpoint is a ``torch.save``d dict ``{"format": "syn2real-backbone/1", "arch", "stem",
"task", "backbone" (torchvision key names), "model", "val", "config", "complete",
"iteration", "iters"}`` written atomically. ``backbone.pt`` is only ever written whole at the
end of a run (``complete=True``); while pre-training runs, the best model so far is kept in
``backbone.partial.pt`` (``complete=False``, with its iteration), which
:func:`load_checkpoint` refuses unless ``allow_partial``. Writers return the file's size
and SHA-256, which the sweep records and checks before a cached checkpoint is used.
torch is imported only when a checkpoint is written or read, so planning code can name
checkpoints without torch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from ..errors import UserError
from ..hashing import sha256_file
from ..jobspecs import CHECKPOINT

#: The best model of a run still in progress (or interrupted).
PARTIAL = "backbone.partial.pt"
FORMAT = "syn2real-backbone/1"


class CheckpointError(UserError):
    """A checkpoint that cannot be used as it is (missing, partial, foreign, corrupt)."""


def partial_path(folder: str | Path) -> Path:
    """Where the in-progress checkpoint of the run folder ``folder`` lives."""
    return Path(folder) / PARTIAL


def file_info(data: bytes) -> dict[str, Any]:
    """Size and SHA-256 of a file's bytes (what the store records for an artefact)."""
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def snapshot(model: Any) -> dict[str, Any]:
    """CPU copies of a task model's weights (its backbone under torchvision names and its
    whole state), to be written later by :func:`save_backbone`."""
    memo: dict[tuple, Any] = {}

    def copy(t: Any) -> Any:  # tensors shared by both views are copied (and saved) once
        key = (t.data_ptr(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if key not in memo:
            memo[key] = t.detach().cpu().clone()
        return memo[key]

    return {"backbone": {k: copy(v) for k, v in model.backbone_state().items()},
            "model": {k: copy(v) for k, v in model.state_dict().items()}}


def save_backbone(path: str | Path, model: Any, *, arch: str, stem: str, task: str,
                  val: dict[str, Any], config: dict[str, Any], complete: bool = True,
                  iteration: int | None = None, iters: int | None = None) -> dict[str, Any]:
    """Write ``model`` (a syn2real task model, or a :func:`snapshot` of one) as a backbone
    checkpoint, atomically; returns :func:`file_info` of the file."""
    import io

    import torch

    weights = model if isinstance(model, dict) else snapshot(model)
    payload = {"format": FORMAT, "arch": arch, "stem": stem, "task": task,
               "backbone": weights["backbone"], "model": weights["model"], "val": val,
               "config": config, "complete": complete, "iteration": iteration,
               "iters": iters}
    buf = io.BytesIO()
    torch.save(payload, buf)
    data = buf.getvalue()
    atomic_write(path, data)
    return file_info(data)


def check_file(path: str | Path, info: dict[str, Any] | None) -> str | None:
    """What is wrong with an artefact against its recorded :func:`file_info` (None: fine;
    without a record only its presence is checked)."""
    p = Path(path)
    if not p.is_file():
        return f"{p}: missing"
    if not info:
        return None
    size = p.stat().st_size
    if size != info["bytes"]:
        return f"{p}: {size} bytes, {info['bytes']} written"
    if sha256_file(p) != info["sha256"]:
        return f"{p}: checksum differs from the one recorded when it was written"
    return None


def load_checkpoint(path: str | Path, allow_partial: bool = False) -> dict[str, Any]:
    """Read and check a backbone checkpoint; a bad path or file is one clear
    :class:`CheckpointError` (a ``ValueError``)."""
    import pickle
    import zipfile

    import torch

    p = Path(path)
    if p.is_dir():
        raise CheckpointError(f"{p}: is a folder; give the checkpoint file ({p / CHECKPOINT})")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        partial = p.with_name(PARTIAL)
        hint = (f" (an interrupted run left {partial}: pass --allow-partial to use it)"
                if partial.exists() else "")
        raise CheckpointError(f"{p}: no such checkpoint{hint}") from None
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{p}: not a readable checkpoint (truncated or corrupt: {exc}). "
                              "Fix: pre-train again (syn2real run reruns it by itself)") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise CheckpointError(f"{p}: not a syn2real backbone checkpoint (write one with "
                              "syn2real pretrain or syn2real finetune --out DIR)")
    if ck.get("complete") is False and not allow_partial:
        raise CheckpointError(f"{p}: a partial checkpoint (best of the first "
                              f"{ck.get('iteration')} of {ck.get('iters')} iterations of an "
                              "unfinished run). Fix: finish the pre-training, or pass "
                              "--allow-partial to fine-tune from it anyway")
    return ck
