"""What reports show of a benchmark: preview videos and sample frames, saved while methods run.

Reports are built from result files alone (they never run a model), so the runner keeps, under
``RESULTS/media/<split>/<clip_id>/`` (names from :mod:`benchmarks.results`, which readers use too)::

    clip.json                 frame numbers, PS frame, smoke onset, sample frames, fps, size, fingerprint
    input.webm                the smoky frames (VP9 preview, at most PREVIEW_HEIGHT pixels high)
    ps.png                    the PS frame (full resolution, lossless)
    input/<n>.png             sample frame n (source frame number) as given to the methods
    mask/<n>.png              its SelfSVD mask (uint8 0/255, H/4 x W/4), when the clip has masks
    clean/<n>.png             its clean frame, when the data has them
    methods/<method>/         one folder per method, written atomically:
        output.webm, <n>.png  the method's outputs (preview video; the primary sample frame, lossless)
        key.txt               the method's cache key: a different key (new weights) rewrites the folder

Sample frames (:func:`sample_frames`) depend only on the clip, so every method shows the same ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.results import (
    CHECKPOINT_POINTER,
    CLEAN_FRAMES_DIR,
    CLIP_SHEET,
    INPUT_FRAMES_DIR,
    INPUT_PREVIEW,
    MASK_FRAMES_DIR,
    MEDIA_DIR,
    MEDIA_KEY_FILE,
    METHOD_MEDIA_DIR,
    OUTPUT_PREVIEW,
    PS_FRAME,
    RUN_LOG_FILE,
    ResultsLayout,
    method_dir_name,
)

__all__ = ["DEFAULT_FPS", "MEDIA_DIR", "N_SAMPLES", "PNG_COMPRESSION", "PREVIEW_HEIGHT", "RUN_FILES", "MediaWriter",
           "clip_media_dir", "find_run_dir", "method_dir_name", "sample_frames", "save_run_logs", "write_preview"]

#: Preview videos are downscaled (never upscaled) to at most this many pixels high.
PREVIEW_HEIGHT = 360
#: Frames per second of the preview videos of clips whose manifest has no frame rate (LSVD PNGs).
DEFAULT_FPS = 25.0
#: Sample frames per clip.
N_SAMPLES = 3
#: zlib level of the sample PNGs (lossless either way): smaller files, still ~10 ms per 480x640 frame.
PNG_COMPRESSION = 6


def clip_media_dir(results: str | Path, split: str, clip_id: str) -> Path:
    """``RESULTS/media/<split>/<clip_id>``; :class:`~lsvd.io.paths.UnsafePathError` if the names would leave it."""
    from lsvd.io.paths import check_name, inside

    return inside(results, MEDIA_DIR, check_name(split, "split"), check_name(clip_id, "clip_id"))


def sample_frames(frame_numbers: np.ndarray, smoky: np.ndarray | None, smoke_score: np.ndarray | None,
                  n: int = N_SAMPLES) -> list[int]:
    """Source frame numbers of up to ``n`` frames to show: first the primary one (the smokiest frame
    after the onset, or the middle of the smoky part without scores), then the others ascending:
    frames spaced evenly from the middle to the end of the smoky part, the end included.

    Args:
        frame_numbers: ``(T,)`` numbers of the frames the methods desmoke.
        smoky: bool ``(T,)``, frames from the smoke onset on (``None``: all).
        smoke_score: ``(T,)`` the manifest's smoke score of those frames (NaN or ``None``: unknown).
    """
    numbers = np.asarray(frame_numbers)
    idx = np.flatnonzero(smoky) if smoky is not None and np.any(smoky) else np.arange(len(numbers))
    picks: list[int] = []
    if smoke_score is not None:
        scores = np.asarray(smoke_score, dtype=float)[idx]
        if np.isfinite(scores).any():
            picks.append(int(idx[int(np.nanargmax(scores))]))
    for q in np.linspace(0.5, 1.0, n):  # middle ... end of the smoky part
        if len(picks) >= n:
            break
        t = int(idx[min(len(idx) - 1, int(round(q * (len(idx) - 1))))])
        if t not in picks:
            picks.append(t)
    return [int(numbers[t]) for t in picks[:1] + sorted(picks[1:])]


def _preview_frames(frames: np.ndarray) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 -> the same, downscaled to at most PREVIEW_HEIGHT high, even sides."""
    import cv2

    _, h, w, _ = frames.shape
    scale = min(1.0, PREVIEW_HEIGHT / h)
    nh, nw = max(2, int(round(h * scale / 2)) * 2), max(2, int(round(w * scale / 2)) * 2)
    if (nh, nw) == (h, w):
        return frames
    return np.stack([cv2.resize(f, (nw, nh), interpolation=cv2.INTER_AREA) for f in frames])


