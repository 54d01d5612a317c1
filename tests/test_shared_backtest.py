from __future__ import annotations

import numpy as np
import pytest

from syn2real.law import (
    BrokenPowerLaw,
    PowerLaw,
    TransferLaw,
    backtest,
    compare,
    fit_curves,
    joint_shared_D,
    shared_D_iterated,
)

N = 1000 * 2.0 ** np.arange(7)


def _curves(D=0.48, k=15, seed=0, sd=5e-4):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        a = rng.uniform(0.2, 0.7)
        C = rng.uniform(0.1, 0.9)
        out.append({"n": N, "err": D * N ** -a + C + rng.normal(0, sd, N.size)})
    return out


def test_joint_shared_D_recovers_the_common_coefficient():
    res = joint_shared_D(_curves())
    assert res.D == pytest.approx(0.48, rel=0.15)
    # the joint optimum is at least as good as any fixed D nearby
    for d in (0.3, 0.48, 0.7):
        other = sum(r["objective"] for r in fit_curves(TransferLaw(D=d), _curves()))
        assert res.objective <= other + 1e-12


def test_iterated_median_procedure_runs_the_paper_update():
    res = shared_D_iterated(_curves(sd=1e-5), tol=1e-5)
    a0, d0 = res.history[0]
    assert (a0, d0) == (0.5, 0.5)
    assert res.D == pytest.approx(0.48, rel=0.25)
    assert res.note
    assert len(res.curves) == 15 and all(r["D"] == res.D for r in res.curves)


def test_backtest_scores_extrapolation_and_prefers_the_floor():
    rng = np.random.default_rng(1)
    n = 1000 * 2.0 ** np.arange(11)
    err = 0.48 * n ** -0.45 + 0.3 + rng.normal(0, 5e-4, n.size)
    data = {"n": n, "err": err}
    law = backtest(TransferLaw(), data, k=7)
    pw = backtest(PowerLaw(), data, k=7, intervals=False)
    assert law["n_train"] == 7 and law["n_test"] == 4
    assert law["rmse"] * 3 < pw["rmse"]
    assert law["covered"] >= 0.75
    table = compare(data, k=7)
    assert table.iloc[0]["law"] in ("transfer", "broken")
    assert set(table["law"]) == {"transfer", "power", "broken"}
    assert table.set_index("law").loc["power", "aic"] > table.set_index("law").loc["transfer",
                                                                                   "aic"]


def test_backtest_rejects_bad_splits():
    data = {"n": N, "err": 0.5 * N ** -0.3 + 0.1}
    with pytest.raises(ValueError, match="k must be"):
        backtest(TransferLaw(), data, k=7)
    with pytest.raises(ValueError, match="give train"):
        backtest(TransferLaw(), data)


def test_broken_power_law_is_a_valid_comparison_family():
    rng = np.random.default_rng(2)
    err = 0.48 * N ** -0.45 + 0.3 + rng.normal(0, 5e-4, N.size)
    b = BrokenPowerLaw().fit(N, err)
    t = TransferLaw().fit(N, err)
    assert b.objective_ <= t.objective_ + 1e-12  # nests eq. 1 (delta_alpha = 0)
