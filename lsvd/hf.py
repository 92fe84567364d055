"""HuggingFace ``datasets`` views of a dataset root, its dataset card, and a push-ready Hub folder.

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
``configs`` point to (``hf/<config>/<split>.parquet``), so both give the same rows, except that
the card's image and video paths of files inside the root are relative to it (see below).

How image paths resolve (checked against ``datasets`` 5.2, ``features/image.py`` and
``packaged_modules/parquet``): an ``Image`` value read from a Parquet data file is opened with
``PIL.Image.open(path)`` as stored, so a *relative* path resolves against the current working
directory, not against the data file or the card. The only place ``datasets`` joins relative
paths to a folder is the folder-based builders' ``metadata.{csv,jsonl,parquet}`` with
``*_file_name`` columns (imagefolder), and that does not fit here: it refuses absolute paths (so
LSVD trees indexed in place outside the root cannot be referenced), one builder is inferred for
the whole card from file extensions, and its metadata files must sit in the folder that holds
every image. No stored path can name the root's own files both from any working directory and
after the root is copied or moved.

Decision: the card's data files store every path **as the manifest does**: relative to the root
for files inside it, absolute for sources indexed in place outside it. A copied root then reads
its own pixels and a moved root still loads, with no rewrite; the data files hold no absolute path
of the root and are the same bytes wherever the root lives. The price: ``datasets.load_dataset``
must run with the root as working directory (``os.chdir(root)`` first) to decode files inside
the root. :func:`load` has no such condition: it resolves every path against the
root's current location, from any working directory. To share the data,
:func:`write_hub_folder` writes a self-contained copy with every pixel embedded (frames of
video-stored clips decoded with PyAV and stored as PNG) and without local paths
(:data:`HUB_DROPPED_COLUMNS`, :func:`public_text`), ready for ``hf upload``.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import datasets
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from lsvd.constants import CARD_FILE, INFO_FILE, MANIFESTS_DIR, ROLE_PS, STORAGE_VIDEO
from lsvd.data.manifest import CLIP_SCHEMA, COLUMN_DOCS, FRAME_SCHEMA, Manifest, ManifestError
from lsvd.io.atomic import atomic_dir, write_bytes, write_json

log = logging.getLogger(__name__)

Config = Literal["frames", "clips"]
FRAMES: Config = "frames"
CLIPS: Config = "clips"
CONFIGS: tuple[Config, ...] = (FRAMES, CLIPS)

#: Folder (under the root) of the Parquet files the local card's ``configs`` point to.
CARD_DATA_DIR = "hf"
#: Folder (under a Hub folder) of its Parquet shards.
HUB_DATA_DIR = "data"
#: Parquet schema-metadata key recording which manifest a card data file was built from.
CARD_MANIFEST_KEY = b"lsvd.manifest_id"
#: Manifest columns of local paths, left out of a Hub folder (its pixels are embedded instead).
HUB_PATH_COLUMNS = ("path", "mask_path", "clean_path", "density_path", "metric_ref_path")
#: Bookkeeping of the machine that indexed the sources (file times, input fingerprints), also left out.
HUB_BOOKKEEPING_COLUMNS = ("mtime_ns", "fingerprint")
HUB_DROPPED_COLUMNS = HUB_PATH_COLUMNS + HUB_BOOKKEEPING_COLUMNS

PS_COLUMN = "ps_image"
VIDEO_COLUMN = "video"
#: Manifest file column -> (its ``frames``-config image column, its ``clips``-config list column).
MEDIA_COLUMNS: dict[str, tuple[str, str]] = {
    "path": ("image", "frames"),
    "mask_path": ("mask", "masks"),
    "clean_path": ("clean", "clean_frames"),
    "density_path": ("density", "densities"),
}

MEDIA_DOCS: dict[str, str] = {
    "image": "this frame (the smoky frame; the PS frame itself on the PS row); null for storage=video",
    PS_COLUMN: "the clip's pre-smoke (PS) frame: smoke-free target and reference; null for storage=video",
    "mask": "SelfSVD mask at 1/4 resolution (0/255), null if none",
    "clean": "clean ground-truth frame, null if none",
    "density": "smoke density map (16-bit, value/65535), null if none",
    "frames": "the clip's frames in frame_index order (PS frame included); null for storage=video",
    "masks": "per-frame masks (null list if the clip has none, null items where a frame has none)",
    "clean_frames": "per-frame clean ground truth (null list if the clip has none)",
    "densities": "per-frame smoke density maps (null list if the clip has none)",
    VIDEO_COLUMN: "storage=video: the video file (decode=False: a {path, bytes} dict; decode with "
    "lsvd.io.video / PyAV at frame_number); null otherwise",
}

SELFSVD_BIBTEX = """@inproceedings{wu2024selfsvd,
  title     = {Self-Supervised Video Desmoking for Laparoscopic Surgery},
  author    = {Wu, Renlong and Zhang, Zhilu and Zhang, Shuohao and Gou, Longfei and Chen, Haobin
               and Zhang, Lei and Chen, Hao and Zuo, Wangmeng},
  booktitle = {European Conference on Computer Vision (ECCV)},
  year      = {2024}
}"""

_PRETTY_NAMES = {
    "lsvd": "LSVD: Laparoscopic Surgery Video Desmoking",
    "synthetic": "Synthetic mini-LSVD (LSVD toolkit)",
    "video": "Laparoscopic videos for desmoking (LSVD toolkit)",
}
_SPDX_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")
_ROW_GROUP_ROWS = 100  # Hub shards: rows per Parquet row group (what one reader batch holds)
_ROW_GROUP_BYTES = 64 << 20  # ... or fewer rows once their embedded bytes reach this


# --------------------------------------------------------------------------------------------
# building the tables (shared by load, the card's data files and the Hub folder)
# --------------------------------------------------------------------------------------------


def split_name(split: str) -> str:
    """The ``datasets`` split name of a manifest split (non-word characters become ``_``)."""
    name = re.sub(r"\W", "_", str(split))
    return name or "_"


def _isnull(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _absolute(value: Any, root: str) -> str | None:
    if _isnull(value):
        return None
    value = str(value)
    return value if os.path.isabs(value) else os.path.join(root, value)


def _path_resolver(manifest: Manifest, relative: bool) -> Callable[[Any], str | None]:
    """Manifest path -> table path: as stored (``relative``) or absolute against the root's location."""
    if relative:
        return lambda value: None if _isnull(value) else str(value)
    root = _root_of(manifest)
    return lambda value: _absolute(value, root)


