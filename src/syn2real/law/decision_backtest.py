"""Decision back-tests on real learning curves: is a target reached within the budget?

The protocol (used by ``benchmarks/bench_decide.py`` and open to any set of curves):

1. *Truth* from the whole observed curve, not from one noisy point: a non-increasing
   isotonic fit of ``log y`` over the sorted sizes (:func:`isotonic_truth`); ``S`` is its
   value at the budget (the largest observed size) and ``σ`` the residual sd of one
   measurement around it (the isotonic residuals with their degrees of freedom,
   ``RSS / (k - blocks)``: model-free where the curve is monotone).
2. *The question*: fit the sizes ``x <= x_max / 4`` (at least four) and decide targets
   ``T = S·(1 + d)`` for ``d`` in :data:`DELTAS`; a target already met by a fitted (prefix)
   point is dropped. The target is reachable within the budget iff ``S <= T`` (``d > 0``).
3. *Near-ties*: cases with ``|log T - log S| < 2σ`` are scored separately, outside the
   headline (the measurement noise alone decides them).

Because the prefix-met targets are dropped, most remaining cases are unreachable: the
headline is the **balanced accuracy** (mean accuracy on reachable and on unreachable
targets). :func:`decision_scores` adds the Brier score and the share of wrong calls among the
confident ones; :func:`bootstrap_margin` the curve-bootstrap interval of one method's margin
over another; :func:`risk_coverage` the accuracy of the most confident share of calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import isotonic_regression

Array = np.ndarray
#: Relative target offsets from the smoothed error at the budget.
DELTAS = (-0.20, -0.10, -0.05, -0.02, 0.02, 0.05, 0.10, 0.20)
#: Fraction of the largest size that the decision is fitted on (x <= x_max / PREFIX_FACTOR).
PREFIX_FACTOR = 4.0
MIN_PREFIX = 4
#: Cases closer than this many σ to the smoothed truth are near-ties.
NEAR_TIE_SIGMAS = 2.0
#: Probabilities at or beyond these are "confident" calls.
CONFIDENT = (0.05, 0.95)


@dataclass(frozen=True)
class IsotonicTruth:
    """The smoothed, non-increasing curve that defines the truth.

    Attributes
    ----------
    x, fitted : ndarray
        Sorted unique sizes and the isotonic fit of the error there (not log).
    S : float
        Smoothed error at the largest size (the budget).
    sigma : float
        Sd of one measurement's log error around the fit (0 when it has no residual
        degrees of freedom).
    """

    x: Array
    fitted: Array
    S: float
    sigma: float

    def first_reaching(self, target: float) -> float:
        """Smallest observed size whose smoothed error is <= ``target`` (inf if none)."""
        hit = self.fitted <= target * (1 + 1e-12)
        return float(self.x[np.argmax(hit)]) if hit.any() else float("inf")


def isotonic_truth(x: Sequence[float], y: Sequence[float]) -> IsotonicTruth:
    """Non-increasing isotonic fit of ``log y`` over sizes ``x`` (repeats averaged first).

    Parameters
    ----------
    x, y : sequence of float
        Sizes (> 0) and errors (> 0) of one curve, at least two distinct sizes.
    """
    x = np.asarray(x, float).ravel()
    y = np.asarray(y, float).ravel()
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if np.any(~np.isfinite(x)) or np.any(x <= 0) or np.any(~np.isfinite(y)) or np.any(y <= 0):
        raise ValueError("x and y must be finite and > 0")
    u, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
    if len(u) < 2:
        raise ValueError("isotonic truth needs at least two distinct sizes")
    ly = np.bincount(inv, weights=np.log(y)) / cnt
    res = isotonic_regression(ly, weights=cnt.astype(float), increasing=False)
    fit = np.asarray(res.x, float)
    blocks = len(res.blocks) - 1
    rss = float(np.sum(cnt * (ly - fit) ** 2) + np.sum((np.log(y) - ly[inv]) ** 2))
    dof = len(y) - blocks
    sigma = float(np.sqrt(rss / dof)) if dof > 0 else 0.0
    return IsotonicTruth(u, np.exp(fit), float(np.exp(fit[-1])), sigma)


@dataclass
class DecisionCase:
    """One curve's decision back-test under the isotonic protocol.

    Attributes
    ----------
    source, curve : str
        Where the curve comes from and its name.
    kind : str
        ``"runs"`` (separate runs per size) or ``"checkpoints"`` (one training run).
    x, y : ndarray
        The fitted prefix (sizes ``<= budget / PREFIX_FACTOR``, repeats averaged).
    x_future, y_future : ndarray
        The later sizes up to the budget and their measured errors.
    budget : float
        The largest observed size.
    truth : IsotonicTruth
        The smoothed whole curve.
    targets : list of dict
        ``{"d", "target", "reachable", "near_tie", "n_true"}`` per kept target.
    """

    source: str
    curve: str
    kind: str
    x: Array
    y: Array
    x_future: Array
    y_future: Array
    budget: float
    truth: IsotonicTruth
    targets: list[dict] = field(default_factory=list)


def decision_case(source: str, curve: str, x: Sequence[float], y: Sequence[float], *,
                  kind: str = "runs", deltas: Sequence[float] = DELTAS,
                  prefix_factor: float = PREFIX_FACTOR, min_prefix: int = MIN_PREFIX
                  ) -> DecisionCase | None:
    """The back-test of one curve, or ``None`` when it has too few points or no target.

    Parameters
    ----------
    source, curve : str
        Names.
    x, y : sequence of float
        The whole observed curve (repeats at one size are averaged).
    kind : {"runs", "checkpoints"}
        What the sizes are.
    deltas : sequence of float
        Relative target offsets ``d`` (``T = S·(1 + d)``).
    prefix_factor, min_prefix
        The decision is fitted on the sizes ``<= x_max / prefix_factor``, at least
        ``min_prefix`` of them and at least one size beyond.
    """
    if kind not in ("runs", "checkpoints"):
        raise ValueError(f"kind must be 'runs' or 'checkpoints', got {kind!r}")
    x = np.asarray(x, float).ravel()
    y = np.asarray(y, float).ravel()
    if len(x) == 0 or np.any(y <= 0) or np.any(~np.isfinite(y)):
        return None
    u, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
    ym = np.bincount(inv, weights=y) / cnt
    if len(u) < min_prefix + 1:
        return None
    budget = float(u[-1])
    pre = u <= budget / prefix_factor * (1 + 1e-12)
    if pre.sum() < min_prefix or pre.all():
        return None
    truth = isotonic_truth(x, y)
    best_pre = float(ym[pre].min())
    targets = []
    for d in deltas:
        t = truth.S * (1.0 + float(d))
        if best_pre <= t:
            continue  # already met by a fitted point: no question left
        gap = abs(np.log1p(float(d)))
        targets.append({"d": float(d), "target": float(t), "reachable": bool(d > 0),
                        "near_tie": bool(gap < NEAR_TIE_SIGMAS * truth.sigma),
                        "n_true": truth.first_reaching(t) if d > 0 else float("inf")})
    if not targets:
        return None
    return DecisionCase(source, curve, kind, u[pre], ym[pre], u[~pre], ym[~pre], budget,
                        truth, targets)


def decision_scores(truth: Array, p: Array) -> dict[str, float]:
    """Accuracy, balanced accuracy, Brier score and confident-wrong share of calls ``p``.

    Parameters
    ----------
    truth : bool array
        Reachable or not.
    p : float array
        Probability of "reachable" (``>= 0.5`` is the call).
    """
    t = np.asarray(truth, bool)
    p = np.asarray(p, float)
    call = p >= 0.5
    right = call == t
    accs = [float(right[t].mean()) if t.any() else float("nan"),
            float(right[~t].mean()) if (~t).any() else float("nan")]
    conf = (p <= CONFIDENT[0]) | (p >= CONFIDENT[1])
    return {"cases": int(len(t)), "reachable": int(t.sum()),
            "acc": float(right.mean()) if len(t) else float("nan"),
            "bal_acc": float(np.nanmean(accs)) if len(t) else float("nan"),
            "acc_reachable": accs[0], "acc_unreachable": accs[1],
            "brier": float(np.mean((p - t) ** 2)) if len(t) else float("nan"),
            "n_conf": int(conf.sum()),
            "conf_wrong": float((~right[conf]).mean()) if conf.any() else float("nan")}


def bootstrap_margin(groups: Array, truth: Array, p_a: Array, p_b: Array, *,
                     n_boot: int = 1000, seed: int = 0, level: float = 0.95
                     ) -> tuple[float, float, float]:
    """Balanced-accuracy margin of calls ``p_a`` over ``p_b``, with a curve-bootstrap CI.

    Curves (``groups``: one label per case) are resampled with replacement, so the cases of
    one curve stay together.

    Returns
    -------
    (margin, lo, hi)
    """
    groups = np.asarray(groups)
    t = np.asarray(truth, bool)
    a = np.asarray(p_a, float) >= 0.5
    b = np.asarray(p_b, float) >= 0.5
    labels, gi = np.unique(groups, return_inverse=True)
    G = len(labels)
    # per curve: right calls and counts on reachable / unreachable cases
    def per(call: Array) -> Array:
        out = np.zeros((G, 4))
        r = call == t
        np.add.at(out, (gi, 0), r & t)
        np.add.at(out, (gi, 1), t)
        np.add.at(out, (gi, 2), r & ~t)
        np.add.at(out, (gi, 3), ~t)
        return out

    A, B = per(a), per(b)

    def bal(M: Array) -> Array:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nanmean(np.stack([M[..., 0] / M[..., 1], M[..., 2] / M[..., 3]]),
                              axis=0)

    point = float(bal(A.sum(0)) - bal(B.sum(0)))
    rng = np.random.default_rng(seed)
    W = np.stack([np.bincount(rng.integers(0, G, G), minlength=G) for _ in range(n_boot)])
    diffs = bal(W @ A) - bal(W @ B)
    q = (1 - level) / 2
    return point, float(np.nanquantile(diffs, q)), float(np.nanquantile(diffs, 1 - q))


def risk_coverage(truth: Array, call: Array, confidence: Array, share: float = 0.5
                  ) -> float:
    """Accuracy of the most confident ``share`` of the calls (ties broken by order)."""
    t = np.asarray(truth, bool)
    c = np.asarray(call, bool)
    k = max(int(round(share * len(t))), 1)
    top = np.argsort(-np.asarray(confidence, float), kind="stable")[:k]
    return float(np.mean(c[top] == t[top]))
