"""Numba mask kernels and the per-pair pipeline against the plain reference (lsvd/masks/reference.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numba
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lsvd.masks import core
from lsvd.masks import kernels as K
from lsvd.masks import reference as R
from lsvd.masks.core import MaskParams

SSIM_TOL = 1e-4  # skimage evaluates SSIM in float32; ours is float64 (spec 2.5: differences up to ~5e-5)


def _textured(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth-ish uint8 RGB with some noise (frame-like statistics)."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random((max(2, h // 16), max(2, w // 16), 3)), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(base * 230 + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def _smooth_flow(h: int, w: int, amp: float = 2.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([amp * np.sin(yy / 9.0) + 0.7, 0.75 * amp * np.cos(xx / 11.0) - 0.4]).astype(np.float32)


@pytest.fixture(scope="module")
def real_frames(real_clips: Path) -> list[np.ndarray]:
    import av

    frames = []
    for name in ("input_2.avi", "input_9.avi"):
        with av.open(str(real_clips / "Input" / name)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in (0, 4, 9):
                    frames.append(frame.to_ndarray(format="rgb24"))
                if i >= 9:
                    break
    return frames


# ---------------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_min_rgb(dtype):
    rng = np.random.default_rng(0)
    img = (rng.random((37, 53, 3)) * 255).astype(dtype)
    out = K.min_rgb(img)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.min(img, 2))


@pytest.mark.parametrize("shape", [(1, 1), (3, 20), (20, 3), (40, 48), (123, 257)])
@pytest.mark.parametrize("ksize", [1, 3, 15])
def test_erode_square(shape, ksize):
    rng = np.random.default_rng(1)
    x = rng.random(shape)
    np.testing.assert_array_equal(K.erode_square(x, ksize), cv2.erode(x, np.ones((ksize, ksize))))
    u = (x * 255).astype(np.uint8)
    np.testing.assert_array_equal(K.erode_square(u, ksize), cv2.erode(u, np.ones((ksize, ksize), np.uint8)))


@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (9, 5), (40, 48), (100, 300), (257, 130)])
@pytest.mark.parametrize("ksize", [1, 5, 81])
def test_box_filter(shape, ksize):
    x = np.random.default_rng(2).random(shape)
    ref = cv2.boxFilter(x, -1, (ksize, ksize))
    np.testing.assert_allclose(K.box_filter(x, ksize), ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("shape", [(1, 1), (6, 9), (40, 48), (90, 70), (300, 520)])
def test_guided_filter(shape):
    rng = np.random.default_rng(3)
    img = (rng.random((*shape, 3)) * 255).astype(np.uint8)
    v = K.min_rgb(img)
    d = K.erode_square(v, 15)
    ref = R.guided_filter(v / 255.0, d / 255.0, 81, 1e-3)
    out, lo, hi = K.guided_filter_range(v, d, 81, 1e-3, 255.0)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    assert (lo, hi) == (out.min(), out.max())
    # float64 input takes the float accumulators
    outf = K.guided_filter(v / 255.0, d / 255.0, 81, 1e-3)
    np.testing.assert_allclose(outf, ref, rtol=1e-10, atol=1e-12)
    # other box sizes and eps (a box above 257 leaves the packed uint8 sums for float64 ones)
    for ksize, eps in ((5, 1e-2), (301, 1e-6)):
        ref_k = R.guided_filter(v / 255.0, d / 255.0, ksize, eps)
        np.testing.assert_allclose(K.guided_filter(v, d, ksize, eps, 255.0), ref_k, rtol=1e-9, atol=1e-11)


def _numpy_airlight(refined, m, bins, fraction=0.999):
    counts, edges = np.histogram(refined, bins)
    d = np.cumsum(counts) / float(refined.size)
    level = 1
    for level in range(bins - 1, 0, -1):  # noqa: B007
        if d[level] <= fraction:
            break
    return np.mean(m, 2)[refined >= edges[level]].max(), edges[level], level


@pytest.mark.parametrize(
    "case", ["smooth", "spiky", "constant", "on_edges", "two_values", "bright_tail", "sample_trap", "tiny"]
)
@pytest.mark.parametrize("bins", [2000, 7])
def test_atmospheric_light(case, bins, monkeypatch):
    rng = np.random.default_rng(4)
    h, w = 120, 170
    img = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    if case == "smooth":
        refined = cv2.GaussianBlur(rng.random((h, w)), (0, 0), 5)
    elif case == "spiky":
        refined = rng.random((h, w)) ** 8 * 1.2 - 0.1
    elif case == "constant":
        refined = np.full((h, w), 0.3)
    elif case == "on_edges":  # every value exactly on a numpy bin edge
        edges = np.linspace(0.0, 1.0, bins + 1)
        refined = edges[rng.integers(0, bins + 1, (h, w))]
    elif case == "two_values":
        refined = np.where(rng.random((h, w)) < 0.9995, 0.2, 0.8)
    elif case == "bright_tail":
        refined = np.where(rng.random((h, w)) < 0.01, 0.9 + 0.1 * rng.random((h, w)), 0.1 * rng.random((h, w)))
    elif case == "sample_trap":  # 130 bright pixels (< 0.1%), all on the sampling lattice: the first guess is too high
        img = (rng.random((520, 520, 3)) * 255).astype(np.uint8)
        refined = 0.5 * rng.random((520, 520))
        stride = K._sample_stride(refined.size)
        assert stride == 3
        refined[0:390:stride, 0] = 0.95 + 0.01 * rng.random(130)
    else:
        refined = rng.random((3, 2))
        img = img[:3, :2]
    calls = []
    top_bins = K._top_bins
    monkeypatch.setattr(K, "_top_bins", lambda *a: calls.append(a[-1]) or top_bins(*a))
    a, edge, level = K.atmospheric_light(refined, img, 255.0, bins, 0.999)
    assert len(calls) in (1, 2) and calls[-1] <= calls[0] and (len(calls) == 1 or calls[1] == 0)
    if case == "sample_trap" and bins == 2000:
        assert len(calls) == 2 and calls[0] > 0  # the first guess, then the full pass
    if case in ("smooth", "spiky", "bright_tail") and bins == 2000:
        assert calls == [calls[0]] and calls[0] > 0  # one pass over the top bins only
    ra, redge, rlevel = _numpy_airlight(refined, img / 255.0, bins)
    assert (level, edge, a) == (rlevel, redge, ra)


def test_atmospheric_light_matches_reference_function():
    rng = np.random.default_rng(5)
    img = (rng.random((64, 80, 3)) * 255).astype(np.uint8)
    refined = rng.random((64, 80)) ** 3
    assert K.atmospheric_light(refined, img, 255.0, 2000, 0.999) == R.airlight(refined, img / 255.0, 2000)


@pytest.mark.parametrize("shape", [(32, 32), (256, 256), (257, 199), (720, 1280)])
def test_quarter_matches_torch(shape):
    x = np.random.default_rng(6).random((*shape, 3)).astype(np.float32)
    ours = core.quarter(x)
    ref = F.interpolate(R.to_tensor(x), scale_factor=0.25, mode="bilinear", align_corners=True)[0].permute(1, 2, 0)
    assert ours.shape == tuple(ref.shape) == (shape[0] // 4, shape[1] // 4, 3)
    np.testing.assert_allclose(ours, ref.numpy(), rtol=0, atol=2.5e-7)  # 1-2 float32 ulps (torch's FMA use)


def test_dehaze_resized_equals_dehaze_then_quarter():
    img = _textured(70, 90, 7)
    p = MaskParams()
    full = core.dehaze(img, p)
    np.testing.assert_array_equal(core.prepare_frame(img, p), core.quarter(full))


def test_masked_gray_matches_torch():
    rng = np.random.default_rng(8)
    warped = (rng.random((30, 40, 3)) * 1.4 - 0.2).astype(np.float32)
    frame = (rng.random((30, 40, 3)) * 1.4 - 0.2).astype(np.float32)
    valid = (rng.random((30, 40)) < 0.8).astype(np.float32)
    gx, gy = K.masked_gray(np.ascontiguousarray(warped.transpose(2, 0, 1)), frame, valid)
    np.testing.assert_array_equal(K.masked_gray(warped.transpose(2, 0, 1), frame, valid)[0], gx)  # strided view
    tw, tf, tv = R.to_tensor(warped), R.to_tensor(frame), torch.from_numpy(valid)[None, None]
    np.testing.assert_array_equal(gx, tw.clamp(0, 1).mean(dim=1)[0].numpy())
    np.testing.assert_array_equal(gy, (tf.clamp(0, 1) * tv).mean(dim=1)[0].numpy())


def _exact_block_ssim(gx, gy, block):
    """Spec 2.5 in plain numpy float64: mean over the window positions inside each block."""
    x, y = gx.astype(np.float64), gy.astype(np.float64)
    win = np.lib.stride_tricks.sliding_window_view
    mx, my = win(x, (7, 7)).mean((-1, -2)), win(y, (7, 7)).mean((-1, -2))
    vx = (win(x * x, (7, 7)).mean((-1, -2)) - mx * mx) * 49 / 48
    vy = (win(y * y, (7, 7)).mean((-1, -2)) - my * my) * 49 / 48
    vxy = (win(x * y, (7, 7)).mean((-1, -2)) - mx * my) * 49 / 48
    s = ((2 * mx * my + 1e-4) * (2 * vxy + 9e-4)) / ((mx**2 + my**2 + 1e-4) * (vx + vy + 9e-4))
    nby, nbx = gx.shape[0] // block, gx.shape[1] // block
    out = np.empty((nby, nbx))
    for i in range(nby):
        for j in range(nbx):
            out[i, j] = s[i * block:i * block + block - 6, j * block:j * block + block - 6].mean()
    return out


@pytest.mark.parametrize("block", [8, 9])
def test_block_ssim(block):
    rng = np.random.default_rng(9)
    gx = cv2.GaussianBlur(rng.random((67, 85)).astype(np.float32), (5, 5), 1.5)
    gy = np.clip(gx + rng.normal(0, 0.05, gx.shape), 0, 1).astype(np.float32)
    ours = K.block_ssim(gx, gy, block)
    np.testing.assert_allclose(ours, _exact_block_ssim(gx, gy, block), rtol=0, atol=1e-12)
    ref = R.block_ssim_loop(gx, gy, block)
    assert ours.shape == ref.shape == (67 // block, 85 // block)
    assert np.abs(ours - ref).max() < SSIM_TOL


def test_backward_warp_matches_spec_convention():
    from lsvd.flow import backward_warp

    rng = np.random.default_rng(10)
    src = torch.from_numpy(rng.random((1, 3, 24, 40)).astype(np.float32))
    flow = torch.from_numpy(_smooth_flow(24, 40, 3.0))[None]
    w1, v1 = backward_warp(src, flow)
    w2, v2 = R.get_backwarp(src, flow)
    torch.testing.assert_close(w1, w2, rtol=0, atol=1e-6)
    torch.testing.assert_close(v1, v2, rtol=0, atol=0)


# ---------------------------------------------------------------------------------- pipeline


def test_dehaze_matches_reference_random():
    for seed, shape in ((11, (48, 64)), (12, (131, 97))):
        img = _textured(*shape, seed)
        ref = R.dehaze(img / 255.0)
        out = core.dehaze(img)
        assert out.dtype == np.float32 and out.shape == img.shape
        np.testing.assert_allclose(out, ref.astype(np.float32), rtol=0, atol=1e-6)
        np.testing.assert_array_equal(core.dehaze(img / 255.0), out)


def test_dehaze_matches_reference_real(real_frames):
    for img in real_frames:
        ref = R.dehaze(img / 255.0).astype(np.float32)
        out = core.dehaze(img)
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6)
        assert (out != ref).mean() < 1e-3  # equal to the float32 bit but for rare rounding ties
        q_ref = R.prepare(img)[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(core.prepare_frame(img), q_ref, rtol=0, atol=2.5e-7)


def _assert_masks_agree(ref_mask, ref_ssim, mask, ssim, threshold=0.92):
    assert mask.dtype == np.uint8 and mask.shape == ref_mask.shape
    assert ssim.shape == ref_ssim.shape
    assert np.abs(ssim - ref_ssim).max() < SSIM_TOL
    differ = mask != ref_mask
    if differ.any():  # only where the reference SSIM is within tolerance of the threshold
        b = ssim.shape
        blocks = differ[: b[0] * 8, : b[1] * 8].reshape(b[0], 8, b[1], 8).any(axis=(1, 3))
        assert np.all(np.abs(ref_ssim[blocks] - threshold) < SSIM_TOL)


@pytest.mark.parametrize("flow_kind", ["zero", "smooth"])
def test_mask_matches_reference_random(flow_kind):
    ref_img = _textured(136, 200, 13)
    frame = np.clip(np.roll(ref_img, 3, axis=1).astype(np.int16) + 12, 0, 255).astype(np.uint8)
    frame[40:96, 56:150] = frame[40:96, 56:150] // 4  # a dissimilar (dark) region
    h, w = 136 // 4, 200 // 4
    flow = np.zeros((2, h, w), np.float32) if flow_kind == "zero" else _smooth_flow(h, w)
    ref_mask, ref_ssim = R.mask_for_pair(ref_img, frame, flow)
    mask, ssim = core.mask_for_pair(ref_img, frame, flow, MaskParams())
    _assert_masks_agree(ref_mask, ref_ssim, mask, ssim)
    assert 0 < mask.mean() < 1
    # leftover rows/columns (34 = 4 * 8 + 2, 50 = 6 * 8 + 2) stay 0
    assert not mask[32:].any() and not mask[:, 48:].any()
    # a callable flow gets the prepared pair
    seen = {}

    def flow_fn(a, b):
        seen["shapes"] = (a.shape, b.shape)
        return torch.from_numpy(flow)[None]

    mask2, ssim2 = core.mask_for_pair(ref_img, frame, flow_fn, MaskParams())
    assert seen["shapes"] == ((h, w, 3), (h, w, 3))
    np.testing.assert_array_equal(mask2, mask)
    np.testing.assert_array_equal(ssim2, ssim)


@pytest.mark.parametrize("flow_kind", ["zero", "smooth"])
def test_mask_matches_reference_real(real_frames, flow_kind):
    flow = np.zeros((2, 64, 64), np.float32) if flow_kind == "zero" else _smooth_flow(64, 64)
    for clip in range(2):
        f0, f4, f9 = real_frames[3 * clip:3 * clip + 3]
        for ref_img, frame in ((f4, f9), (f0, f9), (f9, f9)):
            ref_mask, ref_ssim = R.mask_for_pair(ref_img, frame, flow)
            mask, ssim = core.mask_for_pair(ref_img, frame, flow, MaskParams())
            _assert_masks_agree(ref_mask, ref_ssim, mask, ssim)


def test_identity_flow_none():
    img = _textured(64, 96, 15)
    q = core.prepare_frame(img)
    mask, ssim = core.block_mask(q, q, None)
    assert not mask.any() and np.allclose(ssim, 1.0)
    mask0, _ = core.block_mask(q, q, np.zeros((2, 16, 24), np.float32))
    assert not mask0.any()


def test_degenerate_frames():
    black = np.zeros((64, 64, 3), np.uint8)
    q = core.prepare_frame(black)  # A = 0: the official code divides 0 by 0 here; we keep J = I = 0
    assert np.isfinite(q).all() and not q.any()
    white = np.full((64, 64, 3), 255, np.uint8)
    np.testing.assert_allclose(core.dehaze(white), R.dehaze(white / 255.0).astype(np.float32), atol=1e-6)
    # a flow pointing outside the image: nothing valid, both images zero, SSIM 1, mask 0
    img = _textured(64, 64, 20)
    mask, ssim = core.block_mask(core.prepare_frame(img), core.prepare_frame(img[::-1]),
                                 np.full((2, 16, 16), 100.0, np.float32))
    assert not mask.any() and np.allclose(ssim, 1.0)


def test_thread_count_does_not_change_results():
    img = _textured(200, 700, 16)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = core.prepare_frame(img)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = core.prepare_frame(img)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


_NOJIT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from lsvd.masks import core
    from lsvd.masks import kernels as K
    data = np.load(sys.argv[1])
    p = core.MaskParams()
    rq = core.prepare_reference(data["ref"], p)
    fq = core.prepare_frame(data["frame"], p)
    mask, ssim = core.block_mask(rq, fq, data["flow"], p)
    box = K.box_filter(data["ref"][..., 0] / 255.0, 81)
    np.savez(sys.argv[2], rq=rq, fq=fq, mask=mask, ssim=ssim, box=box)
    print(json.dumps({"jit_disabled": K.min_rgb.__class__.__name__ == "function"}))
    """
)


