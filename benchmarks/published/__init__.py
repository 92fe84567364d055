"""Published numbers as data: other papers' tables, with their citation, protocol and source.

    from benchmarks.published import load_published

    for table in load_published(protocol="lsvd256-lohinet"):
        print(table.citation, [(r.method, r.values["psnr"]) for r in table.rows])

Each ``*.toml`` file of this folder holds one published table, copied as printed (never measured
by this toolkit, never averaged or ranked with measured rows)::

    format_version = 1
    protocol = "lsvd256-lohinet"          # the evaluation protocol card the numbers were obtained under
    citation = "LoHi-Net, MICCAI 2026"
    source = "LoHi-Net, MICCAI 2026, LSVD image table"   # where in the paper (table / figure)
    macs_input = "3x224x224"              # optional: the input size of the published gmacs

    [[rows]]
    method = "LoHi-Net"
    values = { ssim = 0.798, psnr = 26.505, ciede2000 = 4.164, params_m = 1.38, gmacs = 14.07 }

``values`` keys are registered metric names (``python -m benchmarks.run --list-metrics``) or the
efficiency fields :data:`EFFICIENCY_FIELDS` (parameters in millions, GMACs at ``macs_input``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsvd.errors import LsvdError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["EFFICIENCY_FIELDS", "FORMAT_VERSION", "PUBLISHED_DIR", "PublishedError", "PublishedRow", "PublishedTable",
           "load_published", "read_published"]

#: The folder of the shipped published tables.
PUBLISHED_DIR = Path(__file__).resolve().parent
#: The version of the file format this module reads.
FORMAT_VERSION = 1
#: Efficiency fields besides the registered metrics: parameters in millions, GMACs at the file's ``macs_input``.
EFFICIENCY_FIELDS = ("params_m", "gmacs")
_REQUIRED = ("format_version", "protocol", "citation", "source", "rows")
_OPTIONAL = ("macs_input",)


class PublishedError(LsvdError, ValueError):
    """A published-numbers file that is missing a field, names an unknown metric or holds a non-number."""


@dataclass(frozen=True)
class PublishedRow:
    """One method's published values (``{metric: value}``; metrics as registered, plus :data:`EFFICIENCY_FIELDS`)."""

    method: str
    values: dict[str, float]


@dataclass(frozen=True)
class PublishedTable:
    """One published table: its rows and where they come from."""

    protocol: str
    citation: str
    source: str
    rows: tuple[PublishedRow, ...]
    macs_input: str | None = None
    path: Path | None = field(default=None, compare=False)


def _known_metrics() -> set[str]:
    from benchmarks.metrics.base import list_metrics

    return set(list_metrics()) | set(EFFICIENCY_FIELDS)


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PublishedError(f"{where}: expected a non-empty string '{key}', got {value!r}; add it (see "
                             "benchmarks/published/__init__.py for the fields)")
    return value.strip()


def read_published(path: str | Path) -> PublishedTable:
    """Read and check one published-numbers file.

    Raises:
        PublishedError: not TOML, another format version, a missing or unknown field, an unknown metric name,
            a value that is not a finite number, or a method listed twice; the message names the file and row.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise PublishedError(f"{path}: not valid TOML ({exc})") from None
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise PublishedError(f"{path}: missing required field(s) {missing}; expected {list(_REQUIRED)}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise PublishedError(f"{path}: unknown field(s) {unknown}; expected {list(_REQUIRED + _OPTIONAL)}")
    if raw["format_version"] != FORMAT_VERSION:
        raise PublishedError(f"{path}: format_version {raw['format_version']!r}, expected {FORMAT_VERSION}; "
                             "update the toolkit or the file")
    protocol, citation, source = (_text(raw, k, str(path)) for k in ("protocol", "citation", "source"))
    macs_input = _text(raw, "macs_input", str(path)) if "macs_input" in raw else None
    if not isinstance(raw["rows"], list) or not raw["rows"]:
        raise PublishedError(f"{path}: expected one or more [[rows]] tables, got {raw['rows']!r}")
    known = _known_metrics()
    rows: list[PublishedRow] = []
    for i, entry in enumerate(raw["rows"]):
        where = f"{path}: rows[{i}]"
        if not isinstance(entry, dict):
            raise PublishedError(f"{where}: expected a table with 'method' and 'values', got {entry!r}")
        method = _text(entry, "method", where)
        where = f"{path}: rows[{i}] ({method})"
        extra = sorted(set(entry) - {"method", "values"})
        if extra:
            raise PublishedError(f"{where}: unknown field(s) {extra}; a row has 'method' and 'values' only (a "
                                 "file-level field goes above the first [[rows]])")
        values = entry.get("values")
        if not isinstance(values, dict) or not values:
            raise PublishedError(f"{where}: expected 'values = {{metric = number, ...}}', got {values!r}")
        bad = sorted(set(values) - known)
        if bad:
            raise PublishedError(f"{where}: unknown metric(s) {bad}; expected registered metric names or "
                                 f"{list(EFFICIENCY_FIELDS)} (python -m benchmarks.run --list-metrics)")
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise PublishedError(f"{where}: {name} = {value!r} is not a finite number; write it as printed, "
                                     "e.g. 26.505")
        if "gmacs" in values and macs_input is None:
            raise PublishedError(f"{where}: gmacs given without the file's 'macs_input' (e.g. \"3x224x224\")")
        if any(r.method == method for r in rows):
            raise PublishedError(f"{where}: method {method!r} is listed twice")
        rows.append(PublishedRow(method, {k: float(v) for k, v in values.items()}))
    _check_protocol(protocol, path)
    return PublishedTable(protocol=protocol, citation=citation, source=source, rows=tuple(rows),
                          macs_input=macs_input, path=path)


def _check_protocol(name: str, path: Path) -> None:
    """An unknown protocol card name is an error once :mod:`benchmarks.protocols` exists."""
    try:
        from benchmarks.protocols import list_protocols
    except ImportError:  # pragma: no cover - toolkits without protocol cards
        return
    names = list(list_protocols())
    if name not in names:
        raise PublishedError(f"{path}: unknown protocol {name!r}; expected one of {names}")


def load_published(protocol: str | None = None, folder: str | Path | None = None) -> list[PublishedTable]:
    """Every published table of ``folder`` (default: the shipped ones), sorted by file name, checked.

    Args:
        protocol: only the tables of this protocol card (default: all).

    Raises:
        PublishedError: a file that does not pass :func:`read_published`'s checks.
    """
    root = Path(folder).expanduser() if folder is not None else PUBLISHED_DIR
    tables = [read_published(p) for p in sorted(root.glob("*.toml"))]
    return [t for t in tables if protocol is None or t.protocol == protocol]
