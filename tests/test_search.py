"""The rendering search: the law's stopping rule, the search file's checks, and a real search
(tiny renders, real torch training, the real results store) that resumes after a kill."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import yaml
from typer.testing import CliRunner

from studies import tiny
from syn2real.cli.app import app
from syn2real.render.spec import DatasetSpec
from syn2real.search import Knob, Landscape, SearchError, SearchSettings, judge, run_halving
from syn2real.search.halving import SearchState, best_candidate
from syn2real.search.judge import p_better
from syn2real.search.space import apply_params, load_search
from syn2real.sweep import Store


def test_p_better_orders_independent_quantile_tables() -> None:
    levels = (np.arange(400) + 0.5) / 400
    from scipy import stats

    Q = np.stack([stats.norm.ppf(levels, loc=m) for m in (0.0, 0.0, 3.0, -3.0)])
    p = p_better(Q, 0)
    assert p[0] == 1.0
    assert abs(p[1] - 0.5) < 0.01  # the same distribution: a coin toss
    assert p[2] < 0.02  # three sd worse
    assert p[3] > 0.98  # three sd better


class _Curves:
    """A measurer with fixed, noise-free curves per value of the knob ``kind``."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    @staticmethod
    def truth(kind: str, n: float) -> float:
        return {"flat": 0.5 * (1 + 0.01 * np.sin(n)), "steep": 3.0 * n ** -0.5 + 0.01,
                "slow": 0.9 * n ** -0.1 + 0.05}[kind]

    def cost(self, params: dict[str, Any], sizes: list[int]) -> float:
        return float(sum(sizes))

    def measure(self, todo: dict[str, tuple[dict[str, Any], list[int]]]
                ) -> dict[str, list[tuple[float, float]]]:
        out = {}
        for name, (params, sizes) in todo.items():
            kind = params.get("kind", "slow")
            self.asked += [(kind, n) for n in sizes]
            out[name] = [(float(n), self.truth(kind, n)) for n in sizes]
        return out


def test_law_stops_floors_at_the_first_rung_and_keeps_the_falling_curve() -> None:
    m = _Curves()
    s = SearchSettings(n_min=100, n_max=6400, candidates=6, budget_seconds=1.0, brackets=1,
                       seed=3)
    state = run_halving({"kind": Knob(choices=["flat", "steep", "slow"])}, s, m)
    by = {c.name: c for c in state.candidates}
    flat = [c for c in state.candidates if c.params.get("kind") == "flat"]
    assert flat, "the sampler should propose the flat rendering among 6 draws"
    for c in flat:  # a floor at 0.5 against a curve heading to 0.05: stopped at once
        assert c.status == "stopped" and c.stopped_at == 400, c
        assert c.last["p_better"] < s.threshold
    best = best_candidate(state)
    assert best is not None and best.params.get("kind") == "steep"
    assert best.status == "finished" and best.sizes == [100, 200, 400, 800, 1600, 3200]
    # nothing was measured at n_max: the decision never saw it
    assert max(n for _, n in m.asked) == 3200
    assert by["base"].params == {}


def test_judge_ranks_by_the_prediction_at_n_max_not_by_the_last_point() -> None:
    n = np.array([1000, 2000, 4000, 8000, 16000], float)
    high_floor = 0.6 * n ** -0.2 + 0.10   # lower now, flat later
    low_floor = 60.0 * n ** -0.6 + 0.02   # higher now, falling fast
    assert low_floor[-1] > high_floor[-1]
    v = judge({"hi": (n, high_floor), "lo": (n, low_floor)}, 256000)
    assert v["lo"].incumbent and v["lo"].predicted < v["hi"].predicted
    assert v["hi"].p_better < 0.5


def test_search_on_the_known_landscape_beats_the_start() -> None:
    land = Landscape(seed=0, noise=0.05, n_min=1000)
    s = SearchSettings(n_min=1000, n_max=64000, candidates=8, budget_seconds=2e6, seed=0)
    state = run_halving(land.space(), s, land)
    best = best_candidate(state)
    truth = land.truth(best.params, 64000)
    assert truth < land.truth({}, 64000)
    grid = np.array([land.truth(p, 64000) for p in land.grid()])
    assert truth <= np.percentile(grid, 10)  # a random pick: 10% chance (measured: top 4.4%)
    assert state.spent(land) <= 2e6 + 1
    assert state.brackets >= 2  # the budget allows several brackets


