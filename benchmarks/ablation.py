"""``python -m benchmarks.ablation``: SelfSVD and its ablations, several seeds, one budget, mean ± std.

Examples::

    python -m benchmarks.ablation                                  # default data, cpu preset, seeds 0,1,2
    python -m benchmarks.ablation --preset cpu-long --seeds 0,1,2  # a longer budget
    python -m benchmarks.ablation --root ROOT --methods selfsvd,selfsvd_no_gan --seeds 0,1

For every seed it runs :func:`benchmarks.run.run_benchmark` on the methods (trained automatically
with ``--preset`` and that seed, cached under ``$LSVD_HOME/runs``) plus the ``identity`` floor, into
``RESULTS/seed<N>/`` (each a complete benchmark results folder), then writes to ``RESULTS``:

* ``ablation.parquet`` -- one row per (method, seed, metric): ``value``, ``higher_is_better``, ``preset``;
* ``ABLATION.md`` -- per method and metric ``mean ± std`` over the seeds (sample std, ``n`` seeds),
  methods ranked by the mean of the first metric, the floor shown but not ranked, and how many
  seeds beat the floor on each metric.

The metrics default to the truths against clean frames (``psnr``, ``ssim``, ``ciede2000``) and the
periodic-artefact share (``periodic_energy``), so the data must have clean frames (the synthetic
mini-LSVD has them).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from lsvd.cli import add_option, add_root, command_parser, parse, run

__all__ = ["ABLATION_METHODS", "TRUTH_METRICS", "build_parser", "main", "render", "run_ablation", "summarise"]

log = logging.getLogger("benchmarks.ablation")

#: The full method and the paper's ablations (baselines.learned.selfsvd).
ABLATION_METHODS = ("selfsvd", "selfsvd_no_ps", "selfsvd_no_mask", "selfsvd_no_reg", "selfsvd_no_gan")
TRUTH_METRICS = ("psnr", "ssim", "ciede2000", "periodic_energy")
TABLE = "ablation.parquet"
REPORT = "ABLATION.md"


def run_ablation(*, data: str | None = None, methods: tuple[str, ...] = ABLATION_METHODS,
                 seeds: tuple[int, ...] = (0, 1, 2), preset: str = "cpu",
                 metrics: tuple[str, ...] = TRUTH_METRICS, results: str = "results/ablation", split: str = "test",
                 progress: bool = True) -> pd.DataFrame:
    """Train and score every method with every seed; returns the tidy table (also written, see the module doc)."""
    from benchmarks.run import BenchmarkError, run_benchmark
    from lsvd.io.atomic import atomic_path, write_text

    if not seeds:
        raise BenchmarkError("--seeds: expected at least one seed, e.g. --seeds 0,1,2")
    from benchmarks.methods import list_methods
    from benchmarks.metrics.base import list_metrics

    unknown = [m for m in methods if m not in list_methods()] + [m for m in metrics if m not in list_metrics()]
    if unknown or not metrics:
        raise BenchmarkError(f"expected known methods (--list-methods of benchmarks.run) and at least one metric, "
                             f"found unknown {unknown or 'none'} and metrics {list(metrics)}")
    out = Path(results).expanduser()
    rows: list[pd.DataFrame] = []
    for seed in seeds:
        log.info("seed %d: %s with the %s preset", seed, ", ".join(methods), preset)
        summary = run_benchmark(list(dict.fromkeys(["identity", *methods])), data=data, split=split,
                                metrics=list(metrics), results=str(out / f"seed{seed}"), seed=seed, media=False,
                                progress=progress, train_preset=preset)
        board = summary["board"]  # this run's rows only (the merged leaderboard may hold older runs)
        part = board[board["metric"].isin(metrics) & board["method"].isin(["identity", *methods])]
        bad = part[part["status"] != "ok"]
        if not bad.empty:
            found = "; ".join(f"{r.method}/{r.metric}: {r.status} ({r.reason})" for r in bad.itertuples())
            raise BenchmarkError(f"seed {seed}: expected a value for every method and metric, found {found}. "
                                 "Fix the cause (the benchmark log says more) and re-run: finished runs are reused")
        part = part[["method", "metric", "value", "higher_is_better"]].copy()
        part.insert(1, "seed", seed)
        rows.append(part)
    table = pd.concat(rows, ignore_index=True)
    table["preset"] = preset
    table["value"] = table["value"].astype(float)
    with atomic_path(out / TABLE) as tmp:
        table.to_parquet(tmp, index=False)
    write_text(out / REPORT, render(table, metrics, preset))
    return table


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per (method, metric): ``mean``, ``std`` (sample; 0 for one seed), ``n`` and ``beats_floor`` (seeds)."""
    floor = table[table["method"] == "identity"].set_index(["seed", "metric"])["value"]
    t = table.copy()
    ref = t.set_index(["seed", "metric"]).index.map(floor.get)
    better = t["higher_is_better"].astype(bool)
    t["beats_floor"] = ((t["value"] > ref) & better) | ((t["value"] < ref) & ~better)
    g = t.groupby(["method", "metric"], sort=False)
    return pd.DataFrame({"mean": g["value"].mean(), "std": g["value"].std(ddof=1).fillna(0.0),
                         "n": g["value"].size(), "beats_floor": g["beats_floor"].sum()}).reset_index()


