"""lsvd.hf: datasets views of a root, the dataset card (offline load_dataset) and the Hub folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import datasets  # noqa: E402

from lsvd import hf  # noqa: E402
from lsvd.data.manifest import COLUMN_DOCS, Manifest, write_manifest  # noqa: E402
from lsvd.io.images import write_png  # noqa: E402
from lsvd.io.video import read_frames, write_video  # noqa: E402

H, W = 32, 48
SIZES = {"a": 12, "b": 10, "v": 10}


def _frames(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, H, W, 3), dtype=np.uint8)


def _clip_row(clip_id: str, split: str, storage: str, n: int, ps: int, *, has_clean: bool, licence: str) -> dict:
    return {
        "clip_id": clip_id, "split": split, "source": "synthetic", "source_uri": f"test:{clip_id}",
        "storage": storage, "n_frames": n, "height": H, "width": W, "fps": 10.0 if storage == "video" else None,
        "ps_frame_index": ps, "smoke_onset_index": ps + 1, "onset_source": "given", "mask_ref_index": 9,
        "has_clean": has_clean, "metric_ref_path": None, "licence": licence, "fingerprint": f"fp-{clip_id}",
        "split_seed0": "train" if clip_id == "a" else "test",
    }


def _frame_rows(clip_id: str, paths: list[str], ps: int, **cols) -> pd.DataFrame:
    n = len(paths)
    return pd.DataFrame({
        "clip_id": clip_id, "frame_index": np.arange(n), "frame_number": np.arange(n) + 3, "role":
        ["ps" if i == ps else "smoky" for i in range(n)], "path": paths,
        "timestamp_s": cols.get("timestamp_s", [None] * n), "mask_path": cols.get("mask_path", [None] * n),
        "clean_path": cols.get("clean_path", [None] * n), "density_path": [None] * n,
        "smoke_score": np.linspace(0, 1, n), "bytes": [100] * n, "mtime_ns": [1] * n, "sha256": [None] * n,
    })


def build_root(base: Path) -> dict:
    """A tiny root: clip a (train, PNGs under the root, clean frames), clip b (test, PNGs indexed in place
    outside the root, PS at index 1, masks under the root), clip v (test, frames inside a video outside it)."""
    root, src = base / "root", base / "src"
    pix = {"a": _frames(12, 1), "b": _frames(10, 2), "clean_a": 255 - _frames(12, 1), "v": _frames(13, 3)}
    pix["mask_b"] = np.where(np.random.default_rng(4).random((10, H // 4, W // 4)) > 0.5, 255, 0).astype(np.uint8)
    for i in range(12):
        for rel, img in ((f"frames/a/{i:08d}.png", pix["a"][i]), (f"clean/a/{i:08d}.png", pix["clean_a"][i])):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            write_png(root / rel, img)
    for i in range(10):
        (src / "LSVD_test/b").mkdir(parents=True, exist_ok=True)
        (root / "masks/b").mkdir(parents=True, exist_ok=True)
        write_png(src / f"LSVD_test/b/{i:08d}.png", pix["b"][i])
        write_png(root / f"masks/b/{i:08d}.png", pix["mask_b"][i])
    video = src / "v.mp4"
    write_video(video, pix["v"], fps=10.0)
    clips = pd.DataFrame([
        _clip_row("a", "train", "png", 12, 0, has_clean=True, licence="CC0-1.0"),
        _clip_row("b", "test", "png", 10, 1, has_clean=False, licence="CC0-1.0"),
        _clip_row("v", "test", "video", 10, 0, has_clean=False, licence="Custom research licence"),
    ])
    frames = pd.concat([
        _frame_rows("a", [f"frames/a/{i:08d}.png" for i in range(12)], 0,
                    clean_path=[f"clean/a/{i:08d}.png" for i in range(12)]),
        _frame_rows("b", [(src / f"LSVD_test/b/{i:08d}.png").as_posix() for i in range(10)], 1,
                    mask_path=[f"masks/b/{i:08d}.png" for i in range(10)]),
        _frame_rows("v", [video.as_posix()] * 10, 0, timestamp_s=[(i + 3) / 10 for i in range(10)]),
    ], ignore_index=True)
    write_manifest(root, clips, frames, source={"kind": "lsvd", "uri": src.as_posix(), "inputs": [src.as_posix()],
                                                "description": "unit-test root"})
    return {"root": root, "src": src, "video": video, **pix}


@pytest.fixture
def tiny(tmp_path: Path) -> dict:
    return build_root(tmp_path)


def _px(image) -> np.ndarray:
    return np.asarray(image)


def _by_clip(ds: datasets.Dataset, clip_id: str) -> list[dict]:
    return [row for row in ds if row["clip_id"] == clip_id]


def test_load_frames_config(tiny):
    dd = hf.load(tiny["root"])
    assert isinstance(dd, datasets.DatasetDict) and sorted(dd) == ["test", "train"]
    assert dd["train"].num_rows == 12 and dd["test"].num_rows == 20
    feats = dd["train"].features
    for name in ("image", "ps_image", "mask", "clean", "density"):
        assert isinstance(feats[name], datasets.Image)
    assert isinstance(feats["video"], datasets.Video) and feats["video"].decode is False
    assert feats["frame_index"] == datasets.Value("int32") and feats["smoke_score"] == datasets.Value("float32")

    rows = list(dd["train"])
    assert [r["frame_index"] for r in rows] == list(range(12))
    for i, row in enumerate(rows):
        assert np.array_equal(_px(row["image"]), tiny["a"][i])
        assert np.array_equal(_px(row["ps_image"]), tiny["a"][0])
        assert np.array_equal(_px(row["clean"]), tiny["clean_a"][i])
        assert row["mask"] is None and row["density"] is None and row["video"] is None
        assert row["split"] == "train" and row["storage"] == "png" and row["path"] == f"frames/a/{i:08d}.png"

    b = _by_clip(dd["test"], "b")
    assert len(b) == 10
    for i, row in enumerate(b):
        assert np.array_equal(_px(row["image"]), tiny["b"][i])  # absolute path outside the root
        assert np.array_equal(_px(row["ps_image"]), tiny["b"][1])  # role ps, not frame 0
        assert row["mask"].mode == "L" and np.array_equal(_px(row["mask"]), tiny["mask_b"][i])
        assert row["clean"] is None
    assert [r["role"] for r in b][:2] == ["smoky", "ps"]

    v = _by_clip(dd["test"], "v")
    assert len(v) == 10
    video_px = read_frames(tiny["video"], range(3, 13))
    for i, row in enumerate(v):  # frames inside a video: decoded with PyAV as the rows are read
        assert np.array_equal(_px(row["image"]), video_px[i + 3]) and np.array_equal(_px(row["ps_image"]), video_px[3])
        assert row["video"] == {"path": tiny["video"].as_posix(), "bytes": None}
        assert row["frame_number"] == i + 3 and row["timestamp_s"] == pytest.approx((i + 3) / 10)
        assert row["storage"] == "video"


def test_load_clips_config_and_split(tiny):
    test = hf.load(tiny["root"], "clips", split="test")
    assert isinstance(test, datasets.Dataset) and test.num_rows == 2
    feats = test.features
    assert isinstance(feats["ps_image"], datasets.Image) and isinstance(feats["video"], datasets.Video)
    assert isinstance(feats["frames"].feature, datasets.Image)
    assert feats["split_seed0"] == datasets.Value("string")
    b, v = list(test)
    assert (b["clip_id"], v["clip_id"]) == ("b", "v")
    assert b["n_frames"] == 10 and b["ps_frame_index"] == 1 and b["licence"] == "CC0-1.0"
    assert [np.array_equal(_px(f), tiny["b"][i]) for i, f in enumerate(b["frames"])] == [True] * 10
    assert np.array_equal(_px(b["ps_image"]), tiny["b"][1])
    assert len(b["masks"]) == 10 and np.array_equal(_px(b["masks"][3]), tiny["mask_b"][3])
    assert b["clean_frames"] is None and b["densities"] is None and b["video"] is None
    video_px = read_frames(tiny["video"], range(3, 13))
    assert [np.array_equal(_px(f), video_px[i + 3]) for i, f in enumerate(v["frames"])] == [True] * 10
    assert np.array_equal(_px(v["ps_image"]), video_px[3]) and v["masks"] is None
    assert v["video"] == {"path": tiny["video"].as_posix(), "bytes": None}

    train = hf.load(tiny["root"], "clips", split="train")
    (a,) = list(train)
    assert len(a["clean_frames"]) == 12 and np.array_equal(_px(a["clean_frames"][5]), tiny["clean_a"][5])
    assert a["masks"] is None and a["split_seed0"] == "train"


def test_load_rejects_unknown_config_and_split(tiny):
    with pytest.raises(ValueError, match="unknown config 'pairs'"):
        hf.load(tiny["root"], "pairs")
    with pytest.raises(ValueError, match=r"unknown split 'val'.*\['test', 'train'\]"):
        hf.load(tiny["root"], split="val")


def _as_rows(ds: datasets.Dataset, root: Path | None = None) -> list[dict]:
    """Rows as plain values; with ``root``, relative image/video paths made absolute against it."""
    def resolve(value):
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict) and set(value) == {"bytes", "path"} and value["path"] is not None:
            return {**value, "path": os.path.join(root, value["path"])}  # join keeps absolute paths
        return value

    rows = ds.with_format("arrow")[:].to_pylist()
    return rows if root is None else [{k: resolve(v) for k, v in row.items()} for row in rows]


def test_load_dataset_offline_matches_load(tiny, tmp_path, monkeypatch):
    root = tiny["root"]
    card = hf.write_dataset_card(Manifest.load(root))
    assert card == root / "README.md"
    monkeypatch.chdir(root)  # the card's paths inside the root are relative to it
    cache = tmp_path / "hf-cache"
    default = datasets.load_dataset(str(root), cache_dir=str(cache))
    assert sorted(default) == ["test", "train"] and default["train"].num_rows == 12  # frames is the default
    for config in hf.CONFIGS:
        ours = hf.load(root, config)
        theirs = datasets.load_dataset(str(root), config, cache_dir=str(cache))
        assert sorted(theirs) == sorted(ours)
        for split in ours:
            assert theirs[split].features == ours[split].features
            assert _as_rows(theirs[split], root) == _as_rows(ours[split])
    frames = datasets.load_dataset(str(root), "frames", split="test", cache_dir=str(cache))
    row = frames[0]  # clip b, frame 0: outside the root (absolute), its mask inside (relative)
    assert np.array_equal(_px(row["image"]), tiny["b"][0]) and np.array_equal(_px(row["mask"]), tiny["mask_b"][0])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # lsvd.hf.load works from any working directory
    assert np.array_equal(_px(hf.load(root, split="train")[4]["image"]), tiny["a"][4])
    assert np.array_equal(_px(hf.load(root, split="test")[0]["mask"]), tiny["mask_b"][0])


def _card_paths(root: Path) -> list[str]:
    """Every image/video path in the card's data files (hf/*/*.parquet)."""
    out = []
    for path in sorted((root / "hf").glob("*/*.parquet")):
        for row in pq.read_table(path).to_pylist():
            for value in row.values():
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, dict) and item.get("path") is not None:
                        out.append(item["path"])
    return out


