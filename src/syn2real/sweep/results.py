"""From the results store to learning curves, in memory, and the cg-transfer export.

:func:`study_curves` turns a study's finished fine-tunes into a validated
:class:`~syn2real.curves.CurveSet` directly (no file in between); :func:`export_cg` writes
the same rows in the paper authors' schema (``n_eval, value, pretrain.data, pscale, ptask,
fdata, fratio, ftask, model, nparam, pdata``) plus ``s`` (real images used) and ``seed``, so
``syn2real fit`` reads a sweep's results unchanged; seeds are averaged by the reader. Both
use one table, :func:`cg_rows`, whose columns are :data:`syn2real.curves.CG_COLUMNS` plus
``s`` and ``seed``.
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ..atomic import atomic_open
from ..curves import CG_COLUMNS, CurveSet, CurveTableError, curves_from_frame
from ..data.realspec import dataset_label
from ..registry import backbone_millions, short_model
from .store import Store

CG_HEADER = (*CG_COLUMNS, "s", "seed")


def cg_rows(store: Store, keys: Collection[str] | None = None) -> list[dict[str, Any]]:
    """One cg-transfer row per finished fine-tuning job (error at the last iteration);
    ``keys``: only these jobs (a plan's), e.g. to leave out runs of an earlier config."""
    rows = []
    for r in store.rows("finetune"):
        if keys is not None and r["key"] not in keys:
            continue
        p, res = r["params"], r["result"]
        cfg = res["config"]
        s = cfg["s"]
        pool = cfg.get("train_pool") or s
        pscale = p.get("pscale", "")
        rows.append({
            "n_eval": p["iters"], "value": 1.0 - res["metrics"]["error_last"],
            "pretrain.data": p["n"], "pscale": pscale,
            "ptask": p["ptask"], "fdata": dataset_label(p["dataset"]),
            "fratio": round(100.0 * s / pool, 4), "ftask": p["task"],
            "model": short_model(p["model"]),
            "nparam": round(backbone_millions(p["model"]), 2),
            "pdata": p["setting"], "s": s,
            "seed": f"{'-' if p['pseed'] is None else p['pseed']}/{p['seed']}"})
    return rows


def study_rows(store: Store, keys: Collection[str] | None = None) -> list[dict[str, Any]]:
    """:func:`cg_rows` with the from-scratch rows copied into every curve (what the export
    and :func:`study_curves` hold)."""
    rows = cg_rows(store, keys)
    if not rows:
        raise CurveTableError(f"{store.path}: no finished fine-tuning job yet. Fix: run the study "
                              "(syn2real run) until some fine-tunes finish")
    return _with_scratch_per_setting(rows)


def study_curves(store: Store, keys: Collection[str] | None = None,
                 rows: list[dict[str, Any]] | None = None) -> CurveSet:
    """The study's learning curves, validated in memory (the reader of the exported CSV
    applied to the same rows, so both give the same curves); ``rows``: already read."""
    import pandas as pd

    rows = study_rows(store, keys) if rows is None else rows
    return curves_from_frame(pd.DataFrame(rows, columns=list(CG_HEADER)),
                             source=str(store.path))


def export_cg(store: Store, path: str | Path, keys: Collection[str] | None = None,
              rows: list[dict[str, Any]] | None = None) -> Path:
    """Write the fine-tuning results as a cg-transfer CSV (atomically); ``keys`` as in
    :func:`cg_rows`; ``rows``: already read."""
    rows = study_rows(store, keys) if rows is None else rows
    path = Path(path)
    with atomic_open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CG_HEADER)
        w.writeheader()
        w.writerows(rows)
    return path


def _with_scratch_per_setting(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The from-scratch rows (``pretrain.data = 0``) belong to every curve: copy them into
    each (pdata, ptask) with the same fine-tuning setting so each curve has its baseline."""
    scratch = [r for r in rows if r["pdata"] == "scratch"]
    rest = [r for r in rows if r["pdata"] != "scratch"]
    curves = {(r["pdata"], r["ptask"], r["pscale"]) for r in rest}
    out = list(rest)
    for r in scratch:
        for pdata, ptask, pscale in sorted(curves):
            out.append({**r, "pdata": pdata, "ptask": ptask, "pscale": pscale})
    return out if curves else rows
