"""The generator can learn: overfitting one tiny clip, no checkerboard at init (ICNR), the adversarial start."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmarks.metrics.artifacts import periodic_energy
from benchmarks.perf.models import legacy_forward  # the per-frame loop of spec §3.4, as the code was
from lsvd.flow.base import create_flow
from lsvd.models import PatchDiscriminator, build_selfsvd
from lsvd.models.selfsvd import PixelShufflePack, SelfSVDNet, init_upsamplers
from lsvd.train.step import train_step
from tests.conftest import smooth_frames


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return -10.0 * math.log10(float(((a.clamp(0, 1) - b) ** 2).mean()))


def _smoky_clip(t: int = 5, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lqs (1, t, 3, S, S), ps (1, 3, S, S))``: a textured scene panning 1 px per frame under a white haze."""
    lqs, ps, _ = _smoky_clip_with_clean(t, size, seed)
    return lqs, ps


def _smoky_clip_with_clean(t: int = 5, size: int = 32, seed: int = 0
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_smoky_clip` and the clean frames ``(1, t, 3, S, S)`` under the haze."""
    frames = torch.from_numpy(smooth_frames(t + 1, size, size, seed=seed)).permute(0, 3, 1, 2).float() / 255.0
    ps = frames[0]
    ramp = torch.linspace(0.3, 0.7, size).view(1, 1, size)
    trans = (1.0 - ramp * torch.linspace(0.6, 1.0, t).view(t, 1, 1, 1)).expand(t, 1, size, size)
    lqs = frames[1:] * trans + 0.9 * (1.0 - trans)
    return lqs[None], ps[None], frames[1:][None]


def _residual_branch(net: SelfSVDNet, lqs: torch.Tensor, ps: torch.Tensor) -> np.ndarray:
    """The reconstruction branch before ``zero_conv`` (what the output becomes once ``zero_conv`` learns)."""
    seen = {}
    handle = net.conv_last.register_forward_hook(lambda _m, _i, out: seen.__setitem__("out", out))
    with torch.no_grad():
        net(lqs, ps)
    handle.remove()
    return seen["out"][0].permute(1, 2, 0).numpy()


def _as_u8_pair(residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scaled = np.clip(128 + residual / (np.abs(residual).max() + 1e-12) * 100, 0, 255).astype(np.uint8)
    return scaled, np.full_like(scaled, 128)


def test_official_init_puts_a_checkerboard_in_the_residual_branch_and_icnr_removes_it() -> None:
    """The diagnosis: with the official init the branch before zero_conv is mostly grid; ICNR makes it smooth."""
    lqs, ps = _smoky_clip(t=2, size=64)
    torch.manual_seed(0)
    official = build_selfsvd("tiny")
    torch.manual_seed(0)
    icnr = init_upsamplers(build_selfsvd("tiny"), "icnr")
    grid_official = periodic_energy(*_as_u8_pair(_residual_branch(official, lqs, ps)))
    grid_icnr = periodic_energy(*_as_u8_pair(_residual_branch(icnr, lqs, ps)))
    assert grid_official > 0.5, grid_official
    assert grid_icnr < 0.1, grid_icnr


def test_icnr_is_conv_then_nearest_upsampling() -> None:
    torch.manual_seed(0)
    up = PixelShufflePack(4, 3, 2, upsample_kernel=3)
    up.icnr_()
    x = torch.randn(2, 4, 5, 6)
    first = torch.nn.functional.conv2d(x, up.upsample_conv.weight[::4], up.upsample_conv.bias[::4], padding=1)
    expected = torch.nn.functional.interpolate(first, scale_factor=2, mode="nearest")
    torch.testing.assert_close(up(x), expected)
    with pytest.raises(ValueError, match="upsample init"):
        init_upsamplers(up, "xavier")


def test_batched_forward_equals_the_per_frame_loop() -> None:
    torch.manual_seed(0)
    net = build_selfsvd("tiny")
    torch.nn.init.normal_(net.zero_conv.weight, 0.0, 0.5)  # a trained-like, non-identity network
    lqs, ps = _smoky_clip(t=4, size=32)
    lqs = torch.cat([lqs, lqs.flip(-1)])
    ps = torch.cat([ps, ps.flip(-1)])
    mask = (torch.rand(2, 4, 1, 8, 8) > 0.5).float()
    with torch.no_grad():
        expected = legacy_forward(net, lqs, ps, mask)["out"]
        per_frame = net(lqs, ps, mask)["out"]  # inference path: the tail frame by frame
    batched = net(lqs, ps, mask)["out"].detach()  # training path: the tail on N*T frames at once
    torch.testing.assert_close(per_frame, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(batched, expected, rtol=1e-5, atol=1e-6)


def test_generator_overfits_one_clip_to_its_ps_target() -> None:
    """The reconstruction loss alone must bring a tiny generator close to the clean frames (the PS frame, moved).

    The PS frame is the clean scene of frame 0 and the frames pan by 1 px each, so the generator
    can only fit its aligned target by removing the haze: its PSNR against the clean frames must
    rise far above the smoky input's.
    """
    torch.manual_seed(0)
    lqs, ps, clean = _smoky_clip_with_clean()
    net = init_upsamplers(build_selfsvd("tiny"), "icnr")
    disc = PatchDiscriminator(base=8)
    opt_g = torch.optim.Adam(net.parameters(), lr=2e-3, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-3, betas=(0.9, 0.99))
    batch = {"lqs": lqs, "ps": ps, "mask": torch.zeros(1, 5, 1, 8, 8)}
    psnr_in = _psnr(lqs, clean)
    first = train_step(batch, net, disc, opt_g, opt_d, create_flow("dis"), adversarial=False)["loss_rec"]
    for _ in range(150):
        last = train_step(batch, net, disc, opt_g, opt_d, create_flow("dis"), adversarial=False)["loss_rec"]
    with torch.no_grad():
        psnr_out = _psnr(net(lqs, ps)["out"], clean)
    assert last < 0.5 * first, (first, last)
    assert psnr_out > psnr_in + 6.0, (psnr_in, psnr_out)


def test_no_adversarial_term_before_gan_start() -> None:
    """``adversarial=False``: the discriminator is not stepped and no adversarial loss is reported."""
    torch.manual_seed(0)
    lqs, ps = _smoky_clip(t=2)
    net, disc = build_selfsvd("tiny"), PatchDiscriminator(base=8)
    opt_g = torch.optim.Adam(net.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-3)
    batch = {"lqs": lqs, "ps": ps, "mask": torch.zeros(1, 2, 1, 8, 8)}
    before = [p.detach().clone() for p in disc.parameters()]
    values = train_step(batch, net, disc, opt_g, opt_d, create_flow("dis"), adversarial=False)
    assert set(values) == {"loss_rec", "loss_reg", "loss_g"}
    assert all(torch.equal(a, b) for a, b in zip(before, disc.parameters(), strict=True))
    values = train_step(batch, net, disc, opt_g, opt_d, create_flow("dis"), adversarial=True)
    assert {"loss_gan_g", "loss_d", "d_real", "d_fake"} <= set(values)
    assert not all(torch.equal(a, b) for a, b in zip(before, disc.parameters(), strict=True))
