"""Speed of the synthetic mini-LSVD generator: render-only, full generation (PNG writes), no-op re-run.

Run with ``python -m benchmarks.perf.synthetic [--preset default]``; writes
``benchmarks/perf/results/synthetic.json``. Frames/s count smoky frames (each also has a clean
frame and a 16-bit density frame). There is no reference implementation to compare with; the
figure to watch is the default preset's ``generate_s`` (target: well under 60 s on 2 cores).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.perf._record import record
from lsvd.data.synthetic import GENERATOR_VERSION, PRESETS, SPLITS, generate, render_clip


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (this process, all threads) of ``fn()``."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def main(argv: list[str] | None = None) -> dict[str, float | int | str]:
    """Measure one preset and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS), help="preset to generate")
    args = parser.parse_args(argv)
    config = PRESETS[args.preset]
    n_clips = config.n_train + config.n_test
    n_frames = n_clips * config.n_frames

    def render_all() -> None:
        for split in SPLITS:
            for index in range(config.n_clips(split)):
                render_clip(config, split, index)

    render_clip(PRESETS["tiny"], "train", 0)  # warm-up: imports (cv2, FFT) stay outside the timings

    render_s, render_cpu = _timed(render_all)
    with tempfile.TemporaryDirectory(prefix="lsvd-synthetic-") as tmp:
        out = Path(tmp) / "synthetic"
        generate_s, generate_cpu = _timed(lambda: generate(out, config, progress=False))
        noop_s, _ = _timed(lambda: generate(out, config, progress=False))
        files = list(out.rglob("*.png"))
        bytes_written = sum(p.stat().st_size for p in files)

    figures: dict[str, float | int | str] = {
        "preset": args.preset,
        "generator_version": GENERATOR_VERSION,
        "clips": n_clips,
        "frames_per_clip": config.n_frames,
        "height": config.height,
        "width": config.width,
        "smoky_frames": n_frames,
        "render_s": round(render_s, 3),
        "render_cpu_s": round(render_cpu, 3),
        "render_fps": round(n_frames / render_s, 2),
        "generate_s": round(generate_s, 3),
        "generate_cpu_s": round(generate_cpu, 3),
        "generate_fps": round(n_frames / generate_s, 2),
        "noop_rerun_s": round(noop_s, 4),
        "png_files": len(files),
        "megabytes_written": round(bytes_written / 2**20, 2),
    }
    path = record(
        "synthetic",
        figures,
        notes=(
            "render_* = render_clip for every clip (no I/O); generate_* = full generate() into an empty "
            "temp dir (render + 3 PNGs per frame, written by a background thread, + contact sheet + JSON); "
            "noop_rerun_s = generate() again with the same config (nothing rewritten). fps = smoky frames/s. "
            "No reference implementation exists to compare with."
        ),
    )
    for key, value in figures.items():
        print(f"{key:>20}: {value}")
    print(f"recorded to {path}")
    return figures


if __name__ == "__main__":
    main()
