"""Ingest raw laparoscopic videos: find PS frames and smoke onsets, cut clips, index them.

Each video is decoded once at a small size (longest side :data:`lsvd.data.smoke.SCORE_SIDE`,
scaled by FFmpeg) to score every frame for smoke and find hard cuts
(:func:`lsvd.data.smoke.scan_frames`). Clips are then cut:

- ``cut="events"``: one clip per detected smoke event, starting at its smoke-free PS frame
  (:func:`lsvd.data.smoke.detect_events`);
- ``cut="whole"``: the whole video is one clip whose PS frame is its first frame; the onset is
  detected (:func:`lsvd.data.smoke.detect_onset`);
- ``cut="auto"``: ``whole`` for videos of at most ``max_clip_frames`` frames, else ``events``;
- ``onsets=CSV``: the user gives, per video, rows ``video, ps_frame[, onset_frame, end_frame]``
  (frame numbers in decoding order), one clip per row; the rest is detected.

:func:`detect_clips` is that rule (without an onsets CSV); ``python -m lsvd.desmoke --ps-frame auto``
takes its PS frame from the same function (:func:`detect_ps_frame`), so both commands agree.

Storage: with ``store="video"`` (default) frames stay inside the video and rows address them by
``frame_number`` and ``timestamp_s``; ingest then costs about one decode. With ``store="png"``
the clips' frames are also written as ``frames/<clip_id>/<frame_number:08d>.png`` (a second,
full-resolution decode) for fast random access during training.

Checks: frames must be at least :data:`~lsvd.constants.MIN_FRAME_SIZE` pixels a side (else the
video is skipped: ``frame_too_small``). A video whose decoding fails part-way is skipped
(``truncated``); one that decodes cleanly but to fewer frames than its container promises (a
truncated copy) is reported as ``truncated_video`` and its decoded frames are still indexed.
"""

from __future__ import annotations

import csv
import os
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from lsvd.constants import (
    MIN_CLIP_FRAMES,
    MIN_FRAME_SIZE,
    OFFICIAL_MASK_INDEX,
    PATH_TEMPLATES,
    ROLE_PS,
    ROLE_SMOKY,
    SIZE_MULTIPLE,
    SOURCE_VIDEO,
    STORAGE_PNG,
    STORAGE_VIDEO,
)
from lsvd.data.lsvd_layout import IndexResult, manifest_path
from lsvd.data.problems import ProblemLog
from lsvd.io.hashing import digest
from lsvd.io.video import VIDEO_SUFFIXES, VideoError, VideoInfo, iter_frames, iter_frames_in_background, probe_video

__all__ = ["GivenClip", "VideoOptions", "detect_clips", "detect_ps_frame", "index_videos", "read_onsets"]

if TYPE_CHECKING:
    from lsvd.data.smoke import FrameScan


@dataclass(frozen=True)
class VideoOptions:
    """How videos become clips (see the module docstring)."""

    store: Literal["video", "png"] = "video"
    cut: Literal["auto", "events", "whole"] = "auto"
    onsets: Path | None = None
    min_clip_frames: int = MIN_CLIP_FRAMES
    max_clip_frames: int = 100
    split: str = "test"
    test_fraction: float = 0.2
    split_seed: int = 0
    hash_files: bool = False
    licence: str = "unknown"
    workers: int = 0  # videos decoded and scored in parallel; 0 = one per two usable cores

    def __post_init__(self) -> None:
        if self.store not in ("video", "png"):
            raise ValueError(f"store: expected 'video' or 'png', got {self.store!r}")
        if self.cut not in ("auto", "events", "whole"):
            raise ValueError(f"cut: expected 'auto', 'events' or 'whole', got {self.cut!r}")
        if not MIN_CLIP_FRAMES <= self.min_clip_frames <= self.max_clip_frames:
            raise ValueError(
                f"clip length: expected {MIN_CLIP_FRAMES} <= min_clip_frames <= max_clip_frames, got "
                f"{self.min_clip_frames} and {self.max_clip_frames} (the official loader needs "
                f"{MIN_CLIP_FRAMES} frames)")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"test_fraction: expected a value in [0, 1], got {self.test_fraction}")
        if not self.split:
            raise ValueError("split: expected a split name or 'auto', got an empty string")
        if self.workers < 0:
            raise ValueError(f"workers: expected 0 (one per core) or a positive count, got {self.workers}")
        if self.onsets is not None and not Path(self.onsets).is_file():
            raise FileNotFoundError(f"--onsets {self.onsets}: no such file (expected a CSV with columns "
                                    "video, ps_frame[, onset_frame, end_frame])")

    def to_json(self) -> dict:
        d = asdict(self)
        d["onsets"] = str(self.onsets) if self.onsets else None
        return d


