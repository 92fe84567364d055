"""What the learned baseline networks share: the network contract's input checks and outputs.

Every network follows the contract of :mod:`lsvd.models.registry`::

    out = net(lqs (N, T, 3, H, W) in [0, 1], ps (N, 3, H, W), mask (N, T, 1, H/4, W/4) | None)
    out["out"]       (N, T, 3, H, W), not clamped
    out["ref_feat"]  zeros (N, 1, H/4, W/4): the baselines do not read the PS frame, so the 0.05
                     feature regulariser of the training step is 0

``ps`` and ``mask`` are shape-checked (the same checks and messages as ``SelfSVDNet``) and then
ignored; ``H`` and ``W`` must be positive multiples of 4. Each untrained network is the identity
(exactly), so the parameters upstream receive zero (but connected) gradients on the very first
step, as for SelfSVD's ``zero_conv``.
"""

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


class PerFrameNetwork(nn.Module):
    """A single-image network under the clip contract: :meth:`restore` maps ``(B, 3, H, W)`` frames,
    applied to every frame of the clip independently."""

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, lqs: torch.Tensor, ps: torch.Tensor, mask: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """Contract of :mod:`lsvd.models.registry`; ``ps`` and ``mask`` are checked and ignored."""
        check_clip(self, lqs, ps, mask)
        n, t, c, h, w = lqs.shape
        out = self.restore(lqs.reshape(n * t, c, h, w)).reshape(n, t, c, h, w)
        return {"out": out, "ref_feat": zero_ref_feat(lqs)}
