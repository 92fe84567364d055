"""`prepare --videos`: real clips, PNG extraction, event cutting, user onsets, bad and truncated videos."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lsvd.constants import REPORT_FILE
from lsvd.data.manifest import Manifest
from lsvd.data.problems import ProblemLog
from lsvd.data.videos import _check_complete
from lsvd.io.images import read_rgb
from lsvd.io.video import VideoInfo, iter_frames, write_video
from lsvd.prepare import prepare_videos
from tests.conftest import make_video, smooth_frames


def _kinds(root: Path) -> set[tuple[str, str]]:
    problems = json.loads((root / REPORT_FILE).read_text())["problems"]
    return {(p["kind"], Path(p["item"].split("#")[0]).name) for p in problems}


def test_real_clips_ingest_in_place(real_clips: Path, tmp_path: Path):
    root = tmp_path / "root"
    s = prepare_videos([real_clips / "Input"], root, progress=False)
    m = Manifest.load(root)
    assert s.clips == 7 and m.clip_ids() == sorted(f"input_{n}" for n in (2, 6, 7, 8, 9, 10, 11))
    clip = m.clip("input_2")
    assert (clip.storage, clip.n_frames, clip.height, clip.width, clip.fps) == ("video", 50, 256, 256, 2.0)
    assert (clip.split, clip.ps_frame_index, clip.mask_ref_index) == ("test", 0, 9)
    frames = m.clip_frames("input_2")
    assert Path(frames.at[0, "path"]) == real_clips / "Input" / "input_2.avi"
    assert frames["timestamp_s"].tolist() == pytest.approx([i * 0.5 for i in range(50)])
    assert frames["smoke_score"].between(0, 1).all()
    assert frames["bytes"].isna().all()
    assert not (root / "frames").exists()  # nothing extracted in video storage
    assert _kinds(root) == set()  # complete clips: no truncated_video (or any other) warning
    # PROVENANCE.md etc. are not videos: reported, not silently ignored
    s2 = prepare_videos([real_clips / "Input", real_clips / "PROVENANCE.md"], tmp_path / "r2", progress=False)
    assert ("not_a_video", "PROVENANCE.md") in _kinds(tmp_path / "r2") and s2.clips == 7


def test_png_store_extracts_clip_frames(tmp_path: Path):
    video = make_video(tmp_path / "in" / "case.mp4", n=14, size=(48, 64))
    root = tmp_path / "root"
    prepare_videos([video], root, store="png", progress=False)
    m = Manifest.load(root)
    frames = m.clip_frames("case")
    assert frames["path"].tolist() == [f"frames/case/{i:08d}.png" for i in range(14)]
    decoded = [f.rgb for f in iter_frames(video)]
    assert np.array_equal(read_rgb(m.resolve(frames.at[13, "path"])), decoded[13])
    assert frames["bytes"].gt(0).all()
    again = prepare_videos([video], root, store="png", progress=False)
    assert (again.reused, again.changed) == (1, False)


def test_long_video_cut_at_smoke_events(tmp_path: Path):
    from lsvd.data.synthetic import PRESETS, render_clip

    cfg = dataclasses.replace(PRESETS["tiny"], n_frames=24)  # shots long enough for 10-frame clips
    smoky, densities, onsets = [], [], []
    for i in range(4):
        frames, _, density, meta = render_clip(cfg, "train" if i % 2 else "test", i // 2)
        onsets.append(sum(len(f) for f in smoky) + meta.onset_index)
        smoky.append(frames)
        densities.append(density)
    video = tmp_path / "long.mp4"
    write_video(video, np.concatenate(smoky), fps=25)
    density = np.concatenate(densities)
    root = tmp_path / "root"
    prepare_videos([video], root, max_clip_frames=20, progress=False)  # 96 frames > 20: cut by events
    m = Manifest.load(root)
    assert len(m.clips) >= 3
    found = []
    for cid in m.clip_ids():
        clip, frames = m.clip(cid), m.clip_frames(cid)
        ps_number = int(frames.at[0, "frame_number"])
        assert cid == f"long-{ps_number:06d}" and clip.onset_source == "detected"
        assert density[ps_number].max() == 0  # every clip starts at a smoke-free PS frame
        assert 10 <= int(clip.n_frames) <= 20
        found.append(ps_number + int(clip.smoke_onset_index))
    hits = sum(any(abs(f - o) <= 1 for f in found) for o in onsets)
    assert hits >= 3, (found, onsets)


def test_user_given_onsets(tmp_path: Path):
    a = make_video(tmp_path / "in" / "a.mp4", n=40)
    csv = tmp_path / "onsets.csv"
    csv.write_text("video,ps_frame,onset_frame,end_frame\na.mp4,0,3,12\na,15,18,\n")
    prepare_videos([a], tmp_path / "root", onsets=csv, progress=False)
    m = Manifest.load(tmp_path / "root")
    assert m.clip_ids() == ["a-000000", "a-000015"]
    first, second = m.clip("a-000000"), m.clip("a-000015")
    assert (first.n_frames, first.smoke_onset_index, first.onset_source) == (12, 3, "given")
    assert (second.n_frames, second.smoke_onset_index) == (25, 3)
    assert m.clip_frames("a-000015")["frame_number"].tolist() == list(range(15, 40))
    csv.write_text("video,start\na.mp4,0\n")
    with pytest.raises(ValueError, match="expected CSV columns video, ps_frame"):
        prepare_videos([a], tmp_path / "r2", onsets=csv, progress=False)
    csv.write_text("video,ps_frame,onset_frame\na.mp4,5,2\n")
    with pytest.raises(ValueError, match="ps_frame < onset_frame"):
        prepare_videos([a], tmp_path / "r3", onsets=csv, progress=False)


def test_bad_videos_reported(tmp_path: Path):
    d = tmp_path / "in"
    make_video(d / "good.mp4", n=12)
    make_video(d / "short.mp4", n=6)
    make_video(d / "odd.mp4", n=12, size=(50, 66))
    make_video(d / "tiny.mp4", n=12, size=(16, 16))
    make_video(d / "narrow.mp4", n=12, size=(28, 64))  # one side below MIN_FRAME_SIZE is enough
    (d / "zero.mp4").write_bytes(b"")
    (d / "junk.avi").write_bytes(b"definitely not a video" * 50)
    make_video(d / "cut.mp4", n=60, size=(96, 128))
    data = (d / "cut.mp4").read_bytes()
    (d / "cut.mp4").write_bytes(data[: len(data) // 2])
    (d / "readme.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    s = prepare_videos([d, tmp_path / "empty"], tmp_path / "root", progress=False)
    kinds = _kinds(tmp_path / "root")
    assert {("too_short", "short.mp4"), ("size_not_multiple_of_4", "odd.mp4"), ("zero_byte", "zero.mp4"),
            ("unreadable_video", "junk.avi"), ("not_a_video", "readme.txt"), ("empty_folder", "empty"),
            ("frame_too_small", "tiny.mp4"), ("frame_too_small", "narrow.mp4")} <= kinds
    messages = " ".join(p["message"] for p in json.loads((tmp_path / "root" / REPORT_FILE).read_text())["problems"])
    assert "at least 32x32 pixels" in messages and "found 28x64" in messages
    assert any(name == "cut.mp4" for _, name in kinds)  # truncated: reported whatever FFmpeg makes of it
    assert s.clips == 1
    with pytest.raises(FileNotFoundError, match="no such file"):
        prepare_videos([tmp_path / "missing.mp4"], tmp_path / "r2", progress=False)


def test_auto_split_is_per_video_and_seeded(real_clips: Path, tmp_path: Path):
    prepare_videos([real_clips / "Input"], tmp_path / "root", split="auto", test_fraction=0.5, split_seed=3,
                   progress=False)
    clips = Manifest.load(tmp_path / "root").clips
    assert (clips["split"] == clips["split_seed3"]).all()
    assert set(clips["split"]) == {"train", "test"}
    prepare_videos([real_clips / "Input"], tmp_path / "r2", split="auto", test_fraction=0.5, split_seed=3,
                   progress=False)
    again = Manifest.load(tmp_path / "r2").clips
    pd.testing.assert_frame_equal(clips[["clip_id", "split"]], again[["clip_id", "split"]])


# --- truncated copies: decoded cleanly, but short of the container's frame count -------------------------


def _cut_before_frame(video: Path, k: int) -> Path:
    """Keep only the bytes before frame ``k``'s packet, like an interrupted copy (header intact)."""
    import av

    with av.open(str(video)) as container:
        starts = [pk.pos for pk in container.demux(container.streams.video[0]) if pk.size]
    video.write_bytes(video.read_bytes()[: starts[k]])
    return video


