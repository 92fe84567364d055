"""A shared dataset root can never make the toolkit write or delete outside its folders, and a
damaged, busy or newer root gets an error whose advice works."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lsvd.constants import CLIPS_FILE, FRAMES_FILE, INFO_FILE
from lsvd.data.manifest import Manifest, ManifestError
from lsvd.io.paths import UnsafePathError, check_name, inside, unsafe_name_reason
from lsvd.prepare import main as prepare_main
from lsvd.prepare import prepare_lsvd
from tests.conftest import make_lsvd_tree


def tamper(root: Path, clips: Callable[[pd.DataFrame], None] | None = None,
           frames: Callable[[pd.DataFrame], None] | None = None) -> None:
    """Edit a root's manifests in place as a hostile sender could, keeping their ids consistent."""
    for rel, edit in ((CLIPS_FILE, clips), (FRAMES_FILE, frames)):
        if edit is None:
            continue
        table = pq.read_table(root / rel)
        df = table.to_pandas()
        edit(df)
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(table.schema.metadata),
                       root / rel)


def rename_clip(new_id: str) -> tuple[Callable, Callable]:
    def edit(df: pd.DataFrame) -> None:
        df.loc[df["clip_id"] == df["clip_id"].min(), "clip_id"] = new_id
    return edit, edit


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "precious.txt").write_text("do not touch")
    return folder


def assert_untouched(victim: Path) -> None:
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]
    assert (victim / "precious.txt").read_text() == "do not touch"


@pytest.fixture
def lsvd_root(tmp_path: Path) -> Path:
    src = make_lsvd_tree(tmp_path / "src" / "LSVD", {"train/clip_a": 10, "test/clip_c": 10}, masks=True)
    root = tmp_path / "root"
    prepare_lsvd(src, root, progress=False)
    return root


# --- names and paths ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "a\\b", "/abs", "C:x", "a\x00b", "x" * 201])
def test_unsafe_names(name: str):
    assert unsafe_name_reason(name) is not None
    with pytest.raises(UnsafePathError, match="not a safe name"):
        check_name(name, "clip_id")


@pytest.mark.parametrize("name", ["clip_a", "input_10-000123", "case 1", "synth.test_000", "..x"])
def test_safe_names(name: str):
    assert check_name(name, "clip_id") == name


def test_inside_refuses_escapes_and_symlinks(tmp_path: Path, victim: Path):
    base = tmp_path / "results"
    base.mkdir()
    assert inside(base, "media", "clip") == base / "media" / "clip"
    for parts in (("..", "victim"), (str(victim),), ("media", "../../victim")):
        with pytest.raises(UnsafePathError, match="outside"):
            inside(base, *parts)
    (base / "link").symlink_to(victim)
    with pytest.raises(UnsafePathError):
        inside(base, "link")


@pytest.mark.parametrize("bad", ["../../../../victim", "ABSOLUTE"])
def test_traversing_clip_id_is_refused_on_load_and_masks_touch_nothing(bad: str, lsvd_root: Path, victim: Path,
                                                                       capsys):
    from lsvd.masks.__main__ import main as masks_main

    bad = str(victim) if bad == "ABSOLUTE" else bad
    tamper(lsvd_root, *rename_clip(bad))
    with pytest.raises(ManifestError, match="unsafe name") as err:
        Manifest.load(lsvd_root)
    assert "clips.clip_id" in str(err.value) and "prepare" in str(err.value)
    for _ in range(2):
        assert masks_main(["--root", str(lsvd_root), "--no-progress"]) == 2
        assert_untouched(victim)
    assert "unsafe name" in capsys.readouterr().err


def test_traversing_clip_id_never_reaches_the_benchmark_media(tiny_synthetic_root: Path, tmp_path: Path,
                                                              victim: Path, capsys):
    from benchmarks.run import main as bench_main

    root = tmp_path / "copy"
    shutil.copytree(tiny_synthetic_root, root)
    tamper(root, *rename_clip("../../../../victim"))
    results = tmp_path / "a" / "results"  # results/media/test/../../../../victim is tmp_path/victim
    for _ in range(2):  # the reported bug wrote on the first run and deleted on the second
        assert bench_main(["--method", "identity", "--root", str(root), "--output", str(results),
                           "--metrics", "brisque", "--no-progress"]) == 2
        assert_untouched(victim)
    assert "unsafe name" in capsys.readouterr().err


def test_unsafe_manifest_is_never_written(lsvd_root: Path, victim: Path):
    from lsvd.data.manifest import write_manifest

    manifest = Manifest.load(lsvd_root)
    clips, frames = manifest.clips.copy(), manifest.frames.copy()
    clips.loc[0, "clip_id"] = "../victim"
    before = (lsvd_root / INFO_FILE).read_bytes()
    with pytest.raises(ManifestError, match="unsafe name"):
        write_manifest(lsvd_root, clips, frames, source=manifest.info["source"])
    assert (lsvd_root / INFO_FILE).read_bytes() == before
    Manifest.load(lsvd_root)


def test_media_and_cache_folders_check_names_themselves(tmp_path: Path):
    from benchmarks.media import clip_media_dir

    assert clip_media_dir(tmp_path, "test", "clip_a") == tmp_path / "media" / "test" / "clip_a"
    for split, clip_id in (("test", "../../x"), ("../..", "clip"), ("test", "/etc")):
        with pytest.raises(UnsafePathError):
            clip_media_dir(tmp_path, split, clip_id)


