"""The experiment config: one YAML file describes a whole study (validated by pydantic).

A study renders one dataset per rendering setting, pre-trains every (task, model, n, seed),
fine-tunes every pre-trained backbone (and the from-scratch baseline, ``n = 0``) on every
fine-tuning setting, then fits the law per curve, gives the advisor's verdict and writes the
report. A small study (``examples/quickstart.yaml`` is the README's, with its reasons)::

    name: glyphs
    render:
      presets: [lv0]
      overrides: {size: 16, classes: ["glyph_[0-9]"], shard_size: 500}
    pretrain:
      tasks: [mulclass]
      n: [80, 160, 320, 640]
      epochs: 6
    finetune:
      - {task: sinclass, dataset: mnist, counts: [500], iters: 40, size: 16, resize: true}
    seeds: [0, 1]
    fit: {target: 0.09}
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..data.realspec import DatasetChoice
from ..errors import UserError, describe_validation
from ..hashing import stable_hash
from ..registry import (
    MODELS,
    REAL_DATASETS,
    DataFormat,
    FinetuneTask,
    ModelName,
    PretrainTask,
    RealDataset,
    StemName,
)

DATASETS = REAL_DATASETS
__all__ = ["DATASETS", "MODELS", "ConfigError",
           "StudyConfig", "load_config", "parse_config", "stable_hash"]


class ConfigError(UserError):
    """A config that cannot run: the message names the file, the key and the allowed values."""


class _Strict(BaseModel):
    # strict: no coercion (``iters: true`` is not 1, ``n: "20"`` is not 20)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ImportedData(_Strict):
    """Pre-training data another generator already wrote (BlenderProc, Replicator, the
    paper's renderer) or an existing syn2real render: a folder and, optionally, its layout."""

    path: str
    format: DataFormat | None = None

    @field_validator("format")
    @classmethod
    def _known_layout(cls, v: str | None) -> str | None:
        from ..data.sources import layouts

        if v is not None and v not in layouts():
            raise ValueError(f"unknown data format {v!r}; choose {', '.join(layouts())}")
        return v


class RenderConfig(_Strict):
    """Rendering settings: presets (``lv0`` .. ``lv7``), named inline specs (``DatasetSpec``
    fields, optionally ``preset: lvK`` as their base) and/or imported
    folders (``imported: {bp: {path: renders/bop, format: blenderproc}}``, not rendered).

    ``overrides`` apply to every preset and spec (e.g. ``size``, ``classes``, ``seed``).
    """

    presets: list[str] = Field(default_factory=lambda: ["lv7"])
    specs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    imported: dict[str, ImportedData] = Field(default_factory=dict)
    overrides: dict[str, Any] = Field(default_factory=dict)
    workers: int = Field(2, ge=1, le=256, description="render processes per dataset")
    storage: Literal["npy", "tar"] = Field("npy", description="npy: raw memory-mapped arrays; "
                                           "tar: compressed PNG tar shards (paper scale)")
    part_images: int | None = Field(None, ge=1, description="at most this many images per "
                                    "render job (whole shards): a large render split into "
                                    "parts that run at once on several nodes (default: one "
                                    "part per range between two pre-training sizes)")
    titles: dict[str, str] = Field(default_factory=dict, description="how results name a "
                                   "setting, e.g. {front: 'digit glyphs, front views'} "
                                   "(default: 'NAME renders')")

    @model_validator(mode="after")
    def _valid(self) -> RenderConfig:
        from ..render.spec import PRESETS

        if not self.presets and not self.specs and not self.imported:
            raise ValueError("list at least one preset, spec or imported folder")
        clash = (set(self.presets) | set(self.specs)) & set(self.imported)
        if clash:
            raise ValueError(f"{sorted(clash)} named both as rendered and imported; rename")
        for p in self.presets:
            if p not in PRESETS:
                raise ValueError(f"unknown preset {p!r}; allowed: {', '.join(PRESETS)}")
        for name in self.settings():
            try:
                self.spec(name).class_ids  # noqa: B018  (validates the class selection)
            except (ValidationError, ValueError) as exc:
                raise ValueError(f"rendering setting {name!r}: {_first_error(exc)}") from None
        dup = set(self.presets) & set(self.specs)
        if dup:
            raise ValueError(f"{sorted(dup)} named both as preset and spec; rename the spec")
        known = set(self.settings()) | set(self.imported)
        stray = sorted(set(self.titles) - known)
        if stray:
            raise ValueError(f"titles for {stray}, which are not rendering settings (known: "
                             f"{', '.join(sorted(known))})")
        return self

    def title(self, name: str) -> str:
        """How results name setting ``name`` (``titles``, else ``'NAME renders'``)."""
        return self.titles.get(name) or f"{name} renders"

    def settings(self) -> list[str]:
        """Names of the rendering settings, in config order."""
        return list(self.presets) + list(self.specs)

    def spec(self, name: str):
        """The :class:`~syn2real.render.spec.DatasetSpec` of a setting."""
        from ..render.spec import PRESETS, DatasetSpec

        if name in PRESETS:
            base = dict(PRESETS[name])
        else:  # a named spec, optionally on top of a preset (``preset: lv0``)
            base = dict(self.specs[name])
            start = base.pop("preset", None)
            if start is not None:
                if start not in PRESETS:
                    raise ValueError(f"unknown preset {start!r}; allowed: {', '.join(PRESETS)}")
                base = {**PRESETS[start], **base}
        return DatasetSpec(**{**base, **self.overrides})


class PretrainConfig(_Strict):
    """Pre-training grid and budget: ``iters`` SGD steps at every n, or with ``epochs`` at
    least that many passes over the n images (the paper trains to convergence; a fixed budget
    under-trains the large n)."""

    tasks: list[PretrainTask] = Field(
        default_factory=lambda: ["mulclass"], min_length=1)
    models: list[ModelName] = Field(
        default_factory=lambda: ["resnet18"], min_length=1)
    n: list[int] = Field(default_factory=lambda: [1000 * 2**i for i in range(7)], min_length=1,
                         description="synthetic image counts (default 1000 * 2^i, i = 0..6)")
    iters: int = Field(600, ge=1)
    epochs: float | None = Field(None, gt=0, description="at least this many passes over the "
                                 "n images: max(iters, ceil(epochs * n / batch)) steps, so a "
                                 "large n is not under-trained by a fixed budget")
    batch: int = Field(64, ge=1)
    lr: float = Field(0.05, gt=0, allow_inf_nan=False)
    stem: StemName = "small"
    val_images: int = Field(1000, ge=1, description="held-out synthetic images for the "
                            "best-checkpoint choice")
    bf16: bool = False
    fp16: bool = Field(False, description="float16 autocast + gradient scaler (CUDA GPUs)")
    channels_last: bool = False
    accumulate: int = Field(1, ge=1, description="micro-batches per step (gradient "
                            "accumulation; batch stays the batch of one step, shared by the "
                            "DDP processes of a multi-GPU job)")

    def iters_for(self, n: int) -> int:
        """SGD steps of the pre-training at ``n`` images (``iters``, more with ``epochs``)."""
        if self.epochs is None:
            return self.iters
        return max(self.iters, math.ceil(self.epochs * n / self.batch))

    @field_validator("n")
    @classmethod
    def _n(cls, v: list[int]) -> list[int]:
        if len(v) < 3:
            raise ValueError(f"{len(v)} size(s): a law needs at least 3 distinct sizes n")
        if any(x < 1 for x in v) or len(set(v)) != len(v):
            raise ValueError("sizes n must be distinct positive integers")
        return sorted(v)


def distinct(v: list[Any] | None, what: str) -> list[Any] | None:
    """``v`` unchanged; a repeated value is refused (it would be trained once, silently
    fewer runs than written)."""
    if v is not None:
        twice = sorted({x for x in v if v.count(x) > 1})
        if twice:
            raise ValueError(f"{what} {twice[0]!r} is listed twice: each is trained once. Fix: "
                             f"list distinct {what}s")
    return v


class FinetuneConfig(_Strict):
    """One fine-tuning setting: task, real dataset, sizes s and budget."""

    task: FinetuneTask = "sinclass"
    dataset: DatasetChoice = Field("mnist", description="a bundled set's name, or "
                                                "{kind: imagefolder | coco | ade20k, path, "
                                                "split, test_split, name}")
    counts: list[int] | None = Field(None, min_length=1,
                                     description="real images used (class-balanced)")
    fractions: list[float] | None = Field(None, min_length=1,
                                          description="share of each class used")
    iters: int = Field(300, ge=1)
    batch: int = Field(64, ge=1)
    lr: float = Field(0.02, gt=0, allow_inf_nan=False)
    size: int = Field(32, ge=16)
    resize: bool = Field(False, description="resize the real images to size (area average "
                         "down) instead of centre-padding them, e.g. 28 px digits at 16 px")
    reg_lambda: float = Field(0.0, ge=0)
    boards: int = Field(200, ge=2, description="composed boards (objdet / semseg)")
    data_seed: int = Field(0, description="picks the real subset (fixed across seeds and "
                           "backbones: paired comparisons)")
    seeds: list[int] | None = Field(None, min_length=1, description="fine-tuning seeds per "
                                    "backbone (default: the pre-training seed; scratch runs "
                                    "use the study's seeds)")
    test_images: int = Field(2000, ge=1, description="test images (mnist and digits: a fixed "
                             "balanced part of their held-out split when fewer than it holds)")
    evals: int = Field(1, ge=1, description="test-set evaluations during fine-tuning (the "
                       "last one is the reported error; more give error_best too)")
    data_path: str | None = None

    @field_validator("counts", "fractions", "seeds")
    @classmethod
    def _no_repeats(cls, v: list[Any] | None, info: Any) -> list[Any] | None:
        return distinct(v, {"counts": "count", "fractions": "fraction",
                             "seeds": "fine-tuning seed"}[info.field_name])

    @model_validator(mode="after")
    def _sizes(self) -> FinetuneConfig:
        if self.counts is None and self.fractions is None:
            raise ValueError("give counts (e.g. [100]) or fractions (e.g. [0.1])")
        if self.counts is not None and self.fractions is not None:
            raise ValueError("give counts or fractions, not both")
        if self.counts is not None and any(c < 1 for c in self.counts):
            raise ValueError("counts must be positive")
        if self.fractions is not None and any(not 0 < f <= 1 for f in self.fractions):
            raise ValueError("fractions must lie in (0, 1]")
        return self

    def sizes(self) -> list[tuple[str, float]]:
        """``[("count", 100), ...]`` or ``[("fraction", 0.1), ...]``."""
        if self.counts is not None:
            return [("count", c) for c in self.counts]
        return [("fraction", f) for f in self.fractions or []]


class StageResources(_Strict):
    """What one stage's Slurm jobs ask for, over the executor's defaults (``None``: the
    default). ``extra``: further ``sbatch`` options, each ``--name=value`` or ``--flag``."""

    partition: str | None = None
    gpus: int | None = Field(None, ge=0, description="GPUs per node (pre-training on more "
                             "than one: one DDP process per GPU)")
    nodes: int | None = Field(None, ge=1, description="nodes per job (pre-training only: "
                              "DDP over nodes x gpus processes)")
    tasks: int | None = Field(None, ge=1, description="DDP processes per node of a "
                              "pre-training (default: one per GPU; on CPU nodes: gloo)")
    cpus: int | None = Field(None, ge=1, description="CPUs per job, per process of a "
                             "multi-GPU pre-training (the torch threads)")
    mem: str | None = Field(None, pattern=r"^[0-9]+[KMGT]?$")
    time: int | None = Field(None, ge=1, description="time limit, minutes")
    account: str | None = None
    qos: str | None = None
    constraint: str | None = Field(None, description="node features, e.g. a100|h100")
    comment: str | None = None
    extra: list[str] = Field(default_factory=list, description="sbatch options, e.g. "
                             "--exclusive or --reservation=paper")

    @field_validator("extra")
    @classmethod
    def _options(cls, v: list[str]) -> list[str]:
        for opt in v:
            if not re.fullmatch(r"--[a-z][a-z0-9-]*(=\S.*)?", opt):
                raise ValueError(f"{opt!r} is not an sbatch option: write --name=value or "
                                 "--flag")
        return v


#: Job kinds that may have their own resources.
STAGES = ("render", "pretrain", "finetune", "backbone", "complexity")


class SlurmConfig(_Strict):
    """``executor.slurm``: what Slurm jobs ask for (used when ``kind: slurm``)."""

    partition: str | None = Field(None, description="Slurm partition")
    time: int = Field(60, ge=1, description="Slurm time limit per job, minutes")
    cpus_per_job: int = Field(2, ge=1, description="Slurm CPUs per job")
    mem: str | None = Field(None, pattern=r"^[0-9]+[KMGT]?$", description="Slurm memory per "
                            "job (e.g. 8G)")
    array_parallelism: int = Field(64, ge=1, description="Slurm: array tasks running at once")
    requeues: int = Field(10, ge=0, description="Slurm: time-outs after which a job is not "
                          "requeued again (a preempted job always is; each goes on from its "
                          "last resumable state)")
    account: str | None = None
    qos: str | None = None
    setup: list[str] = Field(default_factory=list, description="Slurm: shell lines run "
                             "before each job (module load ..., source venv/bin/activate)")
    resources: dict[Literal[STAGES], StageResources] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="Slurm: per stage (render, pretrain, finetune, "
        "backbone, complexity) what its jobs ask for instead of the defaults above")

    @model_validator(mode="after")
    def _one_process_stages(self) -> SlurmConfig:
        for stage, res in self.resources.items():
            for key in ("tasks", "nodes", "gpus"):
                value = getattr(res, key)
                if stage != "pretrain" and value is not None and value > 1:
                    raise ValueError(f"resources.{stage}.{key} is {value}: a {stage} job is "
                                     "one process on one GPU and one node; only pre-training "
                                     "runs on several nodes, GPUs or tasks (DDP)")
        return self


