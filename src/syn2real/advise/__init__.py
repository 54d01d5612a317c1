"""Advisor: verdicts and plans from fitted laws and predictive distributions."""

from .advice import Advice, NextRun
from .decide import advise, advise_many, decide, next_run
from .legacy import advise_legacy
from .mix import MixPlan, plan_mix

__all__ = ["Advice", "MixPlan", "NextRun", "advise", "advise_legacy", "advise_many", "decide",
           "next_run", "plan_mix"]
