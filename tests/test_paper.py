"""Acceptance: the paper's numbers from its authors' raw results (../shared/data/cg-transfer)."""

from __future__ import annotations

import numpy as np
import pytest

from syn2real.curves import read_curves
from syn2real.law import (
    FullTransferLaw,
    PowerLaw,
    TransferLaw,
    backtest,
    fit_groups,
    joint_shared_D,
    shared_D_iterated,
)

pytestmark = pytest.mark.paper
FIG1 = ["pscale=64k", "fratio=1"]  # pdata=imagenet and n = 0 rows are set aside by the reader
PAPER_BOUNDS = {"alpha": (0.1, 1.5), "C": (0.0, 1.0)}


@pytest.fixture
def fig1(cg_path):
    return read_curves(cg_path, where=FIG1)


def test_fig1_fig8_parameters_with_D_048(fig1):
    by = ["ptask", "ftask", "model", "pdata"]
    table = fit_groups(fig1.data, TransferLaw(D=0.48, bounds=PAPER_BOUNDS), by)
    assert len(table) == 29
    row = table.set_index(by)
    od = row.loc[("objdet", "objdet", "r50", "bop")]
    assert od["alpha"] == pytest.approx(0.439, abs=0.0015)
    assert od["C"] == pytest.approx(0.935, abs=0.0015)
    ms = row.loc[("mulclass", "sinclass", "r50", "bop")]
    assert ms["alpha"] == pytest.approx(0.227, abs=0.0015)
    assert ms["C"] == pytest.approx(0.800, abs=0.0015)
    # the paper drops alpha estimates with sd > 1 (normal -> semseg): flagged here
    ns = row.loc[("normal", "semseg", "r50", "bop")]
    assert "alpha_se_gt_1" in ns["flags"] or "at_bound:alpha" in ns["flags"]


def test_appendix_d_shared_D(fig1):
    curves = [{"n": g["n"].to_numpy(), "err": g["err"].to_numpy()} for _, g in fig1.curves()]
    res = shared_D_iterated(curves, bounds=PAPER_BOUNDS)
    # The literal procedure settles near the paper's D = 0.48 (it oscillates within a few
    # thousandths here; the note says so) ...
    assert 0.45 < res.D < 0.55, res.note
    assert len(res.history) > 2
    # ... and the joint least-squares D of the same curves lies in the same flat valley.
    joint = joint_shared_D(curves, bounds=PAPER_BOUNDS)
    assert 0.3 < joint.D < 1.0
    assert joint.objective <= res.objective + 1e-12


def test_appendix_c2_full_law(cg_path):
    cs = read_curves(cg_path, where=["pscale=64k", "ptask=mulclass", "ftask=sinclass",
                                     "model=r50", "fratio=2|4|7|16|32|64"])
    d = cs.data
    assert set(d["s"].round()) == {round(f / 100 * 1_281_167) for f in (2, 4, 7, 16, 32, 64)}
    law = FullTransferLaw().fit(d["n"], d["s"], d["err"])
    assert law.alpha_ == pytest.approx(0.54, abs=0.03)
    assert law.beta_ == pytest.approx(0.32, abs=0.03)
    assert law.gamma_ == pytest.approx(0.478, abs=0.05)


@pytest.mark.parametrize("model", ["r50", "r101", "r152"])
def test_fig5_extrapolation_beats_power_law(cg_path, model):
    cs = read_curves(cg_path, where=["ptask=objdet", "ftask=objdet", "fratio=1", "pdata=bop",
                                     f"model={model}"])
    d = cs.data
    assert set(d["pscale"]) == {"64k", "1280k"} and d["n"].max() == 1_280_000
    data = {"n": d["n"].to_numpy(), "err": d["err"].to_numpy()}
    train = data["n"] < 64_000
    law = backtest(TransferLaw(), data, train)
    power = backtest(PowerLaw(), data, train, intervals=False)
    assert power["rmse"] >= 3 * law["rmse"], (law["rmse"], power["rmse"])
    assert law["rmse"] < 0.004
    assert np.isfinite(law["covered"])
