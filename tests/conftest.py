"""Shared fixtures: tiny generated LSVD trees, videos and the real clips' location."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from lsvd.io.images import write_png
from lsvd.io.video import write_video

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Commands called in-process (main([...])) set torch's threads (lsvd.threads); keep the session's count.
os.environ.setdefault("LSVD_THREADS", str(__import__("torch").get_num_threads()))
# Benchmarks score in this process (worker processes cost seconds to start); tests/benchmarks/test_workers.py
# checks that worker processes give the same values.
os.environ.setdefault("LSVD_WORKERS", "1")

#: The real DeSmoke-LAP clips (never committed): ``$LSVD_SHARED_DATA/desmoke-lap``, by default
#: ``../shared/data/desmoke-lap`` next to the repository.
SHARED_DATA = Path(os.environ.get("LSVD_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
REAL_CLIPS = SHARED_DATA / "desmoke-lap"


def smooth_frames(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Deterministic, textured, slowly moving uint8 RGB frames (n, H, W, 3)."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random((max(2, height // 4), max(2, width // 4), 3)).astype(np.float32),
                      (width + n, height), interpolation=cv2.INTER_CUBIC)
    frames = [np.clip(base[:, t:t + width] * 200 + 30, 0, 255) for t in range(n)]
    return np.stack(frames).astype(np.uint8)


def make_lsvd_tree(root: Path, clips: dict[str, int] | None = None, *, size: tuple[int, int] = (32, 48),
                   masks: bool = False, clean: bool = False, test_pro: bool = False) -> Path:
    """Write an official-layout tree: ``clips`` maps "split/name" to its frame count."""
    clips = clips or {"train/clip_a": 12, "train/clip_b": 12, "test/clip_c": 12}
    for k, (key, n) in enumerate(sorted(clips.items())):
        split, name = key.split("/")
        frames = smooth_frames(n, *size, seed=k)
        for i, frame in enumerate(frames):
            p = root / f"LSVD_{split}" / name / f"{i:08d}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            write_png(p, frame)
            if masks:
                m = root / f"LSVD_{split}_mask" / name / f"{i:08d}.png"
                m.parent.mkdir(parents=True, exist_ok=True)
                mask = np.zeros((size[0] // 4, size[1] // 4), np.uint8)
                mask[: size[0] // 8] = 255
                write_png(m, mask)
            if clean:
                c = root / f"LSVD_{split}_clean" / name / f"{i:08d}.png"
                c.parent.mkdir(parents=True, exist_ok=True)
                write_png(c, 255 - frame)
        if test_pro and split == "test":
            p = root / "LSVD_test_pro" / name / f"{0:08d}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            write_png(p, frames[0])
    return root


@pytest.fixture
def lsvd_tree(tmp_path: Path) -> Path:
    return make_lsvd_tree(tmp_path / "LSVD", masks=True, test_pro=True)


def make_video(path: Path, n: int = 20, size: tuple[int, int] = (48, 64), fps: float = 10.0, seed: int = 0) -> Path:
    write_video(path, smooth_frames(n, *size, seed=seed), fps=fps)
    return path


@pytest.fixture(scope="session")
def real_clips() -> Path:
    if not (REAL_CLIPS / "Input").is_dir():
        pytest.skip(f"real clips not found at {REAL_CLIPS} (the shared data folder is absent)")
    return REAL_CLIPS


@pytest.fixture(scope="session")
def tiny_synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m lsvd.prepare --synthetic --data-preset tiny --masks`` once per session: 2 train + 2 test clips,
    12 frames of 64x96, with masks. Tests must not modify it."""
    from lsvd.prepare import main

    root = tmp_path_factory.mktemp("tiny-synthetic-root")
    assert main(["--synthetic", "--data-preset", "tiny", "--masks", "--root", str(root), "--no-progress"]) == 0
    return root


@pytest.fixture(scope="session")
def tiny_run(tiny_synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny ``lsvd.train`` run on :func:`tiny_synthetic_root` (deterministic)."""
    from lsvd.train.config import load_config
    from lsvd.train.loop import train

    run = tmp_path_factory.mktemp("tiny-runs") / "tiny"
    train(load_config("tiny", data=str(tiny_synthetic_root), deterministic=True), run, progress=False)
    return run


def run_benchmark_cli(root: Path, results: Path, *methods: str, media: bool = False, metrics: str = "brisque") -> int:
    """``python -m benchmarks.run`` with ``methods`` on ``root`` into ``results`` (fast defaults for tests)."""
    from benchmarks.run import main

    args = [a for m in methods for a in ("--method", m)]
    return main([*args, "--root", str(root), "--output", str(results), "--metrics", metrics, "--no-progress",
                 *([] if media else ["--no-media"])])
