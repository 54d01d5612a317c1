"""Worker processes that leave Ctrl-C to their parent.

A terminal's Ctrl-C reaches the whole process group. Workers that get it raise
``KeyboardInterrupt`` wherever they are and print traceback fragments; the parent is the one
that should stop them (and say what finished). :func:`started_without_sigint` ignores SIGINT
while child processes are started: an ignored signal stays ignored across ``exec``, and a
Python started that way keeps ignoring it, so a child never sees Ctrl-C, even while it is
still starting up (a worker initialiser that ignores it comes too late for that).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def started_without_sigint() -> Iterator[None]:
    """Processes started inside the block ignore SIGINT (no-op outside the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