# an absolute local path: POSIX (not inside a URL or a relative path), file://, drive letter or UNC;
# it may hold spaces, and ends at a line break or one of , ; # ? : " ' ` | < > ( ) [ ]
_PATH_CHARS = r"[^\n\r\t,;#?:\"'`|<>()\[\]]"
_LOCAL_PATH = re.compile(r"(?:\bfile://|(?<![\w.:/\\~-]))(?:/|[A-Za-z]:[\\/]|\\\\)(?! )" + _PATH_CHARS + "+")


def public_text(text: str) -> str:
    """``text`` with every absolute local path replaced by its last component (file or folder name).

    ``/home/me/videos/case12.mp4#frames=0-99`` becomes ``case12.mp4#frames=0-99``; URLs,
    relative paths and other text are kept. Used on everything a Hub folder takes from a manifest.
    """
    def name(match: re.Match[str]) -> str:
        path = match.group()
        path = path[len("file://"):] if path.startswith("file://") else path
        return re.split(r"[\\/]", path.rstrip("/\\"))[-1]

    return _LOCAL_PATH.sub(name, text)


def _public_json(value: Any) -> Any:
    """A JSON value with :func:`public_text` applied to every string (keys included)."""
    if isinstance(value, str):
        return public_text(value)
    if isinstance(value, dict):
        return {public_text(str(k)): _public_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_public_json(v) for v in value]
    return value


def _root_of(manifest: Manifest) -> str:
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


def _sorted(manifest: Manifest) -> tuple[pd.DataFrame, pd.DataFrame]:
    clips = manifest.clips.sort_values("clip_id", kind="stable").reset_index(drop=True)
    frames = manifest.frames.sort_values(["clip_id", "frame_index"], kind="stable").reset_index(drop=True)
    unknown = sorted(set(frames["clip_id"]) - set(clips["clip_id"]))
    if unknown:
        raise ManifestError(
            f"{manifest.root}: frames.parquet has rows of clips missing from clips.parquet "
            f"({unknown[:5]}); re-run `python -m lsvd.prepare`"
        )
    return clips, frames


