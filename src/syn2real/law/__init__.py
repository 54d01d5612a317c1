"""Law engine: fit, compare and back-test learning-curve laws (numpy + scipy only)."""

from .backtest import backtest, compare
from .base import BaseLaw, NotFittedError
from .batch import fit_curves, fit_estimators, fit_groups
from .families import FAMILIES, Family
from .grid_predictive import GridPredictor, fit_grid_predictors
from .laws import (
    LAWS,
    AdditiveLaw,
    BrokenPowerLaw,
    FullTransferLaw,
    LawOfN,
    LawOfNS,
    PowerLaw,
    TransferLaw,
    register_law,
)
from .predictive import CurvePredictor, PredictivePrior, fit_predictors, p_reach_many
from .shared import SharedDResult, joint_shared_D, shared_D_iterated

__all__ = [
    "FAMILIES",
    "LAWS",
    "AdditiveLaw",
    "BaseLaw",
    "BrokenPowerLaw",
    "CurvePredictor",
    "Family",
    "FullTransferLaw",
    "GridPredictor",
    "LawOfN",
    "LawOfNS",
    "NotFittedError",
    "PowerLaw",
    "PredictivePrior",
    "SharedDResult",
    "TransferLaw",
    "backtest",
    "compare",
    "fit_curves",
    "fit_estimators",
    "fit_grid_predictors",
    "fit_groups",
    "fit_predictors",
    "joint_shared_D",
    "p_reach_many",
    "register_law",
    "shared_D_iterated",
]