class RayConfig(_Strict):
    """``executor.ray``: the Ray cluster (used when ``kind: ray``)."""

    address: str | None = Field(None, description="Ray address: auto or HOST:PORT (default: "
                                "start a local instance; --address overrides it)")
    retries: int = Field(3, ge=0, description="Ray: times a job lost with its worker or node "
                         "(node died, worker killed) is started again; a job's own error is "
                         "never retried (--retry-failed reruns it)")


#: the built-in backends' own settings blocks (``executor.<kind>``)
BACKEND_BLOCKS: dict[str, type[_Strict]] = {"slurm": SlurmConfig, "ray": RayConfig}


def _backend_block(name: str, model: type, raw: Any) -> Any:
    """A registered backend's settings block validated with its model (one line if not)."""
    if raw is not None and not isinstance(raw, dict):
        raise ValueError(f"executor.{name} must be a mapping of its settings, got {raw!r}")
    try:
        return model(**(raw or {}))
    except ValidationError as exc:
        raise ValueError(f"in executor.{name}, " + describe_validation(exc.errors())) \
            from None


class ExecutorConfig(_Strict):
    """Where jobs run: ``local`` (process pool), ``ray`` (a Ray cluster), ``slurm`` (Slurm
    jobs through submitit) or a registered backend (:mod:`syn2real.sweep.runners`).

    Settings every backend reads sit here; a backend's own settings in its block
    (``executor.slurm``, ``executor.ray``; blocks of other backends may stay, for
    ``--executor``). A backend's key written directly under ``executor`` (the flat form of
    earlier versions) is taken as its block's when ``kind`` is that backend, and is one
    clear error otherwise.
    """

    kind: str = Field("local", description="a registered backend: local, ray, slurm, or "
                      "one added with syn2real.sweep.runners.register_runner")
    workers: int = Field(1, ge=1, description="jobs at a time (local)")
    threads: int | None = Field(None, ge=1, description="torch threads per job (default: "
                                "cores // workers; on Slurm slurm.cpus_per_job)")
    gpus_per_job: float = Field(0.0, ge=0, description="GPUs per training job (Ray, Slurm)")
    data_workers: int = Field(0, ge=0, description="DataLoader processes per training job "
                              "(GPUs: 4-8, pinned memory)")
    state_every: float = Field(300.0, ge=0, allow_inf_nan=False, description="seconds of "
                               "pre-training between two resumable states: a job preempted, "
                               "timed out, lost with its node or killed goes on from the "
                               "last one (0: every iteration)")
    slurm: SlurmConfig = Field(default_factory=SlurmConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    others: dict[str, Any] = Field(default_factory=dict, description="settings blocks of "
                                   "registered backends with a settings_model, written as "
                                   "executor.<name> (validated with that model)")

    def block(self, name: str) -> Any:
        """The settings block of backend ``name`` (None: it has none)."""
        if name in BACKEND_BLOCKS:
            return getattr(self, name)
        return self.others.get(name)

    @model_validator(mode="before")
    @classmethod
    def _flat_backend_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        from .runners import settings_model

        kind = data.get("kind", "local")
        out = dict(data)
        if "others" in out:
            raise ValueError("executor.others is not a setting. Fix: write a backend's block "
                             "as executor.<its name>")
        for name in [k for k in out if k not in cls.model_fields]:
            model = settings_model(name)
            if model is not None:  # a registered backend's own block
                out.setdefault("others", {})[name] = _backend_block(name, model,
                                                                    out.pop(name))
        model = settings_model(kind)
        if model is not None and kind not in out.get("others", {}):
            out.setdefault("others", {})[kind] = _backend_block(kind, model, {})
        for block, model in BACKEND_BLOCKS.items():
            flat = [k for k in out if k in model.model_fields and k not in cls.model_fields]
            if not flat:
                continue
            if kind != block:
                raise ValueError(f"executor.{flat[0]} is a {block} setting, but executor.kind "
                                 f"is {kind!r}. Fix: set kind: {block}, or move it under "
                                 f"executor.{block} (kept there for --executor {block})")
            nested = dict(out.get(block) or {})
            for k in flat:
                if k in nested:
                    raise ValueError(f"executor.{k} and executor.{block}.{k} both given. Fix: "
                                     f"keep one (executor.{block}.{k})")
                nested[k] = out.pop(k)
            out[block] = nested
        return out

    @field_validator("kind")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        from .runners import runner_names

        if v not in runner_names():
            raise ValueError(f"unknown executor {v!r}; choose {', '.join(runner_names())}")
        return v


class FitConfig(_Strict):
    """Law fitting and the advisor's question."""

    law: Literal["transfer", "power"] = "transfer"
    D: float | None = Field(None, gt=0, description="fix D (the paper's shared-D procedure "
                            "gives 0.48); default: fitted per curve")
    loss: Literal["linear", "log", "huber"] = "linear"
    level: float = Field(0.9, gt=0, lt=1)
    target: float | None = Field(None, gt=0, lt=1, description="target error for the verdict")
    budget: float | None = Field(None, gt=0, description="largest n you could render")
    holdout: list[int] = Field(default_factory=list, description="sizes n that are trained "
                               "but kept out of the fit: each curve's predictive interval "
                               "there is checked against the measurement")
    s_budget: float | None = Field(None, gt=0, description="most real images you could "
                                   "label: with several fine-tuning sizes, eq. 2's verdict per "
                                   "setting (render more, label more, or change the "
                                   "rendering) and the next (n, s) run; needs budget")
    cost_synthetic: float = Field(1.0, gt=0, allow_inf_nan=False, description="cost of one "
                                  "synthetic image (eq. 2's next run: value per cost)")
    cost_real: float = Field(1.0, gt=0, allow_inf_nan=False, description="cost of one real "
                             "labelled image")

    @model_validator(mode="after")
    def _s_budget_needs_budget(self) -> FitConfig:
        if self.s_budget is not None and self.budget is None:
            raise ValueError("fit.s_budget needs fit.budget too (the most synthetic images "
                             "you could render)")
        return self


class ComplexityConfig(_Strict):
    """The data-complexity study (paper Sec. 4.3): a backbone trained on real data embeds
    ``images`` rendered images of every setting; the negative entropy of their fitted
    Gaussian is set against alpha and C."""

    dataset: RealDataset = "mnist"
    model: ModelName = "resnet18"
    stem: StemName = "imagenet"
    fraction: float = Field(1.0, gt=0, le=1, description="share of the real training set")
    iters: int = Field(300, ge=1)
    batch: int = Field(64, ge=1)
    lr: float = Field(0.05, gt=0, allow_inf_nan=False)
    size: int = Field(32, ge=16)
    images: int = Field(1000, ge=2, description="rendered images per setting")
    estimator: Literal["auto", "empirical", "ledoit-wolf"] = "auto"
    data_path: str | None = None


class TrackingConfig(_Strict):
    """Experiment tracking of a study's jobs (the driver logs each finished job)."""

    mlflow: str | None = Field(None, description="MLflow tracking URI (e.g. "
                               "sqlite:///mlflow.db or http://host:5000): one MLflow run per "
                               "finished job, with its params, metrics and JSON row")
    experiment: str | None = Field(None, description="MLflow experiment (default: the "
                                   "study's name)")
    tensorboard: str | None = Field(None, description="folder for TensorBoard event files "
                                    "(relative: inside the run folder): each training job's "
                                    "loss and evaluations")


def pretrain_processes(ec: ExecutorConfig) -> tuple[int, int]:
    """``(nodes, processes per node)`` of one pre-training job: on Slurm, one DDP process
    per GPU (``resources.pretrain``: ``gpus``, ``nodes``, ``tasks``) when it asks for more
    than one GPU, node or task; else ``(1, 1)``."""
    stage = ec.slurm.resources.get("pretrain", StageResources())
    gpus = int(ec.gpus_per_job if stage.gpus is None else stage.gpus)
    nodes = stage.nodes or 1
    if ec.kind != "slurm" or not (gpus > 1 or nodes > 1 or stage.tasks):
        return 1, 1
    return nodes, stage.tasks or max(1, gpus)


class StudyConfig(_Strict):
    """A whole study: rendering, pre-training, fine-tuning, seeds, executor, fit."""

    name: str = Field("study", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                      description="names the run folder runs/NAME (letters, digits, . _ -)")
    render: RenderConfig = Field(default_factory=RenderConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    finetune: list[FinetuneConfig] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1,
                             description="pre-training seeds: each size is pre-trained once "
                             "per seed (two or more measure the spread between "
                             "pre-trainings, which the standard errors then count)")
    seed_offset: int = Field(0, ge=0, description="added to every training seed (pre-training "
                             "and fine-tuning; not the renders or the real subset): the same "
                             "study with other random draws, e.g. to check that a verdict "
                             "is stable")
    scratch: bool = Field(True, description="fine-tune from scratch too (the n = 0 baseline)")
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    fit: FitConfig = Field(default_factory=FitConfig)
    complexity: ComplexityConfig | None = None
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @field_validator("seeds")
    @classmethod
    def _no_repeated_seeds(cls, v: list[int]) -> list[int]:
        return distinct(v, "pre-training seed")  # type: ignore[return-value]

    @model_validator(mode="after")
    def _holdout(self) -> StudyConfig:
        held = set(self.fit.holdout)
        missing = sorted(held - set(self.pretrain.n))
        if missing:
            raise ValueError(f"fit.holdout {missing} not in pretrain.n: a held-out size must "
                             "be trained")
        if len(set(self.pretrain.n) - held) < 3:
            raise ValueError("fit.holdout leaves fewer than 3 sizes to fit")
        return self

    @model_validator(mode="after")
    def _shared_batches(self) -> StudyConfig:
        nodes, tasks = pretrain_processes(self.executor)
        parts = nodes * tasks * self.pretrain.accumulate
        if parts == 1:
            return self
        b = self.pretrain.batch
        if b % parts:
            raise ValueError(f"pretrain.batch {b} cannot be shared equally by {nodes * tasks} "
                             f"DDP process(es) x {self.pretrain.accumulate} accumulation "
                             f"step(s). Fix: make it a multiple of {parts}")
        small = [n for n in self.pretrain.n if n < b]
        if small:
            raise ValueError(f"pretrain.n {small} smaller than pretrain.batch {b}: a "
                             "pre-training shared by processes or accumulated trains on whole "
                             "batches. Fix: lower pretrain.batch or drop those sizes")
        return self

    @model_validator(mode="after")
    def _s_budget(self) -> StudyConfig:
        if self.fit.s_budget is not None and not any(
                len(f.counts or f.fractions or []) >= 2 for f in self.finetune):
            raise ValueError("fit.s_budget asks eq. 2 for a verdict over (n, s): a finetune "
                             "entry needs two or more counts (or fractions). Fix: add sizes, "
                             "e.g. counts: [100, 400], or drop fit.s_budget")
        return self


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"])
        return f"{loc}: {e['msg']}" if loc else e["msg"]
    return str(exc)


def parse_config(raw: dict[str, Any], source: str = "config") -> StudyConfig:
    """Validate a mapping; :class:`ConfigError` names the source, the key and the rule."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(raw).__name__}")
    try:
        return StudyConfig(**raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + describe_validation(
            exc.errors(), keys_hint="syn2real.sweep.config")) from None


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate an experiment YAML file (duplicate keys and empty files refused)."""
    from ..yamlfile import load_yaml_mapping

    try:
        raw = load_yaml_mapping(path)
    except UserError as exc:
        raise ConfigError(str(exc)) from None
    return parse_config(raw, str(path))
