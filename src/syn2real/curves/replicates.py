"""Replicate runs of one measured point: variance components and the standard error of its mean.

A point of a learning curve (one size n) is usually measured by several runs. In a study they
are nested: ``P`` pre-trainings (pre-training seeds) and, inside each, ``F`` fine-tunings
(fine-tuning seeds). The spread from one pre-training to the next is what another machine,
library version or seed produces; a standard error from fine-tuning seeds alone leaves it
out. This module separates the two (one-way nested analysis of variance) and gives the
standard error of the point's mean that counts both.

Run labels: ``"p/f"`` (syn2real's exports: pre-training seed / fine-tuning seed; ``-`` for
no pre-training) or any other label, read as one independent pre-training + fine-tuning per
run (what paired seeds are).

Within a curve the relative (log-space) variances are pooled over its points, weighted by
their degrees of freedom: two or three pre-trainings per point give one or two degrees of
freedom each, too few for a point on its own, while the points of one curve share the
training recipe and so, to first order, its relative noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


def pretraining_of(label: object) -> str:
    """The pre-training a run belongs to: ``"2/0"`` -> ``"2"``; any other label is its own."""
    s = str(label)
    return s.split("/", 1)[0] if "/" in s else s


@dataclass(frozen=True)
class PointReplicates:
    """The replicate runs of one point, reduced to what the analysis of variance needs.

    Attributes
    ----------
    mean : float
        Mean over the runs.
    runs, pretrains : int
        Number of runs and of distinct pre-trainings among them.
    var_means : float
        Sample variance (ddof 1) of the per-pre-training means (nan with one pre-training).
    var_within : float
        Pooled variance of the runs around their pre-training's mean (nan without a
        pre-training of two or more runs).
    dof_within : int
        Its degrees of freedom (runs - pretrains).
    """

    mean: float
    runs: int
    pretrains: int
    var_means: float
    var_within: float
    dof_within: int

    @classmethod
    def of(cls, errors: Sequence[float], labels: Sequence[object]) -> PointReplicates:
        """From the runs' errors and their labels (see :func:`pretraining_of`)."""
        e = np.asarray(errors, float)
        if len(e) != len(labels) or len(e) == 0:
            raise ValueError(f"{len(e)} errors and {len(labels)} labels: need one label per run")
        pre = np.array([pretraining_of(x) for x in labels])
        ids, inv, cnt = np.unique(pre, return_inverse=True, return_counts=True)
        means = np.bincount(inv, weights=e) / cnt
        dof_w = int(len(e) - len(ids))
        ss_w = float(np.sum((e - means[inv]) ** 2))
        return cls(mean=float(e.mean()), runs=int(len(e)), pretrains=int(len(ids)),
                   var_means=float(means.var(ddof=1)) if len(ids) > 1 else math.nan,
                   var_within=ss_w / dof_w if dof_w > 0 else math.nan, dof_within=dof_w)


@dataclass(frozen=True)
class CurveNoise:
    """A curve's pooled replicate noise (relative, i.e. of the log error).

    Attributes
    ----------
    se : tuple of float
        Standard error of each point's mean (absolute), from the pooled variances.
    sd_pretrain, sd_finetune : float
        Relative standard deviation of one run's error between pre-trainings (the variance
        component) and between fine-tunings of one pre-training (nan where not measured).
    dof_pretrain : int
        Degrees of freedom of the between-pre-training estimate (0: not measured).
    noise : float
        Root-mean-square relative standard error of a point's mean: the measurement noise of
        one point in log space, what the predictor's ``noise`` input takes.
    pretraining_measured : bool
        ``True`` when at least one point has two or more pre-trainings; otherwise ``se`` and
        ``noise`` count fine-tuning seeds only.
    """

    se: tuple[float, ...]
    sd_pretrain: float
    sd_finetune: float
    dof_pretrain: int
    noise: float
    pretraining_measured: bool


def pooled_noise(points: Iterable[PointReplicates]) -> CurveNoise:
    """Pool the relative variances of a curve's points (see the module docstring).

    The relative variance of a pre-training's mean, ``V``, is pooled over the points with
    two or more pre-trainings (``P - 1`` degrees of freedom each) and a point's standard
    error is ``mean * sqrt(max(V, W / F) / P)`` (the variance of a pre-training's mean is at
    least its fine-tunings' share, ``F`` runs each); with one pre-training everywhere it is
    ``mean * sqrt(W / runs)`` from the pooled within-pre-training variance ``W`` (fine-tuning
    noise only). The between-pre-training component of one run is ``V - W / F`` (F: mean runs
    per pre-training), clipped at 0.
    """
    pts = list(points)
    if not pts:
        raise ValueError("no points")
    dof_m = sum(p.pretrains - 1 for p in pts if math.isfinite(p.var_means) and p.mean > 0)
    V = (sum((p.pretrains - 1) * p.var_means / p.mean**2 for p in pts
             if math.isfinite(p.var_means) and p.mean > 0) / dof_m) if dof_m else math.nan
    dof_w = sum(p.dof_within for p in pts if math.isfinite(p.var_within) and p.mean > 0)
    W = (sum(p.dof_within * p.var_within / p.mean**2 for p in pts
             if math.isfinite(p.var_within) and p.mean > 0) / dof_w) if dof_w else math.nan
    measured = dof_m > 0
    if measured:  # V >= W / F: the between-pre-training component is never negative
        floor = [W / (p.runs / p.pretrains) if math.isfinite(W) else 0.0 for p in pts]
        se_rel = [math.sqrt(max(V, f) / p.pretrains) for p, f in zip(pts, floor, strict=True)]
        f_bar = float(np.mean([p.runs / p.pretrains for p in pts]))
        sd_b = math.sqrt(max(V - (W / f_bar if math.isfinite(W) else 0.0), 0.0))
    else:
        se_rel = [math.sqrt(W / p.runs) if math.isfinite(W) else math.nan for p in pts]
        sd_b = math.nan
    finite = [s for s in se_rel if math.isfinite(s)]
    noise = math.sqrt(float(np.mean(np.square(finite)))) if finite else math.nan
    return CurveNoise(se=tuple(p.mean * s for p, s in zip(pts, se_rel, strict=True)),
                      sd_pretrain=sd_b, sd_finetune=math.sqrt(W) if math.isfinite(W) else W,
                      dof_pretrain=int(dof_m), noise=noise, pretraining_measured=measured)
