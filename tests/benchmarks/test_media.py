"""What the benchmark saves for reports: sample frames, preview videos, method table, training logs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.media import find_run_dir, method_dir_name, sample_frames
from benchmarks.run import main
from lsvd.data.datasets import TestClips
from lsvd.data.manifest import Manifest
from lsvd.io.images import read_gray, read_rgb
from lsvd.io.video import iter_frames


def test_sample_frames_primary_is_the_smokiest_after_the_onset() -> None:
    numbers = np.arange(10, 20)
    smoky = np.arange(10) >= 4
    score = np.array([9, 9, 9, 9, 0.1, 0.2, 0.9, 0.3, 0.2, 0.1])  # frames before the onset never count
    # smoky part = frames 14..19: the primary, then frames splitting it evenly from its middle to its end
    assert sample_frames(numbers, smoky, score) == [16, 18, 19]
    assert sample_frames(numbers, smoky, None) == [16, 18, 19]  # no scores: the middle is the primary
    assert sample_frames(numbers, None, np.full(10, np.nan)) == [14, 17, 19]
    assert sample_frames(numbers[:1], None, None) == [10]


def test_method_dir_names_are_portable() -> None:
    assert method_dir_name("external:Cycle Dehaze/v2") == "external_Cycle_Dehaze_v2"
    assert method_dir_name("selfsvd_no_mask") == "selfsvd_no_mask"


@pytest.fixture(scope="module")
def media_run(bench_root: Path, bench_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("media") / "results"
    assert main(["--method", "dcp", "--method", "selfsvd_no_mask", "--checkpoint", f"selfsvd_no_mask={bench_run}",
                 "--root", str(bench_root), "--output", str(results), "--metrics", "aligned_psnr",
                 "--no-progress"]) == 0
    return results


def test_clip_sheets_hold_the_inputs_references_and_masks(media_run: Path, bench_root: Path) -> None:
    manifest = Manifest.load(bench_root)
    clips = TestClips(manifest, "test", require_mask=False)
    assert len(clips) == 2
    for i, clip in enumerate(clips.clips):
        folder = media_run / "media" / "test" / clip.clip_id
        sheet = json.loads((folder / "clip.json").read_text())
        item = clips[i]
        numbers = item["frame_numbers"].tolist()
        row = manifest.clip(clip.clip_id)
        assert sheet["frame_numbers"] == numbers
        assert sheet["smoke_onset_number"] == int(row["smoke_onset_index"])  # synthetic: index == number
        assert sheet["ps_frame_number"] == int(row["ps_frame_index"])
        assert all(n >= sheet["smoke_onset_number"] for n in sheet["samples"]) and len(sheet["samples"]) == 3
        lqs = (item["lqs"].permute(0, 2, 3, 1) * 255).round().byte().numpy()
        for n in sheet["samples"]:
            t = numbers.index(n)
            assert np.array_equal(read_rgb(folder / "input" / f"{n}.png"), lqs[t])  # lossless, the exact input
            if n == sheet["samples"][0]:  # methods keep the primary sample only
                assert np.array_equal(read_rgb(folder / "methods" / "identity" / f"{n}.png"), lqs[t])
            else:
                assert not (folder / "methods" / "identity" / f"{n}.png").exists()
            mask = read_gray(folder / "mask" / f"{n}.png")
            assert mask.shape == (sheet["height"] // 4, sheet["width"] // 4)
            assert np.array_equal(mask > 0, item["mask"][t, 0].numpy() > 0.5)
            assert (folder / "clean" / f"{n}.png").is_file()
        assert np.array_equal(read_rgb(folder / "ps.png"), (item["ps"].permute(1, 2, 0) * 255).round().byte().numpy())
        preview = [f.rgb for f in iter_frames(folder / "input.webm")]
        assert len(preview) == len(numbers) and preview[0].shape == lqs[0].shape
        assert np.abs(preview[0].astype(int) - lqs[0]).mean() < 8  # a faithful lossy preview


def test_every_method_has_its_outputs_and_cache_key(media_run: Path) -> None:
    for folder in sorted((media_run / "media" / "test").iterdir()):
        assert sorted(p.name for p in (folder / "methods").iterdir()) == ["dcp", "identity", "selfsvd_no_mask"]
        for method in ("dcp", "identity", "selfsvd_no_mask"):
            d = folder / "methods" / method
            assert len(d.joinpath("key.txt").read_text().strip()) == 16
            assert len(list(iter_frames(d / "output.webm"))) == len(json.loads((folder / "clip.json").read_text())
                                                                     ["frame_numbers"])
        primary = json.loads((folder / "clip.json").read_text())["samples"][0]
        dcp = read_rgb(folder / "methods" / "dcp" / f"{primary}.png")
        assert not np.array_equal(dcp, read_rgb(folder / "input" / f"{primary}.png"))


def test_methods_table_and_training_logs(media_run: Path, bench_run: Path) -> None:
    table = pd.read_parquet(media_run / "methods.parquet").set_index("method")
    assert sorted(table.index) == ["dcp", "identity", "selfsvd_no_mask"]
    assert table.loc["selfsvd_no_mask", "ablation_of"] == "selfsvd"
    assert table.loc["selfsvd_no_mask", "ablation"] == "w/o mask"
    assert table.loc["dcp", "kind"] == "classical" and table.loc["dcp", "run_logs"] == ""
    assert table.loc["selfsvd_no_mask", "run_logs"] == "runs/selfsvd_no_mask"
    copied = media_run / "runs" / "selfsvd_no_mask"
    for name in ("log.jsonl", "config.toml", "run.json"):
        assert (copied / name).read_bytes() == (bench_run / name).read_bytes()
    assert find_run_dir(bench_run / "checkpoints") == bench_run
    assert find_run_dir(media_run) is None


def test_media_are_saved_once_and_restored_when_deleted(media_run: Path, bench_root: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from baselines.classical.dcp import DarkChannelPrior as DCP

    results = tmp_path / "results"
    shutil.copytree(media_run, results)
    calls = []
    original = DCP.desmoke
    monkeypatch.setattr(DCP, "desmoke", lambda self, clip: calls.append(clip.clip_id) or original(self, clip))
    args = ["--method", "dcp", "--root", str(bench_root), "--output", str(results), "--metrics", "aligned_psnr",
            "--no-progress"]
    png = next((results / "media" / "test").glob("*/methods/dcp/*.png"))
    before = png.stat().st_mtime_ns
    assert main(args) == 0
    assert calls == [] and png.stat().st_mtime_ns == before  # metrics and media cached: nothing runs
    shutil.rmtree(png.parent)
    assert main(args) == 0
    assert calls == [png.parents[2].name]  # only the clip whose media are gone; its metrics stay cached
    assert png.is_file()


def test_no_media_writes_none(bench_root: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert main(["--method", "dcp", "--root", str(bench_root), "--output", str(results), "--metrics", "aligned_psnr",
                 "--no-media", "--no-progress"]) == 0
    assert not (results / "media").exists() and (results / "methods.parquet").is_file()
