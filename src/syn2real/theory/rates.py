"""The rate table of the paper's Appendix E.5 (Table 1).

Setting: pre-training target ``phi0`` in ``R(Sigma^r0)``, fine-tuning residual ``phi1`` in
``R(Sigma^r1)`` (source conditions, ``r0, r1`` in [1/2, 1]), NTK eigen-decay
``gamma_l ~ l^-xi`` (``xi > 1``), fine-tuning learning rate ``eta1 = T1^-zeta``. Pre-training by
averaged SGD for ``T0 = n`` steps with ``lambda0 = T0^(-xi/(2 r0 xi + 1))`` reaches
``R0 ~ T0^-a0`` with ``a0 = 2 r0 xi / (2 r0 xi + 1)``. The bound on the fine-tuned error is

    eps + (c + c' T0^-p) T1^-q

with ``(p, q)`` and the admissible ``zeta`` given by four cases:

* I-A (r0 >= r1, r1/(2r1+1) <= zeta < 1):
  p = a0 r1/(r1+1), q = 2 r1 (1-zeta)/(r1+1);
* I-B (r0 < r1, max(r0/(2r0+1), ((2r1-r0)xi+1-xi)/(2 r1 xi+1)) <= zeta < 1):
  p = a0 r0/(r0+1), q = 2 r0 (1-zeta)/(r0+1);
* II-A (r0 >= r1, 0 < zeta <= r1/(2r1+1)):
  p = a0 2r1/(2r1+1), q = 2r1/(2r1+1);
* II-B (r0 < r1 <= r0 + (xi-1)/(2xi), 0 < zeta <= r0/(2r0+1)):
  p = a0 2r0/(2r0+1), q = 2r0/(2r0+1).

Case I is the small learning-rate regime (``T1 lambda1 eta1^2 << 1``), case II the large one.
In the paper's notation eq. 2, ``alpha`` corresponds to ``p`` and ``beta`` to ``q``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RateCase:
    """One applicable row of Table 1."""

    case: str
    regime: str
    t0_exponent: float
    t1_exponent: float
    lambda1: str
    conditions: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(r0: float, r1: float, xi: float, zeta: float) -> None:
    for name, v in (("r0", r0), ("r1", r1)):
        if not 0.5 <= v <= 1.0:
            raise ValueError(f"{name} must lie in [1/2, 1] (source condition), got {v}")
    if not xi > 1.0:
        raise ValueError(f"xi (NTK eigen-decay exponent) must be > 1, got {xi}")
    if not zeta >= 0.0:
        raise ValueError(f"zeta (eta1 = T1^-zeta) must be >= 0, got {zeta}")


def pretraining_exponent(r0: float, xi: float) -> float:
    """``a0 = 2 r0 xi / (2 r0 xi + 1)``: ``E||phi0_hat - phi0||^2 ~ T0^-a0`` (eq. 13)."""
    return 2 * r0 * xi / (2 * r0 * xi + 1)


def rate_table(r0: float, r1: float, xi: float, zeta: float) -> list[RateCase]:
    """Cases of Table 1 that apply to ``(r0, r1, xi, zeta)``.

    Parameters
    ----------
    r0, r1 : float
        Smoothness of ``phi0`` and ``phi1``, in [1/2, 1].
    xi : float
        NTK eigen-decay exponent, > 1.
    zeta : float
        Fine-tuning learning rate exponent, ``eta1 = T1^-zeta``, >= 0.

    Returns
    -------
    list of RateCase
        Usually one; two on the boundary ``zeta = r/(2r+1)`` between regimes; empty when
        no case of the table covers the inputs (each case's conditions are in
        :data:`CONDITIONS`).

    Raises
    ------
    ValueError
        Inputs outside the theory's assumptions.
    """
    _check(r0, r1, xi, zeta)
    a0 = pretraining_exponent(r0, xi)
    out: list[RateCase] = []
    tol = 1e-12
    if r0 >= r1:
        zc = r1 / (2 * r1 + 1)
        if zc - tol <= zeta < 1:
            out.append(RateCase("I-A", "small learning rate", a0 * r1 / (r1 + 1),
                                2 * r1 * (1 - zeta) / (r1 + 1),
                                "T1^(-(1-zeta)/(r1+1)) R0^(1/(2(r1+1)))",
                                f"r0 >= r1, {zc:.4g} <= zeta < 1"))
        if 0 < zeta <= zc + tol:
            out.append(RateCase("II-A", "large learning rate", a0 * 2 * r1 / (2 * r1 + 1),
                                2 * r1 / (2 * r1 + 1), "T1^(-1/(2r1+1)) R0^(1/(2r1+1))",
                                f"r0 >= r1, 0 < zeta <= {zc:.4g}"))
    else:
        lo = max(r0 / (2 * r0 + 1), ((2 * r1 - r0) * xi + 1 - xi) / (2 * r1 * xi + 1))
        if lo - tol <= zeta < 1:
            out.append(RateCase("I-B", "small learning rate", a0 * r0 / (r0 + 1),
                                2 * r0 * (1 - zeta) / (r0 + 1),
                                "T1^(-(1-zeta)/(r0+1)) R0^(1/(2(r0+1)))",
                                f"r0 < r1, {lo:.4g} <= zeta < 1"))
        zc = r0 / (2 * r0 + 1)
        r1_max = r0 + (xi - 1) / (2 * xi)
        if 0 < zeta <= zc + tol and r1 <= r1_max + tol:
            out.append(RateCase("II-B", "large learning rate", a0 * 2 * r0 / (2 * r0 + 1),
                                2 * r0 / (2 * r0 + 1), "T1^(-1/(2r0+1)) R0^(1/(2r0+1))",
                                f"r0 < r1 <= {r1_max:.4g}, 0 < zeta <= {zc:.4g}"))
    return out


CONDITIONS = {
    "I-A": "r0 >= r1 and r1/(2r1+1) <= zeta < 1",
    "I-B": "r0 < r1 and max(r0/(2r0+1), ((2r1-r0)xi+1-xi)/(2r1 xi+1)) <= zeta < 1",
    "II-A": "r0 >= r1 and 0 < zeta <= r1/(2r1+1)",
    "II-B": "r0 < r1 <= r0 + (xi-1)/(2xi) and 0 < zeta <= r0/(2r0+1)",
}
