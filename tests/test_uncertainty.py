from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from syn2real.law import PowerLaw, TransferLaw
from syn2real.law.uncertainty import case_weights

N = 1000 * 2.0 ** np.arange(7)


def _ols(x, y):
    X = np.column_stack([np.ones_like(x), x])
    beta, rss, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = len(y) - 2
    s2 = rss[0] / dof
    cov = s2 * np.linalg.inv(X.T @ X)
    return beta, cov, s2, dof, X


def test_profile_interval_is_exact_t_interval_in_a_linear_model():
    rng = np.random.default_rng(1)
    y = 3.0 * N ** -0.35 * np.exp(rng.normal(0, 0.02, N.size))
    law = PowerLaw(loss="log").fit(N, y)  # log y = log D - alpha log n: linear
    beta, cov, _, dof, _ = _ols(-np.log(N), np.log(y))
    assert law.alpha_ == pytest.approx(beta[1], rel=1e-6)
    t = stats.t.ppf(0.95, dof)
    lo, hi = law.profile_interval("alpha", 0.9)
    assert lo == pytest.approx(beta[1] - t * np.sqrt(cov[1, 1]), abs=2e-5)
    assert hi == pytest.approx(beta[1] + t * np.sqrt(cov[1, 1]), abs=2e-5)
    assert law.se_["alpha"] == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-3)


def test_prediction_interval_is_classical_in_a_linear_model():
    rng = np.random.default_rng(2)
    y = 3.0 * N ** -0.35 * np.exp(rng.normal(0, 0.02, N.size))
    law = PowerLaw(loss="log").fit(N, y)
    beta, cov, s2, dof, _ = _ols(-np.log(N), np.log(y))
    n0 = np.array([5e5, 5e6])
    x0 = np.column_stack([np.ones(2), -np.log(n0)])
    mean = x0 @ beta
    t = stats.t.ppf(0.95, dof)
    half_obs = t * np.sqrt(s2 + np.einsum("ij,jk,ik->i", x0, cov, x0))
    half_mean = t * np.sqrt(np.einsum("ij,jk,ik->i", x0, cov, x0))
    lo, hi = law.predict_interval(n0, 0.9)
    assert np.log(lo) == pytest.approx(mean - half_obs, abs=1e-4)
    assert np.log(hi) == pytest.approx(mean + half_obs, abs=1e-4)
    lo, hi = law.predict_interval(n0, 0.9, kind="mean")
    assert np.log(lo) == pytest.approx(mean - half_mean, abs=1e-4)
    assert np.log(hi) == pytest.approx(mean + half_mean, abs=1e-4)


def _coverage(n_sims: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    hits, hits_delta = [], []
    for _ in range(n_sims):
        y = 0.48 * N ** -0.4 + 0.3 + rng.normal(0, 0.003, N.size)
        law = TransferLaw().fit(N[:5], y[:5])
        lo, hi = law.predict_interval(N[5:], 0.9)
        hits.append((y[5:] >= lo) & (y[5:] <= hi))
        lo, hi = law.predict_interval(N[5:], 0.9, method="delta")
        hits_delta.append((y[5:] >= lo) & (y[5:] <= hi))
    return float(np.mean(hits)), float(np.mean(hits_delta))


def test_extrapolation_interval_coverage_is_calibrated():
    cov, _ = _coverage(60, seed=3)
    assert 0.80 <= cov <= 0.98


@pytest.mark.slow
def test_extrapolation_interval_coverage_is_calibrated_many_sims():
    cov, cov_delta = _coverage(400, seed=4)
    print(f"coverage of 90% intervals: profile {cov:.3f}, delta {cov_delta:.3f}")
    assert 0.86 <= cov <= 0.94


def test_floor_at_bound_gives_one_sided_interval():
    rng = np.random.default_rng(5)
    y = 0.8 * N ** -0.25 + rng.normal(0, 0.002, N.size)  # true C = 0
    law = TransferLaw().fit(N, y)
    lo, hi = law.profile_interval("C", 0.9)
    assert lo == 0.0 and hi > law.C_
    assert law.C_ < 0.05


def test_confidence_probability_matches_interval_ends():
    rng = np.random.default_rng(6)
    y = 0.48 * N ** -0.4 + 0.3 + rng.normal(0, 0.003, N.size)
    law = TransferLaw().fit(N, y)
    lo, hi = law.profile_interval("C", 0.9)
    assert law.confidence_probability("C", hi) == pytest.approx(0.05, abs=0.01)
    assert law.confidence_probability("C", lo) == pytest.approx(0.95, abs=0.01)
    assert law.confidence_probability("C", law.C_) == pytest.approx(0.5, abs=0.01)
    assert law.confidence_probability("C", 0.0) == 1.0


def test_wald_and_profile_agree_when_nearly_linear():
    rng = np.random.default_rng(7)
    y = 0.48 * N ** -0.5 + 0.5 + rng.normal(0, 1e-4, N.size)
    law = TransferLaw(D=0.48).fit(N, y)
    prof = law.conf_int(0.9)
    wald = law.conf_int(0.9, method="wald")
    for p in ("alpha", "C"):
        assert prof[p][0] == pytest.approx(wald[p][0], abs=0.1 * law.se_[p])
        assert prof[p][1] == pytest.approx(wald[p][1], abs=0.1 * law.se_[p])


def test_case_and_block_weights():
    rng = np.random.default_rng(0)
    w = case_weights(7, 500, rng)
    assert w.shape == (500, 7) and np.all(w.sum(axis=1) == 7)
    groups = np.array([0, 0, 1, 1, 2, 2, 2])
    wb = case_weights(7, 200, rng, groups)
    assert np.all(wb[:, 0] == wb[:, 1]) and np.all(wb[:, 4] == wb[:, 6])


def test_bootstrap_distribution_is_centred_and_spread_like_the_se():
    rng = np.random.default_rng(8)
    y = 0.48 * N ** -0.4 + 0.3 + rng.normal(0, 0.003, N.size)
    law = TransferLaw(D=0.48).fit(N, y)
    bs = law.bootstrap(n_boot=800, kind="residual", seed=1)
    assert np.median(bs["C"]) == pytest.approx(law.C_, abs=law.se_["C"] / 2)
    assert np.std(bs["C"]) == pytest.approx(law.se_["C"], rel=0.35)
    bc = law.bootstrap(n_boot=200, kind="case", seed=1)
    assert np.all(np.isfinite(bc["alpha"]))
    blk = law.bootstrap(n_boot=100, kind="block", groups=[0, 0, 1, 1, 2, 2, 3], seed=1)
    assert blk["C"].shape == (100,)
    with pytest.raises(ValueError, match="needs groups"):
        law.bootstrap(kind="block")
