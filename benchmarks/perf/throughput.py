"""End-to-end throughput of the benchmark: frames/s per method and where each (method, frame) spends its time.

Run: ``python -m benchmarks.perf.throughput [--sizes 1080x1920,720x1280] [--clips 2] [--frames 10] [--threads N]
[--baseline REV] [--no-record]``; records ``benchmarks/perf/results/throughput.json``.

Workload, per size: a synthetic mini-LSVD rendered at that size (:func:`lsvd.prepare.prepare_synthetic` with a
custom :class:`~lsvd.data.synthetic.SyntheticConfig`: ``--clips`` test clips of ``--frames`` frames), with its
SelfSVD masks; the methods ``identity``, ``dcp`` and ``selfsvd`` -- the ``small`` SelfSVD network (the CPU
preset's) with random weights (torch seed 0) saved as a checkpoint, since speed does not depend on the
weights; the default protocol's whole metric set; preview media on; an empty results folder (nothing cached).

Each method is benchmarked alone (``run_benchmark(BenchmarkConfig(methods=[m], identity=False, ...))``) in a fresh
Python process per code version, on ``--threads`` threads, after a warm-up run of every method on a tiny root
(imports, Numba caches, lazily loaded parameter files), and timed:

- ``wall_s`` and ``cpu_s`` (the process and the worker processes it started), ``cpu_use`` = CPU / (wall x threads);
- ``fps`` = frames desmoked and scored / wall;
- ``stages`` (:mod:`benchmarks.stages`): per stage, milliseconds per frame, wall (summed over the worker
  processes) and CPU; work shared by the methods of a clip (decoding, the input flows of the warp error) is
  the method's own here, since it runs alone.

With ``--baseline REV`` the same workload is also run by the code at git revision ``REV`` (a temporary
``git worktree``, this interpreter), in the same run, first: the "before" figures. Stage times exist only
for code that records them (this commit on).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.perf._record import record

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("identity", "dcp", "selfsvd")
DEFAULT_SIZES = ((1080, 1920), (720, 1280))

# Run by a fresh interpreter with the code under test first on sys.path: argv[1] = JSON job; prints JSON lines.
_DRIVER = r"""
import dataclasses, json, resource, sys, time
job = json.loads(sys.argv[1])
sys.path.insert(0, job["code"])
from lsvd.threads import configure_threads
configure_threads(job["threads"])
from benchmarks.run import BenchmarkConfig, run_benchmark

def cpu():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

def bench(root, method, results):
    options = {"methods": [method], "identity": False, "data": root, "results": results, "device": "cpu"}
    if method == "selfsvd":
        options["checkpoints"] = {"selfsvd": job["checkpoint"]}
    w0, c0 = time.perf_counter(), cpu()
    out = run_benchmark(BenchmarkConfig(**options), progress=False)
    wall, cpu_s = time.perf_counter() - w0, cpu() - c0
    if out["failures"]:
        raise SystemExit(f"{method} failed: {out['failures']}")
    frames = sum(t["frames"] for t in out["timings"])
    times = out.get("stage_times")
    return {"wall_s": wall, "cpu_s": cpu_s, "frames": frames, "stages": times.rows() if times is not None else None}

for method in job["methods"]:  # warm-up
    bench(job["warmup_root"], method, job["scratch"] + "/warmup-" + method)
for label, root in job["roots"].items():
    for method in job["methods"]:
        fig = bench(root, method, job["scratch"] + f"/{label}-{method}")
        print(json.dumps({"size": label, "method": method, **fig}), flush=True)
"""


def make_roots(folder: Path, sizes: list[tuple[int, int]], clips: int, frames: int) -> dict[str, str]:
    """A synthetic root with masks per size (``"HxW"`` -> path), plus ``"warmup"``: the tiny preset's."""
    from lsvd.data.synthetic import PRESETS, SyntheticConfig
    from lsvd.masks.pipeline import generate_masks
    from lsvd.prepare import prepare_synthetic

    configs = {f"{h}x{w}": SyntheticConfig(n_train=0, n_test=clips, n_frames=frames, height=h, width=w)
               for h, w in sizes}
    configs["warmup"] = PRESETS["tiny"]
    roots = {}
    for label, config in configs.items():
        root = folder / f"root-{label}"
        prepare_synthetic(root, config=config, progress=False)
        generate_masks(root, progress=False)
        roots[label] = str(root)
    return roots


def random_checkpoint(path: Path) -> str:
    """The ``small`` SelfSVD network with random weights (torch seed 0) as a generator file with its metadata."""
    import torch
    from safetensors.torch import save_file

    from lsvd.models.selfsvd import build_selfsvd

    torch.manual_seed(0)
    net = build_selfsvd("small")
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={"model": "small", "arch": "selfsvd", "flow": "dis"})
    return str(path)


