"""FADE, the Fog Aware Density Evaluator (Choi, You, Bovik, IEEE TIP 2015).

Native numpy/OpenCV implementation following ``pyfade`` (``fade-python==1.0.0``, the MATLAB-aligned
port) with its default settings (patch size 8):

* the image is cropped to a multiple of 8; each 8x8 patch gets 12 "fog aware" features -- variance
  of the MSCN coefficients, variances of the negative/positive vertical MSCN pair products, mean local
  standard deviation, mean coefficient of variation, mean colour-opponent contrast energy (grey,
  yellow-blue, red-green), entropy, mean dark channel, mean saturation and colourfulness -- each
  mapped through ``log(1 + f)``;
* the Mahalanobis-like distance of each patch to the LIVE fog-free and foggy multivariate Gaussian
  models (``((mu - f) ((cov + var(f)) / 2)^-1 (mu - f)')^(1/2)``, averaged over the patches, NaN patches
  skipped) gives ``D_f`` and ``D_ff``; FADE is ``D_f / (D_ff + 1)``.

MATLAB details kept from pyfade: ``rgb2gray`` weights with round-half-up, replicate-border 7x7 Gaussian
(sigma 7/6) moments, with MATLAB's floating-point residue on constant 7x7 windows (a 256-entry lookup
table, which decides whether a flat patch's pair-product variance is defined), the wrapping vertical
shift for the pair products, the contrast-energy borders (edge rows/columns copied 10 pixels out, then
zero padding) and its 20-tap derivative-of-Gaussian kernel.

The features are computed by Numba kernels (:mod:`benchmarks.metrics._fade_kernels`), strip by strip, which
reproduce the original numpy/OpenCV formulation operation for operation (evaluation and summation orders
included), so their values are bit-identical to it.

Parameters: ``params/fade_live_ps8.npz`` (see ``params/PIQE_FADE_PROVENANCE.md``). Lower = less fog.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from benchmarks.metrics import _fade_kernels as _k
from benchmarks.metrics.base import METRICS, Metric, ParamFile, check_image

PATCH = 8
FADE_PARAMS = ParamFile("fade_live_ps8.npz", version="fade-python 1.0.0 (LIVE FADE release, ps 8)",
                        source="pyfade/models/natural_{fogfree,foggy}_image_features_ps8.mat, "
                               "matlab_constant_window_lookup.mat")

_GRAY_W = (0.298936021293775, 0.587043074451121, 0.114020904255103)  # MATLAB rgb2gray
_GRAY_W_ARR = np.array(_GRAY_W)
_CE_T = (9.225496406318721e-004 * 255.0, 8.969246659629488e-004 * 255.0, 2.069284034165411e-004 * 255.0)
_CE_BORDER = _k.CE_BORDER
_CE_SEMISAT = 0.1


@lru_cache(maxsize=1)
def _models() -> dict[str, np.ndarray | float]:
    with np.load(FADE_PARAMS.require()) as z:
        data = {k: np.asarray(z[k], dtype=np.float64) for k in z.files}
    out: dict[str, np.ndarray | float] = {"mu_off": data["const_window_mu_offsets"],
                                          "m2_off": data["const_window_m2_offsets"]}
    for name in ("fogfree", "foggy"):
        inv = np.linalg.inv(data[f"cov_{name}"] / 2.0)
        inv = (inv + inv.T) / 2.0
        inv_ones = inv.sum(axis=1)
        out[f"mu_{name}"] = data[f"mu_{name}"]
        out[f"inv_{name}"] = inv
        out[f"inv1_{name}"] = inv_ones
        out[f"q_{name}"] = float(inv_ones.sum())
    return out


def _gauss_1d(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """Normalised Gaussian taps (exactly symmetric, as the kernels' column filter assumes)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


_GAUSS = _gauss_1d()


@lru_cache(maxsize=1)
def _ce_kernel() -> np.ndarray:
    """The 20-tap second-derivative-of-Gaussian kernel (sigma 3.25, x = -9.75:1:9.75), flipped for correlation."""
    sigma = 3.25
    x = -9.75 + np.arange(20, dtype=np.float64)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma)) / (np.sqrt(2.0 * np.pi) * sigma)
    g = g / g.sum()
    gx = ((x * x) / sigma**4 - 1.0 / sigma**2) * g
    gx = gx - gx.sum() / x.size
    gx = gx / np.sum(0.5 * x * x * gx)
    return np.ascontiguousarray(gx[::-1])


@lru_cache(maxsize=1)
def _entropy_table() -> np.ndarray:
    """``-(p log2 p)`` for ``p = k / 64``, ``k = 0..64`` (entry 0 unused)."""
    p = np.arange(1, PATCH * PATCH + 1) / float(PATCH * PATCH)
    return np.concatenate([[0.0], -(p * np.log2(p))])


