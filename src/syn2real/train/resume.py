"""Resumable training: the whole state of a training run, saved now and then, taken up again.

A pre-training preempted by Slurm, stopped at its time limit, lost with a Ray worker or
killed by hand starts again from its last saved state instead of iteration 0: the model,
the optimiser (momentum buffers), the learning-rate schedule, the gradient scaler, the
iteration, the history, the data order (the loader generator's state at the start of the
epoch and how many batches of the epoch were used), torch's random state and whatever
the caller keeps (``extra``: the best model so far) are written to ``train_state.pt`` in the
job's folder atomically, every ``every`` seconds of training (0: every iteration). On CPU a
resumed run ends with the same numbers and checkpoint bytes as one never interrupted
(tested). A resumed run reads the batches of its epoch it had already trained on once more,
without training on them, to replay the data order. A state written for other settings (its
``key``: the job's identity) is ignored and replaced; it is deleted when the run completes.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write

__all__ = ["STATE", "TrainState"]

#: The file of a run's resumable state, in the job's output folder.
STATE = "train_state.pt"
FORMAT = "syn2real-train-state/1"


@dataclass
class TrainState:
    """Where and how often a training run saves its resumable state.

    Attributes
    ----------
    path : Path
        The state file (``<job out>/train_state.pt``).
    key : str
        What the state belongs to (a hash of the job's identity): another key is ignored.
    every : float
        Seconds of training between two saves (0: after every iteration).
    extra : dict
        The caller's own state, saved with it and restored in place on resume.
    resumed_from : int or None
        The iteration a resumed run started from (None: from the beginning).
    """

    path: Path
    key: str
    every: float = 300.0
    extra: dict[str, Any] = field(default_factory=dict)
    resumed_from: int | None = None
    _last: float = field(default_factory=time.monotonic, repr=False)

    def load(self) -> dict[str, Any] | None:
        """The saved state of this run, or None (none, unreadable, or another run's)."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception:  # a torn or foreign file: start from the beginning
            return None
        if not isinstance(state, dict) or state.get("format") != FORMAT \
                or state.get("key") != self.key:
            return None
        self.extra.clear()
        self.extra.update(state.get("extra", {}))
        self.resumed_from = int(state["it"])
        self._last = time.monotonic()
        return state

    def due(self) -> bool:
        """Whether a save is due now."""
        return self.every <= 0 or time.monotonic() - self._last >= self.every

    def save(self, **state: Any) -> None:
        """Write the state atomically (``it``, ``epoch``, ``batch``, ``epoch_gen``, the
        modules' and optimisers' state dicts, ``history`` ...) with torch's global random
        state (syn2real draws from no other global generator)."""
        buf = io.BytesIO()
        torch.save({"format": FORMAT, "key": self.key, **state, "extra": self.extra,
                    "rng": {"torch": torch.get_rng_state()}}, buf)
        atomic_write(self.path, buf.getvalue())
        self._last = time.monotonic()

    @staticmethod
    def restore_rng(state: dict[str, Any]) -> None:
        """Set torch's global random state saved with ``state``."""
        torch.set_rng_state(state["rng"]["torch"])

    def done(self) -> None:
        """The run completed: its state is not needed any more."""
        self.path.unlink(missing_ok=True)
