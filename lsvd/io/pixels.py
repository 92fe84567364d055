"""The one conversion between pixels on disk and tensors: uint8 RGB ``(..., H, W, 3)`` and float32
``(..., 3, H, W)`` in [0, 1], with the official code's arithmetic (``/ 255`` in float32 one way;
MMEditing's ``tensor2img`` the other: clamp to [0, 1], x255, round half to even)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["to_tensor", "to_uint8"]


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """RGB ``(..., H, W, 3)`` uint8 (or float already in [0, 1]) -> contiguous float32 ``(..., 3, H, W)`` in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(rgb)).movedim(-1, -3).contiguous().float()
    return x.div_(255.0) if rgb.dtype == np.uint8 else x


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float ``(..., 3, H, W)`` -> uint8 RGB ``(..., H, W, 3)`` (clamped to [0, 1], x255, rounded half to even)."""
    return (x.detach().float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).movedim(-3, -1).cpu().numpy()
