"""Image files: fast header probing (no pixel decoding), RGB reading and PNG writing.

Pixels are ``uint8`` RGB arrays of shape ``(H, W, 3)`` everywhere in the toolkit; OpenCV's
BGR order stays inside this module.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsvd.errors import LsvdError

__all__ = ["IMAGE_SUFFIXES", "FrameFile", "ImageError", "ImageHeader", "SkippedEntry", "encode_png", "probe_image",
    "read_gray", "read_rgb", "scan_frame_folder", "write_png"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


class ImageError(LsvdError, ValueError):
    """An image file that cannot be used (empty, truncated, unreadable or not an image)."""


@dataclass(frozen=True)
class FrameFile:
    """One frame file of a frame folder: its name, frame number (the integer file stem), size and mtime."""

    name: str
    number: int
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SkippedEntry:
    """An entry of a frame folder that is not a frame: ``kind`` (a stable slug) and why, what to do."""

    path: str
    kind: str
    message: str


def scan_frame_folder(folder: str | os.PathLike[str]) -> tuple[list[FrameFile], list[SkippedEntry]]:
    """The frames of a folder of integer-named images, by number, and every other entry with the reason.

    The one rule for frame folders: a frame is a file with an image suffix (:data:`IMAGE_SUFFIXES`)
    whose stem is an integer (``00000012.png`` is frame 12); hidden entries are ignored; anything
    else, and a number given by two files (``1.png``, ``01.jpg``), is skipped and returned with a
    message saying what to do. Headers are not read (see :func:`probe_image`).
    """
    frames: dict[int, FrameFile] = {}
    skipped: list[SkippedEntry] = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            stem, suffix = os.path.splitext(entry.name)
            if not entry.is_file():
                skipped.append(SkippedEntry(entry.path, "unexpected_entry", "expected only frame image files in a "
                                            "frame folder, found a sub-folder; move it out"))
            elif suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(SkippedEntry(entry.path, "not_an_image", f"expected image files "
                                            f"({', '.join(IMAGE_SUFFIXES)}), found {suffix or 'no extension'}; "
                                            "move it out of the frame folder"))
            elif not stem.isdecimal():
                skipped.append(SkippedEntry(entry.path, "non_integer_name", "expected integer frame names such as "
                                            "00000012.png (frames are ordered by that integer); rename the file"))
            elif int(stem) in frames:
                skipped.append(SkippedEntry(entry.path, "duplicate_frame_number", f"frame number {int(stem)} is also "
                                            f"{frames[int(stem)].name}; keep one of them"))
            else:
                st = entry.stat()
                frames[int(stem)] = FrameFile(entry.name, int(stem), st.st_size, st.st_mtime_ns)
    return [frames[n] for n in sorted(frames)], skipped


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says: size in pixels and channel count."""

    width: int
    height: int
    channels: int


def probe_image(path: str | os.PathLike[str], size: int | None = None) -> ImageHeader:
    """Read an image's size from its header without decoding pixels.

    PNG is parsed directly (signature, IHDR, and the IEND trailer to catch truncation);
    other formats fall back to a full OpenCV decode. ``size`` is the file size in bytes
    when the caller already has it (saves a ``stat``). Raises :class:`ImageError`.
    """
    path = Path(path)
    if size is None:
        size = path.stat().st_size
    if size == 0:
        raise ImageError(f"{path}: zero-byte file (expected an image); re-export or remove it")
    if path.suffix.lower() != ".png":
        return _probe_by_decoding(path)
    with open(path, "rb") as fh:
        head = fh.read(33)
        if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
            raise ImageError(f"{path}: not a PNG file (bad signature or missing IHDR header)")
        width, height, _depth, colour_type = struct.unpack(">IIBB", head[16:26])
        fh.seek(max(size - 12, 0))
        if fh.read(12) != _PNG_IEND:
            raise ImageError(
                f"{path}: truncated PNG (no IEND trailer; the file was cut short); "
                "re-export the frame or remove it"
            )
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour_type)
    if channels is None or width == 0 or height == 0:
        raise ImageError(f"{path}: invalid PNG header (colour type {colour_type}, {width}x{height})")
    return ImageHeader(width=width, height=height, channels=channels)


def _probe_by_decoding(path: Path) -> ImageHeader:
    img = _imread(path)
    return ImageHeader(width=img.shape[1], height=img.shape[0], channels=1 if img.ndim == 2 else img.shape[2])


def _imread(path: Path, flags: int | None = None) -> np.ndarray:
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED if flags is None else flags) if data.size else None
    if img is None:
        raise ImageError(f"{path}: unreadable image (decoder failed; the file may be corrupt)")
    return img


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file to ``uint8`` RGB ``(H, W, 3)``; an alpha channel is dropped.

    Grayscale images are repeated to three channels; 16-bit images are scaled to 8 bits; float
    images (e.g. 32-bit TIFF) must hold finite values in [0, 1], which are scaled to 0..255 and
    rounded (:class:`ImageError` otherwise: they are never cast silently).
    """
    import cv2

    path = Path(path)
    img = _imread(path)
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif np.issubdtype(img.dtype, np.floating):
        img = _float_to_uint8(img, path)
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.shape[2] == 4:
        img = img[:, :, :3]
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _float_to_uint8(img: np.ndarray, path: Path) -> np.ndarray:
    bad = int((~np.isfinite(img)).sum())
    if bad:
        raise ImageError(f"{path}: {bad} NaN/inf value(s) in a float image; expected finite values in [0, 1]; "
                         "fix the program that wrote it")
    lo, hi = float(img.min()), float(img.max())
    if lo < 0 or hi > 1:
        raise ImageError(f"{path}: float image with values in [{lo:.4g}, {hi:.4g}]; expected [0, 1] (or save "
                         "uint8/uint16 images)")
    return np.round(img * 255.0).astype(np.uint8)


def read_gray(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode a single-channel image (a mask, a density map) to its stored dtype, ``(H, W)``."""
    img = _imread(Path(path))
    return img if img.ndim == 2 else img[:, :, 0]


def encode_png(image: np.ndarray, compression: int = 1) -> bytes:
    """Encode ``uint8``/``uint16`` RGB ``(H, W, 3)`` or gray ``(H, W)`` to PNG bytes."""
    import cv2

    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise ImageError(f"PNG encoding failed for an array of shape {image.shape}, dtype {image.dtype}")
    return buf.tobytes()


def write_png(path: str | os.PathLike[str], image: np.ndarray, compression: int = 1) -> None:
    """Write ``image`` (see :func:`encode_png`) to ``path`` (not atomic; use inside ``atomic_dir``)."""
    Path(path).write_bytes(encode_png(image, compression))
