"""`python -m lsvd.masks` / `prepare --masks`: modes, manifest columns, resume, shards, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lsvd.constants import CLIPS_FILE, FRAMES_FILE
from lsvd.data.datasets import TrainWindows
from lsvd.data.manifest import Manifest
from lsvd.data.problems import BadInputError
from lsvd.io.images import read_gray, read_rgb
from lsvd.masks import pipeline
from lsvd.masks.pipeline import generate_masks, plan_clip
from lsvd.prepare import main as prepare_main
from lsvd.prepare import prepare_lsvd, prepare_synthetic
from tests.conftest import make_lsvd_tree


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny") / "root"
    prepare_synthetic(root, preset="tiny", progress=False)
    return root


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_plan_clip():
    assert plan_clip(12, 0, "official") == (4, [9])
    assert plan_clip(4, 0, "ps") == (0, [1, 2, 3])
    with pytest.raises(ValueError, match="frames 4 .* and 9"):
        plan_clip(9, 0, "official")
    with pytest.raises(ValueError, match="unknown mask mode"):
        plan_clip(12, 0, "magic")


def test_official_masks_recorded_and_match_the_core(tiny_root: Path, tmp_path: Path):
    from lsvd.flow import create_flow
    from lsvd.masks.core import MaskParams, block_mask, prepare_frame, prepare_reference

    root = _copy(tiny_root, tmp_path / "root")
    s = generate_masks(root, progress=False)
    assert (s.computed, s.masks_written, s.manifest_updated) == (4, 4, True)
    m = Manifest.load(root)
    assert set(m.clips["mask_mode"]) == {"official"} and set(m.clips["mask_flow"]) == {"dis"}
    assert set(m.clips["mask_params"]) == {MaskParams().digest()}
    assert m.info["masks"]["mode"] == "official" and m.info["masks"]["flow_backend"] == "dis"
    cid = m.clip_ids()[0]
    frames = m.clip_frames(cid)
    assert frames["mask_path"].notna().tolist() == [i == 9 for i in range(12)]
    mask = read_gray(m.resolve(frames.at[9, "mask_path"]))
    assert mask.shape == (16, 24) and set(np.unique(mask)) <= {0, 255}
    assert frames.at[9, "mask_ratio"] == pytest.approx((mask > 0).mean())
    # the written mask is the core's mask of frame 9 against the reference frame 4, with the same flow
    ref_q = prepare_reference(read_rgb(m.resolve(frames.at[4, "path"])), MaskParams())
    frame_q = prepare_frame(read_rgb(m.resolve(frames.at[9, "path"])), MaskParams())
    flow = pipeline.numpy_flow(create_flow("dis"))(ref_q, frame_q)
    expect, _ = block_mask(ref_q, frame_q, flow, MaskParams())
    assert np.array_equal(mask > 0, expect.astype(bool))
    item = TrainWindows(root, crop_size=32)[0]  # masks now present: require_mask passes
    assert item["mask"].shape == (5, 1, 8, 8)
    # a second run recomputes nothing and rewrites nothing
    stamps = {f: (root / f).stat().st_mtime_ns for f in (CLIPS_FILE, FRAMES_FILE)}
    again = generate_masks(root, progress=False)
    assert (again.computed, again.reused, again.manifest_updated) == (0, 4, False)
    assert stamps == {f: (root / f).stat().st_mtime_ns for f in stamps}


def test_ps_mode_one_mask_per_frame(tiny_root: Path, tmp_path: Path):
    root = _copy(tiny_root, tmp_path / "root")
    s = generate_masks(root, mode="ps", progress=False)
    assert s.masks_written == 4 * 11
    m = Manifest.load(root)
    frames = m.clip_frames(m.clip_ids()[0])
    assert frames["mask_path"].notna().tolist() == [False] + [True] * 11
    assert set(m.clips["mask_mode"]) == {"ps"}
    from lsvd.data.datasets import TestClips

    item = TestClips(root, require_mask=True)[0]
    per_frame = [read_gray(m.resolve(p)) > 0 for p in m.clip_frames(item["clip_id"])["mask_path"][1:]]
    assert np.array_equal(item["mask"][:, 0].numpy() > 0.5, np.stack(per_frame))


def test_resume_after_a_kill_and_shard_merge(tiny_root: Path, tmp_path: Path, monkeypatch):
    root = _copy(tiny_root, tmp_path / "root")

    def killed(*a, **k):
        raise KeyboardInterrupt("killed before the manifest was written")

    monkeypatch.setattr(pipeline, "_record", killed)
    with pytest.raises(KeyboardInterrupt):
        generate_masks(root, progress=False)
    monkeypatch.undo()
    assert Manifest.load(root).frames["mask_path"].isna().all()  # manifests untouched
    resumed = generate_masks(root, progress=False)
    assert (resumed.computed, resumed.reused, resumed.manifest_updated) == (0, 4, True)

    root2 = _copy(tiny_root, tmp_path / "root2")
    for i in range(2):
        s = generate_masks(root2, mode="ps", num_shards=2, shard_index=i, progress=False)
        assert s.computed == 2 and not s.manifest_updated and "sharded run" in s.render()
    assert Manifest.load(root2).frames["mask_path"].isna().all()
    merged = generate_masks(root2, mode="ps", progress=False)
    assert (merged.computed, merged.manifest_updated) == (0, True)
    assert Manifest.load(root2).frames["mask_path"].notna().sum() == 44


def test_changed_options_recompute(tiny_root: Path, tmp_path: Path):
    root = _copy(tiny_root, tmp_path / "root")
    generate_masks(root, progress=False)
    s = generate_masks(root, mode="ps", progress=False)
    assert s.computed == 4


def test_frames_smaller_than_a_block_are_refused_at_prepare(tmp_path: Path):
    src = make_lsvd_tree(tmp_path / "LSVD", {"train/small": 12, "train/ok": 12}, size=(16, 16))
    make_lsvd_tree(tmp_path / "LSVD2", {"train/big": 12}, size=(64, 64))
    (tmp_path / "LSVD2/LSVD_train/big").rename(src / "LSVD_train/big")
    summary = prepare_lsvd(src, tmp_path / "root", progress=False)
    assert summary.problems == {"frame_too_small": 2} and summary.clips == 1  # not later, in the masks
    report = json.loads((tmp_path / "root/meta/report.json").read_text())
    assert "32" in report["problems"][0]["message"]
    s = generate_masks(tmp_path / "root", progress=False)
    assert s.problems == {} and s.computed == 1
    with pytest.raises(BadInputError, match="frame_too_small"):
        prepare_lsvd(src, tmp_path / "root2", strict=True, progress=False)


def test_cli_and_prepare_masks(tmp_path: Path, capsys):
    from lsvd.masks.__main__ import main

    assert main(["--list-flows"]) == 0 and "dis" in capsys.readouterr().out
    assert prepare_main(["--data-preset", "tiny", "--root", str(tmp_path / "r"), "--no-progress", "--masks"]) == 0
    out = capsys.readouterr().out
    assert "masks          mode official, flow dis" in out
    assert main(["--root", str(tmp_path / "r"), "--no-progress"]) == 0 and "0 computed" in capsys.readouterr().out
    assert main(["--root", str(tmp_path / "r"), "--flow", "raft", "--mode", "ps", "--no-progress"]) == 2
    assert "unknown flow" in capsys.readouterr().err
    assert main(["--root", str(tmp_path / "nowhere"), "--no-progress"]) == 2


def test_real_clips_in_one_command(real_clips: Path, tmp_path: Path, capsys):
    args = ["--videos", str(real_clips / "Input" / "input_2.avi"), str(real_clips / "Input" / "input_9.avi"),
            "--root", str(tmp_path / "real"), "--no-progress", "--masks"]
    assert prepare_main(args) == 0
    m = Manifest.load(tmp_path / "real")
    for cid in m.clip_ids():
        mask = read_gray(m.resolve(m.clip_frames(cid).at[9, "mask_path"]))
        assert mask.shape == (64, 64)
    assert set(m.clips["mask_mode"]) == {"official"}
