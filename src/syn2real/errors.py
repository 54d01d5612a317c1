"""The exception a user can fix: the CLI prints it as one line (what, where, how to fix).

Everything else that escapes a command is an internal error: the CLI says so in one line and
shows the traceback with ``syn2real --debug ...`` (or ``SYN2REAL_DEBUG=1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class UserError(ValueError):
    """Bad input, a missing file or a missing optional dependency; the message says the fix."""


def read_input(path: str | Path, kind: str, error: type[UserError] = UserError) -> bytes:
    """The bytes of a user's input file; a missing file or a folder is one ``error``."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise error(f"{p}: no such file. Fix: check the path") from None
    except IsADirectoryError:
        raise error(f"{p}: is a folder, not a {kind} file. Fix: give the {kind} file") from None


class NoSpaceError(UserError):
    """The disk filled up while writing (what was finished is kept)."""


class DivergedError(UserError):
    """A training whose loss became nan or infinite: it failed, nothing of it is kept as
    finished."""


def no_space(exc: OSError, where: str | Path) -> NoSpaceError | None:
    """A one-line :class:`NoSpaceError` for a full disk, else None: ``ENOSPC``/``EDQUOT``, or
    a short write without an errno (numpy's "N requested and M written") where the file
    system has less than 1 MiB left."""
    import errno
    import re
    import shutil

    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not full and exc.errno is None:
        # numpy's short write names itself: the disk took fewer bytes than were written,
        # whatever space the cleanup of the half-written file freed since
        full = re.search(r"\d+ requested and \d+ written", str(exc)) is not None
        if not full:
            try:
                full = shutil.disk_usage(where).free < 1 << 20
            except OSError:
                full = False
    if full:
        return NoSpaceError(f"no space left on {where} (disk or quota full). Fix: free space "
                            "and run the same command again; finished work is kept, nothing "
                            "half-written is left")
    return None


@contextmanager
def full_disk_reported(where: str | Path) -> Iterator[None]:
    """Inside the block a full disk raises :class:`NoSpaceError` naming ``where``; any other
    error passes unchanged."""
    try:
        yield
    except OSError as exc:
        full = no_space(exc, where)
        if full is not None:
            raise full from None
        raise


def describe_validation(errors: list[dict[str, Any]], what: str = "config",
                        keys_hint: str = "") -> str:
    """One line for pydantic's first validation error: ``'loc': message`` plus how many
    more; ``keys_hint`` says where the allowed keys are documented."""
    e = errors[0]
    loc = ".".join(str(x) for x in e["loc"] if not str(x).startswith("function-after"))
    msg = e["msg"]
    if e["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling" + (f"; see {keys_hint} for the keys)"
                                                    if keys_hint else ")")
    elif e["type"] == "literal_error" and "expected" in e.get("ctx", {}):
        msg = f"got {e['input']!r}; allowed: {e['ctx']['expected']}"
    elif e["type"] == "missing":
        msg = "required key is missing"
    msg = msg.removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"'{loc or what}': {msg}{more}"
