"""The Numba fast paths of FADE and PIQE against straightforward per-block computations, and frozen values.

The references below are written independently of the kernels: whole-image filters with OpenCV, then plain
loops over the blocks with numpy's ``var`` / ``std`` / ``unique`` on each block. They follow the conventions the
metric modules document (pyfade's for FADE; pyiqa 0.1.16's for PIQE, except that PIQE's MSCN map is float64, as
in MATLAB's original: a separable 7-tap Gaussian with replicated borders, ``cv2.sepFilter2D`` in float64).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from benchmarks.metrics import fade as fade_mod
from benchmarks.metrics import piqe as piqe_mod
from benchmarks.metrics.fade import fade, fade_features, fade_map
from benchmarks.metrics.piqe import piqe, piqe_blocks


def _frame(h: int, w: int, seed: int) -> np.ndarray:
    """Deterministic uint8 RGB texture (integer arithmetic only) with a flat grey patch and a saturated corner."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 230, size=(h // 4 + 2, w // 4 + 2, 3))
    up = np.repeat(np.repeat(coarse, 4, axis=0), 4, axis=1)
    box = sum(up[i:i + h, j:j + w] for i in range(4) for j in range(4)) // 16
    img = np.clip(box + rng.integers(-3, 4, size=(h, w, 3)), 0, 255).astype(np.uint8)
    img[8:32, 16:40] = 128  # constant 7x7 windows: FADE's pair-product variance "L" is undefined there (NaN)
    img[h - 12:, :20] = 255
    return img


# FADE: recorded from the former numpy/OpenCV implementation (which the fast path reproduces bit for bit).
# PIQE: recorded from the former numpy/OpenCV implementation (float64 MSCN map; the fast path reproduces it bit
# for bit), and pyiqa 0.1.16's own piqe() on the same frames (float32 map; torch 2.13 CPU,
# x = tensor(rgb).permute(2, 0, 1)[None].float() / 255): on these frames no block decision differs, so the two
# agree to 1e-6 (a float32 map recorded 50.30156189096668, 50.45646856612448, 60.37626131789946, 67.23449914924981).
FROZEN = {  # name: (h, w, seed, FADE, PIQE, PIQE of pyiqa)
    "64x80": (64, 80, 1, 0.4372183273720067, 50.30155689462228, 50.30156326293945),
    "72x104": (72, 104, 2, 0.4360501550470827, 50.45645843038067, 50.45647048950195),
    "90x61": (90, 61, 3, 0.5569030058070131, 60.37624303616694, 60.37625503540039),
    "48x20": (48, 20, 4, 0.3620288061017038, 67.23446300192882, 67.2344970703125),
}


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


# --- FADE reference ------------------------------------------------------------------------------------------

def _var1(v: np.ndarray) -> float:
    """Unbiased variance; 0 for one value, NaN for none."""
    if v.size == 0:
        return math.nan
    return 0.0 if v.size == 1 else float(np.var(v, ddof=1))


