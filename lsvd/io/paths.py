"""Path safety: names taken from manifests become folder names, and folders are only ever
written or deleted inside the toolkit's own roots.

A dataset root or results folder may come from someone else, so a ``clip_id`` such as
``../../victim`` or ``/home/me`` must never reach :func:`shutil.rmtree` or a write.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lsvd.errors import LsvdError

__all__ = ["UnsafePathError", "check_name", "inside", "is_under", "is_within", "unsafe_name_reason"]

#: Characters a safe name may not contain: path separators, a drive colon, control characters.
_UNSAFE = re.compile(r"[/\\:\x00-\x1f\x7f]")
MAX_NAME_LENGTH = 200


class UnsafePathError(LsvdError, ValueError):
    """A name or path that would lead outside the folder it must stay in."""


def unsafe_name_reason(name: object) -> str | None:
    """Why ``name`` cannot be one folder or file name, or ``None`` when it can.

    A safe name is a non-empty string of at most 200 characters, without ``/``, ``\\``, ``:`` or
    control characters, and not ``.`` or ``..``.
    """
    if not isinstance(name, str) or not name:
        return "empty or not a string"
    if name in (".", ".."):
        return f"{name!r} names a folder, not an item in it"
    if m := _UNSAFE.search(name):
        return f"contains {m.group()!r} (path separators, ':' and control characters are not allowed)"
    if len(name) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} characters"
    return None


def check_name(name: object, what: str) -> str:
    """``name`` when it is safe (see :func:`unsafe_name_reason`), else :class:`UnsafePathError`."""
    if (why := unsafe_name_reason(name)) is not None:
        raise UnsafePathError(f"{what} {name!r} is not a safe name: {why}; expected one plain file or folder name")
    return name  # type: ignore[return-value]


def is_within(path: str | os.PathLike[str], base: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``base`` or lies under it, after resolving ``..`` and symbolic links."""
    p, b = Path(path).resolve(), Path(base).resolve()
    return p == b or b in p.parents


def inside(base: str | os.PathLike[str], *parts: str) -> Path:
    """``base / parts...`` after checking that it stays inside ``base`` (:class:`UnsafePathError` if not).

    Use it for every folder the toolkit creates, replaces or deletes from names it did not choose.
    """
    path = Path(base).joinpath(*parts)
    if not is_within(path, base):
        raise UnsafePathError(f"{path} lies outside {base}; refusing to write or delete it "
                              f"(from the names {list(parts)})")
    return path


def is_under(path: str, base: str) -> bool:
    """Whether the normalised path string ``path`` is ``base`` or lies under it (lexical: no file system access)."""
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)
