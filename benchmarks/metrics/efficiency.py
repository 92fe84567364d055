"""Efficiency helpers for the benchmark runner (not frame metrics): parameters, MACs, throughput.

* :func:`count_parameters` -- trainable parameters of a module.
* :func:`macs_per_frame` -- GMACs per frame from ``torch.utils.flop_counter.FlopCounterMode`` on one
  ``(1, frames, 3, H, W)`` window (FLOPs / 2 / frames). Only torch operators the counter knows are
  counted (convolutions, matmuls, ...); a flow computed outside torch (e.g. OpenCV DIS) is **not**
  counted, nor are element-wise ops, interpolation or ``grid_sample``. With a torch flow network
  (PWC-Net) its convolutions are counted.
* :func:`frames_per_second` -- a timing helper (CUDA synchronised).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_parameters", "frames_per_second", "macs_per_frame"]


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable (``requires_grad``) parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _takes_ps(model: torch.nn.Module) -> bool:
    try:
        params = list(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return False
    return len(params) >= 2 and params[1] == "ps"


def macs_per_frame(model: torch.nn.Module, height: int, width: int, frames: int = 5) -> float:
    """GMACs per frame of one forward pass on a ``(1, frames, 3, height, width)`` window.

    The model is called as ``model(lqs, ps)`` when its ``forward`` takes ``ps`` second (SelfSVD, with a
    ``(1, 3, H, W)`` PS frame), else ``model(lqs)``; inputs are mid-grey, no gradient. MACs =
    counted FLOPs / 2; flows from non-torch backends (DIS) are not counted (see the module docstring).

    Returns:
        GMACs (1e9 MACs) per frame.
    """
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    lqs = torch.full((1, frames, 3, height, width), 0.5, device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        if _takes_ps(model):
            model(lqs, torch.full((1, 3, height, width), 0.5, device=device))
        else:
            model(lqs)
    return counter.get_total_flops() / 2.0 / frames / 1e9


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(device)


def frames_per_second(
    fn: Callable[[], Any], n_frames: int, device: torch.device | str | None = "cpu", repeats: int = 3,
    warmup: int = 1,
) -> float:
    """Frames per second of ``fn()``, a call that processes ``n_frames`` frames.

    Runs ``warmup`` untimed calls, then ``repeats`` timed calls (CUDA synchronised before and after
    when ``device`` is a CUDA device) and returns ``n_frames * repeats / elapsed``.
    """
    if repeats < 1 or n_frames < 1:
        raise ValueError(f"repeats and n_frames must be >= 1, found {repeats} and {n_frames}")
    for _ in range(warmup):
        fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    elapsed = time.perf_counter() - start
    return n_frames * repeats / max(elapsed, 1e-12)