def test_copied_and_moved_roots_load_their_own_pixels(tiny, tmp_path, monkeypatch):
    root, cache = tiny["root"], str(tmp_path / "hf-cache")
    hf.write_dataset_card(Manifest.load(root))
    paths = _card_paths(root)
    inside = [p for p in paths if not p.startswith(tiny["src"].as_posix())]
    assert inside and not [p for p in inside if os.path.isabs(p)]  # files in the root: relative to it
    assert all(os.path.isabs(p) for p in paths if p not in inside)  # sources indexed in place: absolute

    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    assert hf.card_is_current(copy)  # nothing to rewrite
    edited = 255 - tiny["a"][4]
    write_png(copy / "frames/a/00000004.png", edited)
    write_png(copy / "masks/b/00000000.png", 255 - tiny["mask_b"][0])
    monkeypatch.chdir(copy)
    train = datasets.load_dataset(str(copy), "frames", split="train", cache_dir=cache)
    assert np.array_equal(_px(train[4]["image"]), edited)  # the copy's pixels, not the original's
    assert np.array_equal(_px(train[3]["image"]), tiny["a"][3])
    test = datasets.load_dataset(str(copy), "frames", split="test", cache_dir=cache)
    assert np.array_equal(_px(test[0]["mask"]), 255 - tiny["mask_b"][0])
    assert np.array_equal(_px(hf.load(copy, split="train")[4]["image"]), edited)

    moved = tmp_path / "moved"
    root.rename(moved)  # the original is gone
    monkeypatch.chdir(moved)
    clips = datasets.load_dataset(str(moved), "clips", split="train", cache_dir=cache)
    assert np.array_equal(_px(clips[0]["frames"][4]), tiny["a"][4])
    assert np.array_equal(_px(clips[0]["clean_frames"][2]), tiny["clean_a"][2])
    assert np.array_equal(_px(datasets.load_dataset(str(moved), "frames", split="test", cache_dir=cache)[0]["mask"]),
                          tiny["mask_b"][0])


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_card_is_deterministic_and_declares_configs(tiny, tmp_path):
    root = tiny["root"]
    card = hf.write_dataset_card(Manifest.load(root))
    first, mtime = card.read_bytes(), card.stat().st_mtime_ns
    data_mtime = (root / "hf/frames/test.parquet").stat().st_mtime_ns
    assert hf.write_dataset_card(Manifest.load(root)).read_bytes() == first
    assert card.stat().st_mtime_ns == mtime and (root / "hf/frames/test.parquet").stat().st_mtime_ns == data_mtime

    meta = _front_matter(first.decode())
    assert [c["config_name"] for c in meta["configs"]] == ["frames", "clips"]
    assert meta["configs"][0]["default"] is True
    for c in meta["configs"]:
        files = {d["split"]: d["path"] for d in c["data_files"]}
        assert files == {s: f"hf/{c['config_name']}/{s}.parquet" for s in ("test", "train")}
        assert all((root / p).is_file() for p in files.values())
    assert meta["license"] == ["cc0-1.0", "other"] and meta["license_name"] == "custom-research-licence"
    assert meta["task_categories"] == ["image-to-image"] and "desmoking" in meta["tags"]
    assert meta["pretty_name"]
    text = first.decode()
    assert "unit-test root" in text and COLUMN_DOCS["ps_frame_index"] in text
    assert "| test | 2 | 20 |" in text and "| train | 1 | 12 | 1 |" in text
    assert "Self-Supervised Video Desmoking for Laparoscopic Surgery" in text and "Zuo, Wangmeng" in text
    assert "lsvd.hf.load" in text and "load_dataset" in text and "lsvd.data.datasets" in text
    assert str(root) not in text  # the card names no absolute path of the root itself
    assert "## Sensitive data" in text and "consent" in text and "python -m lsvd.hf hub" in text
    assert hf.card_is_current(root)

    # the same manifest elsewhere gives the same card and data files, and they are current there
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    assert hf.card_is_current(copy)
    data = {p.relative_to(copy): p.read_bytes() for p in sorted((copy / "hf").glob("*/*.parquet"))}
    hf.write_dataset_card(Manifest.load(copy))
    assert (copy / "README.md").read_bytes() == first and hf.card_is_current(copy)
    assert {p.relative_to(copy): p.read_bytes() for p in sorted((copy / "hf").glob("*/*.parquet"))} == data
    assert hf.load(copy, split="train")[0]["image"].filename.startswith(str(copy))