def _problems(root: Path) -> dict[str, dict]:
    return {Path(p["item"]).name: p for p in json.loads((root / REPORT_FILE).read_text())["problems"]}


def test_truncated_video_warned_and_decoded_part_indexed(tmp_path: Path):
    d = tmp_path / "in"
    _cut_before_frame(make_video(d / "cut.avi", n=40), 25)  # AVI: the header stores a frame count
    _cut_before_frame(make_video(d / "cutmkv.mkv", n=40), 30)  # Matroska: only a duration
    make_video(d / "whole.avi", n=40)
    root = tmp_path / "root"
    s = prepare_videos([d], root, progress=False)
    problems = _problems(root)
    assert set(problems) == {"cut.avi", "cutmkv.mkv"} and s.problems == {"truncated_video": 2}
    assert {p["skipped"] for p in problems.values()} == {"nothing"}
    assert "expected 40 frames per the header (its frame count), decoded 25" in problems["cut.avi"]["message"]
    assert "expected 40 frames per the header (4.00 s at 10 fps), decoded 30" in problems["cutmkv.mkv"]["message"]
    assert "re-export" in problems["cut.avi"]["message"]
    m = Manifest.load(root)
    assert [int(m.clip(c).n_frames) for c in ("cut", "cutmkv", "whole")] == [25, 30, 40]
    again = prepare_videos([d], root, progress=False)  # rescanned, so the warning stays in the report
    assert again.problems == {"truncated_video": 2} and again.reused == 1 and not again.changed


