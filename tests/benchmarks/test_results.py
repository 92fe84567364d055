"""``python -m benchmarks.run --drop``: removing a method's rows and files from a results folder
(:mod:`benchmarks.results`; the layout and format version are tested with the readers, in
``tests/reports/test_results_format.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from benchmarks import methods as methods_mod
from benchmarks.results import (
    BENCHMARK_FILE,
    CACHE_DIR,
    LEADERBOARD_MD,
    MEDIA_DIR,
    README_FILE,
    TABLES,
)
from benchmarks.run import main
from tests.conftest import run_benchmark_cli

_run = run_benchmark_cli


def test_drop_removes_a_method_from_every_file(bench_root: Path, tmp_path: Path, capsys) -> None:
    """A method that failed (here: it cannot be created) leaves rows that later runs keep, until dropped."""
    name = "test_cannot_be_created"

    class Broken(methods_mod.Method):
        def __init__(self, **_):
            raise RuntimeError("no weights")

    methods_mod.METHODS.register(name)(Broken)
    results = tmp_path / "results"
    try:
        assert _run(bench_root, results, "dcp", name, media=True) == 1
    finally:
        methods_mod.METHODS._entries.pop(name, None)
    assert _run(bench_root, results, "dcp", media=True) == 0  # a later run keeps the failed rows
    board = pd.read_parquet(results / "leaderboard.parquet")
    assert set(board["method"]) == {"identity", "dcp", name}
    assert (board.loc[board["method"] == name, "status"] == "failed").all()
    identity = {f: pd.read_parquet(results / spec.file).query("method == 'identity'").reset_index(drop=True)
                for f, spec in TABLES.items()}
    capsys.readouterr()

    assert main(["--drop", "dpc", "--output", str(results)]) == 2  # a mistyped name changes nothing
    err = capsys.readouterr().err
    assert "--drop dpc" in err and "did you mean dcp" in err
    assert main(["--drop", "dcp", "--method", "identity", "--output", str(results)]) == 2
    assert "--drop removes methods" in capsys.readouterr().err

    assert main(["--drop", name, "--drop", "dcp", "--output", str(results)]) == 0
    printed = capsys.readouterr().out
    assert f"dropped  {name}: 3 row(s) of leaderboard.parquet" in printed and "cache/dcp/" in printed
    for f, spec in TABLES.items():  # gone from every table; the other methods' rows are unchanged
        table = pd.read_parquet(results / spec.file)
        assert set(table["method"]) == {"identity"}, f
        pd.testing.assert_frame_equal(table.reset_index(drop=True), identity[f])
    assert name not in (results / LEADERBOARD_MD).read_text() and "`dcp`" not in (results / LEADERBOARD_MD).read_text()
    assert not (results / CACHE_DIR / "dcp").exists() and (results / CACHE_DIR / "identity").is_dir()
    assert not list((results / MEDIA_DIR).glob("*/*/methods/dcp")) and list((results / MEDIA_DIR).glob(
        "*/*/methods/identity"))
    info = json.loads((results / BENCHMARK_FILE).read_text())
    assert set(info["rows"]["test"]) == {"identity"} and len(info["runs"]) == 1
    assert "`dcp`" not in (results / README_FILE).read_text()
    assert main(["--drop", "dcp", "--output", str(results)]) == 2  # nothing of it is left
    assert main(["--drop", "dcp", "--output", str(tmp_path / "nowhere")]) == 2
    assert "not a results folder" in capsys.readouterr().err
