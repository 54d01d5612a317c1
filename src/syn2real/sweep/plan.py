"""The plan of a study: a DAG of render, pretrain and finetune jobs with content keys.

Every job's key hashes what decides its output: its own settings and the keys of the jobs it
reads. A job is skipped when its key is finished in the results store, so changing one setting
reruns only what depends on it (e.g. a fine-tuning learning rate reruns the fine-tunes, not the
pre-training).

Rendering writes one folder per setting, the largest ``n`` plus the validation images; smaller
``n`` are prefixes of the same shards. It runs as independent jobs, one per range of shards
between two sizes' needs (``RenderJob.shards_from``: the first all images up to the smallest
need, the others images ``[previous need, need)``), which run at once on as many workers or
nodes as there are; a pre-training at ``n`` starts as soon as the parts covering its prefix
are done. One more job checks the whole folder once every part is there: its key is the
dataset's identity (the same key a single whole render had), which a pre-training's key
hashes; the parts are only its scheduling. Shards are deterministic, so a shard is the same
bytes whichever job wrote it.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.realspec import dataset_label
from ..errors import UserError
from ..hashing import stable_hash
from ..jobspecs import ComplexityJob, FinetuneJob, JobSpec, PretrainJob, RenderJob
from ..registry import task_info
from .config import StudyConfig, pretrain_processes

#: rough costs on 2 CPU cores (seconds of wall time per image-step, the cores shared by two
#: one-thread workers: a job's seconds / 2), used by ``syn2real plan`` and the run's first
#: estimate when no finished job of the same kind is in the store yet. Measured on the
#: quickstart's ResNet-18 jobs (small-pool: pre-training 0.0075, fine-tuning 0.0069).
_RENDER_S_PER_IMAGE_64 = 1 / 190
#: seconds per image-step by stem and image side; between and beyond the measured sides
#: the cost follows the nearest two points' power law in the side, with one point it grows
#: with the pixel count. The imagenet stem (7x7/2 + max-pool) is far from that at small
#: sides: its 8x8 feature maps at 32 px leave the step dominated by fixed costs
#: (``syn2real pretrain --stem imagenet --iters 60``, ResNet-18, batch 64, 2 cores: 0.0037 /
#: 0.0062 / 0.0208 s per image at 32 / 64 / 128 px; the pixel count alone said 0.0156 at
#: 64 px, a 2.5x overestimate). small / small-pool measured 0.0058 / 0.020 / 0.098
#: (small-pool) and 0.017 / 0.082 (small) at the same sides: near the pixel-count rule.
_TRAIN_S_PER_IMAGE = {"small": {32: 0.024}, "small-pool": {32: 0.0072},
                      "imagenet": {32: 0.0039, 64: 0.0062, 128: 0.0208}}
_MODEL_COST = {"resnet18": 1.0, "resnet34": 2.0, "resnet50": 2.3, "resnet101": 4.3,
               "resnet152": 6.2}


@dataclass
class Job:
    """One unit of work: a typed spec (:mod:`syn2real.jobspecs`) plus the study's labels.

    ``tags`` are the study's bookkeeping (rendering setting, pre-training task, n, seeds)
    that group results into curves; they are part of the key but not of the spec.
    """

    key: str
    kind: str  # "render" | "pretrain" | "finetune" | "backbone" | "complexity"
    spec: JobSpec
    deps: list[str] = field(default_factory=list)
    label: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    #: the jobs whose completion makes this job's inputs available, when not its ``deps``:
    #: a pre-training reads a prefix of a dataset, ready once the render parts covering it
    #: are done; the check of a whole dataset waits on its parts. Not part of the key.
    ready_after: list[str] = field(default_factory=list)

    @property
    def waits_on(self) -> list[str]:
        """The jobs that must finish before this one starts (and whose failure blocks it)."""
        return list(self.ready_after) if self.ready_after else list(self.deps)

    @property
    def upstream(self) -> list[str]:
        """Every job this one reads or waits on (what ``--rerun`` propagates along)."""
        return [*self.deps, *(k for k in self.ready_after if k not in self.deps)]

    @property
    def params(self) -> dict[str, Any]:
        """The spec's fields and the tags as plain values (what the store records)."""
        return {**self.spec.record(), **self.tags}

    def identity(self) -> dict[str, Any]:
        return {**self.spec.identity(), **self.tags}

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "params": self.params, "deps": self.deps,
                "ready_after": self.ready_after,
                "label": self.label}