def _ps_rows(clips: pd.DataFrame, frames: pd.DataFrame) -> pd.DataFrame:
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
    clips, frames = _sorted(manifest)
    by_clip = clips.set_index("clip_id")
    is_video = (frames["clip_id"].map(by_clip["storage"]) == STORAGE_VIDEO).to_numpy()
    scal = frames.copy()
    scal["split"] = frames["clip_id"].map(by_clip["split"])
    scal["storage"] = frames["clip_id"].map(by_clip["storage"])
    scalars = _scalar_table(scal, FRAME_SCHEMA)

    ps = _ps_rows(clips, frames)
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
    clips, frames = _sorted(manifest)
    scalars = _scalar_table(clips, CLIP_SCHEMA)
    is_video = (clips["storage"] == STORAGE_VIDEO).to_numpy()
    ps = _ps_rows(clips, frames)
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


def _check_config(config: str) -> None:
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}; expected one of {list(CONFIGS)}")


def build_tables(manifest: Manifest, config: Config, *, relative: bool = False) -> dict[str, pa.Table]:
    """The config's Arrow tables per split (``datasets`` split names, sorted).

    Image and video paths are absolute (resolved against the root's current location), or with
    ``relative`` kept as the manifest stores them: relative to the root unless outside it (the
    card's data files). Each table's schema carries its ``datasets`` features (``huggingface``
    schema metadata).
    """
    _check_config(config)
    table = _frames_table(manifest, relative) if config == FRAMES else _clips_table(manifest, relative)
    names: dict[str, str] = {}
    for split in sorted(manifest.clips["split"].astype(str).unique()):
        name = split_name(split)
        if name in names:
            raise ValueError(
                f"splits {names[name]!r} and {split!r} both become the datasets split {name!r}; "
                "rename one of them (split names may use letters, digits and _)"
            )
        names[name] = split
    return {name: table.filter(pc.equal(table["split"], split)) for name, split in sorted(names.items())}


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------


def load(
    root: str | os.PathLike[str], config: Config = FRAMES, split: str | None = None
) -> datasets.Dataset | datasets.DatasetDict:
    """Load a prepared dataset root as ``datasets`` objects, without the HF cache or network.

    ``config="frames"`` gives one row per frame, ``"clips"`` one row per clip (columns in the
    module docstring). With ``split`` (a manifest split, e.g. ``"train"``) a :class:`datasets.Dataset`,
    else a :class:`datasets.DatasetDict` of every split. Image columns decode to ``PIL.Image``
    (RGB frames, ``L`` masks) or ``None`` where absent; ``video`` stays undecoded. Paths are resolved
    against the root's current location, so any working directory works. The rows equal those of
    ``datasets.load_dataset(str(root), config)`` but for the image and video paths, which the card's
    data files keep relative to the root (see :func:`write_dataset_card`).
    """
    _check_config(config)
    manifest = Manifest.load(root)
    tables = build_tables(manifest, config)
    if split is not None:
        wanted = split_name(split)
        if wanted not in tables:
            raise ValueError(f"unknown split {split!r} in {manifest.root}; it has {sorted(tables)}")
        tables = {wanted: tables[wanted]}
    out = {name: _dataset(manifest, config, name, table) for name, table in tables.items()}
    return out[split_name(split)] if split is not None else datasets.DatasetDict(out)


def _dataset(manifest: Manifest, config: str, split: str, table: pa.Table) -> datasets.Dataset:
    from datasets.fingerprint import Hasher
    from datasets.table import InMemoryTable

    features = datasets.Features.from_arrow_schema(table.schema)
    info = datasets.DatasetInfo(
        description=f"LSVD toolkit dataset root {manifest.root} ({config}, {split})",
        features=features,
        config_name=config,
    )
    fingerprint = Hasher.hash([manifest.manifest_id, _root_of(manifest), config, split])
    return datasets.Dataset(InMemoryTable(table), info=info, split=datasets.NamedSplit(split), fingerprint=fingerprint)


# --------------------------------------------------------------------------------------------
# the dataset card
# --------------------------------------------------------------------------------------------


def _parquet_bytes(table: pa.Table, **kwargs: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **kwargs)
    return sink.getvalue()


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    write_bytes(path, data)
    return True


