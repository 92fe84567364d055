"""Names shared across the toolkit: folders, files, path templates, columns, format version."""

from __future__ import annotations

import os
from pathlib import Path

#: On-disk dataset format (``meta/info.json``). Bump the major on incompatible changes.
FORMAT_VERSION = "1.0"

# --- dataset root layout -------------------------------------------------------------------
META_DIR = "meta"
MANIFESTS_DIR = "manifests"
INFO_FILE = f"{META_DIR}/info.json"
REPORT_FILE = f"{META_DIR}/report.json"
CLIPS_FILE = f"{MANIFESTS_DIR}/clips.parquet"
FRAMES_FILE = f"{MANIFESTS_DIR}/frames.parquet"
CARD_FILE = "README.md"
SYNTHETIC_DIR = "synthetic"  # the generated LSVD-layout tree inside a synthetic root
FRAMES_DIR = "frames"  # frames the toolkit extracted (video ingest with --store png)

#: Path templates (relative to the dataset root) for pixels the toolkit writes.
PATH_TEMPLATES = {
    "frame": FRAMES_DIR + "/{clip_id}/{frame_number:08d}.png",
    "mask": "masks/{clip_id}/{frame_number:08d}.png",
}

#: Parquet schema-metadata key that ties clips.parquet, frames.parquet and info.json together.
MANIFEST_ID_KEY = b"lsvd.manifest_id"

# --- the official LSVD layout (spec §1.1) --------------------------------------------------
LSVD_SPLITS = ("train", "test")
LSVD_SPLIT_DIR = "LSVD_{split}"  # smoky frames; frame 0 of each clip is its PS frame
LSVD_MASK_DIR = "LSVD_{split}_mask"  # optional masks at 1/4 resolution
LSVD_CLEAN_DIR = "LSVD_{split}_clean"  # toolkit extension: clean frames (synthetic / paired data)
LSVD_DENSITY_DIR = "LSVD_{split}_density"  # toolkit extension: smoke density (synthetic)
LSVD_TEST_PRO_DIR = "LSVD_test_pro"  # metric references shipped with LSVD (spec §5.1)

#: The official loader reads mask index 9, so clips need at least 10 frames (spec §1.2).
MIN_CLIP_FRAMES = 10
OFFICIAL_MASK_INDEX = 9
#: Frame height and width must be multiples of this (spec §3.6).
SIZE_MULTIPLE = 4
#: Smallest frame height and width the masks accept: one SSIM block at the masks' scale, i.e.
#: ``MaskParams.block / MaskParams.scale`` = 8 / 0.25 (:mod:`lsvd.masks.core`; kept here as a number
#: so that indexing does not import the mask kernels, and a test keeps the two equal).
MIN_FRAME_SIZE = 32

# --- column values -------------------------------------------------------------------------
ROLE_PS = "ps"
ROLE_SMOKY = "smoky"
SOURCE_LSVD = "lsvd"
SOURCE_VIDEO = "video"
SOURCE_SYNTHETIC = "synthetic"
STORAGE_PNG = "png"  # one image file per frame
STORAGE_VIDEO = "video"  # frames stay inside a video file, addressed by frame number/timestamp


def lsvd_home() -> Path:
    """The default data location: ``$LSVD_HOME``, else ``~/.cache/lsvd``."""
    return Path(os.environ.get("LSVD_HOME") or Path.home() / ".cache" / "lsvd")
