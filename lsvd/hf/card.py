"""The dataset card: ``README.md`` at the root and the Parquet files its ``configs`` point to.

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
the root. :func:`lsvd.hf.load` has no such condition: it resolves every path against the
root's current location, from any working directory. To share the data,
:func:`lsvd.hf.write_hub_folder` writes a self-contained copy with every pixel embedded.

:func:`lsvd.data.manifest.write_manifest` calls :func:`write_dataset_card` after every write, so
a root's card follows its manifest.
"""

from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path
from typing import Any

import datasets
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from lsvd.constants import CARD_FILE, STORAGE_VIDEO
from lsvd.data.manifest import COLUMN_DOCS, Manifest
from lsvd.hf.public import HUB_BOOKKEEPING_COLUMNS, HUB_PATH_COLUMNS, public_manifest
from lsvd.hf.tables import (
    CONFIGS,
    FRAMES,
    PIXEL_COLUMNS,
    PS_COLUMN,
    VIDEO_COLUMN,
    Config,
    build_tables,
    sorted_rows,
)
from lsvd.io.atomic import write_bytes

__all__ = ["CARD_DATA_DIR", "CARD_MANIFEST_KEY", "MEDIA_DOCS", "SELFSVD_BIBTEX", "VIDEO_PIXELS_ADVICE", "all_in_videos",
           "card_is_current", "card_tables", "render_card",
           "write_dataset_card"]

log = logging.getLogger(__name__)

#: Folder (under the root) of the Parquet files the local card's ``configs`` point to.
CARD_DATA_DIR = "hf"
#: Parquet schema-metadata key recording which manifest a card data file was built from.
CARD_MANIFEST_KEY = b"lsvd.manifest_id"

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
    rewritten, so :func:`lsvd.data.manifest.write_manifest` calls this after every write. Card and data files are
    deterministic: the same manifest gives the same bytes wherever the root lives.
    Returns the card's path.
    """
    root = Path(manifest.root)
    data_files: dict[str, dict[str, str]] = {}
    features: dict[str, datasets.Features] = {}
    keep: set[Path] = set()
    for config in CONFIGS:
        tables = card_tables(manifest, config)
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


#: How to get decoded pixels of a root stored in videos (the card, ``prepare``'s summary).
VIDEO_PIXELS_ADVICE = (
    "`datasets.load_dataset(root)` cannot decode video, so its `image` / `ps_image` / `frames` columns are left "
    "out rather than null. For the pixels: `lsvd.hf.load(root)` decodes them with PyAV as rows are read; "
    "`python -m lsvd.hf hub --root ROOT -o DIR` writes a copy with every frame embedded as PNG, which "
    "`datasets.load_dataset(DIR)` reads; or prepare the videos with `--store png`."
)


def all_in_videos(manifest: Manifest) -> bool:
    """Whether every clip of the root is stored inside a video file (no image file holds its frames)."""
    return bool(len(manifest.clips)) and bool((manifest.clips["storage"] == STORAGE_VIDEO).all())


def card_tables(manifest: Manifest, config: Config) -> dict[str, pa.Table]:
    """The card's data-file tables of ``config``: :func:`build_tables` with paths as the manifest stores them.

    On a root whose every clip is stored inside a video file, the pixel columns (:data:`PIXEL_COLUMNS`) are
    left out instead of being null on every row: ``datasets.load_dataset`` cannot decode video, and a missing
    column fails loudly where a null would flow on unnoticed (the card says how to get the pixels).
    """
    tables = build_tables(manifest, config, relative=True)
    if not all_in_videos(manifest):
        return tables
    return {split: _without(t, list(PIXEL_COLUMNS[config])) for split, t in tables.items()}


def _without(table: pa.Table, columns: list[str]) -> pa.Table:
    """``table`` less ``columns``, its ``datasets`` features (schema metadata) updated to match."""
    features = datasets.Features.from_arrow_schema(table.schema)
    keep = [c for c in table.column_names if c not in columns]
    return pa.Table.from_arrays([table[c] for c in keep],
                                schema=datasets.Features({c: features[c] for c in keep}).arrow_schema)


def card_is_current(root: str | os.PathLike[str]) -> bool:
    """Whether the card and its data files match the manifest (wherever the root now lives)."""
    manifest = Manifest.load(root)
    for config in CONFIGS:
        for split, table in card_tables(manifest, config).items():
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
        manifest = public_manifest(manifest)
    clips, frames = sorted_rows(manifest)
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
    elif all_in_videos(manifest):
        add(f"**No pixel columns here: every clip of this root is stored inside a video file.** {VIDEO_PIXELS_ADVICE} "
            "Each row names its frame by `frame_number` / `timestamp_s` in the `video` column's file (not "
            "decoded: `datasets.Video(decode=False)`).")
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


def _first_split(data_files: dict[str, dict[str, str]]) -> str:
    splits = sorted(data_files.get(FRAMES, {}))
    return "test" if "test" in splits else (splits[0] if splits else "train")
