"""Advisor: verdicts and plans from fitted laws and predictive distributions."""

from .advice import Advice, NextRun, against_baseline, todo_sentence
from .decide import advise, advise_many, decide, next_run
from .grid import GridAdvice, GridNextRun, advise_grid, grid_next_run
from .legacy import advise_legacy
from .mix import MixPlan, plan_mix

__all__ = ["Advice", "GridAdvice", "GridNextRun", "MixPlan", "NextRun", "advise",
           "advise_grid", "advise_legacy", "advise_many", "against_baseline", "decide",
           "grid_next_run", "next_run", "plan_mix", "todo_sentence"]
