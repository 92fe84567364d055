"""Tests for the synthetic mini-LSVD generator (tiny preset, temporary folders)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lsvd.data.synthetic import (
    DENSITY_SCALE,
    GENERATOR_VERSION,
    PRESETS,
    SyntheticClip,
    SyntheticConfig,
    generate,
    render_clip,
    save_contact_sheet,
)
from lsvd.io.images import probe_image, read_gray, read_rgb

TINY = PRESETS["tiny"]
SPLIT_DIRS = ("LSVD_{}", "LSVD_{}_clean", "LSVD_{}_density")


def _frame(root: Path, folder: str, clip: SyntheticClip, i: int) -> Path:
    return root / folder.format(clip.split) / clip.name / f"{i:08d}.png"


def _mtimes(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file: a rewritten file differs even within the clock's resolution."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_ino, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SyntheticClip]]:
    root = tmp_path_factory.mktemp("synthetic") / "mini"
    clips = generate(root, TINY, progress=False)
    return root, clips


@pytest.fixture(scope="module")
def tiny_rendered() -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray, SyntheticClip]]:
    return {(s, i): render_clip(TINY, s, i) for s in ("train", "test") for i in range(TINY.n_clips(s))}


# --- configuration ------------------------------------------------------------------------------


def test_presets() -> None:
    assert PRESETS["default"] == SyntheticConfig()
    d = PRESETS["default"]
    assert (d.n_train, d.n_test, d.n_frames, d.height, d.width) == (8, 4, 30, 256, 320)
    assert (TINY.n_train, TINY.n_test, TINY.n_frames, TINY.height, TINY.width) == (2, 2, 12, 64, 96)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_frames": 9}, "n_frames must be >= 10"),
        ({"n_frames": 10, "onset_max": 9}, "onset_max must be < n_frames - 1"),
        ({"onset_min": 0}, "onset_min must be >= 1"),
        ({"onset_min": 6, "onset_max": 5}, "onset_max (5) must be >= onset_min (6)"),
        ({"height": 30}, "height must be a multiple of 4 and >= 32, got 30"),
        ({"width": 98}, "width must be a multiple of 4 and >= 32, got 98"),
        ({"n_train": 0, "n_test": 0}, "at least one clip"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"height": 64.0}, "height must be an int"),
    ],
)
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        SyntheticConfig(**kwargs)
    assert message in str(info.value)


def test_config_validation_reports_all_problems() -> None:
    with pytest.raises(ValueError) as info:
        SyntheticConfig(n_frames=8, height=33, onset_min=0)
    text = str(info.value)
    assert "n_frames" in text and "height" in text and "onset_min" in text


def test_numpy_ints_are_accepted() -> None:
    cfg = SyntheticConfig(n_train=np.int64(1), n_test=np.int32(0))
    assert type(cfg.n_train) is int and json.dumps(dataclasses.asdict(cfg))


def test_render_rejects_bad_split_and_index() -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        render_clip(TINY, "val", 0)
    with pytest.raises(ValueError, match=r"index must be in \[0, 2\)"):
        render_clip(TINY, "train", 2)


# --- rendering ------------------------------------------------------------------------------------


def test_render_shapes_ranges_and_metadata(tiny_rendered: dict) -> None:
    for (split, index), (smoky, clean, density, clip) in tiny_rendered.items():
        t, h, w = TINY.n_frames, TINY.height, TINY.width
        assert smoky.shape == clean.shape == (t, h, w, 3) and smoky.dtype == clean.dtype == np.uint8
        assert density.shape == (t, h, w) and density.dtype == np.float32
        assert density.min() >= 0.0 and density.max() <= 1.0
        assert clip.name == f"synth_{split}_{index:03d}" and clip.split == split and clip.n_frames == t
        assert TINY.onset_min <= clip.onset_index <= TINY.onset_max
        assert 0.5 < clip.beta < 5.0
        assert len(clip.airlight) == 3 and all(0.8 <= a <= 1.0 for a in clip.airlight)
        assert isinstance(clip.seed, int)
        # A laparoscopic scene: reddish tissue, not a flat image.
        mean = clean[0].reshape(-1, 3).mean(0)
        assert mean[0] > mean[1] + 20 and mean[0] > mean[2] + 20
        assert clean[0].std() > 15


def test_render_is_deterministic_and_seeded() -> None:
    a = render_clip(TINY, "train", 1)
    b = render_clip(TINY, "train", 1)
    for x, y in zip(a[:3], b[:3], strict=True):
        assert np.array_equal(x, y)
    assert a[3] == b[3]
    other_seed = render_clip(dataclasses.replace(TINY, seed=1), "train", 1)
    assert not np.array_equal(a[1], other_seed[1])
    assert other_seed[3].seed != a[3].seed
    other_split = render_clip(TINY, "test", 1)
    assert not np.array_equal(a[1], other_split[1])


def test_clip_counts_do_not_change_clip_content() -> None:
    a = render_clip(TINY, "train", 0)
    b = render_clip(dataclasses.replace(TINY, n_train=5, n_test=0), "train", 0)
    assert np.array_equal(a[0], b[0]) and a[3] == b[3]


def test_smoke_free_before_onset_and_spreading_after(tiny_rendered: dict) -> None:
    for smoky, clean, density, clip in tiny_rendered.values():
        k = clip.onset_index
        assert np.all(density[:k] == 0.0)
        assert np.array_equal(smoky[:k], clean[:k])
        # A clearly visible puff already at the onset frame ...
        assert density[k].max() > 0.3
        diff = np.abs(smoky[k].astype(int) - clean[k].astype(int)).max(axis=-1)
        assert (diff > 20).sum() >= 10
        # ... that brightens the frame towards the whitish airlight ...
        assert smoky[k].astype(int).sum() > clean[k].astype(int).sum()
        # ... and spreads: the density mass grows over the first frames after onset.
        mass = density.sum(axis=(1, 2))
        assert np.all(np.diff(mass[k : k + 4]) > 0), mass[k : k + 4]


def test_instruments_and_camera_move(tiny_rendered: dict) -> None:
    clean = tiny_rendered[("train", 0)][1].astype(np.float32)
    step = np.abs(np.diff(clean, axis=0)).mean(axis=(1, 2, 3))
    assert np.all(step > 0.1)  # every frame differs from the previous one ...
    assert np.all(step < 25.0)  # ... but the motion is smooth


# --- writing the dataset --------------------------------------------------------------------------


def test_layout_and_png_sizes(tiny_dataset: tuple[Path, list[SyntheticClip]]) -> None:
    root, clips = tiny_dataset
    assert [c.name for c in clips] == ["synth_train_000", "synth_train_001", "synth_test_000", "synth_test_001"]
    expected_dirs = {d.format(s) for d in SPLIT_DIRS for s in ("train", "test")}
    assert {p.name for p in root.iterdir() if p.is_dir()} == expected_dirs
    assert (root / "synthetic.json").is_file() and (root / "contact_sheet.png").is_file()
    names = [f"{i:08d}.png" for i in range(TINY.n_frames)]
    for clip in clips:
        for folder in SPLIT_DIRS:
            d = root / folder.format(clip.split) / clip.name
            assert sorted(p.name for p in d.iterdir()) == names
        head = probe_image(_frame(root, "LSVD_{}", clip, 0))
        assert (head.width, head.height, head.channels) == (TINY.width, TINY.height, 3)
        assert read_rgb(_frame(root, "LSVD_{}_clean", clip, 3)).shape == (TINY.height, TINY.width, 3)
        d16 = read_gray(_frame(root, "LSVD_{}_density", clip, TINY.n_frames - 1))
        assert d16.dtype == np.uint16 and d16.shape == (TINY.height, TINY.width)


def test_files_match_render_and_scattering_model(
    tiny_dataset: tuple[Path, list[SyntheticClip]], tiny_rendered: dict
) -> None:
    root, clips = tiny_dataset
    for clip in clips:
        smoky_r, clean_r, density_r, clip_r = tiny_rendered[(clip.split, int(clip.name[-3:]))]
        assert clip == clip_r
        airlight = np.asarray(clip.airlight)
        for i in range(clip.n_frames):
            smoky = read_rgb(_frame(root, "LSVD_{}", clip, i)).astype(np.float64)
            clean = read_rgb(_frame(root, "LSVD_{}_clean", clip, i)).astype(np.float64)
            density = read_gray(_frame(root, "LSVD_{}_density", clip, i)).astype(np.float64) / DENSITY_SCALE
            assert np.array_equal(smoky, smoky_r[i]) and np.array_equal(clean, clean_r[i])
            assert np.array_equal(density.astype(np.float32), density_r[i])
            t = np.exp(-clip.beta * density)[..., None]
            expected = clean * t + 255.0 * airlight * (1.0 - t)
            assert np.abs(smoky - expected).max() <= 1.0
            if i == 0:
                assert density.max() == 0.0 and np.array_equal(smoky, clean)


def test_scattering_check_detects_wrong_parameters(tiny_dataset: tuple[Path, list[SyntheticClip]]) -> None:
    """The model check above can fail: a wrong beta breaks it on a smoky frame."""
    root, clips = tiny_dataset
    clip = clips[0]
    i = clip.n_frames - 1
    smoky = read_rgb(_frame(root, "LSVD_{}", clip, i)).astype(np.float64)
    clean = read_rgb(_frame(root, "LSVD_{}_clean", clip, i)).astype(np.float64)
    density = read_gray(_frame(root, "LSVD_{}_density", clip, i)).astype(np.float64) / DENSITY_SCALE
    t = np.exp(-0.5 * clip.beta * density)[..., None]
    assert np.abs(smoky - (clean * t + 255.0 * np.asarray(clip.airlight) * (1.0 - t))).max() > 1.0


def test_manifest_content(tiny_dataset: tuple[Path, list[SyntheticClip]]) -> None:
    root, clips = tiny_dataset
    doc = json.loads((root / "synthetic.json").read_text())
    assert doc["generator"] == "lsvd.data.synthetic"
    assert doc["version"] == GENERATOR_VERSION
    assert doc["config"] == dataclasses.asdict(TINY)
    assert "65535" in doc["density_encoding"]
    assert doc["clips"] == [json.loads(json.dumps(dataclasses.asdict(c))) for c in clips]
    assert [SyntheticClip.from_dict(c) for c in doc["clips"]] == clips
    assert not (root / ".synthetic.partial.json").exists()


def test_contact_sheet(tiny_dataset: tuple[Path, list[SyntheticClip]], tmp_path: Path) -> None:
    root, clips = tiny_dataset
    sheet = read_rgb(root / "contact_sheet.png")
    # Six columns of tiles at least 192 pixels wide; one row per clip, with labels.
    assert sheet.shape[1] == 6 * 192
    assert sheet.shape[0] > 4 * (192 * TINY.height // TINY.width)
    path = save_contact_sheet(root, clips, tmp_path / "two.png", n_clips=2)
    two = read_rgb(path)
    assert two.shape[1] == sheet.shape[1] and two.shape[0] < sheet.shape[0]


def test_second_run_rewrites_nothing(tiny_dataset: tuple[Path, list[SyntheticClip]]) -> None:
    root, clips = tiny_dataset
    before = _mtimes(root)
    again = generate(root, TINY, progress=False)
    assert again == clips
    assert _mtimes(root) == before


def test_config_change_regenerates_and_removes_owned_clips(tmp_path: Path) -> None:
    root = tmp_path / "mini"
    generate(root, TINY, progress=False)
    foreign = root / "LSVD_train" / "real_clip"
    foreign.mkdir()
    (foreign / "00000000.png").write_bytes(b"not ours")
    before = _mtimes(root)

    # Fewer clips: the dropped clip's folders go, the kept clips are not rewritten.
    fewer = dataclasses.replace(TINY, n_train=1)
    clips = generate(root, fewer, progress=False)
    assert [c.name for c in clips] == ["synth_train_000", "synth_test_000", "synth_test_001"]
    for folder in SPLIT_DIRS:
        assert not (root / folder.format("train") / "synth_train_001").exists()
    after = _mtimes(root)
    kept = [k for k in before if "synth_train_000" in k or "synth_test_" in k]
    assert kept and all(after[k] == before[k] for k in kept)
    assert (foreign / "00000000.png").read_bytes() == b"not ours"
    assert json.loads((root / "synthetic.json").read_text())["config"]["n_train"] == 1

    # A new seed changes every clip's bytes: everything is rewritten.
    old_frame = read_rgb(root / "LSVD_test" / "synth_test_000" / "00000000.png")
    reseeded = dataclasses.replace(fewer, seed=7)
    clips = generate(root, reseeded, progress=False)
    doc = json.loads((root / "synthetic.json").read_text())
    assert doc["config"]["seed"] == 7 and len(doc["clips"]) == 3
    assert not np.array_equal(old_frame, read_rgb(root / "LSVD_test" / "synth_test_000" / "00000000.png"))
    smoky, *_ = render_clip(reseeded, "test", 0)
    assert np.array_equal(smoky[0], read_rgb(root / "LSVD_test" / "synth_test_000" / "00000000.png"))
    assert (foreign / "00000000.png").exists()


def test_incomplete_clip_is_rewritten_alone(tmp_path: Path) -> None:
    root = tmp_path / "mini"
    generate(root, TINY, progress=False)
    broken = root / "LSVD_test_density" / "synth_test_001" / "00000005.png"
    broken.unlink()
    stray = root / "LSVD_train" / ".tmp-synth_train_000.abc123"  # left by a killed run
    stray.mkdir()
    before = _mtimes(root)
    generate(root, TINY, progress=False)
    after = _mtimes(root)
    assert broken.is_file() and not stray.exists()
    untouched = [k for k in before if "synth_train_" in k or "synth_test_000" in k]
    assert untouched and all(after[k] == before[k] for k in untouched)
    rewritten = [k for k in before if "synth_test_001" in k]
    assert rewritten and all(after[k] != before[k] for k in rewritten)


def test_unknown_version_regenerates(tmp_path: Path) -> None:
    root = tmp_path / "mini"
    cfg = dataclasses.replace(TINY, n_test=0, n_train=1)
    generate(root, cfg, progress=False)
    manifest = root / "synthetic.json"
    doc = json.loads(manifest.read_text())
    doc["version"] = "0.0.0-old"
    manifest.write_text(json.dumps(doc))
    before = _mtimes(root)
    generate(root, cfg, progress=False)
    after = _mtimes(root)
    frames = [k for k in before if k.endswith(".png") and "synth_" in k]
    assert frames and all(after[k] != before[k] for k in frames)
    assert json.loads(manifest.read_text())["version"] == GENERATOR_VERSION
    shutil.rmtree(root)
