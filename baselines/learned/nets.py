"""Learned baseline networks behind the SelfSVD network contract (registered in ``lsvd.models.registry.MODELS``).

Three architectures, each at the sizes ``paper`` (GPU scale), ``small`` (CPU) and ``tiny`` (tests)::

    build_model("aodnet", "paper")     # AOD-Net (Li et al., ICCV 2017), per frame
    build_model("unet", "small")       # NAFNet-style U-Net (Chen et al., ECCV 2022), per frame
    build_model("basicvsr", "tiny")    # BasicVSR-style bidirectional recurrent net (Chan et al., CVPR 2021)

Every network follows the contract of :mod:`lsvd.models.registry`::

    out = net(lqs (N, T, 3, H, W) in [0, 1], ps (N, 3, H, W), mask (N, T, 1, H/4, W/4) | None)
    out["out"]       (N, T, 3, H, W), not clamped
    out["ref_feat"]  zeros (N, 1, H/4, W/4): none of these networks reads the PS frame, so the
                     0.05 feature regulariser of the training step is 0

``ps`` and ``mask`` are shape-checked (the same checks and messages as ``SelfSVDNet``) and then
ignored. ``H`` and ``W`` must be positive multiples of 4 for all three (the U-Net pads internally to
a multiple of ``2 ** depth`` and crops back). The untrained networks are the identity (exactly):
AOD-Net through ``K = 1`` (its last conv starts with zero weights and bias 1), the U-Net and the
BasicVSR-style net through a zero-initialised last conv and a global residual. As for SelfSVD's
``zero_conv``, this means the parameters upstream of a zero-initialised layer receive zero (but
connected) gradients on the very first step; they train from the second step on.

Importing this module only defines and registers the factories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lsvd.flow.base import FlowBackend, flow_warp
from lsvd.models.selfsvd import (
    _LRELU_SLOPE,
    FlowHolder,
    PixelShufflePack,
    ResidualBlocksWithInputConv,
    SelfSVDNet,
    _encoder,
)

__all__ = [
    "AODNET_PRESETS",
    "BASICVSR_PRESETS",
    "UNET_PRESETS",
    "AODNet",
    "BasicVSRNet",
    "NAFBlock",
    "NAFUNet",
    "build_aodnet",
    "build_basicvsr",
    "build_unet",
]


def _check_clip(net: nn.Module, lqs: torch.Tensor, ps: torch.Tensor, mask: torch.Tensor | None) -> None:
    """``SelfSVDNet``'s input checks (``ValueError`` with the expected shapes); the mask is not used here.

    ``SelfSVDNet._check_inputs`` reads nothing from ``self``, so it is reused as is rather than copied.
    """
    SelfSVDNet._check_inputs(net, lqs, ps, mask)  # type: ignore[arg-type]


def _zero_ref_feat(lqs: torch.Tensor) -> torch.Tensor:
    n, _, _, h, w = lqs.shape
    return lqs.new_zeros(n, 1, h // 4, w // 4)


def _check_preset(kind: str, preset: str, presets: Mapping[str, Any]) -> Any:
    if preset not in presets:
        raise ValueError(f"unknown {kind} preset {preset!r}: expected one of {', '.join(presets)}")
    return presets[preset]


# ---------------------------------------------------------------------------------------------- AOD-Net

#: ``preset -> width`` (channels of each of the five K-estimation convs). The original AOD-Net has
#: 3 (1,761 parameters); it is already cheap on a CPU, so ``small`` and ``tiny`` keep it too.
AODNET_PRESETS: dict[str, int] = {"paper": 3, "small": 3, "tiny": 3}


class AODNet(nn.Module):
    """AOD-Net (Li et al., "AOD-Net: All-in-One Dehazing Network", ICCV 2017), applied to every frame.

    K-estimation module (every conv followed by ReLU; ``w`` = width, 3 in the paper)::

        x1 = conv1(I)                   1x1, 3 -> w
        x2 = conv2(x1)                  3x3, w -> w
        x3 = conv3(cat[x1, x2])         5x5, 2w -> w
        x4 = conv4(cat[x2, x3])         7x7, 2w -> w
        K  = conv5(cat[x1, x2, x3, x4]) 3x3, 4w -> 3
        J  = relu(K * I - K + b),  b = 1

    The output ReLU is the original's (``J`` is otherwise not clamped). Initialisation: PyTorch's
    default for conv1..conv4; conv5 has zero weights and bias 1, so ``K = 1`` and ``J = I`` exactly
    (the identity, with the formulation unchanged). conv1..conv4 therefore get zero gradients on the
    first step only.

    Args:
        width: channels of conv1..conv4 (3 in the paper).
        b: the constant bias ``b`` of the clean-image formula (1 in the paper).
    """

    arch = "aodnet"

    def __init__(self, width: int = 3, b: float = 1.0) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"expected width >= 1, got {width}")
        self.mid_channels = width
        self.num_blocks = 5  # the five K-estimation convs
        self.preset = "custom"
        self.b = float(b)
        self.conv1 = nn.Conv2d(3, width, 1, 1, 0)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1)
        self.conv3 = nn.Conv2d(2 * width, width, 5, 1, 2)
        self.conv4 = nn.Conv2d(2 * width, width, 7, 1, 3)
        self.conv5 = nn.Conv2d(4 * width, 3, 3, 1, 1)
        nn.init.zeros_(self.conv5.weight)
        nn.init.constant_(self.conv5.bias, 1.0)

    def dehaze(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> ``(N, 3, H, W)``: one AOD-Net pass on images."""
        x1 = F.relu(self.conv1(x))
        x2 = F.relu(self.conv2(x1))
        x3 = F.relu(self.conv3(torch.cat([x1, x2], dim=1)))
        x4 = F.relu(self.conv4(torch.cat([x2, x3], dim=1)))
        k = F.relu(self.conv5(torch.cat([x1, x2, x3, x4], dim=1)))
        return F.relu(k * x - k + self.b)

    def forward(self, lqs: torch.Tensor, ps: torch.Tensor, mask: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """Contract of :mod:`lsvd.models.registry`; ``ps`` and ``mask`` are checked and ignored."""
        _check_clip(self, lqs, ps, mask)
        n, t, c, h, w = lqs.shape
        out = self.dehaze(lqs.reshape(n * t, c, h, w)).reshape(n, t, c, h, w)
        return {"out": out, "ref_feat": _zero_ref_feat(lqs)}


def build_aodnet(preset: str = "paper") -> AODNet:
    """An :class:`AODNet` of a named size (:data:`AODNET_PRESETS`)."""
    net = AODNet(_check_preset("aodnet", preset, AODNET_PRESETS))
    net.preset = preset
    return net


# ---------------------------------------------------------------------------------- NAFNet-style U-Net

#: ``preset -> (width, encoder blocks per level, middle blocks, decoder blocks per level)``.
#: ``paper`` is NAFNet-width32 as published for GoPro deblurring (megvii-research/NAFNet,
#: ``options/*/GoPro/NAFNet-width32.yml``: width 32, enc [1, 1, 1, 28], middle 1, dec [1, 1, 1, 1]).
#: All presets have 4 levels, so inputs are padded to multiples of 16.
UNET_PRESETS: dict[str, tuple[int, tuple[int, ...], int, tuple[int, ...]]] = {
    "paper": (32, (1, 1, 1, 28), 1, (1, 1, 1, 1)),
    "small": (16, (1, 1, 1, 2), 1, (1, 1, 1, 1)),
    "tiny": (8, (1, 1, 1, 1), 1, (1, 1, 1, 1)),
}


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of every pixel of ``(N, C, H, W)`` (NAFNet's, eps 1e-6), affine."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them (NAFNet's non-linearity)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        return x1 * x2


class NAFBlock(nn.Module):
    """NAFNet's block (DW and FFN expansion 2, no dropout), as in the official ``NAFNet_arch.py``.

    ``y = x + beta * conv3(SCA(SG(dwconv3x3(conv1(LN(x))))))``, ``out = y + gamma * conv5(SG(conv4(LN(y))))``
    with the simplified channel attention ``SCA(z) = z * conv1x1(avgpool(z))``; ``beta`` and
    ``gamma`` start at zero (each block starts as the identity). Parameters: ``7c^2 + 33c``.

    Args:
        c: channels.
    """

    def __init__(self, c: int) -> None:
        super().__init__()
        dw = 2 * c
        self.conv1 = nn.Conv2d(c, dw, 1, 1, 0)
        self.conv2 = nn.Conv2d(dw, dw, 3, 1, 1, groups=dw)
        self.conv3 = nn.Conv2d(dw // 2, c, 1, 1, 0)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1, 1, 0))
        self.sg = SimpleGate()
        self.conv4 = nn.Conv2d(c, 2 * c, 1, 1, 0)
        self.conv5 = nn.Conv2d(c, c, 1, 1, 0)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.sg(self.conv2(self.conv1(self.norm1(inp))))
        x = self.conv3(x * self.sca(x))
        y = inp + x * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFUNet(nn.Module):
    """NAFNet (Chen et al., "Simple Baselines for Image Restoration", ECCV 2022), applied to every frame.

    ``intro`` conv3x3 (3 -> width), per level an encoder of NAFBlocks and a 2x2 stride-2 conv
    (``c -> 2c``), middle NAFBlocks, per level a 1x1 conv (``c -> 2c``, no bias) + pixel shuffle
    x2, an additive skip connection and a decoder of NAFBlocks, ``ending`` conv3x3 (width -> 3) and
    a global residual. Unlike the original, ``ending`` is zero-initialised, so the untrained network
    is the identity.

    Inputs are replicate-padded on the right and bottom to multiples of ``2 ** depth`` (16 for four
    levels) and the output is cropped back (the original pads with zeros; replicate avoids a dark
    border in the channel-attention averages and the layer norms).

    Args:
        width: channels of the first level (32 for NAFNet-width32).
        enc_blocks: NAFBlocks per encoder level (its length is the depth).
        middle_blocks: NAFBlocks at the bottom.
        dec_blocks: NAFBlocks per decoder level, deepest first (same length as ``enc_blocks``).
    """

    arch = "unet"

    def __init__(self, width: int = 32, enc_blocks: Sequence[int] = (1, 1, 1, 28), middle_blocks: int = 1,
                 dec_blocks: Sequence[int] = (1, 1, 1, 1)) -> None:
        super().__init__()
        if width < 1 or len(enc_blocks) != len(dec_blocks) or min((*enc_blocks, *dec_blocks, middle_blocks)) < 0:
            raise ValueError(f"expected width >= 1, non-negative block counts and as many decoder as encoder levels; "
                             f"got {width}, {list(enc_blocks)}, {middle_blocks}, {list(dec_blocks)}")
        self.mid_channels = width
        self.enc_blocks, self.middle_blocks, self.dec_blocks = tuple(enc_blocks), middle_blocks, tuple(dec_blocks)
        self.num_blocks = sum(enc_blocks) + middle_blocks + sum(dec_blocks)
        self.preset = "custom"
        self.pad_multiple = 2 ** len(enc_blocks)

        self.intro = nn.Conv2d(3, width, 3, 1, 1)
        self.ending = nn.Conv2d(width, 3, 3, 1, 1)
        nn.init.zeros_(self.ending.weight)
        nn.init.zeros_(self.ending.bias)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.decoders, self.ups = nn.ModuleList(), nn.ModuleList()
        chan = width
        for num in enc_blocks:
            self.encoders.append(nn.Sequential(*(NAFBlock(chan) for _ in range(num))))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            chan *= 2
        self.middle_blks = nn.Sequential(*(NAFBlock(chan) for _ in range(middle_blocks)))
        for num in dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, 2 * chan, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*(NAFBlock(chan) for _ in range(num))))

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> ``(N, 3, H, W)`` for any ``H``, ``W`` (padded internally, cropped back)."""
        h, w = x.shape[-2:]
        m = self.pad_multiple
        pad_h, pad_w = (m - h % m) % m, (m - w % m) % m
        inp = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        y = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            y = encoder(y)
            skips.append(y)
            y = down(y)
        y = self.middle_blks(y)
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1], strict=True):
            y = decoder(up(y) + skip)
        y = self.ending(y) + inp
        return y[:, :, :h, :w]

    def forward(self, lqs: torch.Tensor, ps: torch.Tensor, mask: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """Contract of :mod:`lsvd.models.registry`; ``ps`` and ``mask`` are checked and ignored."""
        _check_clip(self, lqs, ps, mask)
        n, t, c, h, w = lqs.shape
        out = self.restore(lqs.reshape(n * t, c, h, w)).reshape(n, t, c, h, w)
        return {"out": out, "ref_feat": _zero_ref_feat(lqs)}


def build_unet(preset: str = "paper") -> NAFUNet:
    """A :class:`NAFUNet` of a named size (:data:`UNET_PRESETS`)."""
    width, enc, middle, dec = _check_preset("unet", preset, UNET_PRESETS)
    net = NAFUNet(width, enc, middle, dec)
    net.preset = preset
    return net


# ------------------------------------------------------------------------------- BasicVSR-style video net

#: ``preset -> (mid_channels, residual blocks per propagation direction)``; ``paper`` is BasicVSR's.
BASICVSR_PRESETS: dict[str, tuple[int, int]] = {"paper": (64, 30), "small": (32, 8), "tiny": (16, 1)}


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

    arch = "basicvsr"

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
        _check_clip(self, lqs, ps, mask)
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
        return {"out": torch.stack(outputs, dim=1), "ref_feat": _zero_ref_feat(lqs)}


def build_basicvsr(preset: str = "paper", *, flow: str | FlowBackend = "dis",
                   flow_kwargs: Mapping[str, Any] | None = None) -> BasicVSRNet:
    """A :class:`BasicVSRNet` of a named size (:data:`BASICVSR_PRESETS`)."""
    mid, blocks = _check_preset("basicvsr", preset, BASICVSR_PRESETS)
    net = BasicVSRNet(mid, blocks, flow=flow, flow_kwargs=flow_kwargs)
    net.preset = preset
    return net


# ------------------------------------------------------------------------------------------ registration


def _register() -> None:
    from lsvd.models.registry import MODELS

    @MODELS.register("aodnet")
    def _aodnet(preset: str, *, flow: Any = "dis", flow_kwargs: Mapping[str, Any] | None = None) -> AODNet:
        """AOD-Net per frame (``flow`` is ignored)."""
        return build_aodnet(preset)

    @MODELS.register("unet")
    def _unet(preset: str, *, flow: Any = "dis", flow_kwargs: Mapping[str, Any] | None = None) -> NAFUNet:
        """NAFNet-style U-Net per frame (``flow`` is ignored)."""
        return build_unet(preset)

    @MODELS.register("basicvsr")
    def _basicvsr(preset: str, *, flow: str | FlowBackend = "dis",
                  flow_kwargs: Mapping[str, Any] | None = None) -> BasicVSRNet:
        """BasicVSR-style bidirectional recurrent network (no PS-frame input)."""
        return build_basicvsr(preset, flow=flow, flow_kwargs=flow_kwargs)


_register()
