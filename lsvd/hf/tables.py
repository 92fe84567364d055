"""The ``datasets`` tables of a dataset root, and :func:`load` (shared by the card and the Hub folder).

Two configs, built from the manifests (``lsvd.data.manifest``):

- ``frames``: one row per frame. ``image`` (this frame), ``ps_image`` (its clip's pre-smoke frame),
  ``mask``, ``clean``, ``density`` are :class:`datasets.Image` columns, null where the manifest has
  no such file; ``video`` is a :class:`datasets.Video` column with ``decode=False`` (a
  ``{"path", "bytes"}`` dict; decode it with :mod:`lsvd.io.video`, never torchcodec) that is set,
  instead of the image columns, for clips stored inside a video file (``storage == "video"``;
  the frame is ``frame_number`` / ``timestamp_s`` in it). Every scalar column of
  ``frames.parquet`` follows, plus the clip's ``split`` and ``storage``.
- ``clips``: one row per clip. Every column of ``clips.parquet`` (``split_seed<N>`` included),
  plus ``ps_image``, ``frames`` / ``masks`` / ``clean_frames`` / ``densities`` (lists of images in
  ``frame_index`` order; a list is null when the clip has none of that kind, an item is null
  where one frame lacks it) and ``video``.

Splits are the manifest's ``split`` values (characters outside ``[A-Za-z0-9_]`` become ``_``, as
``datasets`` requires). :func:`load` builds these tables in memory from the manifest;
``datasets.load_dataset(root)`` reads the same tables from the Parquet files the dataset card's
``configs`` point to (:mod:`lsvd.hf.card`), so both give the same rows, except that the card's
image and video paths of files inside the root are relative to it, and that only :func:`load` decodes
frames stored inside videos (:class:`VideoPixels`; the card's files of a root stored entirely in
videos leave the pixel columns out, :func:`lsvd.hf.card.card_tables`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import datasets
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lsvd.constants import ROLE_PS, STORAGE_VIDEO
from lsvd.data.manifest import CLIP_SCHEMA, FRAME_SCHEMA, Manifest, ManifestError

__all__ = [
    "CLIPS", "CONFIGS", "FRAMES", "MEDIA_COLUMNS", "PIXEL_COLUMNS", "PS_COLUMN", "VIDEO_COLUMN", "Config",
    "VideoPixels", "build_tables", "check_config", "check_split_names", "frame_numbers", "load", "ps_numbers",
    "split_name",
]

Config = Literal["frames", "clips"]
FRAMES: Config = "frames"
CLIPS: Config = "clips"
CONFIGS: tuple[Config, ...] = (FRAMES, CLIPS)

PS_COLUMN = "ps_image"
VIDEO_COLUMN = "video"
#: Per config, the columns of a frame's pixels (null in the tables for frames stored inside a video file).
PIXEL_COLUMNS: dict[str, tuple[str, str]] = {FRAMES: ("image", PS_COLUMN), CLIPS: ("frames", PS_COLUMN)}
#: Manifest file column -> (its ``frames``-config image column, its ``clips``-config list column).
MEDIA_COLUMNS: dict[str, tuple[str, str]] = {
    "path": ("image", "frames"),
    "mask_path": ("mask", "masks"),
    "clean_path": ("clean", "clean_frames"),
    "density_path": ("density", "densities"),
}


def split_name(split: str) -> str:
    """The ``datasets`` split name of a manifest split (non-word characters become ``_``)."""
    name = re.sub(r"\W", "_", str(split))
    return name or "_"


def isnull(value: Any) -> bool:
    """Whether a manifest cell is missing (None, ``pd.NA`` or NaN)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _absolute(value: Any, root: str) -> str | None:
    if isnull(value):
        return None
    value = str(value)
    return value if os.path.isabs(value) else os.path.join(root, value)


def _path_resolver(manifest: Manifest, relative: bool) -> Callable[[Any], str | None]:
    """Manifest path -> table path: as stored (``relative``) or absolute against the root's location."""
    if relative:
        return lambda value: None if isnull(value) else str(value)
    root = root_of(manifest)
    return lambda value: _absolute(value, root)