def write_dataset_card(manifest: Manifest) -> Path:
    """Write ``README.md`` (the HF dataset card) and the Parquet files its ``configs`` point to.

    The data files are ``hf/<config>/<split>.parquet`` under the root, with the pixels' paths as the
    manifest stores them: relative to the root for files inside it (so a copied or moved root
    keeps working; ``datasets`` resolves them against the working directory, see the module
    docstring), absolute for sources indexed in place outside it. Files of splits that no longer
    exist are removed. Every write is atomic, and a file whose bytes would not change is not
    rewritten, so calling this after every ``prepare`` run is cheap. Card and data files are
    deterministic: the same manifest gives the same bytes wherever the root lives.
    Returns the card's path.
    """
    root = Path(manifest.root)
    data_files: dict[str, dict[str, str]] = {}
    features: dict[str, datasets.Features] = {}
    keep: set[Path] = set()
    for config in CONFIGS:
        tables = build_tables(manifest, config, relative=True)
        data_files[config] = {}
        for split, table in tables.items():
            rel = f"{CARD_DATA_DIR}/{config}/{split}.parquet"
            meta = {**(table.schema.metadata or {}), CARD_MANIFEST_KEY: manifest.manifest_id.encode()}
            if _write_if_changed(root / rel, _parquet_bytes(table.replace_schema_metadata(meta))):
                log.debug("wrote %s", root / rel)
            data_files[config][split] = rel
            keep.add(root / rel)
            features[config] = datasets.Features.from_arrow_schema(table.schema)
    for stale in sorted((root / CARD_DATA_DIR).glob("*/*.parquet")):
        if stale not in keep:
            stale.unlink()
    card = root / CARD_FILE
    _write_if_changed(card, render_card(manifest, data_files, features, hub=False).encode("utf-8"))
    return card


def card_is_current(root: str | os.PathLike[str]) -> bool:
    """Whether the card and its data files match the manifest (wherever the root now lives)."""
    manifest = Manifest.load(root)
    for config in CONFIGS:
        for split, table in build_tables(manifest, config, relative=True).items():
            path = Path(manifest.root) / CARD_DATA_DIR / config / f"{split}.parquet"
            try:
                on_disk = pq.read_table(path)
            except (OSError, pa.ArrowInvalid):
                return False
            if (on_disk.schema.metadata or {}).get(CARD_MANIFEST_KEY) != manifest.manifest_id.encode():
                return False
            if not on_disk.replace_schema_metadata(None).equals(table.replace_schema_metadata(None)):
                return False
    return (Path(manifest.root) / CARD_FILE).is_file()


def _licence_yaml(licences: list[str]) -> dict[str, Any]:
    ids = sorted({lic.lower() if _SPDX_LIKE.match(lic) else "other" for lic in licences}) or ["unknown"]
    out: dict[str, Any] = {"license": ids[0] if len(ids) == 1 else ids}
    free = [lic for lic in licences if not _SPDX_LIKE.match(lic)]
    if len(free) == 1:
        out["license_name"] = re.sub(r"[^a-z0-9]+", "-", free[0].lower()).strip("-")[:64] or "other"
    return out


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M" if n < 10_000_000 else "10M<n<100M"


def _feature_type(feature: Any) -> str:
    if isinstance(feature, datasets.Image):
        return "image"
    if isinstance(feature, datasets.Video):
        return "video (decode=False)"
    if isinstance(feature, datasets.Value):
        return feature.dtype
    inner = getattr(feature, "feature", None)
    if inner is not None:
        return f"list of {_feature_type(inner)}"
    return type(feature).__name__


