"""The dataset root: Parquet manifests (clips, frames) and ``meta/info.json``.

A dataset root written by ``python -m lsvd.prepare`` holds::

    meta/info.json            format version, toolkit version, counts, schema, templates, source
    meta/report.json          what the last run skipped and why
    manifests/clips.parquet   one row per clip      (CLIP_SCHEMA)
    manifests/frames.parquet  one row per frame     (FRAME_SCHEMA)
    README.md                 dataset card (HF ``configs``)

All three manifest files carry the same ``manifest_id`` (a content hash): a reader that finds
different ids knows a write was interrupted between files and says to re-run ``prepare``.
Frame ``path`` s are relative to the root, or absolute for sources indexed in place outside it;
:func:`check_root_safety` refuses any other path leading outside the root, and names unfit for
folders, on reading and on writing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lsvd import __version__
from lsvd.constants import (
    CLIPS_FILE,
    FORMAT_VERSION,
    FRAMES_FILE,
    INFO_FILE,
    MANIFEST_ID_KEY,
    PATH_TEMPLATES,
    SOURCE_LSVD,
    SOURCE_VIDEO,
)
from lsvd.errors import LsvdError
from lsvd.io.atomic import atomic_path, write_json
from lsvd.io.paths import is_under, unsafe_name_reason

__all__ = ["CLIP_SCHEMA", "COLUMN_DOCS", "FRAME_SCHEMA", "LOCK_FILE", "NAME_COLUMNS", "OPTIONAL_COLUMNS",
    "PATH_COLUMNS", "Manifest", "ManifestError", "check_format_version", "check_root_safety", "content_id",
    "in_place_sources", "refuse_newer_format", "root_lock", "write_manifest"]

CLIP_SCHEMA = pa.schema(
    [
        ("clip_id", pa.string()),
        ("split", pa.string()),
        ("source", pa.string()),
        ("source_uri", pa.string()),
        ("storage", pa.string()),
        ("n_frames", pa.int32()),
        ("height", pa.int32()),
        ("width", pa.int32()),
        ("fps", pa.float64()),
        ("ps_frame_index", pa.int32()),
        ("smoke_onset_index", pa.int32()),
        ("onset_source", pa.string()),
        ("mask_ref_index", pa.int32()),
        ("has_clean", pa.bool_()),
        ("metric_ref_path", pa.string()),
        ("licence", pa.string()),
        ("fingerprint", pa.string()),
        ("mask_mode", pa.string()),
        ("mask_flow", pa.string()),
        ("mask_params", pa.string()),
    ]
)

FRAME_SCHEMA = pa.schema(
    [
        ("clip_id", pa.string()),
        ("frame_index", pa.int32()),
        ("frame_number", pa.int64()),
        ("role", pa.string()),
        ("path", pa.string()),
        ("timestamp_s", pa.float64()),
        ("mask_path", pa.string()),
        ("mask_ratio", pa.float32()),
        ("clean_path", pa.string()),
        ("density_path", pa.string()),
        ("smoke_score", pa.float32()),
        ("bytes", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("sha256", pa.string()),
    ]
)

#: What each column means (written into info.json and the dataset card).
COLUMN_DOCS: dict[str, str] = {
    # clips
    "clip_id": "unique clip name (LSVD clip folder name, or <video stem>[-<PS frame number>])",
    "split": "train | test (or a user-given name); split_seed<N> columns hold splits the toolkit drew",
    "source": "lsvd | video | synthetic",
    "source_uri": "where the clip came from (folder, video file, or generator and seed)",
    "storage": "png: one image file per frame; video: frames addressed inside a video file",
    "n_frames": "frames in the clip, PS frame included",
    "height": "frame height in pixels",
    "width": "frame width in pixels",
    "fps": "frames per second of the source video (null for image folders)",
    "ps_frame_index": "frame_index of the pre-smoke (PS) frame: smoke-free, target and reference",
    "smoke_onset_index": "frame_index of the first smoky frame (null if unknown)",
    "onset_source": "how the onset is known: given | detected | synthetic | assumed",
    "mask_ref_index": "frame_index whose mask the official loader uses for the whole clip (9)",
    "has_clean": "clean (smoke-free) ground-truth frames exist for this clip",
    "metric_ref_path": "reference image of the official metric protocol (LSVD_test_pro), if any",
    "licence": "licence of the clip's pixels",
    "fingerprint": "hash of the inputs (names, sizes, mtimes): unchanged inputs are skipped",
    "mask_mode": "how the masks were made: official (frame 4 vs frame 9, one mask per clip) | ps (PS frame "
    "vs every frame) | provided (found in LSVD_<split>_mask); null without masks",
    "mask_flow": "flow backend used to align the mask reference (lsvd.flow), null if none",
    "mask_params": "digest of the mask parameters (lsvd.masks.core.MaskParams)",
    # frames
    "frame_index": "position in the clip, 0..n_frames-1 (0 = the clip's first frame)",
    "frame_number": "integer file name (image folders) or decoded frame number (videos)",
    "role": "ps (the PS frame) | smoky (every other frame)",
    "path": "image file, or video file for storage=video; relative to the root unless absolute",
    "timestamp_s": "presentation time in the source video (null for image folders)",
    "mask_path": "SelfSVD mask at 1/4 resolution (0/255; 255 = PS features hidden), if generated or provided",
    "mask_ratio": "fraction of the mask that is 1 (hidden), for generated masks",
    "clean_path": "clean ground-truth frame, if any",
    "density_path": "smoke density map (16-bit PNG, value/65535), synthetic data only",
    "smoke_score": "per-frame smoke score in [0, 1] (lsvd.data.smoke), null if not computed",
    "bytes": "file size in bytes (null for frames inside a video)",
    "mtime_ns": "file modification time (ns) when indexed",
    "sha256": "file hash (only with --hash)",
}


class ManifestError(LsvdError, ValueError):
    """A dataset root that cannot be read: missing, inconsistent, unsafe or of an unknown format."""


#: Manifest columns holding paths (relative to the root unless absolute), per table.
PATH_COLUMNS = {"clips": ("metric_ref_path",), "frames": ("path", "mask_path", "clean_path", "density_path")}
#: Manifest columns whose values become folder names (``masks/<clip_id>/``, ``media/<split>/<clip_id>/``).
NAME_COLUMNS = ("clip_id", "split")


def in_place_sources(info: dict[str, Any]) -> list[str]:
    """Absolute files or folders a root was indexed from in place (LSVD trees, videos); else ``[]``."""
    source = info.get("source") or {}
    if source.get("kind") not in (SOURCE_LSVD, SOURCE_VIDEO):
        return []
    inputs = source.get("inputs") or [u for u in str(source.get("uri") or "").split(", ") if u]
    return [os.path.normpath(p) for p in inputs if isinstance(p, str) and os.path.isabs(p)]


_ABSOLUTE = r"^(?:/|[A-Za-z]:[/\\]|\\\\)"  # POSIX, drive letter or UNC
_PARENT = r"(?:^|[/\\])\.\.(?:[/\\]|$)"  # a ".." component


def _maybe_outside(paths: pd.Series, sources: list[str]) -> list[str]:
    """The distinct values of ``paths`` that a vectorised test cannot place inside the root or a
    source: absolute ones outside every source, and any with a ``..`` component."""
    values = pd.Series(paths.dropna().unique(), dtype=object).astype(str)
    parent = values.str.contains(_PARENT, regex=True)
    absolute = values.str.contains(_ABSOLUTE, regex=True)
    in_source = values.str.startswith(tuple(s.rstrip(os.sep) + os.sep for s in sources)) if sources else False
    return values[parent | (absolute & ~in_source)].tolist()


def check_root_safety(root: str | os.PathLike[str], info: dict[str, Any], clips: pd.DataFrame,
                      frames: pd.DataFrame) -> None:
    """Refuse a root whose names or paths would lead the toolkit outside its folders.

    ``clip_id`` and ``split`` values must be plain names (:func:`lsvd.io.paths.unsafe_name_reason`);
    every path must resolve (lexically) inside the root, or inside a source the root was indexed
    from in place (:func:`in_place_sources`). Raises :class:`ManifestError` listing what is wrong.
    """
    where = Path(root)
    bad: list[str] = []
    for table_name, table in (("clips", clips), ("frames", frames)):
        for column in NAME_COLUMNS:
            if column not in table.columns:
                continue
            for value in table[column].dropna().unique():
                if (why := unsafe_name_reason(value)) is not None:
                    bad.append(f"{table_name}.{column} {value!r}: {why}")
    base = os.path.normpath(os.path.abspath(where))
    sources = in_place_sources(info)
    for table_name, table in (("clips", clips), ("frames", frames)):
        for column in PATH_COLUMNS[table_name]:
            if column not in table.columns:
                continue
            for value in _maybe_outside(table[column], sources):
                full = os.path.normpath(os.path.join(base, str(value)))
                if is_under(full, base) or any(is_under(full, s) for s in sources):
                    continue
                held = f"the sources it was indexed from in place ({', '.join(sources)})" if sources else (
                    f"a source it was indexed from in place (this root's source is "
                    f"{(info.get('source') or {}).get('kind')!r}, which is not indexed in place)")
                bad.append(f"{table_name}.{column} {value!r}: points outside the root and outside {held}")
    if bad:
        shown = "\n  - ".join(bad[:5]) + (f"\n  ... and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ManifestError(
            f"{where}: refusing to use this dataset root: {len(bad)} unsafe name(s) or path(s) in its manifests "
            f"(the toolkit only reads and writes inside the root and the sources it indexed in place):\n  - {shown}\n"
            "Re-index the source with `python -m lsvd.prepare --root <new root> ...`; do not edit manifests by hand."
        )


#: Columns that later steps fill in (``lsvd.masks``); rows without them get nulls.
OPTIONAL_COLUMNS = frozenset({"mask_mode", "mask_flow", "mask_params", "mask_ratio"})


def _table(rows: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Cast a DataFrame to ``schema`` (extra columns, e.g. ``split_seed0``, are kept as strings)."""
    rows = rows.assign(**{c: None for c in OPTIONAL_COLUMNS & set(schema.names) if c not in rows.columns})
    extra = [c for c in rows.columns if c not in schema.names]
    fields = list(schema) + [pa.field(c, pa.string()) for c in extra]
    full = pa.schema(fields)
    missing = [c for c in schema.names if c not in rows.columns]
    if missing:
        raise ValueError(f"manifest rows lack columns {missing}; expected {schema.names}")
    return pa.Table.from_pandas(rows[full.names], schema=full, preserve_index=False)


