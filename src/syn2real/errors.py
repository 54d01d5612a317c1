"""The exception a user can fix: the CLI prints it as one line (what, where, how to fix).

Everything else that escapes a command is an internal error: the CLI says so in one line and
shows the traceback with ``syn2real --debug ...`` (or ``SYN2REAL_DEBUG=1``).
"""

from __future__ import annotations

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
