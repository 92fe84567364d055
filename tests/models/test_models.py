"""Contract tests of the SelfSVD generator, the PatchGAN discriminator and checkpoint conversion."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from lsvd.flow import FlowBackend
from lsvd.models import (
    PRESETS,
    PatchDiscriminator,
    SelfSVDNet,
    build_selfsvd,
    count_trainable_parameters,
    load_official_generator,
)


class _ZeroFlow(nn.Module, FlowBackend):
    """A module flow backend with a tiny ``net`` (stands in for PWCNetFlow): always zero flow."""

    name = "zero"

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Conv2d(1, 1, 1)

    def estimate(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return source.new_zeros(source.shape[0], 2, *source.shape[2:])


#: DIS needs a side >= 12 px at 1/4 resolution (OpenCV), so DIS clips are 32x48 (flows at 8x12).
H, W = 32, 48
MH, MW = H // 4, W // 4


def _clip(n: int = 1, t: int = 3, h: int = H, w: int = W, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, h // 4, w // 4, generator=g)
    base = nn.functional.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)
    lqs = torch.stack([torch.roll(base, shifts=i, dims=-1) for i in range(t)], dim=1)
    ps = torch.rand(n, 3, h, w, generator=g)
    return lqs, ps


def _perturb_zero_conv(model: SelfSVDNet) -> None:
    with torch.no_grad():
        model.zero_conv.weight.normal_(0, 0.5)
        model.zero_conv.bias.normal_(0, 0.1)


@pytest.fixture(scope="module")
def tiny() -> SelfSVDNet:
    torch.manual_seed(0)
    return build_selfsvd("tiny", flow="dis").eval()


def test_paper_parameter_count() -> None:
    assert PRESETS["paper"] == (64, 60)
    model = build_selfsvd("paper", flow="dis")
    assert count_trainable_parameters(model) == 6_209_039
    assert sum(p.numel() for p in model.parameters()) == 6_209_039  # DIS keeps nothing in the model


def test_official_names_present() -> None:
    keys = set(build_selfsvd("tiny").state_dict())
    for key in ("feat_extract.0.weight", "feat_extract.4.main.0.weight", "feat_extract.4.main.2.4.conv2.bias",
                "ref_feat_extract.2.bias", "backbone.forward_1.main.0.weight",
                "backbone.forward_1.main.2.1.conv1.weight",
                "reconstruction.main.2.4.conv1.weight", "upsample1.upsample_conv.weight",
                "upsample2.upsample_conv.bias", "conv_hr.weight", "conv_last.weight", "zero_conv.weight"):
        assert key in keys, key


def test_module_flow_is_frozen_and_saved_as_pwcnet() -> None:
    model = SelfSVDNet(16, 2, flow=_ZeroFlow())
    assert "pwcnet.net.weight" in model.state_dict()
    assert count_trainable_parameters(model) == count_trainable_parameters(SelfSVDNet(16, 2))
    model.train()
    assert model.training and not model.pwcnet.training


def test_identity_at_init_and_shapes(tiny: SelfSVDNet) -> None:
    lqs, ps = _clip()
    mask = torch.zeros(1, 3, 1, MH, MW)
    with torch.no_grad():
        out = tiny(lqs, ps, mask)
    assert out["out"].shape == (1, 3, 3, H, W)
    assert out["ref_feat"].shape == (1, 16, MH, MW)
    assert torch.equal(out["out"], lqs)
    assert torch.all(tiny.zero_conv.weight == 0) and torch.all(tiny.zero_conv.bias == 0)


def test_shapes_32x32_module_flow() -> None:
    model = SelfSVDNet(16, 2, flow=_ZeroFlow()).eval()
    _perturb_zero_conv(model)
    lqs, ps = _clip(n=2, t=3, h=32, w=32)
    with torch.no_grad():
        out = model(lqs, ps, torch.ones(2, 3, 1, 8, 8))
    assert out["out"].shape == (2, 3, 3, 32, 32) and out["ref_feat"].shape == (2, 16, 8, 8)
    assert torch.isfinite(out["out"]).all()


def test_single_frame(tiny: SelfSVDNet) -> None:
    lqs, ps = _clip(t=1)
    with torch.no_grad():
        assert tiny(lqs, ps)["out"].shape == (1, 1, 3, H, W)


def test_residual_block_init() -> None:
    model = build_selfsvd("tiny")
    block = model.backbone["forward_1"].main[2][0]
    assert torch.all(block.conv1.bias == 0) and torch.all(block.conv2.bias == 0)
    # Kaiming-normal fan_in x0.1: std = 0.1 * sqrt(2 / fan_in)
    fan_in = 16 * 9
    expected = 0.1 * (2 / fan_in) ** 0.5
    std = torch.cat([model.backbone["forward_1"].main[2][i].conv1.weight.flatten() for i in range(2)]).std()
    assert 0.7 * expected < std.item() < 1.3 * expected


def test_masking(tiny: SelfSVDNet) -> None:
    model = build_selfsvd("tiny").eval()
    model.load_state_dict(tiny.state_dict())
    _perturb_zero_conv(model)
    lqs, ps = _clip()
    ones, zeros = torch.ones(1, 3, 1, MH, MW), torch.zeros(1, 3, 1, MH, MW)
    other_ps = torch.rand_like(ps)
    with torch.no_grad():
        out_zero = model(lqs, ps, zeros)["out"]
        out_one = model(lqs, ps, ones)["out"]
        out_one_other = model(lqs, other_ps, ones)["out"]
        out_zero_other = model(lqs, other_ps, zeros)["out"]
    assert not torch.allclose(out_zero, out_one)  # the mask matters when PS features are non-zero
    assert torch.equal(out_one, out_one_other)  # fully masked: PS content has no influence
    assert not torch.allclose(out_zero, out_zero_other)  # unmasked: it has

    class _Zero(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.new_zeros(x.shape[0], 16, x.shape[2] // 4, x.shape[3] // 4)

    model.ref_feat_extract = _Zero()  # no PS branch -> the mask changes nothing
    with torch.no_grad():
        assert torch.equal(model(lqs, ps, zeros)["out"], model(lqs, ps, ones)["out"])


def test_mask_none_equals_zeros(tiny: SelfSVDNet) -> None:
    model = build_selfsvd("tiny").eval()
    model.load_state_dict(tiny.state_dict())
    _perturb_zero_conv(model)
    lqs, ps = _clip(t=2)
    with torch.no_grad():
        assert torch.equal(model(lqs, ps)["out"], model(lqs, ps, torch.zeros(1, 2, 1, MH, MW))["out"])


def test_gradients_reach_encoders() -> None:
    torch.manual_seed(0)
    model = build_selfsvd("tiny")
    _perturb_zero_conv(model)
    lqs, ps = _clip(t=2)
    out = model(lqs, ps, torch.zeros(1, 2, 1, MH, MW))
    (out["out"].square().mean() + out["ref_feat"].abs().mean()).backward()
    for name in ("feat_extract.0.weight", "ref_feat_extract.0.weight", "backbone.forward_1.main.0.weight",
                 "zero_conv.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_bad_sizes(tiny: SelfSVDNet) -> None:
    lqs, ps = _clip(h=32, w=46)
    with pytest.raises(ValueError, match="multiples of 4"):
        tiny(lqs, ps)
    lqs, ps = _clip()
    with pytest.raises(ValueError, match="mask"):
        tiny(lqs, ps, torch.zeros(1, 3, 1, H, W))
    with pytest.raises(ValueError, match="ps"):
        tiny(lqs, ps[:, :, :16])
    with pytest.raises(ValueError, match="lqs"):
        tiny(lqs[0], ps)
    with pytest.raises(ValueError, match="preset"):
        build_selfsvd("huge")


def test_discriminator() -> None:
    disc = PatchDiscriminator()
    assert sum(p.numel() for p in disc.parameters()) == 2_764_737
    assert disc(torch.rand(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    assert not any(isinstance(m, nn.InstanceNorm2d) and m.affine for m in disc.modules())
    assert all(torch.all(m.bias == 0) for m in disc.modules() if isinstance(m, nn.Conv2d))
    assert abs(disc.model[3].conv.weight.std().item() - 0.02) < 0.002


def _official_checkpoint(model: SelfSVDNet) -> dict:
    state = {f"generator.{k}": v.clone() for k, v in model.state_dict().items()}
    state["generator.pwcnet.net.netExtractor.netOne.0.weight"] = torch.ones(16, 3, 3, 3)
    state["generator.pwcnet.net.netExtractor.netOne.0.bias"] = torch.zeros(16)
    state["discriminator.model.0.conv.weight"] = torch.zeros(64, 3, 4, 4)
    state["model_t.conv_last.weight"] = torch.zeros(3, 16, 3, 3)
    return {"meta": {"iter": 1}, "state_dict": state}


def test_convert_roundtrip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    src = build_selfsvd("tiny")
    _perturb_zero_conv(src)
    path = tmp_path / "selfsvd.pth"
    torch.save(_official_checkpoint(src), path)
    dst = build_selfsvd("tiny")
    pwc = load_official_generator(path, dst)
    assert set(pwc) == {"netExtractor.netOne.0.weight", "netExtractor.netOne.0.bias"}
    for key, value in src.state_dict().items():
        assert torch.equal(dst.state_dict()[key], value), key
    lqs, ps = _clip(t=2)
    with torch.no_grad():
        assert torch.equal(src.eval()(lqs, ps)["out"], dst.eval()(lqs, ps)["out"])


def test_convert_mismatch_lists_keys() -> None:
    ckpt = _official_checkpoint(build_selfsvd("tiny"))
    del ckpt["state_dict"]["generator.conv_hr.weight"]
    ckpt["state_dict"]["generator.extra.weight"] = torch.zeros(1)
    with pytest.raises(KeyError, match=r"conv_hr\.weight.*extra\.weight"):
        load_official_generator(ckpt, build_selfsvd("tiny"))
    with pytest.raises(KeyError, match="missing"):  # wrong preset
        load_official_generator(_official_checkpoint(build_selfsvd("tiny")), build_selfsvd("small"))
    with pytest.raises(KeyError, match="generator"):
        load_official_generator({"discriminator.x": torch.zeros(1)}, build_selfsvd("tiny"))


def test_convert_loads_module_flow() -> None:
    src = SelfSVDNet(16, 2, flow=_ZeroFlow())
    with torch.no_grad():
        src.pwcnet.net.weight.fill_(3.0)
    state = {f"generator.{k}": v for k, v in src.state_dict().items()}
    dst = SelfSVDNet(16, 2, flow=_ZeroFlow())
    pwc = load_official_generator(state, dst)
    assert set(pwc) == {"weight", "bias"}
    assert torch.all(dst.pwcnet.net.weight == 3.0)
