"""Reading weights files safely: every checkpoint and weights file of the toolkit is read here.

:func:`load_torch_file` (always ``torch.load(weights_only=True)``) and :func:`load_safetensors_file`
turn a file that is empty, truncated, of another kind, or a pickle that would build anything but
tensors and plain values (so could run code; it is refused before anything in it runs) into one
:class:`CheckpointError` whose message names the file, what was expected, what was found and what
to do.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from lsvd.errors import LsvdError

__all__ = ["REPLACE_ADVICE", "CheckpointError", "load_safetensors_file", "load_torch_file", "reading"]

REPLACE_ADVICE = "replace it with a complete copy (a copy or download may have been cut short)"
#: Lines of torch's weights-only error that say nothing about the file itself.
_TORCH_BOILERPLATE = ("weights only load failed", "please file an issue", "check the documentation", "re-running")


class CheckpointError(LsvdError, ValueError):
    """A checkpoint or weights file cannot be used: empty, truncated, of another kind, or unsafe to unpickle.

    ``path`` is the file (``None`` when not one file) and ``reason`` what was found, in a few words.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.reason = reason


def first_line(text: str) -> str:
    """The informative line of a library error (torch's weights-only boilerplate dropped), at most 160 characters."""
    for line in text.splitlines():
        line = line.strip()
        if "WeightsUnpickler error:" in line:
            line = line.split("WeightsUnpickler error:", 1)[1].strip()
        elif line.lower().startswith(_TORCH_BOILERPLATE):
            continue
        if line:
            return line[:160]
    return ""


def _unreadable(path: Path, exc: Exception, kind: str, expected: str, advice: str) -> CheckpointError:
    """The :class:`CheckpointError` for ``exc``, raised by the ``kind`` (torch | safetensors) reader of ``path``."""
    detail = first_line(str(exc)).rstrip(".") or type(exc).__name__
    size = path.stat().st_size
    if size == 0:
        found = "an empty file (0 bytes)"
    elif kind == "torch" and isinstance(exc, pickle.UnpicklingError) and "global" in str(exc).lower():
        found = (f"a pickle of objects other than tensors and plain values ({detail}), which could run code when "
                 "loaded; torch.load(weights_only=True) refused it and nothing in the file was run")
        advice = ("use a file of plain tensors instead: if you trust where this one came from, re-save only its "
                  "weights (torch.save(model.state_dict(), PATH)) and give that file")
    elif kind == "torch" and not zipfile.is_zipfile(path):
        found = f"no complete torch.save archive ({size} bytes): the file is truncated or not a PyTorch file"
    elif kind == "safetensors":
        detail = detail.removeprefix("Error while deserializing header: ")
        found = f"a broken safetensors header ({detail}; {size} bytes): the file is truncated or of another kind"
    else:
        found = f"a file {kind} cannot read ({detail})"
    return CheckpointError(f"{path}: expected {expected}, found {found}; {advice}", path=path, reason=found)


@contextlib.contextmanager
def reading(path: str | os.PathLike[str], kind: str, expected: str, advice: str) -> Iterator[Path]:
    """Yield ``path``; turn what the ``kind`` reader raises inside into a :class:`CheckpointError`."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file; expected {expected}")
    try:
        yield p
    except Exception as exc:  # torch.load and safetensors raise many types for a file they cannot read
        raise _unreadable(p, exc, kind, expected, advice) from exc


def load_torch_file(path: str | os.PathLike[str], *, expected: str, advice: str = REPLACE_ADVICE,
                    map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``: only tensors and plain Python values are ever built.

    Args:
        path: the file.
        expected: what it should be, for the error message ("PWC-Net weights (...)").
        advice: what to do when it cannot be read.
        map_location: where the tensors go.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: empty, truncated, not a ``torch.save`` file, or a pickle that would build other
            objects (refused before any of it runs).
    """
    with reading(path, "torch", expected, advice) as p:
        return torch.load(p, map_location=map_location, weights_only=True)


def load_safetensors_file(path: str | os.PathLike[str], *, expected: str,
                          advice: str = REPLACE_ADVICE) -> dict[str, torch.Tensor]:
    """All tensors of a ``.safetensors`` file, on CPU (errors as :func:`load_torch_file`)."""
    from safetensors.torch import load_file

    with reading(path, "safetensors", expected, advice) as p:
        return load_file(str(p))
