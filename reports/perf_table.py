"""The README's performance table, rendered from the records of ``benchmarks/perf/*.py``.

    from pathlib import Path
    from reports.perf_table import render_perf_table

    print(render_perf_table(Path("benchmarks/perf/results"), main_command={"seconds": 472.0, "seed": 0,
                                                                          "identical": True}))

:func:`render_perf_table` returns a GitHub-Markdown table (``what | figure | target | script``, one row per
measured item) followed by one provenance line per JSON file used (date, commit, CPU, cores, torch, OpenCV).
Every figure comes from ``<results_dir>/<name>.json`` (as written by :func:`benchmarks.perf._record.record`
and ``benchmarks/perf/gpu.py``), or from ``main_command`` for the README's main command; the only numbers
in this module are the targets below. A missing or unreadable file gives its rows as "not measured", a
missing key leaves out that part of a figure; nothing raises.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["render_perf_table"]

#: Indexing an LSVD tree (headers only, no hashing), frames/s.
INDEX_TARGET_FPS = 5000
#: Video ingest over a bare decode of the same files (at most).
INGEST_TARGET_RATIO = 1.5
#: Synthetic generation of the default preset, seconds (under).
SYNTHETIC_TARGET_S = 60
#: SelfSVD mask per frame, speed-up over the official algorithm (at least).
MASK_TARGET_SPEEDUP = 50
#: Fraction of true smoke onsets found within the recorded tolerance (at least).
ONSET_TARGET = 0.95
#: Today's training iteration over the code path before it (at least; issue 12).
TRAIN_SPEEDUP_TARGET = 2
#: No-reference metrics: relative difference to the reference (under) and reference time over ours (at least), at
#: the sizes named (other sizes are shown without a verdict).
METRICS_TARGET_REL_DIFF = 0.01
METRICS_TARGET_RATIO = 5
METRICS_TARGET_SIZES = ("720x1280", "1080x1920")
#: The end-to-end benchmark figure the README quotes: frames/s per method at this size, before and after.
THROUGHPUT_SIZE = "1080x1920"
#: The README's main command on a fresh machine state, minutes (at most).
MAIN_COMMAND_TARGET_MIN = 10
#: SelfSVD inference on one GPU, frames/s at GPU_TARGET_SIZE (at least).
GPU_TARGET_FPS = 30
GPU_TARGET_SIZE = "1080x1920"

#: Where the records live, as the rows name it.
RESULTS_LABEL = "benchmarks/perf/results"
#: The files read, in the order of their rows and provenance lines.
FILES = ("prepare", "synthetic", "masks", "smoke_detection", "models", "metrics", "throughput", "gpu")

_Row = tuple[str, str, str, str]
_SECONDS_PER_MINUTE = 60
_MS_PER_S = 1000
_PERCENT = 100


# ------------------------------------------------------------------------------------------------ safe access
def _get(node: Any, *keys: str) -> Any:
    """``node[k1][k2]...``, or ``None`` where a key is missing or a level is not a dict."""
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _num(node: Any, *keys: str) -> float | None:
    """A finite number (not a bool) at ``keys``, else ``None``."""
    value = _get(node, *keys)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _text(node: Any, *keys: str) -> str | None:
    value = _get(node, *keys)
    return value if isinstance(value, str) and value else None


def _dict(node: Any, *keys: str) -> dict[str, Any]:
    value = _get(node, *keys)
    return value if isinstance(value, dict) else {}


def _flag(node: Any, *keys: str) -> bool | None:
    value = _get(node, *keys)
    return value if isinstance(value, bool) else None


# ------------------------------------------------------------------------------------------------ formatting
def _count(x: float) -> str:
    return f"{round(x):,}"


def _rate(x: float) -> str:
    """Frames/s, it/s: no decimals from 100, one from 10, else two."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def _ms(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 1 else f"{x:.2f}"


