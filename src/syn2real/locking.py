"""One process owns a folder: an advisory lock file with who holds it.

``with folder_lock(path, "syn2real run"):`` takes an exclusive ``flock`` on
``path/.syn2real.lock`` and writes the holder (pid, host, command, start time) into it. A
second process gets one :class:`FolderInUse` line naming the holder. The kernel drops the
lock when its process ends, however it ends (kill -9 included), so a lock file left behind
by a dead process is stale by construction and is simply taken over.

Advisory locks work on local file systems and on NFSv4; on other network file systems
``flock`` may be local to one machine (noted in the README). Where the file system refuses
``flock`` altogether (Lustre mounted without ``-o flock``, NFSv3 without its lock daemon:
``ENOSYS``, ``ENOLCK``, ``EOPNOTSUPP``, ``EINVAL``), the lock is a file created with
``O_EXCL`` (atomic on those file systems too), ``path/.syn2real.lock.held``, holding the same
note and removed when the block ends. A process that dies without removing it leaves it
behind: on the host that wrote it, a holder whose pid no longer runs is stale and taken
over; a holder on another host is named, with the command that clears it.
"""

from __future__ import annotations

import errno
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
#: The O_EXCL lock file where the file system refuses flock.
HELD_NAME = LOCK_NAME + ".held"
#: flock errors that mean "this file system does not lock", not "someone holds it".
NO_FLOCK = (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL)


class FolderInUse(UserError):
    """Another process holds the folder's lock."""


@contextmanager
def folder_lock(folder: str | Path, what: str, name: str = LOCK_NAME,
                wait: float = 0.0) -> Iterator[Path]:
    """Hold the lock ``name`` of ``folder`` (created if needed) for the ``with`` block.

    ``wait``: seconds to keep trying while another process holds it (0: fail at once with
    :class:`FolderInUse`); for short critical sections such as a manifest update."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    deadline = time.monotonic() + wait
    while True:
        try:
            with _held(folder, path, what) as lock:
                yield lock
            return
        except _Busy as busy:
            if time.monotonic() >= deadline:
                raise FolderInUse(str(busy)) from None
            time.sleep(0.05)


class _Busy(Exception):
    """The lock is held by another process (the message names it)."""


@contextmanager
def _held(folder: Path, path: Path, what: str) -> Iterator[Path]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    held = None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _Busy(f"{folder}: in use by {_holder(path)}. Fix: wait for it to "
                        "finish (or stop it), or choose another folder") from None
        except OSError as exc:
            if exc.errno not in NO_FLOCK:
                raise
            held = _exclusive_file(folder, what, path.with_name(path.name + ".held"))
        info = _note(what)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock; the file stays (its content is only a note)
        if held is not None:
            held.unlink(missing_ok=True)


def _note(what: str) -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}


def _exclusive_file(folder: Path, what: str, held: Path | None = None) -> Path:
    """The lock as a file created with O_EXCL (file systems without flock); a stale one
    left by a dead process of this host is taken over."""
    held = folder / HELD_NAME if held is None else held
    for _ in range(2):
        try:
            fd = os.open(held, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            info = _read(held)
            if info.get("host") == socket.gethostname() and not _alive(info.get("pid")):
                held.unlink(missing_ok=True)  # its process is gone: stale, take it over
                continue
            where = ("" if info.get("host") == socket.gethostname() else
                     f"; if that process is gone, remove {held} (this file system has no "
                     "flock, so a lock of a process that died on another host stays)")
            raise _Busy(f"{folder}: in use by {_holder(held)}. Fix: wait for it to "
                        f"finish (or stop it), or choose another folder{where}") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(_note(what)))
        return held
    raise _Busy(f"{folder}: another process took the lock at the same moment. Fix: "
                "run one command per folder")


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


def _read(path: Path) -> dict:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _holder(path: Path) -> str:
    info = _read(path)
    if not info:
        return "another process"
    return (f"{info.get('what', 'syn2real')} (pid {info.get('pid')} on {info.get('host')} "
            f"since {info.get('since')})")
