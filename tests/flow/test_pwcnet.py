"""PWC-Net port: architecture and names of pytorch-pwc, weight loading, cost volume, wrapper convention."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lsvd.flow import backward_warp, create_flow
from lsvd.flow.pwcnet import (
    PWCNet,
    PWCNetFlow,
    correlation,
    default_weights_path,
    extract_pwcnet_state_dict,
    load_pwcnet_weights,
)


@pytest.fixture(scope="module")
def random_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return PWCNet().state_dict()


def assert_same_weights(flow: PWCNetFlow, state: dict[str, torch.Tensor]) -> None:
    loaded = flow.net.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


# --- architecture -------------------------------------------------------------------------------


def test_parameter_count_and_official_names(random_state):
    assert sum(p.numel() for p in PWCNet().parameters()) == 9_374_274
    shapes = {k: tuple(v.shape) for k, v in random_state.items()}
    assert shapes["netExtractor.netOne.0.weight"] == (16, 3, 3, 3)
    assert shapes["netExtractor.netSix.4.weight"] == (196, 196, 3, 3)
    assert shapes["netSix.netOne.0.weight"] == (128, 81, 3, 3)
    assert shapes["netFiv.netOne.0.weight"] == (128, 81 + 128 + 4, 3, 3)
    assert shapes["netTwo.netOne.0.weight"] == (128, 81 + 32 + 4, 3, 3)
    assert shapes["netFiv.netUpflow.weight"] == (2, 2, 4, 4)
    assert shapes["netFiv.netUpfeat.weight"] == (81 + 448, 2, 4, 4)
    assert shapes["netTwo.netSix.0.weight"] == (2, 565, 3, 3)
    assert shapes["netRefiner.netMain.0.weight"] == (128, 565, 3, 3)
    assert shapes["netRefiner.netMain.12.weight"] == (2, 32, 3, 3)
    assert "netSix.netUpflow.weight" not in shapes  # the coarsest level has no upsampling
    assert {k.split(".")[0] for k in shapes} == {"netExtractor", "netTwo", "netThr", "netFou", "netFiv", "netSix",
                                                 "netRefiner"}


# --- weights ------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["plain", "module.", "net.", "sniklaus"])
def test_loads_official_name_variants(random_state, layout):
    if layout == "plain":
        state = dict(random_state)
    elif layout == "sniklaus":  # the original file's names: moduleExtractor.moduleOne.0.weight, ...
        state = {k.replace("net", "module"): v for k, v in random_state.items()}
        assert "moduleExtractor.moduleOne.0.weight" in state
    else:
        state = {layout + k: v for k, v in random_state.items()}
    assert_same_weights(PWCNetFlow(weights=state, device="cpu"), random_state)


def test_loads_an_official_selfsvd_checkpoint_file(tmp_path, random_state):
    torch.manual_seed(1)
    other = PWCNet().state_dict()  # a second PWC-Net (the loss's alignnet) that must not be chosen
    state_dict = {f"generator.pwcnet.net.{k}": v for k, v in random_state.items()}
    state_dict.update({f"alignnet.net.{k}": v for k, v in other.items()})
    state_dict["generator.conv_last.weight"] = torch.zeros(3, 64, 3, 3)
    path = tmp_path / "selfsvd.pth"
    torch.save({"meta": {"iter": 100000, "mmedit_version": "0.16.0"}, "state_dict": state_dict}, path)
    flow = PWCNetFlow(weights=path, device="cpu")
    assert_same_weights(flow, random_state)
    assert flow.config()["weights"] == str(path) and len(flow.config()["weights_sha256"]) == 64
    assert load_pwcnet_weights(path, prefix="alignnet.net.").keys() == other.keys()
    without_generator = {k: v for k, v in state_dict.items() if k.startswith("alignnet")}
    without_generator["discriminator.net.netExtractor.netOne.0.weight"] = torch.zeros(16, 3, 3, 3)
    with pytest.raises(ValueError, match="several PWC-Nets"):
        extract_pwcnet_state_dict(without_generator)


def test_wrong_or_absent_weights_explain_themselves(tmp_path, monkeypatch, random_state):
    monkeypatch.setenv("LSVD_HOME", str(tmp_path / "home"))
    with pytest.raises(FileNotFoundError) as err:
        create_flow("pwcnet", device="cpu")
    message = str(err.value)
    for needed in ("pytorch-pwc", "network-default", "SelfSVD checkpoint", "weights=", "--flow-weights",
                   str(default_weights_path())):
        assert needed in message
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        PWCNetFlow(weights=tmp_path / "nowhere.pth")
    with pytest.raises(ValueError, match="no PWC-Net weights"):
        PWCNetFlow(weights={"conv.weight": torch.zeros(1)})
    broken = {k: v for k, v in random_state.items() if "netRefiner" not in k}
    with pytest.raises(ValueError, match="missing: netRefiner"):
        PWCNetFlow(weights=broken)
    # the default lookup under $LSVD_HOME/weights
    default_weights_path().parent.mkdir(parents=True)
    torch.save(random_state, default_weights_path())
    flow = create_flow("pwcnet", device="cpu")
    assert flow.name == "pwcnet" and flow.differentiable
    assert_same_weights(flow, random_state)


# --- cost volume --------------------------------------------------------------------------------


def naive_correlation(first: np.ndarray, second: np.ndarray, d: int) -> np.ndarray:
    n, c, h, w = first.shape
    out = np.zeros((n, (2 * d + 1) ** 2, h, w))
    for b, dy, dx, y, x in np.ndindex(n, 2 * d + 1, 2 * d + 1, h, w):
        yy, xx = y + dy - d, x + dx - d
        if 0 <= yy < h and 0 <= xx < w:
            out[b, dy * (2 * d + 1) + dx, y, x] = np.mean(first[b, :, y, x] * second[b, :, yy, xx])
    return out


def test_correlation_matches_a_naive_loop_and_has_gradients():
    rng = np.random.default_rng(0)
    first, second = rng.standard_normal((2, 2, 3, 6, 7)).astype(np.float32)
    out = correlation(torch.from_numpy(first), torch.from_numpy(second))
    assert out.shape == (2, 81, 6, 7)
    np.testing.assert_allclose(out.numpy(), naive_correlation(first, second, 4), atol=1e-6)
    a = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(correlation, (a, b), fast_mode=True)


# --- the wrapper --------------------------------------------------------------------------------


def test_estimate_resizes_rescales_and_orders_like_the_official_wrapper(monkeypatch, random_state):
    flow = PWCNetFlow(weights=random_state, device="cpu")
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def constant_flow(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        calls.append((first, second))
        out = torch.empty(first.shape[0], 2, first.shape[2] // 4, first.shape[3] // 4)
        out[:, 0], out[:, 1] = 0.5, -0.25
        return out

    monkeypatch.setattr(flow.net, "forward", constant_flow)
    source, target = torch.rand(2, 3, 70, 90), torch.rand(2, 3, 70, 90)
    out = flow.estimate(source, target)
    assert out.shape == (2, 2, 70, 90) and out.dtype == torch.float32
    torch.testing.assert_close(out[:, 0], torch.full((2, 70, 90), 20 * 0.5 * 90 / 128))
    torch.testing.assert_close(out[:, 1], torch.full((2, 70, 90), 20 * -0.25 * 70 / 128))
    first, second = calls[0]  # net(target, source), both resized to 128 x 128
    resize = lambda x: F.interpolate(x, size=(128, 128), mode="bilinear", align_corners=False)  # noqa: E731
    torch.testing.assert_close(first, resize(target))
    torch.testing.assert_close(second, resize(source))


def test_frozen_network_passes_gradients_to_the_inputs(random_state):
    flow = PWCNetFlow(weights=random_state, device="cpu")
    assert not any(p.requires_grad for p in flow.parameters())
    source = torch.rand(1, 3, 64, 64, requires_grad=True)
    target = torch.rand(1, 3, 64, 64, requires_grad=True)
    out = flow(source, target)
    assert out.shape == (1, 2, 64, 64) and torch.isfinite(out).all()
    out.abs().sum().backward()
    assert source.grad.abs().sum() > 0 and target.grad.abs().sum() > 0
    assert all(p.grad is None for p in flow.parameters())
    assert "pwcnet.net.netExtractor.netOne.0.weight" in torch.nn.ModuleDict({"pwcnet": flow}).state_dict()


def _real_weights() -> Path | None:
    path = Path(os.environ.get("LSVD_PWCNET_WEIGHTS") or default_weights_path())
    return path if path.is_file() else None


@pytest.mark.skipif(_real_weights() is None, reason="real PWC-Net weights not available (see test docstring)")
def test_real_weights_recover_a_known_shift():
    """Runs only with the real weights at $LSVD_PWCNET_WEIGHTS or $LSVD_HOME/weights/pwcnet-network-default.pth."""
    import cv2

    rng = np.random.default_rng(0)
    src = sum(cv2.resize(rng.random((128 // s, 192 // s, 3)).astype(np.float32), (192, 128),
                         interpolation=cv2.INTER_CUBIC) for s in (4, 16)) / 2
    dx, dy = 3, -2
    tgt = np.roll(src, shift=(-dy, -dx), axis=(0, 1))
    source, target = (torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None] for x in (src, tgt))
    flow = PWCNetFlow(weights=_real_weights(), device="cpu")
    with torch.no_grad():
        est = flow.estimate(source, target)
    inner = est[0, :, 16:-16, 16:-16]
    assert abs(inner[0].median().item() - dx) < 0.3 and abs(inner[1].median().item() - dy) < 0.3
    warped, _ = backward_warp(source, est)
    assert (warped - target)[..., 16:-16, 16:-16].abs().mean() < 0.03
