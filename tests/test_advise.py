from __future__ import annotations

import numpy as np
import pytest

from syn2real.advise import advise_legacy as advise  # these tests pin the legacy engine
from syn2real.advise import plan_mix
from syn2real.law import FullTransferLaw, TransferLaw

N = 1000 * 2.0 ** np.arange(7)


def _law(alpha=0.4, C=0.3, D=0.48, sd=0.001, seed=0):
    rng = np.random.default_rng(seed)
    return TransferLaw(D=D).fit(N, D * N ** -alpha + C + rng.normal(0, sd, N.size))


def test_reachable_gives_n_star_from_the_formula_with_an_interval():
    law = _law()
    target = 0.3 + 0.48 * 2e5 ** -0.4
    adv = advise(law, target)
    p = law.params_
    expected = (p["D"] / (target - p["C"])) ** (1 / p["alpha"])
    assert adv.scenario == "reachable"
    assert adv.n_star == pytest.approx(expected, rel=1e-9)
    lo, hi = adv.n_star_ci
    assert lo < adv.n_star < hi
    assert "Render more" in adv.verdict and f"{target:.3g}" in adv.verdict
    assert 0 < adv.gain_doubling_ci[0] <= adv.gain_doubling <= adv.gain_doubling_ci[1]


def test_floor_says_change_the_rendering():
    law = _law(C=0.35)
    adv = advise(law, 0.3)
    assert adv.scenario == "floor" and np.isinf(adv.n_star)
    assert adv.p_floor > 0.99
    assert "change the rendering" in adv.verdict.lower()


def test_budget_makes_a_slow_rate_infeasible():
    law = _law(alpha=0.15, C=0.1)
    target = 0.1 + 0.48 * 1e9 ** -0.15
    adv = advise(law, target, budget=1e7)
    assert adv.scenario == "infeasible" and adv.n_star > 1e7
    assert advise(law, target).scenario == "reachable"


def test_already_reached():
    law = _law()
    assert advise(law, 0.5).scenario == "reached"


def test_uncertain_floor_has_unbounded_upper_n_star():
    law = _law(C=0.3, sd=0.01, seed=3)
    adv = advise(law, law.C_ + 0.002)
    if adv.scenario == "reachable":
        assert np.isinf(adv.n_star_ci[1])
        assert 0.05 < adv.p_floor < 0.95


def test_bad_targets_are_rejected():
    law = _law()
    with pytest.raises(ValueError, match="target"):
        advise(law, -0.1)
    with pytest.raises(ValueError, match="budget"):
        advise(law, 0.3, budget=0)


def test_cost_optimal_mix_matches_brute_force():
    n = np.tile(N, 4)
    s = np.repeat([1e3, 4e3, 1.6e4, 6.4e4], 7)
    rng = np.random.default_rng(0)
    y = 40.0 * (0.5 + n ** -0.55) * s ** -0.32 * np.exp(rng.normal(0, 0.003, n.size))
    law = FullTransferLaw().fit(n, s, y)
    plan = plan_mix(law, 0.5, cost_synthetic=0.01, cost_real=1.0, n_boot=50)
    # brute force over a fine (n, s) grid
    ng, sg = np.meshgrid(np.geomspace(10, 1e9, 900), np.geomspace(10, 1e7, 900))
    ok = law.predict(ng, sg) <= 0.5
    cost = np.where(ok, 0.01 * ng + 1.0 * sg, np.inf)
    assert plan.feasible
    assert plan.cost <= cost.min() * 1.01
    assert law.predict(plan.n, plan.s) == pytest.approx(0.5, abs=1e-3)
    assert plan.cost_ci[0] <= plan.cost <= plan.cost_ci[1]
    assert plan.s > plan.s_min


def test_the_verdict_says_when_pre_training_measured_worse_than_none(tmp_path):
    """Real runs where training on the real images alone (n = 0) beats every pre-trained
    run: the advice says so first, whatever the law extrapolates; --baseline gives that
    error where the table has no n = 0 row."""
    import json

    from typer.testing import CliRunner

    from syn2real.advise import advise, against_baseline
    from syn2real.cli.app import app

    n = np.array([300.0, 600, 1200, 2400, 4800])
    err = 0.20 + 0.3 * n ** -0.3
    rows = ["n,error", "0,0.222"] + [f"{a:g},{b:.6f}" for a, b in zip(n, err, strict=True)]
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    res = CliRunner().invoke(app, ["advise", str(tmp_path / "c.csv"), "--target", "0.21",
                                   "--json", str(tmp_path / "a.json")])
    assert res.exit_code == 0, res.output
    adv = json.loads((tmp_path / "a.json").read_text())[0]["advice"]
    assert "worse_than_scratch" in adv["flags"] and adv["baseline"] == pytest.approx(0.222)
    assert adv["verdict"].startswith("Synthetic pre-training has so far measured worse than "
                                     "none")
    assert "worse than none" in " ".join(res.output.split())
    # the same curve without its n = 0 row, the baseline given on the command line
    (tmp_path / "d.csv").write_text("\n".join([rows[0]] + rows[2:]) + "\n")
    res = CliRunner().invoke(app, ["advise", str(tmp_path / "d.csv"), "--target", "0.21",
                                   "--baseline", "0.3", "--json", str(tmp_path / "b.json")])
    adv = json.loads((tmp_path / "b.json").read_text())[0]["advice"]
    assert res.exit_code == 0 and "worse_than_scratch" not in adv["flags"]  # 0.3 is beaten
    plain = advise((n, err), 0.21)
    assert against_baseline(plain, None) is plain
    met = against_baseline(plain, 0.2)
    assert "already meets the target" in met.verdict and met.scenario == plain.scenario


def test_legacy_advice_on_three_points_prints_no_infinite_interval():
    """Issue 29 item 13: "90% CI ∞–∞" on a 3-point curve (eq. 1 has 3 parameters)."""
    from syn2real.advise import advise_legacy
    from syn2real.law import TransferLaw

    law = TransferLaw().fit(np.array([1000.0, 2000, 4000]), np.array([0.5, 0.4, 0.35]))
    text = advise_legacy(law, 0.3).verdict
    assert "∞" not in text and "nan" not in text
    assert "no 90% interval: as many parameters as sizes" in text


def test_legacy_floor_on_three_points_claims_no_interval_or_confidence(tmp_path):
    """The floor branch of the same: "C = 0.435 (90% CI 0.435–0.435) ... confidence nan%"
    and "P(reach) nan%" on the verdict line, for a curve eq. 1 fits exactly."""
    from typer.testing import CliRunner

    from syn2real.cli.app import app

    p = tmp_path / "three.csv"
    p.write_text("n,error\n1000,0.5\n2000,0.45\n4000,0.44\n")
    res = CliRunner().invoke(app, ["advise", str(p), "--target", "0.3", "--method", "legacy"])
    text = " ".join(res.output.split())
    assert res.exit_code == 0 and "floor" in text
    assert "nan" not in text and "CI 0.435–0.435" not in text, text
    assert "no 90% interval: as many parameters as sizes" in text
    assert "P(reach) n/a" in text and "no confidence can be given" in text