def _column_doc(name: str) -> str:
    if name in MEDIA_DOCS:
        return MEDIA_DOCS[name]
    if name in COLUMN_DOCS:
        return COLUMN_DOCS[name]
    match = re.fullmatch(r"split_seed(\d+)", name)
    if match:
        return f"split drawn by the toolkit with seed {match.group(1)}"
    return ""


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_card(
    manifest: Manifest,
    data_files: dict[str, dict[str, str]],
    features: dict[str, datasets.Features],
    *,
    hub: bool,
) -> str:
    """The dataset card text: YAML front matter (``configs`` -> ``data_files``) and a description.

    ``data_files`` maps config -> split -> path or glob (relative to the card's folder).
    Deterministic: no timestamps. The local card (``hub=False``) shows the manifest's source as
    recorded; the Hub card (``hub=True``) holds no absolute local path (:func:`public_text` on
    everything it takes from the manifest).
    """
    if hub:
        manifest = _public_manifest(manifest)
    clips, frames = _sorted(manifest)
    info = manifest.info
    source = info.get("source") or {}
    kind = str(source.get("kind", "unknown"))
    licences = sorted(clips["licence"].dropna().astype(str).unique()) if "licence" in clips else []
    front: dict[str, Any] = {
        "pretty_name": _PRETTY_NAMES.get(kind, "Surgical video desmoking dataset (LSVD toolkit)"),
        **_licence_yaml(licences),
        "task_categories": ["image-to-image"],
        "tags": ["surgical-video", "laparoscopy", "desmoking", "smoke-removal", "medical", "video", "lsvd"],
        "size_categories": [_size_category(len(frames))],
        "configs": [
            {
                "config_name": config,
                **({"default": True} if config == FRAMES else {}),
                "data_files": [{"split": split, "path": path} for split, path in sorted(data_files[config].items())],
            }
            for config in CONFIGS
            if data_files.get(config)
        ],
    }
    yaml_text = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    lines: list[str] = ["---", yaml_text.rstrip("\n"), "---", "", f"# {front['pretty_name']}", ""]
    add = lines.append

    add(
        "Surgical video desmoking data indexed by the LSVD toolkit (`python -m lsvd.prepare`). "
        "Each clip is a sequence of frames of one laparoscopic scene: "
        "its pre-smoke (PS) frame is smoke-free and serves as the self-supervision target and metric "
        "reference of SelfSVD (ECCV 2024); the other frames are smoky."
        if not hub
        else "Surgical video desmoking data exported by the LSVD toolkit (`python -m lsvd.hf hub`). "
        "Each clip is a sequence of frames of one laparoscopic scene: its pre-smoke (PS) frame is "
        "smoke-free and serves as the self-supervision target and metric reference of SelfSVD (ECCV 2024); "
        "the other frames are smoky."
    )
    add("")
    add("## Source")
    add("")
    add(f"- kind: `{kind}`")
    if source.get("description"):
        add(f"- description: {_md_escape(source['description'])}")
    if source.get("uri"):
        add(f"- uri: `{_md_escape(source['uri'])}`")
    add(f"- manifest id: `{info.get('manifest_id', manifest.manifest_id)}` "
        f"(format {info.get('format_version', '?')}, written by lsvd-toolkit {info.get('toolkit_version', '?')})")
    add("")

    add("## Splits")
    add("")
    add("| split | clips | frames | clips with clean frames | frames with masks | storage |")
    add("| --- | ---: | ---: | ---: | ---: | --- |")
    frame_split = frames["clip_id"].map(clips.set_index("clip_id")["split"])
    for split in sorted(clips["split"].astype(str).unique()):
        c = clips[clips["split"].astype(str) == split]
        f = frames[frame_split.astype(str) == split]
        storages = ", ".join(f"{k} ({v})" for k, v in sorted(c["storage"].astype(str).value_counts().items()))
        add(f"| {_md_escape(split)} | {len(c)} | {len(f)} | {int(c['has_clean'].fillna(False).astype(bool).sum())} "
            f"| {int(f['mask_path'].notna().sum())} | {storages} |")
    add(f"| **all** | {len(clips)} | {len(frames)} | | | |")
    add("")

    add("## Licence")
    add("")
    counts = clips["licence"].astype(str).value_counts() if "licence" in clips else pd.Series(dtype=int)
    for lic in licences:
        add(f"- {_md_escape(lic)}: {int(counts.get(lic, 0))} clips")
    if not licences:
        add("- unknown (no licence recorded)")
    add("")
    add("The licence of the pixels is recorded per clip (`licence` column); the YAML `license` field above "
        "is derived from it (`other` for licences without an SPDX identifier).")
    add("")

    add("## Sensitive data: patients, consent and licence")
    add("")
    add("Laparoscopic video is recorded inside patients during surgery: it is health data. Whoever shares or "
        "uploads this data must make sure that:")
    add("")
    add("- every patient (or the ethics board that approved the recording) consented to this use and to "
        "publication, and the data was de-identified as that approval requires;")
    add("- no frame shows identifying information: the operating room or faces when the camera is outside "
        "the body, or on-screen overlays of the recording system (names, dates, hospital or case numbers);")
    add("- clip ids and file names carry no names, dates or case numbers (they come from the source folders "
        "and video files);")
    add("- the licence of every clip (`licence` column) allows redistribution; a private dataset on the Hub "
        "with gated access is the place for data that must not be public.")
    add("")
    if hub:
        add("This folder was exported by `python -m lsvd.hf hub`, which embeds the pixels and leaves out what "
            "identifies the machine that indexed them: local paths (`" + "`, `".join(HUB_PATH_COLUMNS)
            + "`), file times and input fingerprints (`" + "`, `".join(HUB_BOOKKEEPING_COLUMNS)
            + "`); every absolute path in "
            "the other columns, this card and `meta/info.json` is reduced to its file or folder name. It does "
            "not look at the pixels: check them before uploading.")
    else:
        add("This folder is a local index: its manifests and `meta/info.json` record where the sources lie on "
            "this machine (absolute paths of sources indexed in place, file times). To share the data, export "
            "it with `python -m lsvd.hf hub <root> <out>`, which leaves those out, rather than uploading this "
            "folder.")
    add("")

    add("## Configs and columns")
    add("")
    add("- `frames` (default): one row per frame.")
    add("- `clips`: one row per clip, the frames as lists of images.")
    add("")
    if hub:
        add("Absent files are `None` (null), never placeholder images. In this folder the frames of clips "
            "stored inside a video file (`storage = video`) are embedded as decoded PNG images like all others "
            "(`image`, `ps_image`, `frames`), and `video` is always null.")
    else:
        add("Absent files are `None` (null), never placeholder images. Clips stored inside a video file "
            "(`storage = video`) have their frames addressed by `frame_number` / `timestamp_s` in the `video` "
            "column's file, which is not decoded (`datasets.Video(decode=False)`; decode with PyAV, e.g. "
            "`lsvd.io.video.read_frames`).")
    add("")
    for config in CONFIGS:
        if config not in features:
            continue
        add(f"### `{config}`")
        add("")
        add("| column | type | description |")
        add("| --- | --- | --- |")
        for name, feature in features[config].items():
            add(f"| `{name}` | {_feature_type(feature)} | {_md_escape(_column_doc(name))} |")
        add("")

    add("## How the image columns find their files")
    add("")
    if hub:
        add("Every pixel is embedded in the Parquet shards under `data/` (image bytes; frames of clips stored "
            "in videos were decoded with PyAV and stored as PNG, so the `video` column is null here). "
            "Nothing points outside this folder: it can be uploaded as is, e.g. "
            "`hf upload <user>/<name> <this folder> --repo-type=dataset`. "
            "Each config stores its own copy of the pixels.")
    else:
        add("The Parquet files under `hf/` hold the paths of the pixels as the manifest does: **relative to this "
            "folder** for files inside it, absolute for sources indexed in place outside it. A copy of this "
            "folder reads its own files and a moved folder keeps working, with nothing to rewrite. HF `datasets` "
            "opens a relative image path against the current working directory (not against this folder), so "
            "run `datasets.load_dataset` from this folder; `lsvd.hf.load` resolves every path against the "
            "folder's current location, from any working directory. The files are rewritten whenever "
            "`python -m lsvd.prepare` changes the manifest. To share the data, `python -m lsvd.hf hub <root> "
            "<out>` writes a self-contained copy with the pixels embedded.")
    add("")

    add("## Loading")
    add("")
    add("```python")
    if hub:
        add("from datasets import load_dataset")
        add("")
        add('frames = load_dataset("<user>/<name>", "frames", split="' + _first_split(data_files) + '")')
        add('clips = load_dataset("<user>/<name>", "clips")  # or a local copy of this folder')
        add('frames[0]["image"], frames[0]["ps_image"]  # PIL images')
    else:
        add("import lsvd.hf")
        add("")
        add('root = "path/to/this/folder"')
        add('frames = lsvd.hf.load(root, "frames", split="' + _first_split(data_files) + '")  # datasets.Dataset')
        add('clips = lsvd.hf.load(root, "clips")  # datasets.DatasetDict of every split')
        add('frames[0]["image"], frames[0]["ps_image"]  # PIL images (None where absent)')
        add("")
        add("# the same rows through the card's configs, offline, from this folder (paths are relative to it):")
        add("import os")
        add("from datasets import load_dataset")
        add("")
        add("os.chdir(root)  # not load_dataset(\".\"): datasets needs a folder name")
        add('frames = load_dataset(root, "frames", split="' + _first_split(data_files) + '")')
    add("```")
    add("")
    if not hub:
        add("For training and benchmarking, the PyTorch datasets in `lsvd.data.datasets` read the same "
            "manifest (`manifests/*.parquet`) directly, and the toolkit's commands (`python -m lsvd.train`, "
            "`python -m benchmarks.run`) take this folder as their dataset root:")
        add("")
        add("```python")
        add("from lsvd.data.datasets import TestClips, TrainWindows")
        add("")
        add('train = TrainWindows(root, "train")  # 5 smoky frames + PS frame + mask, one shared random crop')
        add('test = TestClips(root, "test")  # whole clips at native resolution')
        add('item = test[0]  # {"lqs": (T, 3, H, W), "ps": (3, H, W), "mask": (1, H/4, W/4), ...} in [0, 1]')
        add("```")
        add("")

    add("## Citation")
    add("")
    add("SelfSVD and the LSVD dataset: Renlong Wu, Zhilu Zhang, Shuohao Zhang, Longfei Gou, Haobin Chen, Lei Zhang, "
        "Hao Chen, Wangmeng Zuo, \"Self-Supervised Video Desmoking for Laparoscopic Surgery\", ECCV 2024.")
    add("")
    add("```bibtex")
    add(SELFSVD_BIBTEX)
    add("```")
    add("")
    return "\n".join(lines)


