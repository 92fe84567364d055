"""AOD-Net (Li et al., ICCV 2017) as a learned baseline: the network (``aodnet``) and the method (``aodnet``).

The network is applied to every frame independently, at the sizes ``paper``, ``small`` and ``tiny``
(all three with the original's width: 1,761 parameters). The method trains it with the same PS-frame self-supervision,
data, losses and budget as SelfSVD (:class:`~baselines.learned.base.LearnedMethod`).

The network follows the clip contract of :mod:`baselines.learned._common` (``ps`` and ``mask``
are checked and ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.learned._common import PerFrameNetwork
from baselines.learned.base import LearnedMethod
from baselines.registry import register_method
from lsvd.models.registry import preset_value, register_network

__all__ = ["AODNET_PRESETS", "AODNet", "AODNetMethod"]


#: ``preset -> width`` (channels of each of the five K-estimation convs). The original AOD-Net has
#: 3 (1,761 parameters); it is already cheap on a CPU, so ``small`` and ``tiny`` keep it too.
AODNET_PRESETS: dict[str, int] = {"paper": 3, "small": 3, "tiny": 3}


@register_network("aodnet")
class AODNet(PerFrameNetwork):
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

    #: The sizes :meth:`from_preset` builds (:data:`AODNET_PRESETS`).
    presets = AODNET_PRESETS

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

    @classmethod
    def from_preset(cls, preset: str, *, flow: Any = "dis", flow_kwargs: Mapping[str, Any] | None = None) -> AODNet:
        """An AOD-Net of a named size (:data:`AODNET_PRESETS`); it has no flow (``flow`` is ignored)."""
        net = cls(preset_value(cls, preset))
        net.preset = preset
        return net

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> ``(N, 3, H, W)``: one AOD-Net pass on images."""
        x1 = F.relu(self.conv1(x))
        x2 = F.relu(self.conv2(x1))
        x3 = F.relu(self.conv3(torch.cat([x1, x2], dim=1)))
        x4 = F.relu(self.conv4(torch.cat([x2, x3], dim=1)))
        k = F.relu(self.conv5(torch.cat([x1, x2, x3, x4], dim=1)))
        return F.relu(k * x - k + self.b)


@register_method("aodnet")
class AODNetMethod(LearnedMethod):
    """AOD-Net (single image, ~1.8k parameters)."""

    arch = AODNet.arch
    citation = "Li, Peng, Wang, Xu, Feng, AOD-Net: All-in-One Dehazing Network, ICCV 2017"
    video = False
    uses_ps = False
    uses_mask = False
