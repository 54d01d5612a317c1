"""Which rendering knob moves which law parameter: main effects by least squares.

With the settings as rows and one 0/1 column per knob (second option = 1), a parameter
(alpha, C, negative entropy) is regressed on the knobs; each coefficient is that knob's main
effect with its standard error. Presets lv0..lv7 are not a full factorial design, so effects
are confounded where knobs always change together; a knob that never varies is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: the four knobs of the paper and the option counted as 1
KNOBS = {"appearance": "multiple", "light": "random", "background": "random",
         "object_texture": "with"}


def knob_effects(knobs: Sequence[Mapping[str, str]],
                 values: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    """Main effect of each varying knob on each quantity.

    Parameters
    ----------
    knobs : sequence of mappings
        Per setting, the knob options (``DatasetSpec`` fields ``appearance``, ``light``,
        ``background``, ``object_texture``).
    values : mapping name -> sequence
        Per quantity (e.g. ``alpha``, ``C``, ``negative_entropy``), one value per setting.

    Returns
    -------
    dict
        ``effects[quantity][knob] = {"effect", "se"}`` (``se`` is ``nan`` without residual
        degrees of freedom), ``knobs`` (those that vary), ``dof`` and a ``note``.
    """
    k = len(knobs)
    varying = [n for n in KNOBS if len({kn[n] for kn in knobs}) > 1]
    X = np.column_stack([np.ones(k)] + [[float(kn[n] == KNOBS[n]) for kn in knobs]
                                        for n in varying])
    rank = np.linalg.matrix_rank(X)
    out: dict[str, Any] = {"knobs": varying, "dof": k - X.shape[1], "effects": {}}
    if rank < X.shape[1]:
        out["note"] = ("the knobs that vary are confounded in these settings (design matrix "
                       f"rank {rank} < {X.shape[1]}): add settings that change them "
                       "separately")
        return out
    dof = k - X.shape[1]
    xtx_inv = np.linalg.inv(X.T @ X)
    for name, v in values.items():
        y = np.asarray(v, float)
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        if dof > 0:
            s2 = float(np.sum((y - X @ beta) ** 2) / dof)
            se = np.sqrt(np.diag(xtx_inv) * s2)
        else:
            se = np.full(X.shape[1], np.nan)
        out["effects"][name] = {kn: {"effect": float(beta[i + 1]), "se": float(se[i + 1])}
                                for i, kn in enumerate(varying)}
    out["note"] = (f"main effects by least squares over {k} settings ({dof} residual degrees "
                   "of freedom); presets are not a full factorial design")
    return out
