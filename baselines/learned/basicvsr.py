"""A BasicVSR-style bidirectional recurrent video network (Chan et al., CVPR 2021) as a learned baseline:
the network and the method (``basicvsr``), without the PS-frame input.

Sizes ``paper`` (BasicVSR's 64 channels, 30 blocks), ``small`` and ``tiny``. The method trains it
with the same PS-frame self-supervision, data, losses and budget as SelfSVD
(:class:`~baselines.learned.base.LearnedMethod`).

The network follows the clip contract of :mod:`baselines.learned._common` (``ps`` and ``mask``
are checked and ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.learned._common import check_clip, zero_ref_feat
from baselines.learned.base import LearnedMethod
from baselines.registry import register_method
from lsvd.flow.base import FlowBackend, flow_warp
from lsvd.models.registry import preset_value, register_network
from lsvd.models.selfsvd import _LRELU_SLOPE, FlowHolder, PixelShufflePack, ResidualBlocksWithInputConv, _encoder

__all__ = ["BASICVSR_PRESETS", "BasicVSRMethod", "BasicVSRNet"]

#: ``preset -> (mid_channels, residual blocks per propagation direction)``; ``paper`` is BasicVSR's.
BASICVSR_PRESETS: dict[str, tuple[int, int]] = {"paper": (64, 30), "small": (32, 8), "tiny": (16, 1)}


@register_network("basicvsr")
class BasicVSRNet(FlowHolder):
    """BasicVSR (Chan et al., CVPR 2021) adapted to same-resolution restoration; no PS-frame input.

    1. ``feat_extract`` (SelfSVD's encoder: two stride-2 convs + 5 residual blocks) gives features
       at 1/4 resolution for every frame.
    2. Flows between neighbouring frames from the ``flow`` backend on bicubic x0.25 images (no
       antialias), without gradient, as SelfSVD computes them.
    3. Backward then forward propagation, each ``h_i = resblocks([feat_i, flow_warp(h_{i+-1})])``
       (``ResidualBlocksWithInputConv(2C, C, num_blocks)``, BasicVSR's update with features in place
       of the low-resolution frame).
    4. Per frame: 1x1 ``fusion`` of both directions, two x2 ``PixelShufflePack``, ``conv_hr``,
       ``conv_last`` (zero-initialised) and a global residual to the input frame, so the untrained
       network is the identity.

    Args:
        mid_channels: feature channels (64 in BasicVSR).
        num_blocks: residual blocks per propagation direction (30 in BasicVSR).
        flow: a flow backend name for :func:`lsvd.flow.create_flow` or a backend instance; one that
            is an ``nn.Module`` is stored as the frozen submodule ``flow_net``.
        flow_kwargs: keyword arguments for :func:`~lsvd.flow.create_flow` when ``flow`` is a name.
    """

    flow_attr = "flow_net"
    #: The sizes :meth:`from_preset` builds (:data:`BASICVSR_PRESETS`).
    presets = BASICVSR_PRESETS

    def __init__(self, mid_channels: int = 64, num_blocks: int = 30, flow: str | FlowBackend = "dis",
                 flow_kwargs: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if mid_channels < 1 or num_blocks < 0:
            raise ValueError(f"expected mid_channels >= 1 and num_blocks >= 0, got {mid_channels} and {num_blocks}")
        self.mid_channels = mid_channels
        self.num_blocks = num_blocks
        self.preset = "custom"

        self.feat_extract = _encoder(mid_channels)
        self.backward_resblocks = ResidualBlocksWithInputConv(2 * mid_channels, mid_channels, num_blocks)
        self.forward_resblocks = ResidualBlocksWithInputConv(2 * mid_channels, mid_channels, num_blocks)
        self.fusion = nn.Conv2d(2 * mid_channels, mid_channels, 1, 1, 0)
        self.upsample1 = PixelShufflePack(mid_channels, mid_channels, 2, upsample_kernel=3)
        self.upsample2 = PixelShufflePack(mid_channels, mid_channels, 2, upsample_kernel=3)
        self.conv_hr = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1)
        self.conv_last = nn.Conv2d(mid_channels, 3, 3, 1, 1)
        nn.init.zeros_(self.conv_last.weight)
        nn.init.zeros_(self.conv_last.bias)
        self.lrelu = nn.LeakyReLU(negative_slope=_LRELU_SLOPE, inplace=True)

        self.set_flow(flow, flow_kwargs)

    @classmethod
    def from_preset(cls, preset: str, *, flow: str | FlowBackend = "dis",
                    flow_kwargs: Mapping[str, Any] | None = None) -> BasicVSRNet:
        """A network of a named size (:data:`BASICVSR_PRESETS`)."""
        mid, blocks = preset_value(cls, preset)
        net = cls(mid, blocks, flow=flow, flow_kwargs=flow_kwargs)
        net.preset = preset
        return net

    def compute_flows(self, lqs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Neighbour flows at 1/4 resolution, without gradient.

        Returns:
            ``(backward, forward)``, each ``(N, T-1, 2, H/4, W/4)``: ``backward[:, i]`` warps frame
            ``i+1`` onto frame ``i``, ``forward[:, i]`` warps frame ``i`` onto frame ``i+1``;
            ``None`` when ``T == 1``.
        """
        n, t, c, h, w = lqs.shape
        if t < 2:
            return None
        hd, wd = h // 4, w // 4
        with torch.no_grad():
            down = F.interpolate(lqs.reshape(n * t, c, h, w), scale_factor=0.25, mode="bicubic",
                                 align_corners=False).reshape(n, t, c, hd, wd)
            early = down[:, :-1].reshape(n * (t - 1), c, hd, wd)
            late = down[:, 1:].reshape(n * (t - 1), c, hd, wd)
            backward = self.flow.estimate(late, early).to(lqs.dtype).reshape(n, t - 1, 2, hd, wd)
            forward = self.flow.estimate(early, late).to(lqs.dtype).reshape(n, t - 1, 2, hd, wd)
        return backward, forward

    def forward(self, lqs: torch.Tensor, ps: torch.Tensor, mask: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """Contract of :mod:`lsvd.models.registry`; ``ps`` and ``mask`` are checked and ignored."""
        check_clip(self, lqs, ps, mask)
        n, t, c, h, w = lqs.shape
        hd, wd = h // 4, w // 4
        flows = self.compute_flows(lqs)
        feats = self.feat_extract(lqs.reshape(n * t, c, h, w)).reshape(n, t, -1, hd, wd)

        backward: list[torch.Tensor] = [feats.new_empty(0)] * t
        hidden = feats.new_zeros(n, self.mid_channels, hd, wd)
        for i in range(t - 1, -1, -1):
            if i < t - 1:
                assert flows is not None
                hidden = flow_warp(hidden, flows[0][:, i])
            hidden = self.backward_resblocks(torch.cat([feats[:, i], hidden], dim=1))
            backward[i] = hidden

        outputs = []
        hidden = feats.new_zeros(n, self.mid_channels, hd, wd)
        for i in range(t):
            if i > 0:
                assert flows is not None
                hidden = flow_warp(hidden, flows[1][:, i - 1])
            hidden = self.forward_resblocks(torch.cat([feats[:, i], hidden], dim=1))
            x = self.lrelu(self.fusion(torch.cat([backward[i], hidden], dim=1)))
            x = self.lrelu(self.upsample1(x))
            x = self.lrelu(self.upsample2(x))
            x = self.lrelu(self.conv_hr(x))
            outputs.append(self.conv_last(x) + lqs[:, i])
        return {"out": torch.stack(outputs, dim=1), "ref_feat": zero_ref_feat(lqs)}


@register_method("basicvsr")
class BasicVSRMethod(LearnedMethod):
    """A BasicVSR-style bidirectional recurrent video network, without the PS-frame input."""

    arch = BasicVSRNet.arch
    citation = "Chan, Wang, Yu, Dong, Loy, BasicVSR, CVPR 2021 (same-resolution restoration variant)"
    video = True
    uses_ps = False
    uses_mask = False