def _public_manifest(manifest: Manifest) -> Manifest:
    """``manifest`` with :func:`public_text` applied to its info and to every text cell of its tables."""
    def public(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for col in df.columns:
            if pd.api.types.is_object_dtype(df[col]) or pd.api.types.is_string_dtype(df[col]):
                df[col] = df[col].map(lambda v: public_text(v) if isinstance(v, str) else v)
        return df

    return dataclasses.replace(manifest, info=_public_json(manifest.info), clips=public(manifest.clips),
                               frames=public(manifest.frames))


def _first_split(data_files: dict[str, dict[str, str]]) -> str:
    splits = sorted(data_files.get(FRAMES, {}))
    return "test" if "test" in splits else (splits[0] if splits else "train")


# --------------------------------------------------------------------------------------------
# the Hub folder
# --------------------------------------------------------------------------------------------


class _VideoPNGs:
    """PNG bytes of video frames by frame number, decoded in one forward pass when rows ascend."""

    def __init__(self) -> None:
        self._path: str | None = None
        self._frames: Iterator[Any] | None = None
        self._next = 0
        self._memo: dict[tuple[str, int], bytes] = {}

    def get(self, path: str, number: int, *, keep: bool = False) -> bytes:
        """The frame's PNG bytes; ``keep`` remembers them (a clip's PS frame, asked for again)."""
        from lsvd.io.images import encode_png
        from lsvd.io.video import VideoError, iter_frames

        key = (path, int(number))
        if key in self._memo:
            return self._memo[key]
        if path != self._path or number < self._next or self._frames is None:
            self._path, self._frames, self._next = path, iter_frames(path), 0
        for frame in self._frames:
            self._next = frame.number + 1
            if frame.number == number:
                data = encode_png(frame.rgb)
                if keep:
                    self._memo = {key: data}
                return data
            if frame.number > number:
                break
        self._frames = None
        raise VideoError(f"{path}: frame {number} not found (the video has fewer frames than the manifest says; "
                         "re-run `python -m lsvd.prepare`)")


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


def _embedded_rows(table: pa.Table, config: str, ps_numbers: dict[str, int], videos: _VideoPNGs) -> Iterator[dict]:
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
                    ps_cache[cid] = _png(videos.get(video["path"], number, keep=True), f"{number:08d}.png")
                else:
                    ps_cache[cid] = _embed(row[PS_COLUMN])
            row[PS_COLUMN] = ps_cache[cid]
            if config == FRAMES:
                if video is not None:
                    number = int(row["frame_number"])
                    row["image"] = _png(videos.get(video["path"], number), f"{number:08d}.png")
                else:
                    row["image"] = _embed(row["image"])
                for name in ("mask", "clean", "density"):
                    row[name] = _embed(row[name])
            else:
                if video is not None:
                    numbers = row.pop("_frame_numbers")
                    row["frames"] = [_png(videos.get(video["path"], n), f"{n:08d}.png") for n in numbers]
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
    Columns are those of :func:`load` less :data:`HUB_DROPPED_COLUMNS` (local paths, file times,
    input fingerprints); image values are embedded bytes named by their file name, frames of
    video-stored clips are decoded with PyAV and embedded as PNG, and ``video`` is null (no video bytes
    are copied). Nothing in the folder holds an absolute local path: text columns (``source_uri``...),
    the card and ``meta/info.json`` go through :func:`public_text` (an absolute path becomes its file
    or folder name). Makes no network call: upload with ``hf upload`` (huggingface_hub's CLI) or
    ``huggingface_hub.HfApi().upload_folder``. The folder appears atomically; an existing ``out_dir``
    is replaced only if it is empty or a previous Hub folder. Returns ``out_dir``.
    """
    for config in configs:
        _check_config(config)
    if max_shard_rows < 1 or max_shard_bytes < 1:
        raise ValueError(f"max_shard_rows and max_shard_bytes must be >= 1, got {max_shard_rows}, {max_shard_bytes}")
    manifest = Manifest.load(root)
    out = Path(os.path.abspath(os.path.expanduser(out_dir)))
    src = Path(_root_of(manifest))
    if out == src or src.is_relative_to(out):
        raise ValueError(f"out_dir {out} would replace the dataset root {src}; choose a folder outside it")
    if out.exists() and any(out.iterdir()):
        if (out / MANIFESTS_DIR).exists() or not (out / CARD_FILE).is_file() or not (out / HUB_DATA_DIR).is_dir():
            raise ValueError(
                f"{out} exists and is not a Hub folder written by lsvd.hf (expected README.md and {HUB_DATA_DIR}/, "
                "and no manifests/); choose an empty or new folder"
            )

    _, frames = _sorted(manifest)
    ps = _ps_rows(manifest.clips, frames)
    ps_numbers = {cid: int(n) for cid, n in ps["frame_number"].items() if not _isnull(n)}
    numbers = {cid: [int(n) for n in g["frame_number"]] for cid, g in frames.groupby("clip_id", sort=False)}
    videos = _VideoPNGs()
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
                for row in _embedded_rows(table, config, ps_numbers, videos):
                    writer.add(row)
                shards = writer.close()
                log.info("%s/%s: %d shard(s)", config, split, len(shards))
                data_files[config][split] = f"{HUB_DATA_DIR}/{config}/{split}-*.parquet"
                features[config] = datasets.Features.from_arrow_schema(schema)
        write_json(tmp / INFO_FILE, _public_json(manifest.info))
        write_bytes(tmp / CARD_FILE, render_card(manifest, data_files, features, hub=True).encode("utf-8"))
    return out


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lsvd.hf",
        description="HuggingFace datasets views of a prepared dataset root.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  python -m lsvd.hf card /data/lsvd-root          # rewrite README.md + hf/ from the manifest\n"
        "  python -m lsvd.hf hub /data/lsvd-root /tmp/hub  # self-contained folder for the Hub\n"
        "  python -m lsvd.hf show /data/lsvd-root --config clips",
    )
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("card", help="write the dataset card and its data files")
    c.add_argument("root", type=Path)
    h = sub.add_parser("hub", help="write a push-ready folder with the pixels embedded")
    h.add_argument("root", type=Path)
    h.add_argument("out", type=Path)
    h.add_argument("--max-shard-rows", type=int, default=1000)
    h.add_argument("--max-shard-mb", type=int, default=500)
    h.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    s = sub.add_parser("show", help="print the datasets object of a config")
    s.add_argument("root", type=Path)
    s.add_argument("--config", choices=CONFIGS, default=FRAMES)
    for q in (c, h, s):
        q.add_argument("-v", "--verbose", action="count", default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    from lsvd.logging_utils import init_logging

    args = build_parser().parse_args(argv)
    init_logging(args.verbose)
    try:
        if args.command == "card":
            print(write_dataset_card(Manifest.load(args.root)))
        elif args.command == "hub":
            out = write_hub_folder(args.root, args.out, max_shard_rows=args.max_shard_rows,
                                   max_shard_bytes=args.max_shard_mb << 20, configs=args.configs)
            print(out)
        else:
            print(load(args.root, args.config))
    except (ManifestError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
