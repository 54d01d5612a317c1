from __future__ import annotations

import numpy as np
import pytest

from syn2real.theory import (
    SimulationConfig,
    asgd,
    fit_grid,
    forward,
    init_symmetric,
    ntk_eigenvalues,
    rate_table,
    simulate,
    sphere,
)
from syn2real.theory.targets import harmonic_norms, make_target


def test_symmetric_initialisation_is_identically_zero():
    rng = np.random.default_rng(0)
    p = init_symmetric(3, 16, 4, rng)
    x = sphere(rng, (3, 50), 4)
    assert np.abs(forward(p, x)).max() < 1e-12
    assert np.allclose(np.linalg.norm(p.b, axis=2), 1.0)
    with pytest.raises(ValueError, match="even"):
        init_symmetric(1, 15, 4, rng)


def test_output_is_the_average_of_the_iterates():
    rng = np.random.default_rng(1)
    p0 = init_symmetric(2, 8, 3, rng)
    avg, hist = asgd(p0, p0.copy(), lambda x: x[:, 0], np.array([5, 3]), np.array([0.1, 0.1]),
                     np.array([0.01, 0.01]), np.random.default_rng(2), trace=True)
    assert len(hist) == 5
    assert np.allclose(avg.a[0], np.mean([h.a[0] for h in hist], axis=0))
    assert np.allclose(avg.b[1], np.mean([h.b[1] for h in hist[:3]], axis=0))
    # run 1 stopped after 3 steps: its last iterate is frozen
    assert np.allclose(hist[4].a[1], hist[2].a[1])


def test_regularisation_pulls_towards_the_anchor():
    rng = np.random.default_rng(3)
    p0 = init_symmetric(2, 8, 3, rng)
    anchor = p0.copy()
    far = p0.copy()
    far.a = far.a + 1.0
    out = asgd(far, anchor, lambda x: np.zeros(len(x)), np.array([200, 200]),
               np.array([0.05, 0.05]), np.array([0.0, 5.0]), np.random.default_rng(0))
    # with lambda = 5 the parameters move back towards the anchor, with lambda = 0 they do not
    d0 = np.abs(out.a[0] - anchor.a[0]).mean()
    d1 = np.abs(out.a[1] - anchor.a[1]).mean()
    assert d1 < 0.5 * d0


def test_targets_have_the_requested_norm():
    rng = np.random.default_rng(4)
    d = 4
    mu = ntk_eigenvalues(d, 8, n_mc=4000)
    assert np.all(mu[1:8] > 0) and mu[1] > mu[7]
    phi = make_target(d, 0.75, 0.5, 6, mu, rng)
    x = sphere(rng, (40000,), d)
    assert np.sqrt(np.mean(phi(x) ** 2)) == pytest.approx(0.5, rel=0.03)
    assert harmonic_norms(d, 3)[0] == pytest.approx(1.0)


def test_rate_table_hand_derived_cases():
    # I-A: r0 = 1, r1 = 1/2, zeta = 1/2 -> q = 2*(1/2)*(1/2)/(3/2) = 1/3; p = a0/3
    (c,) = rate_table(1.0, 0.5, 2.0, 0.5)
    a0 = 2 * 1 * 2 / (2 * 1 * 2 + 1)
    assert c.case == "I-A"
    assert c.t1_exponent == pytest.approx(1 / 3)
    assert c.t0_exponent == pytest.approx(a0 / 3)
    # II-A: r0 = r1 = 1, zeta = 0.2 <= 1/3 -> q = 2/3, p = a0 * 2/3
    (c,) = rate_table(1.0, 1.0, 2.0, 0.2)
    assert c.case == "II-A" and c.t1_exponent == pytest.approx(2 / 3)
    # boundary zeta = r1/(2r1+1): both regimes apply and agree on q
    cases = rate_table(1.0, 1.0, 2.0, 1 / 3)
    assert {x.case for x in cases} == {"I-A", "II-A"}
    assert cases[0].t1_exponent == pytest.approx(cases[1].t1_exponent)
    # I-B: r0 = 1/2 < r1 = 3/4, xi = 2: lower limit max(1/4, ((1.5-0.5)2+1-2)/(3+1)) = 1/4
    (c,) = rate_table(0.5, 0.75, 2.0, 0.6)
    assert c.case == "I-B" and c.t1_exponent == pytest.approx(2 * 0.5 * 0.4 / 1.5)
    # II-B needs r1 <= r0 + (xi-1)/(2xi) = 0.5 + 0.25
    assert [x.case for x in rate_table(0.5, 0.75, 2.0, 0.2)] == ["II-B"]
    assert rate_table(0.5, 0.8, 2.0, 0.2) == []


