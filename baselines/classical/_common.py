"""Building blocks shared by the classical baselines: float conversion, window means, the guided filter,
the dark channel (minimum filter) and the haze-model recovery.

Conventions: images are float64 in [0, 1], ``(H, W)`` or ``(H, W, 3)`` RGB; frames in and out of methods are
uint8 ``(T, H, W, 3)`` RGB.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np


def to_float(frame: np.ndarray) -> np.ndarray:
    """uint8 ``(..., 3)`` -> float64 in [0, 1]."""
    return frame.astype(np.float64) / 255.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float in [0, 1] (values outside are clipped, NaN becomes 0) -> uint8, rounded to nearest."""
    image = np.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(image * 255.0 + 0.5, 0.0, 255.0).astype(np.uint8)


def gray(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an RGB float image ``(H, W, 3)`` -> ``(H, W)`` (the weights of ``cv2.COLOR_RGB2GRAY``)."""
    return image @ np.array([0.299, 0.587, 0.114])


def scaled_radius(shape: tuple[int, ...], radius_at_600: float) -> int:
    """A window radius given for a 600 px image (longer side), scaled linearly with the longer side; at least 1."""
    return max(1, int(round(radius_at_600 * max(shape[0], shape[1]) / 600.0)))


def channel_min(image: np.ndarray) -> np.ndarray:
    """``min_c I_c`` of ``(H, W, 3)`` -> ``(H, W)`` (elementwise, much faster than ``min(axis=2)``)."""
    return np.minimum(np.minimum(image[..., 0], image[..., 1]), image[..., 2])


def channel_max(image: np.ndarray) -> np.ndarray:
    """``max_c I_c`` of ``(H, W, 3)`` -> ``(H, W)``."""
    return np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])


def box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the ``(2r+1) x (2r+1)`` window around each pixel, intersected with the image.

    Each pixel is divided by the number of pixels of its window that lie inside the image (the ``N`` of
    He et al.'s guided filter), so there is no border padding bias. float64 ``(H, W)`` or ``(H, W, C)``.
    """
    k = (2 * radius + 1, 2 * radius + 1)
    total = cv2.boxFilter(image, cv2.CV_64F, k, normalize=False, borderType=cv2.BORDER_CONSTANT)
    ones = np.ones(image.shape[:2], np.float64)
    count = cv2.boxFilter(ones, cv2.CV_64F, k, normalize=False, borderType=cv2.BORDER_CONSTANT)
    if total.ndim == 3:
        count = count[..., None]
    return total / count


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """The grey-guide guided filter of He, Sun, Tang, "Guided Image Filtering", ECCV 2010 (TPAMI 2013).

    In every window ``w_k`` the output is the linear model ``q = a_k I + b_k`` fitted to ``src`` by least squares
    with ridge ``eps`` on ``a_k``: ``a_k = cov_k(I, p) / (var_k(I) + eps)``, ``b_k = mean_k(p) - a_k mean_k(I)``;
    each pixel averages the models of the windows that contain it: ``q_i = mean(a)_i I_i + mean(b)_i``.
    Window means use :func:`box_mean` (windows cut at the border), O(1) per pixel through ``cv2.boxFilter``.

    Args:
        guide: float ``(H, W)`` guidance image ``I`` (e.g. the grey input in [0, 1]).
        src: float ``(H, W)`` image ``p`` to filter (e.g. a raw transmission map).
        radius: window radius ``r`` (window ``2r+1`` square), >= 1.
        eps: regularisation (for images in [0, 1], 1e-3 keeps edges of contrast > ~0.03).
    Returns:
        float64 ``(H, W)``.
    """
    guide = np.asarray(guide, np.float64)
    src = np.asarray(src, np.float64)
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(src, radius)
    cov_ip = box_mean(guide * src, radius) - mean_i * mean_p
    var_i = box_mean(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, radius) * guide + box_mean(b, radius)


def min_filter(image: np.ndarray, patch: int) -> np.ndarray:
    """Minimum over the ``patch x patch`` square around each pixel (windows cut at the border).

    ``cv2.erode`` with a rectangular kernel; its default border value is the type's maximum, so pixels
    outside the image never win. ``image``: float ``(H, W)``; ``patch`` odd >= 1.
    """
    if patch <= 1:
        return np.asarray(image, np.float64).copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (patch, patch))
    return cv2.erode(np.asarray(image, np.float64), kernel, borderType=cv2.BORDER_CONSTANT,
                     borderValue=float(np.finfo(np.float64).max))


def dark_channel(image: np.ndarray, patch: int = 15) -> np.ndarray:
    """He et al.'s dark channel: ``min_{y in patch(x)} min_c I_c(y)``. ``(H, W, 3)`` -> ``(H, W)`` float64."""
    return min_filter(channel_min(np.asarray(image, np.float64)), patch)


def recover(image: np.ndarray, transmission: np.ndarray, airlight: np.ndarray, t0: float) -> np.ndarray:
    """Invert the haze model ``I = J t + A (1 - t)``: ``J = (I - A) / max(t, t0) + A``, clipped to [0, 1].

    ``image`` ``(H, W, 3)``, ``transmission`` ``(H, W)``, ``airlight`` ``(3,)``; all float in [0, 1].
    """
    t = np.maximum(transmission, t0)[..., None]
    return np.clip((image - airlight) / t + airlight, 0.0, 1.0)


def per_frame(frames: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``fn`` (uint8 ``(H, W, 3)`` -> uint8 ``(H, W, 3)``) to every frame of uint8 ``(T, H, W, 3)``."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 (T, H, W, 3) frames, got {frames.dtype} {frames.shape}")
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        out[i] = fn(frame)
    return out
