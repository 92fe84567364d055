"""Score one method on one clip, with a content-addressed cache of per-frame values.

    rows, failure = evaluate_clip(method, clip, refs, metrics, flow, cache)

Per-frame values are tidy rows ``(method, split, clip_id, frame_number, metric, value)``. For each
``(method, clip)`` the cache file ``CACHE/<method>/<split>/<clip_id>.parquet`` holds every value
computed so far with a ``key`` column: the hash of the method's settings (weights), the clip's
inputs (manifest fingerprint), the metric (name, parameter file hashes), the flow backend and the
protocol card's settings that change values (:meth:`benchmarks.protocols.Protocol.value_key`: reference,
resize, alignment, frame stride; name and version), so two protocols never share values. Re-running
recomputes only the (clip, metric) pairs whose key changed or that are new.

Reference kinds (:data:`benchmarks.metrics.base.REFERENCE_KINDS`): ``ps_frame`` metrics compare
every output with the clip's metric reference (the LSVD_test_pro frame when the manifest has one,
else the PS frame), aligned first (spec §5.2); ``clean`` metrics compare output ``t`` with clean
frame ``t`` on the frames from the smoke onset on (before it the input is the clean frame, which
would reward doing nothing; the leaderboard's ``n_frames`` shows how many were scored); ``input``
metrics compare output ``t`` with the smoky input frame ``t`` the method received (``clip.lqs[t]``);
``none`` metrics read the output alone.

The protocol card (:mod:`benchmarks.protocols`) decides what is scored: :meth:`~benchmarks.protocols.Protocol.prepare`
picks the reference of ``ps_frame`` metrics and resizes every frame when the card says so, the alignment
takes the card's blur and masking, and a metric with a ``frame_stride`` scores frames ``0, s, 2s, ...`` only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.methods import Clip, Method
from benchmarks.metrics.base import Metric
from benchmarks.results import method_dir_name
from benchmarks.stages import SHARED, StageTimes
from lsvd.errors import LsvdError
from lsvd.io.hashing import digest

log = logging.getLogger(__name__)

__all__ = ["PROTOCOL_VERSION", "ROW_COLUMNS", "ClipUnreadable", "MethodFailure", "References", "SharedWork",
           "check_outputs", "evaluate_clip", "metric_key"]

ROW_COLUMNS = ["method", "split", "clip_id", "frame_number", "metric", "value"]
#: Bumped whenever how values are computed changes (frame selection, references): invalidates caches.
PROTOCOL_VERSION = 2


@dataclass
class References:
    """What reference metrics compare against.

    Attributes:
        ps: uint8 ``(H, W, 3)``, the metric reference of ``ps_frame`` metrics.
        clean: uint8 ``(T, H, W, 3)`` clean frames, or ``None``.
        smoky: bool ``(T,)``, the frames from the smoke onset on; ``clean`` metrics score only those
            (between the PS frame and the onset the input *is* the clean frame). ``None``: all.
    """

    ps: np.ndarray
    clean: np.ndarray | None = None
    smoky: np.ndarray | None = None


class MethodFailure(LsvdError, RuntimeError):
    """A method crashed or returned unusable outputs on a clip (the reason is the message)."""


class ClipUnreadable(LsvdError, RuntimeError):
    """A clip's input (frames, masks, references) could not be read: no method can be scored on it."""


def metric_key(metric: Metric, method_key: str, clip_fingerprint: str, flow: str, protocol: Any = None) -> str:
    """Hash of everything a cached value depends on (``protocol``: a :class:`~benchmarks.protocols.Protocol`,
    default :data:`~benchmarks.protocols.DEFAULT_PROTOCOL`)."""
    protocol = protocol if protocol is not None else _default_protocol()
    payload = {"metric": metric.describe(), "method": method_key, "clip": clip_fingerprint, "flow": flow,
               "protocol": PROTOCOL_VERSION, "card": protocol.value_key(metric.name)}
    return digest(payload)


def _default_protocol() -> Any:
    from benchmarks.protocols import DEFAULT_PROTOCOL, load_protocol

    return load_protocol(DEFAULT_PROTOCOL)


def check_outputs(out: Any, clip: Clip) -> np.ndarray:
    """The outputs as uint8 ``(T, H, W, 3)``, or :class:`MethodFailure` saying what is wrong."""
    expected = clip.lqs.shape
    if out is None:
        raise MethodFailure("returned no outputs")
    arr = np.asarray(out)
    if arr.shape != expected:
        raise MethodFailure(f"returned outputs of shape {arr.shape}, expected {expected} (one frame per input frame)")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.number):
            raise MethodFailure(f"returned {arr.dtype} outputs, expected uint8")
        if not np.isfinite(arr).all():
            raise MethodFailure(f"returned {int((~np.isfinite(arr)).sum())} NaN/inf values")
        raise MethodFailure(f"returned {arr.dtype} outputs, expected uint8 RGB in 0..255")
    return arr


