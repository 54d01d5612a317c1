"""The exception a user can fix: the CLI prints it as one line (what, where, how to fix).

Everything else that escapes a command is an internal error: the CLI says so in one line and
shows the traceback with ``syn2real --debug ...`` (or ``SYN2REAL_DEBUG=1``).
"""

from __future__ import annotations

from pathlib import Path


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
