"""Record performance figures with the machine, library versions, commit and command.

Every script in ``benchmarks/perf`` measures our code and its reference in the same run and
calls :func:`record`, which writes ``benchmarks/perf/results/<name>.json`` (atomically).
"""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path
from typing import Any

from lsvd.io.atomic import write_json
from lsvd.provenance import git_commit, machine, versions

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def record(name: str, figures: dict[str, Any], *, notes: str = "") -> Path:
    """Write ``figures`` with provenance to ``results/<name>.json`` and return the path."""
    path = RESULTS_DIR / f"{name}.json"
    write_json(
        path,
        {
            "name": name,
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "recorded_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": versions(),
            "git_commit": git_commit(),
            "figures": figures,
            "notes": notes,
        },
    )
    return path
