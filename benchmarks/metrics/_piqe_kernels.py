"""Numba kernels of :mod:`benchmarks.metrics.piqe` (and the Gaussian moments of :mod:`benchmarks.metrics.fade`),
compiled lazily on first use and cached on disk.

They reproduce the former numpy/OpenCV formulation of PIQE operation for operation, so that every block
statistic is bit-identical to it and no per-block decision (thresholds at 0.1) can flip:

* the luminance in float32 as numpy computes it (uint8 values through exact per-value tables);
* the 7x7 Gaussian moments as OpenCV's float64 ``sepFilter2D`` computes them on x86-64 (row filter with fused
  multiply-adds except in its scalar tail, symmetric column filter without), see :func:`gauss_row`;
* every sum over a block in the order numpy reduces the ``(nr, nc, 16, 16)`` block view: 16-value rows
  pairwise (``((a0+a8)+(a1+a9)) + ...``) then row after row, or, with a single block column, the buffered run
  of 256 / 32 values pairwise with 8 accumulators; the 14 "surround" columns column after column (the layout
  of numpy's fancy-indexed copy); the 6-value edge segments in order.

The image is processed in strips of 16 rows, with ring buffers of rows instead of full-size planes.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
BLOCK = 16
SEGMENT = 6  # edge segment length of the noticeable-artifact criterion
_SURROUND = (0, 1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15)  # pyiqa's "every column except 7 and 9"
_RING = 32  # rows kept of the luminance and of its row-filtered planes (a strip needs 16 + 2 * 3)


@intrinsic
def fma(typingctx, a, b, c):  # pragma: no cover - compiled
    """``a * b + c`` with a single rounding (``llvm.fma``)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@numba.njit(**_JIT)
def gauss_row(src, k, ext, out):  # pragma: no cover - compiled
    """7-tap row filter of ``src`` ``(w,)`` with replicated borders, as OpenCV's float64 ``sepFilter2D`` computes
    it on x86-64 (its AVX2 code path): ``k0 x0``, then ``fma(k_t, x_t, s)`` for t = 1..6, except that the last
    ``w % 4`` pixels (its scalar tail) use a plain multiply and add. ``ext``: scratch of ``w + 6``."""
    w = src.shape[0]
    for q in range(3):
        ext[q] = src[0]
        ext[w + 3 + q] = src[w - 1]
    inner = ext[3:3 + w]
    for x in range(w):
        inner[x] = src[x]
    k0, k1, k2, k3, k4, k5, k6 = k[0], k[1], k[2], k[3], k[4], k[5], k[6]
    w4 = w - w % 4
    for x in range(w4):
        s = k0 * ext[x]
        s = fma(k1, ext[x + 1], s)
        s = fma(k2, ext[x + 2], s)
        s = fma(k3, ext[x + 3], s)
        s = fma(k4, ext[x + 4], s)
        s = fma(k5, ext[x + 5], s)
        s = fma(k6, ext[x + 6], s)
        out[x] = s
    for x in range(w4, w):
        s = k0 * ext[x]
        s += k1 * ext[x + 1]
        s += k2 * ext[x + 2]
        s += k3 * ext[x + 3]
        s += k4 * ext[x + 4]
        s += k5 * ext[x + 5]
        s += k6 * ext[x + 6]
        out[x] = s


@numba.njit(**_JIT)
def gauss_col(r0, r1a, r1b, r2a, r2b, r3a, r3b, k, out):  # pragma: no cover - compiled
    """7-tap column filter of a symmetric ``k`` at one row, as OpenCV's float64 ``sepFilter2D`` computes it:
    ``k3 r0 + 0``, then ``+= k_{3+t} (r_t below + r_t above)`` for t = 1..3 (no fused multiply-add); ``r_t`` are
    the row-filtered rows ``t`` below / above, already clamped to the image."""
    k3, k4, k5, k6 = k[3], k[4], k[5], k[6]
    for x in range(out.shape[0]):
        s = k3 * r0[x] + 0.0
        s += k4 * (r1a[x] + r1b[x])
        s += k5 * (r2a[x] + r2b[x])
        s += k6 * (r3a[x] + r3b[x])
        out[x] = s


@numba.njit(**_JIT)
def _luma_row(img, y, scale, tab, wts, out):  # pragma: no cover - compiled
    """Float32 luminance of row ``y`` of ``img`` ``(h, w, c)``: c = 1 grey, else ``w0 R + w1 G + w2 B``, of the
    values divided by 255 (uint8, ``scale``; via the float32 table ``tab``: rows 0-2 ``(v / 255) w_c``, row 3
    ``v / 255``) or as they are (float32; the table lookups are then typed but never run)."""
    src = img[y]
    w = out.shape[0]
    if img.shape[2] == 1:
        if scale:
            for x in range(w):
                out[x] = tab[3, np.intp(src[x, 0])]
        else:
            for x in range(w):
                out[x] = src[x, 0]
    elif scale:
        for x in range(w):
            out[x] = tab[0, np.intp(src[x, 0])] + tab[1, np.intp(src[x, 1])] + tab[2, np.intp(src[x, 2])]
    else:
        w0, w1, w2 = wts[0], wts[1], wts[2]
        for x in range(w):
            out[x] = np.float32(src[x, 0]) * w0 + np.float32(src[x, 1]) * w1 + np.float32(src[x, 2]) * w2


