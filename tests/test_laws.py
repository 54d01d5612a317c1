from __future__ import annotations

import numpy as np
import pytest

from syn2real.law import BrokenPowerLaw, FullTransferLaw, NotFittedError, PowerLaw, TransferLaw

N = 1000 * 2.0 ** np.arange(7)


def test_recovers_parameters_from_exact_data():
    y = 0.48 * N ** -0.44 + 0.935
    law = TransferLaw(D=0.48).fit(N, y)
    assert law.alpha_ == pytest.approx(0.44, abs=1e-6)
    assert law.C_ == pytest.approx(0.935, abs=1e-6)
    assert law.D_ == 0.48
    free = TransferLaw().fit(N, 2.0 * N ** -0.6 + 0.2)
    assert (free.alpha_, free.D_, free.C_) == pytest.approx((0.6, 2.0, 0.2), rel=1e-4)
    assert np.allclose(free.predict([1e6]), 2.0 * 1e6 ** -0.6 + 0.2, rtol=1e-5)


def test_fit_returns_self_and_sklearn_conventions():
    law = TransferLaw(D=0.5, loss="log")
    assert law.fit(N, 0.5 * N ** -0.3 + 0.1) is law
    assert law.get_params()["D"] == 0.5
    clone = law.clone()
    assert not hasattr(clone, "params_") and clone.loss == "log" and clone.fixed == {"D": 0.5}
    with pytest.raises(NotFittedError):
        clone.predict([1000])


def test_flags_bound_and_unstable_alpha():
    # C pushed to its lower bound by a curve that falls below zero asymptote
    y = 0.9 * N ** -0.2 - 0.01
    law = TransferLaw(bounds={"alpha": (0.1, 1.5)}).fit(N, np.clip(y, 1e-4, None))
    assert "at_bound:C" in law.flags_
    rng = np.random.default_rng(0)
    flat = 0.5 + rng.normal(0, 0.01, 7)
    noisy = TransferLaw(D=0.48).fit(N, flat)
    assert noisy.se_["alpha"] > 1 or "at_bound:alpha" in noisy.flags_


def test_summary_is_readable():
    law = TransferLaw(D=0.48).fit(N, 0.48 * N ** -0.4 + 0.8 + 1e-4 * np.sin(N))
    text = law.summary()
    assert "D * n^-alpha + C" in text and "alpha" in text and "fixed" in text
    assert "90% CI (profile)" in text


def test_full_law_recovers_and_derives_gamma():
    n = np.tile(N, 4)
    s = np.repeat([1e3, 4e3, 1.6e4, 6.4e4], 7)
    y = 40.0 * (0.5 + n ** -0.55) * s ** -0.32
    law = FullTransferLaw().fit(n, s, y)
    assert law.alpha_ == pytest.approx(0.55, abs=1e-4)
    assert law.beta_ == pytest.approx(0.32, abs=1e-5)
    assert law.gamma_ == pytest.approx(0.5, rel=1e-4)
    assert law.C_of(1e4) == pytest.approx(40 * 0.5 * 1e4 ** -0.32, rel=1e-4)
    # at a fixed s, eq. 2 is eq. 1 with D = D_of(s) and C = C_of(s)
    assert law.D_of(1e4) == pytest.approx(40 * 1e4 ** -0.32, rel=1e-4)
    m = np.array([3e3, 5e4])
    assert law.predict(m, np.full(2, 1e4)) == pytest.approx(
        law.D_of(1e4) * m ** -law.alpha_ + law.C_of(1e4), rel=1e-9)


def test_broken_power_law_fits_a_bend():
    y = 3.0 * N ** -0.3 * (1 + N / 8000.0) ** -0.5 + 0.1
    law = BrokenPowerLaw().fit(N, y)
    assert law.objective_ < 1e-9
    assert np.allclose(law.predict(N), y, atol=2e-5)


@pytest.mark.parametrize("bad, match", [
    (dict(n=[1000, 2000, -1], err=[0.5, 0.4, 0.3]), "n must be finite and > 0"),
    (dict(n=[1000, 2000, 4000], err=[0.5, np.nan, 0.3]), "NaN"),
    (dict(n=[1000, 2000], err=[0.5, 0.4, 0.3]), "err has 3 values"),
])
def test_bad_input_is_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        TransferLaw().fit(bad["n"], bad["err"])


def test_unknown_settings_are_rejected():
    with pytest.raises(ValueError, match="loss must be one of"):
        TransferLaw(loss="l1").fit(N, N ** -0.5)
    with pytest.raises(ValueError, match="unknown parameter 'E'"):
        PowerLaw(bounds={"E": (0, 1)}).fit(N, N ** -0.5)


def test_not_fitted_attributes_are_absent_as_in_scikit_learn():
    law = TransferLaw()
    assert not hasattr(law, "aic_") and not hasattr(law, "alpha_")
    with pytest.raises(NotFittedError, match="not fitted"):
        law.check_is_fitted()
    with pytest.raises(ValueError):  # also a ValueError, as scikit-learn's
        law.predict([1000.0])
    law.fit(1000 * 2.0 ** np.arange(6), 0.5 * (1000 * 2.0 ** np.arange(6)) ** -0.3 + 0.1)
    assert hasattr(law, "aic_") and law.alpha_ == law.params_["alpha"]


