"""Shared fixtures of the benchmark tests: a tiny synthetic root with masks and a finished tiny training run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _restore_torch_determinism():
    """``train(deterministic=true)`` switches torch globally; keep other tests unaffected."""
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


@pytest.fixture(scope="session")
def bench_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m lsvd.prepare --synthetic --preset tiny --masks``: 2 train + 2 test clips, 64x96."""
    from lsvd.prepare import main

    root = tmp_path_factory.mktemp("bench-root")
    assert main(["--synthetic", "--preset", "tiny", "--masks", "--root", str(root), "--no-progress"]) == 0
    return root


@pytest.fixture(scope="session")
def bench_run(bench_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny ``lsvd.train`` run on :func:`bench_root`."""
    from lsvd.train.config import load_config
    from lsvd.train.loop import train

    run = tmp_path_factory.mktemp("bench-runs") / "tiny"
    before = torch.are_deterministic_algorithms_enabled()
    try:
        train(load_config("tiny", data=str(bench_root), deterministic=True), run, progress=False)
    finally:
        torch.use_deterministic_algorithms(before)
    return run
