"""What produced a result: the machine, library versions and the toolkit's code (for run records).

    from lsvd.provenance import provenance
    provenance()   # {"machine": {...}, "versions": {...}, "toolkit_version": "0.1.0",
                   #  "toolkit_source": "git checkout" | "package", "git_commit": "abc...-dirty" | None}

The toolkit's code is named by its git commit only when this package runs from a source checkout
of the toolkit (:func:`toolkit_checkout`); an installed copy is named by its version, and its
``git_commit`` is ``None``, even when it runs inside some other git repository (the user's
project), whose commit says nothing about the toolkit.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from lsvd.threads import usable_cpus

__all__ = ["git_commit", "machine", "provenance", "toolkit", "toolkit_checkout", "versions"]

_LIBRARIES = ("numpy", "torch", "numba", "opencv-python-headless", "av", "pyarrow", "pandas", "scikit-image",
              "safetensors", "datasets")
#: The distribution name in the toolkit's ``pyproject.toml`` (``[project] name``).
DISTRIBUTION = "lsvd-toolkit"
#: ``toolkit_source`` values: the code is a git checkout of the toolkit (named by ``git_commit``), or
#: an installed package (named by ``toolkit_version``).
SOURCE_CHECKOUT = "git checkout"
SOURCE_PACKAGE = "package"


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
    for name in (DISTRIBUTION, *_LIBRARIES):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git(args: list[str], cwd: Path) -> str | None:
    """``git args`` in ``cwd`` (stdout, stripped), or ``None`` if git is missing or fails.

    ``GIT_*`` variables are dropped, so a ``GIT_DIR`` set for another repository cannot redirect it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def _project_name(pyproject: Path) -> str | None:
    """``[project] name`` of a ``pyproject.toml``, or ``None`` (missing, unreadable, no name)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    try:
        name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return name if isinstance(name, str) else None


def toolkit_checkout() -> Path | None:
    """The toolkit's git work tree this package runs from, or ``None`` (an installed copy).

    A checkout is a git work tree whose top level holds this package (``<top>/lsvd``, with this
    file tracked by git) and a ``pyproject.toml`` naming the ``lsvd-toolkit`` project; editable
    installs run from one. A copy under ``site-packages`` or anywhere else (inside another git
    repository included) is not.
    """
    package = Path(__file__).resolve().parent
    top = _git(["rev-parse", "--show-toplevel"], package)
    if not top:
        return None
    top_path = Path(top).resolve()
    if package.parent != top_path:
        return None
    if _project_name(top_path / "pyproject.toml") != DISTRIBUTION:
        return None
    here = Path(__file__).resolve().relative_to(top_path).as_posix()
    if _git(["ls-files", "--error-unmatch", "--", here], top_path) is None:
        return None
    return top_path


def git_commit() -> str | None:
    """The toolkit checkout's HEAD commit (``-dirty`` when tracked files changed), else ``None``.

    ``None`` for an installed copy (see :func:`toolkit_checkout`), however the working directory
    or the package's location sits in another git repository.
    """
    top = toolkit_checkout()
    if top is None:
        return None
    commit = _git(["rev-parse", "HEAD"], top)
    if not commit:
        return None
    dirty = _git(["status", "--porcelain", "--untracked-files=no"], top)
    return commit + ("-dirty" if dirty else "")


def toolkit() -> dict[str, Any]:
    """Which toolkit code ran: ``toolkit_version`` (``lsvd.__version__``), ``toolkit_source`` and
    ``git_commit``.

    ``toolkit_source`` is ``"git checkout"`` when ``git_commit`` names the code (a source
    checkout), else ``"package"`` (``git_commit`` is ``None`` and ``toolkit_version`` names it).
    """
    from lsvd import __version__

    commit = git_commit()
    return {"toolkit_version": __version__, "toolkit_source": SOURCE_CHECKOUT if commit else SOURCE_PACKAGE,
            "git_commit": commit}


def provenance() -> dict[str, Any]:
    """``{"machine", "versions", "toolkit_version", "toolkit_source", "git_commit"}`` of this process."""
    return {"machine": machine(), "versions": versions(), **toolkit()}