@lru_cache(maxsize=8)
def _extension(n: int) -> np.ndarray:
    """Source index of each position of ``concat([a[:10], a, a[-10:]])`` along an axis of length ``n``."""
    idx = np.arange(n)
    return np.concatenate([idx[:_CE_BORDER], idx, idx[-_CE_BORDER:]]).astype(np.int64)


def _to_rgb_u8(image: np.ndarray) -> np.ndarray:
    """uint8 RGB of an RGB(A) or grey image, uint8 or float in [0, 1] (``floor(255 x + 0.5)``)."""
    img = check_image(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"fade expects an (H, W, 3) RGB image, got shape {img.shape}")
    img = img[..., :3]
    if img.dtype == np.uint8:
        return img
    return np.clip(np.floor(img.astype(np.float64) * 255.0 + 0.5), 0, 255).astype(np.uint8)


def fade_features(image: np.ndarray) -> np.ndarray:
    """The ``log(1 + f)`` fog-aware features, ``(n_row_patches, n_col_patches, 12)``."""
    img = _to_rgb_u8(image)
    h, w = (img.shape[0] // PATCH) * PATCH, (img.shape[1] // PATCH) * PATCH
    if h == 0 or w == 0:
        raise ValueError(f"fade needs an image of at least {PATCH}x{PATCH} pixels, got {img.shape[0]}x{img.shape[1]}")
    planes = cv2.split(np.ascontiguousarray(img[:h, :w]))  # uint8 R, G, B
    m = _models()
    feats = np.empty((h // PATCH, w // PATCH, 12), dtype=np.float64)
    # grey level, its 7x7 Gaussian moments (MATLAB's residue on constant windows), then per patch: MSCN and
    # pair-product variances, mean sigma and sigma / mu, entropy, dark channel, saturation, colourfulness
    _k.block_features(*planes, _GRAY_W_ARR, _GAUSS, m["mu_off"], m["m2_off"], _entropy_table(), feats)
    # contrast energies (grey, yellow-blue, red-green): features 5-7
    contrast = np.empty((h, w), dtype=np.float64)
    rows, cols = _extension(h), _extension(w)
    for i, threshold in enumerate(_CE_T):
        cmax = _k.ce_contrast(*planes, i, rows, cols, _ce_kernel(), contrast)
        _k.ce_block_mean(contrast, cmax, _CE_SEMISAT, threshold, feats, 5 + i)
    return np.log1p(feats)


def _distance(feat: np.ndarray, pvar: np.ndarray, name: str, m: dict) -> np.ndarray:
    """Per-patch distance to a model, with ``(cov + var(f) 11') / 2`` inverted by Sherman-Morrison (``pvar``:
    the unbiased variance of each patch's non-NaN features)."""
    d = m[f"mu_{name}"][None, :] - feat
    base = np.einsum("ij,ij->i", d, d @ m[f"inv_{name}"])
    alpha = pvar / 2.0
    u = d @ m[f"inv1_{name}"]
    d2 = base - alpha * u * u / (1.0 + alpha * m[f"q_{name}"])
    d2 = np.where((d2 < 0) & (np.abs(d2) < 1e-12), 0.0, d2)
    with np.errstate(invalid="ignore"):
        return np.sqrt(d2)


def fade_map(image: np.ndarray) -> tuple[float, np.ndarray]:
    """``(FADE, per-patch density map)`` of one frame."""
    feat = fade_features(image)
    shape = feat.shape[:2]
    flat = feat.reshape(-1, feat.shape[-1])
    pvar = np.empty(flat.shape[0], dtype=np.float64)
    _k.patch_var(flat, pvar)
    m = _models()
    df = _distance(flat, pvar, "fogfree", m)
    dff = _distance(flat, pvar, "foggy", m)
    with np.errstate(invalid="ignore"):
        score = float(np.nanmean(df)) / (float(np.nanmean(dff)) + 1.0) if np.isfinite(df).any() else math.nan
    return score, (df / (dff + 1.0)).reshape(shape)


def fade(image: np.ndarray) -> float:
    """FADE fog density of one frame (RGB ``(H, W, 3)``, uint8 or float in [0, 1]; at least 8x8). Lower = less
    fog/haze."""
    return fade_map(image)[0]


@METRICS.register("fade")
def _fade_metric() -> Metric:
    return Metric("fade", fade, higher_is_better=False, requires_reference="none", value_range=(0.0, math.inf),
                  params=(FADE_PARAMS,), citation="Choi, You, Bovik 2015 (FADE); as fade-python 1.0.0",
                  aggregate="frame_mean")


__all__ = ["FADE_PARAMS", "fade", "fade_features", "fade_map"]
