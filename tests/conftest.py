from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import least_squares

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CG = SHARED / "data" / "cg-transfer" / "results_finetune.csv"


@pytest.fixture
def cg_path() -> Path:
    if not CG.exists():
        pytest.skip(f"the authors' results are not at {CG} (../shared is absent)")
    return CG


def multistart_cost(law, X: dict, y: np.ndarray, starts: int, seed: int = 0) -> float:
    """Best scipy least_squares cost over random starts, same loss and bounds as ``law``."""
    rng = np.random.default_rng(seed)
    fam = law.family
    b = law._bounds()
    free = law.free_params
    lo = np.array([b[p][0] for p in free])
    hi = np.array([b[p][1] for p in free])
    best = np.inf
    kw = {"loss": "huber", "f_scale": law.huber_delta_} if law.loss == "huber" else {}

    def res(x):
        p = dict(law.fixed)
        p.update(zip(free, x, strict=True))
        pred = fam.predict({k: np.array([v]) for k, v in p.items()},
                           {k: np.asarray(v, float)[None] for k, v in X.items()})[0]
        if law.loss == "log":
            return np.log(y) - np.log(np.maximum(pred, 1e-300))
        return y - pred

    for _ in range(starts):
        top = np.where(np.isfinite(hi), hi, lo + 5.0)
        x0 = rng.uniform(lo, top)
        x0 = np.clip(x0, lo + 1e-9, np.where(np.isfinite(hi), hi - 1e-9, np.inf))
        try:
            r = least_squares(res, x0, bounds=(lo, hi), **kw)
        except ValueError:
            continue
        best = min(best, r.cost)
    return best


def ap_of_ground_truth_as_detections(coco) -> float:
    """COCOeval bbox mAP when every ground-truth box is submitted as a detection (1.0 when
    the annotations are consistent)."""
    from pycocotools.cocoeval import COCOeval

    dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
             "score": 1.0} for a in coco.dataset["annotations"]]
    ev = COCOeval(coco, coco.loadRes(dets), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return float(ev.stats[0])
