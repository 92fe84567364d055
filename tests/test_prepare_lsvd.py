"""`prepare --lsvd`: in-place indexing, every bad-input case, incrementality and crash safety."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lsvd.constants import CARD_FILE, CLIPS_FILE, FRAMES_FILE, INFO_FILE, REPORT_FILE
from lsvd.data.manifest import Manifest, ManifestError
from lsvd.data.problems import BadInputError
from lsvd.io.images import write_png
from lsvd.prepare import main, prepare_lsvd
from tests.conftest import make_lsvd_tree, smooth_frames


def _report(root: Path) -> dict:
    return json.loads((root / REPORT_FILE).read_text())


def test_index_official_layout(lsvd_tree: Path, tmp_path: Path):
    root = tmp_path / "root"
    s = prepare_lsvd(lsvd_tree, root, progress=False)
    assert (s.clips, s.frames, s.by_split) == (3, 36, {"test": 1, "train": 2})
    m = Manifest.load(root)
    clip = m.clip("clip_a")
    assert (clip.split, clip.source, clip.storage, clip.height, clip.width) == ("train", "lsvd", "png", 32, 48)
    assert (clip.ps_frame_index, clip.mask_ref_index, clip.onset_source) == (0, 9, "assumed")
    frames = m.clip_frames("clip_a")
    assert frames["role"].tolist() == ["ps"] + ["smoky"] * 11
    assert frames["frame_number"].tolist() == list(range(12))
    # indexed in place: absolute paths into the source tree, nothing copied into the root
    assert Path(frames.at[3, "path"]) == lsvd_tree / "LSVD_train" / "clip_a" / "00000003.png"
    assert Path(frames.at[3, "mask_path"]) == lsvd_tree / "LSVD_train_mask" / "clip_a" / "00000003.png"
    assert not (root / "frames").exists()
    assert frames["bytes"].tolist() == [(lsvd_tree / "LSVD_train/clip_a" / f"{i:08d}.png").stat().st_size
                                        for i in range(12)]
    assert frames["sha256"].isna().all() and frames["smoke_score"].isna().all()
    assert Path(m.clip("clip_c").metric_ref_path) == lsvd_tree / "LSVD_test_pro" / "clip_c" / "00000000.png"
    assert pd.isna(clip.metric_ref_path)
    info = json.loads((root / INFO_FILE).read_text())
    assert info["format_version"] == "1.0" and info["counts"]["clips"] == 3
    assert info["counts"]["by_split"]["train"] == {"clips": 2, "frames": 24}
    assert set(info["schema"]["frames"]) >= {"clip_id", "frame_index", "role", "path", "mask_path", "sha256"}
    assert info["path_templates"]["mask"].startswith("masks/")
    assert info["source"]["kind"] == "lsvd"
    assert (root / "README.md").read_text().startswith("---")
    assert _report(root)["n_problems"] == 0


def test_hash_option_records_sha256(lsvd_tree: Path, tmp_path: Path):
    prepare_lsvd(lsvd_tree, tmp_path / "root", hash_files=True, progress=False)
    row = Manifest.load(tmp_path / "root").clip_frames("clip_b").iloc[4]
    assert row.sha256 == hashlib.sha256(Path(row.path).read_bytes()).hexdigest()


def test_frames_sorted_by_integer_not_by_string(tmp_path: Path):
    src = tmp_path / "LSVD"
    frames = smooth_frames(11, 32, 32)
    for i, f in zip([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], frames, strict=True):
        p = src / "LSVD_test" / "c" / f"{i}.png"  # unpadded names: "10" sorts before "2" as a string
        p.parent.mkdir(parents=True, exist_ok=True)
        write_png(p, f)
    prepare_lsvd(src, tmp_path / "root", progress=False)
    assert Manifest.load(tmp_path / "root").clip_frames("c")["frame_number"].tolist() == list(range(11))


def _damage(src: Path) -> None:
    """One clip per bad-input case (each clip otherwise valid, 12 frames of 32x48)."""
    d = src / "LSVD_train"
    (d / "named" / "frame_x.png").write_bytes((d / "named" / "00000000.png").read_bytes())  # non-integer
    (d / "named" / "notes.txt").write_text("surgeon's notes")
    write_png(d / "mixed" / "00000005.png", np.zeros((36, 48, 3), np.uint8))
    (d / "zero" / "00000004.png").write_bytes(b"")
    trunc = d / "trunc" / "00000004.png"
    trunc.write_bytes(trunc.read_bytes()[:200])
    (d / "corrupt" / "00000002.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (d / "empty").mkdir()
    (d / "stray_file.png").write_bytes(b"x")


BAD = {"train/named": 12, "train/mixed": 12, "train/zero": 12, "train/trunc": 12, "train/corrupt": 12,
       "train/short": 9, "train/good": 12, "test/good2": 12}


def test_bad_inputs_are_skipped_and_reported(tmp_path: Path):
    src = make_lsvd_tree(tmp_path / "LSVD", BAD)
    make_lsvd_tree(tmp_path / "LSVD_odd", {"test/odd": 12}, size=(30, 46))
    for f in (tmp_path / "LSVD_odd/LSVD_test").iterdir():
        os.rename(f, src / "LSVD_test" / f.name)
    make_lsvd_tree(tmp_path / "LSVD_dup", {"test/good": 12})
    os.rename(tmp_path / "LSVD_dup/LSVD_test/good", src / "LSVD_test" / "good")  # same name in both splits
    _damage(src)
    root = tmp_path / "root"
    s = prepare_lsvd(src, root, progress=False)
    assert sorted(Manifest.load(root).clip_ids()) == ["good", "good2", "named"]
    kinds = {(p["kind"], Path(p["item"]).name, p["skipped"]) for p in _report(root)["problems"]}
    assert kinds == {
        ("non_integer_name", "frame_x.png", "file"), ("not_an_image", "notes.txt", "file"),
        ("mixed_resolution", "mixed", "clip"), ("zero_byte", "zero", "clip"), ("truncated", "trunc", "clip"),
        ("unreadable_image", "corrupt", "clip"), ("too_short", "short", "clip"),
        ("empty_folder", "empty", "clip"), ("unexpected_entry", "stray_file.png", "file"),
        ("size_not_multiple_of_4", "odd", "clip"), ("duplicate_clip", "good", "clip"),
    }
    assert s.problems["too_short"] == 1
    messages = " ".join(p["message"] for p in _report(root)["problems"])
    for hint in ("rename", "at least 10 frames", "divisible by 4", "one frame size"):
        assert hint in messages


def test_strict_lists_every_problem_and_writes_nothing(tmp_path: Path):
    src = make_lsvd_tree(tmp_path / "LSVD", BAD)
    _damage(src)
    with pytest.raises(BadInputError) as err:
        prepare_lsvd(src, tmp_path / "root", strict=True, progress=False)
    assert len(err.value.problems) == 9 and "mixed_resolution" in str(err.value) and "too_short" in str(err.value)
    assert not (tmp_path / "root").exists() or not any((tmp_path / "root").rglob("*.parquet"))


def test_nothing_usable_is_an_error(tmp_path: Path):
    src = make_lsvd_tree(tmp_path / "LSVD", {"train/short": 5})
    with pytest.raises(BadInputError, match="no usable clip"):
        prepare_lsvd(src, tmp_path / "root", progress=False)
    (tmp_path / "other").mkdir()
    with pytest.raises(FileNotFoundError, match="LSVD_train"):
        prepare_lsvd(tmp_path / "other", tmp_path / "root", progress=False)


def test_side_folders_checked(tmp_path: Path):
    src = make_lsvd_tree(tmp_path / "LSVD", {"train/a": 12, "train/b": 12}, masks=True, clean=True)
    write_png(src / "LSVD_train_mask/a/00000000.png", np.zeros((32, 48), np.uint8))  # full-res mask: wrong
    (src / "LSVD_train_clean/b/00000003.png").unlink()
    prepare_lsvd(src, tmp_path / "root", progress=False)
    m = Manifest.load(tmp_path / "root")
    assert m.clip_frames("a")["mask_path"].isna().all() and m.clip_frames("b")["mask_path"].notna().all()
    assert bool(m.clip("a").has_clean) and not bool(m.clip("b").has_clean)
    kinds = {p["kind"] for p in _report(tmp_path / "root")["problems"]}
    assert kinds == {"bad_mask_size", "incomplete_clean"}


def test_every_side_file_is_checked(tmp_path: Path):
    src = make_lsvd_tree(tmp_path / "LSVD", {"train/a": 12, "train/b": 12, "train/ok": 12}, masks=True, clean=True)
    write_png(src / "LSVD_train_mask/a/00000009.png", np.zeros((16, 24), np.uint8))  # the official mask index
    (src / "LSVD_train_clean/b/00000006.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    root = tmp_path / "root"
    prepare_lsvd(src, root, progress=False)
    m = Manifest.load(root)
    assert m.clip_ids() == ["a", "b", "ok"]  # indexed, without the bad side folder
    assert m.clip_frames("a")["mask_path"].isna().all() and pd.isna(m.clip("a").mask_mode)
    assert bool(m.clip("a").has_clean) and not bool(m.clip("b").has_clean)
    assert m.clip_frames("ok")["mask_path"].notna().all()
    problems = {(p["kind"], Path(p["item"]).name, p["skipped"]): p["message"] for p in _report(root)["problems"]}
    assert set(problems) == {("bad_mask_size", "00000009.png", "masks"), ("bad_clean", "00000006.png", "clean")}
    assert "expected mask of 8x12, found 16x24 in 1 of 12 file(s)" in problems["bad_mask_size", "00000009.png",
                                                                                 "masks"]
    again = prepare_lsvd(src, root, progress=False)  # re-indexed, so the report keeps the problems
    assert (again.reused, again.indexed) == (1, 2) and set(again.problems) == {"bad_mask_size", "bad_clean"}


def test_frames_smaller_than_a_mask_block_are_skipped(tmp_path: Path):
    from lsvd.constants import MIN_FRAME_SIZE

    src = make_lsvd_tree(tmp_path / "LSVD", {"train/ok": 12})  # 32x48: exactly the minimum height
    for name, size in (("tiny", (16, 16)), ("narrow", (48, 28))):
        make_lsvd_tree(tmp_path / name, {f"train/{name}": 12}, size=size, masks=True)
        (tmp_path / name / "LSVD_train" / name).rename(src / "LSVD_train" / name)
    prepare_lsvd(src, tmp_path / "root", progress=False)
    assert Manifest.load(tmp_path / "root").clip_ids() == ["ok"]
    problems = {Path(p["item"]).name: p for p in _report(tmp_path / "root")["problems"]}
    assert {n: (p["kind"], p["skipped"]) for n, p in problems.items()} == {
        "tiny": ("frame_too_small", "clip"), "narrow": ("frame_too_small", "clip")}
    assert f"at least {MIN_FRAME_SIZE}x{MIN_FRAME_SIZE} pixels" in problems["narrow"]["message"]
    assert "found 48x28" in problems["narrow"]["message"]


def test_min_frame_size_is_one_mask_block():
    import math

    from lsvd.constants import MIN_FRAME_SIZE
    from lsvd.masks.core import MaskParams

    params = MaskParams()
    assert MIN_FRAME_SIZE == math.ceil(params.block / params.scale)


def test_frame_gaps_are_reported(tmp_path: Path):
    src = make_lsvd_tree(tmp_path / "LSVD", {"train/gap": 12, "train/stride": 11, "train/ok": 12})
    for k in (5, 7):
        (src / f"LSVD_train/gap/{k:08d}.png").unlink()
    stride = src / "LSVD_train/stride"
    for k in range(10, -1, -1):  # every 5th frame kept: a uniform step is no gap
        (stride / f"{k:08d}.png").rename(stride / f"{5 * k:08d}.png")
    root = tmp_path / "root"
    prepare_lsvd(src, root, progress=False)
    m = Manifest.load(root)
    assert m.clip_ids() == ["gap", "ok", "stride"]  # still indexed: a numbering may skip on purpose
    assert m.clip_frames("gap")["frame_number"].tolist() == [0, 1, 2, 3, 4, 6, 8, 9, 10, 11]
    (problem,) = _report(root)["problems"]
    assert (problem["kind"], Path(problem["item"]).name, problem["skipped"]) == ("frame_gap", "gap", "nothing")
    assert "expected consecutive frame numbers from 0 to 11, found 2 missing (e.g. 5, 7)" in problem["message"]
    again = prepare_lsvd(src, root, progress=False)  # reused clips are checked too
    assert again.reused == 3 and again.problems == {"frame_gap": 1}


def test_incremental_reruns(lsvd_tree: Path, tmp_path: Path):
    root = tmp_path / "root"
    first = prepare_lsvd(lsvd_tree, root, progress=False)
    assert (first.indexed, first.reused, first.changed) == (3, 0, True)
    card = [CARD_FILE, *sorted(p.relative_to(root) for p in (root / "hf").glob("*/*.parquet"))]
    stamps = {f: (root / f).stat().st_mtime_ns for f in (CLIPS_FILE, FRAMES_FILE, INFO_FILE, *card)}
    again = prepare_lsvd(lsvd_tree, root, progress=False)
    assert (again.indexed, again.reused, again.changed) == (0, 3, False)
    assert stamps == {f: (root / f).stat().st_mtime_ns for f in stamps}  # nothing rewritten, the card neither
    # change one clip: add a frame; remove another clip
    write_png(lsvd_tree / "LSVD_train/clip_a/00000012.png", smooth_frames(1, 32, 48)[0])
    import shutil

    shutil.rmtree(lsvd_tree / "LSVD_train/clip_b")
    third = prepare_lsvd(lsvd_tree, root, progress=False)
    assert (third.indexed, third.reused, third.removed, third.changed) == (1, 1, 1, True)
    m = Manifest.load(root)
    assert m.clip_ids() == ["clip_a", "clip_c"] and int(m.clip("clip_a").n_frames) == 13


def test_interrupted_write_is_detected_and_recovered(lsvd_tree: Path, tmp_path: Path, monkeypatch):
    root = tmp_path / "root"
    prepare_lsvd(lsvd_tree, root, progress=False)
    write_png(lsvd_tree / "LSVD_train/clip_a/00000012.png", smooth_frames(1, 32, 48)[0])
    real_replace, calls = os.replace, []

    def dying_replace(a, b):
        calls.append(b)
        if str(b).endswith("clips.parquet"):
            raise KeyboardInterrupt("killed between the two manifest files")
        real_replace(a, b)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        prepare_lsvd(lsvd_tree, root, progress=False)
    monkeypatch.setattr(os, "replace", real_replace)
    with pytest.raises(ManifestError, match="inconsistent"):
        Manifest.load(root)
    assert not list(root.rglob(".tmp-*"))
    prepare_lsvd(lsvd_tree, root, progress=False)
    assert int(Manifest.load(root).clip("clip_a").n_frames) == 13


def test_kill_9_never_leaves_a_half_written_manifest(tmp_path: Path):
    src = make_lsvd_tree(tmp_path / "LSVD", {f"train/c{i:02d}": 12 for i in range(40)})
    root = tmp_path / "root"
    cmd = [sys.executable, "-m", "lsvd.prepare", "--lsvd", str(src), "--root", str(root), "--no-progress"]
    subprocess.run(cmd, check=True, capture_output=True)
    for delay in (0.3, 0.6, 0.9, 1.2, 1.5):
        write_png(src / f"LSVD_train/c{int(delay * 10):02d}/00000012.png", smooth_frames(1, 32, 48)[0])
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        try:
            m = Manifest.load(root)  # either the old or the new manifest, never a mix
        except ManifestError as exc:
            assert "inconsistent" in str(exc)
        else:
            assert len(m.frames) == int(m.clips["n_frames"].sum())
    subprocess.run(cmd, check=True, capture_output=True)
    m = Manifest.load(root)
    assert len(m.clips) == 40 and len(m.frames) == 40 * 12 + 5


def test_unknown_format_version_is_refused(lsvd_tree: Path, tmp_path: Path):
    root = tmp_path / "root"
    prepare_lsvd(lsvd_tree, root, progress=False)
    info = json.loads((root / INFO_FILE).read_text())
    info["format_version"] = "2.0"
    (root / INFO_FILE).write_text(json.dumps(info))
    with pytest.raises(ManifestError, match="format version 2.0.*Re-index"):
        Manifest.load(root)


def test_root_bound_to_one_source_kind(lsvd_tree: Path, tmp_path: Path, real_clips: Path):
    from lsvd.prepare import prepare_videos

    root = tmp_path / "root"
    prepare_lsvd(lsvd_tree, root, progress=False)
    with pytest.raises(ManifestError, match="another --root"):
        prepare_videos([real_clips / "Input" / "input_9.avi"], root, progress=False)


def test_cli(lsvd_tree: Path, tmp_path: Path, capsys):
    assert main(["--lsvd", str(lsvd_tree), "--root", str(tmp_path / "root"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "3 (test: 1, train: 2); 36 frames" in out and "manifests written" in out
    assert main(["--lsvd", str(tmp_path / "nowhere"), "--root", str(tmp_path / "r2"), "--no-progress"]) == 2
    assert "expected the LSVD layout" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "Examples" in capsys.readouterr().out
