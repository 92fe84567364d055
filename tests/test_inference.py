"""Windowed whole-clip inference (spec/selfsvd-official.md §6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lsvd.flow import FlowBackend
from lsvd.inference import desmoke_clip, official_windows, overlapping_windows, to_uint8
from lsvd.models import SelfSVDNet, build_selfsvd

H, W = 32, 48  # DIS needs >= 12 px at 1/4 resolution


class _ZeroFlow(FlowBackend):
    name = "zero"

    def estimate(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return source.new_zeros(source.shape[0], 2, *source.shape[2:])


class _StandIn(nn.Module):
    """Writes, into every output frame, the window's start index (channel 0), the absolute frame
    index read from the input (channel 1) and the mean of the frame's mask (channel 2), x 1/100."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int]] = []  # (start frame, window length)
        self.masks: list[torch.Tensor | None] = []

    def forward(self, lqs: torch.Tensor, ps: torch.Tensor, mask: torch.Tensor | None = None) -> dict:
        n, t, _, h, w = lqs.shape
        assert ps.shape == (n, 3, h, w) and torch.all(ps == 0.25)
        start = int(round(float(lqs[0, 0, 1, 0, 0]) * 100))
        self.calls.append((start, t))
        self.masks.append(None if mask is None else mask.clone())
        out = lqs * 0.5
        out[:, :, 0] = start / 100
        out[:, :, 1] = lqs[:, :, 1]
        out[:, :, 2] = 0.0 if mask is None else mask.mean(dim=(2, 3, 4))[..., None, None] / 100
        return {"out": out, "ref_feat": torch.zeros(1)}


