"""Natural-scene-statistics helpers shared by the no-reference metrics (NIQE, BRISQUE, ...).

Everything here follows the conventions of pyiqa 0.1.16 (which itself mirrors the MATLAB reference
code), re-implemented with numpy / OpenCV / numba:

* :func:`to_luma` -- the luminance plane pyiqa feeds to NIQE/BRISQUE: the Y of YIQ
  (``0.299 R + 0.587 G + 0.114 B``) of the ``[0, 1]`` RGB image, times 255, rounded, computed in float32.
* :func:`matlab_gaussian` -- MATLAB ``fspecial('gaussian', size, sigma)`` (stored as float32 like pyiqa).
* :func:`mscn` -- mean-subtracted contrast-normalised coefficients ``(I - mu) / (sigma + C)`` with a
  Gaussian window; ``border="replicate"`` (NIQE) or ``"zero"`` (BRISQUE's default ``'same'`` padding).
* :func:`imresize` -- MATLAB ``imresize(..., 'bicubic')`` with antialiasing (symmetric edge padding).
* :func:`block_stats` -- per-block sums needed to fit a GGD/AGGD to the MSCN map and to the products
  of neighbouring MSCN coefficients (circular shifts *inside* each block, as ``torch.roll`` does in pyiqa).
* :func:`aggd_fit` / :func:`ggd_fit` -- moment-matching fits on pyiqa's grid ``0.2:0.001:10``.
"""

from __future__ import annotations

import math

import cv2
import numba
import numpy as np
from scipy.special import gammaln

from benchmarks.metrics.base import check_image

__all__ = ["SHIFTS", "GAMMA_GRID", "to_luma", "matlab_gaussian", "mscn", "imresize", "block_stats",
           "aggd_fit", "ggd_fit", "aggd_from_stats", "ggd_from_stats"]

#: The four neighbour orientations (dy, dx): horizontal, vertical, main diagonal, anti-diagonal.
SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))

#: pyiqa's shape grid ``torch.arange(0.2, 10.001, 0.001)`` (float32 values, used in float64).
GAMMA_GRID = (np.float32(0.2) + np.arange(9801, dtype=np.float64) * 0.001).astype(np.float32).astype(np.float64)
# AGGD ratio r(g) = Gamma(2/g)^2 / (Gamma(1/g) Gamma(3/g)) (increasing in g);
# GGD ratio rho(g) = Gamma(1/g) Gamma(3/g) / Gamma(2/g)^2 (its inverse, decreasing).
_R_AGGD = np.exp(2 * gammaln(2.0 / GAMMA_GRID) - (gammaln(1.0 / GAMMA_GRID) + gammaln(3.0 / GAMMA_GRID)))
_R_GGD = np.exp(gammaln(1.0 / GAMMA_GRID) + gammaln(3.0 / GAMMA_GRID) - 2 * gammaln(2.0 / GAMMA_GRID))

