"""The metric speed script runs (a smoke check of ``benchmarks/perf/metrics.py``; references skipped)."""

from __future__ import annotations

import math

from benchmarks.perf import metrics


def test_metrics_quick_runs_without_references() -> None:
    figures = metrics.main(["--quick", "--no-record", "--no-reference"])
    assert figures["sizes_hxw"] == ["480x640"]
    assert set(figures["metrics"]) == {"niqe", "brisque", "piqe", "fade"}
    for name, by_size in figures["metrics"].items():
        row = by_size["480x640"]
        assert row["ours_best_ms"] > 0 and row["ours_median_ms"] >= row["ours_best_ms"], name
        assert math.isfinite(row["ours_value"]), name
        assert row["reference"].startswith("skipped"), name
        assert "ratio_reference_over_ours" not in row  # no invented figure without a reference


def test_parse_sizes() -> None:
    assert metrics._parse_sizes("480x640, 1080X1920") == [(480, 640), (1080, 1920)]