def content_id(*tables: pa.Table) -> str:
    """A short hash of the tables' content: column names, types and values (nulls canonical)."""
    h = hashlib.sha256()
    for table in tables:
        h.update(str(table.schema.remove_metadata()).encode())
        if table.num_rows:
            rows = pd.util.hash_pandas_object(table.to_pandas(), index=False)
            h.update(rows.to_numpy().tobytes())
    return h.hexdigest()[:20]


def _schema_doc(schema: pa.Schema) -> dict[str, dict[str, str]]:
    return {f.name: {"type": str(f.type), "doc": COLUMN_DOCS.get(f.name, "")} for f in schema}


def write_manifest(
    root: str | os.PathLike[str],
    clips: pd.DataFrame,
    frames: pd.DataFrame,
    *,
    source: dict[str, Any],
    extra_info: dict[str, Any] | None = None,
) -> tuple[str, bool]:
    """Write clips/frames Parquet and ``meta/info.json`` atomically; return (manifest_id, changed).

    Rows are sorted (clips by ``clip_id``; frames by ``clip_id, frame_index``). When the
    content equals what is on disk, nothing is rewritten (``changed`` is False). Either way the
    dataset card (``README.md`` and ``hf/``, :func:`lsvd.hf.write_dataset_card`) is then brought in
    step with the manifest, rewriting only files whose bytes change; split names that ``datasets``
    cannot tell apart are refused before anything is written.
    """
    from lsvd.hf.tables import check_split_names  # lazy: lsvd.hf imports this module

    root = Path(root)
    check_root_safety(root, {"source": source}, clips, frames)
    check_split_names(clips["split"])
    clips = clips.sort_values("clip_id", kind="stable").reset_index(drop=True)
    frames = frames.sort_values(["clip_id", "frame_index"], kind="stable").reset_index(drop=True)
    clip_table, frame_table = _table(clips, CLIP_SCHEMA), _table(frames, FRAME_SCHEMA)
    manifest_id = content_id(clip_table, frame_table)
    info_path = root / INFO_FILE
    try:
        old_info = _read_json(info_path) if info_path.exists() else None
    except ManifestError:  # a corrupt info.json is what this write repairs
        old_info = None
    if old_info is not None and old_info.get("manifest_id") == manifest_id and _ids_on_disk(root) == {manifest_id}:
        _keep_card_current(root)  # a run interrupted after the manifest left an old card
        return manifest_id, False
    meta = {MANIFEST_ID_KEY: manifest_id.encode()}
    for table, rel in ((frame_table, FRAMES_FILE), (clip_table, CLIPS_FILE)):
        with atomic_path(root / rel) as tmp:
            pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **meta}), tmp)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    by_split = clips.groupby("split")["n_frames"].agg(["count", "sum"]) if len(clips) else None
    info = {
        "format_version": FORMAT_VERSION,
        "toolkit_version": __version__,
        "manifest_id": manifest_id,
        "created_utc": (old_info or {}).get("created_utc", now),
        "updated_utc": now,
        "counts": {
            "clips": int(len(clips)),
            "frames": int(len(frames)),
            "by_split": {
                str(k): {"clips": int(v["count"]), "frames": int(v["sum"])} for k, v in by_split.iterrows()
            }
            if by_split is not None
            else {},
        },
        "schema": {"clips": _schema_doc(clip_table.schema), "frames": _schema_doc(frame_table.schema)},
        "path_templates": dict(PATH_TEMPLATES),
        "files": {"clips": CLIPS_FILE, "frames": FRAMES_FILE},
        "source": source,
        "masks": (old_info or {}).get("masks"),
        **(extra_info or {}),
    }
    write_json(info_path, info)
    _keep_card_current(root)
    return manifest_id, True


