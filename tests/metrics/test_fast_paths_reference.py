"""The fast ``ssim`` / ``ciede2000`` of :mod:`benchmarks.metrics.reference` (Numba kernels in
:mod:`benchmarks.metrics._color`) against independent computations and against values of the previous
implementation (OpenCV ``filter2D`` per channel; ``skimage.color``)."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.color as skimage_color
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.metrics import reference


def _hash_image(h: int, w: int, salt: int) -> np.ndarray:
    """Deterministic uint8 noise (integer hash of the pixel and channel index)."""
    i, j, c = np.meshgrid(np.arange(h, dtype=np.uint64), np.arange(w, dtype=np.uint64),
                          np.arange(3, dtype=np.uint64), indexing="ij")
    v = (i * np.uint64(73856093) ^ j * np.uint64(19349663) ^ (c + np.uint64(salt)) * np.uint64(83492791))
    return (((v * np.uint64(2654435761)) >> np.uint64(13)) % np.uint64(256)).astype(np.uint8)


def _smooth_image(h: int, w: int) -> np.ndarray:
    i, j = np.mgrid[0:h, 0:w]
    return np.stack([(3 * i + 2 * j) % 256, (5 * i + 255 - j) % 256, (i * j // 7) % 256], axis=-1).astype(np.uint8)


def _smooth_pair() -> tuple[np.ndarray, np.ndarray]:
    a = _smooth_image(37, 53)
    b = (a.astype(np.int64) + _hash_image(37, 53, 1) % 41 - 20).clip(0, 255).astype(np.uint8)
    return a, b


# --------------------------------------------------------------------------- SSIM


def _ssim_direct(x: np.ndarray, y: np.ndarray) -> float:
    """MMEditing SSIM from the definition: explicit 11x11 windows (own Gaussian, sigma 1.5) at every valid
    position of each channel, float64 on the 0..255 scale, mean of the per-channel means."""
    d = np.arange(11) - 5.0
    k = np.exp(-(d**2) / (2 * 1.5**2))
    window = np.outer(k, k) / k.sum() ** 2
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    means = []
    for ch in range(3):
        wx = sliding_window_view(x[..., ch], (11, 11))  # (H - 10, W - 10, 11, 11)
        wy = sliding_window_view(y[..., ch], (11, 11))

        def avg(v):
            return np.einsum("ijkl,kl->ij", v, window)

        mx, my = avg(wx), avg(wy)
        vx, vy, cxy = avg(wx * wx) - mx**2, avg(wy * wy) - my**2, avg(wx * wy) - mx * my
        ssim_map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        means.append(ssim_map.mean())
    return float(np.mean(means))


@pytest.mark.parametrize("shape", [(11, 11), (11, 13), (17, 12), (37, 53)])
def test_ssim_matches_direct_window_computation(shape):
    h, w = shape
    a = _hash_image(h, w, 4)
    b = (a.astype(np.int64) + _hash_image(h, w, 5) % 61 - 30).clip(0, 255).astype(np.uint8)
    for x, y in ((a, b), (_smooth_image(h, w), b), (a / 255.0, b.astype(np.float32) / np.float32(255))):
        expected = _ssim_direct(np.asarray(x, np.float64) * (255.0 if x.dtype != np.uint8 else 1.0),
                                np.asarray(y, np.float64) * (255.0 if y.dtype != np.uint8 else 1.0))
        assert reference.ssim(x, y) == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_ssim_dtypes_and_identity():
    a, b = _smooth_pair()
    assert reference.ssim(a, a.copy()) == 1.0
    # uint8 and float inputs holding the same values; a non-contiguous view
    assert reference.ssim(a / 255.0, b) == pytest.approx(reference.ssim(a, b), rel=1e-13)
    assert reference.ssim(a[:, ::-1], b[:, ::-1]) == pytest.approx(_ssim_direct(a[:, ::-1] * 1.0, b[:, ::-1] * 1.0),
                                                                   rel=1e-12)
    with pytest.raises(ValueError, match="larger than 10x10"):
        reference.ssim(a[:10], b[:10])


# --------------------------------------------------------------------------- CIEDE2000


def _colour_pairs() -> tuple[np.ndarray, np.ndarray]:
    """Pairs of sRGB uint8 colours (N, 3) each: gray axis, black, white, saturated primaries and secondaries,
    random colours; against permutations, black, white, gray and near-identical colours."""
    rng = np.random.default_rng(7)
    gray = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    saturated = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255],
                          [128, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [255, 255, 254], [0, 0, 0], [255, 255, 255]],
                         dtype=np.uint8)
    colours = np.concatenate([gray, saturated, rng.integers(0, 256, (600, 3)).astype(np.uint8)])
    n = len(colours)
    near = np.clip(colours.astype(int) + rng.integers(-1, 2, colours.shape), 0, 255).astype(np.uint8)
    partners = [colours[rng.permutation(n)], np.zeros_like(colours), np.full_like(colours, 255),
                gray[rng.integers(0, 256, n)], near, colours[::-1]]
    return np.concatenate([colours] * len(partners)), np.concatenate(partners)


def _skimage_de(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    return skimage_color.deltaE_ciede2000(skimage_color.rgb2lab(p / 255.0), skimage_color.rgb2lab(r / 255.0))


def test_ciede2000_per_pixel_matches_skimage_on_colour_grid():
    p, r = _colour_pairs()
    expected = _skimage_de(p[None], r[None])[0]
    got = np.array([reference.ciede2000(p[i:i + 1][None], r[i:i + 1][None]) for i in range(len(p))])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    # the whole set as one image: the mean of the same per-pixel values
    assert reference.ciede2000(p[None], r[None]) == pytest.approx(expected.mean(), rel=1e-12)

    # the grid covers every branch of the hue rules (classified here from skimage's Lab values)
    lab1, lab2 = skimage_color.rgb2lab(p / 255.0), skimage_color.rgb2lab(r / 255.0)
    cbar = 0.5 * (np.hypot(lab1[:, 1], lab1[:, 2]) + np.hypot(lab2[:, 1], lab2[:, 2]))
    g = 1 + 0.5 * (1 - np.sqrt(cbar**7 / (cbar**7 + 25.0**7)))
    h1 = np.mod(np.arctan2(lab1[:, 2], lab1[:, 1] * g), 2 * np.pi)
    h2 = np.mod(np.arctan2(lab2[:, 2], lab2[:, 1] * g), 2 * np.pi)
    chroma0 = (np.hypot(lab1[:, 1] * g, lab1[:, 2]) * np.hypot(lab2[:, 1] * g, lab2[:, 2])) == 0
    wrap = ~chroma0 & (np.abs(h2 - h1) > np.pi)
    assert chroma0.sum() > 10
    assert (wrap & (h1 + h2 < 2 * np.pi)).sum() > 10 and (wrap & (h1 + h2 >= 2 * np.pi)).sum() > 10
    hbar_deg = np.degrees(np.where(wrap, np.mod((h1 + h2) / 2 + np.pi, 2 * np.pi), (h1 + h2) / 2))
    assert (np.abs(hbar_deg - 275) < 25).sum() > 10  # the rotation term's region


def test_ciede2000_float_inputs_and_lab_conversion_match_skimage():
    rng = np.random.default_rng(3)
    p = rng.random((9, 14, 3))
    p[0, :4] = [[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0]]
    r = rng.random((9, 14, 3)).astype(np.float32)
    expected = skimage_color.deltaE_ciede2000(skimage_color.rgb2lab(p * 255.0 / 255.0),
                                              skimage_color.rgb2lab(r.astype(np.float64) * 255.0 / 255.0))
    assert reference.ciede2000(p, r) == pytest.approx(expected.mean(), rel=1e-12)
    for img in (p, r, _hash_image(9, 14, 6)):
        scaled = img / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)
        expected_lab = skimage_color.rgb2lab(scaled)
        np.testing.assert_allclose(reference.ciede2000_reference(img), expected_lab, rtol=0, atol=1e-11)


def test_ciede2000_ref_lab_gives_the_same_value():
    a, b = _smooth_pair()
    lab = reference.ciede2000_reference(b)
    assert lab.shape == b.shape and lab.dtype == np.float64
    assert reference.ciede2000(a, b, ref_lab=lab) == pytest.approx(reference.ciede2000(a, b), rel=1e-14)
    assert reference.ciede2000(a / 255.0, b, ref_lab=lab) == pytest.approx(reference.ciede2000(a / 255.0, b), rel=1e-14)
    assert reference.ciede2000(b, b, ref_lab=lab) == 0.0
    with pytest.raises(ValueError, match="ref_lab"):
        reference.ciede2000(a, b, ref_lab=lab[:-1])
    with pytest.raises(ValueError, match="ref_lab"):
        reference.ciede2000(a, b, ref_lab=lab.astype(np.float32))
    with pytest.raises(ValueError, match="RGB array"):
        reference.ciede2000_reference(b[..., 0])
    with pytest.raises(ValueError, match="float in"):
        reference.ciede2000_reference(b * 1.0)


# --------------------------------------------------------------------------- values of the previous implementation

# Recorded with the previous ssim (cv2.filter2D, 11x11 window per channel) and ciede2000 (skimage rgb2lab +
# deltaE_ciede2000) on these deterministic images.
FROZEN = {
    "smooth": (0.5491642734838397, 5.851064902872353),
    "hash": (0.0016117689309198804, 51.32901722780803),
}


def test_frozen_values_of_the_previous_implementation():
    a, b = _smooth_pair()
    pairs = {"smooth": (a, b), "hash": (_hash_image(29, 31, 2), _hash_image(29, 31, 3))}
    for name, (x, y) in pairs.items():
        ssim_old, ciede_old = FROZEN[name]
        assert reference.ssim(x, y) == pytest.approx(ssim_old, rel=1e-10)
        assert reference.ciede2000(x, y) == pytest.approx(ciede_old, rel=1e-10)
    assert reference.ssim(a / 255.0, b / 255.0) == pytest.approx(FROZEN["smooth"][0], rel=1e-10)
    assert reference.ciede2000(a / 255.0, b / 255.0) == pytest.approx(FROZEN["smooth"][1], rel=1e-10)


@pytest.mark.parametrize("shape", [(1, 3, 64, 96), (2, 3, 37, 53), (1, 3, 6, 9), (1, 3, 270, 480), (1, 1, 20, 30)])
@pytest.mark.parametrize("kernel_size", [5, 3, 7])
def test_gaussian_blur_fast_path_is_torchs_conv_bit_for_bit(shape, kernel_size):
    """The CPU fast path (cv2.filter2D on the reflect-padded image; RGB, 5x5) gives torch's depthwise conv2d
    exactly; other cases take torch's path."""
    import torch

    from benchmarks.metrics.reference import _blur_kernel, _blur_torch, gaussian_blur

    x = torch.from_numpy(np.random.default_rng(sum(shape) + kernel_size).random(shape, dtype=np.float32))
    fast = gaussian_blur(x, kernel_size, 1.1)
    assert fast.shape == x.shape and fast.is_contiguous()
    assert torch.equal(fast, _blur_torch(x, _blur_kernel(kernel_size, 1.1, x)))