class SharedWork:
    """What the scoring of every method on one clip shares, computed once, on first use.

    Now: the flows between consecutive input frames (:func:`benchmarks.metrics.temporal.input_flows`, for the
    clip metrics with ``extra["shares"] == "input_flows"``), booked as stage ``flows`` of
    :data:`~benchmarks.stages.SHARED`. Create one per clip; the inputs are the clip's after the protocol's
    :meth:`~benchmarks.protocols.Protocol.prepare`, which is the same for every method.
    """

    def __init__(self, flow: Any, timer: StageTimes | None = None) -> None:
        self.flow = flow
        self.timer = timer if timer is not None else StageTimes()
        self._input_flows: list[Any] | None = None
        self._input_shape: tuple[int, ...] | None = None

    def input_flows(self, inputs: np.ndarray) -> list[Any]:
        """``T - 1`` ``(flow, non-occluded mask)`` pairs of the clip's inputs ``(T, H, W, 3)``."""
        from benchmarks.metrics.temporal import input_flows

        if self._input_flows is None:
            with self.timer.stage(SHARED, "flows"):
                self._input_flows = input_flows(inputs, self.flow)
            self._input_shape = tuple(inputs.shape)
        elif tuple(inputs.shape) != self._input_shape:
            raise ValueError(f"SharedWork of one clip given inputs of shape {tuple(inputs.shape)}, then "
                             f"{self._input_shape}; create one per clip")
        return self._input_flows

    def kwargs(self, metric: Metric, clip: Clip) -> dict[str, Any]:
        """The shared results ``metric`` takes as keyword arguments."""
        return {"pair_flows": self.input_flows(clip.lqs)} if metric.extra.get("shares") == "input_flows" else {}


def _frame_values(metric: Metric, outputs: np.ndarray, clip: Clip, refs: References, flow: Any,
                  aligned: list[tuple[np.ndarray, np.ndarray]] | None,
                  align_options: dict[str, Any] | None = None,
                  shared: dict[str, Any] | None = None) -> list[tuple[int, float]]:
    """``[(frame_number, value), ...]`` of one metric on one clip (frames ``0, s, 2s, ...`` of a frame metric
    with ``extra["frame_stride"] = s``); ``shared``: :meth:`SharedWork.kwargs` for a clip metric."""
    from benchmarks.metrics.reference import align_to_reference

    numbers = clip.frame_numbers if clip.frame_numbers is not None else np.arange(len(outputs))
    if metric.kind == "clip":
        values = metric(outputs, clip.lqs, flow, **(shared or {}))
        # one value per consecutive pair: attributed to the later frame
        return [(int(numbers[t + 1]), float(v)) for t, v in enumerate(values)]
    out = []
    stride = int(metric.extra.get("frame_stride", 1))
    for t, frame in enumerate(outputs):
        if t % stride:
            continue
        if metric.requires_reference == "clean" and refs.smoky is not None and not refs.smoky[t]:
            continue
        if metric.requires_reference == "none":
            value = metric(frame)
        elif metric.requires_reference == "clean":
            value = metric(frame, refs.clean[t])
        elif metric.requires_reference == "input":
            value = metric(frame, clip.lqs[t])
        elif metric.align:
            if aligned is not None:
                pred_m, ref_m = aligned[t]
            else:
                pred_m, ref_m = align_to_reference(frame, refs.ps, flow, **(align_options or {}))
            value = metric(pred_m, ref_m)
        else:
            value = metric(frame, refs.ps)
        out.append((int(numbers[t]), float(value)))
    return out


def _read_cache(path: Path) -> pd.DataFrame:
    """The cached rows of one (method, clip); a missing or unreadable file is an empty cache (recomputed)."""
    empty = pd.DataFrame(columns=[*ROW_COLUMNS, "key", "error"])
    if not path.is_file():
        return empty
    try:
        cached = pd.read_parquet(path)
    except Exception as exc:  # truncated or foreign file: the scores are recomputed and the file replaced
        log.warning("%s: unreadable cache file (%s: %s); recomputing it", path, type(exc).__name__, exc)
        return empty
    missing = {*ROW_COLUMNS, "key"} - set(cached.columns)
    if missing:
        log.warning("%s: cache file lacks columns %s; recomputing it", path, sorted(missing))
        return empty
    if "error" not in cached.columns:
        cached["error"] = ""
    return cached


def _split_errors(rows: pd.DataFrame, errors: dict[str, str] | None) -> pd.DataFrame:
    """Value rows of ``rows``; its error rows (a metric that could not score the clip) go to ``errors``."""
    bad = rows["error"].fillna("").astype(str) != ""
    if errors is not None:
        for metric, reason in zip(rows.loc[bad, "metric"], rows.loc[bad, "error"], strict=True):
            errors[str(metric)] = str(reason)
    return rows[~bad][ROW_COLUMNS].reset_index(drop=True)


