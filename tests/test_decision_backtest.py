"""The isotonic decision back-test protocol, the designed curve prior and its network, and
how the engine treats checkpoints of one training run."""

from __future__ import annotations

import numpy as np
import pytest

from syn2real.advise import advise
from syn2real.law import CurvePredictor, fit_predictors
from syn2real.law.curve_prior import FAMILIES, sample_curve
from syn2real.law.decision_backtest import (
    DELTAS,
    bootstrap_margin,
    decision_case,
    decision_scores,
    isotonic_truth,
    risk_coverage,
)
from syn2real.law.pfn import BINS, bar_quantiles, curve_features, load_pfn, smear
from syn2real.law.predictive import noise_sd


# --------------------------------------------------------------------------- protocol
def test_isotonic_truth_smooths_a_bump_and_measures_its_scatter():
    x = np.array([1, 2, 4, 8, 16, 32], float)
    y = np.array([1.0, 0.8, 0.85, 0.6, 0.5, 0.52])
    tr = isotonic_truth(x, y)
    assert np.all(np.diff(tr.fitted) <= 1e-12)              # non-increasing
    # pooled blocks: (0.8, 0.85) and (0.5, 0.52) by their geometric means
    assert tr.fitted[1] == pytest.approx(np.sqrt(0.8 * 0.85))
    assert tr.S == pytest.approx(np.sqrt(0.5 * 0.52))
    res = np.log([0.8, 0.85, 0.5, 0.52]) - np.log(np.repeat([tr.fitted[1], tr.S], 2))
    assert tr.sigma == pytest.approx(np.sqrt(np.sum(res**2) / (6 - 4)))
    assert tr.first_reaching(0.6) == 8.0
    strictly = isotonic_truth(x, 1.0 / x)
    assert strictly.sigma == 0.0 and strictly.S == pytest.approx(1 / 32)


def test_decision_case_targets_truth_near_ties_and_dropped_targets():
    x = 2.0 ** np.arange(8)                       # budget 128, prefix x <= 32 (6 points)
    y = 0.5 * x**-0.3 + 0.2
    y[-1] *= 1.02                                  # a little noise at the end
    c = decision_case("src", "c", x, y)
    assert c is not None and c.budget == 128 and len(c.x) == 6
    S = c.truth.S
    kept = {t["d"]: t for t in c.targets}
    best_pre = y[:6].min()
    for d in DELTAS:
        if best_pre <= S * (1 + d):                # met by the prefix: no question left
            assert d not in kept
        else:
            assert kept[d]["reachable"] == (d > 0)
            assert kept[d]["target"] == pytest.approx(S * (1 + d))
            assert kept[d]["near_tie"] == (abs(np.log1p(d)) < 2 * c.truth.sigma)
    assert any(t["near_tie"] for t in c.targets) or c.truth.sigma < 0.01
    wiggle = np.array([1.0, 1.06, 0.95, 1.07, 0.94, 1.05, 0.96, 1.06])
    noisy = decision_case("src", "n", x, (0.3 * x**-0.02 + 0.2) * wiggle)
    assert noisy.truth.sigma > 0.01
    assert any(t["near_tie"] for t in noisy.targets)  # ±2% is inside 2σ of a 5%-noise curve
    assert decision_case("src", "short", x[:4], y[:4]) is None


def test_scores_balance_the_two_kinds_of_target_and_the_bootstrap_keeps_curves_together():
    truth = np.array([True, False, False, False, False, False])
    always_no = np.zeros(6)
    sc = decision_scores(truth, always_no)
    assert sc["acc"] == pytest.approx(5 / 6) and sc["bal_acc"] == pytest.approx(0.5)
    assert sc["conf_wrong"] == pytest.approx(1 / 6)
    perfect = truth.astype(float)
    groups = np.array([0, 0, 1, 1, 2, 2])
    m, lo, hi = bootstrap_margin(groups, truth, perfect, always_no, n_boot=200)
    assert m == pytest.approx(0.5) and lo <= m <= hi
    same, lo2, hi2 = bootstrap_margin(groups, truth, perfect, perfect, n_boot=50)
    assert same == 0 and lo2 == 0 and hi2 == 0
    calls = np.array([True, True, False, False, False, False])   # row 1 is wrong
    assert risk_coverage(truth, calls, np.array([0.9, 0.8, 0.1, 0.1, 0.1, 0.1]),
                         1 / 3) == pytest.approx(0.5)                   # rows 0 and 1
    assert risk_coverage(truth, calls, np.array([0.9, 0.1, 0.1, 0.1, 0.8, 0.1]),
                         1 / 3) == pytest.approx(1.0)                   # rows 0 and 4