def _keep_card_current(root: Path) -> None:
    """Rewrite the dataset card files that no longer match the manifest on disk."""
    from lsvd.hf.card import write_dataset_card  # lazy: lsvd.hf imports this module

    write_dataset_card(Manifest.load(root))


def _read_json(path: Path) -> dict:
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        info = exc
    if not isinstance(info, dict):
        raise ManifestError(f"{path}: unreadable ({info if isinstance(info, Exception) else 'not a JSON object'}); "
                            "re-run the `python -m lsvd.prepare` command that made this root, with the same --root: "
                            "it rewrites meta/info.json")
    return info


def _ids_on_disk(root: Path) -> set[str | None]:
    ids = set()
    for rel in (CLIPS_FILE, FRAMES_FILE):
        try:
            md = pq.read_schema(root / rel).metadata or {}
        except (OSError, pa.ArrowInvalid):
            return {None}
        ids.add(md.get(MANIFEST_ID_KEY, b"").decode() or None)
    return ids


def refuse_newer_format(info: dict[str, Any], where: str) -> None:
    """Refuse to overwrite a root written in a newer major format, saying how to go on."""
    version = str(info.get("format_version", "0"))
    try:
        newer = int(version.split(".")[0]) > int(FORMAT_VERSION.split(".")[0])
    except ValueError:
        newer = False
    if newer:
        raise ManifestError(
            f"{where}: this root is in dataset format {version}, written by lsvd-toolkit "
            f"{info.get('toolkit_version', '?')}; this toolkit ({__version__}) writes format {FORMAT_VERSION} and will "
            "not overwrite a newer one. Upgrade the toolkit to use this root, or prepare into another --root."
        )


