"""``python -m lsvd.desmoke``: inputs, outputs, weights and the errors users see (tiny preset)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from lsvd.desmoke import UNTRAINED_WARNING, desmoke, main
from lsvd.io.images import read_rgb, write_png
from lsvd.io.video import iter_frames
from lsvd.models.selfsvd import build_selfsvd
from tests.conftest import make_video, smooth_frames

FAST = ["--model", "tiny", "--no-progress", "--mask", "none"]


def _frame_folder(folder: Path, n: int = 12, size: tuple[int, int] = (32, 48), start: int = 0) -> Path:
    folder.mkdir(parents=True)
    for k, rgb in enumerate(smooth_frames(n, *size)):
        write_png(folder / f"{start + k:08d}.png", rgb)
    return folder


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _official_checkpoint(path: Path, *, nonzero: bool = True) -> Path:
    torch.manual_seed(0)
    model = build_selfsvd("tiny")
    if nonzero:
        torch.nn.init.normal_(model.zero_conv.weight, std=0.5)
        torch.nn.init.constant_(model.zero_conv.bias, 0.1)
    state = {f"generator.{k}": v for k, v in model.state_dict().items()}
    state["discriminator.conv.weight"] = torch.zeros(1)  # ignored, as in mmcv files
    torch.save({"meta": {}, "state_dict": state}, path)
    return path


def test_video_to_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = make_video(tmp_path / "in.mp4", n=12, size=(32, 48))
    out = tmp_path / "out.mp4"
    assert main([str(src), "-o", str(out), "--model", "tiny", "--no-progress"]) == 0  # official mask
    frames = [f.rgb for f in iter_frames(out)]
    assert len(frames) == 11  # the PS frame (0) is not output
    assert frames[0].shape == (32, 48, 3)
    summary = capsys.readouterr().out
    assert "11 frames" in summary and "48x32" in summary and str(out) in summary


def test_folder_to_folder_keeps_names_and_untrained_is_identity(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    src = _frame_folder(tmp_path / "clip", start=5)
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        s = desmoke(str(src), str(out), preset="tiny", mask="ps", ps_frame=2)
    assert UNTRAINED_WARNING in caplog.text
    assert s["frames"] == 9 and s["mask"] == "ps"
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{n:08d}.png" for n in range(8, 17)]  # frames before the PS frame and the PS frame dropped
    for name in names:  # zero-initialised last conv: output == input
        np.testing.assert_array_equal(read_rgb(out / name), read_rgb(src / name))


def test_prepared_clip(tmp_path: Path) -> None:
    from lsvd.prepare import prepare_synthetic

    root = tmp_path / "root"
    prepare_synthetic(root, preset="tiny", progress=False)
    out = tmp_path / "out"
    s = desmoke(f"{root}::synth_test_000", str(out), preset="tiny", mask="official")
    assert s["frames"] == 11 and s["mask"] == "official"
    assert sorted(p.name for p in out.iterdir()) == [f"{n:08d}.png" for n in range(1, 12)]
    assert main([f"{root}::nope", "-o", str(tmp_path / "x"), *FAST]) == 2


def test_official_checkpoint_changes_output(tmp_path: Path) -> None:
    src = _frame_folder(tmp_path / "clip", n=6)
    ckpt = _official_checkpoint(tmp_path / "selfsvd.pth")
    assert main([str(src), "-o", str(tmp_path / "a"), "--checkpoint", str(ckpt), *FAST]) == 0
    assert main([str(src), "-o", str(tmp_path / "b"), *FAST]) == 0
    bad = _write(tmp_path / "bad.pth", b"not a checkpoint")
    assert main([str(src), "-o", str(tmp_path / "c"), "--checkpoint", str(bad), *FAST]) == 2
    a, b = read_rgb(tmp_path / "a" / "00000003.png"), read_rgb(tmp_path / "b" / "00000003.png")
    np.testing.assert_array_equal(b, read_rgb(src / "00000003.png"))
    assert np.abs(a.astype(int) - b).max() > 0


def test_safetensors_state_dict(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    src = _frame_folder(tmp_path / "clip", n=6)
    model = build_selfsvd("tiny")
    torch.nn.init.constant_(model.zero_conv.bias, 0.2)
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    assert main([str(src), "-o", str(tmp_path / "a"), "--checkpoint", str(path), *FAST]) == 0
    out = read_rgb(tmp_path / "a" / "00000001.png").astype(int)
    assert (out - read_rgb(src / "00000001.png")).mean() > 20  # +0.2 on every pixel
    assert main([str(src), "-o", str(tmp_path / "b"), "--checkpoint", str(path), "--model", "small",
                 "--no-progress"]) == 2  # wrong size


def test_short_clip_official_mask_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = _frame_folder(tmp_path / "clip", n=6)
    with caplog.at_level(logging.WARNING):
        s = desmoke(str(src), str(tmp_path / "out.mkv"), preset="tiny", fps=12.5)
    assert s["mask"] == "none" and "--mask none" in caplog.text
    assert len(list(iter_frames(tmp_path / "out.mkv"))) == 5


def test_truncated_video_is_desmoked_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.test_prepare_videos import _cut_before_frame

    src = _cut_before_frame(make_video(tmp_path / "cut.avi", n=30, size=(32, 48)), 20)
    with caplog.at_level(logging.WARNING):
        desmoke(str(src), str(tmp_path / "out.mkv"), preset="tiny", mask="none")
    assert "expected 30 frames per the header (its frame count), decoded 20" in caplog.text
    assert len(list(iter_frames(tmp_path / "out.mkv"))) == 19  # the PS frame is not an output
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        desmoke(str(make_video(tmp_path / "whole.avi", n=30, size=(32, 48))), str(tmp_path / "b.mkv"),
                preset="tiny", mask="none")
    assert "truncated" not in caplog.text


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p / "missing.mp4", "no such file"),
        (lambda p: _write(p / "bad.mp4", b"not a video"), "cannot read the video"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no integer-named frames"),
        (lambda p: _frame_folder(p / "odd", size=(30, 48)), "multiples of 4"),
        (lambda p: "only-a-root::", "ROOT::CLIP_ID"),
        (lambda p: f"{p}::clip", "not a prepared dataset root"),
    ],
    ids=["missing", "unreadable", "empty-folder", "size", "bad-spec", "not-a-root"],
)
def test_bad_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], make, expected: str) -> None:
    spec = make(tmp_path)
    assert main([str(spec), "-o", str(tmp_path / "out"), *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err
    assert not (tmp_path / "out").exists()


def test_bad_ps_frame_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _frame_folder(tmp_path / "clip", n=4)
    assert main([str(src), "-o", str(tmp_path / "out"), "--ps-frame", "3", *FAST]) == 2
    assert "--ps-frame 3" in capsys.readouterr().err


# --- --ps-frame auto: the same PS frame (and onset) as `prepare --videos` ---------------------------------------


def _prepare_choices(videos: list[Path], root: Path) -> dict[str, tuple[int, int | None]]:
    """Per video stem: (PS frame, smoke onset) of the first clip `prepare --videos` cuts (frame numbers)."""
    import pandas as pd

    from lsvd.data.manifest import Manifest
    from lsvd.prepare import prepare_videos

    prepare_videos(videos, root, progress=False)
    m = Manifest.load(root)
    out: dict[str, tuple[int, int | None]] = {}
    for cid in m.clip_ids():
        clip, frames = m.clip(cid), m.clip_frames(cid).set_index("frame_index")
        stem = Path(str(clip.source_uri).split("#")[0]).stem
        ps = int(frames.at[int(clip.ps_frame_index), "frame_number"])
        onset = None if pd.isna(clip.smoke_onset_index) else int(frames.at[int(clip.smoke_onset_index),
                                                                            "frame_number"])
        if stem not in out or ps < out[stem][0]:
            out[stem] = (ps, onset)
    return out


def _desmoke_choice(video: Path, out: Path) -> tuple[int, int | None]:
    s = desmoke(str(video), str(out), preset="tiny", ps_frame="auto", mask="none")
    return s["ps_frame"], s["smoke_onset"]


def test_ps_frame_auto_agrees_with_prepare_on_synthetic_videos(tmp_path: Path) -> None:
    """A short smoky video (one whole clip) and a long one (cut at smoke events): the same PS frame and onset."""
    import dataclasses

    from lsvd.data.synthetic import PRESETS, render_clip
    from lsvd.io.video import write_video

    cfg = dataclasses.replace(PRESETS["tiny"], n_frames=21)
    clips = [render_clip(cfg, split, i) for split in ("train", "test") for i in range(2)]
    short = tmp_path / "in" / "short.mp4"
    write_video(short, clips[0][0], fps=25)
    assert clips[0][3].onset_index > 1  # the old rule (the frame before the onset) would not pick frame 0
    long = tmp_path / "in" / "long.mp4"
    write_video(long, np.concatenate([c[0] for c in clips] * 2), fps=25)  # 168 frames > 100: cut at events
    expected = _prepare_choices([short, long], tmp_path / "root")
    assert set(expected) == {"short", "long"} and expected["short"][0] == 0 and expected["long"][0] > 0
    for video in (short, long):
        assert _desmoke_choice(video, tmp_path / f"out-{video.stem}") == expected[video.stem], video.name


def test_ps_frame_auto_agrees_with_prepare_on_real_clips(real_clips: Path, tmp_path: Path) -> None:
    videos = sorted((real_clips / "Input").glob("*.avi"))
    expected = _prepare_choices([real_clips / "Input"], tmp_path / "root")
    assert len(videos) >= 1 and set(expected) == {v.stem for v in videos}
    got = {v.stem: _desmoke_choice(v, tmp_path / f"out-{v.stem}") for v in videos}
    assert got == expected


def test_ps_frame_auto_picks_the_last_smoke_free_frame(tmp_path: Path) -> None:
    """A long clip (> 100 frames, so `prepare`'s rule cuts it at its smoke event) whose smoke starts at a known
    frame: ``--ps-frame auto`` takes the smoke-free frame just before the onset, not frame 0."""
    import dataclasses

    from lsvd.data.synthetic import PRESETS, render_clip

    onset = 12
    cfg = dataclasses.replace(PRESETS["tiny"], n_frames=101, onset_min=onset, onset_max=onset)
    smoky, _clean, density, meta = render_clip(cfg, "test", 0)
    assert meta.onset_index == onset and float(density[onset - 1].max()) == 0.0 < float(density[onset].max())
    src = tmp_path / "clip"
    src.mkdir()
    for k, rgb in enumerate(smoky):
        write_png(src / f"{k:08d}.png", rgb)
    s = desmoke(str(src), str(tmp_path / "out"), preset="tiny", ps_frame="auto", mask="none")
    assert (s["ps_frame"], s["smoke_onset"]) == (onset - 1, onset)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [f"{n:08d}.png" for n in range(onset, 101)]  # the frames after the PS frame