def root_of(manifest: Manifest) -> str:
    """The root's absolute path where it lives now."""
    # abspath, not resolve(): keep the user's spelling of the root (symlinked mounts stay as given)
    return os.path.abspath(os.path.expanduser(manifest.root))


def _scalar_table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Arrow table of ``df`` with the manifest's types (extra columns are strings, as written)."""
    fields = [schema.field(c) if c in schema.names else pa.field(c, pa.string()) for c in df.columns]
    return pa.Table.from_pandas(df, schema=pa.schema(fields), preserve_index=False)


def _image_array(paths: Sequence[str | None]) -> pa.StructArray:
    path_array = pa.array(paths, pa.string())
    return pa.StructArray.from_arrays(
        [pa.nulls(len(paths), pa.binary()), path_array], names=["bytes", "path"], mask=path_array.is_null()
    )


def sorted_rows(manifest: Manifest) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clips by ``clip_id`` and frames by ``clip_id, frame_index``; frames of unknown clips are an error."""
    clips = manifest.clips.sort_values("clip_id", kind="stable").reset_index(drop=True)
    frames = manifest.frames.sort_values(["clip_id", "frame_index"], kind="stable").reset_index(drop=True)
    unknown = sorted(set(frames["clip_id"]) - set(clips["clip_id"]))
    if unknown:
        raise ManifestError(
            f"{manifest.root}: frames.parquet has rows of clips missing from clips.parquet "
            f"({unknown[:5]}); re-run `python -m lsvd.prepare`"
        )
    return clips, frames


def ps_rows(clips: pd.DataFrame, frames: pd.DataFrame) -> pd.DataFrame:
    """One frame row per clip: its PS frame (role ps, else frame_index == ps_frame_index)."""
    ps = frames[frames["role"] == ROLE_PS].drop_duplicates("clip_id")
    missing = clips.loc[~clips["clip_id"].isin(ps["clip_id"]), ["clip_id", "ps_frame_index"]]
    if len(missing):
        extra = frames.merge(missing, left_on=["clip_id", "frame_index"], right_on=["clip_id", "ps_frame_index"])
        ps = pd.concat([ps, extra[frames.columns]], ignore_index=True)
    return ps.set_index("clip_id")


def _features(scalars: pa.Schema, media: dict[str, Any], order: Sequence[str]) -> datasets.Features:
    base = datasets.Features.from_arrow_schema(scalars)
    return datasets.Features({name: media[name] if name in media else base[name] for name in order})


def _frames_table(manifest: Manifest, relative: bool) -> pa.Table:
    where = _path_resolver(manifest, relative)
    clips, frames = sorted_rows(manifest)
    by_clip = clips.set_index("clip_id")
    is_video = (frames["clip_id"].map(by_clip["storage"]) == STORAGE_VIDEO).to_numpy()
    scal = frames.copy()
    scal["split"] = frames["clip_id"].map(by_clip["split"])
    scal["storage"] = frames["clip_id"].map(by_clip["storage"])
    scalars = _scalar_table(scal, FRAME_SCHEMA)

    ps = ps_rows(clips, frames)
    ps_path = {cid: where(p) for cid, p in ps["path"].items() if by_clip.at[cid, "storage"] != STORAGE_VIDEO}
    media: dict[str, pa.Array] = {}
    for col, (name, _) in MEDIA_COLUMNS.items():
        paths = [where(p) for p in frames[col]]
        if col == "path":
            media[VIDEO_COLUMN] = _image_array([p if v else None for p, v in zip(paths, is_video, strict=True)])
            paths = [None if v else p for p, v in zip(paths, is_video, strict=True)]
            media[PS_COLUMN] = _image_array([ps_path.get(cid) for cid in frames["clip_id"]])
        media[name] = _image_array(paths)

    media_features = {name: datasets.Image() for name in media}
    media_features[VIDEO_COLUMN] = datasets.Video(decode=False)
    head = ["clip_id", "frame_index", "split", "image", PS_COLUMN, "mask", "clean", "density", VIDEO_COLUMN]
    order = head + [c for c in scalars.column_names if c not in head]
    features = _features(scalars.schema, media_features, order)
    arrays = [media[c] if c in media else scalars[c] for c in order]
    return pa.Table.from_arrays(arrays, schema=features.arrow_schema)


def _clips_table(manifest: Manifest, relative: bool) -> pa.Table:
    where = _path_resolver(manifest, relative)
    clips, frames = sorted_rows(manifest)
    scalars = _scalar_table(clips, CLIP_SCHEMA)
    is_video = (clips["storage"] == STORAGE_VIDEO).to_numpy()
    ps = ps_rows(clips, frames)
    groups = {cid: g for cid, g in frames.groupby("clip_id", sort=False)}
    empty = frames.iloc[:0]

    media: dict[str, Any] = {}
    list_type = pa.list_(datasets.Image().pa_type)
    for col, (_, name) in MEDIA_COLUMNS.items():
        values = []
        for cid, video in zip(clips["clip_id"], is_video, strict=True):
            paths = [where(p) for p in groups.get(cid, empty)[col]]
            if (col == "path" and video) or all(p is None for p in paths):
                values.append(None)
            else:
                values.append([None if p is None else {"bytes": None, "path": p} for p in paths])
        media[name] = pa.array(values, list_type)
    media[PS_COLUMN] = _image_array(
        [None if v or cid not in ps.index else where(ps.at[cid, "path"])
         for cid, v in zip(clips["clip_id"], is_video, strict=True)]
    )
    video_paths = []
    for cid, video in zip(clips["clip_id"], is_video, strict=True):
        rows = groups.get(cid, empty)
        video_paths.append(where(rows["path"].iloc[0]) if video and len(rows) else None)
    media[VIDEO_COLUMN] = _image_array(video_paths)

    media_features: dict[str, Any] = {name: _list_feature(datasets.Image()) for _, name in MEDIA_COLUMNS.values()}
    media_features[PS_COLUMN] = datasets.Image()
    media_features[VIDEO_COLUMN] = datasets.Video(decode=False)
    head = ["clip_id", "split", PS_COLUMN, "frames", "masks", "clean_frames", "densities", VIDEO_COLUMN]
    order = head + [c for c in scalars.column_names if c not in head]
    features = _features(scalars.schema, media_features, order)
    arrays = [media[c] if c in media else scalars[c] for c in order]
    return pa.Table.from_arrays(arrays, schema=features.arrow_schema)


def _list_feature(feature: Any) -> Any:
    list_cls = getattr(datasets, "List", None) or datasets.Sequence  # datasets < 4 calls it Sequence
    return list_cls(feature)


def check_config(config: str) -> None:
    """Refuse a config name other than those of :data:`CONFIGS`."""
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}; expected one of {list(CONFIGS)}")


def build_tables(manifest: Manifest, config: Config, *, relative: bool = False) -> dict[str, pa.Table]:
    """The config's Arrow tables per split (``datasets`` split names, sorted).

    Image and video paths are absolute (resolved against the root's current location), or with
    ``relative`` kept as the manifest stores them: relative to the root unless outside it (the
    card's data files). Each table's schema carries its ``datasets`` features (``huggingface``
    schema metadata).
    """
    check_config(config)
    names = check_split_names(manifest.clips["split"])
    table = _frames_table(manifest, relative) if config == FRAMES else _clips_table(manifest, relative)
    return {name: table.filter(pc.equal(table["split"], split)) for name, split in sorted(names.items())}


def check_split_names(splits: Iterable[Any]) -> dict[str, str]:
    """``datasets`` split name -> manifest split; refuses two splits that get the same name."""
    names: dict[str, str] = {}
    for split in sorted({str(s) for s in splits}):
        name = split_name(split)
        if name in names:
            raise ValueError(
                f"splits {names[name]!r} and {split!r} both become the datasets split {name!r}; "
                "rename one of them (split names may use letters, digits and _)"
            )
        names[name] = split
    return names


def load(
    root: str | os.PathLike[str], config: Config = FRAMES, split: str | None = None
) -> datasets.Dataset | datasets.DatasetDict:
    """Load a prepared dataset root as ``datasets`` objects, without the HF cache or network.

    ``config="frames"`` gives one row per frame, ``"clips"`` one row per clip (columns in the
    module docstring). With ``split`` (a manifest split, e.g. ``"train"``) a :class:`datasets.Dataset`,
    else a :class:`datasets.DatasetDict` of every split. Image columns decode to ``PIL.Image``
    (RGB frames, ``L`` masks) or ``None`` where absent. Frames of clips stored inside a video file fill
    ``image`` / ``ps_image`` / ``frames`` too: decoded with PyAV when a row is read (one forward pass per
    video when rows are read in order, :class:`lsvd.io.video.FrameReader`; random access restarts the
    decoding, so prefer ``prepare --store png`` for shuffled access to long videos); ``video`` itself
    stays undecoded. Paths are resolved
    against the root's current location, so any working directory works. The rows equal those of
    ``datasets.load_dataset(str(root), config)`` but for the image and video paths, which the card's
    data files keep relative to the root (see :func:`lsvd.hf.write_dataset_card`).
    """
    check_config(config)
    manifest = Manifest.load(root)
    tables = build_tables(manifest, config)
    if split is not None:
        wanted = split_name(split)
        if wanted not in tables:
            raise ValueError(f"unknown split {split!r} in {manifest.root}; it has {sorted(tables)}")
        tables = {wanted: tables[wanted]}
    out = {name: _dataset(manifest, config, name, table) for name, table in tables.items()}
    if (manifest.clips["storage"] == STORAGE_VIDEO).any():
        clips, frames = sorted_rows(manifest)
        decode = VideoPixels(config, ps_numbers(clips, frames), frame_numbers(frames))
        out = {name: ds.with_transform(decode) for name, ds in out.items()}
    return out[split_name(split)] if split is not None else datasets.DatasetDict(out)


def ps_numbers(clips: pd.DataFrame, frames: pd.DataFrame) -> dict[str, int]:
    """Clip id -> the frame number of its PS frame in its video (clips whose PS row has one)."""
    ps = ps_rows(clips, frames)
    return {cid: int(n) for cid, n in ps["frame_number"].items() if not isnull(n)}


def frame_numbers(frames: pd.DataFrame) -> dict[str, list[int]]:
    """Clip id -> its frames' numbers in its video, in ``frame_index`` order (rows as :func:`sorted_rows`)."""
    return {cid: [int(n) for n in g["frame_number"]] for cid, g in frames.groupby("clip_id", sort=False)}


class VideoPixels:
    """A ``datasets`` transform that fills the pixel columns of video-stored rows by decoding their video.

    ``frames`` config: ``image`` (frame ``frame_number``) and ``ps_image``; ``clips`` config: ``frames`` and
    ``ps_image``; each a ``PIL.Image`` (RGB). Rows of other clips, and columns asked for without ``video``
    (``ds["image"]``), pass through unchanged.
    """

    def __init__(self, config: Config, ps: dict[str, int], numbers: dict[str, list[int]]) -> None:
        from lsvd.io.video import FrameReader

        self.config, self.ps, self.numbers, self.reader = config, ps, numbers, FrameReader()

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        from PIL import Image

        for k, video in enumerate(batch.get(VIDEO_COLUMN) or []):
            if video is None or not video.get("path"):
                continue
            path, cid = video["path"], batch["clip_id"][k]
            if PS_COLUMN in batch and cid in self.ps:
                batch[PS_COLUMN][k] = Image.fromarray(self.reader.get(path, self.ps[cid], keep=True))
            if self.config == FRAMES and "image" in batch and "frame_number" in batch:
                batch["image"][k] = Image.fromarray(self.reader.get(path, int(batch["frame_number"][k])))
            elif self.config == CLIPS and "frames" in batch:
                batch["frames"][k] = [Image.fromarray(self.reader.get(path, n)) for n in self.numbers.get(cid, [])]
        return batch


def _dataset(manifest: Manifest, config: str, split: str, table: pa.Table) -> datasets.Dataset:
    from datasets.fingerprint import Hasher
    from datasets.table import InMemoryTable

    features = datasets.Features.from_arrow_schema(table.schema)
    info = datasets.DatasetInfo(
        description=f"LSVD toolkit dataset root {manifest.root} ({config}, {split})",
        features=features,
        config_name=config,
    )
    fingerprint = Hasher.hash([manifest.manifest_id, root_of(manifest), config, split])
    return datasets.Dataset(InMemoryTable(table), info=info, split=datasets.NamedSplit(split), fingerprint=fingerprint)