def _fade_reference_features(image: np.ndarray) -> np.ndarray:
    h, w = (image.shape[0] // 8) * 8, (image.shape[1] // 8) * 8
    f = image[:h, :w].astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    wr, wg, wb = fade_mod._GRAY_W
    gray = np.clip(np.floor(r * wr + g * wg + b * wb + 0.5), 0, 255)
    gu = gray.astype(np.uint8)
    k7 = fade_mod._GAUSS
    mu = cv2.sepFilter2D(gray, cv2.CV_64F, k7, k7, borderType=cv2.BORDER_REPLICATE)
    m2 = cv2.sepFilter2D(gray * gray, cv2.CV_64F, k7, k7, borderType=cv2.BORDER_REPLICATE)
    box = np.ones((7, 7), np.uint8)
    flat = cv2.erode(gu, box, borderType=cv2.BORDER_REPLICATE) == cv2.dilate(gu, box, borderType=cv2.BORDER_REPLICATE)
    models = fade_mod._models()
    mu[flat] = gray[flat] + models["mu_off"][gu[flat]]
    m2[flat] = gray[flat] ** 2 + models["m2_off"][gu[flat]]
    sigma = np.sqrt(np.abs(m2 - mu * mu))
    mscn = (gray - mu) / (sigma + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = sigma / mu
    above = np.vstack([mscn[-1:], mscn[:-1]])  # the row above, wrapping
    pair = mscn * above
    k20 = fade_mod._ce_kernel()
    responses = []
    for ch, t in zip((0.299 * r + 0.587 * g + 0.114 * b, 0.5 * r + 0.5 * g - b, r - g), fade_mod._CE_T, strict=True):
        p = np.vstack([ch[:10], ch, ch[-10:]])
        p = np.ascontiguousarray(np.hstack([p[:, :10], p, p[:, -10:]]))
        cx = cv2.filter2D(p, cv2.CV_64F, k20[None, :], anchor=(9, 0), borderType=cv2.BORDER_CONSTANT)
        cy = cv2.filter2D(p, cv2.CV_64F, k20[:, None], anchor=(0, 9), borderType=cv2.BORDER_CONSTANT)
        c = np.hypot(cx, cy)[10:10 + h, 10:10 + w]
        cmax = c.max()
        with np.errstate(divide="ignore", invalid="ignore"):
            resp = c * cmax / (c + 0.1 * cmax) - t
        responses.append(np.where(resp > 1e-7, resp, 0.0))
    feats = np.empty((h // 8, w // 8, 12))
    for i in range(h // 8):
        for j in range(w // 8):
            sl = (slice(8 * i, 8 * i + 8), slice(8 * j, 8 * j + 8))
            mb, pb = mscn[sl].ravel(), pair[sl].ravel()
            _, counts = np.unique(gu[sl], return_counts=True)
            p = counts / 64.0
            rb, gb, bb = r[sl], g[sl], b[sl]
            mx, mn = np.maximum(np.maximum(rb, gb), bb), np.minimum(np.minimum(rb, gb), bb)
            rg, yb = (rb - gb).ravel(), (0.5 * (rb + gb) - bb).ravel()
            feats[i, j] = [
                _var1(mb[~np.isnan(mb)]), _var1(pb[pb >= 0]), _var1(pb[pb <= 0]),
                sigma[sl].mean(), cv[sl].mean(), *(resp[sl].mean() for resp in responses),
                -np.sum(p * np.log2(p)), (mn / 255.0).mean(),
                np.where(mx > 0, (mx - mn) / np.where(mx > 0, mx, 1.0), 0.0).mean(),
                math.sqrt(np.var(rg, ddof=1) + np.var(yb, ddof=1)) + 0.3 * math.hypot(rg.mean(), yb.mean()),
            ]
    return np.log1p(feats)


def _fade_reference(image: np.ndarray) -> tuple[float, np.ndarray]:
    feat = _fade_reference_features(image)
    with np.load(fade_mod.FADE_PARAMS.require()) as z:
        models = {name: (z[f"mu_{name}"].astype(np.float64), z[f"cov_{name}"].astype(np.float64))
                  for name in ("fogfree", "foggy")}
    dist = {}
    for name, (mu, cov) in models.items():
        d_map = np.full(feat.shape[:2], np.nan)
        for i, j in np.ndindex(*feat.shape[:2]):
            fv = feat[i, j]
            if np.isnan(fv).any():
                continue
            d = mu - fv
            d_map[i, j] = math.sqrt(max(d @ np.linalg.inv((cov + np.var(fv, ddof=1)) / 2.0) @ d, 0.0))
        dist[name] = d_map
    df, dff = dist["fogfree"], dist["foggy"]
    return float(np.nanmean(df) / (np.nanmean(dff) + 1.0)), df / (dff + 1.0)


@pytest.mark.parametrize("shape", [(64, 80), (90, 61), (40, 12), (8, 8), (100, 37), (17, 23)])
def test_fade_matches_per_block_reference(shape):
    image = _frame(max(shape[0], 48), max(shape[1], 48), 7)[: shape[0], : shape[1]].copy()
    ours = fade_features(image)
    ref = _fade_reference_features(image)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12, equal_nan=True)
    score, dmap = fade_map(image)
    ref_score, ref_map = _fade_reference(image)
    np.testing.assert_array_equal(np.isnan(dmap), np.isnan(ref_map))
    np.testing.assert_allclose(dmap, ref_map, rtol=1e-9, equal_nan=True)
    assert _rel(score, ref_score) < 1e-9


def test_fade_reference_covers_undefined_patches():
    feat = fade_features(_frame(64, 80, 1))
    assert np.isnan(feat[..., 2]).any() and not np.isnan(feat[..., 0]).any()  # flat patch: no pair product <= 0


# --- PIQE reference ------------------------------------------------------------------------------------------

def _gauss7(sigma: float = 7.0 / 6.0) -> np.ndarray:
    x = np.arange(7, dtype=np.float64) - 3.0
    k = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return k / k.sum()


def _piqe_reference(image: np.ndarray) -> dict[str, np.ndarray | float]:
    x = image.astype(np.float32) / np.float32(255.0)
    if x.ndim == 3:
        wts = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        y = x[..., 0] * wts[0] + x[..., 1] * wts[1] + x[..., 2] * wts[2]
    else:
        y = x
    y = np.round(np.float32(255.0) * (y / y.max())).astype(np.float64)
    h, w = y.shape
    y = np.pad(y, ((0, h % 16), (0, w % 16)), mode="symmetric")
    k = _gauss7()
    mu = cv2.sepFilter2D(y, cv2.CV_64F, k, k, borderType=cv2.BORDER_REPLICATE)
    m2 = cv2.sepFilter2D(y * y, cv2.CV_64F, k, k, borderType=cv2.BORDER_REPLICATE)
    norm = (y - mu) / (np.sqrt(np.abs(m2 - mu * mu) + float(np.finfo(np.float32).eps)) + 1.0)
    nr, nc = y.shape[0] // 16, y.shape[1] // 16
    out = {n: np.zeros((nr, nc), dtype=bool) for n in ("active", "artifact", "noisy")}
    out["variance"] = np.zeros((nr, nc))
    surround = [c for c in range(16) if c not in (7, 9)]
    dist = 0.0
    for i, j in np.ndindex(nr, nc):
        blk = norm[16 * i:16 * i + 16, 16 * j:16 * j + 16]
        var = np.var(blk, ddof=1)
        sigma = math.sqrt(var)
        c_std, s_std = np.std(blk[:, 7:9], ddof=1), np.std(blk[:, surround], ddof=1)
        ratio = c_std / s_std if s_std > 0 else (0.0 if c_std == 0 else float(np.finfo(np.float32).max))
        beta = abs(sigma - ratio) / max(sigma, ratio)
        edges = (blk[0], blk[:, 15], blk[15], blk[:, 0])
        artifact = any(np.std(e[s:s + 6], ddof=1) < 0.1 for e in edges for s in range(11))
        out["variance"][i, j], out["active"][i, j] = var, var > 0.1
        out["artifact"][i, j], out["noisy"][i, j] = artifact, sigma > 2 * beta
        if var > 0.1:
            dist += artifact * (1 - var) + (sigma > 2 * beta) * var
    out["score"] = (dist + 1.0) / (1.0 + out["active"].sum()) * 100.0
    return out


def _segment_probe(seed: int, box: tuple[int, int, int, int, int]) -> np.ndarray:
    """Noise with one flat box, placed so that some active block's artifact decision rests on the first or the
    last 6-pixel segment of an edge (found by search)."""
    image = np.random.default_rng(seed).integers(0, 256, size=(64, 80, 3)).astype(np.uint8)
    r0, c0, hh, ww, v = box
    image[r0:r0 + hh, c0:c0 + ww] = v
    return image


@pytest.mark.parametrize("shape", [(64, 80), (90, 61), (48, 20), (16, 16), (48, 16), (16, 100), (33, 47),
                                   "probe6", "probe28"])
def test_piqe_matches_per_block_reference(shape):
    if shape == "probe6":
        image = _segment_probe(6, (42, 12, 7, 11, 5))
    elif shape == "probe28":
        image = _segment_probe(28, (25, 44, 13, 11, 104))
    else:
        image = _frame(max(shape[0], 48), max(shape[1], 48), 11)[: shape[0], : shape[1]].copy()
    ours, ref = piqe_blocks(image), _piqe_reference(image)
    for name in ("active", "artifact", "noisy"):
        np.testing.assert_array_equal(ours[name], ref[name], err_msg=name)
    np.testing.assert_allclose(ours["variance"], ref["variance"], rtol=1e-9, atol=0)
    assert _rel(ours["score"], ref["score"]) < 1e-9
    assert ref["active"].any()


def test_piqe_input_forms_agree():
    image = _frame(64, 80, 5)
    score = piqe(image)
    assert piqe(image.astype(np.float32) / 255.0) == score  # float input: the same luminance
    rgba = np.concatenate([image, np.full(image.shape[:2] + (1,), 7, np.uint8)], axis=2)
    assert piqe(rgba) == score
    grey = np.ascontiguousarray(image[..., 1])
    assert piqe(grey) == piqe(grey[..., None])
    assert _rel(piqe(grey), _piqe_reference(grey)["score"]) < 1e-9


# --- frozen values ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FROZEN))
def test_frozen_values(name):
    h, w, seed, fade_value, piqe_value, piqe_pyiqa = FROZEN[name]
    image = _frame(h, w, seed)
    assert _rel(fade(image), fade_value) < 1e-12
    assert _rel(piqe(image), piqe_value) < 1e-10
    assert _rel(piqe(image), piqe_pyiqa) < 1e-6
    assert piqe_mod.piqe_blocks(image)["active"].any()
