"""Executor backends by name: ``executor.kind`` and ``--executor`` take any registered name.

Built in: ``local`` (a process pool, :mod:`.local`), ``ray`` (:mod:`.ray`) and ``slurm``
(submitit, :mod:`.slurm`), each imported only when used. A new backend is a
:class:`~syn2real.sweep.runners.base.Runner` subclass registered under a name::

    from syn2real.sweep.runners import Runner, register_runner

    class MyRunner(Runner):
        @classmethod
        def create(cls, settings): ...
        def submit(self, job, threads): ...
        def wait(self, handles): ...

    register_runner("mine", MyRunner)      # then: executor: {kind: mine}

Its own settings: a pydantic model as ``MyRunner.settings_model``; a study's
``executor: {kind: mine, mine: {...}}`` is validated with it (a wrong key is one clear error)
and ``create`` reads it as ``settings.ec.block("mine")``.

The config's allowed values, the command line's choices and ``execute`` all read this map.
"""

from __future__ import annotations

import importlib

from ...errors import UserError
from .base import Runner, RunnerSettings, cpu_count

__all__ = ["Runner", "RunnerSettings", "cpu_count", "register_runner", "runner_class",
           "runner_names", "settings_model"]

#: name -> the class, or "module:Class" of a built-in (imported on first use)
_RUNNERS: dict[str, type[Runner] | str] = {
    "local": "syn2real.sweep.runners.local:LocalRunner",
    "ray": "syn2real.sweep.runners.ray:RayRunner",
    "slurm": "syn2real.sweep.runners.slurm:SlurmRunner",
}


def register_runner(name: str, cls: type[Runner]) -> None:
    """Make ``cls`` the backend called ``name`` (replacing one of that name)."""
    if not (isinstance(cls, type) and issubclass(cls, Runner)):
        raise TypeError(f"{cls!r} is not a Runner subclass")
    _RUNNERS[name] = cls


def settings_model(name: str) -> type | None:
    """The settings model of a registered backend that is already imported (built-ins keep
    theirs in :data:`syn2real.sweep.config.BACKEND_BLOCKS`); None otherwise."""
    entry = _RUNNERS.get(name)
    return None if entry is None or isinstance(entry, str) else entry.settings_model


def runner_names() -> list[str]:
    """The registered backends' names."""
    return list(_RUNNERS)


def runner_class(name: str) -> type[Runner]:
    """The backend called ``name``; one clear error naming the known ones otherwise."""
    entry = _RUNNERS.get(name)
    if entry is None:
        raise UserError(f"unknown executor {name!r}; choose {', '.join(_RUNNERS)}")
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        _RUNNERS[name] = entry
    return entry
