"""Scoring clips in worker processes gives the values of scoring them here; shared work is done once per clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.run import BenchmarkConfig, run_benchmark, workers_for
from benchmarks.stages import SHARED

METRICS = ["psnr", "aligned_psnr", "brisque", "warp_error"]


def _run(root: Path, results: Path, workers: int, bench_run: Path) -> dict:
    config = BenchmarkConfig(methods=["dcp", "selfsvd"], checkpoints={"selfsvd": str(bench_run)}, data=str(root),
                             metrics=METRICS, results=str(results), media=False, workers=workers, device="cpu")
    return run_benchmark(config, progress=False)


@pytest.fixture(scope="module")
def both(bench_root: Path, bench_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    here = _run(bench_root, tmp_path_factory.mktemp("here"), 1, bench_run)
    spawned = _run(bench_root, tmp_path_factory.mktemp("spawned"), 2, bench_run)
    return here, spawned


def test_worker_processes_give_the_values_of_one_process(both):
    here, spawned = both
    cols = ["method", "metric", "value", "n_clips", "n_frames", "status"]
    a = here["board"][cols].sort_values(["method", "metric"]).reset_index(drop=True)
    b = spawned["board"][cols].sort_values(["method", "metric"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    fa = pd.read_parquet(here["results"] / "frames.parquet")
    fb = pd.read_parquet(spawned["results"] / "frames.parquet")
    assert len(fa) > 0 and np.array_equal(fa["value"].to_numpy(), fb["value"].to_numpy())
    assert set(here["board"]["status"]) == {"ok"}


def test_stage_times_cover_every_stage_and_the_shared_work_once_per_clip(both):
    for out in both:
        rows = {(r["method"], r["stage"]): r for r in out["stage_times"].rows()}
        for method in ("identity", "dcp", "selfsvd"):
            for stage in ("method", "protocol", "flows", "write", *(f"metric:{m}" for m in METRICS)):
                assert rows[(method, stage)]["calls"] == 2, (method, stage)  # one per clip
                assert rows[(method, stage)]["wall_s"] >= 0
        assert rows[(SHARED, "decode")]["calls"] == 2  # read once per clip, not once per method
        assert rows[(SHARED, "flows")]["calls"] == 2  # the input flows of the warp error: once per clip


def test_workers_for(monkeypatch):
    monkeypatch.delenv("LSVD_WORKERS", raising=False)
    import torch

    threads = torch.get_num_threads()
    assert workers_for(BenchmarkConfig(methods=["dcp"], workers=3, device="cpu"), 10) == 3
    assert workers_for(BenchmarkConfig(methods=["dcp"], workers=3, device="cpu"), 2) == 2  # one per clip at most
    assert workers_for(BenchmarkConfig(methods=["dcp"], device="cpu"), 10) == min(threads, 10)
    assert workers_for(BenchmarkConfig(methods=["dcp"], workers=4, device="cuda"), 10) == 1
    assert workers_for(BenchmarkConfig(methods=["dcp"], workers=4, merge=True, device="cpu"), 10) == 1
    monkeypatch.setenv("LSVD_WORKERS", "5")
    assert workers_for(BenchmarkConfig(methods=["dcp"], device="cpu"), 10) == 5