def test_the_final_race_measures_the_finalists_at_n_max_with_other_seeds() -> None:
    """settings.race: the best finished candidates are trained at n_max (replicate 1), judged
    again with that point, the pick comes from them, and their compute is counted."""
    land = Landscape(seed=3, noise=0.1, n_min=1000)
    common = {"n_min": 1000, "n_max": 64000, "candidates": 8, "budget_seconds": 2e6,
              "seed": 0}
    plain = run_halving(land.space(), SearchSettings(**common), land)
    raced = run_halving(land.space(), SearchSettings(**common, race=3), land)
    fin = [c for c in raced.candidates if c.race_sizes]
    assert raced.raced and len(fin) == 3
    assert all(c.race_sizes == [64000] and c.last["race"] for c in fin)
    for c in fin:  # the race's point at n_max is another seed than replicate 0's
        at_max = [e for n, e in c.points if n == 64000]
        assert at_max == land.measure_one(c.params, 64000, replicate=1)
        assert at_max != land.measure_one(c.params, 64000)
    assert best_candidate(raced) in fin
    # its compute is part of the spent figure and was kept out of the brackets' budget
    assert raced.spent(land) <= 2e6 + 1
    assert raced.spent(land) - sum(land.cost(c.params, c.race_sizes) for c in fin) <= \
        plain.spent(land) + 1


def _search_files(tmp_path: Path, **search: Any) -> Path:
    study = tiny(render={"specs": {"start": {"preset": "lv0"}},
                         "overrides": {"size": 32, "classes": 3, "shard_size": 30},
                         "workers": 1},
                 pretrain={"n": [20, 40, 80], "iters": 2, "batch": 10, "lr": 0.05,
                           "stem": "imagenet", "val_images": 20})
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    cfg = {"name": "s", "study": "study.yaml", "base": "start",
           "space": {"camera.roll": {"low": 0, "high": 180, "step": 90},
                     "background": {"choices": ["fixed", "random"]}},
           "search": {"n_min": 10, "n_max": 160, "candidates": 2, "budget_seconds": 1,
                      "brackets": 1, "seed": 0, **search}}
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "search.yaml"


@pytest.mark.parametrize(("space", "words"), [
    ({"camera.rol": {"low": 0, "high": 1}}, "unknown knob 'camera.rol'"),
    ({"camera.roll": {"low": 90, "high": 90}}, "empty range"),
    ({"light": {"choices": []}}, "at least two"),
    ({"camera.roll": {"low": 0, "high": 400}}, "space.camera.roll = 400"),
])
def test_a_bad_space_is_one_clear_line(tmp_path: Path, space: dict, words: str) -> None:
    path = _search_files(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["space"] = space
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SearchError) as e:
        load_search(path)
    assert words in str(e.value) and "\n" not in str(e.value)
    res = CliRunner().invoke(app, ["search", str(path), "--out", str(tmp_path / "run")])
    assert res.exit_code != 0
    assert words in res.output and not (tmp_path / "run").exists()


