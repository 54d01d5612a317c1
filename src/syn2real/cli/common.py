"""Shared pieces of the command line: consoles, error handling, JSON output."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from ..atomic import atomic_write
from ..errors import UserError

out = Console(width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

LOSS_HELP = "Fitting loss: linear (authors' notebook), log (paper text) or huber."


#: Set by ``syn2real --debug`` (or ``SYN2REAL_DEBUG=1``): internal errors show a traceback.
DEBUG = os.environ.get("SYN2REAL_DEBUG", "") == "1"


def set_debug(on: bool) -> None:
    """Show tracebacks of internal errors (``syn2real --debug``)."""
    global DEBUG
    DEBUG = DEBUG or on


_PACKAGE = str(Path(__file__).resolve().parents[1])


def raised_by_syn2real(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by syn2real's own code (an input check), not by a library
    underneath it (numpy, torch, ...: then it is an internal error, not the user's)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and last.tb_frame.f_code.co_filename.startswith(_PACKAGE)


#: Commands that run one training: what Ctrl-C says differs from a study's (a pre-training
#: goes on from its saved state, a fine-tuning starts over; a study resumes job by job).
SINGLE_TRAININGS = ("pretrain", "finetune")


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Errors as one line on stderr: a user's mistake (:class:`syn2real.errors.UserError`,
    a ``ValueError`` raised by syn2real's own input checks, a file-system error naming its
    file) exits 2; any other exception — a ``ValueError`` from deep inside numpy or torch
    included — is an internal error: one line saying so, exit 1, and the traceback with
    ``--debug``. Ctrl-C exits 130 with a line saying what to do."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:  # an exit code chosen on purpose (a RuntimeError in click)
            raise
        except ValueError as exc:  # UserError (CurveTableError, ConfigError), our own checks
            if not isinstance(exc, UserError) and not raised_by_syn2real(exc):
                return _internal(exc)
            stderr.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                         soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:
            if exc.filename is None or DEBUG:
                raise
            what = exc.strerror or type(exc).__name__
            stderr.print(f"[bold red]error:[/] {escape(str(exc.filename))}: {escape(what)}",
                         highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            if fn.__name__ == "pretrain":  # goes on from its last resumable state
                stderr.print("interrupted: running the same command again goes on from the "
                             "last saved training state in --out (train_state.pt, every "
                             "--state-every seconds); the best model so far is the partial "
                             "checkpoint there (finetune --allow-partial uses it)",
                             highlight=False)
            elif fn.__name__ in SINGLE_TRAININGS:  # a fine-tuning is short: starts over
                stderr.print("interrupted: a fine-tuning is not resumed, running the command "
                             "again starts it over; a study (syn2real run) resumes job by job",
                             highlight=False)
            else:
                stderr.print("interrupted: finished work is kept; run the same command again "
                             "to resume", highlight=False)
            raise typer.Exit(130) from None
        except Exception as exc:
            return _internal(exc)
    return wrapper


def _internal(exc: Exception) -> None:
    if DEBUG:
        raise exc
    stderr.print(f"[bold red]internal error[/] ({type(exc).__name__}: "
                 f"{escape(str(exc))}). Rerun with syn2real --debug ... for the "
                 "traceback, and please report it.", highlight=False, soft_wrap=True)
    raise typer.Exit(1) from None


D_DEFAULT = "free"


def pct(p: float) -> str:
    """A probability for a verdict line ("n/a" where none can be given)."""
    return f"{p:.0%}" if math.isfinite(p) else "n/a"


def parse_D(text: str, words: tuple[str, ...] = ()) -> float | str | None:
    """``--D``: ``free`` (None), a positive number, or one of ``words`` (e.g. ``shared``)."""
    t = text.strip().lower()
    if t == "free":
        return None
    if t in words:
        return t
    try:
        value = float(t)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        allowed = ", ".join(["a number (> 0)", "'free'", *(f"'{w}'" for w in words)])
        raise UserError(f"--D must be {allowed}; got {text!r}")
    return value


def write_json(path: str, payload: Any) -> None:
    """Write JSON atomically (temporary file, fsync, rename); ``-`` means stdout."""
    text = json.dumps(payload, indent=2, default=json_default, allow_nan=False)
    if path == "-":
        sys.stdout.write(text + "\n")
        return
    p = atomic_write(path, text + "\n")
    stderr.print(f"wrote {p}")


def json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not serialisable: {type(o)}")





def build_settings(model: Any, fields: dict[str, Any], source: object) -> Any:
    """Validate settings with a pydantic model; the first error names the key and the rule."""
    from pydantic import ValidationError

    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(x) for x in first["loc"]) or "settings"
        raise ValueError(f"{source}: '{key}': {first['msg']}") from None


def _fmt_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@contextmanager
def progress(total: int, what: str, unit: str = "steps", every: float = 30.0
             ) -> Iterator[Callable[[int], None]]:
    """Progress of ``total`` steps on stderr: a rich bar with rate and ETA on a terminal,
    a plain line every ``every`` seconds (and at the end) otherwise; nothing when 0.

    Yields ``advance(k=1)``.
    """
    import time

    if not total:
        yield lambda k=1: None
        return
    if stderr.is_terminal:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(f"[progress.description]{escape(what)}", BarColumn(),
                      MofNCompleteColumn(), TaskProgressColumn(),
                      TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                      console=stderr) as prog:
            task = prog.add_task(what, total=total, rate="")
            t0 = time.perf_counter()
            done = [0]

            def advance(k: int = 1) -> None:
                done[0] += k
                dt = time.perf_counter() - t0
                prog.update(task, advance=k,
                            rate=f"{done[0] / dt:.2f} {unit}/s" if dt > 0 else "")

            yield advance
        return
    t0 = last = time.perf_counter()
    state = {"done": 0}

    def line() -> None:
        dt = time.perf_counter() - t0
        rate = state["done"] / dt if dt > 0 else 0.0
        eta = (total - state["done"]) / rate if rate > 0 else float("inf")
        stderr.print(f"{what}: {state['done']:,}/{total:,} {unit}, {rate:.2f} {unit}/s, "
                     f"ETA {_fmt_seconds(eta)}", highlight=False)

    def advance(k: int = 1) -> None:
        nonlocal last
        state["done"] += k
        now = time.perf_counter()
        if now - last >= every or state["done"] >= total:
            last = now
            line()

    yield advance
