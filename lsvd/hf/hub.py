"""A push-ready Hub folder: a self-contained copy of a root with every pixel embedded.

Frames of video-stored clips are decoded with PyAV and stored as PNG; local paths and the indexing
machine's bookkeeping are left out (:mod:`lsvd.hf.public`). The folder is ready for ``hf upload``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from lsvd.constants import CARD_FILE, INFO_FILE, MANIFESTS_DIR
from lsvd.data.manifest import Manifest
from lsvd.hf.card import render_card
from lsvd.hf.public import HUB_DROPPED_COLUMNS, public_json, public_text
from lsvd.hf.tables import (
    CLIPS,
    CONFIGS,
    FRAMES,
    PS_COLUMN,
    VIDEO_COLUMN,
    Config,
    build_tables,
    check_config,
    frame_numbers,
    ps_numbers,
    root_of,
    sorted_rows,
)
from lsvd.io.atomic import atomic_dir, write_bytes, write_json
from lsvd.io.images import encode_png
from lsvd.io.video import FrameReader

__all__ = ["HUB_DATA_DIR", "write_hub_folder"]

log = logging.getLogger(__name__)

#: Folder (under a Hub folder) of its Parquet shards.
HUB_DATA_DIR = "data"
_ROW_GROUP_ROWS = 100  # Hub shards: rows per Parquet row group (what one reader batch holds)
_ROW_GROUP_BYTES = 64 << 20  # ... or fewer rows once their embedded bytes reach this


def _hub_table(table: pa.Table) -> pa.Table:
    """A path table without :data:`HUB_DROPPED_COLUMNS`, its text columns through :func:`public_text`."""
    features = datasets.Features.from_arrow_schema(table.schema)
    keep = [c for c in table.column_names if c not in HUB_DROPPED_COLUMNS]
    arrays = []
    for name in keep:
        column = table[name]
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pa.array([None if v is None else public_text(v) for v in column.to_pylist()], column.type)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=datasets.Features({c: features[c] for c in keep}).arrow_schema)


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise FileNotFoundError(
            f"{path}: listed in the manifest but unreadable ({exc.strerror}); restore it or re-run "
            "`python -m lsvd.prepare` on the source"
        ) from exc


def _embed(value: dict | None, name: str | None = None) -> dict | None:
    if value is None or value.get("path") is None:
        return value
    return {"bytes": _read_bytes(value["path"]), "path": name or os.path.basename(value["path"])}


def _png(data: bytes, name: str) -> dict:
    return {"bytes": data, "path": name}


def _embedded_rows(table: pa.Table, config: str, ps_numbers: dict[str, int], videos: FrameReader) -> Iterator[dict]:
    """Rows of a path table with every file's bytes embedded (video frames decoded to PNG)."""
    ps_cache: dict[str, dict | None] = {}
    for start in range(0, table.num_rows, _ROW_GROUP_ROWS):
        for row in table.slice(start, _ROW_GROUP_ROWS).to_pylist():
            cid = row["clip_id"]
            video = row[VIDEO_COLUMN]
            if cid not in ps_cache:
                ps_cache.clear()
                if video is not None and cid in ps_numbers:
                    number = ps_numbers[cid]
                    ps_cache[cid] = _png(encode_png(videos.get(video["path"], number, keep=True)), f"{number:08d}.png")
                else:
                    ps_cache[cid] = _embed(row[PS_COLUMN])
            row[PS_COLUMN] = ps_cache[cid]
            if config == FRAMES:
                if video is not None:
                    number = int(row["frame_number"])
                    row["image"] = _png(encode_png(videos.get(video["path"], number)), f"{number:08d}.png")
                else:
                    row["image"] = _embed(row["image"])
                for name in ("mask", "clean", "density"):
                    row[name] = _embed(row[name])
            else:
                if video is not None:
                    numbers = row.pop("_frame_numbers")
                    row["frames"] = [_png(encode_png(videos.get(video["path"], n)), f"{n:08d}.png") for n in numbers]
                else:
                    row.pop("_frame_numbers", None)
                    row["frames"] = None if row["frames"] is None else [_embed(v) for v in row["frames"]]
                for name in ("masks", "clean_frames", "densities"):
                    row[name] = None if row[name] is None else [_embed(v) for v in row[name]]
            row[VIDEO_COLUMN] = None
            yield row


def _row_bytes(row: dict) -> int:
    total = 0
    for value in row.values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("bytes"), bytes):
                total += len(item["bytes"])
    return total


