"""The laws of the paper and the comparison families, as estimators.

>>> import numpy as np
>>> n = 1000 * 2.0 ** np.arange(7)
>>> err = 0.48 * n ** -0.44 + 0.935
>>> law = TransferLaw(D=0.48).fit(n, err)
>>> round(law.alpha_, 3), round(law.C_, 3)
(0.44, 0.935)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import BaseLaw
from .families import ADDITIVE, BROKEN, FULL, POWER, TRANSFER

Array = np.ndarray


class LawOfN(BaseLaw):
    """Laws of the pre-training size ``n`` alone: subclass it with a ``family``
    (:class:`~syn2real.law.families.Family`) and :func:`register_law` it."""

    def fit(self, n: Any, err: Any, weights: Any = None) -> LawOfN:
        """Fit to errors ``err`` observed at pre-training sizes ``n``; returns self."""
        return self._fit(self._inputs(n=n), err, weights)

    def predict(self, n: Any) -> Array:
        """Predicted error at sizes ``n``."""
        return self._predict(self._inputs(n=n))

    def predict_interval(self, n: Any, level: float = 0.9, kind: str = "observation",
                         method: str = "profile") -> tuple[Array, Array]:
        """Interval for a new observation (or the mean curve) at sizes ``n``.

        Parameters
        ----------
        n : array-like
            Sizes, inside or beyond the fitted range.
        level : float
            Coverage probability.
        kind : {"observation", "mean"}
            A new measured error, or the law's expected error.
        method : {"profile", "delta"}
            ``profile`` (default, calibrated by simulation; see
            :mod:`syn2real.law.uncertainty`) or the delta method (for comparison: it
            under-covers in extrapolation).

        Returns
        -------
        (low, high) : tuple of ndarray
        """
        return self._predict_interval(self._inputs(n=n), level, kind, method)


class LawOfNS(BaseLaw):
    """Laws of the pre-training size ``n`` and the fine-tuning size ``s`` (a family with
    inputs ``("n", "s")``)."""

    def fit(self, n: Any, s: Any, err: Any, weights: Any = None) -> LawOfNS:
        """Fit to errors observed at (n, s); returns self."""
        return self._fit(self._inputs(n=n, s=s), err, weights)

    def predict(self, n: Any, s: Any) -> Array:
        """Predicted error at (n, s) (broadcast)."""
        n, s = np.broadcast_arrays(np.asarray(n, float), np.asarray(s, float))
        shape = n.shape
        return self._predict(self._inputs(n=n.ravel(), s=s.ravel())).reshape(shape)

    def predict_interval(self, n: Any, s: Any, level: float = 0.9, kind: str = "observation",
                         method: str = "profile") -> tuple[Array, Array]:
        """Interval for a new observation (or the mean) at (n, s); see ``TransferLaw``."""
        n, s = np.broadcast_arrays(np.asarray(n, float), np.asarray(s, float))
        lo, hi = self._predict_interval(self._inputs(n=n.ravel(), s=s.ravel()), level, kind,
                                        method)
        return lo.reshape(n.shape), hi.reshape(n.shape)


class TransferLaw(LawOfN):
    """The paper's law ``L(n) = D n^-alpha + C`` (eq. 1).

    Parameters
    ----------
    D : float or None
        Fix the coefficient (the paper uses the shared ``D = 0.48``) or ``None`` to fit it.
    loss, bounds, huber_delta, grid_size
        See :class:`~syn2real.law.base.BaseLaw`. Default bounds: ``alpha`` in [0.05, 2],
        ``D >= 0``, ``C`` in [0, 1] (pass ``bounds={"C": (0, np.inf)}`` for losses that are
        not error rates).

    Attributes
    ----------
    alpha_, C_, D_ : float
        Estimates (``D_`` equals ``D`` when fixed).
    se_ : dict
        Standard errors of the free parameters.
    flags_ : list of str
        ``at_bound:<param>``, ``non_identifiable``, ``alpha_se_gt_1`` (the paper drops
        such fits as unstable), ``no_dof``.
    """

    family = TRANSFER

    def __init__(self, D: float | None = None, *, loss: str = "linear",
                 bounds: Mapping[str, tuple[float, float]] | None = None,
                 huber_delta: float | None = None, grid_size: int | None = None,
                 fixed: Mapping[str, float] | None = None) -> None:
        fx = dict(fixed or {})
        if D is not None:
            fx["D"] = float(D)
        super().__init__(loss=loss, bounds=bounds, fixed=fx, huber_delta=huber_delta,
                         grid_size=grid_size)
        self.D = D

    def get_params(self) -> dict[str, Any]:
        p = super().get_params()
        fixed = {k: v for k, v in p.pop("fixed").items() if k != "D"}
        return {"D": self.D, **p, "fixed": fixed}


class PowerLaw(LawOfN):
    """The power-law baseline ``L(n) = D n^-alpha`` (no transfer gap)."""

    family = POWER


class BrokenPowerLaw(LawOfN):
    """One-break smoothly broken power law (Caballero et al., 2022, sharpness f = 1):
    ``L(n) = D n^-alpha (1 + n/n_b)^-delta_alpha + C``; the slope changes from ``alpha`` to
    ``alpha + delta_alpha`` around ``n_b``. A flexible cross-check of eq. 1's form.
    """

    family = BROKEN


class FullTransferLaw(LawOfNS):
    """The full law ``L(n, s) = delta (gamma + n^-alpha) s^-beta`` (eq. 2).

    Fitted as ``delta_gamma * s^-beta + delta * n^-alpha s^-beta`` (linear in
    ``delta_gamma = delta*gamma`` and ``delta``); ``gamma_`` is derived.
    """

    family = FULL

    def D_of(self, s: float) -> float:
        """Coefficient ``D = delta s^-beta`` of eq. 1 at fine-tuning size s."""
        self.check_is_fitted()
        return float(self.params_["delta"] * s ** (-self.params_["beta"]))

    def C_of(self, s: float) -> float:
        """Transfer gap ``C = delta gamma s^-beta`` of eq. 1 at fine-tuning size s."""
        self.check_is_fitted()
        return float(self.params_["delta_gamma"] * s ** (-self.params_["beta"]))


class AdditiveLaw(LawOfNS):
    """Additive alternative ``L(n, s) = A n^-alpha + B s^-beta + E``."""

    family = ADDITIVE


LAWS: dict[str, type[BaseLaw]] = {
    "transfer": TransferLaw,
    "power": PowerLaw,
    "broken": BrokenPowerLaw,
    "full": FullTransferLaw,
    "additive": AdditiveLaw,
}


def register_law(name: str, cls: type[BaseLaw]) -> None:
    """Make a law estimator known by name: ``syn2real fit --law NAME``,
    :class:`syn2real.assess.AssessSettings` (a law of ``n`` alone, :class:`LawOfN`, also
    gets the back-test and the report; one of ``n`` and ``s``, :class:`LawOfNS`, is fitted
    per setting over both sizes). A name already taken by another class is refused."""
    if not (isinstance(cls, type) and issubclass(cls, BaseLaw)
            and getattr(cls, "family", None) is not None):
        raise TypeError(f"{cls!r} is not a BaseLaw subclass with a family")
    if name in LAWS and LAWS[name] is not cls:
        raise ValueError(f"law {name!r} is already registered ({LAWS[name].__name__})")
    LAWS[name] = cls


def two_inputs(name: str) -> bool:
    """Whether the registered law ``name`` is one of (n, s)."""
    return "s" in LAWS[name].family.inputs
