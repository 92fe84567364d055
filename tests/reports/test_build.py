"""``python -m reports.build``: every artefact from a results folder, deterministic, atomic, clear errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from reports import figures as F
from reports.build import build_report, main
from tests.reports.browser import dump_dom, run_chromium


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def report(tiny_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    assert main(["--results", str(tiny_results), "--output", str(out)]) == 0
    return out


def test_writes_tables_figures_page_and_stats(report: Path) -> None:
    names = set(_files(report))
    for table in ("main_test", "efficiency_test", "ablation_test"):
        assert {f"tables/{table}.md", f"tables/{table}.tex"} <= names
    for spec in F.FIGURES:
        assert {f"figures/{spec.name}_test.png", f"figures/{spec.name}_test.pdf"} <= names
    assert {"report.html", "REPORT.md", "stats.json"} <= names
    assert not [n for n in names if ".tmp" in n]
    stats = json.loads((report / "stats.json").read_text())
    agreement = stats["figures"]["test"]["protocol_agreement"]
    assert agreement["n_frames"] > 0 and -1 <= agreement["pearson_frames"] <= 1
    markdown = (report / "REPORT.md").read_text()
    for link in re.findall(r"\]\(([^)]+)\)", markdown):  # every figure link points at a file of the report
        assert (report / link).is_file(), link
    page = (report / "report.html").read_text()
    assert page.count("<video") == 2 * 4  # 2 clips x (input + clahe, dcp, selfsvd; no identity, no ablation)
    assert "selfsvd_no_mask" in page and "Ablations" in page  # the ablation table


def test_the_same_results_give_the_same_bytes(report: Path, tiny_results: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_report(tiny_results, again)
    assert _files(again) == _files(report)


def test_a_failed_build_leaves_the_previous_report(report: Path, tiny_results: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report"
    shutil.copytree(report, out)
    before = _files(out)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(F, "FIGURES", (F.FigureSpec("quality_speed", "Quality and speed", broken),))
    with pytest.raises(RuntimeError, match="disk full"):
        build_report(tiny_results, out)
    assert _files(out) == before
    assert [p.name for p in out.parent.iterdir()] == ["report"]  # no temporary folder left


def test_choices_of_clips_zoom_and_video_methods(tiny_results: Path, tmp_path: Path) -> None:
    out = build_report(tiny_results, tmp_path / "r", clips=["synth_test_001"], zoom=[0.1, 0.1, 0.5, 0.5],
                       video_clips=["synth_test_001"], video_methods=["selfsvd"])
    grid = next(f for f in out["figures"] if f.name == "qualitative_grid")
    assert grid.stats["clips"] == ["synth_test_001"] and grid.stats["zoom"] == {"synth_test_001": [0.1, 0.1, 0.5, 0.5]}
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count("<video") == 2 and "test / synth_test_001" in page
    assert 'data-first="1"' in page  # the frame counter shows source frame numbers (frame 0 is the PS frame)


def test_results_without_media_or_logs_still_build(tiny_results: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    shutil.copytree(tiny_results, results, ignore=shutil.ignore_patterns("media", "runs", "report"))
    assert main(["--results", str(results)]) == 0
    printed = capsys.readouterr().out
    assert "skipped  qualitative_grid (test): no saved media" in printed
    assert "skipped  training_curves (test)" in printed
    page = (results / "report" / "report.html").read_text()
    assert "<video" not in page and "Quality (test)" in page


def test_bad_input_says_what_to_do(tmp_path: Path, tiny_results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--results", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "python -m benchmarks.run" in err
    assert main(["--results", str(tiny_results), "--output", str(tmp_path / "o"), "--split", "train"]) == 2
    assert "split(s) ['train'] are not in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--results", str(tiny_results), "--zoom", "0.5,0.5,2,0.1"])
    assert "expected 4 fractions" in capsys.readouterr().err


def test_the_page_renders_in_chromium_and_its_videos_load(report: Path, tmp_path: Path) -> None:
    attrs = dump_dom(tmp_path, report / "report.html", "#selftest")
    assert attrs["data-videos-loaded"] == "8/8"
    assert attrs["data-sync-ok"] == "1"
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", (report / "report.html").as_uri())
    from lsvd.io.images import read_rgb

    pixels = read_rgb(shot)
    assert pixels.std() > 20 and len(set(map(tuple, pixels.reshape(-1, 3)[::97]))) > 50


def test_data_without_clean_frames_and_splits_with_underscores(tiny_results: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    results = tmp_path / "results"
    shutil.copytree(tiny_results, results, ignore=shutil.ignore_patterns("report"))
    for name in ("leaderboard", "frames", "clips"):  # as on real LSVD: no clean metrics, split "lsvd_test"
        table = pd.read_parquet(results / f"{name}.parquet")
        table = table[~table["metric"].isin(["psnr", "ssim"])].assign(split="lsvd_test")
        table.to_parquet(results / f"{name}.parquet", index=False)
    assert main(["--results", str(results)]) == 0
    printed = capsys.readouterr().out
    assert "skipped  protocol_agreement (lsvd_test)" in printed and "main_lsvd_test" in printed
    assert (results / "report" / "tables" / "main_lsvd_test.tex").is_file()
    assert "agree with Pearson" not in (results / "report" / "report.html").read_text()
    assert json.loads((results / "report" / "stats.json").read_text())  # strict JSON (no NaN)


def test_out_never_replaces_the_results_or_an_unrelated_folder(tiny_results: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "work" / "results"
    shutil.copytree(tiny_results, results, ignore=shutil.ignore_patterns("report", "cache"))
    for out in (results, results.parent):
        assert main(["--results", str(results), "--output", str(out)]) == 2
        assert "which building the report would replace" in capsys.readouterr().err
    unrelated = tmp_path / "notes"
    unrelated.mkdir()
    (unrelated / "draft.tex").write_text("keep me")
    assert main(["--results", str(results), "--output", str(unrelated)]) == 2
    assert "not a report" in capsys.readouterr().err and (unrelated / "draft.tex").read_text() == "keep me"
    assert (results / "leaderboard.parquet").is_file()
    assert main(["--results", str(results), "--output", str(tmp_path / "r")]) == 0
    assert main(["--results", str(results), "--output", str(tmp_path / "r")]) == 0  # an earlier report is replaced