def test_kernels_run_without_jit(tmp_path):
    ref_img = _textured(40, 56, 17)
    frame = np.clip(ref_img.astype(np.int16) - 20, 0, 255).astype(np.uint8)
    frame[8:30, 10:40] = _textured(22, 30, 18)
    flow = _smooth_flow(10, 14, 1.0)
    np.savez(tmp_path / "in.npz", ref=ref_img, frame=frame, flow=flow)
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _NOJIT_SCRIPT, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
        env=env, capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"jit_disabled": True}
    got = np.load(tmp_path / "out.npz")
    p = MaskParams()
    rq, fq = core.prepare_reference(ref_img, p), core.prepare_frame(frame, p)
    mask, ssim = core.block_mask(rq, fq, flow, p)
    np.testing.assert_array_equal(got["rq"], rq)
    np.testing.assert_array_equal(got["fq"], fq)
    np.testing.assert_array_equal(got["mask"], mask)
    np.testing.assert_allclose(got["ssim"], ssim, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["box"], K.box_filter(ref_img[..., 0] / 255.0, 81), rtol=1e-13, atol=0)


# ---------------------------------------------------------------------------------- params and errors


def test_params_validate_and_digest():
    p = MaskParams()
    assert p.validate() is p
    assert p.digest() == MaskParams().digest() and len(p.digest()) == 16
    assert MaskParams(omega=1).digest() == MaskParams(omega=1.0).digest()
    assert MaskParams(threshold=0.9).digest() != p.digest()
    for bad in ({"box": 80}, {"erosion": 0}, {"block": 6}, {"eps": 0.0}, {"omega": 1.5}, {"max_veil": 1.0},
                {"bins": 1}, {"scale": 0.0}, {"blur_ksize": 4}, {"threshold": float("nan")}):
        with pytest.raises(ValueError, match="MaskParams"):
            MaskParams(**bad).validate()