@dataclass
class Plan:
    """The DAG of a study, in a valid execution order."""

    config: StudyConfig
    run_dir: Path
    jobs: dict[str, Job]
    #: Why some jobs could not run (real data that is not there): ``plan`` shows them,
    #: ``execute`` refuses to start.
    missing_data: list[str] = field(default_factory=list)

    def order(self) -> list[Job]:
        return list(self.jobs.values())

    def by_kind(self, kind: str) -> list[Job]:
        return [j for j in self.jobs.values() if j.kind == kind]

    def wall_seconds(self, keys: list[str], history: dict[str, float] | None = None,
                     workers: int = 1) -> float:
        """Estimated wall time of the jobs ``keys``: the built-in figures are for one job
        using every core (parallel jobs share them); measured figures already include the
        sharing, so they are divided by the number of workers."""
        history = history or {}
        total = 0.0
        for k in keys:  # only these: the progress view asks for the jobs left, often
            job = self.jobs[k]
            est = self._seconds(job, history)
            total += est / workers if job.kind in history else est
        return total

    def estimate_seconds(self, history: dict[str, float] | None = None) -> dict[str, float]:
        """Estimated seconds per job (2 CPU cores; ``history``: measured seconds per unit of
        work and kind from the store, used instead of the built-in constants)."""
        return {k: self._seconds(j, history or {}) for k, j in self.jobs.items()}

    def _seconds(self, job: Job, history: dict[str, float]) -> float:
        """One job's estimate: a pre-training shared by DDP processes takes the built-in
        figure (one process) over their number; measured figures are what its jobs took."""
        est = _estimate(job, history)
        if job.kind == "pretrain" and job.kind not in history:
            est /= math.prod(pretrain_processes(self.config.executor))
        return est


#: Reading and hashing an image's shard files, as a share of rendering it (a dataset whose
#: parts were rendered by separate jobs is checked whole by one more job). Measured here
#: (lv4, 400 images, a render then the same render again, which only checks; files in the
#: page cache): 0.012 at 64 px, 0.033 at 128 px, 0.039 at 224 px; the paper's size rounded.
CHECK_PER_RENDER = 0.04


def _train_seconds_per_image(stem: str, size: int) -> float:
    """Built-in seconds per image-step of a ResNet-18 classification step (see
    ``_TRAIN_S_PER_IMAGE``); an unknown stem costs as the small-pool one."""
    points = sorted(_TRAIN_S_PER_IMAGE.get(stem, _TRAIN_S_PER_IMAGE["small-pool"]).items())
    if len(points) == 1:
        side, seconds = points[0]
        return seconds * (size / side) ** 2
    i = min(max(bisect.bisect_left([s for s, _ in points], size), 1), len(points) - 1)
    (s0, t0), (s1, t1) = points[i - 1], points[i]
    slope = math.log(t1 / t0) / math.log(s1 / s0)
    return t0 * (size / s0) ** slope


def work_units(job: Job) -> float:
    """A job's size in the unit its cost scales with (images rendered or image-steps
    weighted by model, task, stem and resolution)."""
    p = job.params
    if job.kind == "render":
        scale = (p["spec"]["size"] / 64) ** 2
        if p.get("shards_from") is None and job.ready_after:  # the parts rendered it: a check
            return p["n_images"] * scale * CHECK_PER_RENDER
        return job.spec.images_rendered * scale
    if job.kind == "complexity":  # a forward pass costs about a third of a training step
        return p["images"] / 3 * _MODEL_COST.get(p["model"], 1.0) * (p["image_size"] / 32) ** 2
    size = p["image_size"]
    w = _MODEL_COST.get(p["model"], 1.0) * task_info(p["task"]).cost
    w *= _train_seconds_per_image(p["stem"], size) / _TRAIN_S_PER_IMAGE["small-pool"][32]
    n_evals = p.get("evals", 4)
    evals = n_evals * (p.get("val_images") or p.get("test_images") or 0) / 3
    return w * (p["iters"] * p["batch"] + evals)


def _estimate(job: Job, history: dict[str, float]) -> float:
    units = work_units(job)
    if job.kind in history:
        return units * history[job.kind]
    if job.kind == "render":
        return units * _RENDER_S_PER_IMAGE_64 + 3
    # + start-up (model, data: ~4 s per job, two workers in parallel)
    return units * _TRAIN_S_PER_IMAGE["small-pool"][32] + 2


def estimate_spec_seconds(kind: str, spec: JobSpec, **tags: Any) -> float:
    """Built-in 2-core estimate of one job outside a study (``tags``: e.g. ``image_size``),
    what ``syn2real pretrain`` says before it starts."""
    return _estimate(Job("", kind, spec, [], "", dict(tags)), {})