def check_format_version(version: str, where: str) -> None:
    """Refuse a dataset whose major format version differs from ours, saying how to migrate."""
    major = str(version).split(".")[0]
    ours = FORMAT_VERSION.split(".")[0]
    if major != ours:
        raise ManifestError(
            f"{where}: dataset format version {version} is not readable by lsvd-toolkit {__version__} "
            f"(format {FORMAT_VERSION}). Re-index the source with this version "
            "(`python -m lsvd.prepare --root <new root> ...`), or install the toolkit version that wrote it "
            "(see toolkit_version in meta/info.json)."
        )


#: Held while a command writes the root's manifests (``prepare``, ``masks``); see :func:`root_lock`.
LOCK_FILE = "meta/.lock"


@contextlib.contextmanager
def root_lock(root: str | os.PathLike[str], command: str) -> Iterator[None]:
    """Hold the root's write lock while ``command`` runs; a second writer fails at once.

    The lock is an OS file lock (released when its process ends, even on ``kill -9``), so a
    lock that is held means another process is writing now. Raises :class:`ManifestError`.
    """
    from filelock import FileLock, Timeout

    path = Path(root) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise ManifestError(
            f"{root}: another process is writing this dataset root now (a `prepare` or `masks` run holds {LOCK_FILE}); "
            f"this {command} did not start. Wait for it to finish and run again, or use another --root."
        ) from None
    try:
        yield
    finally:
        lock.release()


