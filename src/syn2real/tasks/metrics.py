"""Metrics of the pre-training and fine-tuning tasks (errors are 1 - metric)."""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray


def average_precision(scores: Array, positives: Array) -> float:
    """Area under the precision-recall curve as the mean precision at each positive."""
    order = np.argsort(-scores, kind="stable")
    pos = np.asarray(positives, bool)[order]
    if not pos.any():
        return float("nan")
    hits = np.cumsum(pos)
    precision = hits / np.arange(1, len(pos) + 1)
    return float(precision[pos].mean())


def multilabel_map(scores: Array, targets: Array) -> float:
    """Mean over classes (with at least one positive) of the average precision."""
    aps = [average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])]
    aps = [a for a in aps if np.isfinite(a)]
    return float(np.mean(aps)) if aps else float("nan")


def accuracy(logits: Array, labels: Array) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def confusion(pred: Array, target: Array, num_classes: int, ignore: int = -1) -> Array:
    ok = target != ignore
    idx = target[ok].astype(np.int64) * num_classes + pred[ok].astype(np.int64)
    return np.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


def mean_iou(conf: Array) -> float:
    """Mean IoU over classes present in the target or the prediction."""
    inter = np.diag(conf).astype(float)
    union = conf.sum(0) + conf.sum(1) - inter
    ok = union > 0
    return float(np.mean(inter[ok] / union[ok]))


def normal_errors(pred: Array, target: Array, valid: Array) -> dict[str, float]:
    """Mean angular error (degrees) and share of pixels within 11.25 degrees.

    ``pred`` is L2-normalised first; arrays are (N, 3, H, W) and ``valid`` (N, H, W).
    """
    p = pred / np.maximum(np.linalg.norm(pred, axis=1, keepdims=True), 1e-8)
    cos = np.clip(np.sum(p * target, axis=1), -1.0, 1.0)[valid]
    ang = np.degrees(np.arccos(cos))
    return {"mean_angle": float(ang.mean()), "within_11.25": float(np.mean(ang < 11.25))}


def detection_map(predictions: list[dict[str, Any]], targets: list[dict[str, Any]],
                  num_classes: int) -> float:
    """COCO mAP@[.5:.95] of box predictions (pycocotools' COCOeval)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for i, (p, t) in enumerate(zip(predictions, targets, strict=True)):
        images.append({"id": i})
        for b, c in zip(np.asarray(t["boxes"]), np.asarray(t["labels"]), strict=True):
            x0, y0, x1, y1 = (float(v) for v in b)
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c),
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0),
                         "iscrowd": 0})
        for b, c, s in zip(np.asarray(p["boxes"]), np.asarray(p["labels"]),
                           np.asarray(p["scores"]), strict=True):
            x0, y0, x1, y1 = (float(v) for v in b)
            dets.append({"image_id": i, "category_id": int(c), "bbox": [x0, y0, x1 - x0, y1 - y0],
                         "score": float(s)})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns,
                  "categories": [{"id": k} for k in range(1, num_classes + 1)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        if not dets:
            return 0.0
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(max(ev.stats[0], 0.0))
