"""External results: desmoked outputs produced elsewhere (a published method, another toolkit), scored like ours.

    python -m benchmarks.run --root ROOT --split all --method external:/data/desmoke-lap/CycleGAN
    python -m benchmarks.run --root ROOT --method external:/outputs/mine::mapping.csv

``folder`` holds one entry per clip: a video file (``.avi``, ``.mp4``, ...) or a folder of frames
(image files). An entry is matched to a clip id by, in this order:

1. the mapping CSV (columns ``clip_id,path``; ``path`` relative to ``folder`` or absolute), when given;
2. an entry whose stem (file name without suffix, or folder name) equals the clip id;
3. an entry whose stem ends in the same number as the clip id (compared as integers, so ``input_02``
   matches ``cyclegan_2.avi``), when exactly one entry of the folder ends in that number. Two or
   more such entries are an error (use a mapping CSV), never a guess.

Nothing matching is an error that lists the entries found. Frame ``k`` of an external output is frame
``k`` of the clip's source (the numbers in ``clip.frame_numbers``): for a video, its ``k``-th decoded
frame (from 0); for a frame folder whose image files all have integer names, the file named ``k``
(``00000007.png`` is frame 7), otherwise its ``k``-th file in sorted order (from 0). The outputs must
have the clip's size: a different size is an error unless ``resize=True`` (then they are resized with
``cv2.INTER_AREA``, and :meth:`ExternalOutputs.settings` says so). Too few frames is an error naming
the missing numbers.

The method's name is ``external:<folder name>``, so several external folders are separate leaderboard
rows; its :meth:`~baselines.base.Method.cache_key` includes the folder's absolute path and the sha256
of every entry's files, so cached scores are recomputed whenever the outputs change (and stay valid
when the same files are copied to another machine, e.g. for sharded runs).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from baselines.base import Clip, Method
from baselines.registry import register_method
from lsvd.errors import LsvdError
from lsvd.io.hashing import file_sha256
from lsvd.io.images import IMAGE_SUFFIXES
from lsvd.io.video import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

_TRAILING_NUMBER = re.compile(r"(\d+)$")
#: ``(path, size, mtime_ns) -> sha256``: files are hashed once per process.
_HASHES: dict[tuple[str, int, int], str] = {}


class ExternalOutputsError(LsvdError, ValueError):
    """External outputs that cannot be used for a clip (no match, ambiguous, wrong size, too few frames)."""


def _trailing_number(stem: str) -> int | None:
    m = _TRAILING_NUMBER.search(stem)
    return int(m.group(1)) if m else None


def _sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = file_sha256(path)
    return _HASHES[key]


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if _is_image(p))


def _entry_files(entry: Path) -> list[Path]:
    return _image_files(entry) if entry.is_dir() else [entry]


@register_method("external")
class ExternalOutputs(Method):
    """Outputs of a method run elsewhere, read from ``folder`` (see the module docstring for the matching rules).

    Args:
        folder: one video file or one frame folder per clip.
        mapping: a CSV with ``clip_id,path`` columns (path relative to ``folder``, or absolute); optional.
        name: the leaderboard name (default ``external:<folder name>``).
        resize: resize outputs of another size to the clip's (``cv2.INTER_AREA``) instead of failing.
    """

    kind = "external"
    citation = "outputs produced elsewhere (cite the method that produced them)"
    video = False
    uses_ps = False  #: unknown: whatever produced the outputs may have used anything
    needs_training = False
    licence = "as published by the producer"

    def __init__(self, folder: str, mapping: str | None = None, name: str | None = None, *,
                 resize: bool = False) -> None:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise ExternalOutputsError(f"external outputs: {folder} is not a folder (expected one video file or one "
                                       "frame folder per clip)")
        self.folder = path.resolve()
        self.name = name or f"external:{self.folder.name}"
        self.resize = bool(resize)
        self.entries = self._scan()
        self.mapping_path: Path | None = None
        self.mapping: dict[str, Path] = {}
        if mapping:
            self.mapping_path, self.mapping = self._read_mapping(mapping)
        if not self.entries and not self.mapping:
            raise ExternalOutputsError(f"external outputs: {self.folder} has no video files "
                                       f"({', '.join(VIDEO_SUFFIXES)}) and no frame folders (image files "
                                       f"{', '.join(IMAGE_SUFFIXES)})")
        self._fingerprint: str | None = None

    # -- matching ------------------------------------------------------------------------------------------------
    def _scan(self) -> list[Path]:
        entries = []
        for p in sorted(self.folder.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
                entries.append(p)
            elif p.is_dir() and _image_files(p):
                entries.append(p)
        return entries

    def _read_mapping(self, mapping: str) -> tuple[Path, dict[str, Path]]:
        import pandas as pd

        given = Path(mapping).expanduser()
        path = given if given.is_file() or given.is_absolute() else self.folder / given
        if not path.is_file():
            raise ExternalOutputsError(f"external outputs: mapping {mapping} not found (neither as given nor in "
                                       f"{self.folder})")
        table = pd.read_csv(path, dtype=str, skipinitialspace=True)
        if not {"clip_id", "path"} <= set(table.columns):
            raise ExternalOutputsError(f"{path}: expected the columns clip_id,path; found {', '.join(table.columns)}")
        dup = sorted(set(table["clip_id"][table["clip_id"].duplicated()]))
        if dup:
            raise ExternalOutputsError(f"{path}: clip ids listed more than once: {', '.join(dup)}")
        out = {}
        for clip_id, rel in zip(table["clip_id"], table["path"], strict=True):
            target = Path(str(rel).strip()).expanduser()
            target = target if target.is_absolute() else self.folder / target
            if not target.exists():
                raise ExternalOutputsError(f"{path}: clip {clip_id}: {target} does not exist")
            if target.is_dir() and not _image_files(target):
                raise ExternalOutputsError(f"{path}: clip {clip_id}: {target} has no image files")
            out[str(clip_id).strip()] = target.resolve()
        return path.resolve(), out

    def match(self, clip_id: str) -> Path:
        """The entry (video file or frame folder) holding ``clip_id``'s outputs; see the module docstring."""
        if clip_id in self.mapping:
            return self.mapping[clip_id]
        same = [e for e in self.entries if (e.name if e.is_dir() else e.stem) == clip_id]
        if len(same) == 1:
            return same[0]
        if len(same) > 1:
            raise ExternalOutputsError(f"{self.name}: clip {clip_id}: several entries named {clip_id} in "
                                       f"{self.folder}: {', '.join(e.name for e in same)}; keep one or give a "
                                       "mapping CSV")
        number = _trailing_number(clip_id)
        if number is not None:
            hits = [e for e in self.entries if _trailing_number(e.name if e.is_dir() else e.stem) == number]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise ExternalOutputsError(
                    f"{self.name}: clip {clip_id}: ambiguous: {len(hits)} entries of {self.folder} end in the number "
                    f"{number} ({', '.join(e.name for e in hits)}); give a mapping CSV (external:DIR::MAPPING.csv "
                    "with columns clip_id,path)")
        found = ", ".join(e.name for e in self.entries[:20]) + (" ..." if len(self.entries) > 20 else "")
        raise ExternalOutputsError(
            f"{self.name}: no output for clip {clip_id} in {self.folder} (looked for"
            f"{' the mapping,' if self.mapping else ''} an entry named {clip_id}"
            f"{f' or a single entry ending in {number}' if number is not None else ''}); found: {found or 'nothing'}")

    # -- reading -------------------------------------------------------------------------------------------------
    def _read(self, entry: Path, numbers: list[int]) -> dict[int, np.ndarray]:
        if entry.is_dir():
            from lsvd.io.images import read_rgb, scan_frame_folder

            numbered, skipped = scan_frame_folder(entry)
            if not any(e.kind == "non_integer_name" for e in skipped):  # the frame-folder rule of lsvd.io.images
                for e in skipped:
                    log.warning("%s: %s: skipped (%s): %s", self.name, e.path, e.kind, e.message)
                by_number = {f.number: entry / f.name for f in numbered}
                files = list(by_number.values())
                how = "files named by frame number"
            else:  # outputs named otherwise (frame_a.png, ...): taken in sorted name order
                files = _image_files(entry)
                by_number = dict(enumerate(files))
                how = "files in sorted order"
            missing = [n for n in numbers if n not in by_number]
            if missing:
                raise ExternalOutputsError(
                    f"{self.name}: {entry} has too few frames: frames {_fmt(missing)} are missing ({len(files)} "
                    f"{how}; frame numbers {min(by_number)}..{max(by_number)})")
            return {n: read_rgb(by_number[n]) for n in numbers}
        from lsvd.io.video import iter_frames

        wanted = set(numbers)
        out: dict[int, np.ndarray] = {}
        count = 0
        for frame in iter_frames(entry):
            count = frame.number + 1
            if frame.number in wanted:
                out[frame.number] = frame.rgb
            if frame.number >= max(numbers):
                break
        missing = [n for n in numbers if n not in out]
        if missing:
            raise ExternalOutputsError(f"{self.name}: {entry} has too few frames: frames {_fmt(missing)} are missing "
                                       f"(it has {count} frames, 0..{count - 1})")
        return out

    def desmoke(self, clip: Clip) -> np.ndarray:
        import cv2

        entry = self.match(clip.clip_id)
        t, h, w = clip.lqs.shape[:3]
        # without frame numbers: the PS frame is frame 0 and the smoky frames follow it
        numbers = [int(n) for n in (clip.frame_numbers if clip.frame_numbers is not None else range(1, t + 1))]
        if not numbers:
            return np.zeros((0, h, w, 3), np.uint8)
        frames = self._read(entry, numbers)
        out = np.empty((t, h, w, 3), np.uint8)
        for i, n in enumerate(numbers):
            frame = frames[n]
            if frame.shape[:2] != (h, w):
                if not self.resize:
                    raise ExternalOutputsError(
                        f"{self.name}: {entry.name} is {frame.shape[1]}x{frame.shape[0]} but clip {clip.clip_id} is "
                        f"{w}x{h} (width x height); outputs must have the input's size (pass resize=True to "
                        "resize them with INTER_AREA)")
                frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
            out[i] = frame
        return out

    # -- provenance ----------------------------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """sha256 over every entry's files (relative names and contents) and the mapping CSV."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            targets = sorted(set(self.entries) | set(self.mapping.values()))
            for entry in targets:
                for f in _entry_files(entry):
                    h.update(f"{f.relative_to(self.folder) if f.is_relative_to(self.folder) else f}\0"
                             f"{_sha256(f)}\n".encode())
            if self.mapping_path is not None:
                h.update(f"mapping\0{_sha256(self.mapping_path)}\n".encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"folder": str(self.folder), "fingerprint": self.fingerprint(),
                               "mapping": str(self.mapping_path) if self.mapping_path else None,
                               "resize": self.resize}
        if self.resize:
            out["resize_interpolation"] = "cv2.INTER_AREA (outputs of another size are resized to the clip's)"
        return out

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.settings()}


def _fmt(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:10])) + (f" ... ({len(numbers)} in all)" if len(numbers) > 10 else "")
