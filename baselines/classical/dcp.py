"""Dark channel prior dehazing (He, Sun, Tang, CVPR 2009 / TPAMI 2011), applied frame by frame.

Haze model ``I = J t + A (1 - t)``. In haze-free outdoor patches some colour channel is near zero, so the dark
channel of ``I / A`` estimates ``1 - t``. Steps (all on float RGB in [0, 1]):

1. dark channel ``D(x) = min_{y in 15x15(x)} min_c I_c(y)`` (``cv2.erode``);
2. atmospheric light ``A``: the **mean colour** of the 0.1 % pixels with the largest dark channel (He et al.
   take the single brightest input pixel among them; the mean is used here because surgical frames have small
   saturated specular highlights that a single-pixel choice would pick);
3. raw transmission ``t~ = 1 - omega * dark(I / A)``, ``omega = 0.95`` (keeps a little haze for depth cues);
4. refinement by the guided filter (He et al., ECCV 2010, the replacement of soft matting suggested in the
   TPAMI version) with the grey input as guide, ``eps = 1e-3`` and radius 60 px for a 600 px image, scaled
   linearly with the longer image side (64 at 640x480, 192 at 1920x1080);
5. recovery ``J = (I - A) / max(t, t0) + A`` with ``t0 = 0.1``, clipped to [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from baselines.base import Clip, Method
from baselines.classical._common import (
    dark_channel,
    gray,
    guided_filter,
    per_frame,
    recover,
    scaled_radius,
    to_float,
    to_uint8,
)
from baselines.registry import register_method

CITATION = ("K. He, J. Sun, X. Tang, Single Image Haze Removal Using Dark Channel Prior, CVPR 2009 / "
            "IEEE TPAMI 33(12) 2011; guided filter: K. He, J. Sun, X. Tang, Guided Image Filtering, ECCV 2010")


def estimate_airlight(image: np.ndarray, dark: np.ndarray, fraction: float = 0.001) -> np.ndarray:
    """Mean colour ``(3,)`` of the ``fraction`` of pixels (at least one) with the largest ``dark`` values.

    ``image`` float ``(H, W, 3)`` in [0, 1], ``dark`` ``(H, W)``. Selection by ``np.argpartition`` (deterministic).
    """
    flat = dark.reshape(-1)
    n = max(1, int(round(flat.size * fraction)))
    idx = np.argpartition(-flat, n - 1)[:n]
    return image.reshape(-1, 3)[idx].mean(axis=0)


@register_method("dcp")
class DarkChannelPrior(Method):
    """He et al.'s dark channel prior dehazing with guided-filter refinement, frame by frame.

    Args:
        patch: dark channel window side (odd), default 15.
        omega: haze kept is ``1 - omega``; default 0.95.
        t0: lower bound on the transmission in the recovery, default 0.1.
        top_fraction: fraction of pixels with the largest dark channel averaged into ``A``, default 0.001 (0.1 %).
        radius: guided filter radius for a 600 px image (scaled with the longer side), default 60.
        eps: guided filter regularisation, default 1e-3.
    """

    citation = CITATION

    def __init__(self, patch: int = 15, omega: float = 0.95, t0: float = 0.1, top_fraction: float = 0.001,
                 radius: float = 60.0, eps: float = 1e-3) -> None:
        self.patch = int(patch)
        self.omega = float(omega)
        self.t0 = float(t0)
        self.top_fraction = float(top_fraction)
        self.radius = float(radius)
        self.eps = float(eps)

    def settings(self) -> dict[str, Any]:
        return {"patch": self.patch, "omega": self.omega, "t0": self.t0, "top_fraction": self.top_fraction,
                "radius": self.radius, "eps": self.eps}

    def dehaze(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dehaze one float RGB image ``(H, W, 3)`` in [0, 1].

        Returns ``(J, t, A)``: the recovered image ``(H, W, 3)`` in [0, 1], the refined transmission ``(H, W)``
        (before the ``t0`` bound) and the atmospheric light ``(3,)``.
        """
        image = np.asarray(image, np.float64)
        airlight = estimate_airlight(image, dark_channel(image, self.patch), self.top_fraction)
        safe_a = np.maximum(airlight, 1e-3)
        raw_t = 1.0 - self.omega * dark_channel(image / safe_a, self.patch)
        t = guided_filter(gray(image), raw_t, scaled_radius(image.shape, self.radius), self.eps)
        return recover(image, t, airlight, self.t0), t, airlight

    def desmoke_frame(self, frame: np.ndarray) -> np.ndarray:
        """uint8 ``(H, W, 3)`` RGB -> uint8 ``(H, W, 3)``."""
        return to_uint8(self.dehaze(to_float(frame))[0])

    def desmoke(self, clip: Clip) -> np.ndarray:
        return per_frame(clip.lqs, self.desmoke_frame)
