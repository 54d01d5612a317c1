"""Advisor: verdicts and plans from fitted laws."""

from .verdict import Advice, MixPlan, advise, plan_mix

__all__ = ["Advice", "MixPlan", "advise", "plan_mix"]
