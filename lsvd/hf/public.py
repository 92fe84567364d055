"""What a shared copy of a root must not reveal: local paths and the indexing machine's bookkeeping."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pandas as pd

from lsvd.data.manifest import Manifest

__all__ = ["HUB_BOOKKEEPING_COLUMNS", "HUB_DROPPED_COLUMNS", "HUB_PATH_COLUMNS", "public_json", "public_manifest",
           "public_text"]

#: Manifest columns of local paths, left out of a Hub folder (its pixels are embedded instead).
HUB_PATH_COLUMNS = ("path", "mask_path", "clean_path", "density_path", "metric_ref_path")
#: Bookkeeping of the machine that indexed the sources (file times, input fingerprints), also left out.
HUB_BOOKKEEPING_COLUMNS = ("mtime_ns", "fingerprint")
HUB_DROPPED_COLUMNS = HUB_PATH_COLUMNS + HUB_BOOKKEEPING_COLUMNS

# an absolute local path: POSIX (not inside a URL or a relative path), file://, drive letter or UNC;
# it may hold spaces, and ends at a line break or one of , ; # ? : " ' ` | < > ( ) [ ]
_PATH_CHARS = r"[^\n\r\t,;#?:\"'`|<>()\[\]]"
_LOCAL_PATH = re.compile(r"(?:\bfile://|(?<![\w.:/\\~-]))(?:/|[A-Za-z]:[\\/]|\\\\)(?! )" + _PATH_CHARS + "+")


def public_text(text: str) -> str:
    """``text`` with every absolute local path replaced by its last component (file or folder name).

    ``/home/me/videos/case12.mp4#frames=0-99`` becomes ``case12.mp4#frames=0-99``; URLs,
    relative paths and other text are kept. Used on everything a Hub folder takes from a manifest.
    """
    def name(match: re.Match[str]) -> str:
        path = match.group()
        path = path[len("file://"):] if path.startswith("file://") else path
        return re.split(r"[\\/]", path.rstrip("/\\"))[-1]

    return _LOCAL_PATH.sub(name, text)


def public_json(value: Any) -> Any:
    """A JSON value with :func:`public_text` applied to every string (keys included)."""
    if isinstance(value, str):
        return public_text(value)
    if isinstance(value, dict):
        return {public_text(str(k)): public_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [public_json(v) for v in value]
    return value


def public_manifest(manifest: Manifest) -> Manifest:
    """``manifest`` with :func:`public_text` applied to its info and to every text cell of its tables."""
    def public(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for col in df.columns:
            if pd.api.types.is_object_dtype(df[col]) or pd.api.types.is_string_dtype(df[col]):
                df[col] = df[col].map(lambda v: public_text(v) if isinstance(v, str) else v)
        return df

    return dataclasses.replace(manifest, info=public_json(manifest.info), clips=public(manifest.clips),
                               frames=public(manifest.frames))
