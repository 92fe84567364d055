"""The results folder (:mod:`benchmarks.results`) as readers see it: one layout for the writer and the
readers, a format version that every reader and writer checks (folders without one are format 1.0)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.results import (
    BENCHMARK_FILE,
    CACHE_DIR,
    MEDIA_DIR,
    README_FILE,
    RESULTS_FORMAT_VERSION,
    RUNS_DIR,
    TABLES,
    ResultsFormatError,
    ResultsLayout,
    check_format,
    read_info,
)
from benchmarks.run import main
from tests.conftest import run_benchmark_cli

_run = run_benchmark_cli


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_writer_and_the_readers_use_the_same_names(tiny_results: Path) -> None:
    """Every name of the layout exists in a real results folder, and reports find every media file in it."""
    from reports.results import load_results

    layout = ResultsLayout(tiny_results)
    for name in TABLES:
        assert layout.table(name).is_file(), name
    for path in (layout.leaderboard_md, layout.readme, layout.benchmark):
        assert path.is_file(), path
    for folder in (layout.media, layout.runs, layout.cache):
        assert folder.is_dir(), folder
    results = load_results(tiny_results)
    assert results.info["format_version"] == RESULTS_FORMAT_VERSION
    assert results.run_log("selfsvd") is not None
    media = results.clip_media("test")
    assert len(media) == 2
    for m in media.values():
        assert m.input_video.is_file() and m.ps_frame.is_file()
        for n in m.samples:
            assert m.input_frame(n).is_file() and m.mask(n) is not None and m.clean_frame(n) is not None
        assert set(m.methods) == set(results.method_names("test"))
        for method in m.methods:
            assert m.output_video(method) is not None and m.output_frame(method, m.samples[0]) is not None


def test_results_of_todays_layout_without_a_version_load_as_1_0(tiny_results: Path, tiny_synthetic_root: Path,
                                                                 tmp_path: Path) -> None:
    """Folders written before the version file existed: read as format 1.0, and updated in place."""
    from reports.results import load_results

    old = tmp_path / "old"
    shutil.copytree(tiny_results, old, ignore=shutil.ignore_patterns(BENCHMARK_FILE, README_FILE, "report"))
    assert read_info(old) == {"format_version": "1.0"} and check_format(old)["format_version"] == "1.0"
    before = load_results(tiny_results).leaderboard
    loaded = load_results(old)
    assert loaded.info == {"format_version": "1.0"}
    pd.testing.assert_frame_equal(loaded.leaderboard, before)
    assert _run(tiny_synthetic_root, old, "dcp") == 0  # the benchmark updates it: other rows kept, the version written
    info = json.loads((old / BENCHMARK_FILE).read_text())
    assert info["format_version"] == RESULTS_FORMAT_VERSION and set(info["rows"]["test"]) == {"identity", "dcp"}
    board = load_results(old).leaderboard
    assert set(board["method"]) == set(before["method"])
    kept = board[board["method"] == "selfsvd"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, before[before["method"] == "selfsvd"].reset_index(drop=True))
    assert (old / README_FILE).is_file()


@pytest.mark.parametrize("version", ["2.0", "0.9"])
def test_another_major_format_is_refused_by_every_reader_and_writer(version: str, tiny_results: Path,
                                                                    tiny_synthetic_root: Path, tmp_path: Path,
                                                                    capsys) -> None:
    from reports.build import main as build_main
    from reports.results import ResultsError, load_results

    results = tmp_path / "results"
    shutil.copytree(tiny_results, results, ignore=shutil.ignore_patterns("report", MEDIA_DIR))
    info = json.loads((results / BENCHMARK_FILE).read_text())
    (results / BENCHMARK_FILE).write_text(json.dumps({**info, "format_version": version, "toolkit_version": "9.9"}))
    before = _files(results)
    with pytest.raises(ResultsError, match=f"results format {version} \\(written by lsvd-toolkit 9.9\\).*"
                                           f"results format {RESULTS_FORMAT_VERSION}"):
        load_results(results)
    assert build_main(["--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert f"results format {version}" in err and ("Upgrade the toolkit" in err) == (version == "2.0")
    assert _run(tiny_synthetic_root, results, "dcp") == 2
    assert f"results format {version}" in capsys.readouterr().err
    assert main(["--drop", "dcp", "--output", str(results)]) == 2
    assert f"results format {version}" in capsys.readouterr().err
    assert _files(results) == before  # nothing written
    # a newer minor version only adds: it is read
    (results / BENCHMARK_FILE).write_text(json.dumps({**info, "format_version": "1.7"}))
    assert load_results(results).info["format_version"] == "1.7"


def test_unreadable_version_file_says_what_to_do(tiny_results: Path, tmp_path: Path) -> None:
    from reports.results import ResultsError, load_results

    results = tmp_path / "results"
    shutil.copytree(tiny_results, results, ignore=shutil.ignore_patterns("report", MEDIA_DIR, CACHE_DIR))
    (results / BENCHMARK_FILE).write_text("{not json")
    with pytest.raises(ResultsError, match="cannot be read.*delete it"):
        load_results(results)
    (results / BENCHMARK_FILE).write_text("[1, 2]")
    with pytest.raises(ResultsFormatError, match="expected a JSON object with a format_version"):
        read_info(results)


def test_drop_removes_training_logs(tiny_results: Path, tmp_path: Path) -> None:
    from benchmarks.results import drop_method

    results = tmp_path / "results"
    shutil.copytree(tiny_results, results, ignore=shutil.ignore_patterns("report"))
    summary = drop_method(results, "selfsvd_no_mask")
    assert f"{RUNS_DIR}/selfsvd_no_mask/" in summary.folders
    assert not (results / RUNS_DIR / "selfsvd_no_mask").exists() and (results / RUNS_DIR / "selfsvd").is_dir()
    assert "selfsvd_no_mask" not in set(pd.read_parquet(results / "methods.parquet")["method"])
