"""Losses of SelfSVD training (spec/selfsvd-official.md §4.1).

* :func:`aligned_l1` -- the prediction is backward-warped onto the PS frame's grid, then a masked L1.
* :func:`lsgan_d`, :func:`lsgan_g` -- least-squares GAN losses (no 1/2 factor).
* :func:`feature_l1` -- the regulariser ``mean(|ref_feat|)`` on the PS features.
"""

from __future__ import annotations

import torch

from lsvd.flow.base import FlowBackend, backward_warp


def aligned_l1(pred: torch.Tensor, target: torch.Tensor, flow_backend: FlowBackend) -> torch.Tensor:
    """L1 between the prediction aligned onto the target (PS frame) grid and the target (spec §4.1 step 3).

    ``flow = flow_backend.estimate(source=pred, target=target)``; ``aligned, valid = backward_warp(pred, flow)``;
    the loss is ``mean(|aligned * valid - target * valid|)`` over *all* elements (invalid pixels count
    as zeros in the mean; the result is not normalised by the valid area).

    Gradients reach ``pred`` through the warp (bilinear sampling) and, when the backend is
    differentiable (``flow_backend.differentiable``, e.g. PWC-Net), also through the flow estimate, as
    officially (the flow is not detached). With a non-differentiable backend such as DIS the flow is a
    constant and only the warp path carries gradients. The backend's own parameters are never updated
    here; freeze them (``requires_grad_(False)``) and keep them out of every optimiser.

    Args:
        pred: float ``(N, 3, H, W)`` predictions (not clamped).
        target: float ``(N, 3, H, W)`` targets (PS frames, or the teacher's output for SelfSVD*).
        flow_backend: the alignment flow (a :class:`~lsvd.flow.FlowBackend`).

    Returns:
        A scalar tensor.
    """
    if pred.ndim != 4 or pred.shape != target.shape:
        raise ValueError(
            f"aligned_l1: expected pred and target of the same shape (N, 3, H, W), found {tuple(pred.shape)} "
            f"and {tuple(target.shape)}"
        )
    flow = flow_backend.estimate(source=pred, target=target)
    if not getattr(flow_backend, "differentiable", False):
        flow = flow.detach()
    aligned, valid = backward_warp(pred, flow.to(pred.device))
    return (aligned * valid - target * valid).abs().mean()


def lsgan_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator LSGAN loss ``mean((real - 1)^2) + mean(fake^2)`` (spec §4.1 step 4; no 1/2 factor)."""
    return (real_logits - 1.0).pow(2).mean() + fake_logits.pow(2).mean()


def lsgan_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator LSGAN loss ``mean((fake - 1)^2)``."""
    return (fake_logits - 1.0).pow(2).mean()


def feature_l1(ref_feat: torch.Tensor) -> torch.Tensor:
    """The PS-feature regulariser ``mean(|ref_feat|)`` (L1 to zero; spec §4.1 step 2)."""
    return ref_feat.abs().mean()