class _ShardWriter:
    """Parquet shards ``<split>-NNNNN-of-MMMMM.parquet`` of at most ``max_rows`` rows / ``max_bytes``."""

    def __init__(self, folder: Path, split: str, schema: pa.Schema, max_rows: int, max_bytes: int) -> None:
        self.folder, self.split, self.schema = folder, split, schema
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.paths: list[Path] = []
        self._writer: pq.ParquetWriter | None = None
        self._rows = self._bytes = 0
        self._buf: list[dict] = []
        self._buf_bytes = 0
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, row: dict) -> None:
        self._buf.append(row)
        self._buf_bytes += _row_bytes(row)
        room = self.max_rows - self._rows
        if len(self._buf) >= min(_ROW_GROUP_ROWS, room) or self._buf_bytes >= _ROW_GROUP_BYTES:
            self._flush()

    def _open(self) -> pq.ParquetWriter:
        path = self.folder / f"{self.split}-{len(self.paths):05d}.parquet"
        self.paths.append(path)
        dictionary = [f"{PS_COLUMN}.bytes"] if f"{PS_COLUMN}" in self.schema.names else False
        # the PS frame repeats on every row of a clip: a dictionary stores it once per row group
        return pq.ParquetWriter(path, self.schema, use_dictionary=dictionary, dictionary_pagesize_limit=256 << 20)

    def _flush(self) -> None:
        if not self._buf:
            return
        if self._writer is None:
            self._writer = self._open()
        self._writer.write_table(pa.Table.from_pylist(self._buf, schema=self.schema), row_group_size=len(self._buf))
        self._rows += len(self._buf)
        self._bytes += self._buf_bytes
        self._buf, self._buf_bytes = [], 0
        if self._rows >= self.max_rows or self._bytes >= self.max_bytes:
            self._writer.close()
            self._writer, self._rows, self._bytes = None, 0, 0

    def close(self) -> list[Path]:
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if not self.paths:  # an empty split still needs a file for its data_files pattern
            self._writer = self._open()
            self._writer.write_table(self.schema.empty_table())
            self._writer.close()
            self._writer = None
        n = len(self.paths)
        final = []
        for i, path in enumerate(self.paths):
            target = path.with_name(f"{self.split}-{i:05d}-of-{n:05d}.parquet")
            path.rename(target)
            final.append(target)
        return final


def write_hub_folder(
    root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    max_shard_rows: int = 1000,
    max_shard_bytes: int = 500 << 20,
    configs: Sequence[Config] = CONFIGS,
) -> Path:
    """Write a self-contained, push-ready copy of a root: Parquet shards with the pixels embedded.

    ``out_dir`` gets ``README.md`` (a card whose ``configs`` point at ``data/<config>/<split>-*``),
    ``data/<config>/<split>-NNNNN-of-MMMMM.parquet`` (at most ``max_shard_rows`` rows and about
    ``max_shard_bytes`` of embedded bytes each; row groups of at most 100 rows) and ``meta/info.json``.
    Columns are those of :func:`lsvd.hf.load` less :data:`HUB_DROPPED_COLUMNS` (local paths, file times,
    input fingerprints); image values are embedded bytes named by their file name, frames of
    video-stored clips are decoded with PyAV and embedded as PNG, and ``video`` is null (no video bytes
    are copied). Nothing in the folder holds an absolute local path: text columns (``source_uri``...),
    the card and ``meta/info.json`` go through :func:`public_text` (an absolute path becomes its file
    or folder name). Makes no network call: upload with ``hf upload`` (huggingface_hub's CLI) or
    ``huggingface_hub.HfApi().upload_folder``. The folder appears atomically; an existing ``out_dir``
    is replaced only if it is empty or a previous Hub folder. Returns ``out_dir``.
    """
    for config in configs:
        check_config(config)
    if max_shard_rows < 1 or max_shard_bytes < 1:
        raise ValueError(f"max_shard_rows and max_shard_bytes must be >= 1, got {max_shard_rows}, {max_shard_bytes}")
    manifest = Manifest.load(root)
    out = Path(os.path.abspath(os.path.expanduser(out_dir)))
    src = Path(root_of(manifest))
    if out == src or src.is_relative_to(out):
        raise ValueError(f"out_dir {out} would replace the dataset root {src}; choose a folder outside it")
    if out.exists() and any(out.iterdir()):
        if (out / MANIFESTS_DIR).exists() or not (out / CARD_FILE).is_file() or not (out / HUB_DATA_DIR).is_dir():
            raise ValueError(
                f"{out} exists and is not a Hub folder written by lsvd.hf (expected README.md and {HUB_DATA_DIR}/, "
                "and no manifests/); choose an empty or new folder"
            )

    clips, frames = sorted_rows(manifest)
    ps_frames, numbers = ps_numbers(clips, frames), frame_numbers(frames)
    videos = FrameReader()
    data_files: dict[str, dict[str, str]] = {}
    features: dict[str, datasets.Features] = {}
    with atomic_dir(out) as tmp:
        for config in configs:
            data_files[config] = {}
            for split, table in build_tables(manifest, config).items():
                table = _hub_table(table)
                schema = table.schema
                if config == CLIPS:
                    table = table.append_column(
                        "_frame_numbers",
                        pa.array([numbers.get(cid, []) for cid in table["clip_id"].to_pylist()], pa.list_(pa.int64())),
                    )
                writer = _ShardWriter(tmp / HUB_DATA_DIR / config, split, schema, max_shard_rows, max_shard_bytes)
                for row in _embedded_rows(table, config, ps_frames, videos):
                    writer.add(row)
                shards = writer.close()
                log.info("%s/%s: %d shard(s)", config, split, len(shards))
                data_files[config][split] = f"{HUB_DATA_DIR}/{config}/{split}-*.parquet"
                features[config] = datasets.Features.from_arrow_schema(schema)
        write_json(tmp / INFO_FILE, public_json(manifest.info))
        write_bytes(tmp / CARD_FILE, render_card(manifest, data_files, features, hub=True).encode("utf-8"))
    return out
