"""Shared fixtures of the benchmark tests: a tiny synthetic root with masks and a finished tiny training run."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bench_root(tiny_synthetic_root: Path) -> Path:
    """``python -m lsvd.prepare --synthetic --data-preset tiny --masks``: 2 train + 2 test clips, 64x96."""
    return tiny_synthetic_root


@pytest.fixture(scope="session")
def bench_run(tiny_run: Path) -> Path:
    """A finished tiny ``lsvd.train`` run on :func:`bench_root`."""
    return tiny_run