def write_preview(path: Path, frames: np.ndarray, fps: float) -> None:
    """A VP9/WebM preview (plays in every browser without proprietary codecs)."""
    from lsvd.io.video import write_video

    write_video(path, _preview_frames(frames), fps=fps, codec="libvpx-vp9", crf=32)


class MediaWriter:
    """Saves clip sheets and method outputs of one benchmark split under ``RESULTS/media``."""

    def __init__(self, results: str | Path, split: str, manifest: Any) -> None:
        self.results, self.split, self.manifest = Path(results), split, manifest

    def method_dir(self, method: str, clip_id: str) -> Path:
        return clip_media_dir(self.results, self.split, clip_id) / METHOD_MEDIA_DIR / method_dir_name(method)

    def is_saved(self, method: str, clip_id: str, key: str, fingerprint: str) -> bool:
        """Whether the outputs of ``method`` with cache key ``key`` on the clip are saved, with its sheet."""
        sheet = clip_media_dir(self.results, self.split, clip_id) / CLIP_SHEET
        key_file = self.method_dir(method, clip_id) / MEDIA_KEY_FILE
        if not (sheet.is_file() and key_file.is_file()):
            return False
        try:
            same_clip = json.loads(sheet.read_text()).get("fingerprint") == fingerprint
        except ValueError:
            return False
        return same_clip and key_file.read_text().strip() == key

    def save(self, method: str, key: str, fingerprint: str, clip: Any, refs: Any, outputs: np.ndarray) -> None:
        """Write the clip's sheet (when missing or outdated) and ``method``'s outputs.

        Args:
            clip: the :class:`~baselines.base.Clip` the method desmoked.
            refs: its :class:`~benchmarks.evaluate.References` (clean frames, smoky flags).
            outputs: uint8 ``(T, H, W, 3)``.
        """
        from lsvd.io.atomic import atomic_dir
        from lsvd.io.images import write_png

        sheet = self._save_sheet(clip, refs, fingerprint)
        numbers = [int(n) for n in clip.frame_numbers] if clip.frame_numbers is not None else list(range(len(outputs)))
        with atomic_dir(self.method_dir(method, clip.clip_id)) as tmp:
            write_preview(tmp / OUTPUT_PREVIEW, outputs, sheet["fps"])
            n = sheet["samples"][0]  # the frame the figures compare methods on; the others show inputs and masks
            write_png(tmp / f"{n}.png", outputs[numbers.index(n)], compression=PNG_COMPRESSION)
            (tmp / MEDIA_KEY_FILE).write_text(key + "\n")

    def _save_sheet(self, clip: Any, refs: Any, fingerprint: str) -> dict[str, Any]:
        from lsvd.io.atomic import write_json
        from lsvd.io.images import write_png

        folder = clip_media_dir(self.results, self.split, clip.clip_id)
        path = folder / CLIP_SHEET
        if path.is_file():
            try:
                sheet = json.loads(path.read_text())
            except ValueError:
                sheet = {}
            if sheet.get("fingerprint") == fingerprint:
                return sheet
        if folder.exists():  # the clip changed (or a sheet was half-written): every saved file is stale
            shutil.rmtree(folder)
        row = self.manifest.clip(clip.clip_id)
        frames = self.manifest.clip_frames(clip.clip_id).set_index("frame_index")
        numbers = [int(n) for n in clip.frame_numbers] if clip.frame_numbers is not None else list(range(len(clip.lqs)))
        by_number = frames.reset_index().set_index("frame_number")
        scores = by_number["smoke_score"].reindex(numbers).to_numpy(float) if "smoke_score" in by_number else None
        samples = sample_frames(np.asarray(numbers), refs.smoky, scores)
        ps_index = int(row["ps_frame_index"])
        onset = row.get("smoke_onset_index")
        onset_number = None
        if not pd.isna(onset) and int(onset) in frames.index:
            onset_number = int(frames.loc[int(onset), "frame_number"])
        fps = row.get("fps")
        fps = float(fps) if not pd.isna(fps) and float(fps) > 0 else DEFAULT_FPS
        for sub, present in ((INPUT_FRAMES_DIR, True), (MASK_FRAMES_DIR, clip.mask is not None),
                             (CLEAN_FRAMES_DIR, refs.clean is not None)):
            if present:
                (folder / sub).mkdir(parents=True, exist_ok=True)
        write_preview(folder / INPUT_PREVIEW, clip.lqs, fps)
        write_png(folder / PS_FRAME, clip.ps, compression=PNG_COMPRESSION)
        for n in samples:
            t = numbers.index(n)
            write_png(folder / INPUT_FRAMES_DIR / f"{n}.png", clip.lqs[t], compression=PNG_COMPRESSION)
            if clip.mask is not None:
                mask = (np.asarray(clip.mask[t, 0]) > 0.5).astype(np.uint8) * 255
                write_png(folder / MASK_FRAMES_DIR / f"{n}.png", mask, compression=PNG_COMPRESSION)
            if refs.clean is not None:
                write_png(folder / CLEAN_FRAMES_DIR / f"{n}.png", refs.clean[t], compression=PNG_COMPRESSION)
        sheet = {"clip_id": clip.clip_id, "split": self.split, "fingerprint": fingerprint,
                 "frame_numbers": numbers, "ps_frame_number": int(frames.loc[ps_index, "frame_number"]),
                 "smoke_onset_number": onset_number, "samples": samples, "fps": fps,
                 "height": int(clip.lqs.shape[1]), "width": int(clip.lqs.shape[2]),
                 "has_mask": clip.mask is not None, "has_clean": refs.clean is not None}
        write_json(path, sheet)  # last: the sheet is complete once clip.json names it
        return sheet


