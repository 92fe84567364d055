"""One SelfSVD / SelfSVD* training iteration (spec/selfsvd-official.md §4.1, §4.4).

Per iteration: generator forward on the clip, targets = the PS frame repeated over T (or, for
SelfSVD*, a frozen teacher's clamped output on the PS frame as a one-frame clip), then

* ``L_rec = aligned_l1(out, target)`` over all ``N*T`` frames (prediction warped onto the PS grid),
* ``L_reg = mean(|ref_feat|)``,
* ``L_G = mean((D(out) - 1)^2)`` on the unaligned predictions,

a generator step on ``rec * L_rec + gan * L_G + reg * L_reg`` (D frozen), then a discriminator step
on ``mean((D(target) - 1)^2) + mean(D(out.detach())^2)``. G first, both every iteration, as officially;
with ``adversarial=False`` (before ``TrainConfig.gan_start``, a small-budget option) only the G step
without ``L_G``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from lsvd.flow.base import FlowBackend
from lsvd.train.losses import aligned_l1, feature_l1, lsgan_d, lsgan_g


@dataclass
class LossWeights:
    """Weights of the generator loss terms (official: 1, 1, 0.05)."""

    rec: float = 1.0
    gan: float = 1.0
    reg: float = 0.05


def _check_finite(name: str, value: torch.Tensor) -> float:
    out = float(value.detach())
    if not math.isfinite(out):
        raise FloatingPointError(f"train_step: {name} is not finite ({out}); no optimiser step was taken for it")
    return out


@torch.no_grad()
def teacher_targets(teacher: nn.Module, ps: torch.Tensor) -> torch.Tensor:
    """SelfSVD* pseudo-targets (spec §4.4): ``clamp(teacher(ps as a 1-frame clip, ps, zero mask)["out"], 0, 1)``.

    Args:
        teacher: a frozen generator with the :class:`~lsvd.models.selfsvd.SelfSVDNet` interface.
        ps: ``(N, 3, H, W)`` PS frames.

    Returns:
        ``(N, 3, H, W)`` in [0, 1], without gradient.
    """
    n, _, h, w = ps.shape
    mask = ps.new_zeros((n, 1, 1, h // 4, w // 4))
    return teacher(ps[:, None], ps, mask)["out"][:, 0].clamp(0.0, 1.0)


def train_step(
    batch: Mapping[str, torch.Tensor],
    generator: nn.Module,
    discriminator: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    align_flow: FlowBackend,
    weights: LossWeights | None = None,
    *,
    teacher: nn.Module | None = None,
    amp_dtype: torch.dtype | None = None,
    adversarial: bool = True,
) -> dict[str, float]:
    """One training iteration (spec §4.1 steps 1-5; SelfSVD* targets when ``teacher`` is given, §4.4).

    Args:
        batch: ``{"lqs": (N, T, 3, H, W), "ps": (N, 3, H, W), "mask": (N, T, 1, H/4, W/4)}``
            (as the datasets give them; tensors on the models' device).
        generator: the generator (``SelfSVDNet`` interface: returns ``{"out", "ref_feat"}``).
        discriminator: image -> logits (e.g. :class:`~lsvd.models.discriminator.PatchDiscriminator`).
        opt_g: optimiser of the generator's parameters.
        opt_d: optimiser of the discriminator's parameters.
        align_flow: flow backend aligning predictions onto the targets for ``L_rec`` (frozen;
            gradients pass through its flow only if it is differentiable, see :func:`aligned_l1`).
        weights: loss weights (default :class:`LossWeights`).
        teacher: SelfSVD*'s frozen teacher generator; ``None`` for SelfSVD (target = PS frame).
        amp_dtype: run the networks under ``torch.autocast`` with this dtype (``torch.bfloat16`` on
            CUDA); the losses are computed in float32. ``None``: no autocast.
        adversarial: ``False`` before the adversarial term starts (``TrainConfig.gan_start``): the
            generator loss is ``rec * L_rec + reg * L_reg``, the discriminator is neither run nor
            stepped, and ``loss_gan_g``, ``loss_d``, ``d_real``, ``d_fake`` are left out of the result.

    Under DDP pass the wrapped modules; the generator step calls the discriminator's inner module so
    that its (frozen) parameters take no part in gradient synchronisation.

    Returns:
        ``{"loss_rec", "loss_gan_g", "loss_reg", "loss_g", "loss_d", "d_real", "d_fake"}`` floats
        (the last two are the mean discriminator logits on targets and predictions; the adversarial
        ones only when ``adversarial``).

    Raises:
        FloatingPointError: a loss is NaN or infinite (named in the message); the step that would
            use it is not taken.
    """
    weights = weights or LossWeights()
    lqs, ps, mask = batch["lqs"], batch["ps"], batch["mask"]
    if lqs.ndim != 5:
        raise ValueError(f"batch['lqs']: expected (N, T, 3, H, W), found {tuple(lqs.shape)}")
    n, t, c, h, w = lqs.shape

    autocast = torch.autocast(lqs.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None)
    if teacher is not None:
        with autocast:
            target = teacher_targets(teacher, ps).float()
    else:
        target = ps
    targets = target[:, None].expand(n, t, c, h, w).reshape(n * t, c, h, w).detach()

    # ---- generator step (D frozen; its inner module under DDP, see above)
    d_inner = discriminator.module if isinstance(discriminator, DistributedDataParallel) else discriminator
    d_flags = [p.requires_grad for p in discriminator.parameters()]
    discriminator.requires_grad_(False)
    try:
        with autocast:
            result = generator(lqs, ps, mask)
            out = result["out"].reshape(n * t, c, h, w).float()
            fake_for_g = d_inner(out).float() if adversarial else None
        loss_rec = aligned_l1(out, targets, align_flow)
        loss_reg = feature_l1(result["ref_feat"].float())
        loss_g = weights.rec * loss_rec + weights.reg * loss_reg
        values = {"loss_rec": _check_finite("loss_rec", loss_rec)}
        if fake_for_g is not None:
            loss_gan_g = lsgan_g(fake_for_g)
            loss_g = loss_g + weights.gan * loss_gan_g
            values["loss_gan_g"] = _check_finite("loss_gan_g", loss_gan_g)
        values["loss_reg"] = _check_finite("loss_reg", loss_reg)
        values["loss_g"] = _check_finite("loss_g", loss_g)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    finally:
        for p, flag in zip(discriminator.parameters(), d_flags, strict=True):
            p.requires_grad_(flag)

    if not adversarial:
        return values

    # ---- discriminator step
    # The N*T real images are the N targets repeated T times: D sees each once (instance norm is per
    # image, so the mean of the real term, and its gradient, are those over the N*T copies). One
    # forward of both halves.
    with autocast:
        logits = discriminator(torch.cat([target.detach(), out.detach()])).float()
    real_logits, fake_logits = logits[:n], logits[n:]
    loss_d = lsgan_d(real_logits, fake_logits)
    values["loss_d"] = _check_finite("loss_d", loss_d)
    values["d_real"] = float(real_logits.detach().mean())
    values["d_fake"] = float(fake_logits.detach().mean())
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    return values
