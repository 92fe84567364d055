"""The learned baseline networks (baselines.learned.aodnet, .unet, .basicvsr): what is particular to them
(identity at init, PS frame and mask ignored, every parameter trained, the published parameter counts). The
contract every registered network meets is tests/models/test_contract.py."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from baselines.learned.aodnet import AODNet
from baselines.learned.basicvsr import BasicVSRNet
from baselines.learned.unet import NAFUNet
from lsvd.flow import FlowBackend
from lsvd.models.discriminator import PatchDiscriminator
from lsvd.models.registry import MODELS, build_model, list_models
from lsvd.models.selfsvd import count_trainable_parameters
from lsvd.train.step import LossWeights, train_step

#: The registered networks that baselines defines (a new one joins automatically).
ARCHS = [a for a in list_models() if MODELS.get(a).__module__.startswith("baselines.")]


class ConstFlow(FlowBackend):
    """Stand-in backend: zero flow (identity alignment)."""

    name = "const"

    def estimate(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n, _, h, w = source.shape
        return torch.zeros(n, 2, h, w)


def _tiny(arch: str) -> nn.Module:
    torch.manual_seed(0)
    return build_model(arch, "tiny", flow=ConstFlow())


def _clip(n: int = 1, t: int = 2, h: int = 32, w: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, t, 3, h, w, generator=g), torch.rand(n, 3, h, w, generator=g)


def _perturb_zero_init(net: nn.Module) -> None:
    """Give every zero-initialised parameter (last convs; NAFBlock beta/gamma) random values, so gradients can
    reach everything upstream."""
    with torch.no_grad():
        for p in net.parameters():
            if not p.any():
                p.normal_(0, 0.3)


def test_registered() -> None:
    assert {"aodnet": AODNet, "unet": NAFUNet, "basicvsr": BasicVSRNet} == {a: MODELS.get(a) for a in ARCHS}
    for arch in ARCHS:
        net = build_model(arch, "tiny")  # default flow ("dis") for basicvsr
        assert net.arch == arch and net.preset == "tiny"
        assert net.mid_channels >= 1 and net.num_blocks >= 0


def test_lsvd_finds_them_without_importing_baselines() -> None:
    """lsvd's registry finds them through the ``lsvd.networks`` entry point (``python -m lsvd.train --set
    arch=unet`` works in a process that never imported baselines), from the repository root too."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from lsvd.models.registry import list_models, network_presets; "
            "assert not any(m.startswith('baselines') for m in sys.modules); "
            "names = list_models(); print(names); assert {'aodnet', 'unet', 'basicvsr'} <= set(names), names; "
            "assert network_presets('unet') == ('paper', 'small', 'tiny')")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("cls", [AODNet, NAFUNet, BasicVSRNet])
def test_unknown_preset(cls) -> None:
    with pytest.raises(ValueError, match="paper, small, tiny"):
        cls.from_preset("huge")


@pytest.mark.parametrize("arch", ARCHS)
def test_shape_finite_identity_and_zero_ref_feat(arch: str) -> None:
    net = _tiny(arch)
    lqs, ps = _clip(n=2, t=3, h=36, w=44)  # 36x44: not a multiple of 16, the U-Net pads and crops
    with torch.no_grad():
        out = net(lqs, ps)
    assert out["out"].shape == lqs.shape
    assert torch.isfinite(out["out"]).all()
    # untrained = identity, exactly: AOD-Net through K = 1 (J = K*I - K + 1 = I), the others through a
    # zero-initialised last conv plus the global residual
    torch.testing.assert_close(out["out"], lqs, rtol=0, atol=1e-6)
    assert out["ref_feat"].shape[0] == 2 and torch.count_nonzero(out["ref_feat"]) == 0