@pytest.mark.parametrize("args, match", [((0.4, 0.5, 2, 0.5), "r0 must lie"),
                                         ((0.5, 1.2, 2, 0.5), "r1 must lie"),
                                         ((0.5, 0.5, 1.0, 0.5), "xi"),
                                         ((0.5, 0.5, 2, -1), "zeta")])
def test_rate_table_rejects_invalid_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        rate_table(*args)


SMALL = SimulationConfig(d=3, width=32, degrees=4, phi1_norms=[0.2, 1.0],
                         n_grid=[32, 128, 512], s_grid=[32, 128, 512], seeds=2,
                         test_points=512)


@pytest.fixture(scope="module")
def small_run():
    return simulate(SMALL)


def test_simulation_learns_and_is_deterministic(small_run):
    rows = small_run["rows"]
    # error falls with the fine-tuning size s (mean over everything else)
    by_s = [rows["error"][rows["s"] == s].mean() for s in SMALL.s_grid]
    assert by_s[0] > by_s[1] > by_s[2]
    # pre-training learns phi0: error below its squared norm (1) at the largest n
    pre = small_run["pretrain"]
    assert pre["error"][pre["n"] == 512].mean() < 0.9
    again = simulate(SMALL)
    assert np.array_equal(again["rows"]["error"], rows["error"])


def test_transfer_gap_rises_with_dissimilarity(small_run):
    rows = small_run["rows"]
    big_n = rows["n"] == 512
    e_small = rows["error"][big_n & (rows["phi1_norm"] == 0.2)].mean()
    e_large = rows["error"][big_n & (rows["phi1_norm"] == 1.0)].mean()
    assert e_large > e_small


def test_both_laws_are_fitted_and_compared(small_run):
    f = fit_grid(small_run["rows"], 1.0)
    for k in ("multiplicative", "additive"):
        assert np.isfinite(f[k]["aic"]) and np.isfinite(f[k]["holdout_rmse_log"])
    assert f["winner_aic"] in ("multiplicative", "additive")


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="even"):
        SimulationConfig(width=31)
    with pytest.raises(ValueError):
        SimulationConfig(r0=0.3)
    with pytest.raises(ValueError):
        SimulationConfig(unknown_key=1)


def test_cli_rates_and_simulate(tmp_path):
    import json

    from typer.testing import CliRunner

    from syn2real.cli.app import app

    runner = CliRunner()
    out = tmp_path / "rates.json"
    res = runner.invoke(app, ["theory", "rates", "--r0", "1", "--r1", "0.5", "--xi", "2",
                              "--zeta", "0.5", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())[0]["case"] == "I-A"
    res = runner.invoke(app, ["theory", "rates", "--r0", "0.2", "--r1", "0.5", "--xi", "2",
                              "--zeta", "0.5"])
    assert res.exit_code == 2 and "r0 must lie" in res.output
    cfg = tmp_path / "sim.yaml"
    cfg.write_text("d: 3\nwidth: 16\ndegrees: 3\nphi1_norms: [0.5]\nn_grid: [16, 32, 64, 128]\n"
                   "s_grid: [16, 64]\nseeds: 1\ntest_points: 256\n")
    res = runner.invoke(app, ["theory", "simulate", "--config", str(cfg), "-o",
                              str(tmp_path / "sim")])
    assert res.exit_code == 0, res.output
    fits = json.loads((tmp_path / "sim" / "fits.json").read_text())
    assert fits["fits"][0]["phi1_norm"] == 0.5
    assert (tmp_path / "sim" / "grid.csv").read_text().startswith("n,s,phi1_norm,seed,error")
    assert (tmp_path / "sim" / "fig_plateau.png").stat().st_size > 5000
    cfg.write_text("width: 15\n")
    res = runner.invoke(app, ["theory", "simulate", "--config", str(cfg), "-o",
                              str(tmp_path / "bad")])
    assert res.exit_code == 2 and "'width'" in res.output


@pytest.mark.slow
def test_default_grid_runs_within_five_minutes():
    import time

    cfg = SimulationConfig()
    t0 = time.perf_counter()
    res = simulate(cfg)
    elapsed = time.perf_counter() - t0
    rows = res["rows"]
    expected = (len(cfg.n_grid) + 1) * len(cfg.s_grid) * len(cfg.phi1_norms) * cfg.seeds
    assert len(rows["error"]) == expected
    assert elapsed < 300, elapsed
    for norm in cfg.phi1_norms:
        f = fit_grid(rows, norm)
        print(f"||phi1||={norm}: AIC winner {f['winner_aic']}, held-out winner "
              f"{f['winner_holdout']}, alpha={f['multiplicative']['params']['alpha']:.3f}, "
              f"beta={f['multiplicative']['params']['beta']:.3f}")
