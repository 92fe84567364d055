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

The MSCN map is computed in float64, as MATLAB's original PIQE does. pyiqa 0.1.16 computes it in float32 (the
7x7 taps accumulated row-major with fused multiply-adds), so in nearly flat windows ``E[Y^2] - mu^2`` cancels
and a block decision can flip. E.g. on a synthetic 480x640 frame one edge segment's std is 0.0998368 in float64
(an artifact) but 0.1000384 in pyiqa's float32, which moves the score by 0.479 (74.332 vs pyiqa's 73.853,
0.65%); pyiqa's own code run in float64 gives 74.3319, with our block decisions. We keep float64.

The block statistics are computed by Numba kernels (:mod:`benchmarks.metrics._piqe_kernels`), strip by strip,
which reproduce the original numpy/OpenCV formulation operation for operation (evaluation and summation
orders included), so their values, hence the block decisions, are bit-identical to it.
"""

from __future__ import annotations

import numpy as np

from benchmarks.metrics import _piqe_kernels as _k
from benchmarks.metrics.base import METRICS, Metric, check_image

BLOCK = _k.BLOCK
ACTIVITY_THRESHOLD = 0.1
IMPAIRED_THRESHOLD = 0.1
SEGMENT = _k.SEGMENT
_EPS32 = float(np.finfo(np.float32).eps)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_YIQ_Y = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# (v / 255) * w_c for the uint8 values v (float32, as numpy computes it per pixel), and v / 255 (grey)
_U8 = np.arange(256, dtype=np.float32) / np.float32(255.0)
_LUMA_TABLE = np.stack([_U8 * _YIQ_Y[0], _U8 * _YIQ_Y[1], _U8 * _YIQ_Y[2], _U8])


def _gauss_1d(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """Normalised Gaussian taps (exactly symmetric, as the kernels' column filter assumes)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


_GAUSS = _gauss_1d()


def _prepared(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(img, scale)``: the image as uint8 (``scale``) or float32 ``(H, W, C)``, C = 1 (grey) or >= 3 (RGB)."""
    img = check_image(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ValueError(f"piqe expects an (H, W, 3) RGB or (H, W) grey image, got shape {img.shape}")
    scale = img.dtype == np.uint8
    if not scale:
        img = img.astype(np.float32)
    return (img[..., None] if img.ndim == 2 else img), scale


def piqe_blocks(image: np.ndarray) -> dict[str, np.ndarray | float]:
    """PIQE score plus its per-block maps (``active``, ``artifact``, ``noisy``, ``variance``; block grid)."""
    img, scale = _prepared(image)
    h, w = img.shape[:2]
    if h < BLOCK or w < BLOCK:
        raise ValueError(f"piqe needs an image of at least {BLOCK}x{BLOCK} pixels, got {h}x{w}")
    ymax = float(_k.luma_max(img, scale, _LUMA_TABLE, _YIQ_Y))
    nr, nc = (h + h % BLOCK) // BLOCK, (w + w % BLOCK) // BLOCK
    var = np.empty((nr, nc), dtype=np.float64)
    c_std = np.empty((nr, nc), dtype=np.float64)
    s_std = np.empty((nr, nc), dtype=np.float64)
    artifact = np.empty((nr, nc), dtype=np.bool_)
    # luminance round(255 Y / max Y), padded by H % 16 / W % 16 (half-sample symmetric) as pyiqa does; MSCN map;
    # per complete 16x16 block: variance, std of the centre columns 7, 8 and of every column except 7 and 9
    # (pyiqa's indexing), whether some 6-pixel edge segment has std < 0.1
    _k.block_stats(img, scale, _LUMA_TABLE, _YIQ_Y, ymax, _GAUSS, _EPS32, IMPAIRED_THRESHOLD,
                   var, c_std, s_std, artifact)
    active = var > ACTIVITY_THRESHOLD

    # noise criterion
    sigma = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = c_std / s_std
        ratio = np.nan_to_num(ratio, nan=0.0, posinf=_FLOAT32_MAX)
        beta = np.abs(sigma - ratio) / np.maximum(sigma, ratio)
        noisy = sigma > 2.0 * beta

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
