"""Torch datasets: the official training window (crop, mask crop, flip) and whole test clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lsvd.data.datasets import TestClips, TrainWindows
from lsvd.data.manifest import Manifest
from lsvd.io.images import read_gray, read_rgb, write_png
from lsvd.prepare import prepare_lsvd, prepare_videos
from tests.conftest import make_lsvd_tree, make_video


@pytest.fixture
def root(tmp_path: Path) -> Path:
    src = make_lsvd_tree(tmp_path / "LSVD", {"train/a": 12, "train/b": 14, "test/c": 11}, size=(40, 48),
                         masks=True, clean=True)
    rng = np.random.default_rng(0)
    for m in (src / "LSVD_train_mask" / "a").iterdir():  # a random block mask, so crops are checkable
        write_png(m, (rng.random((10, 12)) > 0.5).astype(np.uint8) * 255)
    prepare_lsvd(src, tmp_path / "root", progress=False)
    return tmp_path / "root"


def _tensor_img(t: torch.Tensor) -> np.ndarray:
    return (t.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def test_train_window_matches_the_official_sample(root: Path):
    torch.manual_seed(0)
    ds = TrainWindows(root, crop_size=16, with_clean=True)
    m = Manifest.load(root)
    assert len(ds) == 2
    seen_flip = set()
    for _ in range(30):
        item = ds[0]
        assert item["lqs"].shape == (5, 3, 16, 16) and item["lqs"].dtype == torch.float32
        assert item["ps"].shape == (3, 16, 16) and item["mask"].shape == (5, 1, 4, 4)
        assert item["clean"].shape == (5, 3, 16, 16)
        assert 0 <= item["lqs"].min() and item["lqs"].max() <= 1
        numbers = item["frame_numbers"].tolist()
        assert numbers == list(range(numbers[0], numbers[0] + 5)) and 1 <= numbers[0] <= 12 - 5
        top, left, flipped = item["crop"].tolist()
        seen_flip.add(flipped)
        frames = m.clip_frames(item["clip_id"])
        flip = (lambda a: a[:, ::-1]) if flipped else (lambda a: a)
        full_ps = read_rgb(m.resolve(frames.at[0, "path"]))
        assert np.array_equal(_tensor_img(item["ps"]), flip(full_ps[top:top + 16, left:left + 16]))
        lq2 = read_rgb(m.resolve(frames.at[numbers[2], "path"]))
        assert np.array_equal(_tensor_img(item["lqs"][2]), flip(lq2[top:top + 16, left:left + 16]))
        mask = read_gray(m.resolve(frames.at[9, "mask_path"])) > 127  # the clip's mask = mask of frame 9
        expect = flip(mask[top // 4:(top + 16) // 4, left // 4:(left + 16) // 4])
        assert all(np.array_equal(m[0].numpy() > 0.5, expect) for m in item["mask"])
    assert seen_flip == {0, 1}


def test_train_windows_in_dataloader_workers(root: Path):
    ds = TrainWindows(root, crop_size=16, repeat=4)
    loader = DataLoader(ds, batch_size=4, num_workers=2, generator=torch.Generator().manual_seed(1),
                        persistent_workers=False)
    batches = list(loader)
    assert len(batches) == 2 and batches[0]["lqs"].shape == (4, 5, 3, 16, 16)
    crops = {tuple(c.tolist()) for b in batches for c in b["crop"]}
    assert len(crops) > 2  # workers draw different crops
    again = list(DataLoader(ds, batch_size=4, num_workers=2, generator=torch.Generator().manual_seed(1)))
    assert all(torch.equal(a["lqs"], b["lqs"]) for a, b in zip(batches, again, strict=True))  # seeded


def test_train_windows_validation(root: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="multiple of 4"):
        TrainWindows(root, crop_size=18)
    with pytest.raises(ValueError, match="no clip of split"):
        TrainWindows(root, crop_size=64)
    with pytest.raises(ValueError, match="unknown split"):
        TrainWindows(root, split="val")
    src = make_lsvd_tree(tmp_path / "nomask", {"train/a": 12})
    prepare_lsvd(src, tmp_path / "r2", progress=False)
    with pytest.raises(ValueError, match="python -m lsvd.masks"):
        TrainWindows(tmp_path / "r2", crop_size=16)
    item = TrainWindows(tmp_path / "r2", crop_size=16, require_mask=False)[0]
    assert item["mask"].sum() == 0
    with pytest.raises(ValueError, match="no clean"):
        TrainWindows(tmp_path / "r2", crop_size=16, require_mask=False, with_clean=True)


def test_test_clips_whole_clip(root: Path):
    ds = TestClips(root, with_clean=True)
    item = ds[0]
    assert item["clip_id"] == "c" and item["lqs"].shape == (10, 3, 40, 48)
    assert item["frame_numbers"].tolist() == list(range(1, 11))
    m = Manifest.load(root)
    assert np.array_equal(_tensor_img(item["ps"]), read_rgb(m.resolve(m.clip_frames("c").at[0, "path"])))
    assert np.array_equal(_tensor_img(item["clean"][0]), read_rgb(m.resolve(m.clip_frames("c").at[1, "clean_path"])))


def test_video_stored_clips(tmp_path: Path):
    make_video(tmp_path / "in" / "v.mp4", n=12, size=(32, 48))
    prepare_videos([tmp_path / "in"], tmp_path / "root", progress=False)
    item = TestClips(tmp_path / "root")[0]
    assert item["lqs"].shape == (11, 3, 32, 48) and item["frame_numbers"].tolist() == list(range(1, 12))
    window = TrainWindows(tmp_path / "root", split="test", crop_size=16, require_mask=False)[0]
    assert window["lqs"].shape == (5, 3, 16, 16)
