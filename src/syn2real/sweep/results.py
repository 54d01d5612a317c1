"""From the results store to learning curves: the cg-transfer CSV, fits and the verdict.

``export_cg`` writes the paper authors' schema (``n_eval, value, pretrain.data, pscale, ptask,
fdata, fratio, ftask, model, nparam, pdata``) plus ``s`` (real images used) and ``seed``, so
``syn2real fit`` reads a sweep's results unchanged; seeds are averaged by the reader.
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from functools import cache
from pathlib import Path
from typing import Any

from ..atomic import atomic_open
from .store import Store

CG_HEADER = ("n_eval", "value", "pretrain.data", "pscale", "ptask", "fdata", "fratio",
             "ftask", "model", "nparam", "pdata", "s", "seed")


@cache
def backbone_millions(model: str) -> float:
    """Backbone parameters in millions (torchvision ResNet without ``fc``)."""
    from torchvision import models as tvm

    net = getattr(tvm, model)(weights=None)
    return sum(p.numel() for k, p in net.named_parameters() if not k.startswith("fc.")) / 1e6


def _short(model: str) -> str:
    return model.replace("resnet", "r")


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
            "ptask": p["ptask"], "fdata": p["dataset"],
            "fratio": round(100.0 * s / pool, 4), "ftask": p["task"],
            "model": _short(p["model"]), "nparam": round(backbone_millions(p["model"]), 2),
            "pdata": p["setting"], "s": s,
            "seed": f"{'-' if p['pseed'] is None else p['pseed']}/{p['seed']}"})
    return rows


def export_cg(store: Store, path: str | Path, keys: Collection[str] | None = None) -> Path:
    """Write the fine-tuning results as a cg-transfer CSV (atomically); ``keys`` as in
    :func:`cg_rows`."""
    rows = cg_rows(store, keys)
    if not rows:
        raise ValueError(f"{store.path}: no finished fine-tuning job to export yet")
    rows = _with_scratch_per_setting(rows)
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