def _indexed_clip(t: int, h: int = 8, w: int = 8):
    lqs = torch.zeros(t, 3, h, w)
    lqs[:, 1] = torch.arange(t, dtype=torch.float32)[:, None, None] / 100
    ps = torch.full((3, h, w), 0.25)
    mask = torch.arange(t, dtype=torch.float32)[:, None, None, None].expand(t, 1, h // 4, w // 4).clone()
    return lqs, ps, mask


@pytest.mark.parametrize(("t", "expected"), [
    (1, [(0, 1)]),
    (5, [(0, 5)]),
    (6, [(0, 5), (1, 6)]),
    (10, [(0, 5), (5, 10), (5, 10)]),
    (12, [(0, 5), (5, 10), (7, 12)]),
    (23, [(0, 5), (5, 10), (10, 15), (15, 20), (18, 23)]),
])
def test_official_windows(t, expected):
    assert official_windows(t) == expected


@pytest.mark.parametrize("window", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("overlap", [0, 1, 2, 4])
@pytest.mark.parametrize("t", [1, 2, 4, 5, 6, 7, 9, 10, 12, 13, 23, 50])
def test_overlapping_windows_cover_each_frame_once(t, window, overlap):
    if overlap >= window:
        with pytest.raises(ValueError, match="overlap"):
            overlapping_windows(t, window, overlap)
        return
    plan = overlapping_windows(t, window, overlap)
    produced = [f for _, _, ks, ke in plan for f in range(ks, ke)]
    assert produced == list(range(t))  # exactly once, in order
    for k, (s, e, ks, ke) in enumerate(plan):
        assert 0 <= s < e <= t and e - s == min(window, t)
        assert s <= ks < ke <= e
        if k > 0:
            assert ks - s >= overlap  # at least `overlap` frames of context before every kept frame
            assert s > plan[k - 1][0]


def test_overlapping_windows_example():
    assert overlapping_windows(12, 5, 2) == [(0, 5, 0, 5), (3, 8, 5, 8), (6, 11, 8, 9), (7, 12, 9, 12)]
    assert overlapping_windows(3, 5, 2) == [(0, 3, 0, 3)]


def test_tiny_at_init_is_clamped_identity():
    torch.manual_seed(0)
    model = build_selfsvd("tiny", flow="dis").eval()
    g = torch.Generator().manual_seed(1)
    lqs = torch.rand(7, 3, H, W, generator=g) * 1.2 - 0.1  # some values outside [0, 1]
    ps = torch.rand(3, H, W, generator=g)
    mask = (torch.rand(7, 1, H // 4, W // 4, generator=g) > 0.5).float()
    for mode in ("official", "overlap"):
        out = desmoke_clip(model, lqs, ps, mask, mode=mode)
        assert out.shape == lqs.shape and out.dtype == torch.float32 and out.device.type == "cpu"
        torch.testing.assert_close(out, lqs.clamp(0, 1), atol=1e-5, rtol=0)
    assert not torch.is_inference_mode_enabled()


def test_official_mode_later_windows_overwrite():
    model = _StandIn()
    lqs, ps, mask = _indexed_clip(12)
    out = desmoke_clip(model, lqs, ps, mask, mode="official")
    assert model.calls == [(0, 5), (5, 5), (7, 5)]
    start = (out[:, 0, 0, 0] * 100).round().long().tolist()
    assert start == [0] * 5 + [5, 5] + [7] * 5
    frame = (out[:, 1, 0, 0] * 100).round().long().tolist()
    assert frame == list(range(12))  # each output is its own input frame, in place
    # every window got its own frames' masks
    for (s, t), m in zip(model.calls, model.masks, strict=True):
        assert m is not None and m.shape == (1, t, 1, 2, 2)
        torch.testing.assert_close(m[0], mask[s:s + t])
    torch.testing.assert_close(out[:, 2, 0, 0] * 100, torch.arange(12, dtype=torch.float32))


def test_official_mode_short_and_exact_multiple():
    model = _StandIn()
    lqs, ps, mask = _indexed_clip(3)
    out = desmoke_clip(model, lqs, ps, None)
    assert model.calls == [(0, 3)] and model.masks == [None]
    assert torch.all(out[:, 2] == 0)
    model = _StandIn()
    lqs, ps, mask = _indexed_clip(10)
    out = desmoke_clip(model, lqs, ps, mask)
    assert model.calls == [(0, 5), (5, 5)]  # the repeated last window is not rerun
    assert (out[:, 0, 0, 0] * 100).round().long().tolist() == [0] * 5 + [5] * 5


def test_overlap_mode_takes_frames_from_planned_windows():
    model = _StandIn()
    lqs, ps, mask = _indexed_clip(12)
    out = desmoke_clip(model, lqs, ps, mask, mode="overlap")
    plan = overlapping_windows(12, 5, 2)
    assert model.calls == [(s, e - s) for s, e, _, _ in plan]
    expected = [s for s, _, ks, ke in plan for _ in range(ks, ke)]
    assert (out[:, 0, 0, 0] * 100).round().long().tolist() == expected
    assert (out[:, 1, 0, 0] * 100).round().long().tolist() == list(range(12))
    torch.testing.assert_close(out[:, 2, 0, 0] * 100, torch.arange(12, dtype=torch.float32))


def test_real_model_windows_reset_state():
    """With a non-trivial output head, frame 5 of a 12-frame clip equals the first frame of a fresh
    pass over frames 5..9 (the recurrent state is reset at each window)."""
    torch.manual_seed(0)
    model = SelfSVDNet(8, 1, flow=_ZeroFlow()).eval()
    with torch.no_grad():
        model.zero_conv.weight.normal_(0, 0.5)
    g = torch.Generator().manual_seed(2)
    lqs = torch.rand(12, 3, 16, 16, generator=g)
    ps = torch.rand(3, 16, 16, generator=g)
    out = desmoke_clip(model, lqs, ps, None)
    with torch.no_grad():
        ref = model(lqs[None, 5:10], ps[None])["out"][0].clamp(0, 1)
        last = model(lqs[None, 7:12], ps[None])["out"][0].clamp(0, 1)
    torch.testing.assert_close(out[5:7], ref[:2])
    torch.testing.assert_close(out[7:], last)


def test_to_uint8_rounds_like_tensor2img():
    x = torch.tensor([-0.5, 0.0, 0.5 / 255, 1.5 / 255, 0.5, 1.0, 2.0]).reshape(1, 1, 1, 7).expand(1, 3, 1, 7)
    y = to_uint8(x)
    assert y.shape == (1, 1, 7, 3) and y.dtype == np.uint8
    assert y[0, 0, :, 0].tolist() == [0, 0, 0, 2, 128, 255, 255]  # round half to even, like numpy
    with pytest.raises(ValueError, match="frames"):
        to_uint8(torch.zeros(3, 4, 4))


def test_bad_inputs():
    model = _StandIn()
    lqs, ps, mask = _indexed_clip(6)
    with pytest.raises(ValueError, match="lqs"):
        desmoke_clip(model, lqs[None], ps, mask)
    with pytest.raises(ValueError, match="lqs"):
        desmoke_clip(model, lqs[:, :2], ps, mask)
    with pytest.raises(ValueError, match="multiples of 4"):
        desmoke_clip(model, torch.zeros(6, 3, 10, 8), torch.zeros(3, 10, 8), None)
    with pytest.raises(ValueError, match="multiples of 4"):
        desmoke_clip(model, torch.zeros(6, 3, 8, 6), torch.zeros(3, 8, 6), None)
    with pytest.raises(ValueError, match="float"):
        desmoke_clip(model, lqs.to(torch.uint8), ps, mask)
    with pytest.raises(ValueError, match="ps"):
        desmoke_clip(model, lqs, ps[None], mask)
    with pytest.raises(ValueError, match="mask"):
        desmoke_clip(model, lqs, ps, mask[:5])
    with pytest.raises(ValueError, match="mask"):
        desmoke_clip(model, lqs, ps, mask[:, 0])
    with pytest.raises(ValueError, match="mode"):
        desmoke_clip(model, lqs, ps, mask, mode="sliding")
    with pytest.raises(ValueError, match="window"):
        desmoke_clip(model, lqs, ps, mask, window=0)
    with pytest.raises(ValueError, match="t"):
        official_windows(0)
    assert model.calls == []
