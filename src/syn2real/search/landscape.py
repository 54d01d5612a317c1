"""A known-truth rendering landscape: knob settings to (α, C, D), and noisy measured curves.

What the search is benchmarked and tested on where real pre-training would take days. Three
knobs ``u1, u2, u3`` in ``[0, 1]`` (on a grid of ``levels`` steps) and one categorical
``mode`` in ``{a, b}``:

* the transfer gap ``C`` is smooth in the knobs with a small region of low ``C`` (a Gaussian
  well around ``u1 ≈ 0.75, u2 ≈ 0.3`` in mode ``b``), an interaction ``u1·u3``, and a
  higher floor elsewhere;
* renderings with a lower ``C`` start worse (larger ``D``) and learn slower (smaller ``α``) —
  the paper's complexity trade-off (more complex renders, higher error at small ``n``, lower
  floor) — so curves cross and a ranking at small ``n`` misleads;
* every measurement is ``L(n)·exp(ε)``, ``ε ~ N(0, σ²)``, one draw per (rendering, n,
  replicate) from the landscape's seed: measuring again returns the same number, as a cached
  study would.

The cost of one measurement at ``n`` is ``n + n_min`` (pre-training grows with ``n``; the
fine-tuning and the rest cost about one smallest pre-training).
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .space import Knob

__all__ = ["Landscape"]

CHANCE = 0.9


@dataclass
class Landscape:
    """The simulated renderer; a :class:`~syn2real.search.halving.Measurer`."""

    seed: int = 0
    noise: float = 0.1  # relative sd of one measurement (seed-to-seed spread)
    n_min: int = 1000
    levels: int = 5
    replicates: int = 1

    def space(self) -> dict[str, Knob]:
        step = 1.0 / (self.levels - 1)
        return {"u1": Knob(low=0.0, high=1.0, step=step),
                "u2": Knob(low=0.0, high=1.0, step=step),
                "u3": Knob(low=0.0, high=1.0, step=step),
                "mode": Knob(choices=["a", "b"])}

    def law(self, params: dict[str, Any]) -> tuple[float, float, float]:
        """``(alpha, C, D)`` of a rendering (knobs missing from ``params``: 0.5, mode a)."""
        u1, u2, u3 = (float(params.get(k, 0.5)) for k in ("u1", "u2", "u3"))
        b = params.get("mode", "a") == "b"
        well = np.exp(-((u1 - 0.75) ** 2 + (u2 - 0.3) ** 2) / (2 * 0.15**2))
        C = 0.05 + 0.12 * (1 - (0.8 if b else 0.45) * well) + 0.04 * (u1 - u3) ** 2 \
            + 0.03 * u2 * (1 - u3)
        complexity = 0.6 * u1 + 0.4 * (1 - u2) * (0.5 if b else 0.3)
        alpha = 0.55 - 0.25 * complexity + 0.08 * u3
        D = 6.0 * (1 + 1.5 * complexity) * (1.15 if b else 1.0)
        return float(alpha), float(C), float(D)

    def truth(self, params: dict[str, Any], n: float) -> float:
        """The mean error at ``n`` (what an infinite number of seeds would measure)."""
        alpha, C, D = self.law(params)
        return float(min(CHANCE, D * n ** -alpha + C))

    def grid(self) -> list[dict[str, Any]]:
        """Every rendering of the space's grid."""
        vals = np.linspace(0, 1, self.levels)
        return [{"u1": float(a), "u2": float(b), "u3": float(c), "mode": m}
                for a, b, c, m in itertools.product(vals, vals, vals, ("a", "b"))]

    def best(self, n: float) -> float:
        """The lowest mean error at ``n`` over the grid."""
        return min(self.truth(p, n) for p in self.grid())

    def cost(self, params: dict[str, Any], sizes: list[int]) -> float:
        return float(sum(n + self.n_min for n in sizes)) * self.replicates

    def _draw(self, params: dict[str, Any], n: float, rep: int) -> float:
        key = repr(sorted(params.items())) + f"|{n:g}|{rep}"
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode())])
        return self.truth(params, n) * float(np.exp(self.noise * rng.standard_normal()))

    def measure_one(self, params: dict[str, Any], n: float, replicate: int = 0) -> list[float]:
        first = replicate * self.replicates
        return [self._draw(params, n, r) for r in range(first, first + self.replicates)]

    def measure(self, todo: dict[str, tuple[dict[str, Any], list[int]]],
                replicate: int = 0) -> dict[str, list[tuple[float, float]]]:
        return {name: [(float(n), e) for n in sizes
                       for e in self.measure_one(params, n, replicate)]
                for name, (params, sizes) in todo.items()}
