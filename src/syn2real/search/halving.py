"""Successive halving over n, judged by the law, with Optuna proposing the renderings.

One *bracket*: Optuna's TPE sampler proposes ``candidates`` renderings; every live candidate
is pre-trained at the rung's sizes (first rung ``n_min, 2·n_min, 4·n_min``, then one doubling
per rung up to ``n_max / 2``); after each rung all curves are fitted in one batch and judged at
``n_max`` (:func:`~syn2real.search.judge.judge`) against the incumbent (the best predicted
candidate so far, of any bracket). A candidate stops when ``P(better than the incumbent)``
falls below ``threshold``; of the rest at most ``1/eta`` (the most likely to be better) go on.
Candidates that reach the last rung are *finished*. Brackets repeat while the budget allows;
each candidate is told to Optuna once — a finished one its predicted median at ``n_max``, a
stopped one the lower end of its interval (:data:`TOLD`) — so later proposals learn from every
stopped candidate too.

What measuring costs and how it is done is the :class:`Measurer`'s business (real pre-training
through a study's executor, :mod:`syn2real.search.study`; or a known-truth landscape,
:mod:`syn2real.search.landscape`). The loop's state (candidates, their points and judgements)
is written atomically after every decision: a search killed at any point resumes where it was,
and a measurer that caches (the study store) repeats no training.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..atomic import atomic_write, json_safe
from ..errors import UserError
from .judge import judge
from .space import SOURCE, Knob, SearchSettings, imported_source

__all__ = ["Candidate", "Measurer", "SearchState", "bracket_cost", "run_halving"]

BASE = "base"
#: What Optuna is told of a candidate: the lower end of its predicted 90% interval at n_max
#: (what it might still reach). Telling the median made a rendering stopped early on a steep,
#: still-uncertain curve look bad to the sampler: on the benchmark's landscape the median
#: gave a mean regret of 0.044 at 25% of the grid's compute, the lower end 0.033 (20 seeds).
TOLD = "low"


class Measurer(Protocol):
    """Measures candidates' learning curves."""

    def cost(self, params: dict[str, Any], sizes: list[int]) -> float:
        """Estimated compute of measuring one candidate at ``sizes`` (cost-model seconds)."""
        ...

    def measure(self, todo: dict[str, tuple[dict[str, Any], list[int]]],
                replicate: int = 0) -> dict[str, list[tuple[float, float]]]:
        """``name -> (params, sizes)`` to ``name -> [(n, error), ...]`` (replicates as
        several pairs at one n; a size whose training failed is missing). ``replicate``
        > 0: the same measurements with other training seeds (the final race)."""
        ...


