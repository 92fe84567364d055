"""The fast (Numba / fused) paths of ``benchmarks.metrics._nss`` against plain, independent numpy computations.

NIQE and BRISQUE must keep their values when their kernels are sped up, so most checks here are exact: the
reference computes the same float operations in the same order in plain numpy (``np.cumsum`` adds strictly
left to right, as the block sums must). Checks against a fully independent formulation (direct 7x7 window
sums, per-pixel MATLAB resize weights) use tolerances. Frozen scores were recorded from the implementation
before the fast paths (same digits bit for bit on the development machine).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from benchmarks.metrics import _nss
from benchmarks.metrics.brisque import brisque
from benchmarks.metrics.niqe import niqe


def _textured(h: int, w: int, seed: int) -> np.ndarray:
    """A deterministic uint8 RGB texture (multi-scale integer noise, box-blurred with integer arithmetic only,
    so it is the same on every platform) plus a horizontal ramp."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((h, w, 3), dtype=np.int64)
    for cell, weight in ((1, 1), (4, 2), (16, 4), (64, 8)):
        n = rng.integers(0, 256, (-(-h // cell) + 1, -(-w // cell) + 1, 3), dtype=np.int64)
        up = np.repeat(np.repeat(n, cell, axis=0), cell, axis=1)
        k = max(cell // 2, 1)
        c = np.cumsum(np.cumsum(np.pad(up, ((1, 0), (1, 0), (0, 0))), 0), 1)
        hh, ww = up.shape[0] - k + 1, up.shape[1] - k + 1
        box = (c[k:k + hh, k:k + ww] - c[:hh, k:k + ww] - c[k:k + hh, :ww] + c[:hh, :ww]) // (k * k)
        acc += weight * box[:h, :w]
    img = acc // 15 + (np.arange(w, dtype=np.int64) * 40 // w)[None, :, None] - 20
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return _textured(37, 53, 5)


@pytest.fixture(scope="module")
def luma(rgb) -> np.ndarray:
    return _nss.to_luma(rgb)


# ---------------------------------------------------------------------------------------------- to_luma


@pytest.mark.parametrize("view", ["plain", "bgr_view", "strided", "transposed"])
def test_to_luma_matches_numpy_float32(rgb, view):
    arr = {"plain": rgb, "bgr_view": rgb[..., ::-1], "strided": rgb[::2, ::3],
           "transposed": rgb.transpose(1, 0, 2)}[view]
    ref = np.round((arr.astype(np.float32) / np.float32(255.0)) @ np.array([0.299, 0.587, 0.114], np.float32)
                   * np.float32(255.0)).astype(np.float64)
    out = _nss.to_luma(arr)
    assert out.dtype == np.float64 and out.shape == arr.shape[:2]
    np.testing.assert_array_equal(out, ref)
    native = _nss.luma_native(arr)
    assert native.dtype == np.float32
    np.testing.assert_array_equal(native, ref)
    # and it is the Y of YIQ up to the rounding of ties
    exact = arr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert np.max(np.abs(out - exact)) <= 0.5 + 1e-4


def test_to_luma_all_uint8_values_convert_exactly():
    v = np.arange(256, dtype=np.uint8)
    x = np.empty(256, np.float32)
    _nss._u8_to_unit(v, x)
    np.testing.assert_array_equal(x, v.astype(np.float32) / np.float32(255.0))


# ------------------------------------------------------------------------------------------------- mscn


def _direct_window_mean(x: np.ndarray, k: np.ndarray, border: str) -> np.ndarray:
    """``sum_ab k[a, b] x[i + a - r, j + b - r]`` by explicit padding and shifted slices (float64)."""
    r = k.shape[0] // 2
    pad = np.pad(x, r, mode="edge" if border == "replicate" else "constant")
    out = np.zeros(x.shape, dtype=np.float64)
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            out += k[a, b] * pad[a:a + x.shape[0], b:b + x.shape[1]]
    return out


@pytest.mark.parametrize("gain", [1.0, 1e-3])  # low contrast: the eps under the square root shows
@pytest.mark.parametrize("border", ["replicate", "zero"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mscn_exact_tail_and_direct_formula(luma, border, dtype, gain):
    img = luma * gain
    out = _nss.mscn(img, border=border, dtype=dtype)
    assert out.dtype == dtype and out.shape == luma.shape
    # exact: the same OpenCV window sums, then the formula in numpy, in ``dtype``
    x = img.astype(dtype)
    k = _nss.matlab_gaussian().astype(dtype)
    bt = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    mu, ex2 = cv2.filter2D(x, -1, k, borderType=bt), cv2.filter2D(x * x, -1, k, borderType=bt)
    ref = (x - mu) / (np.sqrt(np.abs(ex2 - mu * mu) + np.finfo(dtype).eps) + dtype(1.0))
    np.testing.assert_array_equal(out, ref)
    # independent: direct 7x7 window sums in float64
    g = _nss.matlab_gaussian()
    x64 = img.astype(np.float64)
    mu64 = _direct_window_mean(x64, g, border)
    sd64 = np.sqrt(np.abs(_direct_window_mean(x64 * x64, g, border) - mu64 ** 2) + float(np.finfo(dtype).eps))
    np.testing.assert_allclose(out, (x64 - mu64) / (sd64 + 1.0), rtol=0, atol=1e-9 if dtype == np.float64 else 1e-3)


def test_mscn_other_parameters_and_layouts(luma):
    ref = _nss.mscn(np.ascontiguousarray(luma.T), kernel_size=5, sigma=1.0, c=0.5)
    np.testing.assert_array_equal(_nss.mscn(luma.T, kernel_size=5, sigma=1.0, c=0.5), ref)
    x = luma.T.copy()
    k = _nss.matlab_gaussian(5, 1.0)
    mu, ex2 = cv2.filter2D(x, -1, k, borderType=cv2.BORDER_REPLICATE), cv2.filter2D(
        x * x, -1, k, borderType=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(ref, (x - mu) / (np.sqrt(np.abs(ex2 - mu * mu) + np.finfo(float).eps) + 0.5))


# ---------------------------------------------------------------------------------------------- imresize


def _matlab_weights(n_in: int, n_out: int, scale: float) -> np.ndarray:
    """``(n_out, n_in)`` MATLAB bicubic (a = -0.5) resize matrix, antialiased when shrinking, built pixel by
    pixel from MATLAB's 1-based formulas, symmetric edge handling folded into the columns."""
    def cubic(t: float) -> float:
        t = abs(t)
        if t <= 1:
            return 1.5 * t ** 3 - 2.5 * t ** 2 + 1
        if t <= 2:
            return -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2
        return 0.0

    aa = scale if scale < 1 else 1.0
    width = 4.0 / aa
    m = np.zeros((n_out, n_in))
    for i in range(1, n_out + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [(j, aa * cubic(aa * (u - j))) for j in range(left, left + math.ceil(width) + 3)]
        total = sum(w for _, w in taps)
        for j, w in taps:
            jj = j - 1  # 0-based, then mirror: [.., b, a | a, b, ..]
            while jj < 0 or jj >= n_in:
                jj = -1 - jj if jj < 0 else 2 * n_in - 1 - jj
            m[i - 1, jj] += w / total
    return m


@pytest.mark.parametrize("scale", [0.5, 0.37, 1.6])
def test_imresize_matches_direct_weights(luma, scale):
    oh, ow = math.ceil(luma.shape[0] * scale), math.ceil(luma.shape[1] * scale)
    ref = _matlab_weights(luma.shape[0], oh, scale) @ luma @ _matlab_weights(luma.shape[1], ow, scale).T
    out64 = _nss.imresize(luma, scale, dtype=np.float64)
    assert out64.shape == (oh, ow)
    np.testing.assert_allclose(out64, ref, rtol=0, atol=1e-9)
    out32 = _nss.imresize(luma, scale)
    assert out32.dtype == np.float64
    np.testing.assert_allclose(out32, ref, rtol=0, atol=2e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale,shape", [(0.5, None), (0.3, None), (None, (17, 61))])
def test_imresize_fast_kernels_exact(luma, dtype, scale, shape):
    """Bit-exact against the numpy gather loop (rows first, taps summed from zero in order, in ``dtype``)."""
    x = luma[:, ::-1].astype(dtype)  # a non-contiguous input too
    h, w = x.shape
    oh, ow = shape or (math.ceil(h * scale), math.ceil(w * scale))
    ref = x
    if oh != h:
        idx, wt = _nss._resize_weights(h, oh, oh / h if shape else scale, True, dtype)
        acc = np.zeros((oh, w), dtype=dtype)
        for k in range(idx.shape[1]):
            acc += wt[:, k, None] * ref[idx[:, k], :]
        ref = acc
    idx, wt = _nss._resize_weights(w, ow, ow / w if shape else scale, True, dtype)
    acc = np.zeros((oh, ow), dtype=dtype)
    for k in range(idx.shape[1]):
        acc += wt[None, :, k] * ref[:, idx[:, k]]
    out = _nss.imresize_native(x, scale, shape, dtype=dtype)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, acc)
    np.testing.assert_array_equal(_nss.imresize(x, scale, shape, dtype=dtype), acc.astype(np.float64))


# ------------------------------------------------------------------------------------------- block_stats


def _block_stats_reference(x: np.ndarray, block: tuple[int, int] | None) -> np.ndarray:
    """Per block, ``np.roll`` inside the block, float64 products, sums strictly left to right (``np.cumsum``)."""
    x = np.asarray(x, dtype=np.float64)
    bh, bw = block or x.shape
    nbh, nbw = x.shape[0] // bh, x.shape[1] // bw
    out = np.zeros((nbh, nbw, 5, 6))
    for bi in range(nbh):
        for bj in range(nbw):
            b = x[bi * bh:(bi + 1) * bh, bj * bw:(bj + 1) * bw]
            for s, shift in enumerate(((0, 0),) + _nss.SHIFTS):
                p = (b if s == 0 else b * np.roll(b, shift, axis=(0, 1))).ravel()
                neg, pos = p < 0, p > 0
                out[bi, bj, s] = [neg.sum(), pos.sum(), _seq_sum(np.where(neg, p * p, 0.0)),
                                  _seq_sum(np.where(pos, p * p, 0.0)), _seq_sum(np.where(neg | pos, np.abs(p), 0.0)),
                                  p.size]
    return out


def _seq_sum(v: np.ndarray) -> float:
    """``((v0 + v1) + v2) + ...`` (``np.cumsum`` is strictly sequential; ``np.sum`` is pairwise)."""
    return float(np.cumsum(v)[-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block", [None, (8, 10), (12, 7), (1, 3), (3, 1), (1, 1)])
def test_block_stats_exact(luma, dtype, block):
    m = _nss.mscn(luma, dtype=dtype)
    m[::5, ::3] = 0.0  # exact zeros count nowhere
    got = _nss.block_stats(m, block)
    np.testing.assert_array_equal(got, _block_stats_reference(m, block))
    np.testing.assert_array_equal(_nss.block_stats(m[::-1].T, block), _block_stats_reference(m[::-1].T, block))


def test_block_stats_ignores_nan(luma):
    m = _nss.mscn(luma)
    m[3, 4] = np.nan
    got = _nss.block_stats(m, (9, 9))
    clean = np.nan_to_num(m, nan=0.0)  # a NaN value (and its products) is counted nowhere, like 0
    ref = _block_stats_reference(clean, (9, 9))
    np.testing.assert_array_equal(got, ref)


# ---------------------------------------------------------------------------------------- frozen scores

# Recorded from the implementation before the fast paths (numpy loops, per-shift Numba kernel).
FROZEN = {
    ("a", "brisque"): 45.974472659742105, ("a", "niqe"): 11.042065525442519,
    ("b", "brisque"): 46.857470216966135, ("b", "niqe"): 11.13465684871871,
    ("g", "brisque"): 53.089255483782836, ("g", "niqe"): 12.276496006855263,
}


@pytest.fixture(scope="module")
def frozen_images() -> dict[str, np.ndarray]:
    return {"a": _textured(200, 300, 0), "b": _textured(131, 197, 1),
            "g": _textured(120, 150, 2)[..., 1].astype(np.float64) / 255.0}


@pytest.mark.parametrize("key", sorted(FROZEN))
def test_frozen_scores(frozen_images, key):
    name, metric = key
    fn = brisque if metric == "brisque" else niqe
    assert fn(frozen_images[name]) == pytest.approx(FROZEN[key], rel=1e-10, abs=0)