def test_bad_inputs():
    img = _textured(64, 64, 19)
    p = MaskParams()
    with pytest.raises(ValueError, match="NaN or inf"):
        core.dehaze(np.full((64, 64, 3), np.nan))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        core.dehaze(np.full((64, 64, 3), 2.0))
    with pytest.raises(ValueError, match="smaller than one 8x8 block"):
        core.prepare_frame(img[:31])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        core.prepare_frame(img[..., 0])
    with pytest.raises(ValueError, match="dtype"):
        core.prepare_frame(img.astype(np.int16))
    with pytest.raises(ValueError, match="same size"):
        core.mask_for_pair(img, img[:, :48], None, p)
    q = core.prepare_frame(img)
    with pytest.raises(ValueError, match="same shape"):
        core.block_mask(q, q[:, :12], None)
    with pytest.raises(ValueError, match=r"flow: expected shape \(2, 16, 16\)"):
        core.block_mask(q, q, np.zeros((2, 16, 15), np.float32))
    with pytest.raises(ValueError, match="finite"):
        core.block_mask(q, q, np.full((2, 16, 16), np.inf, np.float32))
    with pytest.raises(ValueError, match="NaN or inf"):
        core.block_mask(np.full_like(q, np.nan), q, None)
    with pytest.raises(ValueError, match="float32"):
        core.block_mask(q.astype(np.uint8), q, None)
    with pytest.raises(ValueError, match="float"):
        core.quarter(img)