#: Files of a ``lsvd.train`` run directory copied into ``RESULTS/runs/<method>/`` (training curves).
RUN_FILES = (RUN_LOG_FILE, "config.toml", "run.json")


def find_run_dir(checkpoint: str | Path) -> Path | None:
    """The ``lsvd.train`` run directory holding ``checkpoint`` (itself, or up to 3 folders up), or ``None``."""
    p = Path(checkpoint).expanduser().resolve()
    if not p.exists():
        return None
    for candidate in [p, *list(p.parents)[:3]]:
        if (candidate / RUN_LOG_FILE).is_file():
            return candidate
    return None


def write_checkpoint_pointer(layout: ResultsLayout, method: str, checkpoint: str | Path) -> Path:
    """``RESULTS/runs/<method>/checkpoint.json``: the generator file a learned method was scored with and its
    sha256, so the trained model is found from the results (``python -m lsvd.desmoke --checkpoint`` reads it)."""
    from lsvd.io.atomic import write_json
    from lsvd.io.hashing import file_sha256
    from lsvd.train.checkpoint import resolve_generator_file

    weights = resolve_generator_file(checkpoint).resolve()
    path = layout.run_logs(method) / CHECKPOINT_POINTER
    write_json(path, {"method": method, "checkpoint": weights.as_posix(), "sha256": file_sha256(weights)})
    return path


def save_run_logs(results: str | Path, method: str, checkpoint: str | Path | None) -> str:
    """Copy the training log of the run that produced ``checkpoint`` to ``RESULTS/runs/<method>/``.

    Returns the folder relative to ``results`` (``""`` when the checkpoint has no run directory, e.g.
    an official ``.pth``).
    """
    from lsvd.io.atomic import write_bytes

    run = find_run_dir(checkpoint) if checkpoint else None
    if run is None:
        return ""
    layout = ResultsLayout(Path(results))
    write_checkpoint_pointer(layout, method, checkpoint)
    for name in RUN_FILES:
        if (run / name).is_file():
            write_bytes(layout.run_logs(method) / name, (run / name).read_bytes())
    return layout.run_logs_rel(method)
