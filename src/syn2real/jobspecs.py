"""Typed job specs: what one render, pre-training, fine-tuning or complexity job is.

A spec is validated once, where it is made (the CLI, a study's plan), and then handed on as
it is: :func:`syn2real.train.pretrain` and :func:`syn2real.train.finetune` take one, the
sweep's workers receive one (pydantic models pickle), nothing re-parses a dict. Paths the
job writes follow from the spec (``job.checkpoint``, ``job.manifest``).

:meth:`JobSpec.identity` is what decides the job's output: every field except the paths
(``PATHS``: where inputs and outputs live) and the runtime choices (``RUNTIME``: device,
which never changes the numbers on CPU and is checked on GPU by the caller). A study's job
keys hash the identity and the keys of the jobs a job reads, so a moved or renamed run
folder keeps its keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .data.realspec import DatasetChoice
from .errors import UserError, describe_validation
from .registry import (
    DataFormat,
    FinetuneTask,
    ModelName,
    PretrainTask,
    StemName,
)
from .render.spec import DatasetSpec

#: File name of the backbone checkpoint inside a pre-training's output folder.
CHECKPOINT = "backbone.pt"


def checkpoint_path(folder: str | Path) -> Path:
    """Where the checkpoint of the run folder ``folder`` lives."""
    return Path(folder) / CHECKPOINT


class JobSpec(BaseModel):
    """Common base: frozen, no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str]
    PATHS: ClassVar[tuple[str, ...]] = ()
    RUNTIME: ClassVar[tuple[str, ...]] = ("device",)

    @classmethod
    def make(cls, **fields: Any) -> Self:
        """Validate ``fields`` into a spec; a bad value is one :class:`UserError` line."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise UserError(f"{cls.kind} job: " + describe_validation(
                exc.errors(), what=cls.kind, keys_hint=f"syn2real.jobspecs.{cls.__name__}")
            ) from None

    #: Fields added after job keys were first published, with their defaults: left out of
    #: the identity while at the default, so existing run folders keep their keys.
    ADDED: ClassVar[dict[str, Any]] = {}

    def identity(self) -> dict[str, Any]:
        """The fields that decide the output (JSON values), for content keys."""
        out = self.model_dump(mode="json", exclude=set(self.PATHS) | set(self.RUNTIME))
        for k, default in self.ADDED.items():
            if out.get(k) == default:
                out.pop(k, None)
        return out

    def record(self) -> dict[str, Any]:
        """Every field as JSON values (what the results store keeps)."""
        return self.model_dump(mode="json")


class RenderJob(JobSpec):
    """Render (or complete) ``n_images`` of ``spec`` into ``out``; with ``shards_from``,
    only shards ``shards_from ..`` of them, beside other such jobs on the same folder."""

    kind: ClassVar[str] = "render"
    PATHS: ClassVar[tuple[str, ...]] = ("out",)
    RUNTIME: ClassVar[tuple[str, ...]] = ("workers",)

    spec: DatasetSpec
    n_images: int = Field(ge=1)
    out: str
    workers: int = Field(1, ge=1, le=256)
    storage: Literal["npy", "tar"] = Field("npy", description="raw arrays or compressed tar "
                                           "shards")
    shards_from: int | None = Field(None, ge=0, description="render only shards from this "
                                    "index on (None: the whole dataset)")
    ADDED: ClassVar[dict[str, Any]] = {"storage": "npy", "shards_from": None}

    @property
    def images_rendered(self) -> int:
        """The images this job renders (all, or those of its shards)."""
        return self.n_images - (self.shards_from or 0) * self.spec.shard_size

    @property
    def manifest(self) -> Path:
        return Path(self.out) / "manifest.json"


class PretrainJob(JobSpec):
    """Pre-train ``model`` on the first ``n`` images of ``data``: syn2real's shards or another
    generator's output (:mod:`syn2real.data.importers`; ``data_format`` or detected)."""

    kind: ClassVar[str] = "pretrain"
    PATHS: ClassVar[tuple[str, ...]] = ("data", "out")

    data: str
    data_format: DataFormat | None = Field(None, description="layout of data (None: detect)")
    data_hash: str | None = Field(None, description="content hash of imported data (a study "
                                  "sets it: its keys then follow the data, not the path)")
    n: int = Field(ge=1)
    task: PretrainTask = "mulclass"
    model: ModelName = "resnet18"
    out: str
    iters: int = Field(600, ge=1)
    batch: int = Field(64, ge=1)
    lr: float = Field(0.05, gt=0, allow_inf_nan=False)
    val_images: int = Field(1000, ge=1)
    stem: StemName = "small"
    seed: int = 0
    bf16: bool = False
    fp16: bool = Field(False, description="float16 autocast + gradient scaler (CUDA)")
    channels_last: bool = False
    val_every: int = Field(0, ge=0, description="0: four validations")
    device: str = "auto"
    data_workers: int = Field(0, ge=0, description="DataLoader worker processes (pinned "
                              "memory on CUDA)")
    state_every: float = Field(300.0, ge=0, allow_inf_nan=False,
                               description="seconds of training between two resumable "
                               "states (train_state.pt; 0: every iteration): a preempted, "
                               "timed-out or killed run goes on from the last one")
    accumulate: int = Field(1, ge=1, description="micro-batches per optimiser step "
                            "(gradient accumulation; batch stays the global batch)")
    RUNTIME: ClassVar[tuple[str, ...]] = ("device", "data_workers", "state_every")
    ADDED: ClassVar[dict[str, Any]] = {"data_format": None, "data_hash": None, "fp16": False,
                                       "accumulate": 1}

    @property
    def checkpoint(self) -> Path:
        return checkpoint_path(self.out)