@dataclass(frozen=True)
class GivenClip:
    """A user-given clip of a video: frame numbers in decoding order (end exclusive)."""

    ps_frame: int
    onset_frame: int | None
    end_frame: int | None


def read_onsets(path: str | os.PathLike[str]) -> dict[str, list[GivenClip]]:
    """Parse an onsets CSV (``video, ps_frame[, onset_frame, end_frame]``) keyed by video stem."""
    out: dict[str, list[GivenClip]] = {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or ())
        if not {"video", "ps_frame"} <= cols:
            raise ValueError(f"{path}: expected CSV columns video, ps_frame[, onset_frame, end_frame], "
                             f"found {sorted(cols)}")
        for line, row in enumerate(reader, start=2):
            try:
                given = GivenClip(
                    int(row["ps_frame"]),
                    int(row["onset_frame"]) if row.get("onset_frame") not in (None, "") else None,
                    int(row["end_frame"]) if row.get("end_frame") not in (None, "") else None,
                )
            except ValueError as exc:
                raise ValueError(f"{path}:{line}: expected integer frame numbers, found {dict(row)}") from exc
            if given.ps_frame < 0 or (given.onset_frame is not None and given.onset_frame <= given.ps_frame) or (
                given.end_frame is not None and given.end_frame <= given.ps_frame
            ):
                raise ValueError(f"{path}:{line}: expected 0 <= ps_frame < onset_frame and ps_frame < "
                                 f"end_frame, found {dict(row)}")
            out.setdefault(Path(row["video"]).stem, []).append(given)
    for clips in out.values():
        clips.sort(key=lambda g: g.ps_frame)
    return out


def find_videos(paths: list[Path], log: ProblemLog) -> list[Path]:
    """Video files named directly or found (non-recursively, sorted) in the given folders."""
    found: list[Path] = []
    for p in paths:
        p = p.expanduser()
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder (expected video files or folders of them)")
        if p.is_dir():
            entries = sorted(e for e in p.iterdir() if not e.name.startswith("."))
            vids = [e for e in entries if e.is_file() and e.suffix.lower() in VIDEO_SUFFIXES]
            for e in entries:
                if e not in vids:
                    log.add("not_a_video", e, f"expected video files ({', '.join(VIDEO_SUFFIXES)}) in {p}; "
                            "ignored", "file")
            if not vids:
                log.add("empty_folder", p, "expected video files in this folder, found none", "nothing")
            found += vids
        elif p.suffix.lower() in VIDEO_SUFFIXES:
            found.append(p)
        else:
            log.add("not_a_video", p, f"expected a video file ({', '.join(VIDEO_SUFFIXES)}); ignored", "file")
    return [p.resolve() for p in found]


def _split_of(stem: str, opts: VideoOptions) -> str:
    """Deterministic train/test draw per video (all clips of a video share a split)."""
    u = zlib.crc32(f"{opts.split_seed}:{stem}".encode()) / 2**32
    return "test" if u < opts.test_fraction else "train"