@dataclass
class Candidate:
    """One proposed rendering and what the search learnt of it."""

    name: str
    params: dict[str, Any]
    bracket: int
    number: int | None = None  # Optuna trial number (None: the starting rendering)
    status: str = "live"  # live | stopped | finished | failed
    rung: int = 0  # next rung to measure
    points: list[tuple[float, float]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # every size asked for so far
    judgements: list[dict[str, Any]] = field(default_factory=list)  # one per rung
    stopped_at: int | None = None  # the largest size measured when it stopped
    race_sizes: list[int] = field(default_factory=list)  # re-measured with new seeds

    @property
    def last(self) -> dict[str, Any] | None:
        return self.judgements[-1] if self.judgements else None


@dataclass
class SearchState:
    """Everything a search has decided (``state.json`` in its folder)."""

    candidates: list[Candidate] = field(default_factory=list)
    brackets: int = 0
    done: bool = False
    check: dict[str, Any] | None = None
    raced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchState:
        cands = [Candidate(**{**c, "points": [tuple(p) for p in c["points"]]})
                 for c in d["candidates"]]
        return cls(cands, d["brackets"], d["done"], d.get("check"), d.get("raced", False))

    def spent(self, measurer: Measurer) -> float:
        """Compute asked for so far, in the cost model's units: every (rendering, size)
        once — a proposal that repeats a rendering reuses its measurements — and work
        cached before the search counted too, so the figure survives a resume."""
        sizes: dict[str, tuple[dict[str, Any], set[int]]] = {}
        for c in self.candidates:
            sizes.setdefault(rendering_key(c.params), (c.params, set()))[1].update(c.sizes)
        return (sum(measurer.cost(p, sorted(s)) for p, s in sizes.values() if s)
                + sum(measurer.cost(c.params, c.race_sizes) for c in self.candidates
                      if c.race_sizes))


def rendering_key(params: dict[str, Any]) -> str:
    """One key per rendering (knob values), whatever order they come in; an imported folder
    (its ``source``) is one rendering whatever the render knobs drawn with it."""
    folder = imported_source(params)
    if folder is not None:
        return json.dumps({SOURCE: folder})
    return json.dumps({k: v for k, v in params.items() if k != SOURCE}, sort_keys=True)


def rungs_of(settings: SearchSettings) -> list[list[int]]:
    """The sizes measured by the end of each rung."""
    ladder = settings.ladder()
    return [ladder[:k] for k in range(3, len(ladder) + 1)]


def bracket_cost(measurer: Measurer, settings: SearchSettings, k: int) -> float:
    """Cost of one bracket of ``k`` candidates if halving keeps ``1/eta`` at every rung
    (what the search says it will spend before it starts; priced at the start's knobs)."""
    rungs = rungs_of(settings)
    live, total = float(k), 0.0
    for r in rungs:
        total += math.ceil(live) * measurer.cost({}, r)
        live = max(1.0, live / settings.eta)
    return total


def save_state(state: SearchState, path: Path | None) -> None:
    """Write ``state.json`` atomically (nothing when ``path`` is ``None``)."""
    if path is not None:
        atomic_write(path, json.dumps(json_safe(state.to_dict()), indent=1))


def optuna_module() -> Any:
    """Optuna, or one clear line saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise UserError("the rendering search needs Optuna: pip install 'syn2real[search]'"
                        ) from None
    return optuna


def _optuna_study(space: dict[str, Knob], settings: SearchSettings, storage: str | None,
                  name: str) -> Any:
    optuna = optuna_module()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (optuna.samplers.RandomSampler(seed=settings.seed) if settings.sampler == "random"
               else optuna.samplers.TPESampler(seed=settings.seed, multivariate=True,
                                               n_startup_trials=min(settings.candidates, 10)))
    return optuna.create_study(storage=storage, study_name=name, sampler=sampler,
                               direction="minimize", load_if_exists=True)


def _tell(study: Any, number: int | None, value: float | None) -> None:
    """Tell Optuna a candidate's outcome once (a resumed search may meet told trials)."""
    optuna = optuna_module()

    if number is None:
        return
    trial = study.get_trials(deepcopy=False)[number]
    if trial.state != optuna.trial.TrialState.RUNNING:
        return
    if value is None or not math.isfinite(value):
        study.tell(number, state=optuna.trial.TrialState.FAIL)
    else:
        study.tell(number, value)


def run_halving(space: dict[str, Knob], settings: SearchSettings, measurer: Measurer, *,
                state_path: Path | None = None, storage: str | None = None,
                study_name: str = "search", with_base: bool = True,
                on_rung: Callable[[dict[str, Any]], None] | None = None) -> SearchState:
    """Run (or resume) the search until its budget is spent; returns its state.

    Parameters
    ----------
    space, settings
        What to search and how (see :mod:`syn2real.search.space`).
    measurer
        Measures and prices learning curves.
    state_path
        Where the state is kept (resumed from when it exists); ``None``: in memory.
    storage
        Optuna storage URL (``sqlite:///…/optuna.db``; ``None``: in memory).
    with_base
        Measure the starting rendering (``params = {}``) in the first bracket, as the
        reference every answer is compared with.
    on_rung
        Called after every rung with a summary (bracket, rung, sizes, live, best so far,
        spent and budget in cost-model seconds, ``eta``: wall seconds until the budget is
        spent at this run's measured pace).
    """
    optuna = optuna_module()

    state = (SearchState.from_dict(json.loads(state_path.read_text()))
             if state_path is not None and state_path.exists() else SearchState())
    study = _optuna_study(space, settings, storage, study_name)
    known = {c.number for c in state.candidates}
    for t in study.get_trials(deepcopy=False):  # asked before a kill, never recorded
        if t.state == optuna.trial.TrialState.RUNNING and t.number not in known:
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    dists = {k: v.distribution() for k, v in space.items()}
    rungs = rungs_of(settings)
    n_max = float(settings.n_max)
    budget = settings.budget_seconds
    t_start, spent_start = time.perf_counter(), state.spent(measurer)
    while not state.done:
        live = [c for c in state.candidates if c.status == "live"]
        if not live:
            out_of_brackets = (settings.brackets is not None
                               and state.brackets >= settings.brackets)
            next_cost = (bracket_cost(measurer, settings, settings.candidates)
                         + race_cost(measurer, settings))
            if state.brackets and (out_of_brackets
                                   or state.spent(measurer) + next_cost > budget):
                state.done = True
                save_state(state, state_path)
                break
            b = state.brackets
            seen = {rendering_key(c.params) for c in state.candidates}
            new = []
            if b == 0 and with_base:
                new.append(Candidate(BASE, {}, b))
            for _ in range(settings.candidates):
                trial = study.ask(dists)
                new.append(Candidate(f"c{trial.number:03d}", dict(trial.params), b,
                                     number=trial.number))
            state.candidates += new
            state.brackets += 1
            if all(rendering_key(c.params) in seen for c in new):
                # the sampler only repeats renderings already judged: nothing left to learn
                for c in new:
                    c.status = "stopped"
                    _tell(study, c.number, _told_before(state, c))
                state.done = True
            save_state(state, state_path)
            continue
        j = live[0].rung
        sizes = rungs[j]
        for c in live:
            c.sizes = sorted(set(c.sizes) | set(sizes))
        save_state(state, state_path)
        got = measurer.measure({c.name: (c.params, sizes) for c in live})
        for c in live:
            c.points = sorted(got.get(c.name, []))
        pool = [c for c in state.candidates if c.status in ("live", "finished")]
        verdicts = _judge(pool, n_max)
        last = j == len(rungs) - 1
        going: list[Candidate] = []
        for c in live:
            v = verdicts.get(c.name)
            if v is None:  # too few sizes measured: its trainings failed
                c.status = "failed"
                c.stopped_at = max(sizes)
                _tell(study, c.number, None)
                continue
            c.judgements.append(_judgement(v, max(sizes)))
            if last:
                c.status = "finished"
                _tell(study, c.number, v.predicted)
            elif not v.incumbent and v.p_better < settings.threshold:
                c.status = "stopped"
                c.stopped_at = max(sizes)
                _tell(study, c.number, c.last[TOLD])
            else:
                going.append(c)
        going.sort(key=lambda c: (-c.last["p_better"], c.last["predicted"]))  # type: ignore[index]
        keep = max(1, math.ceil(len(live) / settings.eta))
        for i, c in enumerate(going):
            if i >= keep and not c.last["incumbent"]:  # type: ignore[index]
                c.status = "stopped"
                c.stopped_at = max(sizes)
                _tell(study, c.number, c.last[TOLD])  # type: ignore[index]
            else:
                c.rung = j + 1
        best = best_candidate(state)
        save_state(state, state_path)
        if on_rung is not None:
            spent = state.spent(measurer)
            wall = time.perf_counter() - t_start
            # wall seconds per cost-model second, measured in this run (None before work)
            pace = wall / (spent - spent_start) if spent > spent_start else None
            on_rung({"bracket": state.brackets, "rung": j, "sizes": sizes, "last": last,
                     "measured": len(live),
                     "live": sum(c.status == "live" for c in state.candidates),
                     "best": best, "spent": spent, "budget": budget,
                     "eta": None if pace is None else
                     _work_left(state, settings, measurer, rungs) * pace})
    if settings.race and not state.raced:
        _race(state, settings, measurer, state_path)
    return state


def _judge(cands: list[Candidate], n_max: float) -> dict[str, Any]:
    """:func:`~.judge.judge` of these candidates' curves, in one batch."""
    return judge({c.name: ([p[0] for p in c.points], [p[1] for p in c.points])
                  for c in cands}, n_max)


def _judgement(v: Any, n: int, **extra: Any) -> dict[str, Any]:
    """What a candidate's record keeps of one verdict (measured up to ``n``)."""
    return {"n": n, "predicted": v.predicted, "low": v.low, "high": v.high,
            "p_better": v.p_better, "incumbent": v.incumbent, **extra}


def race_cost(measurer: Measurer, settings: SearchSettings) -> float:
    """Compute the final race takes (priced at the start's knobs)."""
    return settings.race * measurer.cost({}, race_sizes(settings)) if settings.race else 0.0


def race_sizes(settings: SearchSettings) -> list[int]:
    """The size the final race measures: ``n_max`` itself, the size the pick is for (on the
    benchmark's landscape, 5 finalists at 25% of the grid's compute: mean regret 0.0248 vs
    0.0305 without a race; re-measuring the ladder's three largest sizes instead: 0.0278)."""
    return [settings.n_max]


def _race(state: SearchState, settings: SearchSettings, measurer: Measurer,
          state_path: Path | None) -> None:
    """Measure the best ``settings.race`` finished candidates at ``n_max`` with other seeds
    (``replicate=1``) and judge them again on their curves with that point: without it the
    pick is the finished curve with the lowest extrapolation to ``n_max``, and among several
    close ones that is often the one whose seeds happened to fall low (on the benchmark's
    landscape picking cost most of the regret left). The final held-out check measures
    ``n_max`` with the study's own seeds (``replicate=0``): other runs than the race's."""
    fin = sorted((c for c in state.candidates if c.status == "finished" and c.last),
                 key=lambda c: c.last["predicted"])[:settings.race]  # type: ignore[index]
    if len(fin) >= 2:
        sizes = race_sizes(settings)
        for c in fin:
            c.race_sizes = list(sizes)
        save_state(state, state_path)
        got = measurer.measure({c.name: (c.params, sizes) for c in fin}, replicate=1)
        for c in fin:
            c.points = sorted(c.points + got.get(c.name, []))
        verdicts = _judge(fin, float(settings.n_max))
        for c in fin:
            v = verdicts.get(c.name)
            if v is not None:
                c.judgements.append(_judgement(v, max(sizes), race=True))
    state.raced = True
    save_state(state, state_path)


def _work_left(state: SearchState, settings: SearchSettings, measurer: Measurer,
               rungs: list[list[int]]) -> float:
    """Cost-model seconds still to spend: the current bracket's rungs if halving keeps
    ``1/eta`` of its live candidates, the budget's rest if further brackets may follow, and
    the final check (about three trainings at ``n_max``)."""
    live = [c for c in state.candidates if c.status == "live"]
    rest = 0.0
    if live:
        k = float(len(live))
        for r in rungs[live[0].rung:]:
            rest += math.ceil(k) * measurer.cost({}, [r[-1]])
            k = max(1.0, k / settings.eta)
    if settings.brackets is None or state.brackets < settings.brackets:
        rest = max(rest, settings.budget_seconds - state.spent(measurer))
    if settings.check:
        rest += 3 * measurer.cost({}, [settings.n_max])
    return rest


def _told_before(state: SearchState, c: Candidate) -> float | None:
    """What an earlier candidate with the same rendering was told."""
    for o in state.candidates:
        if o is not c and o.params == c.params and o.last:
            return float(o.last[TOLD])
    return None


def best_candidate(state: SearchState) -> Candidate | None:
    """The finished (else live) candidate with the lowest predicted error at ``n_max`` (after
    a final race: among the candidates it re-measured)."""
    for status in ("finished", "live"):
        pool = [c for c in state.candidates if c.status == status and c.last]
        raced = [c for c in pool if c.last.get("race")]  # type: ignore[union-attr]
        pool = raced or pool
        if pool:
            return min(pool, key=lambda c: c.last["predicted"])  # type: ignore[index]
    return None
