"""The registry of trainable desmoking networks (``arch`` in training configs and checkpoints).

    net = build_model("selfsvd", "tiny", flow="dis")        # any registered architecture and size
    list_models()                                            # ['aodnet', 'basicvsr', 'selfsvd', ...]

A factory is registered as ``MODELS.register(arch)`` and called as
``factory(preset, flow=..., flow_kwargs=...)``; ``preset`` names a size (``paper``, ``small``,
``tiny``; architectures without a flow ignore ``flow``). Every network follows the SelfSVDNet
contract so that one training loop (:mod:`lsvd.train`) and one inference path serve them all:

    out = net(lqs (N, T, 3, H, W) in [0, 1], ps (N, 3, H, W), mask (N, T, 1, H/4, W/4) | None)
    out["out"]       (N, T, 3, H, W), not clamped
    out["ref_feat"]  PS-frame features for the 0.05 regulariser (a zero tensor when the network
                     does not read the PS frame)

Single-image networks process each frame independently; H and W multiples of 4.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from lsvd.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry(
    "model", builtins=["lsvd.models.selfsvd", "baselines.learned.nets"])


def build_model(arch: str, preset: str, *, flow: Any = "dis", flow_kwargs: Mapping[str, Any] | None = None
                ) -> nn.Module:
    """Build architecture ``arch`` at size ``preset`` (``KeyError`` listing the known ones otherwise)."""
    return MODELS.get(arch)(preset, flow=flow, flow_kwargs=flow_kwargs)


def list_models(pattern: str = "*") -> list[str]:
    return MODELS.list(pattern)
