"""Headless Chromium for the report page tests (Debian's ``chromium``; CI installs it)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest


@functools.cache
def _working_chromium() -> tuple[str | None, str]:
    """``(executable, "")`` when a headless Chromium runs here, else ``(None, why)``."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return None, "Chromium not installed (chromium / chromium-browser not on PATH)"
    try:
        subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "about:blank"],
                       capture_output=True, timeout=120, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{exe} does not run headless here ({type(exc).__name__})"
    return exe, ""


def chromium() -> str:
    """The Chromium executable, or skip (fail when ``LSVD_REQUIRE_CHROMIUM=1``, as in CI)."""
    exe, why = _working_chromium()
    if exe is None:
        msg = why + ": browser checks of the page skipped"
        if os.environ.get("LSVD_REQUIRE_CHROMIUM") == "1":
            pytest.fail(msg + "; LSVD_REQUIRE_CHROMIUM=1 requires it")
        pytest.skip(msg)
    return exe


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
           "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def html_attrs(dom: str) -> dict[str, str]:
    """The attributes of the ``<html>`` element of a dumped DOM."""
    m = re.search(r"<html\b([^>]*)>", dom)
    assert m, dom[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))


def dump_dom(tmp_path: Path, page: Path, hash_: str = "") -> dict[str, str]:
    out = run_chromium(tmp_path, "--virtual-time-budget=10000", "--autoplay-policy=no-user-gesture-required",
                       "--dump-dom", page.resolve().as_uri() + hash_)
    return html_attrs(out.stdout)