def test_an_imported_folder_listed_twice_is_one_clear_line(tmp_path: Path) -> None:
    path = _search_files(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["imported"] = ["other", "other"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SearchError) as e:
        load_search(path)
    assert "imported folder 'other' is listed twice" in str(e.value)
    assert "\n" not in str(e.value)


def test_apply_params_sets_one_end_of_a_range() -> None:
    spec = apply_params({"camera": {"elevation": [5.0, 89.0]}}, {"camera.elevation.1": 30.0,
                                                                  "light": "random"})
    assert spec["camera"]["elevation"] == [5.0, 30.0] and spec["light"] == "random"


def test_real_search_resumes_after_a_kill_without_training_again(tmp_path: Path) -> None:
    from syn2real.search.run import search

    path = _search_files(tmp_path)
    run = tmp_path / "run"

    def kill_after_first_rung(info: dict) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search(path, run_dir=run, on_rung=kill_after_first_rung)
    store = Store(run / "results.sqlite")
    first = {r["key"]: r["finished"] for r in store.rows()}
    state1 = SearchState.from_dict(json.loads((run / "state.json").read_text()))
    assert any(r["params"].get("n") == 40 for r in store.rows("pretrain"))
    res = search(path, run_dir=run)
    rows = store.rows()
    again = {r["key"]: r["finished"] for r in rows}
    assert all(again[k] == t for k, t in first.items())  # nothing trained twice
    assert len(again) > len(first)  # the next rung and the check ran
    assert [c.name for c in res.state.candidates] == [c.name for c in state1.candidates]
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{run / 'optuna.db'}")
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE"]  # both proposals told once, none re-asked
    spec = yaml.safe_load((run / "best.yaml").read_text())["spec"]
    DatasetSpec(**spec)  # ready to render
    assert res.check and res.check[0]["candidate"] == res.best.name
    assert res.check[0]["runs"] >= 1 and np.isfinite(res.check[0]["measured"])
    assert any(r["params"].get("n") == 160 for r in store.rows("pretrain"))
    # a third run finds everything done: no job runs, the same answer
    res3 = search(path, run_dir=run)
    assert {r["key"] for r in store.rows()} == set(again)
    assert res3.best.name == res.best.name and res3.predicted == res.predicted


def _with_folder(tmp_path: Path, **search: Any) -> Path:
    """The search files of :func:`_search_files` plus an imported folder ("other": a render
    of another preset) that competes with the renderer."""
    from syn2real.render import preset, render_dataset

    render_dataset(preset("lv4", size=32, classes=3, shard_size=30), tmp_path / "other", 180)
    path = _search_files(tmp_path, **search)
    study = yaml.safe_load((tmp_path / "study.yaml").read_text())
    study["render"]["imported"] = {"other": {"path": str(tmp_path / "other"),
                                             "format": "syn2real"}}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    raw = yaml.safe_load(path.read_text())
    raw["imported"] = ["other"]
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.slow  # a real search with three candidates (about a minute on 2 cores)
def test_imported_folders_compete_with_the_renderer(tmp_path: Path) -> None:
    """Issue 27: the study's imported folders listed under ``imported`` are one more
    categorical knob, ``source``; a candidate drawn with a folder is trained on that folder
    as it is (its render knobs do not apply), and one folder is one rendering however the
    other knobs were drawn."""
    from syn2real.search.halving import rendering_key
    from syn2real.search.run import search
    from syn2real.search.study import StudyMeasurer

    path = _with_folder(tmp_path, candidates=3, seed=1, check=False)
    cfg, study, base = load_search(path)
    assert cfg.space["source"].choices == ["render", "other"]
    assert rendering_key({"source": "other", "camera.roll": 0.0}) == \
        rendering_key({"camera.roll": 90.0, "source": "other"})
    assert rendering_key({"source": "render", "camera.roll": 90.0}) == \
        rendering_key({"camera.roll": 90.0})
    m = StudyMeasurer(study, base, tmp_path / "m", [10, 20, 40, 80, 160])
    assert m.spec({"source": "other", "camera.roll": 90.0}) == {"imported": "other"}
    res = search(path, run_dir=tmp_path / "run")
    folder = [c for c in res.state.candidates if c.params.get("source") == "other"]
    assert folder and all(len({n for n, _ in c.points}) >= 3 for c in folder)
    trained = {r["params"]["setting"] for r in Store(tmp_path / "run" /
                                                     "results.sqlite").rows("pretrain")}
    assert "i-other" in trained  # the folder itself was pre-trained on
    best = yaml.safe_load((tmp_path / "run" / "best.yaml").read_text())
    if res.best.params.get("source") == "other":
        assert best == {"name": "other", "imported": {"path": str(tmp_path / "other"),
                                                      "format": "syn2real"}}
        assert res.describe(res.best) == "imported folder other"
    else:
        DatasetSpec(**best["spec"])
    # a name that is not an imported folder of the study: one line
    raw = yaml.safe_load(path.read_text())
    raw["imported"] = ["nope"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SearchError, match=r"imported: 'nope' is not an imported folder of "
                                          r".*render\.imported: other"):
        load_search(path)