@numba.njit(**_JIT)
def luma_max(img, scale, tab, wts):  # pragma: no cover - compiled
    """The maximum of the float32 luminance of ``img`` (see :func:`_luma_row`)."""
    h, w = img.shape[0], img.shape[1]
    row = np.empty(w, dtype=np.float32)
    ymax = np.float32(-np.inf)
    for y in range(h):
        _luma_row(img, y, scale, tab, wts, row)
        for x in range(w):
            ymax = max(ymax, row[x])
    return ymax


@numba.njit(**_JIT)
def _pw16(a, o):  # pragma: no cover - compiled
    """numpy's pairwise sum of the 16 contiguous values ``a[o:o + 16]``."""
    return (((a[o] + a[o + 8]) + (a[o + 1] + a[o + 9])) + ((a[o + 2] + a[o + 10]) + (a[o + 3] + a[o + 11]))) \
        + (((a[o + 4] + a[o + 12]) + (a[o + 5] + a[o + 13])) + ((a[o + 6] + a[o + 14]) + (a[o + 7] + a[o + 15])))


@numba.njit(**_JIT)
def _pw128(a, lo, n, acc):  # pragma: no cover - compiled
    """numpy's pairwise sum of the contiguous ``a[lo:lo + n]``, ``8 <= n <= 128`` (8 accumulators)."""
    for j in range(8):
        acc[j] = a[lo + j]
    i = 8
    while i < n - n % 8:
        for j in range(8):
            acc[j] += a[lo + i + j]
        i += 8
    s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
    while i < n:
        s += a[lo + i]
        i += 1
    return s


@numba.njit(**_JIT)
def _pw(a, n, acc):  # pragma: no cover - compiled
    """numpy's pairwise sum of the contiguous ``a[:n]``, ``8 <= n <= 256`` (split in two above 128)."""
    if n <= 128:
        return _pw128(a, 0, n, acc)
    n2 = n // 2
    n2 -= n2 % 8
    return _pw128(a, 0, n2, acc) + _pw128(a, n2, n - n2, acc)


@numba.njit(**_JIT)
def _strip_stats(norm, br, threshold, var, c_std, s_std, artifact, b, t, acc, edge, surround):  # pragma: no cover
    """Statistics of the blocks of block row ``br`` from its MSCN strip ``norm`` ``(16, nc * 16)`` (see
    :func:`block_stats`); ``b``, ``t`` (256), ``acc`` (8), ``edge`` (16): scratch; ``surround``: column indices."""
    nr, nc = var.shape
    for bc in range(nc):
        x0 = bc * BLOCK
        for i in range(BLOCK):
            for j in range(BLOCK):
                b[i * BLOCK + j] = norm[i, x0 + j]
        # variance: numpy reduces each block as 16 rows (pairwise, then in order), or, with a single block
        # column, as one buffered run of 256 values
        if nc == 1:
            s = _pw(b, 256, acc)
        else:
            s = _pw16(b, 0)
            for i in range(1, BLOCK):
                s += _pw16(b, i * BLOCK)
        mean = s / 256.0
        for q in range(BLOCK * BLOCK):
            d = b[q] - mean
            t[q] = d * d
        if nc == 1:
            s = _pw(t, 256, acc)
        else:
            s = _pw16(t, 0)
            for i in range(1, BLOCK):
                s += _pw16(t, i * BLOCK)
        var[br, bc] = s / 255.0
        # centre columns 7, 8: rows of 2 in order, or one run of 32 values (nc == 1)
        for i in range(BLOCK):
            t[2 * i] = b[i * BLOCK + 7]
            t[2 * i + 1] = b[i * BLOCK + 8]
        if nc == 1:
            s = _pw(t, 32, acc)
        else:
            s = t[0] + t[1]
            for i in range(1, BLOCK):
                s += t[2 * i] + t[2 * i + 1]
        mean = s / 32.0
        for q in range(2 * BLOCK):
            d = t[q] - mean
            t[q] = d * d
        if nc == 1:
            s = _pw(t, 32, acc)
        else:
            s = t[0] + t[1]
            for i in range(1, BLOCK):
                s += t[2 * i] + t[2 * i + 1]
        c_std[br, bc] = math.sqrt(s / 31.0)
        # surround: column-major; numpy sums it sequentially (nc > 1), by 16-value columns (nc == 1),
        # or as 224 contiguous values (a single block)
        n = 0
        for c in range(14):
            col = surround[c]
            for i in range(BLOCK):
                t[n] = b[i * BLOCK + col]
                n += 1
        for rep in range(2):
            if nr == 1 and nc == 1:
                s = _pw(t, 224, acc)
            elif nc == 1:
                s = _pw16(t, 0)
                for c in range(1, 14):
                    s += _pw16(t, c * BLOCK)
            else:
                s = t[0]
                for q in range(1, 224):
                    s += t[q]
            if rep == 0:
                mean = s / 224.0
                for q in range(224):
                    d = t[q] - mean
                    t[q] = d * d
        s_std[br, bc] = math.sqrt(s / 223.0)
        # noticeable artifact: some 6-pixel edge segment with std < 0.1 (sums in order)
        found = False
        for e in range(4):
            for q in range(BLOCK):
                if e == 0:
                    edge[q] = b[q]
                elif e == 1:
                    edge[q] = b[q * BLOCK + BLOCK - 1]
                elif e == 2:
                    edge[q] = b[(BLOCK - 1) * BLOCK + q]
                else:
                    edge[q] = b[q * BLOCK]
            for k in range(BLOCK - SEGMENT + 1):
                s = edge[k]
                for q in range(1, SEGMENT):
                    s += edge[k + q]
                mean = s / float(SEGMENT)
                d = edge[k] - mean
                s = d * d
                for q in range(1, SEGMENT):
                    d = edge[k + q] - mean
                    s += d * d
                if math.sqrt(s / (SEGMENT - 1.0)) < threshold:
                    found = True
                    break
            if found:
                break
        artifact[br, bc] = found