def _fingerprint(video: Path, opts: VideoOptions, given: list[GivenClip] | None) -> str:
    from lsvd.data.smoke import SMOKE_SCORE_VERSION, DetectionParams

    st = video.stat()
    keys = (video.as_posix(), st.st_size, st.st_mtime_ns, opts.store, opts.cut, opts.min_clip_frames,
            opts.max_clip_frames, opts.hash_files, SMOKE_SCORE_VERSION, DetectionParams(), given)
    return digest(keys)


@dataclass
class _Scan:
    numbers: np.ndarray  # (T,) int64
    timestamps: np.ndarray  # (T,) float64, NaN where unknown
    scores: np.ndarray  # (T,) float32
    emergence: np.ndarray  # (T,) float32, see lsvd.data.smoke.FrameScan
    cuts: np.ndarray  # (K,) int64


def _scan(video: Path, width: int, height: int) -> _Scan:
    """Smoke scores, emergence and cuts of every frame; decoding runs in a child process
    (:func:`iter_frames_in_background`) while this process scores."""
    from lsvd.data.smoke import SCORE_SIDE, scan_frames

    scale = min(1.0, SCORE_SIDE / max(width, height))
    size = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))  # even, for I420
    stamps: list[float] = []

    def small_frames():
        for frame in iter_frames_in_background(video, size=size):
            stamps.append(np.nan if frame.timestamp_s is None else frame.timestamp_s)
            yield frame.rgb

    try:
        scan = scan_frames(small_frames())
    except ValueError as exc:
        if stamps:
            raise
        raise VideoError(f"{video}: decoding failed after 0 frames (the stream ended before its first frame); "
                         "the file is truncated or corrupt: re-export or re-copy it from its source") from exc
    return _Scan(np.arange(len(stamps), dtype=np.int64), np.asarray(stamps), scan.scores, scan.emergence, scan.cuts)


def scan_video(video: str | os.PathLike[str]) -> _Scan:
    """Smoke scores, emergence and cuts of every frame of ``video``, exactly as ``prepare --videos``
    computes them (decoded at a small size by FFmpeg, see the module docstring); for
    :func:`detect_ps_frame`. Raises :class:`~lsvd.io.video.VideoError` on an unreadable video."""
    video = Path(video)
    info = probe_video(video)
    return _scan(video, info.width, info.height)


def _probe_and_scan(video: Path) -> tuple[VideoInfo, _Scan] | tuple[str, str]:
    """Probe and scan one video; bad input comes back as ``(problem kind, message)``.

    Runs in a worker process when several videos are ingested (module-level, picklable)."""
    try:
        info = probe_video(video)
        if info.width % SIZE_MULTIPLE or info.height % SIZE_MULTIPLE:
            return "size_not_multiple_of_4", (
                f"expected height and width divisible by {SIZE_MULTIPLE} (SelfSVD's x4 reconstruction), found "
                f"{info.height}x{info.width}; crop the video (e.g. ffmpeg -vf crop=...)")
        if min(info.height, info.width) < MIN_FRAME_SIZE:
            return "frame_too_small", (
                f"expected frames of at least {MIN_FRAME_SIZE}x{MIN_FRAME_SIZE} pixels (one SSIM block of the "
                f"masks at 1/4 resolution), found {info.height}x{info.width}; use a higher-resolution export")
        return info, _scan(video, info.width, info.height)
    except VideoError as exc:
        msg = str(exc)
        return ("zero_byte" if "zero-byte" in msg else "truncated" if "decoding failed" in msg
                else "unreadable_video"), msg


def _check_complete(video: Path, info: VideoInfo, decoded: int, log: ProblemLog) -> bool:
    """Report a decode that ended cleanly but short of the container's frame count (a truncated
    copy: FFmpeg stops at the end of the data without an error). Returns whether it did.

    The decoded frames are still indexed (``skipped="nothing"``): they are sound and addressable by
    frame number, and a researcher would rather keep them and know than lose the video."""
    short = info.shortfall(decoded)
    if short is None:
        return False
    log.add("truncated_video", video, f"{short}: the file is truncated or damaged; the {decoded} decoded frame(s) "
            "are indexed as they are; re-export or re-copy the video from its source (or repair it) and re-run "
            "prepare", "nothing")
    return True


