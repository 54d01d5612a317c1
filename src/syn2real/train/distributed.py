"""Data-parallel pre-training over several processes (torch DDP, one process per GPU).

A pre-training started by ``torchrun`` (or as a multi-task Slurm job of a study, whose
tasks export the same variables through submitit) finds ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its environment: :func:`from_env`
reads them, :func:`process_group` joins the group (NCCL on CUDA, gloo on CPU) and
:class:`RankBatches` gives every process its share of each global batch. The job's
``batch`` stays the global batch: each of ``W`` processes trains on ``batch / W`` images of
the same global batch (one shared, seeded order), DDP averages the gradients, so a step is
the step of one process on the whole batch, up to batch-norm statistics (per process, as
in torchvision's references without ``--sync-bn``) and float summation order. One process
with ``accumulate = W`` (gradient accumulation over ``W`` micro-batches) computes exactly
that step (tested against 2 gloo processes on CPU). Only rank 0 validates and writes
(checkpoints, the resumable state, the result row); every rank reads a resumed state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch.utils.data import BatchSampler, Sampler

from ..errors import UserError

__all__ = ["Dist", "RankBatches", "from_env", "process_group"]

#: The variables a data-parallel process needs (torchrun's names).
ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Dist:
    """This process's place in a data-parallel run.

    Attributes
    ----------
    rank : int
        Global rank (0: the process that validates and writes).
    world : int
        Number of processes.
    local_rank : int
        Rank on this node (its GPU).
    """

    rank: int
    world: int
    local_rank: int

    @property
    def main(self) -> bool:
        """Whether this process validates and writes the run's files."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """The device of this process: its local GPU on CUDA, else ``device``."""
        if device.type == "cuda":
            # submitit's export may already narrow CUDA_VISIBLE_DEVICES to one GPU
            index = self.local_rank if torch.cuda.device_count() > self.local_rank else 0
            torch.cuda.set_device(index)
            return torch.device("cuda", index)
        return device

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """``model`` in DistributedDataParallel (gradients averaged over the processes)."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of ``value`` over the processes."""
        import torch.distributed as td

        v = value.detach().float().clone()
        td.all_reduce(v, op=td.ReduceOp.SUM)
        return v / self.world

    def barrier(self) -> None:
        """Wait for every process (e.g. until rank 0 has written the checkpoint)."""
        import torch.distributed as td

        td.barrier()


def from_env(environ: dict[str, str] | None = None) -> Dist | None:
    """The data-parallel run this process belongs to, from torchrun's variables, or None
    (``WORLD_SIZE`` unset or 1: a run of one process)."""
    env = os.environ if environ is None else environ
    world = env.get("WORLD_SIZE", "1")
    try:
        world_n = int(world)
    except ValueError:
        raise UserError(f"WORLD_SIZE={world!r} in the environment is not a number of "
                        "processes. Fix: launch with torchrun, or unset it") from None
    if world_n <= 1:
        return None
    missing = [k for k in ENV if k != "LOCAL_RANK" and not env.get(k)]
    if missing:
        raise UserError(f"WORLD_SIZE={world_n} but {', '.join(missing)} not set: a "
                        "data-parallel pre-training needs torchrun's variables. Fix: launch "
                        "with torchrun --nproc-per-node=N, or unset WORLD_SIZE")
    rank = int(env["RANK"])
    if not 0 <= rank < world_n:
        raise UserError(f"RANK={rank} is outside 0..{world_n - 1} (WORLD_SIZE={world_n})")
    return Dist(rank=rank, world=world_n, local_rank=int(env.get("LOCAL_RANK", "0")))


@contextmanager
def process_group(dist: Dist | None, device: torch.device) -> Iterator[None]:
    """Join the process group of ``dist`` for the block (NCCL on CUDA, gloo on CPU); a
    group joined by the caller is used as it is. Nothing for ``None``."""
    import torch.distributed as td

    if dist is None or td.is_initialized():
        yield
        return
    td.init_process_group(backend="nccl" if device.type == "cuda" else "gloo",
                          init_method="env://", rank=dist.rank, world_size=dist.world)
    try:
        yield
    finally:
        td.destroy_process_group()


class RankBatches(Sampler[list[int]]):
    """This process's micro-batches of each global batch.

    Every global batch of ``batches`` (the same on every process: one seeded order) is cut
    into ``world * accumulate`` equal micro-batches; process ``rank`` yields its
    ``accumulate`` consecutive ones, so over the processes and the accumulation steps of
    one optimiser step every image of the global batch is used once.

    Parameters
    ----------
    batches : BatchSampler
        The global batches (``drop_last=True``; size divisible by ``world * accumulate``).
    rank, world : int
        This process and the number of processes.
    accumulate : int
        Micro-batches per process per optimiser step (gradient accumulation).
    """

    def __init__(self, batches: BatchSampler, rank: int, world: int, accumulate: int) -> None:
        parts = world * accumulate
        if batches.batch_size % parts:
            raise UserError(f"the batch of {batches.batch_size} images cannot be shared "
                            f"equally by {world} process(es) x {accumulate} accumulation "
                            f"step(s). Fix: make --batch a multiple of {parts}")
        if not batches.drop_last:
            raise ValueError("RankBatches needs whole global batches (drop_last=True)")
        self.batches, self.rank, self.world, self.accumulate = batches, rank, world, accumulate
        self.micro = batches.batch_size // parts

    def __len__(self) -> int:
        return len(self.batches) * self.accumulate

    def __iter__(self) -> Iterator[list[int]]:
        m, first = self.micro, self.rank * self.accumulate
        for batch in self.batches:
            for a in range(first, first + self.accumulate):
                yield batch[a * m:(a + 1) * m]
