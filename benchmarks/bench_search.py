"""The rendering search on a known-truth landscape, against the usual ways to spend compute.

Issue 27's first benchmark. :class:`syn2real.search.Landscape` maps knob settings (three
knobs on a 5-level grid and a two-valued mode: 250 renderings) to (α, C, D); renderings with a
low transfer gap start worse and learn slower, so curves cross. Every method gets the same
compute (the landscape's cost model: a measurement at n costs n + n_min) and returns one
rendering; its *regret* is its true error at n_max minus the best of the space. Methods:

* ``law-SH``: syn2real's search (TPE proposals, successive halving over n judged by the law
  at n_max, sizes n_min .. n_max/2);
* ``plain-SH``: the same brackets, TPE and halving, ranked by the error measured at the rung's
  size (one size per rung, n_min .. n_max);
* ``hyperband``: Optuna's TPE with its HyperbandPruner, the measured error at each size as the
  intermediate value, trials until the budget is spent;
* ``random``: renderings drawn at random, each measured at n_max, the best measured kept;
* ``grid``: all 250 measured at n_max, the best measured kept (the reference compute).

Targets (issue 27): law-SH's regret within the noise of the best for <= 25% of the grid's
compute, and the same regret as plain SH for <= 1/2 of its compute.

    python benchmarks/bench_search.py [--seeds 50] [--noise 0.1]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from syn2real.search import Landscape, SearchSettings, run_halving
from syn2real.search.halving import best_candidate

N_MIN, N_MAX = 1000, 64000


class Meter:
    """Measurements with their cost, each (rendering, n) paid once (a study's cache), as
    law-SH's own accounting does."""

    def __init__(self, land: Landscape) -> None:
        self.land, self.paid, self.spent = land, set(), 0.0

    def __call__(self, params: dict, n: int) -> float:
        key = (repr(sorted(params.items())), n)
        if key not in self.paid:
            self.paid.add(key)
            self.spent += self.land.cost({}, [n])
        return self.land.measure_one(params, n)[0]


def law_sh(land: Landscape, budget: float, seed: int, k: int, race: int = 0
           ) -> tuple[dict, float]:
    s = SearchSettings(n_min=N_MIN, n_max=N_MAX, candidates=k, budget_seconds=budget,
                       seed=seed, race=race)
    st = run_halving(land.space(), s, land, with_base=False)
    return best_candidate(st).params, st.spent(land)


def plain_sh(land: Landscape, budget: float, seed: int, k: int, eta: float = 2.0
             ) -> tuple[dict, float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(
        seed=seed, multivariate=True, n_startup_trials=min(k, 10)))
    dists = {n: kn.distribution() for n, kn in land.space().items()}
    ladder = [N_MIN * 2**i for i in range(int(math.log2(N_MAX / N_MIN)) + 1)]
    meter = Meter(land)
    best, best_err = None, math.inf

    def bracket_cost() -> float:
        live, c = float(k), 0.0
        for n in ladder:
            c += math.ceil(live) * land.cost({}, [n])
            live = max(1.0, live / eta)
        return c

    while meter.spent == 0 or meter.spent + bracket_cost() <= budget:
        before = meter.spent
        trials = [study.ask(dists) for _ in range(k)]
        live = list(trials)
        for j, n in enumerate(ladder):
            errs = {t.number: meter(t.params, n) for t in live}
            live.sort(key=lambda t: errs[t.number])
            last = j == len(ladder) - 1
            keep = len(live) if last else max(1, math.ceil(len(live) / eta))
            for t in live[keep:]:
                study.tell(t, errs[t.number])
            live = live[:keep]
            if last:
                for t in live:
                    study.tell(t, errs[t.number])
                    if errs[t.number] < best_err:
                        best, best_err = t.params, errs[t.number]
        if meter.spent == before:  # the sampler only repeats measured renderings
            break
    return best, meter.spent


def hyperband(land: Landscape, budget: float, seed: int) -> tuple[dict, float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ladder = [N_MIN * 2**i for i in range(int(math.log2(N_MAX / N_MIN)) + 1)]
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=len(ladder),
                                              reduction_factor=2))
    dists = {n: kn.distribution() for n, kn in land.space().items()}
    meter = Meter(land)
    best, best_err = None, math.inf
    idle = 0
    while meter.spent < budget and idle < 50:  # 50 proposals in a row already measured: done
        before = meter.spent
        t = study.ask(dists)
        err = math.nan
        for step, n in enumerate(ladder, 1):
            err = meter(t.params, n)
            t.report(err, step)
            if step < len(ladder) and t.should_prune():
                study.tell(t, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(t, err)
            if err < best_err:
                best, best_err = t.params, err
        idle = idle + 1 if meter.spent == before else 0
    if best is None:  # the budget ran out before a trial completed
        done = [t for t in study.trials if t.intermediate_values]
        t = min(done, key=lambda t: t.intermediate_values[max(t.intermediate_values)])
        best = t.params
    return best, meter.spent


def random_search(land: Landscape, budget: float, seed: int) -> tuple[dict, float]:
    rng = np.random.default_rng(seed)
    grid = land.grid()
    k = max(1, int(budget // land.cost({}, [N_MAX])))
    picks = [grid[i] for i in rng.choice(len(grid), size=min(k, len(grid)), replace=False)]
    errs = [land.measure_one(p, N_MAX)[0] for p in picks]
    return picks[int(np.argmin(errs))], k * land.cost({}, [N_MAX])


def full_grid(land: Landscape) -> tuple[dict, float]:
    grid = land.grid()
    errs = [land.measure_one(p, N_MAX)[0] for p in grid]
    return grid[int(np.argmin(errs))], len(grid) * land.cost({}, [N_MAX])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--candidates", type=int, default=16)
    ap.add_argument("--shares", type=float, nargs="+", default=[0.03125, 0.0625, 0.125, 0.25])
    ap.add_argument("--race", type=int, nargs="*", default=[0, 5], help="law-SH's final race "
                    "sizes to compare (0: none); each is a method of its own")
    ap.add_argument("--methods", nargs="*", default=["law-SH", "plain-SH", "hyperband",
                                                       "random"])
    a = ap.parse_args()
    t0 = time.perf_counter()
    rows: dict[tuple[str, float], list[tuple[float, float]]] = {}
    grid_reg, noise_best = [], []
    for seed in range(a.seeds):
        land = Landscape(seed=seed, noise=a.noise, n_min=N_MIN)
        best = land.best(N_MAX)
        noise_best.append(a.noise * best)
        p, grid_cost = full_grid(land)
        grid_reg.append(land.truth(p, N_MAX) - best)
        for share in a.shares:
            B = share * grid_cost
            methods = [(f"law-SH{f'+race{r}' if r else ''}", law_sh, (a.candidates, r))
                       for r in a.race] if "law-SH" in a.methods else []
            methods += [(name, fn, args) for name, fn, args in (
                ("plain-SH", plain_sh, (a.candidates,)), ("hyperband", hyperband, ()),
                ("random", random_search, ())) if name in a.methods]
            for name, fn, args in methods:
                p, spent = fn(land, B, seed, *args)
                rows.setdefault((name, share), []).append(
                    (land.truth(p, N_MAX) - best, spent / grid_cost))
    nb = float(np.mean(noise_best))
    print(f"{a.seeds} landscapes, noise {a.noise:.0%} per measurement; noise of the best at "
          f"n_max: {nb:.4f}; {time.perf_counter() - t0:.0f} s")
    print(f"{'method':14s} {'budget':>7s} {'spent':>7s} {'mean regret':>12s} "
          f"{'median':>8s} {'<= noise':>9s}")
    print(f"{'grid':14s} {'100%':>7s} {'100%':>7s} {np.mean(grid_reg):12.4f} "
          f"{np.median(grid_reg):8.4f} {np.mean(np.array(grid_reg) <= nb):9.0%}")
    for (name, share), v in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        reg = np.array([r for r, _ in v])
        spent = np.mean([s for _, s in v])
        print(f"{name:14s} {share:7.1%} {spent:7.1%} {reg.mean():12.4f} "
              f"{np.median(reg):8.4f} {np.mean(reg <= nb):9.0%}")


if __name__ == "__main__":
    main()
