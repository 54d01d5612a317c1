"""Files that appear whole or not at all: write to a temporary name in the same folder, fsync,
rename. The temporary file is removed when writing fails, and the result gets the usual
permissions (``0666`` less the umask, not ``mkstemp``'s private ``0600``), so collaborators on
shared storage can read results.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import full_disk_reported


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``.

    Parameters
    ----------
    path : path
        Final name; its folder is created if needed.
    mode : {"wb", "w"}
        Binary or text.
    **kwargs
        Passed to :func:`os.fdopen` (e.g. ``newline=""`` for CSV).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # name the file asked for, not the hidden temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    with full_disk_reported(path.parent):
        try:
            os.fchmod(fd, 0o666 & ~_umask())
            with os.fdopen(fd, mode, **kwargs) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(path)) from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def json_safe(v: Any) -> Any:
    """A value JSON can hold: numpy scalars as Python numbers, tuples as lists, NaN and
    infinities as ``None`` (recursively through dicts and lists)."""
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [json_safe(x) for x in v]
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (bytes or text, UTF-8) to ``path`` atomically; returns the path."""
    binary = isinstance(data, bytes)
    with atomic_open(path, "wb" if binary else "w", **({} if binary else
                                                        {"encoding": "utf-8"})) as fh:
        fh.write(data)
    return Path(path)
