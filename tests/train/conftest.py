"""Shared fixtures of the training tests: a tiny synthetic dataset root (with masks) and a finished tiny run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lsvd.train.config import TrainConfig, load_config


@pytest.fixture(autouse=True)
def _restore_torch_determinism():
    """``train(deterministic=true)`` switches torch globally; keep other tests unaffected."""
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m lsvd.prepare --synthetic --preset tiny --masks``: 2 train + 2 test clips, 12 frames, 64x96."""
    from lsvd.prepare import main

    root = tmp_path_factory.mktemp("tiny-root")
    assert main(["--synthetic", "--preset", "tiny", "--masks", "--root", str(root), "--no-progress"]) == 0
    return root


def tiny_config(root: Path, **values) -> TrainConfig:
    """The ``tiny`` preset on ``root`` (64x64 crops fit the 64x96 tiny frames), deterministic."""
    return load_config("tiny", data=str(root), deterministic=True, **values)


@pytest.fixture(scope="session")
def finished_run(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete 4-iteration tiny run (checkpoints at 2 and 4), trained straight through."""
    from lsvd.train.loop import train

    run = tmp_path_factory.mktemp("runs") / "straight"
    before = torch.are_deterministic_algorithms_enabled()
    try:
        summary = train(tiny_config(tiny_root), run, progress=False)
    finally:
        torch.use_deterministic_algorithms(before)
    assert summary["iterations"] == 4
    return run
