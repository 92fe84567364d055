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

Parameters: ``params/fade_live_ps8.npz`` (see ``params/PIQE_FADE_PROVENANCE.md``). Lower = less fog.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from benchmarks.metrics.base import METRICS, Metric, ParamFile, check_image

PATCH = 8
FADE_PARAMS = ParamFile("fade_live_ps8.npz", version="fade-python 1.0.0 (LIVE FADE release, ps 8)",
                        source="pyfade/models/natural_{fogfree,foggy}_image_features_ps8.mat, "
                               "matlab_constant_window_lookup.mat")

_GRAY_W = (0.298936021293775, 0.587043074451121, 0.114020904255103)  # MATLAB rgb2gray
_CE_T = (9.225496406318721e-004 * 255.0, 8.969246659629488e-004 * 255.0, 2.069284034165411e-004 * 255.0)
_CE_BORDER = 10
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


def _blocks(a: np.ndarray) -> np.ndarray:
    r, c = a.shape[0] // PATCH, a.shape[1] // PATCH
    return a.reshape(r, PATCH, c, PATCH).transpose(0, 2, 1, 3).reshape(r, c, PATCH * PATCH)


def _block_mean(a: np.ndarray) -> np.ndarray:
    r, c = a.shape[0] // PATCH, a.shape[1] // PATCH
    return a.reshape(r, PATCH, c, PATCH).mean(axis=(1, 3))


def _nanvar_blocks(a: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Unbiased variance over the kept entries of each 8x8 block (1 kept: 0; none: NaN)."""
    b, k = _blocks(a), _blocks(keep)
    n = k.sum(axis=2).astype(np.float64)
    bz = np.where(k, b, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = bz.sum(axis=2) / n
        d = np.where(k, b - mean[..., None], 0.0)
        var = (d * d).sum(axis=2) / (n - 1.0)
    var[n == 1] = 0.0
    var[n == 0] = np.nan
    return var


def _entropy_blocks(gray_u8: np.ndarray) -> np.ndarray:
    """Shannon entropy (bits) of the grey levels of each 8x8 block."""
    b = _blocks(gray_u8)
    r, c, n = b.shape
    s = np.sort(b.reshape(-1, n), axis=1)
    new = np.ones_like(s, dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    run = np.cumsum(new.ravel()) - 1
    lengths = np.bincount(run)
    owner = np.repeat(np.arange(r * c), new.sum(axis=1))
    p = lengths / float(n)
    return np.bincount(owner, weights=-(p * np.log2(p)), minlength=r * c).reshape(r, c)


def _contrast_energy(channel: np.ndarray, threshold: float) -> np.ndarray:
    h, w = channel.shape
    b = _CE_BORDER
    padded = np.concatenate([channel[:b], channel, channel[-b:]], axis=0)
    padded = np.ascontiguousarray(np.concatenate([padded[:, :b], padded, padded[:, -b:]], axis=1))
    k = _ce_kernel()
    cx = cv2.filter2D(padded, cv2.CV_64F, k.reshape(1, -1), anchor=(9, 0), borderType=cv2.BORDER_CONSTANT)
    cy = cv2.filter2D(padded, cv2.CV_64F, k.reshape(-1, 1), anchor=(0, 9), borderType=cv2.BORDER_CONSTANT)
    contrast = np.sqrt(cx * cx + cy * cy)[b:b + h, b:b + w]
    cmax = float(contrast.max())
    with np.errstate(divide="ignore", invalid="ignore"):
        resp = contrast * cmax / (contrast + cmax * _CE_SEMISAT) - threshold
    return np.where(resp > 1e-7, resp, 0.0)


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
    img = img[:h, :w]
    f = img.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    gray = np.clip(np.floor(r * _GRAY_W[0] + g * _GRAY_W[1] + b * _GRAY_W[2] + 0.5), 0, 255)
    gray_u8 = gray.astype(np.uint8)

    mu = cv2.sepFilter2D(gray, cv2.CV_64F, _GAUSS, _GAUSS, borderType=cv2.BORDER_REPLICATE)
    m2 = cv2.sepFilter2D(gray * gray, cv2.CV_64F, _GAUSS, _GAUSS, borderType=cv2.BORDER_REPLICATE)
    kernel = np.ones((7, 7), np.uint8)
    flat = cv2.erode(gray_u8, kernel, borderType=cv2.BORDER_REPLICATE) == cv2.dilate(
        gray_u8, kernel, borderType=cv2.BORDER_REPLICATE)
    if flat.any():  # MATLAB's residue on constant windows (decides NaN patterns of flat patches)
        m = _models()
        gv = gray[flat]
        mu[flat] = gv + m["mu_off"][gray_u8[flat]]
        m2[flat] = gv * gv + m["m2_off"][gray_u8[flat]]
    sigma = np.sqrt(np.abs(m2 - mu * mu))
    mscn = (gray - mu) / (sigma + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = sigma / mu

    pair = mscn * np.roll(mscn, 1, axis=0)
    finite = ~np.isnan(mscn)
    feats = [
        _nanvar_blocks(mscn, finite),
        _nanvar_blocks(pair, ~(pair < 0) & ~np.isnan(pair)),   # pyfade's "R": products >= 0
        _nanvar_blocks(pair, ~(pair > 0) & ~np.isnan(pair)),   # "L": products <= 0
        _block_mean(sigma),
        _block_mean(cv),
    ]
    gray_f = 0.299 * r + 0.587 * g + 0.114 * b
    by_ce = 0.5 * r + 0.5 * g - b
    feats += [_block_mean(_contrast_energy(ch, t)) for ch, t in zip((gray_f, by_ce, r - g), _CE_T, strict=True)]
    feats.append(_entropy_blocks(gray_u8))
    feats.append(_block_mean(np.minimum(np.minimum(r, g), b) / 255.0))
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    with np.errstate(divide="ignore", invalid="ignore"):
        sat = np.where(mx > 0, (mx - mn) / mx, 0.0)
    feats.append(_block_mean(sat))
    rg_b, by_b = _blocks(r - g), _blocks(0.5 * (r + g) - b)
    cf = np.sqrt(rg_b.var(axis=2, ddof=1) + by_b.var(axis=2, ddof=1))
    cf = cf + 0.3 * np.sqrt(rg_b.mean(axis=2) ** 2 + by_b.mean(axis=2) ** 2)
    feats.append(cf)
    return np.log1p(np.stack(feats, axis=-1))


def _distance(feat: np.ndarray, name: str, m: dict) -> np.ndarray:
    """Per-patch distance to a model, with ``(cov + var(f) 11') / 2`` inverted by Sherman-Morrison."""
    valid = ~np.isnan(feat)
    cnt = valid.sum(axis=1)
    fz = np.where(valid, feat, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = fz.sum(axis=1) / cnt
        dv = np.where(valid, feat - mean[:, None], 0.0)
        pvar = (dv * dv).sum(axis=1) / (cnt - 1.0)
    pvar[cnt == 1] = 0.0
    pvar[cnt == 0] = np.nan
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
    m = _models()
    df = _distance(flat, "fogfree", m)
    dff = _distance(flat, "foggy", m)
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
