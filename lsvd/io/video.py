"""Video files through PyAV (FFmpeg): probing, frame iteration with timestamps, random access,
and H.264 writing. Frames are ``uint8`` RGB ``(H, W, 3)``.

Frame numbers count decoded frames from 0 in presentation order; timestamps are the frames'
presentation times in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from lsvd.errors import LsvdError

__all__ = ["VIDEO_SUFFIXES", "FrameReader", "VideoError", "VideoFrame", "VideoInfo", "iter_frames",
           "iter_frames_in_background", "probe_video", "read_frames", "write_video"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")


class VideoError(LsvdError, ValueError):
    """A video that cannot be used (unreadable, truncated, no video stream)."""


#: How many frames a decode may fall short of the container's promise and still count as complete:
#: a stored frame count allows :data:`FRAME_COUNT_TOLERANCE` (a placeholder frame some encoders
#: write); a count derived from duration x rate also allows :data:`DURATION_TOLERANCE` of it
#: (rounding, and the rate is an estimate for variable-rate video).
FRAME_COUNT_TOLERANCE = 1
DURATION_TOLERANCE = 0.02


@dataclass(frozen=True)
class VideoInfo:
    """Container-level facts; ``n_frames`` may be 0 and ``duration_s`` ``None`` when the container
    does not say (``duration_s`` is the video stream's, else the container's when the video is its
    only stream)."""

    width: int
    height: int
    fps: float | None
    n_frames: int
    codec: str
    duration_s: float | None

    def expected_frames(self) -> tuple[int, int, str] | None:
        """``(frames, tolerance, basis)``: the frame count the container promises (its stored count,
        else duration x rate), how many fewer decoded frames still count as complete, and a phrase
        saying where the count comes from; ``None`` when the container gives neither."""
        if self.n_frames > 0:
            return self.n_frames, FRAME_COUNT_TOLERANCE, "its frame count"
        if self.duration_s and self.fps:
            n = round(self.duration_s * self.fps)
            tolerance = max(FRAME_COUNT_TOLERANCE, round(DURATION_TOLERANCE * n))
            return (n, tolerance, f"{self.duration_s:.2f} s at {self.fps:.4g} fps") if n > 0 else None
        return None

    def shortfall(self, decoded: int) -> str | None:
        """``"expected N frames per the header (...), decoded M"`` when ``decoded`` frames fall short of
        :meth:`expected_frames` beyond its tolerance (a truncated copy), else ``None``."""
        expected = self.expected_frames()
        if expected is None or decoded >= expected[0] - expected[1]:
            return None
        return f"expected {expected[0]} frames per the header ({expected[2]}), decoded {decoded}"


@dataclass(frozen=True)
class VideoFrame:
    number: int
    timestamp_s: float | None
    rgb: np.ndarray


def _open(path: str | os.PathLike[str]):
    import av

    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: zero-byte file (expected a video); re-export or remove it")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{path}: unreadable video ({exc}); check the file plays, or re-encode it") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: no video stream found (audio-only or not a video)")
    return container


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's size, rate, frame count and duration from its container, without decoding."""
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration and len(container.streams) == 1:  # e.g. Matroska: only a segment duration
            duration = container.duration / av.time_base
        else:
            duration = None
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=float(rate) if rate else None,
            n_frames=int(stream.frames or 0),
            codec=stream.codec_context.name,
            duration_s=duration,
        )


def _plane(plane) -> np.ndarray:
    """A zero-copy (rows, width) view of one plane of a decoded frame."""
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


