"""The fit reaches the global optimum within bounds: never worse than 100-start least_squares."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from syn2real.law import AdditiveLaw, FullTransferLaw, PowerLaw, TransferLaw, fit_curves
from syn2real.law.solver import _bounded_lstsq

from .conftest import multistart_cost

N = 1000 * 2.0 ** np.arange(7)


def _random_curve(rng):
    a = rng.uniform(0.1, 1.3)
    D = 10 ** rng.uniform(-1, 1)
    C = rng.uniform(0.0, 0.9)
    sd = rng.choice([1e-3, 5e-3, 2e-2])
    return np.clip(D * N ** -a + C + rng.normal(0, sd, N.size), 1e-3, None)


def _never_worse(law, X, y, starts):
    ms = multistart_cost(law, X, y, starts)
    assert law.objective_ <= ms * (1 + 1e-6) + 1e-13, (law.params_, law.objective_, ms)


LINEAR = pytest.mark.parametrize(
    "make", [lambda: TransferLaw(), lambda: TransferLaw(D=0.48), lambda: PowerLaw()],
    ids=["free-D", "D=0.48", "power"])


@LINEAR
def test_linear_loss_never_worse_than_multistart(make):
    rng = np.random.default_rng(7)
    for _ in range(3):
        y = _random_curve(rng)
        law = make().fit(N, y)
        _never_worse(law, {"n": N}, y, 100)


@pytest.mark.slow
@LINEAR
def test_linear_loss_never_worse_than_multistart_many_curves(make):
    rng = np.random.default_rng(2024)
    for _ in range(60):
        y = _random_curve(rng)
        law = make().fit(N, y)
        _never_worse(law, {"n": N}, y, 100)


@pytest.mark.parametrize("loss", ["log", "huber"])
def test_robust_losses_never_worse_than_multistart(loss):
    rng = np.random.default_rng(11)
    for _ in range(2):
        y = _random_curve(rng)
        law = TransferLaw(loss=loss).fit(N, y)
        _never_worse(law, {"n": N}, y, 100)


@pytest.mark.parametrize("cls", [FullTransferLaw, AdditiveLaw])
def test_two_input_laws_never_worse_than_multistart(cls):
    rng = np.random.default_rng(3)
    s = np.repeat([2000.0, 8000.0, 32000.0], 7)
    n = np.tile(N, 3)
    for _ in range(2):
        y = 20 * (0.4 + n ** -0.5) * s ** -0.3 * np.exp(rng.normal(0, 0.01, n.size))
        law = cls().fit(n, s, y)
        _never_worse(law, {"n": n, "s": s}, y, 100)


def test_bounded_lstsq_matches_scipy_lsq_linear():
    rng = np.random.default_rng(0)
    for k in (1, 2, 3):
        for _ in range(40):
            phi = rng.normal(size=(9, k))
            r = rng.normal(size=9)
            w = rng.uniform(0.2, 2.0, 9)
            lo = -rng.uniform(0, 0.5, k)
            hi = rng.uniform(0, 0.5, k)
            c, obj = _bounded_lstsq(phi[None], r[None], w[None], lo, hi)
            sw = np.sqrt(w)
            ref = lsq_linear(phi * sw[:, None], r * sw, bounds=(lo, hi), tol=1e-12)
            assert obj[0] <= ref.cost + 1e-10
            assert np.allclose(c[0], ref.x, atol=1e-6)


def test_batch_fit_equals_single_fits_and_handles_padding():
    rng = np.random.default_rng(5)
    curves = []
    for i in range(20):
        m = 5 + i % 3  # different lengths: padded with zero weight
        curves.append({"n": N[:m], "err": _random_curve(rng)[:m]})
    rows = fit_curves(TransferLaw(), curves)
    for c, row in zip(curves, rows, strict=True):
        single = TransferLaw().fit(c["n"], c["err"])
        assert row["n_points"] == len(c["n"])
        assert row["objective"] == pytest.approx(single.objective_, rel=1e-9, abs=1e-15)
        assert row["alpha_se"] == pytest.approx(single.se_["alpha"], rel=1e-4)


@pytest.mark.parametrize("loss", ["linear", "log"])
def test_vectorised_refinement_matches_single_fits_for_the_full_law(loss):
    rng = np.random.default_rng(9)
    n = np.tile(N, 4)
    s = np.repeat([1e3, 4e3, 1.6e4, 6.4e4], 7)
    Y = np.stack([40.0 * (0.5 + n ** -0.55) * s ** -0.32 * np.exp(rng.normal(0, 0.01, n.size))
                  for _ in range(12)])
    rows = fit_curves(FullTransferLaw(loss=loss), [{"n": n, "s": s, "err": y} for y in Y])
    for y, row in zip(Y, rows, strict=True):
        single = FullTransferLaw(loss=loss).fit(n, s, y)
        assert row["objective"] <= single.objective_ * (1 + 1e-6) + 1e-14
        assert row["alpha"] == pytest.approx(single.alpha_, abs=1e-3)
