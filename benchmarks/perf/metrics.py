"""Per-frame cost of our native no-reference metrics (NIQE, BRISQUE, PIQE, FADE) against their references.

Run: ``python -m benchmarks.perf.metrics [--quick] [--sizes 480x640,720x1280,1080x1920] [--threads 1]
[--repeats 10 --ref-repeats 5] [--pyiqa-python PATH] [--no-reference] [--no-record]``; records
``benchmarks/perf/results/metrics.json``. Target: ours >= 5x its reference at 720p and 1080p
(:data:`TARGET_SPEEDUP`), both on ``--threads`` threads.
Each metric is timed against its reference IN THE SAME RUN, on the same image.

- *Ours*: ``benchmarks.metrics.niqe.niqe``, ``.brisque.brisque``, ``.piqe.piqe``, ``.fade.fade`` on the uint8 RGB
  ``(H, W, 3)`` frame, in this process.
- *References*:
  - FADE: ``pyfade.fade_array(rgb_uint8)`` (fade-python 1.0.0, installed in the project venv; ``workers=1``), in
    this process.
  - NIQE, BRISQUE, PIQE: pyiqa 0.1.16's own code (``pyiqa.archs.niqe_arch.calculate_niqe(x, 0, True, 'yiq', mu,
    cov)`` with our copy of the pristine model ``benchmarks/metrics/params/niqe_pris_params.npz``;
    ``pyiqa.archs.brisque_arch.brisque(x, sv_coef=..., sv=...)`` with ``brisque_live_allmodel.npz``;
    ``pyiqa.archs.piqe_arch.piqe(x)[0]``), on ``x = tensor(rgb).permute(2, 0, 1)[None].float() / 255`` as pyiqa's
    loader makes it, under ``torch.no_grad()``. pyiqa is NOT installed into the project venv: its ``__init__``
    needs torchvision, so the reference runs in a separate venv (``--pyiqa-python``) as a subprocess, with stub
    package modules for ``pyiqa``, ``pyiqa.archs``, ``pyiqa.utils`` (so their ``__init__`` files are skipped) and
    for the three helper modules that pull heavy deps (``download_util``, ``arch_util``, ``fsim_arch``; the
    code paths timed here do not use them). It is given the same saved ``.npy`` images and the same number of
    torch threads as this process, and prints its timings and values as JSON. Without that venv, PIQE falls back
    to pyiqa's ``piqe_arch.py`` and helpers copied out of the wheel (``--pyiqa-src``, run with this interpreter);
    a reference that is not available is recorded as ``"reference": "unavailable: <why>"`` (never a number).
- *Inputs*: frame 9 of the real DeSmoke-LAP clip ``input_2.avi`` (256x256; ``lsvd.io.video.read_frames``),
  resized to each size with ``cv2.INTER_CUBIC``; when the shared data folder is absent, the last (smoky) frame
  of synthetic test clip 0 (``lsvd.data.synthetic.render_clip``, 256x320) resized the same way. Said in
  ``figures["inputs"]``.
- *Timings*: one warm-up call (Numba compile / cache load, lazy model loads), then ``*_best_ms`` (best of N
  calls) and ``*_median_ms`` (median of N); the development machine is shared, so medians carry others' load.
  ``ratio_reference_over_ours`` = reference best / ours best (>= 1: ours is faster; ``*_medians`` likewise).
- *Agreement*: ``rel_diff = |ours - reference| / |reference|``, ``within_1pct`` = ``rel_diff < 0.01``. For PIQE
  the fraction of active 16x16 blocks is given too: with none (a smooth frame stretched far), PIQE is 100 by
  definition and the agreement says nothing (``caveat``); the timing still covers the whole computation.

Building the pyiqa reference venv (no torchvision needed; CPU torch of the same version as the project's)::

    python3.11 -m venv /tmp/pyiqa-venv
    /tmp/pyiqa-venv/bin/pip install torch==2.13.0  # the CPU build, as for the project's venv
    /tmp/pyiqa-venv/bin/pip install --no-deps pyiqa==0.1.16 numpy scipy pillow

PIQE-only fallback (``--pyiqa-src``, default ``/tmp/pyiqa_ref``): unzip the pyiqa 0.1.16 wheel
(``pip download --no-deps pyiqa==0.1.16``) and copy ``pyiqa/archs/piqe_arch.py``, ``pyiqa/archs/func_util.py``,
``pyiqa/utils/color_util.py``, ``pyiqa/utils/registry.py`` and ``pyiqa/matlab_utils/`` into
``/tmp/pyiqa_ref/pyiqa/`` with empty ``__init__.py`` files for ``pyiqa`` and ``pyiqa/archs`` (and a
``pyiqa/utils/__init__.py`` that imports nothing heavy).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numba
import numpy as np
import torch

from benchmarks.perf._record import record

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LSVD_SHARED_DATA") or ROOT.parent / "shared" / "data")
CLIPS = SHARED / "desmoke-lap" / "Input"
FRAME = 9
PARAMS = ROOT / "benchmarks" / "metrics" / "params"
DEFAULT_PYIQA_PYTHON = Path("/tmp/pyiqa-venv/bin/python")
DEFAULT_PYIQA_SRC = Path("/tmp/pyiqa_ref")
DEFAULT_SIZES = ((480, 640), (720, 1280), (1080, 1920))
METRICS = ("niqe", "brisque", "piqe", "fade")
PYIQA_METRICS = ("niqe", "brisque", "piqe")
REL = 0.01
TARGET_SPEEDUP = 5.0


def _times_ms(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(best, median) wall time in ms over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3, statistics.median(times) * 1e3


def _natural(p: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def load_frame() -> tuple[np.ndarray, str]:
    """One natural-looking RGB uint8 frame and a sentence saying where it came from."""
    clips = sorted(CLIPS.glob("*.avi"), key=_natural) if CLIPS.is_dir() else []
    if clips:
        from lsvd.io.video import read_frames

        frames = read_frames(clips[0], [FRAME])
        if FRAME in frames:
            f = frames[FRAME]
            return (np.ascontiguousarray(f), f"real DeSmoke-LAP {clips[0].name} frame {FRAME} "
                    f"({f.shape[1]}x{f.shape[0]}), resized with cv2.INTER_CUBIC")
    from lsvd.data.synthetic import SyntheticConfig, render_clip

    cfg = SyntheticConfig(n_train=0, n_test=1, n_frames=12, height=256, width=320, onset_min=1, onset_max=3)
    smoky, _, _, _ = render_clip(cfg, "test", 0)
    return (np.ascontiguousarray(smoky[-1]), "synthetic (shared data absent): lsvd.data.synthetic test clip 0, "
            "last frame (256x320, smoky), resized with cv2.INTER_CUBIC")


def _ours() -> dict[str, Callable[[np.ndarray], float]]:
    from benchmarks.metrics.brisque import brisque
    from benchmarks.metrics.fade import fade
    from benchmarks.metrics.niqe import niqe
    from benchmarks.metrics.piqe import piqe

    return {"niqe": niqe, "brisque": brisque, "piqe": piqe, "fade": fade}


# The reference script run by another interpreter: argv[1] = JSON job; prints one JSON line.
_REF_SCRIPT = r"""
import json, statistics, sys, time, types
job = json.loads(sys.argv[1])
import numpy as np, torch
torch.set_num_threads(job["threads"])
if job["mode"] == "venv":  # an unmodified pyiqa 0.1.16 install: skip the package __init__ files
    import importlib.util
    root = importlib.util.find_spec("pyiqa").submodule_search_locations[0]
    for name in ["pyiqa", "pyiqa.archs", "pyiqa.utils"]:
        m = types.ModuleType(name); m.__path__ = [root + name[5:].replace(".", "/")]; sys.modules[name] = m
    dl = types.ModuleType("pyiqa.utils.download_util"); dl.load_file_from_url = lambda *a, **k: None
    au = types.ModuleType("pyiqa.archs.arch_util"); au.get_url_from_name = lambda n: n
    fs = types.ModuleType("pyiqa.archs.fsim_arch"); fs._construct_filters = None
    for m in (dl, au, fs):
        sys.modules[m.__name__] = m
