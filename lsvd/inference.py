"""Whole-clip inference for the SelfSVD generator (spec/selfsvd-official.md §6).

A test clip is processed in short temporal windows, each an independent forward of the network:
the recurrent state starts from zero at every window start, every window sees the same PS frame and
the slice of the per-frame mask that matches its frames. Only one window's activations exist at a
time; each window's output is moved to the CPU before the next one runs.

Two window plans:

* ``"official"`` (:func:`official_windows`): the official ``forward_segment_test``. A clip of at
  most ``window`` frames is one pass; a longer clip is cut into non-overlapping full windows
  ``[0, w), [w, 2w), ...`` and then the last ``w`` frames ``[T-w, T)`` are recomputed as one more
  window whose results overwrite the earlier ones. A final partial window is never run on its own.
* ``"overlap"`` (:func:`overlapping_windows`): a streaming-friendly variant in which windows overlap
  by ``overlap`` frames and each output frame is taken from the latest window in which at least
  ``overlap`` frames precede it (propagated context), i.e. no output frame except the clip's first
  ones comes from the first ``overlap`` positions of a window.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from torch import nn

from lsvd.io import pixels

__all__ = ["MODES", "desmoke_clip", "official_windows", "overlapping_windows", "to_uint8"]

#: Accepted ``mode`` values of :func:`desmoke_clip`.
MODES = ("official", "overlap")


def _check_t_window(t: int, window: int) -> None:
    if int(t) != t or t < 1:
        raise ValueError(f"t: expected a clip length >= 1, found {t!r}")
    if int(window) != window or window < 1:
        raise ValueError(f"window: expected a window length >= 1, found {window!r}")


def official_windows(t: int, window: int = 5) -> list[tuple[int, int]]:
    """The official test windows (spec §6, ``forward_segment_test``), in run order.

    * ``t <= window``: one window ``[(0, t)]``.
    * otherwise: every full non-overlapping window ``(0, w), (w, 2w), ...`` with end ``<= t``, then
      the last window ``(t - w, t)``. Run in this order, the last window's frames overwrite the
      earlier results, so a trailing partial window is replaced by the full last window. The last
      window is added even when it equals the previous one (``t`` a multiple of ``w``), as in the
      official code, which recomputes it.

    Examples (``window=5``): ``t=3 -> [(0, 3)]``, ``t=5 -> [(0, 5)]``,
    ``t=10 -> [(0, 5), (5, 10), (5, 10)]``, ``t=12 -> [(0, 5), (5, 10), (7, 12)]``.

    Returns:
        ``(start, end)`` half-open frame ranges.
    """
    _check_t_window(t, window)
    if t <= window:
        return [(0, t)]
    wins = [(s, s + window) for s in range(0, t - window + 1, window)]
    wins.append((t - window, t))
    return wins


def overlapping_windows(t: int, window: int = 5, overlap: int = 2) -> list[tuple[int, int, int, int]]:
    """Overlapping windows; every frame comes from the latest window giving it ``overlap`` past frames.

    Windows of ``window`` frames start every ``stride = window - overlap`` frames (``0, stride,
    2*stride, ...`` while the window fits in the clip), plus a final window ``(t - window, t)`` when
    the last regular one does not reach the end. A window ``(s, e)`` keeps its frames from
    ``s + overlap`` on (from ``s`` for the first window, which has no earlier context to give), up to
    where the next window starts keeping. So each frame is taken from the latest window in which at
    least ``overlap`` frames precede it (or from the first window at the clip start), the kept ranges
    partition ``[0, t)`` in order, and every frame is produced exactly once. ``overlap=0`` gives
    plain non-overlapping windows (with a shifted full last window, like the official plan, but
    without recomputing frames).

    ``t <= window`` gives one window ``[(0, t, 0, t)]``.

    Example (``window=5, overlap=2``), ``t=12``:
    ``[(0, 5, 0, 5), (3, 8, 5, 8), (6, 11, 8, 9), (7, 12, 9, 12)]``.

    Returns:
        ``(start, end, keep_start, keep_end)``: run the network on frames ``[start, end)`` and keep
        its outputs for frames ``[keep_start, keep_end)`` (non-empty, consecutive, covering ``[0, t)``).
    """
    _check_t_window(t, window)
    if int(overlap) != overlap or not 0 <= overlap < window:
        raise ValueError(f"overlap: expected 0 <= overlap < window = {window}, found {overlap!r}")
    if t <= window:
        return [(0, t, 0, t)]
    stride = window - overlap
    starts = list(range(0, t - window + 1, stride))
    if starts[-1] + window < t:
        starts.append(t - window)
    plan: list[tuple[int, int, int, int]] = []
    for k, s in enumerate(starts):
        keep_start = 0 if k == 0 else plan[-1][3]
        keep_end = t if k == len(starts) - 1 else starts[k + 1] + overlap
        plan.append((s, s + window, keep_start, keep_end))
    return plan


def _plan(t: int, window: int, mode: str) -> list[tuple[int, int, int, int]]:
    if mode == "official":
        wins = official_windows(t, window)
        # A last window equal to the one before (t a multiple of window) would recompute identical
        # outputs; it is skipped (the official code recomputes it).
        wins = [w for k, w in enumerate(wins) if k == 0 or w != wins[k - 1]]
        return [(s, e, s, e) for s, e in wins]
    if mode == "overlap":
        return overlapping_windows(t, window, overlap=min(2, window - 1))
    raise ValueError(f"mode: expected one of {', '.join(MODES)}, found {mode!r}")


def _check_clip(lqs: Any, ps: Any, mask: Any) -> None:
    if not isinstance(lqs, torch.Tensor) or lqs.ndim != 4 or lqs.shape[1] != 3:
        found = tuple(lqs.shape) if isinstance(lqs, torch.Tensor) else type(lqs).__name__
        raise ValueError(f"lqs: expected one clip (T, 3, H, W) RGB, found {found}")
    t, _, h, w = lqs.shape
    if t < 1:
        raise ValueError("lqs: expected at least one frame (T >= 1)")
    if h % 4 or w % 4 or h < 4 or w < 4:
        raise ValueError(f"lqs: height and width must be positive multiples of 4 (spec §3.6), found {h}x{w}; "
                         f"crop or pad to {h // 4 * 4}x{w // 4 * 4}")
    if not lqs.is_floating_point():
        raise ValueError(f"lqs: expected float frames in [0, 1], found dtype {lqs.dtype}")
    if not isinstance(ps, torch.Tensor) or tuple(ps.shape) != (3, h, w):
        found = tuple(ps.shape) if isinstance(ps, torch.Tensor) else type(ps).__name__
        raise ValueError(f"ps: expected the PS frame as (3, {h}, {w}), found {found}")
    if mask is not None:
        expected = (t, 1, h // 4, w // 4)
        if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != expected:
            found = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"mask: expected (T, 1, H/4, W/4) = {expected}, found {found}")


def desmoke_clip(
    model: nn.Module,
    lqs: torch.Tensor,
    ps: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    window: int = 5,
    mode: str = "official",
    device: str | torch.device | None = None,
    progress: bool = False,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Desmoke one clip window by window (spec §6).

    Args:
        model: a :class:`~lsvd.models.SelfSVDNet` (or anything with the same forward contract:
            ``model(lqs (1,t,3,H,W), ps (1,3,H,W), mask (1,t,1,H/4,W/4) | None)["out"]``). It is
            used as given (call ``.eval()`` first); it is moved to ``device`` when one is given.
        lqs: smoky frames ``(T, 3, H, W)``, float RGB in [0, 1]; ``H``, ``W`` multiples of 4.
        ps: the PS frame ``(3, H, W)``, given unchanged to every window.
        mask: ``(T, 1, H/4, W/4)`` (1 = PS features dropped) or ``None`` (all kept); each window gets
            the slice of its own frames.
        window: window length (5 officially).
        mode: ``"official"`` (:func:`official_windows`; a repeated last window is not rerun) or ``"overlap"``
            (:func:`overlapping_windows` with ``overlap = min(2, window - 1)``).
        device: where the network runs (default: where the model's parameters are, else CPU).
        progress: show a tqdm bar over the windows (when tqdm is installed).
        dtype: ``torch.bfloat16`` runs CUDA windows under bf16 autocast; otherwise ignored
            (computation in float32).

    Returns:
        ``(T, 3, H, W)`` float32 on the CPU, clamped to [0, 1] (as ``tensor2img``).
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, found {mode!r}")
    _check_clip(lqs, ps, mask)
    t = lqs.shape[0]
    plan = _plan(t, window, mode)

    if device is None:
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    model.to(device)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16)
                if device.type == "cuda" and dtype == torch.bfloat16 else contextlib.nullcontext())

    windows: Any = plan
    if progress:
        try:
            from tqdm import tqdm
            windows = tqdm(plan, desc="windows", unit="win")
        except ImportError:  # pragma: no cover - tqdm is optional
            pass

    out = torch.empty(lqs.shape, dtype=torch.float32)
    ps_dev = ps.to(device=device, dtype=torch.float32)[None]
    with torch.inference_mode():
        for start, end, keep_start, keep_end in windows:
            clip = lqs[start:end].to(device=device, dtype=torch.float32)[None]
            win_mask = None if mask is None else mask[start:end].to(device=device, dtype=torch.float32)[None]
            with autocast:
                pred = model(clip, ps_dev, win_mask)["out"]
            pred = pred[0, keep_start - start:keep_end - start].float().cpu()
            out[keep_start:keep_end] = pred
            del clip, win_mask, pred
    return out.clamp_(0.0, 1.0)


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """``(T, 3, H, W)`` float RGB in [0, 1] -> ``(T, H, W, 3)`` uint8 RGB, as MMEditing ``tensor2img``
    (clamp to [0, 1], x255, round half to even, cast); channel order stays RGB."""
    if not isinstance(frames, torch.Tensor) or frames.ndim != 4 or frames.shape[1] != 3:
        found = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ValueError(f"frames: expected (T, 3, H, W), found {found}")
    return pixels.to_uint8(frames)
