"""The toolkit's one hashing scheme: SHA-256 everywhere.

- :func:`file_sha256`: a file's full hex digest (weights, frames with ``--hash``, external outputs).
- :func:`digest`: a short hex digest of a JSON-able value (sorted keys; other values by ``str``),
  for every cache key, fingerprint and config hash. Equal values give equal digests on every
  machine; 16 hex digits (64 bits) unless a caller needs another length.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

__all__ = ["DIGEST_LENGTH", "digest", "file_sha256"]

DIGEST_LENGTH = 16


def digest(value: Any, length: int = DIGEST_LENGTH) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``value``'s canonical JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:length]


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The SHA-256 hex digest (64 digits) of a file's bytes, read ``chunk`` bytes at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
