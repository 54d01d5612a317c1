"""Sweeps: experiment config, the job DAG, executors (:mod:`.runners`: local, Ray, Slurm or a
registered backend), the results store, tracking and the end of a study."""

from .config import ConfigError, StudyConfig, load_config, parse_config
from .execute import RunSummary, execute
from .plan import Job, Plan, build_plan
from .results import export_cg
from .store import Store

__all__ = ["ConfigError", "Job", "Plan", "RunSummary", "Store", "StudyConfig", "build_plan",
           "execute", "export_cg", "load_config", "parse_config"]