_YIQ_Y = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_luma(image: np.ndarray, *, round_gray: bool = True) -> np.ndarray:
    """The float64 luminance plane in ``[0, 255]`` as pyiqa computes it for NIQE/BRISQUE.

    Args:
        image: uint8 RGB ``(H, W, 3)`` (0..255), float RGB ``(H, W, 3)`` in ``[0, 1]``, or a grayscale
            ``(H, W)`` / ``(H, W, 1)`` image (uint8 0..255, or float in ``[0, 1]``).
        round_gray: for float grayscale input, round ``255 * x`` (pyiqa's NIQE does, its BRISQUE does not).

    RGB input: ``round(255 * (0.299 R + 0.587 G + 0.114 B))`` on ``[0, 1]`` values in float32 (the Y of
    YIQ, pyiqa's default ``color_space='yiq'``; note: *not* the BT.601 ``16 + ...`` YCbCr luma).

    Raises:
        TypeError, ValueError: not uint8 or float in [0, 1] (:func:`benchmarks.metrics.base.check_image`), or
            not an RGB / grayscale shape.
    """
    arr = check_image(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        if arr.dtype == np.uint8:
            return arr.astype(np.float64)
        y = arr.astype(np.float64) * 255.0
        return np.round(y) if round_gray else y
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an RGB (H, W, 3) or grayscale (H, W) image, found shape {arr.shape}")
    x = arr.astype(np.float32) / np.float32(255.0) if arr.dtype == np.uint8 else arr.astype(np.float32)
    y = (x @ _YIQ_Y) * np.float32(255.0)
    return np.round(y).astype(np.float64)


def matlab_gaussian(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``, rounded to float32 (as pyiqa stores it), as float64."""
    m = (size - 1) / 2.0
    y, x = np.ogrid[-m:m + 1, -m:m + 1]
    h = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    h /= h.sum()
    return h.astype(np.float32).astype(np.float64)


def mscn(img: np.ndarray, *, kernel_size: int = 7, sigma: float = 7.0 / 6.0, c: float = 1.0,
         border: str = "replicate", dtype: type = np.float64) -> np.ndarray:
    """MSCN coefficients ``(I - mu) / (sqrt(|E[I^2] - mu^2| + eps) + c)`` with a Gaussian window.

    Args:
        img: 2-D luminance (``[0, 255]``).
        border: ``"replicate"`` (edge pixels repeated; pyiqa NIQE) or ``"zero"`` (zero padding;
            pyiqa BRISQUE's ``padding='same'``).
        dtype: working precision (pyiqa runs NIQE in float64, BRISQUE in float32).
    """
    modes = {"replicate": cv2.BORDER_REPLICATE, "zero": cv2.BORDER_CONSTANT}
    if border not in modes:
        raise ValueError(f"border must be one of {sorted(modes)}, found {border!r}")
    x = np.ascontiguousarray(img, dtype=dtype)
    k = matlab_gaussian(kernel_size, sigma).astype(dtype)
    mu = cv2.filter2D(x, -1, k, borderType=modes[border])
    ex2 = cv2.filter2D(x * x, -1, k, borderType=modes[border])
    sd = np.sqrt(np.abs(ex2 - mu * mu) + np.finfo(dtype).eps)
    return (x - mu) / (sd + dtype(c))


def _cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    w01 = ((a + 2) * ax3 - (a + 3) * ax2 + 1) * (ax <= 1)
    w12 = (a * ax3 - 5 * a * ax2 + 8 * a * ax - 4 * a) * ((ax > 1) & (ax <= 2))
    return w01 + w12


def _resize_weights(n_in: int, n_out: int, scale: float, antialias: bool, dtype: type):
    """Gather indices ``(n_out, k)`` (symmetric edges) and weights ``(n_out, k)`` of MATLAB bicubic resizing."""
    ksize = 4
    aa = scale if (antialias and scale < 1) else 1.0
    if aa != 1.0:
        ksize = math.ceil(ksize / aa)
    ksize += 2
    pos = (np.arange(n_out, dtype=dtype) + dtype(0.5)) / dtype(scale) - dtype(0.5)
    base = np.floor(pos) - (ksize // 2) + 1
    dist = pos - base
    taps = np.arange(ksize, dtype=dtype)
    w = _cubic((dist[:, None] - taps[None, :]) * dtype(aa)).astype(dtype)
    w /= w.sum(axis=1, keepdims=True)
    idx = base.astype(np.int64)[:, None] + np.arange(ksize)[None, :]
    period = 2 * n_in  # symmetric reflection [a, a, b, c, ..., c]
    idx = np.mod(idx, period)
    idx = np.where(idx >= n_in, period - 1 - idx, idx)
    keep = np.any(w != 0, axis=0)  # drop all-zero tap columns
    return idx[:, keep], w[:, keep]


def imresize(img: np.ndarray, scale: float | None = None, output_shape: tuple[int, int] | None = None, *,
             antialias: bool = True, dtype: type = np.float32) -> np.ndarray:
    """MATLAB ``imresize(img, scale, 'bicubic')`` (antialiased when shrinking) of a 2-D array.

    Output size ``ceil(H * scale), ceil(W * scale)`` (or ``output_shape``). Computed in ``dtype``
    (pyiqa always resizes in float32); returned as float64. Rows first, then columns (as pyiqa).
    """
    x = np.asarray(img, dtype=dtype)
    h, w = x.shape
    if output_shape is None:
        if scale is None:
            raise ValueError("give scale or output_shape")
        output_shape = (math.ceil(h * scale), math.ceil(w * scale))
        scales = (scale, scale)
    else:
        scales = (output_shape[0] / h, output_shape[1] / w)
    if scales[0] != 1:
        idx, wt = _resize_weights(h, output_shape[0], scales[0], antialias, dtype)
        out = np.zeros((output_shape[0], w), dtype=dtype)
        for k in range(idx.shape[1]):
            out += wt[:, k, None] * x[idx[:, k], :]
        x = out
    if scales[1] != 1:
        idx, wt = _resize_weights(w, output_shape[1], scales[1], antialias, dtype)
        out = np.zeros((x.shape[0], output_shape[1]), dtype=dtype)
        for k in range(idx.shape[1]):
            out += wt[None, :, k] * x[:, idx[:, k]]
        x = out
    return x.astype(np.float64)


@numba.njit(cache=True, nogil=True)
def _block_stats_kernel(x, bh, bw, out):  # pragma: no cover - compiled
    nbh, nbw = out.shape[0], out.shape[1]
    for bi in range(nbh):
        for bj in range(nbw):
            y0, x0 = bi * bh, bj * bw
            for s in range(5):
                if s == 0:
                    dy, dx = 0, 0
                elif s == 1:
                    dy, dx = 0, 1
                elif s == 2:
                    dy, dx = 1, 0
                elif s == 3:
                    dy, dx = 1, 1
                else:
                    dy, dx = 1, -1
                nneg = 0.0
                npos = 0.0
                sqneg = 0.0
                sqpos = 0.0
                sabs = 0.0
                for i in range(bh):
                    ii = (i - dy) % bh
                    for j in range(bw):
                        v = x[y0 + i, x0 + j]
                        if s > 0:
                            jj = (j - dx) % bw
                            v = v * x[y0 + ii, x0 + jj]
                        if v < 0:
                            nneg += 1.0
                            sqneg += v * v
                            sabs -= v
                        elif v > 0:
                            npos += 1.0
                            sqpos += v * v
                            sabs += v
                out[bi, bj, s, 0] = nneg
                out[bi, bj, s, 1] = npos
                out[bi, bj, s, 2] = sqneg
                out[bi, bj, s, 3] = sqpos
                out[bi, bj, s, 4] = sabs
                out[bi, bj, s, 5] = bh * bw


def block_stats(x: np.ndarray, block: tuple[int, int] | None = None) -> np.ndarray:
    """Sufficient statistics of the MSCN map and its neighbour products, per block.

    Args:
        x: 2-D MSCN map.
        block: ``(bh, bw)``; ``None`` = the whole image is one block. Partial blocks at the bottom/right
            are discarded (pyiqa's ``blockproc``).

    Returns:
        ``(nbh, nbw, 5, 6)`` float64: for the map itself (index 0) and the products with its neighbour
        along :data:`SHIFTS` (1..4; circular within the block, like ``torch.roll``):
        ``[n_negative, n_positive, sum_sq_negative, sum_sq_positive, sum_abs, n_total]``.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    bh, bw = block if block is not None else x.shape
    nbh, nbw = x.shape[0] // bh, x.shape[1] // bw
    out = np.zeros((nbh, nbw, 5, 6), dtype=np.float64)
    _block_stats_kernel(x, bh, bw, out)
    return out


def _nearest_on_grid(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of ``argmin |table - v|`` for a monotone ``table`` (first index on ties; 0 for NaN, like torch)."""
    increasing = table[-1] > table[0]
    t = table if increasing else table[::-1]
    v = np.asarray(values, dtype=np.float64)
    pos = np.searchsorted(t, np.nan_to_num(v, nan=0.0))
    lo = np.clip(pos - 1, 0, len(t) - 1)
    hi = np.clip(pos, 0, len(t) - 1)
    d_lo, d_hi = np.abs(t[lo] - v), np.abs(t[hi] - v)
    if increasing:
        idx = np.where(d_hi < d_lo, hi, lo)
    else:  # in original order the hi side has the smaller index
        idx = len(t) - 1 - np.where(d_lo < d_hi, lo, hi)
    return np.where(np.isnan(v), 0, idx)


def aggd_from_stats(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AGGD moment fit from :func:`block_stats` rows ``[..., 6]``: ``(alpha, sigma_left, sigma_right)``.

    ``sigma_*`` are the one-sided RMS values (pyiqa's ``return_sigma=True``); the scale parameters are
    ``beta = sigma * sqrt(Gamma(1/alpha) / Gamma(3/alpha))``. Blocks without negative (or positive)
    values give NaN sigmas and ``alpha = 0.2`` (pyiqa's behaviour).
    """
    nneg, npos, sqneg, sqpos, sabs, n = (stats[..., k] for k in range(6))
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.sqrt(sqneg / nneg)
        right = np.sqrt(sqpos / npos)
        g = left / right
        rhat = (sabs / n) ** 2 / ((sqneg + sqpos) / n)
        rnorm = rhat * (g ** 3 + 1) * (g + 1) / (g ** 2 + 1) ** 2
    alpha = GAMMA_GRID[_nearest_on_grid(_R_AGGD, rnorm)]
    return alpha, left, right


def ggd_from_stats(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GGD moment fit from :func:`block_stats` rows: ``(alpha, sigma)`` with ``sigma = sqrt(E[x^2])``."""
    sq = (stats[..., 2] + stats[..., 3]) / stats[..., 5]
    e = stats[..., 4] / stats[..., 5]
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = sq / e ** 2
    return GAMMA_GRID[_nearest_on_grid(_R_GGD, rho)], np.sqrt(sq)


def aggd_fit(x: np.ndarray) -> tuple[float, float, float]:
    """AGGD fit of a whole array: ``(alpha, sigma_left, sigma_right)`` (see :func:`aggd_from_stats`)."""
    a, lft, rgt = aggd_from_stats(block_stats(np.atleast_2d(x))[0, 0, 0])
    return float(a), float(lft), float(rgt)


def ggd_fit(x: np.ndarray) -> tuple[float, float]:
    """GGD fit of a whole array: ``(alpha, sigma)`` (see :func:`ggd_from_stats`)."""
    a, s = ggd_from_stats(block_stats(np.atleast_2d(x))[0, 0, 0])
    return float(a), float(s)