@dataclass
class Manifest:
    """A loaded dataset root. ``clips`` and ``frames`` are DataFrames with the schemas above."""

    root: Path
    info: dict[str, Any]
    clips: pd.DataFrame
    frames: pd.DataFrame

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> Manifest:
        """Read and validate a dataset root (format version, manifest ids, row consistency)."""
        root = Path(root).expanduser()
        info_path = root / INFO_FILE
        if not info_path.exists():
            raise ManifestError(
                f"{root}: not a prepared dataset root (expected {INFO_FILE}); "
                "create one with `python -m lsvd.prepare --root ROOT ...`"
            )
        info = _read_json(info_path)
        check_format_version(info.get("format_version", "?"), str(info_path))
        ids = _ids_on_disk(root)
        if ids != {info.get("manifest_id")}:
            raise ManifestError(
                f"{root}: manifests are inconsistent (ids {sorted(map(str, ids))} vs info.json "
                f"{info.get('manifest_id')}), probably from an interrupted run; re-run `python -m lsvd.prepare`"
            )
        clips = pq.read_table(root / CLIPS_FILE).to_pandas()
        frames = pq.read_table(root / FRAMES_FILE).to_pandas()
        check_root_safety(root, info, clips, frames)
        for df, schema in ((clips, CLIP_SCHEMA), (frames, FRAME_SCHEMA)):  # older minor versions
            for name in OPTIONAL_COLUMNS & set(schema.names) - set(df.columns):
                df[name] = None
        return cls(root=root, info=info, clips=clips, frames=frames)

    @property
    def manifest_id(self) -> str:
        return self.info["manifest_id"]

    def resolve(self, path: str | None) -> Path | None:
        """Absolute path of a manifest ``path`` (relative ones are under the root)."""
        if path is None or (isinstance(path, float) and pd.isna(path)):
            return None
        p = Path(path)
        return p if p.is_absolute() else self.root / p

    def clip(self, clip_id: str) -> pd.Series:
        rows = self.clips[self.clips["clip_id"] == clip_id]
        if rows.empty:
            raise KeyError(f"no clip {clip_id!r} in {self.root} (it has {len(self.clips)} clips)")
        return rows.iloc[0]

    def clip_frames(self, clip_id: str) -> pd.DataFrame:
        """The clip's frame rows in ``frame_index`` order."""
        return self.frames[self.frames["clip_id"] == clip_id].sort_values("frame_index").reset_index(drop=True)

    def clip_ids(self, split: str | None = None) -> list[str]:
        """Clip ids, sorted, optionally of one split (error listing the splits if unknown)."""
        if split is None:
            return sorted(self.clips["clip_id"])
        splits = sorted(self.clips["split"].unique())
        if split not in splits:
            raise ValueError(f"unknown split {split!r} in {self.root}; it has {splits}")
        return sorted(self.clips.loc[self.clips["split"] == split, "clip_id"])
