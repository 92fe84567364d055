"""NIQE (Mittal, Soundararajan, Bovik 2013), re-implemented to match pyiqa 0.1.16's default ``niqe``.

Pipeline (pyiqa defaults): luminance = Y of YIQ of the ``[0, 1]`` RGB image, times 255, rounded
(:func:`benchmarks.metrics._nss.to_luma`); crop to whole 96x96 blocks (top-left kept); two scales
(the second: MATLAB bicubic antialiased ``imresize(., 0.5)`` of ``Y / 255``, times 255, in float32);
per scale MSCN with the 7x7 ``sigma = 7/6`` Gaussian and replicate borders, then per block (96, then 48
pixels) 18 features (GGD-like AGGD fit of the MSCN block: alpha, mean beta; AGGD fits of the products
with the 4 neighbours, circular within the block: alpha, mean, beta_l, beta_r); a multivariate Gaussian
(NaN-aware mean, covariance of the NaN-free rows) compared to the pristine model (mmagic's
``niqe_pris_params.npz``) by ``sqrt((mu_p - mu)^T pinv((cov_p + cov) / 2) (mu_p - mu))``.

Lower is better. The image must hold at least one 96x96 block.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import gammaln

from benchmarks.metrics._nss import aggd_from_stats, block_stats, imresize, mscn, to_luma
from benchmarks.metrics.base import METRICS, Metric, ParamFile

__all__ = ["BLOCK", "NIQE_PARAMS", "niqe", "niqe_features"]

BLOCK = 96

NIQE_PARAMS = ParamFile("niqe_pris_params.npz", "mmagic 1.2.0",
                        "mmagic==1.2.0 wheel: mmagic/evaluation/metrics/niqe_pris_params.npz (Apache-2.0)")


@lru_cache(maxsize=1)
def _pristine() -> tuple[np.ndarray, np.ndarray]:
    with np.load(NIQE_PARAMS.require()) as d:
        return np.ravel(d["mu_pris_param"]).astype(np.float64), np.asarray(d["cov_pris_param"], np.float64)


def _features(img: np.ndarray, block: int) -> np.ndarray:
    """``(n_blocks, 18)`` NIQE features of one scale."""
    st = block_stats(mscn(img, border="replicate"), (block, block)).reshape(-1, 5, 6)
    alpha, left, right = aggd_from_stats(st)  # (n, 5) each
    beta_f = np.exp(0.5 * (gammaln(1.0 / alpha) - gammaln(3.0 / alpha)))
    bl, br = left * beta_f, right * beta_f
    feats = [alpha[:, 0], (bl[:, 0] + br[:, 0]) / 2]
    for s in range(1, 5):
        a = alpha[:, s]
        mean = (br[:, s] - bl[:, s]) * np.exp(gammaln(2.0 / a) - gammaln(1.0 / a))
        feats += [a, mean, bl[:, s], br[:, s]]
    return np.stack(feats, axis=1)


def niqe_features(image: np.ndarray) -> np.ndarray:
    """``(n_blocks, 36)`` per-block NIQE features (scale 1 then scale 2; may hold NaN for flat blocks)."""
    y = to_luma(image, round_gray=True)
    h, w = y.shape
    nh, nw = h // BLOCK, w // BLOCK
    if nh < 1 or nw < 1:
        raise ValueError(f"NIQE needs an image of at least {BLOCK}x{BLOCK} pixels (one block), found {h}x{w}")
    y = y[: nh * BLOCK, : nw * BLOCK]
    f1 = _features(y, BLOCK)
    y2 = imresize(y / 255.0, 0.5) * 255.0
    f2 = _features(y2, BLOCK // 2)
    return np.concatenate([f1, f2], axis=1)


def niqe(image: np.ndarray) -> float:
    """NIQE of one image (lower = more natural); matches pyiqa 0.1.16 ``niqe`` with mmagic's pristine model.

    Args:
        image: uint8 RGB ``(H, W, 3)``, float RGB in ``[0, 1]``, or grayscale ``(H, W)`` (uint8, or float in
            ``[0, 1]``, scaled by 255 and rounded). RGB is converted to ``round(255 * Y_yiq)`` with
            ``Y = 0.299 R + 0.587 G + 0.114 B`` (pyiqa's default ``color_space='yiq'``).

    Raises:
        ValueError: the image is smaller than one 96x96 block, or a float image is not in ``[0, 1]`` (a float
            frame in 0..255 would score as a different image).
        TypeError: neither uint8 nor float.
    """
    mu_p, cov_p = _pristine()
    feats = niqe_features(image)
    mu = np.nanmean(feats, axis=0)
    rows = feats[~np.isnan(feats).any(axis=1)]
    cov = np.cov(rows, rowvar=False, ddof=1 if len(rows) > 1 else 0) if len(rows) else np.full_like(cov_p, np.nan)
    d = mu_p - mu
    q = d @ np.linalg.pinv((cov_p + cov) / 2) @ d
    return float(np.sqrt(q))


@METRICS.register("niqe")
def _niqe_metric() -> Metric:
    return Metric("niqe", niqe, higher_is_better=False, requires_reference="none", value_range=(0.0, math.inf),
                  params=(NIQE_PARAMS,), citation="Mittal, Soundararajan, Bovik 2013 (NIQE)", aggregate="frame_mean",
                  extra={"reference": "pyiqa 0.1.16 niqe (default options)", "block_size": BLOCK})
