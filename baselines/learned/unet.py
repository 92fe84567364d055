"""A NAFNet-style U-Net (Chen et al., ECCV 2022) as a learned baseline: the network and the method (``unet``).

The network is applied to every frame independently, at the sizes ``paper`` (NAFNet-width32),
``small`` and ``tiny``. The method trains it with the same PS-frame self-supervision, data, losses
and budget as SelfSVD (:class:`~baselines.learned.base.LearnedMethod`).

The network follows the clip contract of :mod:`baselines.learned._common` (``ps`` and ``mask``
are checked and ignored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.learned._common import PerFrameNetwork
from baselines.learned.base import LearnedMethod
from baselines.registry import register_method
from lsvd.models.registry import preset_value, register_network

__all__ = ["UNET_PRESETS", "LayerNorm2d", "NAFBlock", "NAFNetMethod", "NAFUNet", "SimpleGate"]

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


@register_network("unet")
class NAFUNet(PerFrameNetwork):
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

    #: The sizes :meth:`from_preset` builds (:data:`UNET_PRESETS`).
    presets = UNET_PRESETS

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

    @classmethod
    def from_preset(cls, preset: str, *, flow: Any = "dis", flow_kwargs: Mapping[str, Any] | None = None
                    ) -> NAFUNet:
        """A NAFNet-style U-Net of a named size (:data:`UNET_PRESETS`); it has no flow (``flow`` is ignored)."""
        width, enc, middle, dec = preset_value(cls, preset)
        net = cls(width, enc, middle, dec)
        net.preset = preset
        return net

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


@register_method("unet")
class NAFNetMethod(LearnedMethod):
    """A NAFNet-style U-Net (single image)."""

    arch = NAFUNet.arch
    citation = "Chen, Chu, Zhang, Sun, Simple Baselines for Image Restoration (NAFNet), ECCV 2022"
    video = False
    uses_ps = False
    uses_mask = False
