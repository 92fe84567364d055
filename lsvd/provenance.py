"""What produced a result: the machine, library versions and the git commit (for run records).

    from lsvd.provenance import provenance
    provenance()   # {"machine": {...}, "versions": {...}, "git_commit": "abc...-dirty" | None}
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from lsvd.threads import usable_cpus

_LIBRARIES = ("numpy", "torch", "numba", "opencv-python-headless", "av", "pyarrow", "pandas", "scikit-image",
              "safetensors", "datasets")


def _torch_threads() -> int | None:
    """torch's intra-op thread count, when torch is loaded (results depend on it)."""
    import sys

    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


def machine() -> dict[str, Any]:
    """Describe the machine: CPU model, usable cores, memory, OS, Python."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu": cpu,
        "cores_usable": usable_cpus(),
        "torch_threads": _torch_threads(),
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str | None]:
    """Versions of the toolkit and the libraries that matter for speed."""
    out: dict[str, str | None] = {}
    for name in ("lsvd-toolkit", *_LIBRARIES):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    """The repository's HEAD commit (with ``-dirty`` when the tree has changes), if any."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def provenance() -> dict[str, Any]:
    """``{"machine", "versions", "git_commit"}`` of this process (see the functions above)."""
    return {"machine": machine(), "versions": versions(), "git_commit": git_commit()}
