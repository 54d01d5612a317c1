"""Sweeps: experiment config, the job DAG, executors (local, Ray) and the results store."""

from .config import ConfigError, StudyConfig, load_config, parse_config
from .execute import RunSummary, execute
from .plan import Job, Plan, build_plan
from .results import export_cg
from .store import Store

__all__ = ["ConfigError", "Job", "Plan", "RunSummary", "Store", "StudyConfig", "build_plan",
           "execute", "export_cg", "load_config", "parse_config"]
