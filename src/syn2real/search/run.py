"""``search()``: the rendering search end to end, and what it answers (:class:`SearchResult`).

The run folder holds everything needed to resume and to inspect: ``state.json`` (every
candidate, its points and the law's judgement at each rung), ``optuna.db`` (Optuna's SQLite
storage: ``optuna-dashboard sqlite:///RUN/optuna.db`` opens it), ``results.sqlite`` (the study
jobs), and at the end ``best.yaml`` (the chosen rendering as a render spec) and
``result.json``; when an imported folder wins, ``best.yaml`` names it (``imported: {path,
format}``) instead of a render spec.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write, json_safe
from ..law.predictive import fit_predictors
from .halving import (
    BASE,
    Candidate,
    SearchState,
    best_candidate,
    bracket_cost,
    run_halving,
    save_state,
)
from .space import (
    LoadedSearch,
    SearchConfig,
    describe,
    imported_source,
    load_search,
    reference_specs,
)
from .study import StudyMeasurer, setting_name

__all__ = ["SearchResult", "expected_seconds", "search"]


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    Attributes
    ----------
    best, base : Candidate
        The chosen rendering and the starting one (``base`` ``None`` if it failed).
    spec : dict
        The chosen rendering's full render spec (``best.yaml``).
    n_max : int
        The size it was chosen for.
    predicted, interval : float, tuple
        Its predicted mean error at ``n_max`` and the 90% interval.
    base_predicted, base_interval
        The same for the starting rendering.
    advice : Advice or None
        The advisor's verdict for the chosen rendering (``None`` without ``fit.target``).
    check : list of dict
        The held-out measurements at ``n_max`` (pick and one stopped candidate):
        predicted, interval, measured, runs, inside.
    importances : dict
        fANOVA importance of each knob for the told values (empty with < 2 told trials).
    state : SearchState
        Every candidate.
    spent : float
        Compute asked for, in the cost model's seconds.
    """

    best: Candidate
    base: Candidate | None
    spec: dict[str, Any]
    n_max: int
    predicted: float
    interval: tuple[float, float]
    base_predicted: float | None
    base_interval: tuple[float, float] | None
    advice: Any
    check: list[dict[str, Any]]
    importances: dict[str, float]
    state: SearchState
    spent: float
    run_dir: Path | None = None
    failures: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def describe(c: Candidate) -> str:
        """A candidate in words (its knobs, or the imported folder it is)."""
        return describe(c.params)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the candidates in full)."""
        return {"best": self.best.name, "params": self.best.params, "spec": self.spec,
                "n_max": self.n_max, "predicted": self.predicted,
                "interval": list(self.interval), "base_predicted": self.base_predicted,
                "base_interval": None if self.base_interval is None else list(
                    self.base_interval),
                "advice": None if self.advice is None else self.advice.to_dict(),
                "check": self.check, "importances": self.importances, "spent": self.spent,
                "failures": self.failures, "candidates": self.state.to_dict()["candidates"]}


def expected_seconds(cfg: SearchConfig, measurer: StudyMeasurer) -> float:
    """Cost-model seconds of the first bracket (with the starting rendering)."""
    s = cfg.search
    return bracket_cost(measurer, s, s.candidates + 1)


def _curve(c: Candidate) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([p[0] for p in c.points], float),
            np.array([p[1] for p in c.points], float))


def _check(c: Candidate, pred: Any, got: list[tuple[float, float]], n_max: int
           ) -> dict[str, Any]:
    """Predicted (``pred``: fitted to the curve the search judged) vs measured at the
    held-out n_max."""
    lo, hi = (float(v[0]) for v in pred.predict_interval([n_max], 0.9, "observation"))
    vals = [v for m, v in got if m == n_max]
    measured = float(np.mean(vals)) if vals else math.nan
    return {"candidate": c.name, "status": c.status, "predicted": float(pred.predict([n_max])[0]),
            "interval": [lo, hi], "measured": measured, "runs": len(vals),
            "inside": bool(vals) and lo <= measured <= hi}


def _importances(study: Any) -> dict[str, float]:
    from .halving import optuna_module

    optuna = optuna_module()

    done = [t for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < 4:
        return {}
    try:
        ev = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return {k: float(v) for k, v in optuna.importance.get_param_importances(
            study, evaluator=ev).items()}
    except (RuntimeError, ValueError):  # a knob that never varied among the told trials
        return {}


def search(config: str | Path | LoadedSearch, *, run_dir: str | Path | None = None,
           executor: str | None = None, workers: int | None = None,
           threads: int | None = None, address: str | None = None,
           progress: Callable[..., Any] | None = None,
           on_rung: Callable[[dict[str, Any]], None] | None = None,
           say: Callable[[str], None] | None = None) -> SearchResult:
    """Search the rendering space of the search YAML ``config``; resumes a search already
    under way in ``run_dir`` (default ``runs/NAME``).

    Parameters
    ----------
    config
        The search file (:mod:`syn2real.search.space`; its study is read with it), or what
        :func:`~syn2real.search.space.load_search` returned for it.
    run_dir
        The search folder.
    executor, workers, threads, address
        Override the study's executor settings, as ``syn2real run`` does.
    progress
        ``progress(plan, store)`` -> context manager yielding the jobs' ``on_event``.
    on_rung
        Called after every rung (see :func:`~syn2real.search.halving.run_halving`).
    say
        Receives one-line messages: the expected time before the first bracket, a resume.
    """
    import yaml

    from ..advise.decide import decide
    from .halving import optuna_module

    optuna = optuna_module()

    cfg, study, base = (config if isinstance(config, LoadedSearch)
                        else load_search(config))
    folder = Path(run_dir) if run_dir is not None else Path("runs") / cfg.name
    folder.mkdir(parents=True, exist_ok=True)
    s = cfg.search
    measurer = StudyMeasurer(study, base, folder, [*s.ladder(), s.n_max], executor=executor,
                             workers=workers, threads=threads, address=address,
                             progress=progress)
    if say is not None:
        resumed = (folder / "state.json").exists()
        say(f"{'resuming the search in' if resumed else 'search in'} {folder}: brackets of "
            f"{s.candidates} renderings, sizes {', '.join(map(str, s.ladder()))} (then "
            f"n_max = {s.n_max} for the held-out check); one bracket ~"
            f"{expected_seconds(cfg, measurer) / 60:.1f} min, budget "
            f"{s.budget_seconds / 60:.1f} min (built-in 2-core cost model; jobs already in "
            f"{folder / 'results.sqlite'} are free)")
    storage = f"sqlite:///{(folder / 'optuna.db').resolve()}"
    state = run_halving(cfg.space, s, measurer, state_path=folder / "state.json",
                        storage=storage, study_name=cfg.name, on_rung=on_rung)
    best = best_candidate(state)
    if best is None:
        raise RuntimeError(f"{folder}: no candidate could be judged (every training failed: "
                           f"{next(iter(measurer.failures.values()), 'see results.sqlite')})")
    base_c = next((c for c in state.candidates if c.name == BASE and c.last), None)
    stopped = [c for c in state.candidates
               if c.status == "stopped" and c.last and c.name != BASE]
    probe = max(stopped, key=lambda c: c.last["p_better"], default=None)  # type: ignore[index]
    # the pick first; one batch of fits serves the held-out checks and the verdict
    checked = list({c.name: c for c in (best, probe, base_c) if c is not None}.values())
    preds = dict(zip((c.name for c in checked), fit_predictors(
        [dict(zip(("n", "err"), _curve(c), strict=True)) for c in checked]), strict=True))
    if s.check and state.check is None:
        todo = {c.name: (measurer.spec(c.params), [s.n_max]) for c in checked}
        refs = reference_specs(cfg, study)
        todo.update({f"ref:{k}": (v, [s.n_max]) for k, v in refs.items()})
        got = measurer.measure_specs(todo)
        rows = [_check(c, preds[c.name], got[c.name], s.n_max) for c in checked]
        for k in refs:
            vals = [v for m, v in got[f"ref:{k}"] if m == s.n_max]
            rows.append({"candidate": k, "status": "reference", "measured": float(
                np.mean(vals)) if vals else math.nan, "runs": len(vals)})
        state.check = {"n_max": s.n_max, "rows": rows}
        save_state(state, folder / "state.json")
    advice = (decide(preds[best.name], study.fit.target, level=0.9)
              if study.fit.target is not None else None)
    spec = measurer.spec(best.params)
    folder_pick = imported_source(best.params)
    atomic_write(folder / "best.yaml", yaml.safe_dump(
        {"name": setting_name(spec), "spec": spec, "knobs": best.params} if folder_pick is None
        else {"name": folder_pick, "imported": study.render.imported[folder_pick].model_dump(
            mode="json")}, sort_keys=False))
    ostudy = optuna.load_study(study_name=cfg.name, storage=storage)
    last = best.last or {}
    bl = base_c.last if base_c is not None else None
    result = SearchResult(
        best=best, base=base_c, spec=spec, n_max=s.n_max, predicted=float(last["predicted"]),
        interval=(float(last["low"]), float(last["high"])),
        base_predicted=None if bl is None else float(bl["predicted"]),
        base_interval=None if bl is None else (float(bl["low"]), float(bl["high"])),
        advice=advice, check=list((state.check or {}).get("rows", [])),
        importances=_importances(ostudy), state=state, spent=state.spent(measurer),
        run_dir=folder, failures=dict(measurer.failures))
    atomic_write(folder / "result.json", json.dumps(json_safe(result.to_dict()), indent=1))
    return result