def test_fitted_attributes_are_explicit_and_intervals_cached(monkeypatch):
    law = TransferLaw().fit(N, 0.5 * N ** -0.3 + 0.1 + 0.001 * np.sin(N))
    assert {"alpha_", "C_", "D_"} <= set(vars(law))          # visible to dir() and IDEs
    calls = []
    real = law.profile_interval
    monkeypatch.setattr(law, "profile_interval", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = law.conf_int(0.9)
    law.summary()
    law.to_dict()
    assert law.conf_int(0.9) == first and len(calls) == len(law.free_params)
    law.fit(N, 0.5 * N ** -0.4 + 0.2)                          # a new fit drops the cache
    assert law.conf_int(0.9) != first


def test_batch_fits_check_each_curve_like_fit():
    from syn2real.law import fit_curves

    good = {"n": N, "err": 0.5 * N ** -0.3 + 0.1}
    with pytest.raises(ValueError, match="curve 1: weights must be finite"):
        fit_curves(TransferLaw(), [good, {**good, "weights": -np.ones(len(N))}])
    with pytest.raises(ValueError, match="curve 0: loss='log' needs err > 0"):
        fit_curves(TransferLaw(loss="log"), [{"n": N, "err": np.zeros(len(N))}])


def test_a_law_family_registered_from_its_own_module_works_end_to_end(tmp_path, monkeypatch):
    """A new law: a Family (its basis) and a LawOfN subclass in a module of their own, one
    register_law call — no list edited: `syn2real fit --law`, the assessment and the report
    take it (issue 26)."""
    import json
    import textwrap

    from typer.testing import CliRunner

    from syn2real.assess import AssessSettings, assess
    from syn2real.cli.app import app
    from syn2real.curves import read_curves
    from syn2real.law import laws
    from syn2real.report import build_report

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "toy_shifted_law.py").write_text(textwrap.dedent('''
        import numpy as np
        from syn2real.law import LawOfN, register_law
        from syn2real.law.families import Family

        class Shifted(Family):
            """L(n) = D (n + n0)^-alpha + C, n0 = 10^log10_n0."""
            def basis(self, theta, X):
                n = np.asarray(X["n"], float)[:, None, :]
                a = np.asarray(theta["alpha"], float)[..., None]
                n0 = 10.0 ** np.asarray(theta["log10_n0"], float)[..., None]
                x = (n + n0) ** (-a)
                return np.stack([x, np.ones_like(x)], axis=-1)

        SHIFTED = Shifted(name="shifted", formula="L(n) = D * (n + n0)^-alpha + C",
                          inputs=("n",), nonlinear=("alpha", "log10_n0"), linear=("D", "C"),
                          bounds={"alpha": (0.05, 2.0), "log10_n0": (0.0, 5.0),
                                  "D": (0.0, float("inf")), "C": (0.0, 1.0)})

        class ShiftedLaw(LawOfN):
            family = SHIFTED

        register_law("shifted", ShiftedLaw)
    '''))
    import importlib

    importlib.import_module("toy_shifted_law")
    try:
        n = 1000 * 2.0 ** np.arange(8)
        rows = [{"n": x, "error": 3.0 * (x + 2000) ** -0.5 + 0.1, "setting": s}
                for s in ("a", "b") for x in n]
        csv = tmp_path / "curves.csv"
        import pandas as pd

        pd.DataFrame(rows).to_csv(csv, index=False)
        res = CliRunner().invoke(app, ["fit", str(csv), "--law", "shifted", "--json",
                                       str(tmp_path / "fit.json")])
        assert res.exit_code == 0, res.output
        fits = json.loads((tmp_path / "fit.json").read_text())
        assert [f["law"] for f in fits] == ["shifted", "shifted"]
        for f in fits:
            assert f["alpha"] == pytest.approx(0.5, abs=0.02)
            assert 10 ** f["log10_n0"] == pytest.approx(2000, rel=0.1)
            assert f["C"] == pytest.approx(0.1, abs=0.005)
        a = assess(read_curves(csv), AssessSettings(law="shifted", target=0.12, budget=1e7))
        assert all(c.advice is not None and c.law.family.name == "shifted" for c in a.curves)
        build_report(a, tmp_path / "rep")
        drawn = json.loads((tmp_path / "rep" / "fits.json").read_text())
        assert [d["law"] for d in drawn] == ["shifted", "shifted"]
        assert drawn[0]["alpha"] == pytest.approx(fits[0]["alpha"])
        bad = CliRunner().invoke(app, ["fit", str(csv), "--law", "shifty"])
        assert bad.exit_code != 0 and "shifted" in bad.output
    finally:  # the registry as it was
        laws.LAWS.pop("shifted", None)
