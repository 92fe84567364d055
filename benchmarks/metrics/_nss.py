"""Natural-scene-statistics helpers shared by the no-reference metrics (NIQE, BRISQUE, ...).

Everything here follows the conventions of pyiqa 0.1.16 (which itself mirrors the MATLAB reference
code), re-implemented with numpy / OpenCV / numba:

* :func:`to_luma` -- the luminance plane pyiqa feeds to NIQE/BRISQUE: the Y of YIQ
  (``0.299 R + 0.587 G + 0.114 B``) of the ``[0, 1]`` RGB image, times 255, rounded, computed in float32
  (:func:`luma_native`: the same values, float32 for RGB input).
* :func:`matlab_gaussian` -- MATLAB ``fspecial('gaussian', size, sigma)`` (stored as float32 like pyiqa).
* :func:`mscn` -- mean-subtracted contrast-normalised coefficients ``(I - mu) / (sigma + C)`` with a
  Gaussian window; ``border="replicate"`` (NIQE) or ``"zero"`` (BRISQUE's default ``'same'`` padding).
* :func:`imresize` -- MATLAB ``imresize(..., 'bicubic')`` with antialiasing (symmetric edge padding)
  (:func:`imresize_native`: the same, returned in its working precision).
* :func:`block_stats` -- per-block sums needed to fit a GGD/AGGD to the MSCN map and to the products
  of neighbouring MSCN coefficients (circular shifts *inside* each block, as ``torch.roll`` does in pyiqa).
* :func:`aggd_fit` / :func:`ggd_fit` -- moment-matching fits on pyiqa's grid ``0.2:0.001:10``.

The Numba kernels behind these do the same float operations in the same order as the plain numpy
formulations (so NIQE/BRISQUE values do not depend on which path ran); ``tests/metrics/test_fast_paths_nss.py``
checks them bit for bit.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numba
import numpy as np
from scipy.special import gammaln

from benchmarks.metrics.base import check_image

__all__ = ["SHIFTS", "GAMMA_GRID", "to_luma", "luma_native", "matlab_gaussian", "mscn", "imresize",
           "imresize_native", "block_stats", "aggd_fit", "ggd_fit", "aggd_from_stats", "ggd_from_stats"]

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
    return luma_native(image, round_gray=round_gray).astype(np.float64, copy=False)


def luma_native(image: np.ndarray, *, round_gray: bool = True) -> np.ndarray:
    """:func:`to_luma`'s values in the precision they are computed in: float32 for RGB input, float64 for
    grayscale (so callers working in float32 skip a float64 round trip; the values are the same)."""
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
    return _luma_rgb_f32(arr)


def _luma_rgb_f32(arr: np.ndarray) -> np.ndarray:
    """``round(255 * Y_yiq)`` of a checked RGB ``(H, W, 3)`` array, float32 (the arithmetic of pyiqa's float32)."""
    strides = [abs(st) for st, n in zip(arr.strides, arr.shape, strict=True) if n > 1]
    if arr.dtype == np.uint8 and strides == sorted(strides, reverse=True):  # astype would give C order too
        x = np.empty(arr.shape, dtype=np.float32)
        _u8_to_unit(np.ascontiguousarray(arr).reshape(-1), x.reshape(-1))
    else:
        x = arr.astype(np.float32) / np.float32(255.0) if arr.dtype == np.uint8 else arr.astype(np.float32)
    # numpy's (BLAS) float32 matrix-vector product, kept as is: its rounding decides ties of the rounding below
    y = x @ _YIQ_Y
    y *= np.float32(255.0)
    return np.round(y, out=y)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _u8_to_unit(src, dst):  # pragma: no cover - compiled
    """``dst = float32(src) / float32(255)`` (1-D uint8 -> float32), one pass."""
    d = np.float32(255.0)
    for i in range(src.shape[0]):
        dst[i] = np.float32(src[i]) / d


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
    k = _gaussian_cached(kernel_size, float(sigma), np.dtype(dtype).str)
    mu = cv2.filter2D(x, -1, k, borderType=modes[border])
    ex2 = cv2.filter2D(x * x, -1, k, borderType=modes[border])
    if x.dtype not in (np.float32, np.float64) or x.ndim != 2:  # not what the fused kernel is compiled for
        sd = np.sqrt(np.abs(ex2 - mu * mu) + np.finfo(dtype).eps)
        return (x - mu) / (sd + dtype(c))
    out = np.empty_like(x)
    _mscn_tail(x.reshape(-1), mu.reshape(-1), ex2.reshape(-1), x.dtype.type(np.finfo(dtype).eps), x.dtype.type(c),
               out.reshape(-1))
    return out


@lru_cache(maxsize=8)
def _gaussian_cached(size: int, sigma: float, dtype_str: str) -> np.ndarray:
    k = matlab_gaussian(size, sigma).astype(np.dtype(dtype_str))
    k.flags.writeable = False
    return k


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _mscn_tail(x, mu, ex2, eps, c, out):  # pragma: no cover - compiled
    """``out = (x - mu) / (sqrt(|ex2 - mu^2| + eps) + c)`` elementwise in the arrays' dtype (1-D, same length)."""
    for i in range(x.shape[0]):
        m = mu[i]
        sd = np.sqrt(np.abs(ex2[i] - m * m) + eps)
        out[i] = (x[i] - m) / (sd + c)


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
    return imresize_native(img, scale, output_shape, antialias=antialias, dtype=dtype).astype(np.float64)


def imresize_native(img: np.ndarray, scale: float | None = None, output_shape: tuple[int, int] | None = None, *,
                    antialias: bool = True, dtype: type = np.float32) -> np.ndarray:
    """:func:`imresize` returned in ``dtype`` (the precision it is computed in), not float64."""
    x = np.asarray(img, dtype=dtype)
    h, w = x.shape
    if output_shape is None:
        if scale is None:
            raise ValueError("give scale or output_shape")
        output_shape = (math.ceil(h * scale), math.ceil(w * scale))
        scales = (scale, scale)
    else:
        scales = (output_shape[0] / h, output_shape[1] / w)
    fast = x.dtype in (np.float32, np.float64)
    if fast:
        x = np.ascontiguousarray(x)
    if scales[0] != 1:
        idx, wt = _resize_weights(h, output_shape[0], scales[0], antialias, dtype)
        if fast:
            out = np.empty((output_shape[0], w), dtype=dtype)
            _resize_rows(x, idx, wt, out)
        else:
            out = np.zeros((output_shape[0], w), dtype=dtype)
            for k in range(idx.shape[1]):
                out += wt[:, k, None] * x[idx[:, k], :]
        x = out
    if scales[1] != 1:
        idx, wt = _resize_weights(w, output_shape[1], scales[1], antialias, dtype)
        if fast:
            out = np.empty((x.shape[0], output_shape[1]), dtype=dtype)
            _resize_cols(x, idx, wt, out)
        else:
            out = np.zeros((x.shape[0], output_shape[1]), dtype=dtype)
            for k in range(idx.shape[1]):
                out += wt[None, :, k] * x[:, idx[:, k]]
        x = out
    return x


@numba.njit(cache=True, nogil=True)
def _resize_rows(x, idx, wt, out):  # pragma: no cover - compiled
    """``out[r] = sum_k wt[r, k] * x[idx[r, k]]``, summed from zero in tap order (as the numpy loop did)."""
    for r in range(out.shape[0]):
        o = out[r]
        o[:] = 0
        for k in range(idx.shape[1]):
            w = wt[r, k]
            src = x[idx[r, k]]
            for c in range(o.shape[0]):
                o[c] = o[c] + w * src[c]


@numba.njit(cache=True, nogil=True)
def _resize_cols(x, idx, wt, out):  # pragma: no cover - compiled
    """``out[:, c] = sum_k wt[c, k] * x[:, idx[c, k]]``, summed from zero in tap order."""
    ncol, ntap = idx.shape
    for r in range(out.shape[0]):
        src = x[r]
        o = out[r]
        o[:] = 0
        for c in range(ncol):
            acc = o[c]
            for k in range(ntap):
                acc = acc + wt[c, k] * src[idx[c, k]]
            o[c] = acc


@numba.njit(cache=True, nogil=True, inline="always")
def _count_signs(b, o, s):  # pragma: no cover - compiled
    """``o[s, 0] += #(b < 0)``, ``o[s, 1] += #(b > 0)`` (integer counts: any order gives the same)."""
    nn = 0
    npos = 0
    for j in range(b.shape[0]):
        nn += b[j] < 0.0
        npos += b[j] > 0.0
    o[s, 0] += nn
    o[s, 1] += npos


@numba.njit(cache=True, nogil=True, inline="always")
def _add_sums(v, sn, sp, sa):  # pragma: no cover - compiled
    """``v`` into ``(sum_sq_negative, sum_sq_positive, sum_abs)``, branch-free; 0 and NaN add nothing
    (``+0.0``, which leaves a sum unchanged)."""
    vn = v if v < 0.0 else 0.0
    vp = v if v > 0.0 else 0.0
    return sn + vn * vn, sp + vp * vp, sa + (vp - vn)


@numba.njit(cache=True, nogil=True)
def _block_stats_kernel(x, bh, bw, out):  # pragma: no cover - compiled
    """Fill ``out`` (zeroed, ``(nbh, nbw, 5, 6)``) from ``x`` (float32/64): per block row, the map and its 4
    neighbour products (float64) go to row buffers, then each of the 15 sums runs over the block in row-major
    order, so every sum adds the same terms in the same order as the plain per-shift loops."""
    nbh, nbw = out.shape[0], out.shape[1]
    buf = np.empty((5, bw), dtype=np.float64)
    b0, b1, b2, b3, b4 = buf[0], buf[1], buf[2], buf[3], buf[4]
    for bi in range(nbh):
        for bj in range(nbw):
            y0, x0 = bi * bh, bj * bw
            o = out[bi, bj]
            s0 = t0 = u0 = s1 = t1 = u1 = s2 = t2 = u2 = s3 = t3 = u3 = s4 = t4 = u4 = 0.0
            for i in range(bh):
                row = x[y0 + i, x0:x0 + bw]
                up = x[y0 + (i - 1 if i > 0 else bh - 1), x0:x0 + bw]  # circular within the block
                for j in range(bw):
                    b0[j] = row[j]
                for j in range(bw):
                    b2[j] = b0[j] * up[j]
                for j in range(1, bw):
                    b1[j] = b0[j] * row[j - 1]
                    b3[j] = b0[j] * up[j - 1]
                for j in range(bw - 1):
                    b4[j] = b0[j] * up[j + 1]
                b1[0] = b0[0] * row[bw - 1]
                b3[0] = b0[0] * up[bw - 1]
                b4[bw - 1] = b0[bw - 1] * up[0]
                _count_signs(b0, o, 0)
                _count_signs(b1, o, 1)
                _count_signs(b2, o, 2)
                _count_signs(b3, o, 3)
                _count_signs(b4, o, 4)
                for j in range(bw):
                    s0, t0, u0 = _add_sums(b0[j], s0, t0, u0)
                    s1, t1, u1 = _add_sums(b1[j], s1, t1, u1)
                    s2, t2, u2 = _add_sums(b2[j], s2, t2, u2)
                    s3, t3, u3 = _add_sums(b3[j], s3, t3, u3)
                    s4, t4, u4 = _add_sums(b4[j], s4, t4, u4)
            o[0, 2], o[0, 3], o[0, 4] = s0, t0, u0
            o[1, 2], o[1, 3], o[1, 4] = s1, t1, u1
            o[2, 2], o[2, 3], o[2, 4] = s2, t2, u2
            o[3, 2], o[3, 3], o[3, 4] = s3, t3, u3
            o[4, 2], o[4, 3], o[4, 4] = s4, t4, u4
            o[:, 5] = bh * bw


def block_stats(x: np.ndarray, block: tuple[int, int] | None = None) -> np.ndarray:
    """Sufficient statistics of the MSCN map and its neighbour products, per block.

    Args:
        x: 2-D MSCN map (float32 or float64 is read as is; the products and sums are float64 either way).
        block: ``(bh, bw)``; ``None`` = the whole image is one block. Partial blocks at the bottom/right
            are discarded (pyiqa's ``blockproc``).

    Returns:
        ``(nbh, nbw, 5, 6)`` float64: for the map itself (index 0) and the products with its neighbour
        along :data:`SHIFTS` (1..4; circular within the block, like ``torch.roll``):
        ``[n_negative, n_positive, sum_sq_negative, sum_sq_positive, sum_abs, n_total]``.
    """
    x = np.asarray(x)
    x = np.ascontiguousarray(x, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
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
