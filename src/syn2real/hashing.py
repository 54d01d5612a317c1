"""The hashes of syn2real: SHA-256 of canonical JSON (names cached artefacts) and of a
file's bytes (checks artefacts against what was recorded when they were written)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces (non-JSON values by ``str``)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def stable_hash(obj: Any, digits: int = 16, extra: Iterable[str] = ()) -> str:
    """First ``digits`` hex digits of SHA-256 over ``canonical_json(obj)`` then ``extra``."""
    h = hashlib.sha256(canonical_json(obj).encode())
    for part in extra:
        h.update(part.encode())
    return h.hexdigest()[:digits]
