"""Shared fixtures of the training tests: a tiny synthetic dataset root (with masks) and a finished tiny run."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsvd.train.config import TrainConfig, load_config


@pytest.fixture(scope="session")
def tiny_root(tiny_synthetic_root: Path) -> Path:
    """``python -m lsvd.prepare --synthetic --data-preset tiny --masks``: 2 train + 2 test clips, 12 frames, 64x96."""
    return tiny_synthetic_root


def tiny_config(root: Path, **values) -> TrainConfig:
    """The ``tiny`` preset on ``root`` (64x64 crops fit the 64x96 tiny frames), deterministic."""
    return load_config("tiny", data=str(root), deterministic=True, **values)


@pytest.fixture(scope="session")
def finished_run(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete 4-iteration tiny run (checkpoints at 2 and 4), trained straight through."""
    from lsvd.train.loop import train

    run = tmp_path_factory.mktemp("runs") / "straight"
    summary = train(tiny_config(tiny_root), run, progress=False)
    assert summary["iterations"] == 4
    return run
