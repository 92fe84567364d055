"""Shared fixture of the report tests: a real benchmark results folder on the tiny synthetic data."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Fast metrics covering every reference kind (ps_frame, clean, none, clip-level).
REPORT_METRICS = ["aligned_psnr", "aligned_ssim", "pi", "fade", "psnr", "ssim", "warp_error"]


@pytest.fixture(scope="session")
def tiny_results(tiny_synthetic_root: Path, tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m benchmarks.run`` of identity, DCP, CLAHE, SelfSVD and one ablation (both from the tiny
    run) on the tiny synthetic root: leaderboard, frames, timing, methods, media and run logs.
    Read-only for tests: copy it before changing anything."""
    from benchmarks.run import run_benchmark

    results = tmp_path_factory.mktemp("tiny-results") / "results"
    out = run_benchmark(["identity", "dcp", "clahe", "selfsvd", "selfsvd_no_mask"], data=str(tiny_synthetic_root),
                        metrics=REPORT_METRICS, results=str(results), progress=False,
                        checkpoints={"selfsvd": str(tiny_run), "selfsvd_no_mask": str(tiny_run)})
    assert not out["failures"], out["failures"]
    return results