def run_code(code: Path, roots: dict[str, str], checkpoint: str, threads: int, scratch: Path) -> list[dict[str, Any]]:
    """The driver's figures for the code in ``code`` (one dict per (size, method))."""
    job = {"code": str(code), "threads": threads, "methods": list(METHODS), "checkpoint": checkpoint,
           "warmup_root": roots["warmup"], "roots": {k: v for k, v in roots.items() if k != "warmup"},
           "scratch": str(scratch)}
    scratch.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LSVD_HOME": str(scratch / "home"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("LSVD_WORKERS", None)
    proc = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(job)], cwd=code, env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the benchmark of {code} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def summarise(fig: dict[str, Any], threads: int) -> dict[str, Any]:
    """One (size, method)'s figures: fps, CPU use, and per stage milliseconds per frame."""
    n = max(fig["frames"], 1)
    out = {"frames": fig["frames"], "wall_s": round(fig["wall_s"], 2), "cpu_s": round(fig["cpu_s"], 2),
           "fps": round(fig["frames"] / fig["wall_s"], 3),
           "cpu_use": round(fig["cpu_s"] / (fig["wall_s"] * threads), 3)}
    if fig["stages"] is not None:
        stages: dict[str, dict[str, float]] = {}
        for row in fig["stages"]:
            s = stages.setdefault(row["stage"], {"wall_ms_per_frame": 0.0, "cpu_ms_per_frame": 0.0})
            s["wall_ms_per_frame"] += row["wall_s"] * 1e3 / n
            s["cpu_ms_per_frame"] += row["cpu_s"] * 1e3 / n
        out["stages"] = {k: {m: round(v, 1) for m, v in s.items()} for k, s in sorted(stages.items())}
        out["stages_total_wall_ms_per_frame"] = round(sum(s["wall_ms_per_frame"] for s in stages.values()), 1)
    return out


def _baseline_tree(rev: str, folder: Path) -> Path:
    tree = folder / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                   capture_output=True, text=True)
    return tree


def _print(results: dict[str, Any]) -> None:
    for size, by_method in results.items():
        for method, codes in by_method.items():
            line = "  ".join(f"{code}: {f['fps']:.3f} frames/s (CPU use {f['cpu_use']:.2f})"
                             for code, f in codes.items() if isinstance(f, dict))
            print(f"{size:10} {method:9} {line}")
            stages = codes.get("ours", {}).get("stages") or {}
            print("    ms/frame: " + ", ".join(f"{k} {v['wall_ms_per_frame']:.0f}" for k, v in stages.items()))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(f"{h}x{w}" for h, w in DEFAULT_SIZES), help="comma-separated HxW")
    ap.add_argument("--clips", type=int, default=2, help="test clips per size (default %(default)s)")
    ap.add_argument("--frames", type=int, default=10, help="frames per clip, >= 10 (default %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: lsvd.threads' choice)")
    ap.add_argument("--baseline", metavar="REV", help="also measure the code at this git revision (the 'before')")
    ap.add_argument("--no-record", action="store_true", help="print only, do not write results/throughput.json")
    args = ap.parse_args(argv)
    from lsvd.threads import choose_threads

    threads = choose_threads(args.threads)
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lsvd-throughput-") as tmp:
        folder = Path(tmp)
        roots = make_roots(folder, sizes, args.clips, args.frames)
        checkpoint = random_checkpoint(folder / "selfsvd-small-random.safetensors")
        codes = {"ours": ROOT}
        try:
            if args.baseline:
                codes = {"baseline": _baseline_tree(args.baseline, folder), **codes}
            for code, tree in codes.items():
                for fig in run_code(tree, roots, checkpoint, threads, folder / f"scratch-{code}"):
                    results.setdefault(fig["size"], {}).setdefault(fig["method"], {})[code] = summarise(fig, threads)
        finally:
            if "baseline" in codes:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(codes["baseline"])],
                               capture_output=True)
    for by_method in results.values():
        for codes_fig in by_method.values():
            if "baseline" in codes_fig and "ours" in codes_fig:
                codes_fig["speedup_fps"] = round(codes_fig["ours"]["fps"] / codes_fig["baseline"]["fps"], 2)
    figures = {"workload": {"sizes_hxw": list(results), "clips": args.clips, "frames_per_clip": args.frames,
                            "methods": list(METHODS), "metrics": "the default protocol's metric set",
                            "selfsvd": "small network, random weights (torch seed 0)", "media": True},
               "threads": threads, "baseline": args.baseline, "results": results}
    _print(results)
    if not args.no_record:
        print(record("throughput", figures, notes="fps = frames / wall of run_benchmark of one method alone, warm, "
                     "nothing cached; stages summed over worker processes; see the module docstring"))
    return figures


if __name__ == "__main__":
    main()
