"""Shared fixtures of the benchmark tests: a tiny synthetic root with masks and a finished tiny training run."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bench_root(tiny_synthetic_root: Path) -> Path:
    """``python -m lsvd.prepare --synthetic --preset tiny --masks``: 2 train + 2 test clips, 64x96."""
    return tiny_synthetic_root


@pytest.fixture(scope="session")
def bench_run(bench_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny ``lsvd.train`` run on :func:`bench_root`."""
    from lsvd.train.config import load_config
    from lsvd.train.loop import train

    run = tmp_path_factory.mktemp("bench-runs") / "tiny"
    train(load_config("tiny", data=str(bench_root), deterministic=True), run, progress=False)
    return run
