"""`prepare` on the built-in synthetic mini-LSVD (the default source)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lsvd.data.manifest import Manifest
from lsvd.io.images import read_gray, read_rgb
from lsvd.prepare import main, prepare_synthetic


def test_tiny_synthetic_root(tmp_path: Path):
    root = tmp_path / "root"
    s = prepare_synthetic(root, preset="tiny", progress=False)
    assert (s.clips, s.frames, s.by_split) == (4, 48, {"test": 2, "train": 2})
    m = Manifest.load(root)
    clips = m.clips.set_index("clip_id")
    assert set(clips["source"]) == {"synthetic"} and clips["has_clean"].all()
    assert set(clips["onset_source"]) == {"synthetic"} and set(clips["licence"]) == {"CC0-1.0"}
    assert clips["source_uri"].str.startswith("lsvd.data.synthetic?preset=tiny&seed=0").all()
    cid = m.clip_ids("test")[0]
    frames = m.clip_frames(cid)
    assert frames["path"].str.startswith(f"synthetic/LSVD_test/{cid}/").all()  # inside the root: relative
    assert frames[["clean_path", "density_path", "smoke_score"]].notna().all().all()
    onset = int(clips.at[cid, "smoke_onset_index"])
    density = [read_gray(m.resolve(p)) for p in frames["density_path"]]
    assert all(d.max() == 0 for d in density[:onset]) and density[onset].max() > 0
    ps = read_rgb(m.resolve(frames.at[0, "path"]))
    assert np.array_equal(ps, read_rgb(m.resolve(frames.at[0, "clean_path"])))  # the PS frame is clean
    scores = frames["smoke_score"].to_numpy()
    assert scores[-1] > scores[0]  # the smoke score sees the smoke
    assert (root / "synthetic" / "contact_sheet.png").is_file()
    again = prepare_synthetic(root, preset="tiny", progress=False)
    assert (again.reused, again.changed) == (4, False)


def test_default_command_writes_under_lsvd_home(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("LSVD_HOME", str(tmp_path / "home"))
    assert main(["--data-preset", "tiny", "--seed", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    root = tmp_path / "home" / "datasets" / "synthetic-tiny-seed3"
    assert f"dataset root   {root}" in out and "contact sheet" in out
    assert Manifest.load(root).info["source"]["config"]["seed"] == 3
    assert main(["--data-preset", "huge", "--root", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "unknown synthetic preset" in capsys.readouterr().err