def test_frame_path_outside_the_root_is_refused(lsvd_root: Path, tmp_path: Path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"x")

    def point_outside(df: pd.DataFrame) -> None:
        df.loc[0, "path"] = "../secret.png"  # relative to the root: tmp_path/secret.png

    tamper(lsvd_root, frames=point_outside)
    with pytest.raises(ManifestError, match="points outside the root") as err:
        Manifest.load(lsvd_root)
    assert "'../secret.png'" in str(err.value)
    assert (tmp_path / "src" / "LSVD").as_posix() in str(err.value)  # says which sources are allowed


def test_in_place_sources_are_allowed_and_only_they(lsvd_root: Path, tmp_path: Path):
    manifest = Manifest.load(lsvd_root)  # an LSVD tree indexed in place: absolute paths into the source
    assert all(Path(p).is_absolute() for p in manifest.frames["path"])

    def etc(df: pd.DataFrame) -> None:
        df.loc[0, "path"] = "/etc/passwd"

    tamper(lsvd_root, frames=etc)
    with pytest.raises(ManifestError, match="/etc/passwd"):
        Manifest.load(lsvd_root)


def test_synthetic_root_says_it_was_not_indexed_in_place(tiny_synthetic_root: Path, tmp_path: Path):
    root = tmp_path / "copy"
    shutil.copytree(tiny_synthetic_root, root)

    def etc(df: pd.DataFrame) -> None:
        df.loc[3, "mask_path"] = "../../../../../../etc/passwd"

    tamper(root, frames=etc)
    with pytest.raises(ManifestError, match="'synthetic', which is not indexed in place"):
        Manifest.load(root)


# --- damaged, busy and newer roots -------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", [b"{ not json", b"\xff\xfe\x00", b"[1, 2]", b""])
def test_corrupt_info_json_is_repaired_by_the_advised_rerun(damage: bytes, lsvd_root: Path, tmp_path: Path, capsys):
    before = Manifest.load(lsvd_root)
    (lsvd_root / INFO_FILE).write_bytes(damage)
    with pytest.raises(ManifestError, match="re-run the `python -m lsvd.prepare` command"):
        Manifest.load(lsvd_root)
    src = tmp_path / "src" / "LSVD"
    assert prepare_main(["--lsvd", str(src), "--root", str(lsvd_root), "--no-progress"]) == 0  # the advice
    after = Manifest.load(lsvd_root)
    assert after.manifest_id == before.manifest_id
    pd.testing.assert_frame_equal(after.frames, before.frames)
    (lsvd_root / INFO_FILE).write_bytes(damage)
    assert prepare_main(["--lsvd", str(src), "--root", str(lsvd_root), "--force", "--no-progress"]) == 0
    assert Manifest.load(lsvd_root).manifest_id == before.manifest_id


def test_corrupt_info_json_still_protects_a_root_of_another_source(lsvd_root: Path, capsys):
    (lsvd_root / INFO_FILE).write_text("{")
    assert prepare_main(["--synthetic", "--data-preset", "tiny", "--root", str(lsvd_root), "--no-progress"]) == 2
    assert "'lsvd' source" in capsys.readouterr().err


def test_newer_format_is_refused_even_with_force(lsvd_root: Path, tmp_path: Path, capsys):
    info = json.loads((lsvd_root / INFO_FILE).read_text())
    info["format_version"] = "2.0"
    (lsvd_root / INFO_FILE).write_text(json.dumps(info))
    snapshot = {p: p.read_bytes() for p in lsvd_root.rglob("*") if p.is_file()}
    for extra in ([], ["--force"]):
        assert prepare_main(["--lsvd", str(tmp_path / "src" / "LSVD"), "--root", str(lsvd_root), "--no-progress",
                             *extra]) == 2
        err = capsys.readouterr().err
        assert "format 2.0" in err and "Upgrade the toolkit" in err and "another --root" in err
    assert {p: p.read_bytes() for p in lsvd_root.rglob("*") if p.is_file()} == snapshot


HOLD_LOCK = textwrap.dedent("""
    import sys
    from lsvd.data.manifest import root_lock
    with root_lock(sys.argv[1], "test"):
        print("locked", flush=True)
        sys.stdin.readline()
""")


@pytest.mark.parametrize("end", ["finish", "kill"])
def test_a_second_writer_is_refused_while_one_runs(end: str, lsvd_root: Path, tmp_path: Path, capsys):
    from lsvd.masks.__main__ import main as masks_main

    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lsvd_root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert holder.stdout.readline().strip() == "locked"
        snapshot = {p: p.read_bytes() for p in lsvd_root.rglob("*") if p.is_file()}
        src = str(tmp_path / "src" / "LSVD")
        assert prepare_main(["--lsvd", src, "--root", str(lsvd_root), "--no-progress"]) == 2
        assert "another process is writing this dataset root" in capsys.readouterr().err
        assert masks_main(["--root", str(lsvd_root), "--no-progress"]) == 2
        assert "another process is writing" in capsys.readouterr().err
        snapshot.pop(lsvd_root / "meta" / ".lock", None)
        now = {p: p.read_bytes() for p in lsvd_root.rglob("*") if p.is_file() and p.name != ".lock"}
        assert now == snapshot
    finally:
        if end == "kill":
            holder.kill()
        else:
            holder.communicate("\n", timeout=30)
        holder.wait(timeout=30)
    assert prepare_main(["--lsvd", src, "--root", str(lsvd_root), "--no-progress"]) == 0  # released, even by kill -9
    Manifest.load(lsvd_root)
