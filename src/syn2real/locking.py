"""One process owns a folder: an advisory lock file with who holds it.

``with folder_lock(path, "syn2real run"):`` takes an exclusive ``flock`` on
``path/.syn2real.lock`` and writes the holder (pid, host, command, start time) into it. A
second process gets one :class:`FolderInUse` line naming the holder. The kernel drops the
lock when its process ends, however it ends (kill -9 included), so a lock file left behind
by a dead process is stale by construction and is simply taken over.

Advisory locks work on local file systems and on NFSv4; on other network file systems
``flock`` may be local to one machine (noted in the README).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError

LOCK_NAME = ".syn2real.lock"


class FolderInUse(UserError):
    """Another process holds the folder's lock."""


@contextmanager
def folder_lock(folder: str | Path, what: str) -> Iterator[Path]:
    """Hold the lock of ``folder`` (created if needed) for the ``with`` block."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderInUse(f"{folder}: in use by {_holder(path)}. Fix: wait for it to "
                              "finish (or stop it), or choose another folder") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock; the file stays (its content is only a note)


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return (f"{info.get('what', 'syn2real')} (pid {info.get('pid')} on {info.get('host')} "
            f"since {info.get('since')})")