def _seconds(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if abs(x) >= 0.1 or x == 0 else f"{x:.2g}"


def _ratio(x: float) -> str:
    """A speed-up or ratio: one decimal, two below 2x (1.26x), none from 100x."""
    return f"{x:,.0f}x" if abs(x) >= 100 else f"{x:.1f}x" if abs(x) >= 2 else f"{x:.2f}x"


def _pct(fraction: float) -> str:
    """A fraction as a percentage without the sign: 1.0 -> '100', 0.935 -> '93.5', 0.000593 -> '0.06'."""
    v = fraction * _PERCENT
    text = f"{v:.1f}" if abs(v) >= 1 else f"{v:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _target(text: str, met: bool | None) -> str:
    if met is None:
        return text
    return f"{text}: met" if met else f"{text}: **not met**"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _area(size: str | None) -> int:
    """Pixels of a "WxH" / "HxW" string (0 when it is not one), to order sizes."""
    m = re.fullmatch(r"(\d+)x(\d+)", size or "")
    return int(m.group(1)) * int(m.group(2)) if m else 0


# ------------------------------------------------------------------------------------------------ sources
class _Source:
    """One JSON record: ``doc`` (``None`` when absent or unreadable, with ``why``) and its ``figures``."""

    def __init__(self, results_dir: Path, name: str) -> None:
        self.name = name
        self.doc: dict[str, Any] | None = None
        self.why = ""
        path = results_dir / f"{name}.json"
        if not path.is_file():
            self.why = f"not measured ({RESULTS_LABEL}/{name}.json absent)"
            return
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.why = f"not measured ({RESULTS_LABEL}/{name}.json unreadable: {type(exc).__name__})"
            return
        if not isinstance(doc, dict):
            self.why = f"not measured ({RESULTS_LABEL}/{name}.json is not a JSON object)"
            return
        self.doc = doc

    @property
    def figures(self) -> dict[str, Any]:
        return _dict(self.doc, "figures")

    def figure(self, parts: list[str], where: str) -> str:
        """``parts`` joined, or says that the record has none of them."""
        return "; ".join(parts) or f"not recorded ({self.name}.json has no usable figures.{where})"

    def provenance(self) -> str:
        doc = self.doc
        bits = []
        if (when := _text(doc, "recorded_utc")) is not None:
            bits.append(when[:10])
        if (commit := _text(doc, "git_commit")) is not None:
            head, dirty, _ = commit.partition("-dirty")
            bits.append(f"commit {head[:7]}{dirty}")
        if (cpu := _text(doc, "machine", "cpu")) is not None:
            bits.append(cpu)
        if (cores := _num(doc, "machine", "cores_usable")) is not None:
            bits.append(f"{_count(cores)} cores")
        if (device := _text(doc, "device", "name")) is not None:
            bits.append(f"device {device}")
        if (torch := _text(doc, "versions", "torch")) is not None:
            bits.append(f"torch {torch}")
        if (opencv := _text(doc, "versions", "opencv-python-headless")) is not None:
            bits.append(f"OpenCV {opencv}")
        return f"- {self.name}.json: " + (", ".join(bits) or "no provenance recorded")


def _script(name: str) -> str:
    return f"`python -m benchmarks.perf.{name}`"


# ------------------------------------------------------------------------------------------------ rows
def _indexing(src: _Source) -> list[_Row]:
    target, script = f">= {INDEX_TARGET_FPS:,} frames/s", _script("prepare")
    what = "index an LSVD tree, no hashing"
    if src.doc is None:
        return [(what, src.why, target, script)]
    fig = _dict(src.figures, "indexing")
    frames, size = _num(fig, "frames"), _text(fig, "frame_size")
    if frames is not None:
        what = f"index an LSVD tree of {_count(frames)} frames" + (f" ({size})" if size else "") + ", no hashing"
    parts = []
    fps = _num(fig, "index_frames_per_s")
    if fps is not None:
        seconds = _num(fig, "index_s")
        parts.append(f"{_rate(fps)} frames/s" + (f" ({_seconds(seconds)} s)" if seconds is not None else ""))
    if (rerun := _num(fig, "rerun_frames_per_s")) is not None:
        parts.append(f"re-run, unchanged: {_rate(rerun)} frames/s")
    if (ref := _num(fig, "reference_decode_every_frame_frames_per_s")) is not None:
        speedup = _num(fig, "speedup_vs_decoding")
        parts.append(f"decoding every frame instead: {_rate(ref)} frames/s"
                     + (f" ({_ratio(speedup)} slower)" if speedup is not None else ""))
    met = _flag(fig, "meets_target")
    if met is None and fps is not None:
        met = fps >= INDEX_TARGET_FPS
    return [(what, src.figure(parts, "indexing"), _target(target, met), script)]


def _ingest(src: _Source) -> list[_Row]:
    target, script = f"<= {INGEST_TARGET_RATIO:g}x a bare decode", _script("prepare")
    rows = []
    for key in ("video_ingest_1080p_h264", "video_ingest_720p_h264"):
        label = key.removeprefix("video_ingest_").replace("_h264", " H.264")
        what = f"video ingest, {label}"
        if src.doc is None:
            rows.append((what, src.why, target, script))
            continue
        fig = _dict(src.figures, key)
        if (videos := _text(fig, "videos")) is not None:
            what = f"video ingest, {videos}"
        ingest, bare = _num(fig, "ingest_s"), _num(fig, "bare_decode_s")
        ratio, rgb = _num(fig, "ingest_over_bare_decode"), _num(fig, "ingest_over_decode_to_rgb")
        ratios = [*([_ratio(ratio)] if ratio is not None else []),
                  *([f"{_ratio(rgb)} a decode to RGB"] if rgb is not None else [])]
        head = (f"{_seconds(ingest)} s vs {_seconds(bare)} s bare decode" if ingest is not None and bare is not None
                else f"{_seconds(ingest)} s" if ingest is not None else "")
        if ratios:
            head = f"{head} ({'; '.join(ratios)})" if head else "; ".join(ratios)
        parts = [head] if head else []
        if (timing := _text(fig, "timing")) is not None and parts:
            parts.append(timing)
        met = _flag(fig, "meets_target")
        if met is None and ratio is not None:
            met = ratio <= INGEST_TARGET_RATIO
        rows.append((what, src.figure(parts, key), _target(target, met), script))
    return rows


def _synthetic(src: _Source) -> list[_Row]:
    target, script = f"< {SYNTHETIC_TARGET_S:g} s", _script("synthetic")
    what = "synthetic generation"
    if src.doc is None:
        return [(what, src.why, target, script)]
    fig = src.figures
    if (preset := _text(fig, "preset")) is not None:
        what += f", {preset} preset"
    smoky, clips, per_clip = _num(fig, "smoky_frames"), _num(fig, "clips"), _num(fig, "frames_per_clip")
    width, height = _num(fig, "width"), _num(fig, "height")
    detail = []
    if smoky is not None:
        detail.append(f"{_count(smoky)} smoky frames + clean + density")
    if clips is not None and per_clip is not None:
        detail.append(f"{_count(clips)} clips of {_count(per_clip)}")
    if width is not None and height is not None:
        detail.append(f"{_count(width)}x{_count(height)}")
    if detail:
        what += f" ({', '.join(detail)})"
    parts = []
    seconds, fps = _num(fig, "generate_s"), _num(fig, "generate_fps")
    if seconds is not None or fps is not None:
        parts.append(", ".join([*([f"{_seconds(seconds)} s"] if seconds is not None else []),
                                *([f"{_rate(fps)} frames/s written"] if fps is not None else [])]))
    render_s, render_fps = _num(fig, "render_s"), _num(fig, "render_fps")
    if render_fps is not None:
        parts.append(f"render only: {_rate(render_fps)} frames/s"
                     + (f" ({_seconds(render_s)} s)" if render_s is not None else ""))
    if (noop := _num(fig, "noop_rerun_s")) is not None:
        parts.append(f"no-op re-run: {_seconds(noop)} s")
    met = None if seconds is None else seconds < SYNTHETIC_TARGET_S
    return [(what, src.figure(parts, "generate_s"), _target(target, met), script)]


def _mask_sizes(fig: dict[str, Any], needed: str) -> list[tuple[str, dict[str, Any]]]:
    """``(label, figures)`` of every frame size in masks.json having a key matching ``needed``, largest first."""
    sizes = [(key, value) for key, value in fig.items()
             if isinstance(value, dict) and any(re.fullmatch(needed, k) for k in value)]
    return sorted(sizes, key=lambda kv: -_area(_text(kv[1], "frame_size")))


def _masks_frame(src: _Source) -> list[_Row]:
    target, script = f">= {MASK_TARGET_SPEEDUP:g}x", _script("masks")
    what = ("SelfSVD mask per frame, reference dehazed once per clip, vs the official algorithm as written "
            "(same DIS flow, flow excluded); speed-up = official time per pair / ours")
    if src.doc is None:
        return [(what, src.why, target, script)]
    groups, verdicts = [], []
    for label, fig in _mask_sizes(src.figures, r"ours_frame_cached_reference_ms|reference_pair_ms"):
        ours, ref = _num(fig, "ours_frame_cached_reference_ms"), _num(fig, "reference_pair_ms")
        speedup = _num(fig, "speedup_frame_cached_reference")
        if speedup is None and ours and ref is not None:
            speedup = ref / ours
        bits = []
        head = (f"{_ms(ours)} vs {_ms(ref)} ms" if ours is not None and ref is not None
                else f"ours {_ms(ours)} ms" if ours is not None else f"official {_ms(ref)} ms" if ref is not None
                else "")
        if speedup is not None:
            head += (" = " if head else "") + _ratio(speedup)
        ours_med, ref_med = _num(fig, "ours_frame_cached_reference_median_ms"), _num(fig, "reference_pair_median_ms")
        speedup_med = _num(fig, "speedup_frame_cached_reference_medians")
        if speedup_med is not None:
            medians = f"{_ms(ours_med)} vs {_ms(ref_med)} ms = " if ours_med is not None and ref_med is not None else ""
            head += f" (medians {medians}{_ratio(speedup_med)})"
        if head:
            bits.append(head.strip())
        pair = _num(fig, "ours_pair_incl_reference_dehaze_ms")
        pair_speedup = _num(fig, "speedup_pair_incl_reference_dehaze")
        if pair_speedup is not None:
            bits.append("per pair incl. the reference dehaze " + (f"{_ms(pair)} ms = " if pair is not None else "")
                        + _ratio(pair_speedup))
        blocks, differing = _num(fig, "agreement_blocks"), _num(fig, "agreement_blocks_differing")
        if blocks is not None and differing is not None:
            bits.append(f"{_count(differing)} of {_count(blocks)} blocks differ from the official mask")
        if bits:
            groups.append(f"{label}: " + ", ".join(bits))
        met = _flag(fig, "meets_target_frame_cached_reference")
        verdicts.append(met if met is not None else None if speedup is None else speedup >= MASK_TARGET_SPEEDUP)
    known = [v for v in verdicts if v is not None]
    met = (all(known) if known else None)
    return [(what, src.figure(groups, "<size>.ours_frame_cached_reference_ms"), _target(target, met), script)]


def _masks_clip(src: _Source) -> list[_Row]:
    script = _script("masks")
    what = "masks for a clip: official mode (one mask), ps mode (a mask per frame)"
    if src.doc is None:
        return [(what, src.why, "", script)]
    groups, frames = [], None
    for label, fig in _mask_sizes(src.figures, r"clip\d+_.*"):
        n = next((int(m.group(1)) for k in fig if (m := re.fullmatch(r"clip(\d+)_.*", k))), None)
        frames = frames if frames is not None else n
        pre = f"clip{n}_"
        bits = []
        if (official := _num(fig, pre + "official_mode_with_dis_ms")) is not None:
            bits.append(f"official mode {_ms(official)} ms with DIS")
        if (ps := _num(fig, pre + "ps_mode_with_dis_ms")) is not None:
            bits.append(f"ps mode {_seconds(ps / _MS_PER_S)} s with DIS ({_count(n - 1)} masks)")
        if (share := _num(fig, "dis_flow_share_of_frame_with_flow")) is not None:
            bits.append(f"DIS is {_pct(share)}% of a ps-mode frame")
        script_ms = _num(fig, pre + "official_script_estimate_ms")
        sp_official = _num(fig, pre + "speedup_official_mode_vs_script")
        sp_ps = _num(fig, pre + "speedup_ps_mode_vs_script")
        if script_ms is not None:
            vs = " / ".join(_ratio(s) for s in (sp_official, sp_ps) if s is not None)
            bits.append(f"the official script (all masks, estimated) {_seconds(script_ms / _MS_PER_S)} s"
                        + (f": {vs} faster" if vs else ""))
        threads, thread_speedup = _num(fig, "threads"), _num(fig, "thread_speedup_frame")
        if threads is not None and thread_speedup is not None:
            bits.append(f"{_count(threads)} threads {_ratio(thread_speedup)} faster than one")
        if bits:
            groups.append(f"{label}: " + ", ".join(bits))
    if frames is not None:
        what = f"masks for a {_count(frames)}-frame clip: official mode (one mask), ps mode (a mask per frame)"
    return [(what, src.figure(groups, "<size>.clip<N>_*"), "", script)]


def _onsets(src: _Source) -> list[_Row]:
    script = _script("smoke_detection")
    fig = src.figures
    tol = next((int(m.group(1)) for k in fig if (m := re.fullmatch(r"onset_recall_within_(\d+)", k))), None)
    within = f"within ±{tol} frame{'' if tol == 1 else 's'}" if tol is not None else ""
    target = f">= {_pct(ONSET_TARGET)}% of onsets {within}".rstrip()
    what = "smoke-onset detection on long videos of concatenated synthetic clips"
    if src.doc is None:
        return [(what, src.why, target, script)]
    videos, clips, codec = _num(fig, "videos"), _num(fig, "clips_per_video"), _text(fig, "codec")
    if videos is not None and clips is not None:
        what = f"smoke-onset detection on {_count(videos)} long videos of {_count(clips)} concatenated synthetic clips"
    if codec is not None:
        what += f" ({codec} round trip)"
    parts = []
    recall, true = (_num(fig, f"onset_recall_within_{tol}") if tol is not None else None), _num(fig, "true_onsets")
    if recall is not None:
        found = f"{_count(recall * true)}/{_count(true)}" if true is not None else f"{_pct(recall)}%"
        exact = _num(fig, "onset_exact_fraction")
        exact_text = f" ({_count(exact * true)} exact)" if exact is not None and true is not None else ""
        parts.append(f"{found} onsets {within}{exact_text}")
    if (ps := _num(fig, "ps_smoke_free_fraction")) is not None:
        parts.append(f"{_pct(ps)}% of PS frames smoke-free")
    if (false := _num(fig, "false_events")) is not None:
        parts.append(f"{_count(false)} false events")
    if (clean := _num(fig, "false_events_on_clean_videos")) is not None:
        parts.append(f"{_count(clean)} events on the smoke-free versions")
    scan_ms = _dict(fig, "scan_ms_per_frame")
    scan = [f"{_ms(ms)} ms at {size}" for size in sorted(scan_ms, key=_area)
            if (ms := _num(scan_ms, size)) is not None]
    if scan:
        parts.append("scan per frame " + ", ".join(scan))
    met = None if recall is None else recall >= ONSET_TARGET
    return [(what, src.figure(parts, "onset_recall_within_<N>"), _target(target, met), script)]


def _inference(src: _Source) -> list[_Row]:
    script = _script("models")
    what = "SelfSVD inference on CPU, one window per call with DIS flows (frames/s per preset)"
    if src.doc is None:
        return [(what, src.why, "", script)]
    fig = _dict(src.figures, "inference_cpu")
    sizes: list[str] = []
    for by_size in fig.values():
        for size in by_size if isinstance(by_size, dict) else ():
            if size not in sizes:
                sizes.append(size)
    sizes.sort(key=_area)
    parts, shares = [], []
    for preset, by_size in fig.items():
        values = [_num(by_size, size, "fps") for size in sizes]
        if any(v is not None for v in values):
            parts.append(f"{preset} " + " / ".join("—" if v is None else _rate(v) for v in values))
        shares += [s for size in sizes if (s := _num(by_size, size, "flow_share")) is not None]
    if sizes:
        what = ("SelfSVD inference on CPU, one window per call with DIS flows "
                f"(frames/s per preset at {' / '.join(sizes)})")
    figure = ", ".join(parts)
    if shares:
        low, high = _pct(min(shares)), _pct(max(shares))
        figure += ("; " if figure else "") + f"DIS is {low if low == high else f'{low}-{high}'}% of a call"
    if (threads := _num(src.figures, "threads", "torch")) is not None and figure:
        figure += f"; {_count(threads)} torch threads"
    return [(what, figure or src.figure([], "inference_cpu"), "", script)]


def _training(src: _Source) -> list[_Row]:
    script = _script("models")
    what = "SelfSVD training on CPU, data loading excluded"
    if src.doc is None:
        return [(what, src.why, "", script)]
    fig = _dict(src.figures, "training_cpu")
    detail = []
    if (model := _text(fig, "model")) is not None:
        detail.append(f"{model} G")
    if (disc := _num(fig, "disc_base")) is not None:
        detail.append(f"D base {_count(disc)}")
    batch, frames, crop = _num(fig, "batch_size"), _num(fig, "frames"), _num(fig, "crop")
    if batch is not None and frames is not None and crop is not None:
        detail.append(f"batch {_count(batch)} x {_count(frames)} x {_count(crop)}^2")
    if (config := _text(fig, "config")) is not None:
        what = f"SelfSVD training on CPU, {config}, data loading excluded"
    if detail:
        what += f" ({', '.join(detail)})"
    parts = []
    if (its := _num(fig, "it_per_s")) is not None:
        parts.append(f"{_rate(its)} it/s")
    if (median := _num(fig, "iteration_median_ms")) is not None:
        parts.append(f"iteration median {_ms(median)} ms")
    names = (("generator_fwd_bwd_incl_its_flows", "generator"), ("discriminator_passes", "discriminator"),
             ("alignment_flow", "alignment flow"), ("other_losses_warp_optimisers", "other"))
    breakdown = [f"{label} {_ms(v)}" for key, label in names
                 if (v := _num(fig, "breakdown_median_ms", key)) is not None]
    if breakdown:
        parts.append("breakdown (medians, ms): " + ", ".join(breakdown))
    return [(what, src.figure(parts, "training_cpu"), "", script)]


def _before_after(src: _Source) -> list[_Row]:
    target, script = f">= {TRAIN_SPEEDUP_TARGET:g}x", _script("models")
    what = "the same training iteration, the code path before the speed-ups vs today's, alternated in one run"
    if src.doc is None:
        return [(what, src.why, target, script)]
    fig = _dict(src.figures, "training_cpu_before_after")
    if (iterations := _num(fig, "iterations")) is not None:
        what += f" (same weights, same {_count(iterations)} batches)"
    parts = []
    before, after, speedup = _num(fig, "before_it_per_s"), _num(fig, "after_it_per_s"), _num(fig, "speedup")
    if before is not None and after is not None:
        parts.append(f"{_rate(before)} vs {_rate(after)} it/s"
                     + (f": {_ratio(speedup)}" if speedup is not None else ""))
    elif speedup is not None:
        parts.append(_ratio(speedup))
    b_ms, a_ms = _num(fig, "before_median_ms"), _num(fig, "after_median_ms")
    if b_ms is not None and a_ms is not None:
        parts.append(f"median {_ms(b_ms)} vs {_ms(a_ms)} ms per iteration")
    if (gap := _num(fig, "loss_rec_max_relative_gap")) is not None:
        parts.append(f"reconstruction-loss curves equal within {_pct(gap)}%")
    met = None if speedup is None else speedup >= TRAIN_SPEEDUP_TARGET
    return [(what, src.figure(parts, "training_cpu_before_after"), _target(target, met), script)]


def _metric_cell(rec: Any) -> tuple[str | None, bool | None]:
    """One metric at one size: ``ours vs reference ms (ratio)`` or the reference's absence; and its verdict."""
    ours, ref = _num(rec, "ours_best_ms"), _num(rec, "reference_best_ms")
    ratio = _num(rec, "ratio_reference_over_ours")
    if ratio is None and ours and ref is not None:
        ratio = ref / ours
    missing = _text(rec, "reference")
    if ours is not None and ref is not None:
        text = f"{_ms(ours)} vs {_ms(ref)} ms" + (f" ({_ratio(ratio)})" if ratio is not None else "")
    elif ours is not None:
        text = f"{_ms(ours)} ms" + (f", reference {missing}" if missing else "")
    elif missing:
        text = f"reference {missing}"
    else:
        return None, None
    if ratio is None:
        return text, None
    rel, within = _num(rec, "rel_diff"), _flag(rec, "within_1pct")
    agrees = within if within is not None else None if rel is None else rel < METRICS_TARGET_REL_DIFF
    return text, (ratio >= METRICS_TARGET_RATIO) and agrees is not False


def _metrics(src: _Source) -> list[_Row]:
    at = " and ".join(s.split("x")[0] + "p" for s in METRICS_TARGET_SIZES)
    target = (f"values within {_pct(METRICS_TARGET_REL_DIFF)}%, reference time / ours >= {METRICS_TARGET_RATIO:g}x "
              f"at {at}")
    script = _script("metrics")
    what = "no-reference metrics per frame, ours vs the reference implementation in the same run"
    if src.doc is None:
        return [(what, src.why, target, script)]
    reps, ref_reps = _num(src.figures, "repeats_ours"), _num(src.figures, "repeats_reference")
    if reps is not None and ref_reps is not None:
        what += f" (best of {_count(reps)} / {_count(ref_reps)} calls)"
    fig = _dict(src.figures, "metrics")
    recorded = _get(src.figures, "sizes_hxw")
    sizes = [s for s in recorded if isinstance(s, str)] if isinstance(recorded, list) else []
    for by_size in fig.values():
        for size in by_size if isinstance(by_size, dict) else ():
            if size not in sizes:
                sizes.append(size)
    if sizes:
        what += f" at {' / '.join(sizes)}"
    parts, verdicts, rel_diffs, unavailable = [], [], [], False
    for metric, by_size in fig.items():
        cells = []
        for size in sizes:
            text, verdict = _metric_cell(_get(by_size, size))
            verdict = verdict if size in METRICS_TARGET_SIZES else None
            if text is not None:
                cells.append(text)
                unavailable |= verdict is None and size in METRICS_TARGET_SIZES
                verdicts += [] if verdict is None else [verdict]
            if (rel := _num(by_size, size, "rel_diff")) is not None:
                rel_diffs.append(rel)
        if cells:
            parts.append(f"{metric.upper()} " + " / ".join(cells))
    if rel_diffs:
        parts.append(f"values within {_pct(max(rel_diffs))}% of the references")
    met = all(verdicts) if verdicts else None
    text = _target(target, met)
    if met is not None and unavailable:
        text += " where measured"
    return [(what, src.figure(parts, "metrics"), text, script)]


def _throughput(src: _Source) -> list[_Row]:
    """Frames/s of the whole benchmark per method at :data:`THROUGHPUT_SIZE`, before -> after, and where it goes."""
    what = f"benchmark end to end at {THROUGHPUT_SIZE}, frames/s per method (every metric of the default protocol)"
    script = _script("throughput")
    if src.doc is None:
        return [(what, src.why, "figures only", script)]
    fig = src.figures
    base = _text(fig, "baseline")
    if (threads := _num(fig, "threads")) is not None:
        what += f", {_count(threads)} threads"
    parts = []
    by_method = _dict(fig, "results", THROUGHPUT_SIZE)
    order = [m for m in (_get(fig, "workload", "methods") or []) if m in by_method]
    for method, rec in sorted(by_method.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
        after, before = _num(rec, "ours", "fps"), _num(rec, "baseline", "fps")
        if after is None:
            continue
        text = f"{method} " + (f"{_rate(before)} -> " if before is not None else "") + f"{_rate(after)}"
        if before:
            text += f" ({_ratio(after / before)})"
        stages = _dict(rec, "ours", "stages")
        ranked = sorted(((v, k) for k, s in stages.items() if (v := _num(s, "wall_ms_per_frame")) is not None),
                        reverse=True)[:3]
        if ranked:
            text += " [" + ", ".join(f"{k} {_ms(v)} ms" for v, k in ranked) + "]"
        parts.append(text)
    if base and parts:
        parts.append(f"before: commit {base[:7]}, in the same run; [the costliest stages, per frame]")
    return [(what, src.figure(parts, f"results.{THROUGHPUT_SIZE}"), "figures only", script)]


def _main_command(main_command: dict[str, Any]) -> list[_Row]:
    target = f"<= {MAIN_COMMAND_TARGET_MIN:g} min"
    what = "the README's main command on a fresh machine state (prepare, masks, CPU training, benchmark)"
    seconds, seed = _num(main_command, "seconds"), _num(main_command, "seed")
    identical = _flag(main_command, "identical")
    parts = []
    if seconds is not None:
        minutes, secs = divmod(round(seconds), _SECONDS_PER_MINUTE)
        parts.append(f"{minutes} min {secs} s" + (f" (seed {_count(seed)})" if seed is not None else ""))
    if identical is not None:
        parts.append(f"leaderboard identical to the cached run: {'yes' if identical else 'no'}")
    met = None if seconds is None else seconds <= MAIN_COMMAND_TARGET_MIN * _SECONDS_PER_MINUTE
    figure = "; ".join(parts) or "not recorded (main_command has no seconds, seed or identical)"
    return [(what, figure, _target(target, met), "`time python -m benchmarks.run --method selfsvd`")]


def _gpu(src: _Source) -> list[_Row]:
    target, script = f">= {GPU_TARGET_FPS:g} fps at {GPU_TARGET_SIZE}", _script("gpu")
    what = "SelfSVD on GPU"
    if src.doc is None:
        absent = src.why.endswith("absent)")
        return [(what, "not measured: no GPU was available to this run" if absent else src.why, target, script)]
    fig = src.figures
    if (preset := _text(fig, "preset")) is not None:
        what += f", {preset} preset"
    parts = []
    if (device := _text(src.doc, "device", "name")) is not None:
        parts.append(f"on {device}" + (" (no CUDA device)" if _text(src.doc, "device", "type") == "cpu" else ""))
    if _flag(fig, "quick"):
        parts.append("--quick smoke check, not the paper figures")
    best_at_target = None
    for flow, by_size in sorted(_dict(fig, "inference").items()):
        sizes = sorted(by_size.items() if isinstance(by_size, dict) else (), key=lambda kv: -_area(kv[0]))
        for size, by_variant in sizes:
            measured = [(v, name) for name, rec in (by_variant.items() if isinstance(by_variant, dict) else ())
                        if (v := _num(rec, "fps")) is not None]
            if not measured:
                continue
            fps, name = max(measured)
            parts.append(f"inference ({flow}) {size}: {_rate(fps)} fps ({name})")
            if size == GPU_TARGET_SIZE and flow == "dis":
                best_at_target = fps
    if (its := _num(fig, "training", "it_per_s")) is not None:
        mfu = _num(fig, "training", "mfu")
        parts.append(f"training {_rate(its)} it/s" + (f" (MFU {_pct(mfu)}%)" if mfu is not None else ""))
    if (fps := _num(fig, "desmoke_video", "fps")) is not None:
        parts.append(f"a video through lsvd.desmoke: {_rate(fps)} fps")
    met = None if best_at_target is None else best_at_target >= GPU_TARGET_FPS
    return [(what, src.figure(parts, "inference"), _target(target, met), script)]


# ------------------------------------------------------------------------------------------------ table
def render_perf_table(results_dir: Path, main_command: dict[str, Any] | None = None) -> str:
    """The performance table (Markdown) of the records in ``results_dir``, then their provenance.

    ``main_command``: ``{"seconds": float, "seed": int, "identical": bool}`` of one timed run of the README's
    main command (its row is left out when ``None``). Missing files or keys never raise.
    """
    src = {name: _Source(Path(results_dir), name) for name in FILES}
    builders: list[Callable[[], list[_Row]]] = [
        lambda: _indexing(src["prepare"]),
        lambda: _ingest(src["prepare"]),
        lambda: _synthetic(src["synthetic"]),
        lambda: _masks_frame(src["masks"]),
        lambda: _masks_clip(src["masks"]),
        lambda: _onsets(src["smoke_detection"]),
        lambda: _inference(src["models"]),
        lambda: _training(src["models"]),
        lambda: _before_after(src["models"]),
        lambda: _metrics(src["metrics"]),
        lambda: _throughput(src["throughput"]),
        lambda: _main_command(main_command) if main_command is not None else [],
        lambda: _gpu(src["gpu"]),
    ]
    lines = ["| what | figure | target | script |", "| --- | --- | --- | --- |"]
    for build in builders:
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in build()]
    lines.append("")
    lines += [s.provenance() for s in src.values() if s.doc is not None]
    return "\n".join(lines) + "\n"