def test_complete_videos_are_not_flagged_as_truncated(tmp_path: Path):
    d = tmp_path / "in"
    for suffix in ("mp4", "avi", "mkv", "mov"):
        make_video(d / f"v_{suffix}.{suffix}", n=12)
    write_video(d / "v_webm.webm", smooth_frames(12, 48, 64), fps=10, codec="libvpx-vp9")
    prepare_videos([d], tmp_path / "root", progress=False)
    assert _problems(tmp_path / "root") == {}


def test_truncation_tolerance_and_unknown_counts():
    def warned(info: VideoInfo, decoded: int) -> bool:
        log = ProblemLog()
        _check_complete(Path("v.avi"), info, decoded, log)
        return bool(len(log))

    stored = VideoInfo(64, 48, 10.0, 40, "h264", None)
    assert stored.expected_frames() == (40, 1, "its frame count")
    assert not warned(stored, 39) and warned(stored, 38) and not warned(stored, 41)
    timed = VideoInfo(64, 48, 25.0, 0, "h264", 20.0)  # 500 frames by duration: 2 % (10 frames) of slack
    assert timed.expected_frames()[:2] == (500, 10) and not warned(timed, 490) and warned(timed, 489)
    for unknown in (VideoInfo(64, 48, 25.0, 0, "h264", None), VideoInfo(64, 48, None, 0, "h264", 20.0)):
        assert unknown.expected_frames() is None and not warned(unknown, 1)


def test_truncated_real_clip(real_clips: Path, tmp_path: Path):
    data = (real_clips / "Input" / "input_10.avi").read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "input_10.avi").write_bytes(data[: int(len(data) * 0.3)])
    s = prepare_videos([tmp_path / "in"], tmp_path / "root", progress=False)
    problem = _problems(tmp_path / "root")["input_10.avi"]
    assert (problem["kind"], problem["skipped"]) == ("truncated_video", "nothing")
    assert "expected 50 frames per the header (its frame count), decoded 12" in problem["message"]
    assert s.clips == 1 and int(Manifest.load(tmp_path / "root").clip("input_10").n_frames) == 12