# --------------------------------------------------------------------------- prior + net
def test_the_prior_is_seeded_and_gives_every_family_and_kind():
    a = sample_curve(np.random.default_rng(5))
    b = sample_curve(np.random.default_rng(5))
    assert np.array_equal(a.y, b.y) and np.array_equal(a.mean_q, b.mean_q)
    rng = np.random.default_rng(0)
    seen = [sample_curve(rng) for _ in range(300)]
    assert {c.family for c in seen} == set(FAMILIES)
    assert {c.kind for c in seen} == {"runs", "checkpoints"}
    for c in seen:
        assert np.all(np.diff(c.x) > 0) and np.all(c.xq > c.x[-1]) and np.all(c.y > 0)


def test_bar_distribution_cdf_and_quantile_invert_each_other():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(len(BINS) - 1), size=5)
    q = bar_quantiles(P, [0.3])[:, 0]
    cum = np.concatenate([[0.0], np.cumsum(P[0])])        # mass is uniform inside a bin
    assert np.interp(q[0], BINS, cum) == pytest.approx(0.3, abs=1e-9)
    assert np.allclose(smear(P, 0.2).sum(axis=1), 1.0)
    one = np.zeros((1, len(BINS) - 1))
    one[0, 100] = 1.0                               # all mass in one bin, centre c
    c = 0.5 * (BINS[100] + BINS[101])
    S = smear(one, 0.2)                             # a measurement: c + N(0, 0.2²)
    q05, q50, q84 = bar_quantiles(S, [0.05, 0.5, 0.841])[0]
    assert q50 == pytest.approx(c, abs=0.01)
    assert q05 == pytest.approx(c - 1.645 * 0.2, abs=0.02)
    assert q84 == pytest.approx(c + 0.2, abs=0.01)


def test_network_is_calibrated_on_prior_curves_it_never_saw():
    """Fresh prior curves (a seed the training never used): the network's 90% intervals of
    the noise-free error cover it 85-95% of the time, and its median beats "no change"."""
    net = load_pfn()
    rng = np.random.default_rng(12345)
    inside, err_med, err_flat = [], [], []
    for _ in range(400):
        c = sample_curve(rng, n_queries=2)
        P = net.probs(curve_features(c.x, c.y, c.xq, c.kind, noise_sd(c.y)))
        L = np.log(c.mean_q / c.y[-1])
        lo, med, hi = bar_quantiles(P, [0.05, 0.5, 0.95]).T
        inside.extend((L >= lo) & (L <= hi))
        err_med.extend(np.abs(med - L))
        err_flat.extend(np.abs(L))
    assert 0.85 <= np.mean(inside) <= 0.95, np.mean(inside)
    assert np.mean(err_med) < 0.7 * np.mean(err_flat)


def test_predictor_intervals_cover_known_truth_on_simulated_curves():
    """Eq.-1 curves with 2% noise, not drawn from the network's prior: the predictor's 90%
    intervals of the mean curve at 4x the data cover the truth 80-97% of the time."""
    rng = np.random.default_rng(7)
    n = 1000 * 2.0 ** np.arange(6)
    curves, truth = [], []
    for _ in range(200):
        a, C, D = rng.uniform(0.1, 0.8), rng.uniform(0.0, 0.3), rng.uniform(0.5, 5.0)
        curves.append({"n": n, "err": (D * n**-a + C) * np.exp(rng.normal(0, 0.02, 6))})
        truth.append(D * (4 * n[-1]) ** -a + C)
    preds = fit_predictors(curves)
    cover = [float(lo[0] <= t <= hi[0]) for p, t in zip(preds, truth, strict=True)
             for lo, hi in [p.predict_interval([4 * n[-1]], 0.9, kind="mean")]]
    assert 0.80 <= np.mean(cover) <= 0.97, np.mean(cover)


# --------------------------------------------------------------------------- checkpoints
def _annealed_run(seed: int = 0):
    """One training run's checkpoints: a slow power law whose learning rate decays to zero
    at step 400, so the last quarter falls faster than the fitted prefix suggests."""
    rng = np.random.default_rng(seed)
    steps = np.arange(10, 401, 10, dtype=float)
    mean = (2.0 + 3.0 * steps**-0.3) * (1 - 0.12 * (steps / 400) ** 4)
    return steps, mean * np.exp(rng.normal(0, 0.003, len(steps))), mean