def _map_videos(videos: list[Path], workers: int, progress: bool) -> list:
    """:func:`_probe_and_scan` over ``videos``, in order, in up to ``workers`` processes (by
    default one per two cores: each video is itself a decode + scan pair of processes)."""
    if not workers:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = max(1, cores // 2)
    workers = min(workers, len(videos))
    bar = dict(total=len(videos), desc="scan videos", unit="video", disable=not progress)
    if workers <= 1:
        return [_probe_and_scan(v) for v in tqdm(videos, **bar)]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(tqdm(pool.map(_probe_and_scan, videos), **bar))


def _plan_clips(stem: str, scan: _Scan, opts: VideoOptions, given: list[GivenClip] | None,
                video: Path, log: ProblemLog) -> list[tuple[str, int, int, int | None, str]]:
    """(clip_id, start, end, onset (clip-relative) or None, onset_source) per clip."""
    from lsvd.data.smoke import detect_onset

    n = len(scan.scores)
    plans: list[tuple[str, int, int, int | None, str]] = []
    if given:
        for k, g in enumerate(given):
            nxt = given[k + 1].ps_frame if k + 1 < len(given) else n
            end = min(g.end_frame if g.end_frame is not None else min(nxt, g.ps_frame + opts.max_clip_frames), n)
            if g.ps_frame >= n:
                log.add("bad_onset_row", video, f"ps_frame {g.ps_frame} is beyond the video's {n} frames; "
                        "fix the onsets CSV", "clip")
                continue
            if g.onset_frame is not None:
                onset, source = g.onset_frame - g.ps_frame, "given"
            else:
                found = detect_onset(scan.scores[g.ps_frame:end], emergence=scan.emergence[g.ps_frame:end])
                onset, source = found, "detected"
            plans.append((f"{stem}-{g.ps_frame:06d}", g.ps_frame, end, onset, source))
        return plans
    cut, detected = detect_clips(scan, opts)
    if cut == "whole":
        return [(stem, start, end, onset, "detected") for start, end, onset in detected]
    if not detected:
        log.add("no_smoke_event", video, f"expected a smoke-free stretch followed by smoke, found no smoke event "
                f"in {n} frames; give PS frames with --onsets, or use --cut whole", "video")
    return [(f"{stem}-{start:06d}", start, end, onset, "detected") for start, end, onset in detected]


def detect_clips(scan: _Scan | FrameScan, opts: VideoOptions = VideoOptions()
                 ) -> tuple[str, list[tuple[int, int, int | None]]]:
    """The clips that ``prepare --videos`` cuts from a video (without an onsets CSV).

    ``scan``: the video's signals (:func:`scan_video`, or :func:`lsvd.data.smoke.scan_frames` for
    frames already in memory). Returns ``(cut, clips)``: ``cut`` is ``"whole"`` or ``"events"``
    (``opts.cut``, with ``auto`` resolved: ``whole`` for at most ``opts.max_clip_frames`` frames),
    and each clip is ``(start, end, onset)``: ``start`` its PS frame (frame index in the video),
    ``end`` exclusive, ``onset`` the first smoky frame counted from ``start`` (``None`` when not
    detected). ``whole``: one clip, PS frame 0, the onset detected (:func:`~lsvd.data.smoke.detect_onset`);
    ``events``: one clip per smoke event (:func:`~lsvd.data.smoke.detect_events`), possibly none.
    """
    from lsvd.data.smoke import detect_events, detect_onset

    n = len(scan.scores)
    cut = opts.cut if opts.cut != "auto" else ("whole" if n <= opts.max_clip_frames else "events")
    if cut == "whole":
        return cut, [(0, n, detect_onset(scan.scores, emergence=scan.emergence))]
    events = detect_events(scan.scores, min_frames=opts.min_clip_frames, max_frames=opts.max_clip_frames,
                           cuts=scan.cuts, emergence=scan.emergence)
    return cut, [(e.ps_index, e.end_index, e.onset_index - e.ps_index) for e in events]


def detect_ps_frame(scan: _Scan | FrameScan, opts: VideoOptions = VideoOptions()) -> tuple[int, int | None] | None:
    """``(PS frame, smoke onset)`` (frame indices in the video; onset ``None`` when not detected) of
    the first clip :func:`detect_clips` finds, i.e. of the first clip ``prepare --videos`` makes of
    this video with ``opts`` (default: prepare's defaults); ``None`` when it finds no clip. Used
    by ``python -m lsvd.desmoke --ps-frame auto``, so that both commands agree."""
    _, clips = detect_clips(scan, opts)
    if not clips:
        return None
    start, _, onset = clips[0]
    return start, None if onset is None else start + onset


def _write_pngs(video: Path, root: Path, plans: list[tuple[str, int, int, int | None, str]],
                hash_files: bool) -> dict[str, list[tuple[str, int, int, str | None]]]:
    """Second decode at full resolution: write each clip's frames as PNG (each clip folder
    appears atomically, once the whole video has been written)."""
    from contextlib import ExitStack

    from lsvd.io.atomic import atomic_dir
    from lsvd.io.hashing import file_sha256
    from lsvd.io.images import write_png

    names = {p[0]: Path(PATH_TEMPLATES["frame"].format(clip_id=p[0], frame_number=0)) for p in plans}
    out: dict[str, list[tuple[str, int, int, str | None]]] = {p[0]: [] for p in plans}
    last = max(p[2] for p in plans)
    with ExitStack() as stack:
        tmp = {cid: stack.enter_context(atomic_dir(root / rel.parent)) for cid, rel in names.items()}
        for frame in iter_frames(video):
            if frame.number >= last:
                break
            for clip_id, start, end, _, _ in plans:
                if start <= frame.number < end:
                    fname = PATH_TEMPLATES["frame"].format(clip_id=clip_id, frame_number=frame.number)
                    path = tmp[clip_id] / Path(fname).name
                    write_png(path, frame.rgb)
                    st = path.stat()
                    out[clip_id].append((fname, st.st_size, st.st_mtime_ns, file_sha256(path) if hash_files else None))
    return out


def index_videos(paths: list[Path], root: Path, log: ProblemLog, opts: VideoOptions, *,
                 previous: tuple[pd.DataFrame, pd.DataFrame] | None = None, progress: bool = True) -> IndexResult:
    """Ingest ``paths`` (videos or folders of them) for the dataset root ``root``."""
    root = Path(root).expanduser().resolve()
    videos = find_videos(paths, log)
    given_all = read_onsets(opts.onsets) if opts.onsets else {}
    stems = {}
    for v in videos:
        if v.stem in stems:
            log.add("duplicate_video_name", v, f"another video has the same name stem ({stems[v.stem]}); clip ids "
                    "come from the stem, rename one", "video")
        else:
            stems[v.stem] = v
    for stem in sorted(set(given_all) - set(stems)):
        log.add("unknown_video_in_onsets", opts.onsets, f"row(s) for video {stem!r}, which is not among the "
                "inputs; fix the CSV or add the video", "nothing")
    prev_by_fp: dict[str, tuple[list[dict], list[pd.DataFrame]]] = {}
    if previous is not None and len(previous[0]):
        frames_by_clip = dict(tuple(previous[1].groupby("clip_id", sort=False)))
        for row in previous[0].to_dict("records"):
            entry = prev_by_fp.setdefault(row["fingerprint"], ([], []))
            entry[0].append(row)
            entry[1].append(frames_by_clip[row["clip_id"]])
    clip_rows: list[dict] = []
    frame_parts: list[pd.DataFrame] = []
    reused = 0
    todo: list[tuple[str, Path, list[GivenClip] | None, str]] = []
    for stem, video in sorted(stems.items()):
        given = given_all.get(stem) if opts.onsets else None
        if opts.onsets and not given:
            log.add("no_onset_rows", video, "an onsets CSV was given but has no row for this video; add rows "
                    "(video, ps_frame, ...) for it", "video")
            continue
        fp = _fingerprint(video, opts, given)
        if fp in prev_by_fp and all(
            opts.store == STORAGE_VIDEO or (root / f.iloc[0]["path"]).is_file() for f in prev_by_fp[fp][1]
        ):
            rows, parts = prev_by_fp[fp]
            clip_rows += [dict(r) for r in rows]
            frame_parts += parts
            reused += len(rows)
        else:
            todo.append((stem, video, given, fp))
    scanned = _map_videos([t[1] for t in todo], opts.workers, progress)
    for (stem, video, given, fp), result in zip(todo, scanned, strict=True):
        if isinstance(result[0], str):
            log.add(result[0], video, result[1], "video")
            continue
        info, scan = result
        if _check_complete(video, info, len(scan.scores), log):
            fp += "!"  # never matches a fresh fingerprint: rescanned on every run, so the report keeps it
        plans = []
        for plan in _plan_clips(stem, scan, opts, given, video, log):
            clip_id, start, end, _, _ = plan
            if end - start < opts.min_clip_frames:
                log.add("too_short", f"{video}#frames={start}-{end - 1}", f"expected at least "
                        f"{opts.min_clip_frames} frames per clip, found {end - start}; lower --min-clip-frames "
                        f"(>= {MIN_CLIP_FRAMES}) or give longer clips", "clip")
                continue
            plans.append(plan)
        if not plans:
            continue
        pngs = _write_pngs(video, root, plans, opts.hash_files) if opts.store == STORAGE_PNG else None
        rel_video = manifest_path(video, root)
        for clip_id, start, end, onset, onset_source in plans:
            n = end - start
            if pngs is None:
                paths_, sizes, mtimes, shas = [rel_video] * n, [None] * n, [None] * n, [None] * n
            else:
                paths_, sizes, mtimes, shas = (list(c) for c in zip(*pngs[clip_id], strict=True))
            ts = scan.timestamps[start:end]
            frame_parts.append(pd.DataFrame({
                "clip_id": clip_id, "frame_index": np.arange(n), "frame_number": scan.numbers[start:end],
                "role": [ROLE_PS] + [ROLE_SMOKY] * (n - 1), "path": paths_,
                "timestamp_s": np.where(np.isnan(ts), None, ts), "mask_path": None, "clean_path": None,
                "density_path": None, "smoke_score": scan.scores[start:end], "bytes": sizes, "mtime_ns": mtimes,
                "sha256": shas,
            }))
            clip_rows.append({
                "clip_id": clip_id, "split": opts.split, "source": SOURCE_VIDEO,
                "source_uri": f"{video.as_posix()}#frames={start}-{end - 1}",
                "storage": opts.store, "n_frames": n, "height": info.height, "width": info.width, "fps": info.fps,
                "ps_frame_index": 0, "smoke_onset_index": onset, "onset_source": onset_source if onset is not None
                else "unknown", "mask_ref_index": OFFICIAL_MASK_INDEX if n > OFFICIAL_MASK_INDEX else None,
                "has_clean": False, "metric_ref_path": None, "licence": opts.licence, "fingerprint": fp,
                "_stem": stem,
            })
    for row in clip_rows:
        stem = row.pop("_stem", None) or Path(row["source_uri"].split("#")[0]).stem
        for key in [k for k in row if k.startswith("split_seed")]:
            del row[key]
        if opts.split == "auto":
            row["split"] = row[f"split_seed{opts.split_seed}"] = _split_of(stem, opts)
        else:
            row["split"] = opts.split
    clips = pd.DataFrame(clip_rows)
    frames = pd.concat(frame_parts, ignore_index=True) if frame_parts else pd.DataFrame()
    return IndexResult(clips=clips, frames=frames, reused=reused, indexed=len(clip_rows) - reused)
