"""Index the official LSVD folder layout in place (spec §1.1), reading headers only.

::

    DIR/LSVD_train/<clip>/<integer>.png     smoky clips; frame 0 (lowest integer) is the PS frame
    DIR/LSVD_test/<clip>/...
    DIR/LSVD_<split>_mask/<clip>/<same name>.png   optional, 1/4 resolution
    DIR/LSVD_<split>_clean/<clip>/...              optional (toolkit extension: clean frames)
    DIR/LSVD_<split>_density/<clip>/...            optional (toolkit extension: smoke density)
    DIR/LSVD_test_pro/<clip>/...                   optional metric references (spec §5.1)

Pixels are never copied or decoded: frame sizes come from PNG headers (:func:`probe_image`),
of every frame and every mask/clean/density file. A clip whose inputs (names, sizes, mtimes) are
unchanged since the previous manifest is reused as is, unless it was indexed despite a problem.
Bad inputs are reported to a :class:`ProblemLog` and skipped at the smallest sound unit: frames
smaller than :data:`~lsvd.constants.MIN_FRAME_SIZE` skip the clip (``frame_too_small``), a bad
side file drops that side folder; gaps in the frame numbers are only reported (``frame_gap``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from lsvd.constants import (
    LSVD_CLEAN_DIR,
    LSVD_DENSITY_DIR,
    LSVD_MASK_DIR,
    LSVD_SPLIT_DIR,
    LSVD_SPLITS,
    LSVD_TEST_PRO_DIR,
    MIN_CLIP_FRAMES,
    MIN_FRAME_SIZE,
    OFFICIAL_MASK_INDEX,
    ROLE_PS,
    ROLE_SMOKY,
    SIZE_MULTIPLE,
    SOURCE_LSVD,
    STORAGE_PNG,
)
from lsvd.data.problems import ProblemLog, Skipped
from lsvd.io.hashing import digest, file_sha256
from lsvd.io.images import FrameFile, ImageError, probe_image, scan_frame_folder

__all__ = ["IndexResult", "index_lsvd", "manifest_path"]


@dataclass
class IndexResult:
    """Rows for the manifests, plus how many clips were reused from the previous manifest."""

    clips: pd.DataFrame
    frames: pd.DataFrame
    reused: int
    indexed: int


def _list_frames(folder: Path, log: ProblemLog | None) -> list[FrameFile]:
    """The frames of ``folder`` (:func:`lsvd.io.images.scan_frame_folder`); other entries go to ``log``."""
    frames, skipped = scan_frame_folder(folder)
    if log is not None:
        for entry in skipped:
            log.add(entry.kind, entry.path, entry.message, "file")
    return frames


def _fingerprint(*listings: list[FrameFile] | None) -> str:
    return digest([[(f.name, f.size, f.mtime_ns) for f in listing or ()] for listing in listings])


def manifest_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, else absolute (POSIX separators)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _side_paths(kind: str, folder: Path, files: list[FrameFile], frame_files: list[FrameFile],
                expect: tuple[int, int], root_rel: str, log: ProblemLog) -> list[str | None] | None:
    """Paths of a side folder (masks/clean/density) matched to frames by number, after checks."""
    by_number = {f.number: f for f in files}
    skipped: Skipped = "masks" if kind == "mask" else "clean"  # density counts as clean data
    missing = [f.name for f in frame_files if f.number not in by_number]
    if missing:
        log.add(f"incomplete_{kind}", folder, f"expected a {kind} file for every frame, {len(missing)} missing "
                f"(e.g. {missing[0]}); this clip is indexed without {kind}", skipped)
        return None
    # Every file's header (a few bytes each): one wrong-size file, e.g. mask 9, would break training.
    unreadable: list[tuple[str, str]] = []
    wrong: list[tuple[str, tuple[int, int]]] = []
    for f in frame_files:
        side = by_number[f.number]
        try:
            hdr = probe_image(folder / side.name, side.size)
        except ImageError as exc:
            unreadable.append((side.name, str(exc)))
            continue
        if (hdr.height, hdr.width) != expect:
            wrong.append((side.name, (hdr.height, hdr.width)))
    n = len(frame_files)
    if unreadable:
        name, err = unreadable[0]
        log.add(f"bad_{kind}", folder / name, f"{len(unreadable)} of {n} {kind} file(s) unreadable, e.g. {err}; "
                f"this clip is indexed without {kind}", skipped)
    if wrong:
        name, (h, w) = wrong[0]
        log.add(f"bad_{kind}_size", folder / name, f"expected {kind} of {expect[0]}x{expect[1]}, found {h}x{w} "
                f"in {len(wrong)} of {n} file(s) (e.g. {name}); regenerate them; this clip is indexed without "
                f"{kind}", skipped)
    if unreadable or wrong:
        return None
    return [f"{root_rel}/{by_number[f.number].name}" for f in frame_files]


def _check_gaps(clip_dir: Path, frames: list[FrameFile], log: ProblemLog) -> None:
    """Report missing frame numbers: steps longer than the clip's usual step (``frame_gap``).

    A warning only (``skipped="nothing"``): the clip is indexed with its frames in order, since a
    numbering may skip on purpose; a uniform step (every 5th frame, say) is not a gap."""
    numbers = [f.number for f in frames]
    steps = [b - a for a, b in zip(numbers, numbers[1:], strict=False)]
    if not steps:
        return
    counts = Counter(steps)
    step = min(counts, key=lambda d: (-counts[d], d))  # the most common step; the smaller on a tie
    missing: list[int] = []
    n_missing = 0
    for a, d in zip(numbers, steps, strict=False):
        if d > step:
            n_missing += (d - 1) // step
            missing += list(range(a + step, a + d, step))[: 5 - len(missing)]
    if n_missing:
        every = "consecutive frame numbers" if step == 1 else f"a frame every {step} numbers"
        log.add("frame_gap", clip_dir, f"expected {every} from {numbers[0]} to {numbers[-1]}, found "
                f"{n_missing} missing (e.g. {', '.join(map(str, missing))}{', ...' if n_missing > 5 else ''}); "
                "the clip is indexed as is (its frames in order); restore the missing frames, or ignore "
                "this if the numbering skips on purpose", "nothing")


def _index_clip(clip_dir: Path, split: str, src: Path, root: Path, frames: list[FrameFile],
                fingerprint: str, log: ProblemLog, licence: str, hash_fn: Callable[[Path], str] | None,
                ) -> tuple[dict, dict[str, list]] | None:
    clip_id = clip_dir.name
    if len(frames) < MIN_CLIP_FRAMES:
        kind = "empty_folder" if not frames else "too_short"
        log.add(kind, clip_dir, f"expected at least {MIN_CLIP_FRAMES} frames (the official loader reads mask "
                f"index {OFFICIAL_MASK_INDEX}), found {len(frames)}; add frames or remove the clip", "clip")
        return None
    sizes: dict[tuple[int, int], list[str]] = {}
    bad: list[str] = []
    for f in frames:
        try:
            hdr = probe_image(clip_dir / f.name, f.size)
        except ImageError as exc:
            bad.append(str(exc))
            continue
        sizes.setdefault((hdr.height, hdr.width), []).append(f.name)
    if bad:
        kind = "zero_byte" if "zero-byte" in bad[0] else "truncated" if "truncated" in bad[0] else "unreadable_image"
        log.add(kind, clip_dir, f"{len(bad)} bad frame(s), e.g. {bad[0]}; a clip cannot have gaps, fix or "
                "remove the frame(s)", "clip")
        return None
    if len(sizes) > 1:
        desc = ", ".join(f"{h}x{w} ({len(n)} frames, e.g. {n[0]})" for (h, w), n in sizes.items())
        log.add("mixed_resolution", clip_dir, f"expected one frame size per clip, found {desc}; resize the "
                "frames to one size", "clip")
        return None
    (height, width), = sizes
    if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
        log.add("size_not_multiple_of_4", clip_dir, f"expected height and width divisible by {SIZE_MULTIPLE} "
                f"(SelfSVD's x4 reconstruction), found {height}x{width}; crop the frames", "clip")
        return None
    if min(height, width) < MIN_FRAME_SIZE:
        log.add("frame_too_small", clip_dir, f"expected frames of at least {MIN_FRAME_SIZE}x{MIN_FRAME_SIZE} "
                f"pixels (one SSIM block of the masks at 1/4 resolution), found {height}x{width}; use "
                "higher-resolution frames", "clip")
        return None
    n = len(frames)
    rel = manifest_path(clip_dir, root)
    cols: dict[str, list] = {
        "clip_id": [clip_id] * n,
        "frame_index": list(range(n)),
        "frame_number": [f.number for f in frames],
        "role": [ROLE_PS] + [ROLE_SMOKY] * (n - 1),
        "path": [f"{rel}/{f.name}" for f in frames],
        "timestamp_s": [None] * n,
        "smoke_score": [None] * n,
        "bytes": [f.size for f in frames],
        "mtime_ns": [f.mtime_ns for f in frames],
        "sha256": [hash_fn(clip_dir / f.name) for f in frames] if hash_fn else [None] * n,
    }
    quarter = (height // 4, width // 4)
    side_specs = (("mask", LSVD_MASK_DIR, quarter), ("clean", LSVD_CLEAN_DIR, (height, width)),
                  ("density", LSVD_DENSITY_DIR, (height, width)))
    for kind, template, expect in side_specs:
        folder = src / template.format(split=split) / clip_id
        paths = None
        if folder.is_dir():
            listing = _list_frames(folder, None)
            paths = _side_paths(kind, folder, listing, frames, expect, manifest_path(folder, root), log)
        cols[f"{kind}_path"] = paths or [None] * n
    metric_ref = None
    pro = src / LSVD_TEST_PRO_DIR / clip_id
    if split == "test" and pro.is_dir():
        pro_files = _list_frames(pro, None)
        if pro_files:
            metric_ref = f"{manifest_path(pro, root)}/{pro_files[0].name}"
    clip = {
        "clip_id": clip_id,
        "split": split,
        "source": SOURCE_LSVD,
        "source_uri": clip_dir.resolve().as_posix(),
        "storage": STORAGE_PNG,
        "n_frames": n,
        "height": height,
        "width": width,
        "fps": None,
        "ps_frame_index": 0,
        "smoke_onset_index": 1,
        "onset_source": "assumed",
        "mask_ref_index": OFFICIAL_MASK_INDEX,
        "has_clean": cols["clean_path"][0] is not None,
        "metric_ref_path": metric_ref,
        "licence": licence,
        "fingerprint": fingerprint,
        "mask_mode": "provided" if cols["mask_path"][0] is not None else None,
    }
    return clip, cols


def index_lsvd(
    src: str | os.PathLike[str],
    root: str | os.PathLike[str],
    log: ProblemLog,
    *,
    previous: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    licence: str = "LSVD dataset licence (see its distribution terms)",
    hash_files: bool = False,
    progress: bool = True,
) -> IndexResult:
    """Index an LSVD-layout tree at ``src`` for a dataset root at ``root``.

    ``previous`` is the (clips, frames) of the root's last manifest: clips whose fingerprint
    is unchanged are reused without touching their files. Returns manifest rows; problems
    go to ``log``. Raises ``FileNotFoundError`` when ``src`` has no ``LSVD_<split>`` folder.
    """
    src, root = Path(src).expanduser().resolve(), Path(root).expanduser().resolve()
    split_dirs = [(s, src / LSVD_SPLIT_DIR.format(split=s)) for s in LSVD_SPLITS]
    split_dirs = [(s, d) for s, d in split_dirs if d.is_dir()]
    if not split_dirs:
        found = sorted(p.name for p in src.iterdir())[:10] if src.is_dir() else "no such folder"
        raise FileNotFoundError(
            f"{src}: expected the LSVD layout (LSVD_train/<clip>/<integer>.png and/or LSVD_test/...), "
            f"found {found}; point --lsvd at the folder that contains LSVD_train and LSVD_test"
        )
    prev_clips: dict[str, pd.Series] = {}
    prev_frames: dict[str, pd.DataFrame] = {}
    if previous is not None and len(previous[0]):
        prev_clips = {r.clip_id: r for r in previous[0].itertuples(index=False)}
        prev_frames = dict(tuple(previous[1].groupby("clip_id", sort=False)))
    hash_fn = file_sha256 if hash_files else None
    clip_rows: list[dict] = []
    frame_parts: list[pd.DataFrame] = []
    seen: dict[str, Path] = {}
    reused = 0
    todo = []
    for split, split_dir in split_dirs:
        clip_dirs = sorted(p for p in split_dir.iterdir() if not p.name.startswith("."))
        if not clip_dirs:
            log.add("empty_folder", split_dir, "expected clip folders inside, found none", "nothing")
        for clip_dir in clip_dirs:
            if not clip_dir.is_dir():
                log.add("unexpected_entry", clip_dir, "expected clip folders in a split folder, found a file; "
                        "move it out", "file")
                continue
            if clip_dir.name in seen:
                log.add("duplicate_clip", clip_dir, f"clip name also used by {seen[clip_dir.name]}; clip ids "
                        "must be unique across splits, rename one", "clip")
                continue
            seen[clip_dir.name] = clip_dir
            todo.append((split, clip_dir))
    for split, clip_dir in tqdm(todo, desc="index LSVD clips", unit="clip", disable=not progress):
        frames = _list_frames(clip_dir, log)
        sides = []
        for template in (LSVD_MASK_DIR, LSVD_CLEAN_DIR, LSVD_DENSITY_DIR):
            folder = src / template.format(split=split) / clip_dir.name
            sides.append(_list_frames(folder, None) if folder.is_dir() else None)
        pro = src / LSVD_TEST_PRO_DIR / clip_dir.name
        sides.append(_list_frames(pro, None) if split == "test" and pro.is_dir() else None)
        fingerprint = _fingerprint(frames, *sides) + ("h" if hash_files else "") + split
        old = prev_clips.get(clip_dir.name)
        if old is not None and old.fingerprint == fingerprint:
            _check_gaps(clip_dir, frames, log)
            clip_rows.append(old._asdict())
            frame_parts.append(prev_frames[clip_dir.name])
            reused += 1
            continue
        n_problems = len(log)
        result = _index_clip(clip_dir, split, src, root, frames, fingerprint, log, licence, hash_fn)
        if result is not None:
            if len(log) > n_problems:  # indexed despite a problem (e.g. without its masks): never reused,
                result[0]["fingerprint"] += "!"  # so every run's report lists the problem again
            _check_gaps(clip_dir, frames, log)  # cheap: checked on reused clips too
            clip_rows.append(result[0])
            frame_parts.append(pd.DataFrame(result[1]))
    clips = pd.DataFrame(clip_rows)
    frames = pd.concat(frame_parts, ignore_index=True) if frame_parts else pd.DataFrame()
    return IndexResult(clips=clips, frames=frames, reused=reused, indexed=len(clip_rows) - reused)