def test_checkpoints_of_one_run_are_extrapolated_humbly():
    steps, y, mean = _annealed_run()
    pre = steps <= 100
    runs = CurvePredictor().fit(steps[pre], y[pre])
    ck = CurvePredictor().fit(steps[pre], y[pre], kind="checkpoints")
    assert "checkpoints" in ck.flags_ and "checkpoints" not in runs.flags_
    assert ck.kind_ == "checkpoints" and ck.to_dict()["kind"] == "checkpoints"
    lo_r, hi_r = runs.predict_interval([400], 0.9, kind="mean")
    lo_c, hi_c = ck.predict_interval([400], 0.9, kind="mean")
    assert hi_c[0] / lo_c[0] > hi_r[0] / lo_r[0]          # wider
    assert lo_c[0] <= mean[-1] <= hi_c[0]                 # and the truth inside
    # the annealed end reaches a target 3% below the smoothed end of the prefix trend:
    # told it is one run, the advisor is not confidently wrong about it
    target = float(mean[-1]) * 1.01
    adv = advise((steps[pre], y[pre]), target, budget=400, kind="checkpoints",
                 with_next_run=False)
    assert adv.p_reach > 0.05 and "checkpoints of one training run" in adv.verdict
    with pytest.raises(ValueError, match="kind must be one of"):
        fit_predictors([{"n": steps, "err": y, "kind": "epochs"}])


def test_the_two_pools_and_their_parts():
    """Beyond the data, every quantile of either pool lies between the network's and the
    ensemble's quantiles at that level (a mixture's CDF and an average of quantile functions
    both do); inside the data all extrapolators are the ensemble; unknown names are
    refused."""
    n = 1000 * 2.0 ** np.arange(6)
    y = (0.6 * n**-0.3 + 0.05) * np.exp(np.random.default_rng(3).normal(0, 0.01, 6))
    far = [64 * n[-1]]
    qs = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    Q = {}
    for ex, pool in (("pfn+ensemble", "probability"), ("pfn+ensemble", "quantile"),
                     ("pfn", "probability"), ("ensemble", "probability")):
        p = CurvePredictor(extrapolator=ex, pool=pool).fit(n, y)
        Q[ex, pool] = p.quantile(far * len(qs), qs)
        assert p.predict([n[2]])[0] == pytest.approx(
            CurvePredictor(extrapolator="ensemble").fit(n, y).predict([n[2]])[0])
        assert p.to_dict()["extrapolator"] == ex
    a, b = Q["pfn", "probability"], Q["ensemble", "probability"]
    assert not np.allclose(a, b)
    for pool in ("probability", "quantile"):
        q = Q["pfn+ensemble", pool]
        assert np.all(q >= np.minimum(a, b) * (1 - 1e-3))
        assert np.all(q <= np.maximum(a, b) * (1 + 1e-3))
    assert np.allclose(np.log(Q["pfn+ensemble", "quantile"]),
                       0.5 * (np.log(a) + np.log(b)), atol=0.01)
    with pytest.raises(ValueError, match="extrapolator must be one of"):
        fit_predictors([{"n": n, "err": y}], extrapolator="gp")
    with pytest.raises(ValueError, match="pool must be one of"):
        fit_predictors([{"n": n, "err": y}], pool="max")


def test_next_run_refits_keep_the_predictors_own_extrapolator(monkeypatch):
    """The next-run search refits augmented curves with the same extrapolator and pool as
    the predictor it was asked about (an ensemble-only predictor never calls the network)."""
    import syn2real.law.predictive as predictive
    from syn2real.advise import next_run

    n = 1000 * 2.0 ** np.arange(6)
    y = (0.6 * n**-0.3 + 0.05) * np.exp(np.random.default_rng(1).normal(0, 0.01, 6))
    ens = CurvePredictor(extrapolator="ensemble").fit(n, y)
    target = float(ens.predict([64 * n[-1]])[0])

    def no_network():
        raise AssertionError("the network was called for an ensemble-only predictor")

    monkeypatch.setattr(predictive, "load_pfn", no_network)
    nr = next_run(ens, target, 64 * n[-1])
    assert nr is not None and 0 <= nr.p_decide <= 1
