"""OpenCV DIS optical flow (Kroeger et al., ECCV 2016): no weights, CPU, the offline default."""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import torch

from lsvd.flow.base import FLOWS, FlowBackend, check_image_pair
from lsvd.io.pixels import to_uint8

#: ``cv2.DISOpticalFlow_create`` presets, by name.
DIS_PRESETS: dict[str, int] = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


#: OpenCV's DIS needs one side of at least 12 px; smaller images are padded (edge replicated) to this.
_MIN_SIDE = 16


def _pad(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    if max(h, w) >= 12:
        return gray
    return cv2.copyMakeBorder(gray, 0, max(0, _MIN_SIDE - h), 0, max(0, _MIN_SIDE - w), cv2.BORDER_REPLICATE)


def _to_gray_u8(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` float RGB in [0, 1] -> ``(H, W)`` uint8 luma (``cv2.COLOR_RGB2GRAY``)."""
    rgb = to_uint8(image)
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


@FLOWS.register("dis")
class DISFlow(FlowBackend):
    """Dense Inverse Search flow on the uint8 grayscale of each image pair (one pair at a time).

    Computed as ``calc(target_gray, source_gray)``, i.e. ``target(p) ~ source(p + flow(p))``: the
    flow lives on the target grid and points into the source, as :class:`FlowBackend` requires.
    Deterministic (a fresh DIS object per pair, no temporal initialisation); not differentiable.

    Args:
        preset: ``"medium"`` (default: finer, slower), ``"fast"`` or ``"ultrafast"``
            (``cv2.DISOPTICAL_FLOW_PRESET_*``).
    """

    name = "dis"
    differentiable = False

    def __init__(self, preset: Literal["ultrafast", "fast", "medium"] = "medium"):
        if preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}: expected one of {', '.join(DIS_PRESETS)}")
        self.preset = preset

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "preset": self.preset}

    def estimate(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``source``, ``target``: float ``(N, 3, H, W)`` RGB in [0, 1] -> float32 ``(N, 2, H, W)`` pixels."""
        check_image_pair(source, target)
        if source.shape[0] == 0:
            return source.new_zeros((0, 2, *source.shape[2:]), dtype=torch.float32)
        flows = []
        for src, tgt in zip(source, target, strict=True):
            dis = cv2.DISOpticalFlow_create(DIS_PRESETS[self.preset])
            h, w = src.shape[-2:]
            # (H, W, 2): x then y; tiny images are padded for OpenCV and the flow cropped back
            flow = dis.calc(_pad(_to_gray_u8(tgt)), _pad(_to_gray_u8(src)), None)[:h, :w]
            flows.append(torch.from_numpy(np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)))
        return torch.stack(flows).to(source.device)

    def __repr__(self) -> str:
        return f"DISFlow(preset={self.preset!r})"
