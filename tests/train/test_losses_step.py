"""Losses, cosine schedule and the SelfSVD / SelfSVD* training step (spec/selfsvd-official.md §4)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from lsvd.flow import FlowBackend, create_flow
from lsvd.models.discriminator import PatchDiscriminator
from lsvd.models.selfsvd import build_selfsvd
from lsvd.train.losses import aligned_l1, feature_l1, lsgan_d, lsgan_g
from lsvd.train.schedule import cosine_lr, cosine_scheduler
from lsvd.train.step import LossWeights, teacher_targets, train_step


class ConstFlow(FlowBackend):
    """Stand-in backend: a constant flow ``(dx, dy)`` in pixels (0, 0 = zero flow)."""

    name = "const"

    def __init__(self, dx: float = 0.0, dy: float = 0.0) -> None:
        self.dx, self.dy = dx, dy

    def estimate(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n, _, h, w = source.shape
        flow = torch.zeros(n, 2, h, w)
        flow[:, 0], flow[:, 1] = self.dx, self.dy
        return flow


# ------------------------------------------------------------------ losses


def test_aligned_l1_zero_flow_is_plain_l1() -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 3, 8, 10, generator=g), torch.rand(2, 3, 8, 10, generator=g)
    loss = aligned_l1(pred, target, ConstFlow())
    assert loss.ndim == 0
    torch.testing.assert_close(loss, (pred - target).abs().mean())


def test_aligned_l1_integer_shift() -> None:
    g = torch.Generator().manual_seed(1)
    n, h, w, s = 2, 6, 9, 2
    pred, target = torch.rand(n, 3, h, w, generator=g), torch.rand(n, 3, h, w, generator=g)
    # backward_warp moves f pixels by f * W / (W - 1): this flow samples pred[..., x + s] exactly
    loss = aligned_l1(pred, target, ConstFlow(dx=s * (w - 1) / w))
    expected = (pred[..., s:] - target[..., : w - s]).abs().sum() / (n * 3 * h * w)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_aligned_l1_gradient_reaches_pred() -> None:
    g = torch.Generator().manual_seed(2)
    pred = torch.rand(1, 3, 32, 32, generator=g).requires_grad_(True)
    target = torch.rand(1, 3, 32, 32, generator=g)
    for backend in (ConstFlow(dx=0.5), create_flow("dis")):
        pred.grad = None
        aligned_l1(pred, target, backend).backward()
        assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_aligned_l1_shape_error() -> None:
    with pytest.raises(ValueError, match="same shape"):
        aligned_l1(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9), ConstFlow())


def test_lsgan_and_feature_l1_values() -> None:
    real, fake = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.5, -1.0])
    # real: (0 + 1 + 1) / 3; fake: (0.25 + 1) / 2
    assert lsgan_d(real, fake).item() == pytest.approx(2 / 3 + 0.625)
    # (0.25 + 4) / 2
    assert lsgan_g(fake).item() == pytest.approx(2.125)
    assert lsgan_d(torch.ones(4), torch.zeros(4)).item() == 0.0
    assert lsgan_g(torch.ones(4)).item() == 0.0
    assert feature_l1(torch.tensor([[-1.0, 2.0], [0.0, -3.0]])).item() == pytest.approx(1.5)


# ------------------------------------------------------------------ schedule


def test_cosine_lr_endpoints_and_midpoint() -> None:
    assert cosine_lr(0, 1e-4, 1e-7, 100) == pytest.approx(1e-4)
    assert cosine_lr(100, 1e-4, 1e-7, 100) == pytest.approx(1e-7)
    assert cosine_lr(50, 1e-4, 1e-7, 100) == pytest.approx((1e-4 + 1e-7) / 2)
    assert cosine_lr(25, 1.0, 0.0, 100) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert cosine_lr(250, 1e-4, 1e-7, 100) == pytest.approx(1e-7)  # stays at the floor
    with pytest.raises(ValueError):
        cosine_lr(0, 1e-4, 1e-7, 0)


def test_cosine_scheduler_per_group_and_state_round_trip() -> None:
    def make() -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        a, b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
        opt = torch.optim.Adam([{"params": [a], "lr": 1e-4}, {"params": [b], "lr": 2e-4}])
        return opt, cosine_scheduler(opt, min_lr=1e-7, period=10)

    opt, sched = make()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-4, 2e-4])
    for _ in range(4):
        opt.step()
        sched.step()
    lrs = [g["lr"] for g in opt.param_groups]
    assert lrs == pytest.approx([cosine_lr(4, 1e-4, 1e-7, 10), cosine_lr(4, 2e-4, 1e-7, 10)])
    state, opt_state = sched.state_dict(), opt.state_dict()

    opt2, sched2 = make()
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(state)
    assert sched2.last_epoch == 4
    assert [g["lr"] for g in opt2.param_groups] == pytest.approx(lrs)
    for o, s in ((opt, sched), (opt2, sched2)):
        o.step()
        s.step()
    assert [g["lr"] for g in opt2.param_groups] == pytest.approx([g["lr"] for g in opt.param_groups])
    assert opt.param_groups[1]["lr"] == pytest.approx(cosine_lr(5, 2e-4, 1e-7, 10))
    for _ in range(10):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-7, 1e-7])


# ------------------------------------------------------------------ training step

N, T, H, W = 2, 3, 32, 48


def _smoky_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    # a smooth clean scene, larger than the crop, so shifted crops stay inside
    base = torch.nn.functional.interpolate(torch.rand(N, 3, H // 4 + 2, W // 4 + 2, generator=g),
                                           size=(H + 8, W + 8), mode="bilinear", align_corners=False)
    ps = base[..., 4 : 4 + H, 4 : 4 + W].contiguous()
    frames = []
    for _ in range(T):
        dy, dx = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
        frames.append(base[..., 4 + dy : 4 + dy + H, 4 + dx : 4 + dx + W] * 0.6 + 0.4)
    lqs = torch.stack(frames, dim=1).contiguous()
    mask = (torch.rand(N, T, 1, H // 4, W // 4, generator=g) < 0.3).float()
    return {"lqs": lqs, "ps": ps, "mask": mask}


def _setup(seed: int = 0, lr_g: float = 1e-4, lr_d: float = 2e-4):
    torch.manual_seed(seed)
    gen = build_selfsvd("tiny", flow="dis")
    disc = PatchDiscriminator(base=16)
    opt_g = torch.optim.Adam(gen.parameters(), lr=lr_g, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr_d, betas=(0.9, 0.99))
    return gen, disc, opt_g, opt_d


def test_train_step_updates_and_finite() -> None:
    gen, disc, opt_g, opt_d = _setup()
    g0 = [p.detach().clone() for p in gen.parameters()]
    d0 = [p.detach().clone() for p in disc.parameters()]
    out = train_step(_smoky_batch(), gen, disc, opt_g, opt_d, create_flow("dis"), LossWeights())
    assert set(out) >= {"loss_rec", "loss_gan_g", "loss_reg", "loss_g", "loss_d"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())
    assert out["loss_g"] == pytest.approx(out["loss_rec"] + out["loss_gan_g"] + 0.05 * out["loss_reg"], rel=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(g0, gen.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(d0, disc.parameters(), strict=True))
    assert all(p.requires_grad for p in disc.parameters())


def test_train_step_nonfinite_raises() -> None:
    gen, disc, opt_g, opt_d = _setup()
    batch = _smoky_batch()
    batch["ps"] = batch["ps"].clone()
    batch["ps"][0, 0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="loss_rec"):
        train_step(batch, gen, disc, opt_g, opt_d, ConstFlow(), LossWeights())
    assert all(p.requires_grad for p in disc.parameters())


def test_train_step_reconstruction_loss_decreases() -> None:
    # zero_conv starts at zero, so early progress is slow; 3e-4 is fast yet stable over 30 steps on this batch
    gen, disc, opt_g, opt_d = _setup(seed=0, lr_g=3e-4, lr_d=2e-4)
    batch, align = _smoky_batch(seed=1), ConstFlow()
    rec = [train_step(batch, gen, disc, opt_g, opt_d, align, LossWeights())["loss_rec"] for _ in range(30)]
    assert all(math.isfinite(v) for v in rec)
    first, last = sum(rec[:5]) / 5, sum(rec[-5:]) / 5
    assert last < first - 0.005, rec


def test_teacher_targets_differ_from_ps_once_trained() -> None:
    gen, disc, opt_g, opt_d = _setup()
    batch = _smoky_batch()
    teacher = copy.deepcopy(gen).eval().requires_grad_(False)
    # untrained: zero_conv is zero, the teacher is the identity
    torch.testing.assert_close(teacher_targets(teacher, batch["ps"]), batch["ps"])
    with torch.no_grad():
        teacher.zero_conv.bias.fill_(-0.1)
    target = teacher_targets(teacher, batch["ps"])
    assert target.shape == batch["ps"].shape
    assert target.min() >= 0 and target.max() <= 1
    assert not torch.allclose(target, batch["ps"])
    torch.testing.assert_close(target, (batch["ps"] - 0.1).clamp(0, 1))

    t0 = [p.detach().clone() for p in teacher.parameters()]
    out_t = train_step(batch, gen, disc, opt_g, opt_d, ConstFlow(), LossWeights(), teacher=teacher)
    out_p = train_step(batch, copy.deepcopy(gen), copy.deepcopy(disc), copy.deepcopy(opt_g), copy.deepcopy(opt_d),
                       ConstFlow(), LossWeights())
    assert all(math.isfinite(v) for v in out_t.values())
    assert out_t["loss_rec"] != pytest.approx(out_p["loss_rec"])
    assert all(torch.equal(a, b) for a, b in zip(t0, teacher.parameters(), strict=True))