else:  # pyiqa's piqe files copied out of the wheel
    sys.path.insert(0, job["src"])
fns = {}
if "niqe" in job["metrics"]:
    from pyiqa.archs.niqe_arch import calculate_niqe
    d = np.load(job["params"] + "/niqe_pris_params.npz")
    mu = torch.from_numpy(np.ravel(d["mu_pris_param"])); cov = torch.from_numpy(d["cov_pris_param"])
    fns["niqe"] = lambda x: calculate_niqe(x, 0, True, "yiq", mu, cov)
if "brisque" in job["metrics"]:
    from pyiqa.archs import brisque_arch
    b = np.load(job["params"] + "/brisque_live_allmodel.npz")
    sv = torch.from_numpy(b["support_vectors"]).float(); coef = torch.from_numpy(b["sv_coef"]).float()
    fns["brisque"] = lambda x: brisque_arch.brisque(x, sv_coef=coef, sv=sv)
if "piqe" in job["metrics"]:
    from pyiqa.archs.piqe_arch import piqe
    fns["piqe"] = lambda x: piqe(x)[0]
import pyiqa.archs.func_util as _fu
out = {"pyiqa_files": _fu.__file__, "torch": torch.__version__, "threads": torch.get_num_threads(), "metrics": {}}
for name, fn in fns.items():
    res = out["metrics"][name] = {}
    for label, path in job["images"].items():
        img = np.load(path)
        def call():
            x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0
            with torch.no_grad():
                return float(fn(x))
        try:
            value = call()  # warm-up
            times = []
            for _ in range(job["repeats"]):
                t0 = time.perf_counter(); call(); times.append(time.perf_counter() - t0)
            res[label] = {"value": value, "best_ms": min(times) * 1e3, "median_ms": statistics.median(times) * 1e3}
        except Exception as exc:
            res[label] = {"error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(out))
"""


def run_pyiqa(python: Path, mode: str, metrics: tuple[str, ...], images: dict[str, str], repeats: int,
              src: Path = DEFAULT_PYIQA_SRC, timeout_s: float = 3600) -> dict[str, Any] | str:
    """The pyiqa reference's JSON output, or a string saying why it is unavailable."""
    job = {"mode": mode, "metrics": list(metrics), "images": images, "repeats": repeats, "src": str(src),
           "params": str(PARAMS), "threads": torch.get_num_threads()}
    try:
        proc = subprocess.run([str(python), "-c", _REF_SCRIPT, json.dumps(job)], cwd=tempfile.gettempdir(),
                              capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"{python} exited {proc.returncode}: {tail[0][:300]}"
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"{python} printed no JSON: {proc.stdout[-300:]!r}"


def _pyfade_reference(images: dict[str, np.ndarray], repeats: int) -> dict[str, Any] | str:
    try:
        import pyfade
    except ImportError as exc:
        return f"pyfade not importable ({exc}); pip install fade-python==1.0.0"
    out: dict[str, Any] = {"version": getattr(pyfade, "__version__", "?"), "metrics": {"fade": {}}}
    for label, img in images.items():
        value = float(pyfade.fade_array(img, workers=1))
        best, med = _times_ms(lambda img=img: pyfade.fade_array(img, workers=1), repeats)
        out["metrics"]["fade"][label] = {"value": value, "best_ms": best, "median_ms": med}
    return out


def _set_threads(n: int) -> None:
    """Pin torch, OpenCV and Numba to ``n`` threads (the reference subprocess gets torch's count)."""
    torch.set_num_threads(n)
    cv2.setNumThreads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        h, w = (int(v) for v in part.lower().strip().split("x"))
        sizes.append((h, w))
    return sizes


def _round(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="480x640 only, fewer repeats")
    ap.add_argument("--sizes", default=None, help="comma-separated HxW (default 480x640,720x1280,1080x1920)")
    ap.add_argument("--repeats", type=int, default=None, help="timed calls of ours (default 10; 3 with --quick)")
    ap.add_argument("--ref-repeats", type=int, default=None,
                    help="timed calls of each reference (default 5; 2 with --quick)")
    ap.add_argument("--pyiqa-python", type=Path,
                    default=DEFAULT_PYIQA_PYTHON if DEFAULT_PYIQA_PYTHON.exists() else None,
                    help="python of a venv with pyiqa==0.1.16 installed --no-deps (default %(default)s)")
    ap.add_argument("--pyiqa-src", type=Path, default=DEFAULT_PYIQA_SRC,
                    help="pyiqa's piqe files copied out of the wheel (PIQE fallback without --pyiqa-python)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads of ours and of the references (torch, OpenCV, Numba; default %(default)s)")
    ap.add_argument("--no-reference", action="store_true", help="time ours only (skip every reference)")
    ap.add_argument("--no-record", action="store_true", help="print only, do not write results/metrics.json")
    args = ap.parse_args(argv)
    _set_threads(args.threads)
    sizes = _parse_sizes(args.sizes) if args.sizes else ([DEFAULT_SIZES[0]] if args.quick else list(DEFAULT_SIZES))
    repeats = args.repeats or (3 if args.quick else 10)
    ref_repeats = args.ref_repeats or (2 if args.quick else 5)

    frame, source = load_frame()
    images = {f"{h}x{w}": cv2.resize(frame, (w, h), interpolation=cv2.INTER_CUBIC) for h, w in sizes}
    ours_fns = _ours()
    figures: dict[str, Any] = {
        "inputs": source,
        "sizes_hxw": list(images),
        "timing": "*_best_ms: best of N calls after a warm-up; *_median_ms: their median (shared, noisy machine)",
        "repeats_ours": repeats,
        "repeats_reference": None if args.no_reference else ref_repeats,
        "threads_torch": torch.get_num_threads(),
        "threads_opencv": cv2.getNumThreads(),
        "threads_numba": numba.get_num_threads(),
    }

    refs: dict[str, dict[str, Any] | str] = {}
    ref_info: dict[str, Any] = {}
    if args.no_reference:
        refs = {m: "skipped (--no-reference)" for m in METRICS}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for label, img in images.items():
                paths[label] = str(Path(tmp) / f"{label}.npy")
                np.save(paths[label], img)
            if args.pyiqa_python is not None and Path(args.pyiqa_python).exists():
                res = run_pyiqa(args.pyiqa_python, "venv", PYIQA_METRICS, paths, ref_repeats)
                if isinstance(res, dict):
                    ref_info["pyiqa"] = {"python": str(args.pyiqa_python), "files": res["pyiqa_files"],
                                         "torch": res["torch"], "threads": res["threads"]}
                for m in PYIQA_METRICS:
                    refs[m] = res["metrics"][m] if isinstance(res, dict) else res
            else:
                why = (f"no pyiqa 0.1.16 venv python ({args.pyiqa_python or DEFAULT_PYIQA_PYTHON} missing; "
                       "see the module docstring to build it)")
                refs["niqe"] = refs["brisque"] = why
                if (args.pyiqa_src / "pyiqa" / "archs" / "piqe_arch.py").is_file():
                    res = run_pyiqa(Path(sys.executable), "src", ("piqe",), paths, ref_repeats, src=args.pyiqa_src)
                    if isinstance(res, dict):
                        ref_info["pyiqa_piqe"] = {"python": sys.executable, "files": res["pyiqa_files"],
                                                  "torch": res["torch"], "threads": res["threads"]}
                    refs["piqe"] = res["metrics"]["piqe"] if isinstance(res, dict) else res
                else:
                    refs["piqe"] = why + f" and no copied piqe files under {args.pyiqa_src}"
        fres = _pyfade_reference(images, ref_repeats)
        if isinstance(fres, dict):
            ref_info["pyfade"] = {"version": fres["version"], "call": "pyfade.fade_array(rgb_uint8, workers=1)"}
        refs["fade"] = fres["metrics"]["fade"] if isinstance(fres, dict) else fres
    figures["reference_setup"] = ref_info

    results: dict[str, Any] = {}
    for m in METRICS:
        results[m] = {}
        for label, img in images.items():
            fn = ours_fns[m]
            value = float(fn(img))
            best, med = _times_ms(lambda fn=fn, img=img: fn(img), repeats)
            row: dict[str, Any] = {"ours_best_ms": round(best, 2), "ours_median_ms": round(med, 2),
                                   "ours_value": _round(value)}
            ref = refs.get(m)
            r = ref.get(label) if isinstance(ref, dict) else None
            if isinstance(ref, str):
                row["reference"] = ref if ref.startswith("skipped") else f"unavailable: {ref}"
            elif r is None or "error" in r:
                row["reference"] = f"unavailable: {r['error'] if r else 'no result for this size'}"
            else:
                rel = abs(value - r["value"]) / max(abs(r["value"]), 1e-12)
                row.update(
                    reference_best_ms=round(r["best_ms"], 2),
                    reference_median_ms=round(r["median_ms"], 2),
                    ratio_reference_over_ours=round(r["best_ms"] / best, 2),
                    ratio_reference_over_ours_medians=round(r["median_ms"] / med, 2),
                    reference_value=_round(r["value"]),
                    rel_diff=float(f"{rel:.2e}"),
                    within_1pct=bool(rel < REL),
                )
            if m == "piqe":  # PIQE is 100 by definition when no block is active (a smooth, stretched frame)
                from benchmarks.metrics.piqe import piqe_blocks

                active = float(np.mean(piqe_blocks(img)["active"]))
                row["active_block_fraction"] = round(active, 4)
                if active == 0:
                    row["caveat"] = "no active 16x16 block: PIQE = 100 by definition, so the agreement is trivial"
            results[m][label] = row
            print(m, label, row, flush=True)
    figures["metrics"] = results
    _print_table(results)
    notes = ("references: pyiqa 0.1.16's own code (subprocess, separate venv) for NIQE/BRISQUE/PIQE, pyfade for FADE; "
             "same images and torch threads; ratio >= 1 means ours is faster; see the module docstring for method")
    if not args.no_record:
        print(record("metrics", figures, notes=notes))
    return figures


def _print_table(results: dict[str, Any]) -> None:
    head = (f"{'metric':8} {'size':10} {'ours ms':>17} {'ref ms':>19} {'ref/ours':>8} "
            f"{'ours':>10} {'ref':>10} {'rel diff':>9}")
    print(head)
    print("-" * len(head))
    for m, by_size in results.items():
        for label, r in by_size.items():
            ours = f"{r['ours_best_ms']:.1f} ({r['ours_median_ms']:.1f})"
            if "reference_best_ms" in r:
                ref = f"{r['reference_best_ms']:.1f} ({r['reference_median_ms']:.1f})"
                print(f"{m:8} {label:10} {ours:>17} {ref:>19} {r['ratio_reference_over_ours']:>8.2f} "
                      f"{r['ours_value']:>10.4f} {r['reference_value']:>10.4f} {r['rel_diff']:>9.1e}")
            else:
                val = r["ours_value"]
                print(f"{m:8} {label:10} {ours:>17} {'-':>19} {'-':>8} "
                      f"{val if not math.isfinite(val) else round(val, 4):>10} {'-':>10} {'-':>9}  "
                      f"{r['reference'][:60]}")
    print("ms: best (median)")


if __name__ == "__main__":
    main()