def _part_ends(needs: list[int], shard_size: int, most: int | None) -> list[int]:
    """Where the render parts of a folder end: at each size's need, and between two needs
    every ``most`` images (rounded down to whole shards, at least one) when given."""
    if most is None:
        return needs
    step = max(1, most // shard_size) * shard_size
    ends, begin = [], 0
    for need in needs:
        ends.extend(range(begin + step, need, step))
        ends.append(need)
        begin = need
    return ends


def job_key(kind: str, identity: dict[str, Any], deps: list[str]) -> str:
    """A job's content key: its kind, what decides its output and its inputs' keys (never a
    path, so a moved run folder keeps its keys)."""
    return f"{kind[:2]}-" + stable_hash({"kind": kind, "params": identity, "deps": deps})


def _missing_real_path(dataset: Any, where: str) -> str | None:
    """Why real data named in the config cannot be read (None: its folder exists)."""
    from ..data.realspec import RealDataSpec

    if isinstance(dataset, RealDataSpec) and not Path(dataset.path).exists():
        return (f"{where}.path {dataset.path}: no such folder, so its fine-tunings could not "
                "run. Fix: give the folder that holds the data (relative paths start from "
                "where you run syn2real)")
    return None


def build_plan(cfg: StudyConfig, run_dir: str | Path) -> Plan:
    """Expand a config into its jobs (render -> pretrain -> finetune)."""
    run_dir = Path(run_dir)
    pc = cfg.pretrain
    jobs: dict[str, Job] = {}
    missing: list[str] = []

    def add(kind: str, spec: JobSpec, deps: list[str], label: str,
            out_in: Path | None = None, ready_after: list[str] | None = None,
            **tags: Any) -> str:
        """Add a job; ``out_in``: its output folder is ``out_in / key`` (the key never
        depends on paths, so it can name the folder); ``ready_after``: see :class:`Job`."""
        job = Job("", kind, spec, deps, label, tags, list(ready_after or []))
        job.key = job_key(kind, job.identity(), deps)
        if out_in is not None:
            job.spec = spec.model_copy(update={"out": str(out_in / job.key)})
        jobs[job.key] = job
        return job.key

    backbones: list[tuple[str | None, dict[str, Any]]] = []
    datasets: list[str] = []  # each rendered setting's full render job

    def pretrain_grid(name: str, data: str, deps: list[str], digest: str, image_size: int,
                      ready: dict[int, list[str]] | None = None, **data_fields: Any) -> None:
        """Every (task, model, seed, n) pre-training of one setting's data (``ready``: the
        render parts each n waits on)."""
        how = f" ({data_fields['data_format']})" if "data_format" in data_fields else ""
        for task in pc.tasks:
            for model in pc.models:
                for seed in (s + cfg.seed_offset for s in cfg.seeds):
                    for n in pc.n:
                        pspec = PretrainJob(
                            data=data, **data_fields, n=n, task=task, model=model, seed=seed,
                            iters=pc.iters_for(n), batch=pc.batch, lr=pc.lr, stem=pc.stem,
                            val_images=pc.val_images, bf16=pc.bf16, fp16=pc.fp16,
                            channels_last=pc.channels_last, accumulate=pc.accumulate,
                            out="",
                            data_workers=cfg.executor.data_workers,
                            state_every=cfg.executor.state_every)
                        pkey = add("pretrain", pspec, deps,
                                   f"pretrain {name}{how} {task} {model} n={n} seed={seed}",
                                   out_in=run_dir / "pretrain",
                                   ready_after=ready[n] if ready else None, setting=name,
                                   spec_hash=digest, image_size=image_size)
                        backbones.append((pkey, {"setting": name, "ptask": task,
                                                 "model": model, "n": n, "stem": pc.stem,
                                                 "pseed": seed, "pscale": pscale}))

    pscale = _k(max(pc.n))  # the pool of pre-training images (cg-transfer's pscale)
    if cfg.scratch:
        for model in pc.models:
            backbones.append((None, {"setting": "scratch", "ptask": "scratch", "model": model,
                                     "n": 0, "stem": pc.stem, "pseed": None,
                                     "pscale": pscale}))
    for name in cfg.render.settings():
        spec = cfg.render.spec(name)
        data_dir = run_dir / "data" / f"{name}-{spec.spec_hash()}"
        need = {n: _round_up(n + pc.val_images, spec.shard_size) for n in pc.n}
        ends = _part_ends(sorted(set(need.values())), spec.shard_size,
                          cfg.render.part_images)
        chunk: dict[int, str] = {}  # images [previous end, end): independent jobs
        for i, end in enumerate(ends):
            begin = ends[i - 1] if i else 0
            if len(ends) == 1:
                label = f"render {name} ({end} images)"
            elif i == 0:
                label = f"render {name} (first {end} images)"
            else:
                label = f"render {name} (images {begin}-{end - 1})"
            chunk[end] = add(
                "render", RenderJob(spec=spec, n_images=end, out=str(data_dir),
                                    workers=cfg.render.workers, storage=cfg.render.storage,
                                    shards_from=begin // spec.shard_size if i else None),
                [], label, setting=name, spec_hash=spec.spec_hash())
        if len(ends) == 1:
            rkey = chunk[ends[0]]
        else:  # the whole dataset, once every part is there: checked, the manifest whole
            rkey = add("render", RenderJob(spec=spec, n_images=ends[-1], out=str(data_dir),
                                           workers=cfg.render.workers,
                                           storage=cfg.render.storage),
                       [], f"render {name} ({ends[-1]} images: check the parts)",
                       ready_after=list(chunk.values()), setting=name,
                       spec_hash=spec.spec_hash())
        datasets.append(rkey)  # what a pre-training's key names (one identity per dataset)
        pretrain_grid(name, str(data_dir), [rkey], spec.spec_hash(), spec.size,
                      ready={n: [chunk[e] for e in ends if e <= need[n]] for n in pc.n})
    for name, imp in cfg.render.imported.items():
        from ..data.sources import check_source_for_task, open_source

        src = open_source(imp.path, imp.format)
        for task in pc.tasks:  # refused at planning, not once per job
            check_source_for_task(src, task, imp.path)
        need = max(pc.n) + pc.val_images
        if len(src) < need:
            raise UserError(f"{imp.path} (imported setting {name!r}) has {len(src):,} images; "
                            f"the largest n plus the validation images need {need:,}. Fix: "
                            "render more, or lower pretrain.n / val_images")
        digest = src.content_hash()
        pretrain_grid(name, str(imp.path), [], digest, src.image_size,
                      data_format=src.format, data_hash=digest)
    if cfg.complexity is not None:
        cc = cfg.complexity

        bspec = FinetuneJob(dataset=cc.dataset, task="sinclass", model=cc.model, stem=cc.stem,
                            fraction=cc.fraction, iters=cc.iters, batch=cc.batch, lr=cc.lr,
                            image_size=cc.size, data_path=cc.data_path, seed=0, evals=1,
                            out="")
        bkey = add("backbone", bspec, [], f"real backbone {cc.model} on {cc.dataset}",
                   out_in=run_dir / "real-backbone")
        checkpoint = jobs[bkey].spec.checkpoint
        for rkey in datasets:
            r = jobs[rkey]
            rspec = r.spec
            assert isinstance(rspec, RenderJob)
            add("complexity", ComplexityJob(data=rspec.out, backbone=str(checkpoint),
                                            images=min(cc.images, rspec.n_images),
                                            estimator=cc.estimator),
                [rkey, bkey], f"complexity {r.tags['setting']}", setting=r.tags["setting"],
                model=cc.model, image_size=rspec.spec.size)
    for fi, ft in enumerate(cfg.finetune):
        why = _missing_real_path(ft.dataset, f"finetune[{fi}].dataset")
        if why:
            missing.append(why)
        for pkey, info in backbones:
            for how, amount in ft.sizes():
                if ft.seeds is not None:  # every backbone fine-tuned with each of these
                    ft_seeds = [s + cfg.seed_offset for s in ft.seeds]
                elif pkey is None:
                    ft_seeds = [s + cfg.seed_offset for s in cfg.seeds]
                else:  # paired with the pre-training seed (already offset)
                    ft_seeds = [info["pseed"]]
                for seed in ft_seeds:
                    bb = None if pkey is None else jobs[pkey].spec.checkpoint
                    fspec = FinetuneJob(
                        backbone=None if bb is None else str(bb), dataset=ft.dataset,
                        task=ft.task, model=info["model"], stem=info["stem"],
                        iters=ft.iters, batch=ft.batch, lr=ft.lr, image_size=ft.size,
                        resize=ft.resize,
                        reg_lambda=ft.reg_lambda, boards=ft.boards, data_path=ft.data_path,
                        seed=seed, evals=ft.evals, data_seed=ft.data_seed,
                        test_images=ft.test_images,
                        data_workers=cfg.executor.data_workers, **{how: amount})
                    add("finetune", fspec, [] if pkey is None else [pkey],
                        f"finetune {ft.task}/{dataset_label(ft.dataset)} {how}={amount} <- "
                        f"{info['setting']} {info['ptask']} {info['model']} n={info['n']} "
                        f"pseed={info['pseed']} seed={seed}",
                        finetune_index=fi, setting=info["setting"], ptask=info["ptask"],
                        n=info["n"], pseed=info["pseed"], pscale=info["pscale"])
    return Plan(cfg, run_dir, jobs, missing)


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _k(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)
