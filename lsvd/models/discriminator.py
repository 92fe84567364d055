"""The PatchGAN discriminator of SelfSVD (spec/selfsvd-official.md §4.2), MMEditing ``PatchDiscriminator`` layout.

conv4x4 s2 (bias) + LReLU(0.2); ``num_conv - 1`` x [conv4x4 s2 + InstanceNorm + LReLU(0.2)] (channels
doubling, capped at 8 x base); conv4x4 s1 + IN + LReLU(0.2); conv4x4 s1 -> 1 logit map. Padding 1,
``InstanceNorm2d(affine=False)``, convs followed by IN keep their bias (as officially), all conv
weights N(0, 0.02), biases 0. Defaults: 2,764,737 parameters; 256x256 input -> 30x30 logits.

State-dict names follow MMEditing (``model.<i>.conv.*`` for the conv blocks, ``model.<last>.*``
for the final conv), so an official ``discriminator.*`` state dict loads after stripping the prefix.
"""

from __future__ import annotations

import torch
from torch import nn


class _ConvBlock(nn.Module):
    """conv4x4 (+ optional InstanceNorm, affine False) + LeakyReLU(0.2); names ``conv``, ``norm``, ``activate``."""

    def __init__(self, cin: int, cout: int, stride: int, norm: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=4, stride=stride, padding=1, bias=True)
        self.norm = nn.InstanceNorm2d(cout, affine=False) if norm else None
        self.activate = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return self.activate(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN with instance norm (spec §4.2).

    Args:
        in_channels: image channels (3).
        base: channels of the first conv (64).
        num_conv: number of stride-2 convs (3); the total conv count is ``num_conv + 2``.
    """

    def __init__(self, in_channels: int = 3, base: int = 64, num_conv: int = 3) -> None:
        super().__init__()
        if in_channels < 1 or base < 1 or num_conv < 1:
            raise ValueError(f"expected positive in_channels, base, num_conv; got {in_channels}, {base}, {num_conv}")
        layers: list[nn.Module] = [_ConvBlock(in_channels, base, stride=2, norm=False)]
        mult = 1
        for n in range(1, num_conv):
            prev, mult = mult, min(2**n, 8)
            layers.append(_ConvBlock(base * prev, base * mult, stride=2, norm=True))
        prev, mult = mult, min(2**num_conv, 8)
        layers.append(_ConvBlock(base * prev, base * mult, stride=1, norm=True))
        layers.append(nn.Conv2d(base * mult, 1, kernel_size=4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        self.init_weights()

    def init_weights(self) -> None:
        """All conv weights N(0, 0.02), biases 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` (the method feeds [0, 1] RGB) -> logits ``(N, 1, H/8 - 2, W/8 - 2)``."""
        if x.ndim != 4:
            raise ValueError(f"expected images (N, C, H, W), found shape {tuple(x.shape)}")
        return self.model(x)
