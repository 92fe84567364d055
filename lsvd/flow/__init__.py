"""Dense optical flow backends behind one interface, and the two warps of the official code.

    from lsvd.flow import create_flow, backward_warp
    flow = create_flow("dis").estimate(source, target)   # (N, 2, H, W), target grid -> source
    aligned, valid = backward_warp(source, flow)         # ~ target where valid == 1

Backends: ``dis`` (OpenCV DIS, no weights, the offline default) and ``pwcnet`` (the official
PWC-Net in plain PyTorch; needs its weights). Backend modules are imported on first use.
"""

from __future__ import annotations

from typing import Any

from lsvd.flow.base import (
    FLOWS,
    FlowBackend,
    backward_warp,
    check_image_pair,
    create_flow,
    flow_warp,
    list_flows,
)

__all__ = [
    "FLOWS",
    "DISFlow",
    "FlowBackend",
    "PWCNet",
    "PWCNetFlow",
    "backward_warp",
    "check_image_pair",
    "create_flow",
    "flow_warp",
    "list_flows",
]

_LAZY = {"DISFlow": "lsvd.flow.dis", "PWCNet": "lsvd.flow.pwcnet", "PWCNetFlow": "lsvd.flow.pwcnet"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lsvd.flow' has no attribute {name!r}")
