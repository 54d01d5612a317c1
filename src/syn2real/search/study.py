"""Measuring candidate renderings for real: study jobs on the study's executor.

Each candidate is a rendering setting of a study built from the search's study config (its
pre-training, fine-tuning, seeds and executor), named by its spec's content hash
(``r<hash>``), with the pre-training sizes the ladder plus ``n_max``. A rung runs only the
jobs it needs (the render chunks, pre-trainings and fine-tunes of the rung's sizes) through
:func:`~syn2real.sweep.execute`; every job keeps the study's content key, so a rendering and
size trained once in the search folder is never trained again — by a later rung, a resumed
search, or another search run in the same folder. The budget is counted with the built-in
cost model (:meth:`~syn2real.sweep.plan.Plan.estimate_seconds`, 2-core figures).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..render.spec import DatasetSpec
from ..sweep import Plan, Store, StudyConfig, build_plan, execute
from ..sweep.config import RenderConfig
from .space import apply_params, imported_source

__all__ = ["IMPORTED", "StudyMeasurer", "setting_name"]

#: ``progress(plan, store)`` -> a context manager yielding the executor's ``on_event``
Progress = Callable[[Plan, Store], AbstractContextManager[Any]]


#: the spec mapping that stands for an imported folder: ``{IMPORTED: name}``
IMPORTED = "imported"


def setting_name(spec: dict[str, Any]) -> str:
    """A rendering's setting name in the search's store: its content hash (an imported
    folder: ``i-`` and its name in the study)."""
    if set(spec) == {IMPORTED}:
        return f"i-{spec[IMPORTED]}"
    return "r" + DatasetSpec(**spec).spec_hash()[:12]


class StudyMeasurer:
    """Pre-trains and fine-tunes candidate renderings as study jobs (a
    :class:`~syn2real.search.halving.Measurer`).

    Parameters
    ----------
    study
        The study whose training settings every candidate gets.
    base
        The starting rendering's spec mapping (knob values are set on a copy).
    run_dir
        The search folder (its ``results.sqlite`` is the job cache).
    n_sizes
        Every size a candidate may be trained at (the ladder and ``n_max``).
    executor, workers, threads, address
        As ``syn2real run`` takes them (default: the study's).
    progress
        Shows the jobs of each rung as they run.
    """

    def __init__(self, study: StudyConfig, base: dict[str, Any], run_dir: Path,
                 n_sizes: list[int], *, executor: str | None = None,
                 workers: int | None = None, threads: int | None = None,
                 address: str | None = None, progress: Progress | None = None) -> None:
        self.study = study
        self.base = base
        self.run_dir = Path(run_dir)
        self.n_sizes = sorted(set(n_sizes))
        self.store = Store(self.run_dir / "results.sqlite")
        self.run_kw = {"executor": executor, "workers": workers, "threads": threads,
                       "address": address}
        self.progress = progress
        self.failures: dict[str, str] = {}
        self._costs: dict[tuple[str, tuple[int, ...]], float] = {}

    def spec(self, params: dict[str, Any]) -> dict[str, Any]:
        """The full render spec mapping of a candidate (``{"imported": name}`` for one of the
        study's imported folders)."""
        folder = imported_source(params)
        if folder is not None:
            return {IMPORTED: folder}
        return apply_params(self.base, params)

    def config(self, specs: dict[str, dict[str, Any]], replicate: int = 0) -> StudyConfig:
        """The study that trains these renderings (``setting name -> spec``); ``replicate``
        > 0 moves every training seed by ``1000 * replicate`` (``seed_offset``: the same
        renders, other pre-trainings and fine-tunings)."""
        s = self.study
        rendered = {k: v for k, v in specs.items() if set(v) != {IMPORTED}}
        imported = {k: s.render.imported[v[IMPORTED]] for k, v in specs.items()
                    if set(v) == {IMPORTED}}
        render = RenderConfig(presets=[], specs=rendered, imported=imported, overrides={},
                              workers=s.render.workers, storage=s.render.storage)
        return s.model_copy(update={
            "render": render, "scratch": False, "complexity": None,
            "pretrain": s.pretrain.model_copy(update={"n": self.n_sizes}),
            "seed_offset": s.seed_offset + 1000 * replicate,
            "fit": s.fit.model_copy(update={"holdout": []})})

    def _jobs(self, plan: Plan, wanted: dict[str, set[int]]) -> Plan:
        """The part of ``plan`` that trains setting ``s`` at the sizes ``wanted[s]``, with
        the render chunks those wait on."""
        keep: set[str] = set()
        for key, job in plan.jobs.items():
            t = job.tags
            if job.kind in ("pretrain", "finetune") and t.get("n") in wanted.get(
                    t.get("setting"), ()):
                keep.add(key)
        stack = list(keep)
        while stack:
            for dep in plan.jobs[stack.pop()].waits_on:
                if dep not in keep:
                    keep.add(dep)
                    stack.append(dep)
        return Plan(plan.config, plan.run_dir,
                    {k: j for k, j in plan.jobs.items() if k in keep}, plan.missing_data)

    def cost(self, params: dict[str, Any], sizes: list[int]) -> float:
        spec = self.spec(params)
        name = setting_name(spec)
        k = (name, tuple(sorted(sizes)))
        if k not in self._costs:
            plan = build_plan(self.config({name: spec}), self.run_dir)
            sub = self._jobs(plan, {name: set(sizes)})
            self._costs[k] = float(sum(sub.estimate_seconds().values()))
        return self._costs[k]

    def measure(self, todo: dict[str, tuple[dict[str, Any], list[int]]],
                replicate: int = 0) -> dict[str, list[tuple[float, float]]]:
        return self.measure_specs({cand: (self.spec(params), sizes)
                                   for cand, (params, sizes) in todo.items()}, replicate)

    def measure_specs(self, todo: dict[str, tuple[dict[str, Any], list[int]]],
                      replicate: int = 0) -> dict[str, list[tuple[float, float]]]:
        """As :meth:`measure`, for whole render spec mappings instead of knob values."""
        specs, wanted, names = {}, {}, {}
        for cand, (spec, sizes) in todo.items():
            name = setting_name(spec)
            specs[name] = spec
            wanted.setdefault(name, set()).update(sizes)
            names[cand] = name
        plan = build_plan(self.config(specs, replicate), self.run_dir)
        if plan.missing_data:
            raise UserError(plan.missing_data[0])
        sub = self._jobs(plan, wanted)
        show = self.progress(sub, self.store) if self.progress else nullcontext(None)
        with show as on_event:
            summary = execute(sub, self.store, on_event=on_event, **self.run_kw)
        for key, msg in summary.failed.items():
            self.failures[sub.jobs[key].label] = msg.splitlines()[0] if msg else "failed"
        points: dict[str, list[tuple[float, float]]] = {}
        for r in self.store.rows("finetune"):
            if r["key"] not in sub.jobs:
                continue
            p = r["params"]
            points.setdefault(p["setting"], []).append(
                (float(p["n"]), float(r["result"]["metrics"]["error_last"])))
        return {cand: sorted(points.get(name, [])) for cand, name in names.items()}
