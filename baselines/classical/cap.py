"""Colour attenuation prior dehazing (Zhu, Mai, Shao, IEEE TIP 24(11) 2015), applied frame by frame.

Haze raises brightness and lowers saturation, increasingly with scene depth; Zhu et al. model the depth as linear
in the HSV value ``v`` and saturation ``s``: ``d = theta0 + theta1 v + theta2 s (+ eps)``, with coefficients
learned on synthetic hazy images: ``theta0 = 0.121779``, ``theta1 = 0.959710``, ``theta2 = -0.780245`` and noise
``eps ~ N(0, sigma^2)``, ``sigma = 0.041337`` (the noise only models the training residual; it is not added here,
so the method stays deterministic). Steps (float RGB in [0, 1]):

1. raw depth from ``v = max_c I_c`` and ``s = (v - min_c I_c) / v`` (0 where ``v = 0``);
2. refinement: minimum over 15x15 windows (the paper's ``r x r`` neighbourhood, which assumes locally constant
   depth), then the guided filter with the grey input as guide (radius 60 px for a 600 px image, scaled with the
   longer side, ``eps = 1e-3``, the same choice as :mod:`baselines.classical.dcp`);
3. atmospheric light: among the 0.1 % pixels of the refined depth map that are farthest, the input colour of the
   brightest one (largest mean of R, G, B), as in the paper;
4. transmission ``t = exp(-beta d)``, ``beta = 1.0``, clipped to [0.1, 0.9]; recovery ``J = (I - A) / t + A``,
   clipped to [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from baselines.base import Clip, Method
from baselines.classical._common import (
    channel_max,
    channel_min,
    gray,
    guided_filter,
    min_filter,
    per_frame,
    recover,
    scaled_radius,
    to_float,
    to_uint8,
)
from baselines.registry import register_method

CITATION = ("Q. Zhu, J. Mai, L. Shao, A Fast Single Image Haze Removal Algorithm Using Color Attenuation Prior, "
            "IEEE TIP 24(11) 2015")

#: The paper's learned linear depth model (theta0, theta1, theta2).
THETA = (0.121779, 0.959710, -0.780245)


def raw_depth(image: np.ndarray, theta: tuple[float, float, float] = THETA) -> np.ndarray:
    """``theta0 + theta1 v + theta2 s`` of a float RGB ``(H, W, 3)`` image in [0, 1] -> ``(H, W)`` float64."""
    v = channel_max(image)
    s = np.divide(v - channel_min(image), v, out=np.zeros_like(v), where=v > 0)
    return theta[0] + theta[1] * v + theta[2] * s


@register_method("cap")
class ColourAttenuationPrior(Method):
    """Zhu et al.'s colour attenuation prior dehazing, frame by frame.

    Args:
        theta: ``(theta0, theta1, theta2)`` of the depth model, default the paper's ``THETA``.
        beta: scattering coefficient in ``t = exp(-beta d)``, default 1.0.
        patch: minimum-filter window side (odd), default 15.
        t_min, t_max: transmission clip range, default 0.1 and 0.9.
        top_fraction: fraction of farthest pixels searched for ``A``, default 0.001 (0.1 %).
        radius: guided filter radius for a 600 px image (scaled with the longer side), default 60.
        eps: guided filter regularisation, default 1e-3.
    """

    citation = CITATION

    def __init__(self, theta: tuple[float, float, float] = THETA, beta: float = 1.0, patch: int = 15,
                 t_min: float = 0.1, t_max: float = 0.9, top_fraction: float = 0.001, radius: float = 60.0,
                 eps: float = 1e-3) -> None:
        self.theta = tuple(float(x) for x in theta)
        self.beta = float(beta)
        self.patch = int(patch)
        self.t_min = float(t_min)
        self.t_max = float(t_max)
        self.top_fraction = float(top_fraction)
        self.radius = float(radius)
        self.eps = float(eps)

    def settings(self) -> dict[str, Any]:
        return {"theta": list(self.theta), "beta": self.beta, "patch": self.patch, "t_min": self.t_min,
                "t_max": self.t_max, "top_fraction": self.top_fraction, "radius": self.radius, "eps": self.eps}

    def dehaze(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dehaze one float RGB image ``(H, W, 3)`` in [0, 1].

        Returns ``(J, t, A)``: recovered image ``(H, W, 3)`` in [0, 1], clipped transmission ``(H, W)``,
        atmospheric light ``(3,)``.
        """
        image = np.asarray(image, np.float64)
        depth = min_filter(raw_depth(image, self.theta), self.patch)
        depth = guided_filter(gray(image), depth, scaled_radius(image.shape, self.radius), self.eps)
        flat = depth.reshape(-1)
        n = max(1, int(round(flat.size * self.top_fraction)))
        far = np.argpartition(-flat, n - 1)[:n]
        colours = image.reshape(-1, 3)[far]
        airlight = colours[int(np.argmax(colours.mean(axis=1)))]
        t = np.clip(np.exp(-self.beta * depth), self.t_min, self.t_max)
        return recover(image, t, airlight, self.t_min), t, airlight

    def desmoke_frame(self, frame: np.ndarray) -> np.ndarray:
        """uint8 ``(H, W, 3)`` RGB -> uint8 ``(H, W, 3)``."""
        return to_uint8(self.dehaze(to_float(frame))[0])

    def desmoke(self, clip: Clip) -> np.ndarray:
        return per_frame(clip.lqs, self.desmoke_frame)
