"""The theory's experiment: pre-train on ``phi0`` for n steps, fine-tune on ``phi0 + phi1`` for s
steps, measure ``E||g - (phi0 + phi1)||^2`` on a grid of (n, s), and fit the laws.

Every run of the grid (sizes × seeds × task dissimilarities ``||phi1||``) is simulated at once
by :func:`syn2real.theory.network.asgd`. Pre-training does not depend on ``phi1`` and is
shared. ``n = 0`` is fine-tuning from the symmetric (zero) initialisation: the from-scratch
baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..law import AdditiveLaw, FullTransferLaw, TransferLaw
from .network import Params, asgd, forward, init_symmetric, sphere
from .rates import pretraining_exponent
from .targets import eigen_decay_exponent, evaluate, make_target, ntk_eigenvalues

Array = np.ndarray


class SimulationConfig(BaseModel):
    """Settings of the two-layer ASGD transfer simulation (all seeded)."""

    model_config = ConfigDict(extra="forbid")

    d: int = Field(5, ge=2, description="input dimension (sphere S^{d-1})")
    width: int = Field(128, ge=2, description="hidden units M (even)")
    activation: str = Field("softplus", description="softplus or tanh")
    degrees: int = Field(8, ge=1, description="harmonic degrees 1..L in the targets")
    r0: float = Field(1.0, ge=0.5, le=1.0, description="smoothness of phi0")
    r1: float = Field(0.5, ge=0.5, le=1.0, description="smoothness of phi1")
    xi: float | None = Field(None, gt=1.0, description="NTK eigen-decay; None: estimated")
    phi1_norms: list[float] = Field([0.1, 0.3, 1.0], description="task dissimilarities")
    n_grid: list[int] = Field([64, 128, 256, 512, 1024, 2048, 4096])
    s_grid: list[int] = Field([64, 256, 1024, 4096])
    seeds: int = Field(3, ge=1)
    eta0: float = Field(1 / 24, gt=0, description="pre-training learning rate")
    zeta: float = Field(0.5, ge=0, lt=1, description="eta1 = min(eta_max, T1^-zeta)")
    eta_max: float = Field(1 / 24, gt=0, description="cap of the learning rates")
    lambda0_scale: float = Field(0.1, gt=0, description="lambda0 = scale * T0^-xi/(2 r0 xi+1)")
    lambda1_scale: float = Field(0.1, gt=0, description="lambda1 = scale * T1^-(1-zeta)/(r1+1)")
    noise: float = Field(0.0, ge=0, description="label noise sd")
    test_points: int = Field(2048, ge=64)
    include_scratch: bool = True
    seed: int = 0

    @field_validator("n_grid", "s_grid")
    @classmethod
    def _positive_sorted(cls, v: list[int]) -> list[int]:
        if not v or any(x <= 0 for x in v):
            raise ValueError("sizes must be a non-empty list of positive integers")
        return sorted(set(v))

    @field_validator("phi1_norms")
    @classmethod
    def _norms(cls, v: list[float]) -> list[float]:
        if not v or any(x < 0 for x in v):
            raise ValueError("phi1_norms must be a non-empty list of values >= 0")
        return v

    @field_validator("activation")
    @classmethod
    def _act(cls, v: str) -> str:
        if v not in ("softplus", "tanh"):
            raise ValueError("activation must be 'softplus' or 'tanh'")
        return v

    @field_validator("width")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("width must be even (symmetric initialisation)")
        return v


def _errors(p: Params, coef: Array, dirs: Array, degrees: Array, xt: Array, yt_cache: dict,
            act: str, chunk: int = 32) -> Array:
    R = p.a.shape[0]
    out = np.empty(R)
    for i in range(0, R, chunk):
        sl = slice(i, min(i + chunk, R))
        k = sl.stop - sl.start
        xb = np.broadcast_to(xt, (k, *xt.shape))
        g = forward(p.take(np.arange(sl.start, sl.stop)), xb, act)
        y = np.stack([_target_on(xt, dirs, degrees, c, yt_cache) for c in coef[sl]])
        out[sl] = np.mean((g - y) ** 2, axis=1)
    return out


def _target_on(xt: Array, dirs: Array, degrees: Array, c: Array, cache: dict) -> Array:
    key = c.tobytes()
    if key not in cache:
        cache[key] = evaluate(dirs, degrees, np.broadcast_to(c, (len(xt), len(c))), xt)
    return cache[key]


def simulate(cfg: SimulationConfig, progress: Any = None) -> dict[str, Any]:
    """Run the grid; returns rows of (n, s, phi1_norm, seed, error) and the settings used.

    Parameters
    ----------
    cfg : SimulationConfig
        Settings.
    progress : callable, optional
        ``progress(stage: str)`` called between stages.
    """
    rng = np.random.default_rng(cfg.seed)
    mu = ntk_eigenvalues(cfg.d, cfg.degrees + 6, cfg.activation, seed=cfg.seed)
    xi = cfg.xi if cfg.xi is not None else max(eigen_decay_exponent(mu, cfg.d), 1.0 + 1e-6)
    phi0 = make_target(cfg.d, cfg.r0, 1.0, cfg.degrees, mu, rng)
    phi1 = make_target(cfg.d, cfg.r1, 1.0, cfg.degrees, mu, rng)
    dirs = np.concatenate([phi0.dirs, phi1.dirs])
    degrees = np.concatenate([phi0.degrees, phi1.degrees])
    J = len(degrees)
    xt = sphere(rng, (cfg.test_points,), cfg.d)
    cache: dict = {}

    def make_target_fn(coef: Array):
        def fn(x: Array) -> Array:
            y = evaluate(dirs, degrees, coef, x)
            if cfg.noise > 0:
                y = y + cfg.noise * rng.standard_normal(len(y))
            return y
        return fn

    # ---- pre-training: one run per (n, seed)
    n_vals = np.array(cfg.n_grid)
    S = cfg.seeds
    init = init_symmetric(S, cfg.width, cfg.d, rng)  # one initialisation per seed
    pre_seed = np.repeat(np.arange(S), len(n_vals))
    pre_n = np.tile(n_vals, S)
    p0 = init.take(pre_seed)
    lam0 = cfg.lambda0_scale * pre_n ** (-xi / (2 * cfg.r0 * xi + 1))
    coef0 = np.zeros((len(pre_n), J))
    coef0[:, : cfg.degrees] = phi0.coef
    if progress:
        progress(f"pre-training {len(pre_n)} runs (up to {n_vals.max()} steps)")
    pre = asgd(p0, init.take(pre_seed), make_target_fn(coef0), pre_n,
               np.full(len(pre_n), min(cfg.eta0, cfg.eta_max)), lam0, rng, cfg.activation)
    pre_err = _errors(pre, coef0, dirs, degrees, xt, cache, cfg.activation)
    # ---- fine-tuning: one run per (n incl. 0, s, norm, seed)
    starts = [(int(n), i) for i, n in enumerate(pre_n)]
    if cfg.include_scratch:
        starts += [(0, -1 - sd) for sd in range(S)]
    rows_n, rows_s, rows_norm, rows_seed, src = [], [], [], [], []
    for n, idx in starts:
        seed_of = pre_seed[idx] if idx >= 0 else -1 - idx
        for s in cfg.s_grid:
            for norm in cfg.phi1_norms:
                rows_n.append(n)
                rows_s.append(s)
                rows_norm.append(norm)
                rows_seed.append(int(seed_of))
                src.append(idx)
    src_arr = np.array(src)
    seed_arr = np.array(rows_seed)
    a = np.where(src_arr[:, None] >= 0, pre.a[np.maximum(src_arr, 0)], init.a[seed_arr])
    b = np.where(src_arr[:, None, None] >= 0, pre.b[np.maximum(src_arr, 0)], init.b[seed_arr])
    start = Params(a, b)
    s_arr = np.array(rows_s)
    coef1 = np.zeros((len(s_arr), J))
    coef1[:, : cfg.degrees] = phi0.coef
    coef1[:, cfg.degrees:] = np.array(rows_norm)[:, None] * phi1.coef[None]
    eta1 = np.minimum(cfg.eta_max, s_arr.astype(float) ** (-cfg.zeta))
    lam1 = cfg.lambda1_scale * s_arr.astype(float) ** (-(1 - cfg.zeta) / (cfg.r1 + 1))
    if progress:
        progress(f"fine-tuning {len(s_arr)} runs (up to {s_arr.max()} steps)")
    fine = asgd(start, start.copy(), make_target_fn(coef1), s_arr, eta1, lam1, rng,
                cfg.activation)
    err = _errors(fine, coef1, dirs, degrees, xt, cache, cfg.activation)
    return {
        "rows": {"n": np.array(rows_n), "s": s_arr, "phi1_norm": np.array(rows_norm),
                 "seed": seed_arr, "error": err},
        "pretrain": {"n": pre_n, "seed": pre_seed, "error": pre_err},
        "xi": float(xi),
        "a0": pretraining_exponent(cfg.r0, xi),
        "mu": mu,
        "config": cfg.model_dump(),
    }


def fit_grid(rows: dict[str, Array], norm: float) -> dict[str, Any]:
    """Fit the multiplicative (eq. 2) and additive laws to one dissimilarity's grid.

    Both laws are fitted on all seeds' errors at n > 0 with the log loss (the errors span
    orders of magnitude); reported: parameters, AIC/BIC, and the RMSE of log-error on the
    largest n when fitted without it (extrapolation in n).
    """
    m = (rows["phi1_norm"] == norm) & (rows["n"] > 0)
    n, s, e = rows["n"][m].astype(float), rows["s"][m].astype(float), rows["error"][m]
    out: dict[str, Any] = {"phi1_norm": norm, "points": int(m.sum())}
    hold = n == n.max()
    for name, cls in (("multiplicative", FullTransferLaw), ("additive", AdditiveLaw)):
        law = cls(loss="log").fit(n, s, e)
        part = cls(loss="log").fit(n[~hold], s[~hold], e[~hold])
        pred = part.predict(n[hold], s[hold])
        rmse = float(np.sqrt(np.mean((np.log(e[hold]) - np.log(pred)) ** 2)))
        out[name] = {"params": {**law.params_, **law.family.derived(law.params_)},
                     "se": law.se_, "aic": law.aic_, "bic": law.bic_, "rss_log": law.rss_,
                     "holdout_rmse_log": rmse, "flags": law.flags_, "law": law}
    # transfer gap at each s: eq. 1 fitted to the seed-mean L(n) (log loss, C unbounded above)
    gaps = {}
    for sv in np.unique(s):
        ns = np.unique(n[s == sv])
        mean = np.array([e[(s == sv) & (n == nv)].mean() for nv in ns])
        if len(ns) >= 4:
            t = TransferLaw(loss="log", bounds={"C": (0.0, np.inf)}).fit(ns, mean)
            gaps[int(sv)] = {"C": t.C_, "alpha": t.alpha_, "D": t.D_, "flags": t.flags_}
    out["transfer_gap"] = gaps
    a, b = out["multiplicative"], out["additive"]
    out["winner_aic"] = "multiplicative" if a["aic"] < b["aic"] else "additive"
    out["winner_holdout"] = ("multiplicative" if a["holdout_rmse_log"] < b["holdout_rmse_log"]
                             else "additive")
    return out
