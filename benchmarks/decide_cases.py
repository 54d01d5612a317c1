"""Decision back-test cases from real learning curves (used by ``bench_decide.py``).

Protocol (issue 11): per curve, fit only the sizes ``x <= x_max / 4`` (at least 4 points and
at least one point beyond); the budget is the largest observed size ``x_max``; targets are

* ``y(x_max) * 1.01`` (the last measured error, a little slack),
* midway between the best error of the prefix and the best later error,
* ``0.98 * min y`` and ``0.90 * min y`` (below anything ever measured),

targets already met in the prefix are dropped. Truth: does a measured error at some
``x <= budget`` reach the target. Several rows at one ``x`` are averaged.

Sources: ``../shared/data/dev-curves/curves.csv.gz`` (lin2024, colpret, lcdb), the paper's
``../shared/data/cg-transfer/results_finetune.csv`` (error = 1 - value, last evaluation,
one curve per (pscale, ptask, fdata, fratio, ftask, model, pdata)) and, where it has been
built, the corpus of ``benchmarks/build_corpus.py`` (``data/corpus/curves.csv.gz`` or the
folder ``SYN2REAL_CORPUS`` names: pythia-ckpt, pythia-size, nanogpt-speedrun, timm-size and
six MLPerf benchmarks; ``build_corpus.KIND`` says which curves are checkpoints of one run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from build_corpus import KIND as CORPUS_KIND
from syn2real.law.decision_backtest import DecisionCase, decision_case

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEV = SHARED / "dev-curves" / "curves.csv.gz"
CG = SHARED / "cg-transfer" / "results_finetune.csv"
CORPUS = Path(os.environ.get("SYN2REAL_CORPUS", ROOT / "data" / "corpus")) / "curves.csv.gz"
#: The sources of the development corpus, those of ``build_corpus.py`` included when built.
DEV_SOURCES = ("lin2024", "colpret", "lcdb", "cg-transfer")
CORPUS_SOURCES = tuple(CORPUS_KIND)
CG_GROUPS = ["pscale", "ptask", "fdata", "fratio", "ftask", "model", "pdata"]
TARGET_KINDS = ("last*1.01", "midway", "min*0.98", "min*0.90")
#: What the sizes of each source are: separate runs per size, or checkpoints of one run.
KINDS = {"colpret": "checkpoints", **CORPUS_KIND}


@dataclass
class Case:
    """One curve's back-test: the fitted prefix, what came after, and its targets."""

    source: str
    curve: str
    x: np.ndarray          # fitted prefix sizes
    y: np.ndarray          # fitted prefix errors
    x_future: np.ndarray   # sizes after the prefix, up to the budget
    y_future: np.ndarray
    budget: float
    targets: list[tuple[str, float, bool, float]]  # (kind, target, reached, first x reaching)


def _case(source: str, curve: str, x: np.ndarray, y: np.ndarray) -> Case | None:
    order = np.argsort(x)
    x, y = x[order], y[order]
    if len(x) < 5 or np.any(y <= 0):
        return None
    x_max = x[-1]
    pre = x <= x_max / 4
    if pre.sum() < 4 or pre.all():
        return None
    xp, yp, xf, yf = x[pre], y[pre], x[~pre], y[~pre]
    best_pre = yp.min()
    cands = [("last*1.01", y[-1] * 1.01), ("midway", 0.5 * (best_pre + yf.min())),
             ("min*0.98", 0.98 * y.min()), ("min*0.90", 0.90 * y.min())]
    targets = []
    for kind, t in cands:
        if best_pre <= t:
            continue  # already met in the prefix
        hit = yf <= t
        targets.append((kind, float(t), bool(hit.any()),
                        float(xf[np.argmax(hit)]) if hit.any() else float("inf")))
    if not targets:
        return None
    return Case(source, curve, xp, yp, xf, yf, float(x_max), targets)


def load_cases(sources: tuple[str, ...] = ("lin2024", "colpret", "lcdb", "cg-transfer")
               ) -> list[Case]:
    """Every usable curve of the named sources (those whose files exist)."""
    cases: list[Case] = []
    for src, curve, x, y in _curves(sources):
        c = _case(src, curve, x, y)
        if c is not None:
            cases.append(c)
    return cases


def _curves(sources: tuple[str, ...]):
    """(source, curve, x, y) of every curve of the named sources, repeats averaged."""
    for path in (DEV, CORPUS):
        if not path.exists():
            continue
        d = pd.read_csv(path)
        d = d[d["source"].isin(sources)]
        for (src, curve), g in d.groupby(["source", "curve"], sort=True):
            h = g.groupby("x")["y"].mean()
            yield str(src), str(curve), h.index.to_numpy(float), h.to_numpy(float)
    if "cg-transfer" in sources and CG.exists():
        d = pd.read_csv(CG)
        d = d[d["pretrain.data"] > 0].dropna(subset=["pretrain.data", "value"])
        d = d.sort_values("n_eval").groupby(CG_GROUPS + ["pretrain.data"]).tail(1)
        for key, g in d.groupby(CG_GROUPS, sort=True):
            h = (1.0 - g.groupby("pretrain.data")["value"].mean())
            yield "cg-transfer", " ".join(map(str, key)), h.index.to_numpy(float), \
                h.to_numpy(float)


def load_iso_cases(sources: tuple[str, ...] = DEV_SOURCES + CORPUS_SOURCES
                   ) -> list[DecisionCase]:
    """Every usable curve under the isotonic protocol (:mod:`syn2real.law.decision_backtest`)."""
    out = []
    for src, curve, x, y in _curves(sources):
        c = decision_case(src, curve, x, y, kind=KINDS.get(src, "runs"))
        if c is not None:
            out.append(c)
    return out
