"""Per-clip and leaderboard tables from per-frame values, and the Markdown rendering.

Aggregation per metric (:attr:`Metric.aggregate`): ``clip_mean`` = mean over a clip's frames, then
the unweighted mean over clips (the official PSNR/SSIM); ``frame_mean`` = the mean over all frames
of all clips (the official NIQE/PI). ``inf`` values (PSNR of identical images) propagate.

``leaderboard.parquet`` has one scalar per row: ``method, split, protocol, protocol_version, metric, value, n_clips,
n_frames, higher_is_better, requires_reference, status (ok | missing | failed), reason`` and the
provenance columns (toolkit version, git commit, data manifest id, checkpoint hash, flow backend,
metric parameter hashes, seed, device, library versions). Rows of other (method, split, protocol)
triples are kept when a run updates the file (rows of different protocol cards never replace each
other; rows without the protocol columns are read as :data:`benchmarks.results.LEGACY_PROTOCOL`).
Nothing time-dependent is stored in it, so the same inputs
give byte-identical files; timings go to ``timing.parquet``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.results import LEADERBOARD_FILE, LEADERBOARD_MD, PROTOCOL_COLUMNS, with_protocol

__all__ = ["DEFAULT_METRICS", "EFFICIENCY_METRICS", "KEY", "LEADERBOARD_FILE", "LEADERBOARD_MD", "aggregate",
           "as_python", "clip_table", "metric_params_json", "render_markdown", "update_table"]

#: The official LSVD protocol first (aligned PSNR/SSIM against the PS frame, NIQE, PI), then the rest;
#: ``periodic_energy`` right after the no-reference scores, which reward checkerboards (it catches them).
DEFAULT_METRICS = ("aligned_psnr", "aligned_ssim", "niqe", "pi", "brisque", "piqe", "fade", "periodic_energy",
                   "psnr", "ssim", "ciede2000", "warp_error")
#: Model size rows: trainable parameters and GMACs per frame (at the clips' resolution).
EFFICIENCY_METRICS = ("params", "gmacs")
KEY = ["method", "split", "protocol", "metric"]


def clip_table(frames: pd.DataFrame) -> pd.DataFrame:
    """Mean per ``(method, split, [protocol, protocol_version,] clip_id, metric)`` with the frame count (the
    protocol columns when ``frames`` has them)."""
    by = ["method", "split", *[c for c in PROTOCOL_COLUMNS if c in frames.columns], "clip_id", "metric"]
    if frames.empty:
        return pd.DataFrame(columns=[*by, "value", "n_frames"])
    g = frames.groupby(by, sort=True)["value"]
    return g.agg(value="mean", n_frames="size").reset_index()


def aggregate(frames: pd.DataFrame, metric_info: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per ``(method, split, metric)`` of one protocol's frames: value, n_clips, n_frames (see the module
    docstring)."""
    clips = clip_table(frames)
    rows = []
    for (method, split, metric), part in clips.groupby(["method", "split", "metric"], sort=True):
        info = metric_info[metric]
        raw = frames[(frames["method"] == method) & (frames["split"] == split) & (frames["metric"] == metric)]
        value = float(raw["value"].mean()) if info["aggregate"] == "frame_mean" else float(part["value"].mean())
        rows.append({"method": method, "split": split, "metric": metric, "value": value,
                     "n_clips": int(len(part)), "n_frames": int(part["n_frames"].sum())})
    return pd.DataFrame(rows, columns=["method", "split", "metric", "value", "n_clips", "n_frames"])


def update_table(path: Path, new: pd.DataFrame, sort: list[str]) -> pd.DataFrame:
    """Replace the rows of ``new``'s ``(method, split)`` pairs in the Parquet file ``path`` (kept: all other
    rows), sort by ``sort`` and write it atomically. Returns the table written.

    Tables with a ``protocol`` column (leaderboard, frames, clips) replace ``(method, split, protocol)``
    triples instead; the file's rows written without the protocol columns are read as
    :data:`benchmarks.results.LEGACY_PROTOCOL`."""
    from lsvd.io.atomic import atomic_path

    by = ["method", "split", *(["protocol"] if "protocol" in new.columns else [])]
    if path.is_file():
        old = pd.read_parquet(path)
        if "protocol" in new.columns:
            old = with_protocol(old)
        pairs = set(zip(*(new[c] for c in by), strict=True))
        keep = old[[k not in pairs for k in zip(*(old[c] for c in by), strict=True)]]
        table = pd.concat([keep, new], ignore_index=True) if len(keep) else new
    else:
        table = new
    sort = [c for c in sort if c in table.columns]
    table = table.sort_values(sort, kind="stable").reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)
    return table