def _thumbnail(frame, width: int, height: int) -> np.ndarray:
    """A small RGB copy of a decoded frame, for scores that need no full-resolution pixels.

    For limited-range ``yuv420p`` frames (most H.264/MPEG-4 video) each plane is point-sampled
    to about twice the target size, area-averaged to it, and converted with OpenCV's BT.601
    I420 conversion: a few microseconds, where a full RGB conversion costs as much as decoding.
    Other pixel formats go through FFmpeg's area scaler. Even ``width``/``height`` expected.
    """
    import cv2

    if frame.format.name != "yuv420p" or width % 2 or height % 2:
        return frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()
    y, u, v = (_plane(p) for p in frame.planes[:3])
    step = max(1, min(frame.height // (2 * height), frame.width // (2 * width)))
    ys = cv2.resize(np.ascontiguousarray(y[::step, ::step]), (width, height), interpolation=cv2.INTER_AREA)
    half = (width // 2, height // 2)
    us, vs = (cv2.resize(np.ascontiguousarray(c[::step, ::step]), half, interpolation=cv2.INTER_AREA) for c in (u, v))
    i420 = np.concatenate([ys.ravel(), us.ravel(), vs.ravel()]).reshape(height * 3 // 2, width)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)


def iter_frames(path: str | os.PathLike[str], *, size: tuple[int, int] | None = None,
                threads: bool = True) -> Iterator[VideoFrame]:
    """Decode every frame in order, as full-resolution RGB, or as a small RGB thumbnail of
    ``size=(width, height)`` made cheaply from the decoded planes (:func:`_thumbnail`).
    ``threads=False`` decodes on one thread (when other processes already use the cores).

    Raises :class:`VideoError` if decoding fails part-way (a truncated or corrupt file),
    naming the number of frames decoded before the failure.
    """
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        if threads:
            stream.thread_type = "AUTO"
        number = 0
        try:
            for frame in container.decode(stream):
                rgb = _thumbnail(frame, *size) if size else frame.to_ndarray(format="rgb24")
                yield VideoFrame(number, float(frame.time) if frame.time is not None else None, rgb)
                number += 1
        except av.FFmpegError as exc:
            raise VideoError(
                f"{path}: decoding failed after {number} frames ({exc}); the file is truncated or corrupt"
            ) from exc


def read_frames(path: str | os.PathLike[str], frame_numbers: Iterable[int]) -> dict[int, np.ndarray]:
    """Decode the requested frame numbers (any order) and return ``{number: rgb}``.

    Decodes from the start up to the largest requested number; use a PNG-stored dataset
    (``prepare --store png``) when you need fast random access into long videos.
    """
    wanted = sorted(set(int(n) for n in frame_numbers))
    if not wanted:
        return {}
    out: dict[int, np.ndarray] = {}
    for frame in iter_frames(path):
        if frame.number in wanted:
            out[frame.number] = frame.rgb
        if frame.number >= wanted[-1]:
            break
    missing = [n for n in wanted if n not in out]
    if missing:
        raise VideoError(f"{path}: frames {missing[:5]}{'...' if len(missing) > 5 else ''} not found "
                         f"(the video has fewer frames than its manifest says; re-run prepare)")
    return out


class FrameReader:
    """Frames of videos by frame number, decoded in one forward pass while the numbers asked for ascend.

    Asking for an earlier frame (or another video) restarts decoding from the start of that video, so
    sequential access costs one decode of each frame and random access into long videos is slow (use a
    PNG-stored root, ``prepare --store png``, for that). ``keep=True`` remembers the frame (e.g. a clip's PS
    frame, asked for again after later frames). Picklable (the open decoder is not carried over), so it
    can live in ``DataLoader`` workers.
    """

    def __init__(self) -> None:
        self._path: str | None = None
        self._frames: Iterator[VideoFrame] | None = None
        self._next = 0
        self._kept: dict[tuple[str, int], np.ndarray] = {}

    def __getstate__(self) -> dict:
        return {"_path": None, "_frames": None, "_next": 0, "_kept": {}}

    def get(self, path: str | os.PathLike[str], number: int, *, keep: bool = False) -> np.ndarray:
        """The RGB frame ``number`` (0-based decode order) of ``path``, uint8 ``(H, W, 3)``.

        Raises:
            VideoError: the video has no such frame, or fails to decode.
        """
        key = (str(path), int(number))
        if key in self._kept:
            return self._kept[key]
        if key[0] != self._path or key[1] < self._next or self._frames is None:
            self._path, self._frames, self._next = key[0], iter_frames(key[0]), 0
        for frame in self._frames:
            self._next = frame.number + 1
            if frame.number == key[1]:
                if keep:
                    self._kept = {key: frame.rgb}
                return frame.rgb
            if frame.number > key[1]:
                break
        self._frames = None
        raise VideoError(f"{path}: frame {number} not found (the video has fewer frames than the manifest says; "
                         "re-run `python -m lsvd.prepare`)")


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float = 25.0,
    *,
    codec: str = "libx264",
    crf: int = 18,
) -> int:
    """Encode RGB frames to a video file (H.264/yuv420p by default; ``codec="libvpx-vp9"`` for WebM);
    returns the frame count.

    Width and height must be even for yuv420p. Writes to a temporary file and renames it.
    """
    import av

    from lsvd.io.atomic import atomic_path

    path = Path(path)
    n = 0
    with atomic_path(path) as tmp:
        fmt = path.suffix.lstrip(".") or "mp4"
        with av.open(str(tmp), mode="w", format={"mkv": "matroska", "m4v": "mp4"}.get(fmt, fmt)) as container:
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            stream.pix_fmt = "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": str(crf)}
            elif codec == "libvpx-vp9":  # constant quality, fast; single-threaded so the bytes are reproducible
                stream.options = {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "0"}
                stream.thread_count = 1
                container.flags |= av.container.Flags.bitexact.value  # no muxing date or library version
            for rgb in frames:
                if n == 0:
                    stream.height, stream.width = rgb.shape[:2]
                container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))
                n += 1
            container.mux(stream.encode())
    return n


def _decode_worker(conn, path: str, size: tuple[int, int] | None, threads: bool, chunk: int) -> None:
    """Child process of :func:`iter_frames_in_background`: send frames in chunks, then None."""
    try:
        batch: list[VideoFrame] = []
        for frame in iter_frames(path, size=size, threads=threads):
            batch.append(frame)
            if len(batch) == chunk:
                conn.send(batch)
                batch = []
        conn.send(batch)
        conn.send(None)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        conn.send(exc if isinstance(exc, VideoError) else VideoError(f"{path}: decoding failed ({exc!r})"))
    finally:
        conn.close()


def iter_frames_in_background(path: str | os.PathLike[str], *, size: tuple[int, int] | None = None,
                              chunk: int = 16) -> Iterator[VideoFrame]:
    """:func:`iter_frames`, decoded in a child process while the caller works on earlier frames.

    A two-stage pipeline for per-frame analysis that costs about as much as decoding (the smoke
    scan of ``prepare``): on two cores the wall time becomes the slower stage, not the sum.
    Falls back to :func:`iter_frames` where ``fork`` is unavailable. Errors are re-raised here.
    """
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():
        yield from iter_frames(path, size=size)
        return
    ctx = mp.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_decode_worker, args=(sender, str(path), size, False, chunk), daemon=True)
    proc.start()
    sender.close()
    try:
        while True:
            try:
                batch = receiver.recv()
            except EOFError as exc:
                raise VideoError(f"{path}: the decoding process died (exit code {proc.exitcode})") from exc
            if batch is None:
                break
            if isinstance(batch, BaseException):
                raise batch
            yield from batch
    finally:
        receiver.close()
        if proc.is_alive():
            proc.terminate()
        proc.join()
