"""The exception a user can fix: the CLI prints it as one line (what, where, how to fix).

Everything else that escapes a command is an internal error: the CLI says so in one line and
shows the traceback with ``syn2real --debug ...`` (or ``SYN2REAL_DEBUG=1``).
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input, a missing file or a missing optional dependency; the message says the fix."""
