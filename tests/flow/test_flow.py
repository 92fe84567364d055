"""The flow interface: registry, both warps against a plain-numpy sampler, and the DIS backend."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from lsvd.flow import FlowBackend, backward_warp, create_flow, flow_warp, list_flows


def naive_bilinear(img: np.ndarray, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample (C, H, W) ``img`` at pixel coordinates ``px``, ``py`` (zero outside); also the in-image weight."""
    c, h, w = img.shape
    out = np.zeros((c, *px.shape))
    coverage = np.zeros(px.shape)
    for i, j in np.ndindex(px.shape):
        x, y = px[i, j], py[i, j]
        x0, y0 = math.floor(x), math.floor(y)
        for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
            for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
                if 0 <= yy < h and 0 <= xx < w:
                    out[:, i, j] += wy * wx * img[:, yy, xx]
                    coverage[i, j] += wy * wx
    return out, coverage


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random RGB texture (H, W, 3) float32 in [0, 1], two scales."""
    rng = np.random.default_rng(seed)
    layers = [cv2.resize(rng.random((h // s, w // s, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
              for s in (4, 16)]
    return np.clip(sum(layers) / 2, 0, 1)


def as_batch(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()


# --- registry ----------------------------------------------------------------------------------


def test_registry_lists_builtins_and_suggests_close_names():
    assert list_flows() == ["dis", "pwcnet"]
    assert list_flows("d*") == ["dis"]
    flow = create_flow("dis")
    assert isinstance(flow, FlowBackend) and flow.name == "dis" and not flow.differentiable
    assert flow.config() == {"name": "dis", "preset": "medium"}
    with pytest.raises(KeyError, match="did you mean dis"):
        create_flow("dys")
    with pytest.raises(ValueError, match="unknown DIS preset"):
        create_flow("dis", preset="slow")


def test_input_checks_say_what_was_expected():
    dis = create_flow("dis")
    with pytest.raises(ValueError, match=r"expected shape \(N, 3, H, W\)"):
        dis.estimate(torch.rand(3, 8, 8), torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="same shape"):
        dis.estimate(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match="float"):
        dis.estimate(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="channels-last"):
        flow_warp(torch.rand(1, 3, 5, 6), torch.zeros(1, 5, 6, 2))
    with pytest.raises(ValueError, match="does not match"):
        backward_warp(torch.rand(1, 3, 5, 6), torch.zeros(1, 2, 5, 7))


# --- backward_warp (official PWC wrapper convention) ---------------------------------------------


def test_backward_warp_zero_flow_is_identity_and_all_valid():
    x = torch.rand(2, 3, 9, 11)
    warped, valid = backward_warp(x, torch.zeros(2, 2, 9, 11))
    assert valid.shape == (2, 1, 9, 11) and torch.all(valid == 1)
    torch.testing.assert_close(warped, x, atol=1e-6, rtol=0)


def test_backward_warp_matches_naive_sampler():
    rng = np.random.default_rng(1)
    h, w = 7, 10
    img = rng.random((3, h, w))
    flow = rng.uniform(-2.5, 2.5, (2, h, w))
    warped, valid = backward_warp(torch.from_numpy(img)[None], torch.from_numpy(flow)[None])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    # (W - 1) / 2 normalisation on an align_corners=False grid: f pixels sample f * W / (W - 1) away.
    ref, coverage = naive_bilinear(img, xs + flow[0] * w / (w - 1), ys + flow[1] * h / (h - 1))
    ref_valid = (coverage > 0.999).astype(np.float64)
    assert 0 < ref_valid.sum() < h * w  # some samples leave the image
    np.testing.assert_array_equal(valid[0, 0].numpy(), ref_valid)
    np.testing.assert_allclose(warped[0].numpy(), ref * ref_valid, atol=1e-9)


def test_backward_warp_integer_shift_and_uncovered_border():
    h, w, shift = 6, 16, 2
    ramp = torch.arange(w, dtype=torch.float64).expand(1, 1, h, w)  # value = column
    flow = torch.zeros(1, 2, h, w, dtype=torch.float64)
    flow[:, 0] = shift
    warped, valid = backward_warp(ramp, flow)
    moved = shift * w / (w - 1)  # the official normalisation's tiny overshoot
    last_valid = math.floor(w - 1 - moved)  # 12: samples beyond column w - 1 are partly outside
    assert torch.all(valid[..., : last_valid + 1] == 1) and torch.all(valid[..., last_valid + 1 :] == 0)
    expected = torch.arange(last_valid + 1, dtype=torch.float64) + moved
    torch.testing.assert_close(warped[0, 0, :, : last_valid + 1], expected.expand(h, -1))
    assert torch.all(warped[..., last_valid + 1 :] == 0)


def test_backward_warp_gradients_reach_source_and_flow():
    source = torch.rand(1, 3, 8, 9, requires_grad=True)
    flow = (torch.rand(1, 2, 8, 9) * 2 - 1).requires_grad_()
    warped, valid = backward_warp(source, flow)
    (warped * torch.rand_like(warped)).sum().backward()
    assert not valid.requires_grad
    for t in (source, flow):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


# --- flow_warp (MMEditing convention) ---------------------------------------------------------


def test_flow_warp_integer_shift_is_exact():
    x = torch.rand(2, 3, 6, 7)
    flow = torch.zeros(2, 2, 6, 7)
    flow[:, 0], flow[:, 1] = 1, 2
    out = flow_warp(x, flow)
    expected = torch.zeros_like(x)
    expected[..., :-2, :-1] = x[..., 2:, 1:]
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_flow_warp_matches_naive_sampler_and_has_gradients():
    rng = np.random.default_rng(2)
    h, w = 6, 8
    img = rng.random((4, h, w))
    flow = rng.uniform(-3, 3, (2, h, w))
    x = torch.from_numpy(img)[None].requires_grad_()
    f = torch.from_numpy(flow)[None].requires_grad_()
    out = flow_warp(x, f)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    ref, _ = naive_bilinear(img, xs + flow[0], ys + flow[1])
    np.testing.assert_allclose(out[0].detach().numpy(), ref, atol=1e-9)
    out.sum().backward()
    assert x.grad.abs().sum() > 0 and f.grad.abs().sum() > 0
    border = flow_warp(x.detach(), torch.full((1, 2, h, w), 100.0, dtype=torch.float64), padding_mode="border")
    torch.testing.assert_close(border[0, :, 0, 0], x.detach()[0, :, -1, -1])


# --- DIS ----------------------------------------------------------------------------------------


def test_dis_recovers_a_known_shift_with_the_backend_convention():
    dx, dy = 3, -2
    src = texture(128, 160)
    tgt = np.roll(src, shift=(-dy, -dx), axis=(0, 1))  # target[y, x] = source[y + dy, x + dx]
    source, target = as_batch(src), as_batch(tgt)
    dis = create_flow("dis")
    flow = dis.estimate(source, target)
    assert flow.shape == (1, 2, 128, 160) and flow.dtype == torch.float32
    m = 16
    inner = flow[0, :, m:-m, m:-m]
    assert abs(inner[0].median().item() - dx) < 0.1 and abs(inner[1].median().item() - dy) < 0.1
    warped, valid = backward_warp(source, flow)
    assert torch.all(valid[..., m:-m, m:-m] == 1)
    assert (warped - target)[..., m:-m, m:-m].abs().mean() < 0.01
    assert torch.equal(flow, dis.estimate(source, target))  # deterministic


def test_dis_batches_pairs_independently():
    src = texture(64, 96, seed=3)
    a = as_batch(src)
    b = as_batch(np.roll(src, shift=(0, -2), axis=(0, 1)))
    dis = create_flow("dis", preset="fast")
    both = dis.estimate(torch.cat([a, a]), torch.cat([a, b]))
    torch.testing.assert_close(both[1:], dis.estimate(a, b))
    assert both[0].abs().max() < 0.05  # identical images: no motion
    assert dis.estimate(a[:0], a[:0]).shape == (0, 2, 64, 96)


def test_dis_handles_images_smaller_than_opencv_allows():
    source = torch.rand(1, 3, 8, 8)
    flow = create_flow("dis").estimate(source, source)
    assert flow.shape == (1, 2, 8, 8) and torch.isfinite(flow).all()
