"""lsvd.provenance: the toolkit's commit only from a toolkit checkout, its version otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lsvd
from lsvd import provenance

PACKAGE = Path(lsvd.__file__).resolve().parent
_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "PYTHONPATH"}


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c",
                           "commit.gpgsign=false", *args], cwd=cwd, env=_ENV, capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def _user_repo(tmp_path: Path, package_at: str, name: str, track: bool) -> tuple[Path, Path, str]:
    """A git repository of project ``name`` with a copy of the lsvd package at ``package_at``, committed
    when ``track``."""
    repo = tmp_path / "my-project"
    repo.mkdir()
    _git("init", "-q", cwd=repo)
    (repo / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1.0"\n')
    shutil.copytree(PACKAGE, repo / package_at / "lsvd", ignore=shutil.ignore_patterns("__pycache__"))
    _git("add", "-A" if track else "pyproject.toml", cwd=repo)
    _git("commit", "-q", "-m", "my work", cwd=repo)
    return repo, repo / package_at, _git("rev-parse", "HEAD", cwd=repo)


@pytest.mark.parametrize(("package_at", "name", "track"), [
    (".venv/lib/site-packages", "my-project", True),  # installed into a venv inside the user's repository
    (".", "my-project", True),  # copied into the user's repository
    (".venv/lib/site-packages", "lsvd-toolkit", True),  # installed (not editable) inside a toolkit checkout
    (".", "lsvd-toolkit", False),  # an untracked copy at the top of a toolkit checkout
], ids=["venv-in-user-repo", "vendored", "venv-in-toolkit-checkout", "untracked-copy"])
def test_installed_copy_records_its_version_not_the_enclosing_commit(tmp_path, package_at, name, track):
    repo, site, enclosing_commit = _user_repo(tmp_path, package_at, name, track)
    code = ("import json, lsvd, lsvd.provenance as p; "
            "print(json.dumps({'file': lsvd.__file__, 'toolkit': p.toolkit(), 'prov': p.provenance()}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, env={**_ENV, "PYTHONPATH": str(site)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).resolve().is_relative_to(repo.resolve())  # the copy ran, not this checkout
    assert out["toolkit"] == {"toolkit_version": lsvd.__version__, "toolkit_source": provenance.SOURCE_PACKAGE,
                              "git_commit": None}
    assert {k: out["prov"][k] for k in out["toolkit"]} == out["toolkit"]
    assert enclosing_commit not in done.stdout


def test_source_checkout_records_its_commit():
    top = PACKAGE.parent
    try:
        heads = {_git("rev-parse", "HEAD", cwd=top)}
        tracked = _git("ls-files", "lsvd/provenance.py", cwd=top)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the tests do not run from a git checkout of the toolkit")
    if not tracked:
        pytest.skip("lsvd/provenance.py is not tracked in this work tree")
    assert provenance.toolkit_checkout() == top
    info = provenance.provenance()
    heads.add(_git("rev-parse", "HEAD", cwd=top))  # someone may commit meanwhile
    assert info["toolkit_source"] == provenance.SOURCE_CHECKOUT and info["toolkit_version"] == lsvd.__version__
    assert info["git_commit"].removesuffix("-dirty") in heads
    assert set(info) == {"machine", "versions", "toolkit_version", "toolkit_source", "git_commit"}


def test_project_name(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[build-system]\nname = "not-this"\n\n[project]\nkeywords = ["a",\n  "b"]\nname = "lsvd-toolkit"\n')
    assert provenance._project_name(p) == provenance.DISTRIBUTION
    p.write_text('[tool.x]\nname = "lsvd-toolkit"\n')
    assert provenance._project_name(p) is None
    assert provenance._project_name(tmp_path / "missing.toml") is None
