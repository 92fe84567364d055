"""Helpers shared by the learned baseline networks (the SelfSVD network contract's input checks)."""

from __future__ import annotations

import torch
from torch import nn

from lsvd.models.selfsvd import SelfSVDNet


def check_clip(net: nn.Module, lqs: torch.Tensor, ps: torch.Tensor, mask: torch.Tensor | None) -> None:
    """``SelfSVDNet``'s input checks (``ValueError`` with the expected shapes); the mask is not used here.

    ``SelfSVDNet._check_inputs`` reads nothing from ``self``, so it is reused as is rather than copied.
    """
    SelfSVDNet._check_inputs(net, lqs, ps, mask)  # type: ignore[arg-type]


def zero_ref_feat(lqs: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H/4, W/4)`` zeros: the ``ref_feat`` of a network that does not read the PS frame."""
    n, _, _, h, w = lqs.shape
    return lqs.new_zeros(n, 1, h // 4, w // 4)