def render(table: pd.DataFrame, metrics: tuple[str, ...], preset: str) -> str:
    """The Markdown table: methods (ranked by the first metric's mean) x metrics, ``mean ± std``."""
    stats = summarise(table)
    direction = table.drop_duplicates("metric").set_index("metric")["higher_is_better"].astype(bool)
    metrics = tuple(m for m in metrics if m in set(stats["metric"]))
    key = metrics[0]
    order = stats[stats["metric"] == key].set_index("method")["mean"]
    learned = order.drop("identity", errors="ignore").sort_values(ascending=not direction[key])
    names = list(dict.fromkeys([*learned.index] + (["identity"] if "identity" in order.index else [])))
    cell = stats.set_index(["method", "metric"])
    n = int(table["seed"].nunique())
    head = "| method | " + " | ".join(f"{m} {'↑' if direction[m] else '↓'}" for m in metrics) + " |"
    lines = [f"Preset `{preset}`, {n} seed(s) ({', '.join(map(str, sorted(table['seed'].unique())))}); "
             f"mean ± std over seeds; (k/{n}) = seeds that beat the identity floor.", "", head,
             "|" + " --- |" * (len(metrics) + 1)]
    for name in names:
        cells = []
        for m in metrics:
            row: Any = cell.loc[(name, m)]
            text = f"{row['mean']:.4g} ± {row['std']:.2g}"
            if name != "identity":
                text += f" ({int(row['beats_floor'])}/{n})"
            cells.append(text)
        label = f"`{name}`" + (" (floor)" if name == "identity" else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m benchmarks.ablation", __doc__)
    add_root(p, help="a dataset root with clean frames (default: the synthetic mini-LSVD)")
    p.add_argument("--methods", default=",".join(ABLATION_METHODS), help="comma-separated methods")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (default 0,1,2)")
    p.add_argument("--preset", default="cpu", help="training preset = the budget (cpu, cpu-long, paper, a .toml)")
    p.add_argument("--metrics", default=",".join(TRUTH_METRICS), help="comma-separated metrics")
    p.add_argument("--split", default="test")
    add_option(p, "-o", "--output", old=("--results",), default="results/ablation",
               help="output folder (default results/ablation)")
    return p


def _ablation(args: argparse.Namespace) -> int:
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--seeds {args.seeds!r}: expected comma-separated integers, e.g. 0,1,2") from None
    split = lambda text: tuple(x.strip() for x in text.split(",") if x.strip())  # noqa: E731
    table = run_ablation(data=args.root, methods=split(args.methods), seeds=seeds, preset=args.preset,
                         metrics=split(args.metrics), results=args.output, split=args.split, progress=args.progress)
    print(render(table, split(args.metrics), args.preset), end="")
    print(f"\nwritten        {Path(args.output) / REPORT}, {Path(args.output) / TABLE}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_ablation, parse(build_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())
