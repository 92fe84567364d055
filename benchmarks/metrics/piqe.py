"""PIQE, the Perception-based Image Quality Evaluator (Venkatanath et al., NCC 2015).

Native numpy/OpenCV implementation that follows the conventions of pyiqa 0.1.16's PIQE (the
reference the LSVD leaderboard quotes), so that values agree with it to well under 1%:

* luminance: the Y of YIQ (0.299 R + 0.587 G + 0.114 B) of the image scaled to [0, 1] (float32),
  then ``round(255 * Y / max(Y))``;
* the image is padded *symmetrically* (half-sample) at the bottom/right by ``H % 16`` rows and
  ``W % 16`` columns (pyiqa's convention, not "up to the next multiple"), and only the complete
  16x16 blocks of the padded image are scored;
* MSCN normalisation with a 7x7 Gaussian (sigma 7/6) and replicate borders: ``(Y - mu) / (sd + 1)``
  with ``sd = sqrt(|E[Y^2] - mu^2| + eps32)``;
* a block is *active* when its (unbiased) variance exceeds 0.1; it shows a *noticeable artifact*
  when any 6-pixel segment of one of its four edges has (unbiased) standard deviation < 0.1; it is
  *noisy* when ``sd > 2 * beta`` with ``beta = |sd - r| / max(sd, r)`` and ``r`` the ratio of the
  standard deviation of the centre columns (7, 8) to that of the "surround" -- which in pyiqa is
  every column except 7 and 9 (a quirk we keep);
* score ``100 * (1 + sum_active(artifact * (1 - var) + noisy * var)) / (1 + n_active)``.

Lower is better; the range is [0, 100].
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.metrics.base import METRICS, Metric, check_image

BLOCK = 16
ACTIVITY_THRESHOLD = 0.1
IMPAIRED_THRESHOLD = 0.1
SEGMENT = 6
_EPS32 = float(np.finfo(np.float32).eps)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _gauss_1d(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


_GAUSS = _gauss_1d()


def _luminance(image: np.ndarray) -> np.ndarray:
    """``round(255 * Y / max Y)`` as float64 ``(H, W)`` from an RGB or grey image, uint8 or float in [0, 1]."""
    img = check_image(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ValueError(f"piqe expects an (H, W, 3) RGB or (H, W) grey image, got shape {img.shape}")
    x = img.astype(np.float32) / np.float32(255.0) if img.dtype == np.uint8 else img.astype(np.float32)
    if x.ndim == 3:
        w = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        y = x[..., 0] * w[0] + x[..., 1] * w[1] + x[..., 2] * w[2]
    else:
        y = x
    ymax = float(y.max())
    if ymax <= 0.0:
        return np.zeros(y.shape, dtype=np.float64)
    return np.round(np.float32(255.0) * (y / np.float32(ymax))).astype(np.float64)


def _std_unbiased(x: np.ndarray, axis: tuple[int, ...] | int) -> np.ndarray:
    return np.std(x, axis=axis, ddof=1)


def piqe_blocks(image: np.ndarray) -> dict[str, np.ndarray | float]:
    """PIQE score plus its per-block maps (``active``, ``artifact``, ``noisy``, ``variance``; block grid)."""
    y = _luminance(image)
    h, w = y.shape
    if h < BLOCK or w < BLOCK:
        raise ValueError(f"piqe needs an image of at least {BLOCK}x{BLOCK} pixels, got {h}x{w}")
    # pyiqa pads by H % 16 / W % 16 (half-sample symmetric), then scores the complete blocks only.
    y = np.pad(y, ((0, h % BLOCK), (0, w % BLOCK)), mode="symmetric")
    mu = cv2.sepFilter2D(y, cv2.CV_64F, _GAUSS, _GAUSS, borderType=cv2.BORDER_REPLICATE)
    m2 = cv2.sepFilter2D(y * y, cv2.CV_64F, _GAUSS, _GAUSS, borderType=cv2.BORDER_REPLICATE)
    sd = np.sqrt(np.abs(m2 - mu * mu) + _EPS32)
    norm = (y - mu) / (sd + 1.0)

    nr, nc = norm.shape[0] // BLOCK, norm.shape[1] // BLOCK
    blocks = norm[: nr * BLOCK, : nc * BLOCK].reshape(nr, BLOCK, nc, BLOCK).transpose(0, 2, 1, 3)
    var = np.var(blocks, axis=(2, 3), ddof=1)
    active = var > ACTIVITY_THRESHOLD

    # noise criterion: centre columns 7, 8 vs every column except 7 and 9 (pyiqa's indexing)
    sigma = np.sqrt(var)
    centre = blocks[..., 7:9]
    surround = blocks[..., [c for c in range(BLOCK) if c not in (7, 9)]]
    c_std = _std_unbiased(centre, (2, 3))
    s_std = _std_unbiased(surround, (2, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = c_std / s_std
        ratio = np.nan_to_num(ratio, nan=0.0, posinf=_FLOAT32_MAX)
        beta = np.abs(sigma - ratio) / np.maximum(sigma, ratio)
        noisy = sigma > 2.0 * beta

    # noticeable-distortion criterion: any 6-pixel edge segment with std < 0.1
    edges = np.stack([blocks[:, :, 0, :], blocks[:, :, :, BLOCK - 1],
                      blocks[:, :, BLOCK - 1, :], blocks[:, :, :, 0]], axis=2)  # (nr, nc, 4, 16)
    segs = np.lib.stride_tricks.sliding_window_view(edges, SEGMENT, axis=-1)  # (nr, nc, 4, 11, 6)
    artifact = (_std_unbiased(segs, -1) < IMPAIRED_THRESHOLD).any(axis=(2, 3))

    act = active.astype(np.float64)
    dist = act * artifact * (1.0 - var) + act * noisy * var
    score = (float(dist.sum()) + 1.0) / (1.0 + float(active.sum())) * 100.0
    return {"score": score, "active": active, "artifact": artifact, "noisy": noisy, "variance": var}


def piqe(image: np.ndarray) -> float:
    """PIQE of one frame (uint8 RGB ``(H, W, 3)``; float in [0, 1] or grey also accepted, a float frame in
    0..255 raises). Lower is better."""
    return float(piqe_blocks(image)["score"])


@METRICS.register("piqe")
def _piqe_metric() -> Metric:
    return Metric("piqe", piqe, higher_is_better=False, requires_reference="none", value_range=(0.0, 100.0),
                  params=(), citation="Venkatanath et al. 2015 (PIQE); conventions of pyiqa 0.1.16",
                  aggregate="frame_mean")


__all__ = ["piqe", "piqe_blocks"]