def _fmt(value: Any, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if metric == "params":
        return f"{value / 1e6:.3f} M"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.4f}" if abs(value) < 1 else f"{value:.3f}"


def render_markdown(table: pd.DataFrame) -> str:
    """``LEADERBOARD.md``: one table per (split, protocol), methods as rows, metrics as columns (with direction).

    The default protocol's tables are headed ``split `NAME``` as before protocols were recorded; the others
    name their protocol card and version."""
    from benchmarks.protocols import DEFAULT_PROTOCOL, load_protocol

    table = with_protocol(table)
    lines = ["# Leaderboard", "",
             "Generated by `python -m benchmarks.run` from `leaderboard.parquet` (every number's provenance is in "
             "that file). Arrows: higher or lower is better. `missing`: the metric could not be computed here "
             "(reason in the parquet); `failed`: the method failed (reason below).", ""]
    groups = table.groupby(["split", "protocol", "protocol_version"], sort=True)
    for (split, protocol, protocol_version), part in groups:
        try:  # the card's metrics in its order, then the others
            card_metrics = tuple(load_protocol(protocol).metric_names)
        except KeyError:  # rows of a card this toolkit does not ship
            card_metrics = ()
        order = {m: i for i, m in enumerate(dict.fromkeys((*card_metrics, *DEFAULT_METRICS, *EFFICIENCY_METRICS)))}
        metrics = sorted(set(part["metric"]), key=lambda m: (order.get(m, len(order)), m))
        header = ["method"] + [f"{m} {'↑' if _direction(part, m) else '↓'}" for m in metrics]
        head = f"## split `{split}`" if protocol == DEFAULT_PROTOCOL else \
            f"## split `{split}`, protocol `{protocol}` (version {protocol_version})"
        lines += [head, "", "| " + " | ".join(header) + " |",
                  "|" + "|".join([" --- "] * len(header)) + "|"]
        failures = []
        for method, rows in part.groupby("method", sort=True):
            cells = [f"`{method}`"]
            for m in metrics:
                row = rows[rows["metric"] == m]
                if row.empty:
                    cells.append("")
                    continue
                r = row.iloc[0]
                if r["status"] == "ok":
                    cells.append(_fmt(r["value"], m))
                else:
                    cells.append(str(r["status"]))
                    if r["status"] == "failed":
                        failures.append(f"- `{method}`: {r['reason']}")
            lines.append("| " + " | ".join(cells) + " |")
        clips = part[part["status"] == "ok"]["n_clips"]
        lines += ["", f"{int(clips.max()) if len(clips) else 0} clip(s). Data manifest "
                      f"`{part['data_manifest_id'].iloc[0]}`, flow `{part['flow'].iloc[0]}`, "
                      f"toolkit {part['toolkit_version'].iloc[0]}, commit `{part['git_commit'].iloc[0]}`.", ""]
        if failures:
            lines += ["Failures:", "", *sorted(set(failures)), ""]
        notes = {f"- `{m}`: {n}" for m, n in zip(part["method"], part.get("note", [""] * len(part)), strict=True)
                 if isinstance(n, str) and n}  # e.g. SelfSVD run without masks (benchmarks.run --no-masks)
        if notes:
            lines += ["Notes:", "", *sorted(notes), ""]
    return "\n".join(lines)


def _direction(part: pd.DataFrame, metric: str) -> bool:
    values = part[part["metric"] == metric]["higher_is_better"]
    return bool(values.iloc[0]) if len(values) else True


def metric_params_json(info: dict[str, Any]) -> str:
    """The metric's parameter files (name, version, sha256) as compact JSON, for the provenance column."""
    return json.dumps(info.get("params", []), sort_keys=True, separators=(",", ":"))


def as_python(value: Any) -> Any:
    """numpy scalars -> Python (stable parquet types)."""
    return value.item() if isinstance(value, np.generic) else value
