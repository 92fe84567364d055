"""Faults stay local in ``benchmarks.run``: a corrupt input frame, a truncated cache file, a method
failing on one clip and NaN outputs produced elsewhere are recorded, and the rest is scored."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from benchmarks import methods as methods_mod
from benchmarks.run import main
from lsvd.data.manifest import Manifest

METRICS = "brisque"  # no-reference, no flow: the fastest metric


def _run(root: Path, results: Path, *methods: str) -> int:
    args = [a for m in methods for a in ("--method", m)] or ["--method", "identity"]
    return main([*args, "--root", str(root), "--output", str(results), "--metrics", METRICS, "--no-progress"])


def _board(results: Path) -> pd.DataFrame:
    return pd.read_parquet(results / "leaderboard.parquet").set_index(["method", "metric"])


@pytest.fixture
def root_copy(tiny_synthetic_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(tiny_synthetic_root, root)
    return root


def corrupt_png(path: Path) -> None:
    """Keep the PNG header and trailer (so the header probe passes) but zero the image data."""
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 14
    data[start:start + 300] = bytes(300)
    path.write_bytes(bytes(data))


def test_corrupt_input_frame_skips_that_clip_for_every_method(root_copy: Path, tmp_path: Path, capsys):
    manifest = Manifest.load(root_copy)
    bad_clip = manifest.clip_ids("test")[0]
    frame = manifest.resolve(manifest.clip_frames(bad_clip)["path"].iloc[5])
    corrupt_png(frame)
    out = tmp_path / "out"
    assert _run(root_copy, out, "identity", "dcp") == 1  # exit 1: not everything could be scored
    captured = capsys.readouterr()
    assert f"skipped  clip {bad_clip}" in captured.out and frame.name in captured.out
    board = _board(out)
    for method in ("identity", "dcp"):
        row = board.loc[(method, "brisque")]
        assert row["status"] == "ok" and np.isfinite(row["value"]) and row["n_clips"] == 1
        assert bad_clip in row["note"] and "unreadable" in row["note"]
    clips = pd.read_parquet(out / "clips.parquet")
    assert bad_clip not in set(clips["clip_id"]) and len(set(clips["clip_id"])) == 1


def test_truncated_cache_file_is_recomputed(root_copy: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert _run(root_copy, out) == 0
    before = _board(out)["value"]
    cache = sorted((out / "cache" / "identity").rglob("*.parquet"))
    assert cache
    whole = cache[0].read_bytes()
    cache[0].write_bytes(whole[: len(whole) // 2])
    assert _run(root_copy, out) == 0
    pd.testing.assert_series_equal(_board(out)["value"], before)
    pd.read_parquet(cache[0])  # rewritten whole
    assert cache[0].read_bytes() == whole


def test_method_failing_on_one_clip_keeps_its_other_scores(root_copy: Path, tmp_path: Path):
    name = "test_fails_on_one_clip"
    good_clip, bad_clip = reversed(Manifest.load(root_copy).clip_ids("test"))  # the failure comes first

    class FailsOnOne(methods_mod.Method):
        def __init__(self, **_):
            pass

        def desmoke(self, clip):
            if clip.clip_id == bad_clip:
                raise RuntimeError("boom on this clip")
            return clip.lqs

    FailsOnOne.name = name
    methods_mod.METHODS.register(name)(FailsOnOne)
    try:
        out = tmp_path / "out"
        assert _run(root_copy, out, "identity", name) == 1
        row = _board(out).loc[(name, "brisque")]
        assert row["status"] == "failed" and np.isnan(row["value"])
        assert "failed on 1 of 2 clip(s)" in row["reason"] and bad_clip in row["reason"]
        assert "boom on this clip" in row["reason"]
        clips = pd.read_parquet(out / "clips.parquet")
        mine = clips[clips["method"] == name]
        assert set(mine["clip_id"]) == {good_clip}  # the rest is scored
        assert _board(out).loc[("identity", "brisque")]["status"] == "ok"
    finally:
        methods_mod.METHODS._entries.pop(name, None)


def test_external_float_outputs_with_nan_fail_that_method(root_copy: Path, tmp_path: Path):
    manifest = Manifest.load(root_copy)
    outputs = tmp_path / "FloatMethod"
    for k, clip_id in enumerate(manifest.clip_ids("test")):
        folder = outputs / clip_id
        folder.mkdir(parents=True)
        for path, number in zip(manifest.clip_frames(clip_id)["path"], manifest.clip_frames(clip_id)["frame_number"],
                                strict=True):
            frame = cv2.imread(str(manifest.resolve(path))).astype(np.float32) / 255.0
            if k == 1 and number == 5:
                frame[2, 3, 1] = np.nan
            cv2.imwrite(str(folder / f"{number:08d}.tiff"), frame)
    out = tmp_path / "out"
    assert _run(root_copy, out, "identity", f"external:{outputs}") == 1
    board = _board(out)
    row = board.loc[("external:FloatMethod", "brisque")]
    assert row["status"] == "failed" and "NaN" in row["reason"] and "00000005.tiff" in row["reason"]
    clips = pd.read_parquet(out / "clips.parquet")
    scored = clips[clips["method"] == "external:FloatMethod"]
    assert set(scored["clip_id"]) == {manifest.clip_ids("test")[0]}  # float outputs in [0, 1] are read
    identity = clips[clips["method"] == "identity"].set_index("clip_id")["value"]
    assert np.isclose(scored["value"].iloc[0], identity[manifest.clip_ids("test")[0]], atol=1e-6)
