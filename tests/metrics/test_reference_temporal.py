"""Reference, official-protocol (aligned) and temporal metrics, and the efficiency helpers.

Each check compares with an independent reference (skimage, OpenCV, published CIEDE2000 data,
hand computations), not with the code under test.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import skimage.color as skimage_color
import skimage.metrics as skimage_metrics
import torch

from benchmarks.metrics import efficiency, reference, temporal
from benchmarks.metrics.base import Metric, get_metric
from lsvd.flow.base import FlowBackend, create_flow


def _textured(h: int, w: int, seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    """Smooth random texture, values in about 10..245 (no pure black pixel)."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), sigma)
    img = (img - img.min()) / (img.max() - img.min())
    return (10 + 235 * img).round().astype(np.uint8)


def _noisy_pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = _textured(40, 52, seed)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    return a, b


class _FixedFlow(FlowBackend):
    """Returns a constant flow and records what it was given."""

    name = "fixed"

    def __init__(self, fx: float = 0.0, fy: float = 0.0):
        self.fx, self.fy = fx, fy
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def estimate(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.calls.append((source.clone(), target.clone()))
        flow = torch.zeros(source.shape[0], 2, *source.shape[2:])
        flow[:, 0], flow[:, 1] = self.fx, self.fy
        return flow


# --------------------------------------------------------------------------- PSNR / SSIM / CIEDE2000


def test_psnr_matches_skimage_and_hand_computation():
    a, b = _noisy_pair()
    ours = reference.psnr(a, b)
    assert ours == pytest.approx(skimage_metrics.peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)
    # hand: constant difference of 5 everywhere -> MSE 25
    c = np.full((8, 8, 3), 100, np.uint8)
    assert reference.psnr(c, c + 5) == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-12)
    # one channel differing by 3 -> MSE = 9 / 3 (all three channels averaged, no Y conversion)
    d = c.copy()
    d[..., 1] += 3
    assert reference.psnr(c, d) == pytest.approx(10 * math.log10(255**2 / 3.0), abs=1e-12)


def test_psnr_inf_for_identical():
    a, _ = _noisy_pair()
    assert reference.psnr(a, a.copy()) == math.inf