def test_card_follows_manifest_changes(tiny):
    root = tiny["root"]
    hf.write_dataset_card(Manifest.load(root))
    m = Manifest.load(root)
    clips = m.clips.copy()
    clips.loc[clips["clip_id"] == "a", "split"] = "my-val"
    write_manifest(root, clips, m.frames, source=m.info["source"])
    hf.write_dataset_card(Manifest.load(root))
    assert not (root / "hf/frames/train.parquet").exists() and (root / "hf/frames/my_val.parquet").is_file()
    assert sorted(hf.load(root)) == ["my_val", "test"]
    assert hf.load(root, split="my-val").num_rows == 12  # the manifest's name works too


def test_write_manifest_keeps_the_card_current(tiny):
    root = tiny["root"]
    assert hf.card_is_current(root)  # build_root only called write_manifest
    m = Manifest.load(root)
    frames = m.frames.copy()
    a = frames["clip_id"] == "a"
    frames.loc[a, "mask_path"] = [f"masks/a/{i:08d}.png" for i in range(12)]
    assert write_manifest(root, m.clips, frames, source=m.info["source"])[1]
    assert hf.card_is_current(root)
    assert {f"masks/a/{i:08d}.png" for i in range(12)} <= set(_card_paths(root))

    (root / "README.md").unlink()  # as if a run stopped between the manifest and the card
    assert not write_manifest(root, m.clips, frames, source=m.info["source"])[1]
    assert hf.card_is_current(root)
    stamps = {p: p.stat().st_mtime_ns for p in [root / "README.md", *(root / "hf").glob("*/*.parquet")]}
    write_manifest(root, m.clips, frames, source=m.info["source"])
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}  # an unchanged manifest rewrites nothing

    clips = m.clips.copy()
    clips.loc[clips["clip_id"] == "a", "split"] = "te-st"  # both are the datasets split te_st
    clips.loc[clips["clip_id"] == "b", "split"] = "te_st"
    info = (root / "meta/info.json").read_bytes()
    with pytest.raises(ValueError, match="both become the datasets split 'te_st'"):
        write_manifest(root, clips, frames, source=m.info["source"])
    assert (root / "meta/info.json").read_bytes() == info and hf.card_is_current(root)  # nothing written