class FinetuneJob(JobSpec):
    """Fine-tune all parameters on real data from ``backbone`` (``None``: from scratch).

    The real subset is ``fraction`` of each class or ``count`` images (class-balanced; neither:
    10%), drawn with ``data_seed``; ``seed`` drives the training randomness. ``out``: also
    keep the fine-tuned model as a backbone checkpoint (the complexity study's real backbone).
    """

    kind: ClassVar[str] = "finetune"
    PATHS: ClassVar[tuple[str, ...]] = ("backbone", "data_path", "out")

    backbone: str | None = None
    dataset: DatasetChoice = Field("mnist", description="a bundled set's name "
                                                "or real data on disk")
    task: FinetuneTask = "sinclass"
    fraction: float | None = Field(None, gt=0, le=1)
    count: int | None = Field(None, ge=1)
    model: ModelName | None = None
    stem: StemName | None = None
    iters: int = Field(300, ge=1)
    batch: int = Field(64, ge=1)
    lr: float = Field(0.02, gt=0, allow_inf_nan=False)
    image_size: int = Field(32, ge=8)
    resize: bool = Field(False, description="resize every real image to image_size (area "
                         "average down, bilinear up) instead of centre-padding it (padding "
                         "refuses images larger than the input)")
    reg_lambda: float = Field(0.0, ge=0)
    boards: int = Field(200, ge=1)
    seed: int = 0
    data_seed: int = 0
    evals: int = Field(4, ge=1, description="test-set evaluations during training")
    test_images: int = Field(2000, ge=1, description="test images: fashion-mnist's balanced "
                             "test subset; for mnist (2,000) and digits (540), a fixed "
                             "balanced part of their fixed held-out split when smaller")
    bf16: bool = False
    fp16: bool = Field(False, description="float16 autocast + gradient scaler (CUDA)")
    channels_last: bool = False
    allow_partial: bool = Field(False, description="accept a partial checkpoint (the best "
                                "model of an interrupted pre-training)")
    data_path: str | None = None
    out: str | None = None
    device: str = "auto"
    data_workers: int = Field(0, ge=0, description="DataLoader worker processes (pinned "
                              "memory on CUDA)")
    RUNTIME: ClassVar[tuple[str, ...]] = ("device", "data_workers")
    ADDED: ClassVar[dict[str, Any]] = {"fp16": False, "resize": False}

    @model_validator(mode="after")
    def _one_size(self) -> FinetuneJob:
        if self.fraction is not None and self.count is not None:
            raise ValueError("give fraction or count, not both")
        return self

    @property
    def val_every(self) -> int:
        return max(1, self.iters // self.evals)

    @property
    def checkpoint(self) -> Path | None:
        return None if self.out is None else checkpoint_path(self.out)


class ComplexityJob(JobSpec):
    """Negative entropy of a rendered dataset's features under a real-data backbone."""

    kind: ClassVar[str] = "complexity"
    PATHS: ClassVar[tuple[str, ...]] = ("data", "backbone")

    data: str
    backbone: str
    images: int = Field(ge=2)
    estimator: Literal["auto", "empirical", "ledoit-wolf"] = "auto"
    device: str = "auto"


