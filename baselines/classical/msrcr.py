"""Multi-scale Retinex with colour restoration (MSRCR; Jobson, Rahman, Woodell, IEEE TIP 6(7) 1997), frame by frame.

A Retinex-style enhancement, the other family (besides the haze-model methods DCP and CAP) that smoke-removal
papers compare against. Chosen over Ancuti & Ancuti's fusion dehazing because it is fully specified by a handful
of published constants, so the baseline is reproducible without tuning. Per channel ``c`` of the RGB image
``I`` (values ``1 + 255 x``, so that logarithms stay finite):

* multi-scale Retinex ``R_c = sum_n w_n [log I_c - log(G_{sigma_n} * I_c)]``, Gaussian surrounds with
  ``sigma = 15, 80, 250`` px and ``w_n = 1/3``; the sigmas are given for a 640 px image (longer side) and scaled
  linearly with the longer side;
* colour restoration ``C_c = beta [log(alpha I_c) - log sum_k I_k]``, ``alpha = 125``, ``beta = 46``;
  ``MSRCR_c = C_c R_c``;
* display mapping: instead of the paper's fixed gain/offset (192, -30), which assume a particular dynamic range,
  the common "simplest colour balance" stretch (Petro, Sbert, Morel, IPOL 2014): the ``clip`` (1 %) lowest and
  highest values over all channels are saturated and the rest mapped linearly to [0, 1]. A frame whose MSRCR is
  (almost) constant, e.g. a uniform grey frame, is returned unchanged.

Large surrounds are computed on a downscaled image (``cv2.INTER_AREA`` so that the blurred image has sigma ~4 px,
then ``cv2.INTER_LINEAR`` back): a Gaussian of sigma >= 4 px leaves nothing above the downscaled Nyquist
frequency, and this keeps the cost O(pixels) at 1080p where a direct 250-px surround would be thousands of taps.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from baselines.base import Clip, Method
from baselines.classical._common import per_frame
from baselines.registry import register_method

CITATION = ("D. J. Jobson, Z. Rahman, G. A. Woodell, A Multiscale Retinex for Bridging the Gap Between Color Images "
            "and the Human Observation of Scenes, IEEE TIP 6(7) 1997")


def gaussian_surround(image: np.ndarray, sigma: float, small_sigma: float = 4.0) -> np.ndarray:
    """Gaussian blur of float ``(H, W, C)`` with std ``sigma`` px (reflecting border).

    For ``sigma > small_sigma`` the image is first shrunk by ``small_sigma / sigma`` (area averaging), blurred
    with std ``small_sigma`` and enlarged back bilinearly.
    """
    h, w = image.shape[:2]
    if sigma <= small_sigma:
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    f = small_sigma / sigma
    hs, ws = max(1, int(round(h * f))), max(1, int(round(w * f)))
    small = cv2.resize(image, (ws, hs), interpolation=cv2.INTER_AREA)
    # the effective std at the small scale follows the actual resize factors (they differ slightly by rounding)
    sy, sx = sigma * hs / h, sigma * ws / w
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sx, sigmaY=sy, borderType=cv2.BORDER_REFLECT)
    if small.ndim == 2:
        small = small[..., None]
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out.reshape(image.shape)


@register_method("msrcr")
class MultiScaleRetinex(Method):
    """MSRCR (Jobson et al. 1997) with a percentile stretch, frame by frame.

    Args:
        sigmas: surround stds in px for a 640 px image (scaled with the longer side), default (15, 80, 250).
        alpha: colour restoration nonlinearity, default 125.
        beta: colour restoration gain, default 46.
        clip: fraction saturated at each end by the final stretch, default 0.01.
    """

    citation = CITATION

    def __init__(self, sigmas: tuple[float, ...] = (15.0, 80.0, 250.0), alpha: float = 125.0, beta: float = 46.0,
                 clip: float = 0.01) -> None:
        self.sigmas = tuple(float(s) for s in sigmas)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.clip = float(clip)

    def settings(self) -> dict[str, Any]:
        return {"sigmas": list(self.sigmas), "alpha": self.alpha, "beta": self.beta, "clip": self.clip}

    def desmoke_frame(self, frame: np.ndarray) -> np.ndarray:
        """uint8 ``(H, W, 3)`` RGB -> uint8 ``(H, W, 3)`` RGB."""
        image = frame.astype(np.float32) + 1.0
        log_i = np.log(image)
        scale = max(frame.shape[0], frame.shape[1]) / 640.0
        msr = np.zeros_like(image)
        for sigma in self.sigmas:
            msr += log_i - np.log(gaussian_surround(image, sigma * scale))
        msr /= len(self.sigmas)
        colour = self.beta * (np.log(self.alpha * image) - np.log(image.sum(axis=2, keepdims=True)))
        out = colour * msr
        lo, hi = np.quantile(out, [self.clip, 1.0 - self.clip])
        if not np.isfinite(hi - lo) or hi - lo < 1e-6:
            return frame.copy()
        return np.clip((out - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8)

    def desmoke(self, clip: Clip) -> np.ndarray:
        return per_frame(clip.lqs, self.desmoke_frame)