def test_prepare_and_masks_keep_the_card_current(tmp_path):
    from lsvd.masks.pipeline import generate_masks
    from lsvd.prepare import prepare_synthetic

    root = tmp_path / "tiny"
    prepare_synthetic(root, preset="tiny", progress=False)
    assert hf.card_is_current(root)
    assert generate_masks(root, progress=False).manifest_updated
    assert hf.card_is_current(root)
    masks = set(Manifest.load(root).frames["mask_path"].dropna())
    assert masks and masks <= set(_card_paths(root))


def test_hub_folder_embeds_bytes_and_loads_without_the_root(tiny, tmp_path, monkeypatch):
    out = hf.write_hub_folder(tiny["root"], tmp_path / "hub", max_shard_rows=7)
    assert sorted(p.name for p in (out / "data/frames").iterdir()) == [
        "test-00000-of-00003.parquet", "test-00001-of-00003.parquet", "test-00002-of-00003.parquet",
        "train-00000-of-00002.parquet", "train-00001-of-00002.parquet",
    ]
    meta = _front_matter((out / "README.md").read_text())
    assert {d["split"]: d["path"] for d in meta["configs"][1]["data_files"]} == {
        "test": "data/clips/test-*.parquet", "train": "data/clips/train-*.parquet"}
    expected_cols = {c: [n for n in hf.load(tiny["root"], c, split="test").features if n not in hf.HUB_DROPPED_COLUMNS]
                     for c in hf.CONFIGS}
    video_px = read_frames(tiny["video"], range(3, 13))
    shutil.rmtree(tiny["root"])
    shutil.rmtree(tiny["src"])
    monkeypatch.chdir(tmp_path)

    cache = str(tmp_path / "hf-cache")
    frames = datasets.load_dataset(str(out), "frames", cache_dir=cache)
    assert frames["train"].num_rows == 12 and frames["test"].num_rows == 20
    assert list(frames["test"].features) == expected_cols["frames"]
    raw = frames["train"].cast_column("image", datasets.Image(decode=False))[0]["image"]
    assert raw["bytes"][:8] == b"\x89PNG\r\n\x1a\n" and raw["path"] == "00000000.png"
    for i, row in enumerate(frames["train"]):
        assert np.array_equal(_px(row["image"]), tiny["a"][i])
        assert np.array_equal(_px(row["clean"]), tiny["clean_a"][i])
        assert np.array_equal(_px(row["ps_image"]), tiny["a"][0])
    test_rows = list(frames["test"])
    b = [r for r in test_rows if r["clip_id"] == "b"]
    assert np.array_equal(_px(b[6]["mask"]), tiny["mask_b"][6]) and np.array_equal(_px(b[6]["ps_image"]), tiny["b"][1])
    v = [r for r in test_rows if r["clip_id"] == "v"]
    for row in v:  # frames stored in a video: decoded with PyAV and embedded as PNG
        assert np.array_equal(_px(row["image"]), video_px[row["frame_number"]]) and row["video"] is None
        assert np.array_equal(_px(row["ps_image"]), video_px[3])

    clips = datasets.load_dataset(str(out), "clips", split="test", cache_dir=cache)
    assert list(clips.features) == expected_cols["clips"]
    cb, cv = list(clips)
    assert [np.array_equal(_px(f), tiny["b"][i]) for i, f in enumerate(cb["frames"])] == [True] * 10
    assert len(cv["frames"]) == 10 and np.array_equal(_px(cv["frames"][9]), video_px[12]) and cv["video"] is None
    assert (out / "meta/info.json").is_file()