@pytest.mark.parametrize("arch", ARCHS)
def test_mask_and_ps_ignored(arch: str) -> None:
    net = _tiny(arch)
    _perturb_zero_init(net)
    lqs, ps = _clip(t=2)
    mask = (torch.rand(1, 2, 1, 8, 8) < 0.5).float()
    with torch.no_grad():
        a = net(lqs, ps)["out"]
        b = net(lqs, torch.rand_like(ps), mask)["out"]
    assert not torch.equal(a, lqs)  # perturbed: no longer the identity
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_bad_shapes(arch: str) -> None:
    net = _tiny(arch)
    lqs, ps = _clip(h=32, w=46)
    with pytest.raises(ValueError, match="multiples of 4"):
        net(lqs, ps)
    lqs, ps = _clip()
    with pytest.raises(ValueError, match=r"\(N, T, 3, H, W\)"):
        net(lqs[:, 0], ps)
    with pytest.raises(ValueError, match="ps: expected"):
        net(lqs, ps[..., :16])
    with pytest.raises(ValueError, match="mask: expected"):
        net(lqs, ps, torch.zeros(1, 2, 1, 32, 32))


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_reach_every_parameter(arch: str) -> None:
    net = _tiny(arch)
    lqs, ps = _clip(t=2, seed=1)
    target = torch.rand_like(lqs)
    # at init every parameter is connected to the loss (grad not None) ...
    (net(lqs, ps)["out"] - target).abs().mean().backward()
    assert all(p.grad is not None for p in net.parameters())
    # ... and once the zero-initialised ones (last conv; NAFBlock beta/gamma) are non-zero, every gradient is
    # non-zero (at init the parameters upstream of them get zero gradients, like SelfSVD's zero_conv)
    net.zero_grad(set_to_none=True)
    _perturb_zero_init(net)
    (net(lqs, ps)["out"] - target).abs().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_paper_parameter_counts() -> None:
    # AOD-Net (3 channels per conv): conv1 1x1 3->3: 9+3 = 12; conv2 3x3 3->3: 81+3 = 84;
    # conv3 5x5 6->3: 450+3 = 453; conv4 7x7 6->3: 882+3 = 885; conv5 3x3 12->3: 324+3 = 327 -> 1,761
    aod = 12 + 84 + 453 + 885 + 327
    assert aod == 1761

    # NAFNet-width32 (GoPro): NAFBlock(c) = conv1 (2c^2+2c) + dwconv (18c+2c) + conv3 (c^2+c) + sca (c^2+c)
    # + conv4 (2c^2+2c) + conv5 (c^2+c) + two LayerNorm2d (4c) + beta, gamma (2c) = 7c^2 + 33c
    def blk(c: int) -> int:
        return 7 * c * c + 33 * c

    intro, ending = 3 * 32 * 9 + 32, 32 * 3 * 9 + 3  # 896, 867
    enc = blk(32) + blk(64) + blk(128) + 28 * blk(256)  # 13,239,520
    downs = sum(8 * c * c + 2 * c for c in (32, 64, 128, 256))  # 2x2 conv c -> 2c: 697,280
    middle = blk(512)  # 1,851,904
    ups = sum(2 * c * c for c in (512, 256, 128, 64))  # 1x1 conv c -> 2c, no bias: 696,320
    dec = blk(256) + blk(128) + blk(64) + blk(32)  # 625,120
    unet = intro + ending + enc + downs + middle + ups + dec
    assert unet == 17_111_907  # NAFNet-width32 as published: 17.11 M

    # BasicVSR-style, C = 64, 30 blocks: conv3x3 a->b = 9ab + b; residual block = 2 * (9C^2 + C) = 73,856
    c = 64
    conv = lambda a, b, k=3: k * k * a * b + b  # noqa: E731
    res = 2 * conv(c, c)
    encoder = conv(3, c) + conv(c, c) + conv(c, c) + 5 * res  # 444,928
    propagation = 2 * (conv(2 * c, c) + 30 * res)  # 4,578,944
    recon = conv(2 * c, c, 1) + 2 * conv(c, 4 * c) + conv(c, c) + conv(c, 3)  # fusion, 2 x upsample, hr, last
    basicvsr = encoder + propagation + recon
    assert basicvsr == 5_366_211

    counts = {"aodnet": count_trainable_parameters(AODNet.from_preset("paper")),
              "unet": count_trainable_parameters(NAFUNet.from_preset("paper")),
              "basicvsr": count_trainable_parameters(build_model("basicvsr", "paper", flow=ConstFlow()))}
    print("paper-preset parameters:", counts)
    assert counts == {"aodnet": aod, "unet": unet, "basicvsr": basicvsr}


@pytest.mark.parametrize("arch", ARCHS)
def test_train_step_runs(arch: str) -> None:
    gen = _tiny(arch)
    disc = PatchDiscriminator(base=8)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-4, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.9, 0.99))
    lqs, ps = _clip(n=1, t=2, h=32, w=32, seed=2)
    batch = {"lqs": lqs, "ps": ps, "mask": torch.zeros(1, 2, 1, 8, 8)}
    before = [p.detach().clone() for p in gen.parameters()]
    out = train_step(batch, gen, disc, opt_g, opt_d, ConstFlow(), LossWeights())
    assert all(math.isfinite(v) for v in out.values()), out
    assert out["loss_reg"] == 0.0
    assert any(not torch.equal(a, b) for a, b in zip(before, gen.parameters(), strict=True))