@numba.njit(**_JIT)
def block_stats(img, scale, tab, wts, ymax, k, eps, threshold, var, c_std, s_std, artifact):  # pragma: no cover
    """PIQE's per-block statistics of ``img`` (uint8 or float32 ``(h, w, c)``, c = 1 or >= 3; luminance as in
    :func:`_luma_row`), strip by strip.

    The luminance ``round(255 Y / ymax)`` (float32, half to even; 0 if ``ymax <= 0``) is padded half-sample
    symmetrically at the bottom/right by ``h % 16`` rows / ``w % 16`` columns; its Gaussian moments ``mu``,
    ``m2`` (7-tap ``k``, replicated borders, as ``cv2.sepFilter2D``) give the MSCN map
    ``(Y - mu) / (sqrt(|m2 - mu^2| + eps) + 1)``. Per complete 16x16 block: ``var`` (unbiased variance), ``c_std``
    / ``s_std`` (unbiased std of the centre columns 7, 8 / of every column but 7 and 9) and ``artifact`` (some
    6-pixel segment of an edge has unbiased std < ``threshold``); outputs are ``(nr, nc)``.
    """
    h, w = img.shape[0], img.shape[1]
    hp, wp = h + h % BLOCK, w + w % BLOCK
    nr, nc = var.shape
    width = nc * BLOCK
    lum = np.empty((_RING, wp))
    rf1 = np.empty((_RING, wp))
    rf2 = np.empty((_RING, wp))
    row32 = np.empty(w, dtype=np.float32)
    sq = np.empty(wp)
    ext = np.empty(wp + 6)
    mu = np.empty(wp)
    m2 = np.empty(wp)
    norm = np.empty((BLOCK, width))
    b = np.empty(BLOCK * BLOCK)
    t = np.empty(BLOCK * BLOCK)
    acc = np.empty(8)
    edge = np.empty(BLOCK)
    surround = np.array(_SURROUND)
    s255 = np.float32(255.0)
    ym = np.float32(ymax)
    done = 0  # padded rows computed so far
    for br in range(nr):
        y0 = br * BLOCK
        last = min(y0 + BLOCK + 2, hp - 1)
        while done <= last:
            lr = lum[done % _RING]
            if ymax > 0:
                _luma_row(img, done if done < h else 2 * h - 1 - done, scale, tab, wts, row32)
                for x in range(w):
                    lr[x] = float(np.rint(s255 * (row32[x] / ym)))
                for x in range(w, wp):
                    lr[x] = lr[2 * w - 1 - x]
            else:
                for x in range(wp):
                    lr[x] = 0.0
            for x in range(wp):
                sq[x] = lr[x] * lr[x]
            gauss_row(lr, k, ext, rf1[done % _RING])
            gauss_row(sq, k, ext, rf2[done % _RING])
            done += 1
        for i in range(BLOCK):
            y = y0 + i
            a1, a2, a3 = min(y + 1, hp - 1) % _RING, min(y + 2, hp - 1) % _RING, min(y + 3, hp - 1) % _RING
            b1, b2, b3 = max(y - 1, 0) % _RING, max(y - 2, 0) % _RING, max(y - 3, 0) % _RING
            c = y % _RING
            gauss_col(rf1[c], rf1[a1], rf1[b1], rf1[a2], rf1[b2], rf1[a3], rf1[b3], k, mu)
            gauss_col(rf2[c], rf2[a1], rf2[b1], rf2[a2], rf2[b2], rf2[a3], rf2[b3], k, m2)
            lr = lum[y % _RING]
            out = norm[i]
            for x in range(width):
                m = mu[x]
                sd = math.sqrt(abs(m2[x] - m * m) + eps)
                out[x] = (lr[x] - m) / (sd + 1.0)
        _strip_stats(norm, br, threshold, var, c_std, s_std, artifact, b, t, acc, edge, surround)