def _strings(value) -> list[str]:
    """Every string in a nested JSON-like value (dict keys included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def test_hub_folder_leaks_no_local_path(tiny, tmp_path):
    root = tiny["root"]
    m = Manifest.load(root)
    clips = m.clips.copy()
    clips.loc[clips["clip_id"] == "b", "source_uri"] = (tiny["src"] / "LSVD_test/b").as_posix()
    clips.loc[clips["clip_id"] == "v", "source_uri"] = f"{tiny['video'].as_posix()}#frames=3-12"
    clips.loc[clips["clip_id"] == "a", "metric_ref_path"] = "frames/a/00000000.png"
    write_manifest(root, clips, m.frames, source={**m.info["source"], "description": f"copied from {tiny['src']}"})
    out = hf.write_hub_folder(root, tmp_path / "hub")
    private = [str(tmp_path), tmp_path.as_posix()]

    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {p.suffix for p in files} == {".md", ".json", ".parquet"}
    for path in files:
        if path.suffix == ".parquet":
            pf = pq.ParquetFile(path)
            assert not set(hf.HUB_DROPPED_COLUMNS) & set(pf.schema_arrow.names), path
            meta = {k.decode(): v.decode() for k, v in (pf.schema_arrow.metadata or {}).items()}
            texts = _strings(meta) + _strings(pf.read().to_pylist())
        else:
            texts = [path.read_text()]
            if path.suffix == ".json":
                texts += _strings(json.loads(texts[0]))
        leaks = [t for t in texts if any(p in t for p in private) or os.path.isabs(t)]
        assert not leaks, f"{path.relative_to(out)}: {leaks[:3]}"

    clips_hub = pq.read_table(out / "data/clips/test-00000-of-00001.parquet").to_pandas().set_index("clip_id")
    assert clips_hub.at["b", "source_uri"] == "b" and clips_hub.at["v", "source_uri"] == "v.mp4#frames=3-12"
    info = json.loads((out / "meta/info.json").read_text())
    assert info["source"]["inputs"] == ["src"] and info["source"]["description"] == "copied from src"
    assert info["manifest_id"] == Manifest.load(root).manifest_id and info["counts"]["clips"] == 3
    card = (out / "README.md").read_text()
    assert "## Sensitive data" in card and "consent" in card and "`mtime_ns`" in card
    assert "- uri: `src`" in card
    loaded = datasets.load_dataset(str(out), "clips", split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert "metric_ref_path" not in loaded.features and "fingerprint" not in loaded.features
    assert np.array_equal(_px(loaded[0]["frames"][4]), tiny["a"][4])


def test_public_text():
    assert hf.public_text("/home/me/videos/case 12.mp4#frames=0-99") == "case 12.mp4#frames=0-99"
    assert hf.public_text("/data/a.mp4, /data/b.mp4") == "a.mp4, b.mp4"
    assert hf.public_text("file:///srv/LSVD/") == "LSVD"
    assert hf.public_text(r"C:\Users\me\clip.mp4") == "clip.mp4"
    for kept in ("https://example.org/a/b", "frames/a/00000000.png", "lsvd.data.synthetic?preset=tiny&seed=0",
                 "test:a", "mask at 1/4 resolution (0/255)", "frame 0 / 9"):
        assert hf.public_text(kept) == kept


def test_hub_folder_refuses_to_replace_other_folders(tiny, tmp_path):
    with pytest.raises(ValueError, match="would replace the dataset root"):
        hf.write_hub_folder(tiny["root"], tiny["root"])
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a Hub folder"):
        hf.write_hub_folder(tiny["root"], other)
    assert (other / "keep.txt").read_text() == "mine"
    out = hf.write_hub_folder(tiny["root"], tmp_path / "hub", configs=["clips"])
    assert hf.write_hub_folder(tiny["root"], out, configs=["clips"]) == out  # a previous Hub folder is replaced
    assert not (out / "data/frames").exists()


def test_cli_card_and_show(tiny, capsys):
    assert hf.main(["card", "--root", str(tiny["root"])]) == 0
    assert (tiny["root"] / "README.md").is_file()
    assert hf.main(["show", "--root", str(tiny["root"]), "--config", "clips"]) == 0
    assert "num_rows: 2" in capsys.readouterr().out
    assert hf.main(["show", "--root", str(tiny["root"] / "nope")]) == 2


def test_prepare_synthetic_tiny_end_to_end(tmp_path, monkeypatch):
    from lsvd import prepare

    root = tmp_path / "tiny"
    assert prepare.main(["--synthetic", "--data-preset", "tiny", "--root", str(root), "--no-progress"]) == 0
    manifest = Manifest.load(root)
    assert (root / "README.md").is_file() and hf.card_is_current(root)
    ours = hf.load(root)
    assert sum(d.num_rows for d in ours.values()) == len(manifest.frames)
    assert sum(d.num_rows for d in hf.load(root, "clips").values()) == len(manifest.clips)
    monkeypatch.chdir(root)
    theirs = datasets.load_dataset(str(root), "frames", cache_dir=str(tmp_path / "hf-cache"))
    for split in ours:
        assert _as_rows(theirs[split], root) == _as_rows(ours[split])
    clip = manifest.clips.iloc[0]
    row = next(r for r in theirs[hf.split_name(clip["split"])] if r["clip_id"] == clip["clip_id"])
    image = row["image"] if row["image"] is not None else None
    assert image is not None and image.size == (clip["width"], clip["height"])
    assert row["ps_image"].size == image.size


def test_a_root_stored_in_videos_gives_pixels_or_says_how(tmp_path, monkeypatch, capsys):
    """lsvd.hf.load decodes the frames; datasets.load_dataset has no pixel columns (never None) and the card and
    prepare say how to get them (hub folder, --store png)."""
    import pickle

    from lsvd import prepare
    from tests.conftest import make_video

    video = make_video(tmp_path / "case.mp4", n=12, size=(48, 64))
    root = tmp_path / "root"
    assert prepare.main(["--videos", str(video), "--root", str(root), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "frames stay inside the videos" in out and "lsvd.hf.load" in out and "--store png" in out
    px = read_frames(video, range(12))
    ours = hf.load(root)
    (split,) = ours
    rows = list(ours[split])
    assert len(rows) == 12 and all(r["storage"] == "video" for r in rows)
    for r in rows:
        assert np.array_equal(_px(r["image"]), px[r["frame_number"]]) and np.array_equal(_px(r["ps_image"]), px[0])
    assert np.array_equal(_px(ours[split][7]["image"]), px[7])  # random access too (decoding restarts)
    (clip,) = list(hf.load(root, "clips")[split])
    assert [np.array_equal(_px(f), px[i]) for i, f in enumerate(clip["frames"])] == [True] * 12
    again = pickle.loads(pickle.dumps(ours[split]))  # DataLoader workers get a working copy
    assert np.array_equal(_px(again[3]["image"]), px[3])

    card = (root / "README.md").read_text()
    assert "No pixel columns here" in card and "--store png" in card and "lsvd.hf hub" in card
    monkeypatch.chdir(root)
    theirs = datasets.load_dataset(str(root), cache_dir=str(tmp_path / "hf-cache"))[split]
    assert "image" not in theirs.column_names and "ps_image" not in theirs.column_names
    assert theirs[0]["video"]["path"] and theirs[0]["frame_number"] == 0
    clips = datasets.load_dataset(str(root), "clips", cache_dir=str(tmp_path / "hf-cache"))[split]
    assert "frames" not in clips.column_names and "ps_image" not in clips.column_names
    assert hf.card_is_current(root)
    hub = hf.write_hub_folder(root, tmp_path / "hub")  # the one-step conversion the card names
    embedded = datasets.load_dataset(str(hub), cache_dir=str(tmp_path / "hf-cache2"))[split]
    assert np.array_equal(_px(embedded[5]["image"]), px[5])
