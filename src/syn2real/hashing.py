"""The one stable hash that names cached artefacts: SHA-256 of canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces (non-JSON values by ``str``)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def stable_hash(obj: Any, digits: int = 16, extra: Iterable[str] = ()) -> str:
    """First ``digits`` hex digits of SHA-256 over ``canonical_json(obj)`` then ``extra``."""
    h = hashlib.sha256(canonical_json(obj).encode())
    for part in extra:
        h.update(part.encode())
    return h.hexdigest()[:digits]