def _write_cache(path: Path, frame: pd.DataFrame) -> None:
    from lsvd.io.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def evaluate_clip(method: Method, split: str, clip_loader: Any, clip_id: str, clip_fingerprint: str,
                  metrics: Sequence[Metric], flow: Any, flow_name: str, cache_dir: Path,
                  errors: dict[str, str] | None = None, media: Any = None,
                  protocol: Any = None, timer: StageTimes | None = None,
                  shared: SharedWork | None = None) -> tuple[pd.DataFrame, float | None]:
    """Per-frame rows of ``metrics`` for ``method`` on one clip, from the cache where possible.

    Args:
        clip_loader: ``() -> (Clip, References)``; called only when something must be computed.
        metrics: usable metrics (check :meth:`Metric.available` first).
        errors: filled with ``{metric: reason}`` for the metrics that raised on this clip (e.g. NIQE on
            frames smaller than its 96x96 block); such a metric has no rows, and the error is cached too.
        media: a :class:`~benchmarks.media.MediaWriter`: the method also runs when its outputs for
            reports (preview video, sample frames) are not saved yet, and saves them.
        protocol: the :class:`~benchmarks.protocols.Protocol` scored (default: the default protocol); the
            metrics are those it built (:meth:`~benchmarks.protocols.Protocol.create_metric`).
        timer: gets the seconds of each stage (:mod:`benchmarks.stages`; the clip loader is timed by the caller).
        shared: the clip's :class:`SharedWork` when several methods are scored on it (default: this call's own).

    Returns:
        ``(rows, seconds)``: tidy rows (:data:`ROW_COLUMNS`) and the method's desmoking time when it
        ran (``None`` when everything came from the cache).

    Raises:
        MethodFailure: the method crashed or returned unusable outputs (nothing is cached then).
    """
    import time

    from lsvd.io.paths import check_name, inside

    path = inside(cache_dir, method_dir_name(method.name), check_name(split, "split"),
                  check_name(clip_id, "clip_id") + ".parquet")
    cached = _read_cache(path)
    protocol = protocol if protocol is not None else _default_protocol()
    keys = {m.name: metric_key(m, method.cache_key(), clip_fingerprint, flow_name, protocol) for m in metrics}
    have = cached[cached["key"].isin(keys.values())]
    todo = [m for m in metrics if keys[m.name] not in set(have["key"])]
    save_media = media is not None and not media.is_saved(method.name, clip_id, method.cache_key(), clip_fingerprint)
    if not todo and not save_media:
        return _split_errors(have, errors), None

    clip, refs = clip_loader()
    timer = timer if timer is not None else StageTimes()
    shared = shared if shared is not None else SharedWork(flow, timer)
    name = method.name
    t0 = time.perf_counter()
    try:
        with timer.stage(name, "method"):
            outputs = check_outputs(method.desmoke(clip), clip)
    except MethodFailure:
        raise
    except Exception as exc:  # a method may fail in any way; it is recorded, not fatal
        raise MethodFailure(f"crashed: {type(exc).__name__}: {exc}") from exc
    seconds = time.perf_counter() - t0
    if save_media:
        try:
            with timer.stage(name, "media"):
                media.save(name, method.cache_key(), clip_fingerprint, clip, refs, outputs)
        except Exception as exc:  # media only feed reports: never lose the scores for them
            log.warning("%s on %s: preview media not saved (%s: %s); reports will lack them", name, clip_id,
                        type(exc).__name__, exc)

    with timer.stage(name, "protocol"):
        outputs, clip, refs = protocol.prepare(outputs, clip, refs)  # the card's reference and resolution
    aligned = None
    align_options = protocol.align_options()
    if any(m.align and m.kind == "frame" for m in todo):
        from benchmarks.metrics.reference import align_to_reference

        strides = [int(m.extra.get("frame_stride", 1)) for m in todo if m.align and m.kind == "frame"]
        with timer.stage(name, "flows"):
            aligned = [align_to_reference(frame, refs.ps, flow, **align_options)  # once per frame any of them scores
                       if any(t % s == 0 for s in strides) else None for t, frame in enumerate(outputs)]
    new_rows = []
    for metric in todo:
        try:
            kwargs = shared.kwargs(metric, clip) if metric.kind == "clip" else {}
            with timer.stage(name, f"metric:{metric.name}"):
                values = _frame_values(metric, outputs, clip, refs, flow, aligned, align_options, kwargs)
        except Exception as exc:  # the metric cannot score this clip: recorded (one row, no value), not fatal
            log.warning("%s on %s: %s cannot be computed: %s", name, clip_id, metric.name, exc)
            new_rows.append({"method": name, "split": split, "clip_id": clip_id, "frame_number": -1,
                             "metric": metric.name, "value": float("nan"), "key": keys[metric.name],
                             "error": f"{type(exc).__name__}: {exc}"})
            continue
        for number, value in values:
            new_rows.append({"method": name, "split": split, "clip_id": clip_id, "frame_number": number,
                             "metric": metric.name, "value": value, "key": keys[metric.name], "error": ""})
    if not todo:
        return _split_errors(have, errors), seconds
    new = pd.DataFrame(new_rows, columns=[*ROW_COLUMNS, "key", "error"])
    keep = cached[~cached["metric"].isin([m.name for m in todo])]
    merged = pd.concat([keep, new], ignore_index=True) if len(keep) else new
    merged = merged.sort_values(["metric", "frame_number"], kind="stable").reset_index(drop=True)
    with timer.stage(name, "write"):
        _write_cache(path, merged)
    return _split_errors(merged[merged["key"].isin(keys.values())], errors), seconds
