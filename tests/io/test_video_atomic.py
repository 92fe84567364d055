from pathlib import Path

import numpy as np
import pytest

from lsvd.io.atomic import atomic_dir, atomic_path, write_json
from lsvd.io.video import VideoError, iter_frames, probe_video, read_frames, write_video
from tests.conftest import smooth_frames


def test_video_roundtrip_timestamps_and_random_access(tmp_path: Path):
    frames = smooth_frames(12, 48, 64)
    assert write_video(tmp_path / "v.mp4", frames, fps=10) == 12
    info = probe_video(tmp_path / "v.mp4")
    assert (info.width, info.height, info.codec) == (64, 48, "h264")
    assert info.fps == pytest.approx(10)
    decoded = list(iter_frames(tmp_path / "v.mp4"))
    assert [f.number for f in decoded] == list(range(12))
    assert [f.timestamp_s for f in decoded] == pytest.approx([i / 10 for i in range(12)])
    # lossy (4:2:0 chroma on a tiny, colourful texture) but unbiased and close
    diff = decoded[5].rgb.astype(int) - frames[5]
    assert np.abs(diff).mean() < 15 and np.abs(diff.mean()) < 3
    picked = read_frames(tmp_path / "v.mp4", [7, 2])
    assert np.array_equal(picked[7], decoded[7].rgb) and np.array_equal(picked[2], decoded[2].rgb)
    with pytest.raises(VideoError, match="not found"):
        read_frames(tmp_path / "v.mp4", [40])
    small = next(iter_frames(tmp_path / "v.mp4", size=(32, 24)))
    assert small.rgb.shape == (24, 32, 3)


def test_flat_colour_survives_encoding(tmp_path: Path):
    frames = np.full((4, 16, 16, 3), (180, 60, 50), np.uint8)
    write_video(tmp_path / "flat.mp4", frames)
    assert np.abs(next(iter_frames(tmp_path / "flat.mp4")).rgb.astype(int) - (180, 60, 50)).max() <= 3


def test_bad_videos(tmp_path: Path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="zero-byte"):
        probe_video(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video at all" * 10)
    with pytest.raises(VideoError, match="unreadable"):
        probe_video(tmp_path / "junk.mp4")
    with pytest.raises(VideoError, match="no such"):
        probe_video(tmp_path / "missing.mp4")


def test_atomic_path_leaves_target_on_error(tmp_path: Path):
    write_json(tmp_path / "a.json", {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert (tmp_path / "a.json").read_text().strip().endswith("}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_atomic_dir_replaces_whole_folder(tmp_path: Path):
    with atomic_dir(tmp_path / "clip") as d:
        (d / "1.txt").write_text("x")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "clip") as d:
            (d / "2.txt").write_text("y")
            raise RuntimeError("killed")
    assert sorted(p.name for p in (tmp_path / "clip").iterdir()) == ["1.txt"]
    with atomic_dir(tmp_path / "clip") as d:
        (d / "3.txt").write_text("z")
    assert sorted(p.name for p in (tmp_path / "clip").iterdir()) == ["3.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


def test_atomic_writes_use_the_usual_modes(tmp_path: Path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        write_json(tmp_path / "f.json", {})
        with atomic_dir(tmp_path / "d") as d:
            (d / "x").write_text("x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
