"""Replicate runs: variance components, the standard error that counts pre-training noise,
and its way into the reader, the predictor and a study's plan."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from syn2real.curves import curve_arrays, curves_from_frame
from syn2real.curves.replicates import PointReplicates, pooled_noise, pretraining_of
from syn2real.law import CurvePredictor, fit_predictors


def test_nested_runs_give_both_components():
    # 3 pre-trainings x 2 fine-tunings: means 0.10, 0.12, 0.14; within +-0.005
    e = [0.095, 0.105, 0.115, 0.125, 0.135, 0.145]
    lab = ["0/0", "0/1", "1/0", "1/1", "2/0", "2/1"]
    p = PointReplicates.of(e, lab)
    assert (p.runs, p.pretrains, p.dof_within) == (6, 3, 3)
    assert p.var_means == pytest.approx(np.var([0.10, 0.12, 0.14], ddof=1))
    assert p.var_within == pytest.approx(4 * 0.005**2 * 3 / 2 / 3 * 2 / 2)  # 6 x 0.005^2 / 3
    cn = pooled_noise([p])
    assert cn.pretraining_measured and cn.dof_pretrain == 2
    # the mean's standard error is the spread of the pre-training means / sqrt(P), far
    # above what the fine-tuning seeds alone say (sd over all six runs / sqrt(6) is smaller
    # still than the honest one here)
    assert cn.se[0] == pytest.approx(math.sqrt(p.var_means / 3), rel=1e-9)
    assert cn.se[0] > math.sqrt(p.var_within / 6) * 3
    # components of one run: between = V - W/F (relative), within = sqrt(W)
    V, W = p.var_means / p.mean**2, p.var_within / p.mean**2
    assert cn.sd_pretrain == pytest.approx(math.sqrt(V - W / 2))
    assert cn.sd_finetune == pytest.approx(math.sqrt(W))
    assert cn.noise == pytest.approx(cn.se[0] / p.mean)


def test_one_pretraining_counts_finetuning_noise_only_and_says_so():
    pts = [PointReplicates.of([0.1, 0.11, 0.12], ["0/0", "0/1", "0/2"]),
           PointReplicates.of([0.2, 0.22, 0.24], ["0/0", "0/1", "0/2"])]
    cn = pooled_noise(pts)
    assert not cn.pretraining_measured and math.isnan(cn.sd_pretrain)
    W = 0.01**2 / 0.11**2  # both points: relative within-variance (0.01/0.11)^2 = (0.02/0.22)^2
    assert cn.se[0] == pytest.approx(0.11 * math.sqrt(W / 3))
    assert cn.se[1] == pytest.approx(0.22 * math.sqrt(W / 3))


def test_plain_labels_are_independent_runs():
    assert pretraining_of("3") == "3" and pretraining_of("-/2") == "-"
    p = PointReplicates.of([0.1, 0.2, 0.3], ["a", "b", "c"])
    assert p.pretrains == 3 and p.dof_within == 0 and math.isnan(p.var_within)
    cn = pooled_noise([p])
    assert cn.se[0] == pytest.approx(np.std([0.1, 0.2, 0.3], ddof=1) / math.sqrt(3))


def _cg_frame(pseeds: int, spread: float) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for n in (1000, 2000, 4000, 8000):
        base = 0.5 * n**-0.3 + 0.05
        for p in range(pseeds):
            shift = spread * rng.standard_normal()
            for f in range(2):
                err = base * (1 + shift + 0.005 * rng.standard_normal())
                rows.append({"n_eval": 10, "value": 1 - err, "pretrain.data": n,
                             "pscale": "8k", "ptask": "mulclass", "fdata": "mnist",
                             "fratio": 10.0, "ftask": "sinclass", "model": "r18",
                             "nparam": 11.18, "pdata": "a", "seed": f"{p}/{f}"})
    return pd.DataFrame(rows)


def test_reader_attaches_standard_errors_and_the_predictor_takes_them():
    frame = _cg_frame(3, 0.05)
    cs = curves_from_frame(frame)
    assert {"se", "pretrains"} <= set(cs.data.columns)
    # the runs the points came from, one row each, in the table's order, errors as errors
    assert list(cs.runs["seed"]) == list(frame["seed"])
    assert cs.runs["err"].to_numpy() == pytest.approx(1 - frame["value"].to_numpy())
    assert list(cs.runs["n"]) == list(frame["pretrain.data"].astype(float))
    means = cs.runs.groupby("n")["err"].mean().to_numpy()
    assert cs.data["err"].to_numpy() == pytest.approx(means)
    assert (cs.data["pretrains"] == 3).all() and (cs.data["weight"] == 6).all()
    (_, g), = cs.curves()
    c = curve_arrays(g)
    rel = (g["se"] / g["err"]).to_numpy()
    assert c["noise"] == pytest.approx(float(np.sqrt(np.mean(rel**2))))
    assert 0.01 < c["noise"] < 0.1  # ~0.05 / sqrt(3)
    measured, = fit_predictors([c])
    assert measured.noise_ == pytest.approx(c["noise"]) and "noise:measured" in measured.flags_
    model_free = CurvePredictor().fit(c["n"], c["err"], c["weights"])
    assert "noise:measured" not in model_free.flags_
    # a larger measured noise widens the interval of a measurement at a new size
    lo1, hi1 = measured.predict_interval([16000], 0.9)
    wide = CurvePredictor().fit(c["n"], c["err"], c["weights"], noise=4 * c["noise"])
    lo2, hi2 = wide.predict_interval([16000], 0.9)
    assert hi2[0] / lo2[0] > hi1[0] / lo1[0]
    with pytest.raises(ValueError, match="noise must be a finite number"):
        CurvePredictor().fit(c["n"], c["err"], noise=float("nan"))


def test_reader_notes_when_pretraining_spread_is_not_measured():
    cs = curves_from_frame(_cg_frame(1, 0.05))
    assert (cs.data["pretrains"] == 1).all()
    assert any("fine-tuning seeds only" in n for n in cs.notes)
    (_, g), = cs.curves()
    assert "noise" not in curve_arrays(g)


def test_seed_offset_shifts_every_training_seed_and_only_those(tmp_path):
    from syn2real.sweep import build_plan, parse_config
    from test_sweep import _cfg

    base = build_plan(parse_config(_cfg(seeds=[0, 1])), tmp_path)
    moved = build_plan(parse_config(_cfg(seeds=[0, 1], seed_offset=10)), tmp_path)
    pre = sorted(j.params["seed"] for j in moved.by_kind("pretrain"))
    assert pre == sorted(j.params["seed"] + 10 for j in base.by_kind("pretrain"))
    assert {j.params["seed"] for j in moved.by_kind("finetune")} == {10, 11}
    # the renders and the real subset stay: same render keys, same data seed
    assert [j.key for j in moved.by_kind("render")] == [j.key for j in base.by_kind("render")]
    assert {j.params["data_seed"] for j in moved.by_kind("finetune")} == \
        {j.params["data_seed"] for j in base.by_kind("finetune")}
    assert not set(j.key for j in moved.by_kind("pretrain")) & set(
        j.key for j in base.by_kind("pretrain"))