def test_ssim_matches_skimage_gaussian():
    for seed in range(3):
        a, b = _noisy_pair(seed)
        expected = skimage_metrics.structural_similarity(
            a, b, channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
        # same 11x11 window and [5:-5, 5:-5] region; only float64 summation order differs
        assert reference.ssim(a, b) == pytest.approx(expected, abs=1e-9)
    a, _ = _noisy_pair()
    assert reference.ssim(a, a) == pytest.approx(1.0, abs=1e-12)


# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Table 1 (pairs 1, 2, 3, 7, 17, 25, 34).
SHARMA_PAIRS = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_ciede2000_published_pairs():
    """Our sRGB ``ciede2000`` on the published Lab pairs that lie in the sRGB gamut, given as float RGB in [0, 1]."""
    in_gamut = 0
    for lab1, lab2, expected in SHARMA_PAIRS:
        rgb = [skimage_color.lab2rgb(np.array([[lab]], np.float64)) for lab in (lab1, lab2)]
        back = [skimage_color.rgb2lab(x)[0, 0] for x in rgb]
        if not all(np.allclose(b, lab, atol=1e-6) for b, lab in zip(back, (lab1, lab2), strict=True)):
            continue  # outside sRGB: lab2rgb clipped it
        in_gamut += 1
        assert reference.ciede2000(rgb[0], rgb[1]) == pytest.approx(expected, abs=5e-5)  # published to 4 decimals
    assert in_gamut >= 3


def test_ciede2000_srgb_wrapper():
    a, b = _noisy_pair()
    assert reference.ciede2000(a, a) == pytest.approx(0.0, abs=1e-9)
    assert reference.ciede2000(a, b) > 0.5
    # white vs black: L* 100 vs 0, a* = b* = 0 -> dE00 = |dL| / S_L = 100 (S_L = 1 at mean L 50)
    white = np.full((4, 4, 3), 255, np.uint8)
    assert reference.ciede2000(white, np.zeros_like(white)) == pytest.approx(100.0, abs=1e-3)
    # mean over pixels of the per-pixel difference (independent per-pixel computation)
    lab_a = skimage_color.rgb2lab(a[:3, :3] / 255.0)
    lab_b = skimage_color.rgb2lab(b[:3, :3] / 255.0)
    per_pixel = [skimage_color.deltaE_ciede2000(lab_a[i, j], lab_b[i, j]) for i in range(3) for j in range(3)]
    assert reference.ciede2000(a[:3, :3], b[:3, :3]) == pytest.approx(np.mean(per_pixel), abs=1e-9)


# --------------------------------------------------------------------------- official alignment


def test_blur_kernel_is_torchvision_formula():
    assert reference.BLUR_SIGMA == pytest.approx(1.1, abs=1e-12)
    x = np.arange(-2, 3, dtype=np.float64)
    k = np.exp(-(x**2) / (2 * 1.1**2))
    k /= k.sum()
    np.testing.assert_allclose(reference.gaussian_kernel1d().double().numpy(), k, atol=1e-7)


def test_blur_matches_opencv_reflect101():
    img = _textured(23, 31, seed=4).astype(np.float32) / 255.0
    k = cv2.getGaussianKernel(5, 1.1, ktype=cv2.CV_64F)  # sigma > 0: exp(-x^2 / 2 sigma^2), normalised
    expected = cv2.sepFilter2D(img, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT_101)
    got = reference.gaussian_blur(torch.from_numpy(img).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_align_identity_flow_gives_blurred_pred_and_ref():
    pred, ref = _noisy_pair(1)
    flow = _FixedFlow()
    pm, rm = reference.align_to_reference(pred, ref, flow)
    assert pm.dtype == np.uint8 and pm.shape == pred.shape and rm.shape == ref.shape
    # the flow saw the *blurred* prediction as source and the unblurred reference as target
    (source, target), = flow.calls
    k = cv2.getGaussianKernel(5, 1.1, ktype=cv2.CV_64F)
    blurred = cv2.sepFilter2D(pred.astype(np.float32) / 255.0, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(source[0].permute(1, 2, 0).numpy(), blurred, atol=1e-6)
    np.testing.assert_array_equal((target[0].permute(1, 2, 0).numpy() * 255).round(), ref)
    # zero flow: everything valid; prediction = tensor2img(blurred), reference unchanged
    expected_pred = (np.clip(blurred, 0, 1) * 255).round().astype(np.uint8)
    assert np.abs(pm.astype(int) - expected_pred).max() <= 1  # float32 vs float64 rounding ties
    assert (pm != expected_pred).mean() < 1e-3
    np.testing.assert_array_equal(rm, ref)


def test_align_mask_zero_in_both():
    pred, ref = _noisy_pair(2)
    h, w = pred.shape[:2]
    pm, rm = reference.align_to_reference(pred, ref, _FixedFlow(fx=5.0))
    # backward_warp samples x + 5 W / (W - 1): columns with x + 5.1 > W - 1 fall outside -> invalid
    bad = np.arange(w) + 5 * w / (w - 1) > w - 1
    assert bad.sum() == 6
    assert (pm[:, bad] == 0).all() and (rm[:, bad] == 0).all()
    np.testing.assert_array_equal(rm[:, ~bad], ref[:, ~bad])
    assert (pm[:, ~bad] > 0).all()


def test_align_known_shift_with_dis():
    h, w, dy, dx = 96, 128, 3, 5
    big = _textured(h + 10, w + 10, seed=3, sigma=3.0)
    pred = big[5 : 5 + h, 5 : 5 + w]
    ref = big[5 + dy : 5 + dy + h, 5 - dx : 5 - dx + w]  # ref(y, x) = pred(y + dy, x - dx)
    unaligned = reference.psnr(pred, ref)
    pm, rm = reference.align_to_reference(pred, ref, create_flow("dis"))
    aligned = reference.psnr(pm, rm)
    assert aligned > 35.0 and aligned > unaligned + 10
    # samples below the prediction's bottom rows / left of its first columns are invalid: 0 in both
    assert (pm[-dy:] == 0).all() and (rm[-dy:] == 0).all()
    assert (pm[:, :dx] == 0).all() and (rm[:, :dx] == 0).all()
    zero_p, zero_r = (pm == 0).all(2), (rm == 0).all(2)  # no pure-black pixel in the texture
    np.testing.assert_array_equal(zero_p, zero_r)
    assert zero_p.mean() < 0.2


def test_float_inputs_and_range_check():
    a, b = _noisy_pair(3)
    for fn in (reference.psnr, reference.ssim, reference.ciede2000):
        assert fn(a / 255.0, b.astype(np.float32) / np.float32(255.0)) == pytest.approx(fn(a, b), rel=1e-6)
        with pytest.raises(ValueError, match=r"pred: expected uint8 \(0..255\) or float in \[0, 1\], found float32 "
                                             r"values in \[10, 245\]"):
            fn(a.astype(np.float32), b)  # a float frame in 0..255: an error, not a different number
        with pytest.raises(TypeError, match="dtype int64"):
            fn(a, b.astype(np.int64))
    with pytest.raises(ValueError, match="float in"):
        reference.align_to_reference(a.astype(np.float64), b, _FixedFlow())


# --------------------------------------------------------------------------- aligned metrics' public call


def test_aligned_metrics_refuse_unaligned_frames():
    pred, ref = _noisy_pair(4)
    for name in ("aligned_psnr", "aligned_ssim"):
        with pytest.raises(ValueError, match=r"flow=.*align_to_reference"):
            get_metric(name)(pred, ref)
    with pytest.raises(ValueError, match="flow="):
        reference.aligned_psnr(pred, ref)


def test_aligned_metrics_align_with_a_flow_or_take_the_aligned_pair():
    h, w, dy, dx = 96, 128, 3, 5
    big = _textured(h + 10, w + 10, seed=3, sigma=3.0)
    pred, ref = big[5 : 5 + h, 5 : 5 + w], big[5 + dy : 5 + dy + h, 5 - dx : 5 - dx + w]
    pm, rm = reference.align_to_reference(pred, ref, create_flow("dis"))
    assert isinstance(pm, reference.AlignedFrame) and isinstance(rm, reference.AlignedFrame)
    for name, plain in (("aligned_psnr", reference.psnr), ("aligned_ssim", reference.ssim)):
        metric = get_metric(name)
        expected = plain(np.asarray(pm), np.asarray(rm))
        assert metric(pm, rm) == expected  # what the benchmark runner passes: scored as it is
        assert metric(pred, ref, flow="dis") == expected  # aligned here, same flow backend
        assert metric(pred, ref, flow=create_flow("dis")) == expected
        assert metric(pred, ref, flow="dis") != plain(pred, ref)  # not the unaligned value
    fixed = _FixedFlow()
    assert reference.aligned_psnr(pred, ref, flow=fixed) == reference.psnr(*reference.align_to_reference(
        pred, ref, _FixedFlow()))
    assert len(fixed.calls) == 1


def test_registered_metrics():
    for factory, name, ref_kind, align in [
        (reference._aligned_psnr, "aligned_psnr", "ps_frame", True),
        (reference._aligned_ssim, "aligned_ssim", "ps_frame", True),
        (reference._psnr, "psnr", "clean", False),
        (reference._ssim, "ssim", "clean", False),
        (reference._ciede2000, "ciede2000", "clean", False),
        (temporal._warp_error, "warp_error", "none", False),
    ]:
        m = factory()
        assert isinstance(m, Metric) and m.name == name
        assert m.requires_reference == ref_kind and m.align is align and m.aggregate == "clip_mean"
    assert reference._ciede2000().higher_is_better is False and reference._aligned_ssim().higher_is_better
    assert reference._aligned_psnr().fn is reference.aligned_psnr
    assert reference._aligned_ssim().fn is reference.aligned_ssim
    assert temporal._warp_error().kind == "clip" and temporal._warp_error().higher_is_better is False


# --------------------------------------------------------------------------- temporal warping error


def test_warp_error_static_and_translation():
    dis = create_flow("dis")
    frame = _textured(64, 80, seed=5, sigma=2.5)
    static = [frame] * 3
    errs = temporal.warp_error(static, static, dis)
    assert len(errs) == 2 and max(errs) < 1e-8

    big = _textured(64 + 20, 80 + 20, seed=6, sigma=2.5)
    moving = [big[10 - 2 * t : 74 - 2 * t, 10 + 3 * t : 90 + 3 * t] for t in range(4)]  # 3 px right, 2 px down
    trans = temporal.warp_error(moving, moving, dis)
    assert len(trans) == 3 and max(trans) < 2e-4

    rng = np.random.default_rng(7)
    flicker = [np.clip(frame.astype(int) + rng.integers(-20, 21, frame.shape), 0, 255).astype(np.uint8)
               for _ in range(3)]
    noisy = temporal.warp_error(flicker, static, dis)
    # independent uniform noise in [-20, 20]: E[(n1 - n2)^2] = 2 * var = 2 * 140 / 255^2
    assert all(e == pytest.approx(2 * 140 / 255**2, rel=0.15) for e in noisy)
    assert min(noisy) > 20 * max(trans)


def test_warp_error_occlusion_mask():
    zero = torch.zeros(1, 2, 8, 10)
    assert temporal.non_occluded_mask(zero, zero).all()
    fw = zero.clone()
    fw[:, 0] = 2.0
    bw = zero.clone()
    bw[:, 0] = -2.0
    m = temporal.non_occluded_mask(fw, bw)[0, 0]
    assert m[:, :8].all() and not m[:, 8:].any()  # x + 2 beyond the last column: outside the frame
    bad_bw = zero.clone()
    bad_bw[:, 0] = 2.0  # |2 + 2|^2 = 16 >= 0.01 * 8 + 0.5: inconsistent
    assert not temporal.non_occluded_mask(fw, bad_bw).any()


def test_warp_error_short_clip():
    f = _textured(16, 16)
    assert temporal.warp_error([f], [f], create_flow("dis")) == []


def test_warp_error_inputs_on_either_scale():
    frames = [_textured(32, 40, seed=s) for s in (8, 9)]
    dis = create_flow("dis")
    as_float = [f / 255.0 for f in frames]
    assert temporal.warp_error(as_float, as_float, dis) == pytest.approx(temporal.warp_error(frames, frames, dis),
                                                                          rel=1e-5)
    with pytest.raises(ValueError, match="outputs: expected uint8"):
        temporal.warp_error([f.astype(np.float32) for f in frames], frames, dis)


# --------------------------------------------------------------------------- efficiency


def test_count_parameters_paper():
    from lsvd.models import build_selfsvd

    assert efficiency.count_parameters(build_selfsvd("paper")) == 6_209_039
    lin = torch.nn.Linear(3, 2)
    lin.bias.requires_grad_(False)
    assert efficiency.count_parameters(lin) == 6


def test_macs_per_frame_scales():
    from lsvd.models import build_selfsvd

    net = build_selfsvd("tiny").eval()
    small = efficiency.macs_per_frame(net, 64, 64, frames=2)
    large = efficiency.macs_per_frame(net, 128, 128, frames=2)
    assert small > 0
    assert large / small == pytest.approx(4.0, rel=0.02)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)

    class Frames(torch.nn.Module):
        def forward(self, lqs):
            return conv(lqs.flatten(0, 1))

    # hand count: 3 * 4 * 9 MACs per pixel
    assert efficiency.macs_per_frame(Frames(), 8, 8, frames=3) == pytest.approx(3 * 4 * 9 * 64 / 1e9)


def test_frames_per_second():
    calls = []
    fps = efficiency.frames_per_second(lambda: calls.append(1), n_frames=4, device="cpu", repeats=3)
    assert len(calls) == 4 and fps > 0
