"""Speed of ``prepare``: LSVD-layout indexing (headers only) and video ingest vs a bare decode.

Run: ``python -m benchmarks.perf.prepare [--frames 20000] [--videos 3 --video-frames 225]``.
Records ``benchmarks/perf/results/prepare.json``. Targets (issue 2): indexing >= 5,000 frames/s
without hashing; video ingest within 1.5x a bare PyAV decode of the same files (same run).

- *Indexing*: an LSVD tree of ``--frames`` PNG frames (clips of 100 frames, 256x320) is indexed
  by ``prepare_lsvd`` from scratch (cold manifest, warm page cache), then re-run (everything
  unchanged). The reference is a naive indexer that decodes every frame to learn its size
  (``cv2.imread``), timed on a subset and extrapolated per frame.
- *Video ingest*: the whole ``prepare_videos`` call (storage ``video``: one decode per video to
  a thumbnail, smoke score, emergence, cut detection, clip planning, manifests, dataset card;
  videos spread over one process per core) against the bare decode of the same files, one after
  the other (``for frame in container.decode(video=0): pass``, the faster of frame threading and
  one thread), and against a decode to RGB arrays (``frame.to_ndarray("rgb24")``). Also one
  video alone in one process (no parallelism between videos).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.perf._record import record
from lsvd.io.images import encode_png
from lsvd.io.video import write_video
from lsvd.prepare import prepare_lsvd, prepare_videos


def _frames(n: int, height: int, width: int, seed: int, smoke_every: int = 0) -> np.ndarray:
    """Textured reddish frames panning sideways; with ``smoke_every``, a whitish veil
    (I = J*t + A*(1-t)) ramps up from frame 20 of every period (smoke events to detect)."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random((height // 8, width // 8 + n // 4 + 2, 3)).astype(np.float32),
                      (width + n, height), interpolation=cv2.INTER_CUBIC)
    red = np.array([0.9, 0.45, 0.4], np.float32)
    frames = []
    for t in range(n):
        j = (base[:, t:t + width] * 0.5 + 0.5) * red
        phase = t % smoke_every - 20 if smoke_every else -1
        veil = min(0.7, 0.15 + 0.05 * phase) if phase >= 0 else 0.0
        frames.append(np.clip((j * (1 - veil) + 0.9 * veil) * 255, 0, 255))
    return np.stack(frames).astype(np.uint8)


def bench_indexing(tmp: Path, n_frames: int) -> dict:
    src = tmp / "LSVD"
    per_clip = 100
    png = encode_png(_frames(1, 256, 320, 0)[0])
    n_clips = max(1, n_frames // per_clip)
    for c in range(n_clips):
        d = src / ("LSVD_train" if c % 5 else "LSVD_test") / f"clip_{c:05d}"
        d.mkdir(parents=True)
        for i in range(per_clip):
            (d / f"{i:08d}.png").write_bytes(png)
    total = n_clips * per_clip
    root = tmp / "root"
    t = time.perf_counter()
    s = prepare_lsvd(src, root, progress=False)
    cold = time.perf_counter() - t
    assert s.frames == total, s
    t = time.perf_counter()
    s2 = prepare_lsvd(src, root, progress=False)
    warm = time.perf_counter() - t
    assert not s2.changed
    subset = sorted(src.rglob("*.png"))[:1000]
    t = time.perf_counter()
    for p in subset:
        cv2.imread(str(p), cv2.IMREAD_UNCHANGED).shape  # noqa: B018
    decode_per_frame = (time.perf_counter() - t) / len(subset)
    return {
        "frames": total, "clips": n_clips, "frame_size": "256x320 PNG",
        "index_s": round(cold, 3), "index_frames_per_s": round(total / cold),
        "rerun_unchanged_s": round(warm, 3), "rerun_frames_per_s": round(total / warm),
        "reference_decode_every_frame_frames_per_s": round(1 / decode_per_frame),
        "speedup_vs_decoding": round(decode_per_frame * total / cold, 1),
        "target_frames_per_s": 5000, "meets_target": total / cold >= 5000,
    }


def _bare_decode(paths: list[Path], rgb: bool) -> float:
    """Seconds to decode ``paths`` one after the other: the faster of FFmpeg's frame threading
    and a single decoding thread (which wins for small frames on 2 cores)."""
    times = []
    for threads in (True, False):
        t = time.perf_counter()
        for p in paths:
            with av.open(str(p)) as c:
                stream = c.streams.video[0]
                if threads:
                    stream.thread_type = "AUTO"
                for frame in c.decode(stream):
                    if rgb:
                        frame.to_ndarray(format="rgb24")
        times.append(time.perf_counter() - t)
    return min(times)


def bench_videos(tmp: Path, paths: list[Path], label: str, workers: int = 0) -> dict:
    n = sum(av.open(str(p)).streams.video[0].frames for p in paths)
    _bare_decode(paths, False)  # warm the page cache
    runs = {"bare": [], "rgb": [], "ingest": []}
    for r in range(3):
        runs["bare"].append(_bare_decode(paths, False))
        runs["rgb"].append(_bare_decode(paths, True))
        root = tmp / f"vroot-{label}-{r}"
        t = time.perf_counter()
        prepare_videos(paths, root, progress=False, workers=workers)
        runs["ingest"].append(time.perf_counter() - t)
        shutil.rmtree(root)
    best = {k: min(v) for k, v in runs.items()}
    return {
        "videos": label, "files": len(paths), "frames": n, "workers": workers or "default (one per two cores)",
        "bare_decode_s": round(best["bare"], 3), "decode_to_rgb_s": round(best["rgb"], 3),
        "ingest_s": round(best["ingest"], 3),
        "ingest_over_bare_decode": round(best["ingest"] / best["bare"], 2),
        "ingest_over_decode_to_rgb": round(best["ingest"] / best["rgb"], 2),
        "target_ratio": 1.5, "meets_target": best["ingest"] / best["bare"] <= 1.5,
        "timing": "best of 3",
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=20000)
    p.add_argument("--videos", type=int, default=3)
    p.add_argument("--video-frames", type=int, default=225)
    p.add_argument("--real", type=Path, default=Path(__file__).resolve().parents[3] / "shared/data/desmoke-lap/Input")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="lsvd-perf-"))
    try:
        figures = {"indexing": bench_indexing(tmp, args.frames)}
        print("indexing:", figures["indexing"])
        for height, width in ((720, 1280), (1080, 1920)):
            made = []
            for i in range(args.videos):
                made.append(tmp / f"video_{height}p_{i}.mp4")
                write_video(made[-1], _frames(args.video_frames, height, width, i, smoke_every=75), fps=25)
            label = f"{args.videos} x {args.video_frames} frames, {width}x{height} H.264 (synthetic veil events)"
            key = f"video_ingest_{height}p_h264"
            figures[key] = bench_videos(tmp, made, label)
            print(key, figures[key])
            if height == 720:
                single = bench_videos(tmp, made[:1], label.replace(f"{args.videos} x", "1 x"), workers=1)
                figures["video_ingest_720p_h264_one_video"] = single
                print("one video:", single)
        if args.real.is_dir():
            real = sorted(args.real.glob("*.avi"))
            figures["video_ingest_real_clips"] = bench_videos(tmp, real, "DeSmoke-LAP Input clips, 256x256 MPEG-4")
            print("real:", figures["video_ingest_real_clips"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("recorded", record("prepare", figures, notes="page cache warm; see the module docstring for method"))


if __name__ == "__main__":
    main()
