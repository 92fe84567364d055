"""Numba kernels of :mod:`benchmarks.metrics.fade` (compiled lazily on first use, cached on disk).

They reproduce the former numpy/OpenCV formulation of FADE operation for operation, so that the features are
bit-identical to it:

* per-pixel expressions keep numpy's evaluation order (no fused multiply-add);
* the 7x7 Gaussian moments as OpenCV's float64 ``sepFilter2D`` computes them on x86-64 (row filter with fused
  multiply-adds except in its scalar tail, symmetric column filter without), and the 7x7 erosion / dilation
  that detects constant windows;
* 8x8 block means sum each 8-value row pairwise (``((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7))``) and then the rows
  in order (numpy's ``mean(axis=(1, 3))`` of the ``(r, 8, c, 8)`` view; one run of 64 values when there is a
  single block column); variances over a block's 64 values use numpy's pairwise order with 8 accumulators
  (one per block column);
* the 20-tap contrast-energy filters accumulate their taps in order from 0, as ``cv2.filter2D`` does.

The image is processed in strips of 8 rows with ring buffers of rows instead of full-size planes, with loops
over whole rows so that they vectorise.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
CE_TAPS = 20  # length of the contrast-energy kernel (the loops over it are unrolled)
CE_BORDER = 10  # rows/columns copied out on each side before the contrast-energy filters
_RING = 16  # rows kept of the grey level and of its row-filtered planes (a strip needs 8 + 2 * 3)
_CE_RING = 32  # rows kept of the border-extended contrast-energy channel (a row needs 20)


# The Gaussian-moment helpers are copies of those in _piqe_kernels (numba's on-disk cache does not notice
# changes to callees in another file, so the two modules share no compiled code).


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
def _tree8(a, o):  # pragma: no cover - compiled
    return ((a[o] + a[o + 1]) + (a[o + 2] + a[o + 3])) + ((a[o + 4] + a[o + 5]) + (a[o + 6] + a[o + 7]))


@numba.njit(**_JIT)
def _strip_mean(v, contiguous, feats, br, index):  # pragma: no cover - compiled
    """``feats[br, :, index]`` = means of the 8x8 blocks of the strip ``v`` ``(8, w)``, in numpy's order for
    ``mean(axis=(1, 3))`` of the ``(r, 8, c, 8)`` view: each 8-value row pairwise, then row after row; with a
    single block column (``contiguous``) numpy sees 64 contiguous values and sums the 8 columns separately."""
    nc = feats.shape[1]
    for bc in range(nc):
        x0 = bc * 8
        if contiguous:
            c0 = v[0, x0]
            c1 = v[0, x0 + 1]
            c2 = v[0, x0 + 2]
            c3 = v[0, x0 + 3]
            c4 = v[0, x0 + 4]
            c5 = v[0, x0 + 5]
            c6 = v[0, x0 + 6]
            c7 = v[0, x0 + 7]
            for i in range(1, 8):
                c0 += v[i, x0]
                c1 += v[i, x0 + 1]
                c2 += v[i, x0 + 2]
                c3 += v[i, x0 + 3]
                c4 += v[i, x0 + 4]
                c5 += v[i, x0 + 5]
                c6 += v[i, x0 + 6]
                c7 += v[i, x0 + 7]
            s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7))
        else:
            s = _tree8(v[0], x0)
            for i in range(1, 8):
                s += _tree8(v[i], x0)
        feats[br, bc, index] = s / 64.0


@numba.njit(**_JIT)
def _keep(v, mode, keep):  # pragma: no cover - compiled
    """``keep`` = which entries of ``v`` ``(8, w)`` count: ``mode`` 0 not NaN, 1 ``>= 0``, 2 ``<= 0``, 3 all."""
    for i in range(v.shape[0]):
        row = v[i]
        out = keep[i]
        if mode == 0:
            for x in range(row.shape[0]):
                out[x] = row[x] == row[x]
        elif mode == 1:
            for x in range(row.shape[0]):
                out[x] = row[x] >= 0.0
        elif mode == 2:
            for x in range(row.shape[0]):
                out[x] = row[x] <= 0.0
        else:
            for x in range(row.shape[0]):
                out[x] = True


@numba.njit(**_JIT)
def _strip_var(v, keep, colsum, colsq, cnt, meanx, feats, br, index):  # pragma: no cover - compiled
    """``feats[br, :, index]`` = unbiased variance of the kept entries (``keep``) of each 8x8 block of the strip
    ``v`` ``(8, w)`` (1 kept: 0; none: NaN); ``meanx[x]`` is left holding the mean of the block of column ``x``.
    Sums in numpy's order for 64 contiguous values: down each block column, then the 8 columns pairwise."""
    w = v.shape[1]
    nc = feats.shape[1]
    row = v[0]
    kr = keep[0]
    for x in range(w):
        colsum[x] = row[x] if kr[x] else 0.0
        cnt[x] = kr[x]
    for i in range(1, 8):
        row = v[i]
        kr = keep[i]
        for x in range(w):
            colsum[x] += row[x] if kr[x] else 0.0
            cnt[x] += kr[x]
    for bc in range(nc):
        x0 = bc * 8
        n = 0
        for j in range(8):
            n += cnt[x0 + j]
        mean = _tree8(colsum, x0) / float(n)
        for j in range(8):
            meanx[x0 + j] = mean
    row = v[0]
    kr = keep[0]
    for x in range(w):
        d = row[x] - meanx[x]
        colsq[x] = d * d if kr[x] else 0.0
    for i in range(1, 8):
        row = v[i]
        kr = keep[i]
        for x in range(w):
            d = row[x] - meanx[x]
            colsq[x] += d * d if kr[x] else 0.0
    for bc in range(nc):
        x0 = bc * 8
        n = 0
        for j in range(8):
            n += cnt[x0 + j]
        var = _tree8(colsq, x0) / (float(n) - 1.0)
        if n == 1:
            var = 0.0
        elif n == 0:
            var = np.nan
        feats[br, bc, index] = var


@numba.njit(**_JIT)
def _produce(rp, gp, bp, r, wts, k, gray, gray_u8, rf1, rf2, rmin, rmax, sq, ext, extu):  # pragma: no cover - compiled
    """Row ``r`` of the grey level (``clip(floor(w0 R + w1 G + w2 B + 0.5), 0, 255)``, float64 and uint8), of its
    and its square's 7-tap Gaussian row filter, and of its 7-wide min / max (replicated borders), stored at
    row ``r % R`` of the ring buffers ``gray``, ``gray_u8``, ``rf1``, ``rf2``, ``rmin``, ``rmax`` ``(R, w)``
    (``sq``, ``ext``, ``extu``: scratch rows of ``w``, ``w + 6``, ``w + 6``)."""
    slot = r % gray.shape[0]
    w = gray.shape[1]
    rr, gg, bb = rp[r], gp[r], bp[r]
    g = gray[slot]
    gu = gray_u8[slot]
    w0, w1, w2 = wts[0], wts[1], wts[2]
    for x in range(w):
        v = np.floor(float(rr[x]) * w0 + float(gg[x]) * w1 + float(bb[x]) * w2 + 0.5)
        g[x] = min(max(v, 0.0), 255.0)
    for x in range(w):
        gu[x] = np.uint8(g[x])
        sq[x] = g[x] * g[x]
    gauss_row(g, k, ext, rf1[slot])
    gauss_row(sq, k, ext, rf2[slot])
    for q in range(3):  # 7-wide min / max of the uint8 grey level, replicated borders
        extu[q] = gu[0]
        extu[w + 3 + q] = gu[w - 1]
    inner = extu[3:3 + w]
    for x in range(w):
        inner[x] = gu[x]
    lo = rmin[slot]
    hi = rmax[slot]
    for x in range(w):
        lo[x] = min(min(min(extu[x], extu[x + 1]), min(extu[x + 2], extu[x + 3])),
                    min(min(extu[x + 4], extu[x + 5]), extu[x + 6]))
        hi[x] = max(max(max(extu[x], extu[x + 1]), max(extu[x + 2], extu[x + 3])),
                    max(max(extu[x + 4], extu[x + 5]), extu[x + 6]))


@numba.njit(**_JIT)
def _mscn_row(y, h, k, mu_off, m2_off, gray, gray_u8, rf1, rf2, rmin, rmax, flat, mu, m2, mscn, sig,
              cvr):  # pragma: no cover - compiled
    """MSCN ``(g - mu) / (sigma + 1)``, ``sigma = sqrt(|m2 - mu^2|)`` and ``sigma / mu`` of image row ``y`` from the
    ring buffers of :func:`_produce` (rows ``y - 3 .. y + 3``, clamped to the image, must be there). Where the
    7x7 window is constant (min == max), ``mu = g + mu_off[g]``, ``m2 = g^2 + m2_off[g]`` (MATLAB's residue)."""
    n = gray.shape[0]
    c = y % n
    a1, a2, a3 = min(y + 1, h - 1) % n, min(y + 2, h - 1) % n, min(y + 3, h - 1) % n
    b1, b2, b3 = max(y - 1, 0) % n, max(y - 2, 0) % n, max(y - 3, 0) % n
    gauss_col(rf1[c], rf1[a1], rf1[b1], rf1[a2], rf1[b2], rf1[a3], rf1[b3], k, mu)
    gauss_col(rf2[c], rf2[a1], rf2[b1], rf2[a2], rf2[b2], rf2[a3], rf2[b3], k, m2)
    g = gray[c]
    gu = gray_u8[c]
    nflat = 0
    for x in range(g.shape[0]):
        lo = min(min(min(rmin[c, x], rmin[a1, x]), min(rmin[b1, x], rmin[a2, x])),
                 min(min(rmin[b2, x], rmin[a3, x]), rmin[b3, x]))
        hi = max(max(max(rmax[c, x], rmax[a1, x]), max(rmax[b1, x], rmax[a2, x])),
                 max(max(rmax[b2, x], rmax[a3, x]), rmax[b3, x]))
        flat[x] = lo == hi
        nflat += lo == hi
    if nflat > 0:
        for x in range(g.shape[0]):
            if flat[x]:
                v = g[x]
                mu[x] = v + mu_off[gu[x]]
                m2[x] = v * v + m2_off[gu[x]]
    for x in range(g.shape[0]):
        m = mu[x]
        s = math.sqrt(abs(m2[x] - m * m))
        mscn[x] = (g[x] - m) / (s + 1.0)
        sig[x] = s
        cvr[x] = s / m


@numba.njit(**_JIT)
def block_features(rp, gp, bp, wts, k, mu_off, m2_off, ent_table, feats):  # pragma: no cover - compiled
    """Fill ``feats[..., k]`` for k in 0-4 and 8-11 (all but the contrast energies) of the 8x8 blocks, strip by
    strip (8 rows), from the uint8 R, G, B planes ``(h, w)`` (h, w multiples of 8).

    ``wts``: the grey-level weights; ``k``: the 7-tap Gaussian (moments as ``cv2.sepFilter2D``, replicated
    borders); ``mu_off``/``m2_off``: the 256 constant-window residues; ``ent_table[n]`` = ``-(p log2 p)`` with
    ``p = n / 64``; ``feats``: ``(h // 8, w // 8, 12)`` float64.
    """
    h, w = rp.shape
    nr, nc = h // 8, w // 8
    contiguous = nc == 1
    gray = np.empty((_RING, w))
    gray_u8 = np.empty((_RING, w), dtype=np.uint8)
    rf1 = np.empty((_RING, w))
    rf2 = np.empty((_RING, w))
    rmin = np.empty((_RING, w), dtype=np.uint8)
    rmax = np.empty((_RING, w), dtype=np.uint8)
    sq = np.empty(w)
    ext = np.empty(w + 6)
    extu = np.empty(w + 6, dtype=np.uint8)
    flat = np.empty(w, dtype=np.bool_)
    mu = np.empty(w)
    m2 = np.empty(w)
    mscn = np.empty((9, w))  # row 0: the image row above the strip (wrapping, as np.roll)
    sig = np.empty((8, w))
    cvr = np.empty((8, w))
    pair = np.empty((8, w))
    colsum = np.empty(w)
    colsq = np.empty(w)
    meanx = np.empty(w)
    cnt = np.empty(w, dtype=np.int64)
    keep = np.empty((8, w), dtype=np.bool_)
    v_rg = np.empty(nc)
    m_rg = np.empty(nc)
    hist = np.zeros(256, dtype=np.int64)
    # the MSCN row above strip 0 is the last image row (rows h - 4 .. h - 1, in a ring of their own)
    wg = np.empty((8, w))
    wgu = np.empty((8, w), dtype=np.uint8)
    wr1 = np.empty((8, w))
    wr2 = np.empty((8, w))
    wlo = np.empty((8, w), dtype=np.uint8)
    whi = np.empty((8, w), dtype=np.uint8)
    for r in range(max(h - 4, 0), h):
        _produce(rp, gp, bp, r, wts, k, wg, wgu, wr1, wr2, wlo, whi, sq, ext, extu)
    _mscn_row(h - 1, h, k, mu_off, m2_off, wg, wgu, wr1, wr2, wlo, whi, flat, mu, m2, mscn[0], sig[0], cvr[0])
    done = 0  # image rows produced so far
    for br in range(nr):
        y0 = br * 8
        if br > 0:
            for x in range(w):
                mscn[0, x] = mscn[8, x]
        last = min(y0 + 10, h - 1)
        while done <= last:
            _produce(rp, gp, bp, done, wts, k, gray, gray_u8, rf1, rf2, rmin, rmax, sq, ext, extu)
            done += 1
        for i in range(8):
            _mscn_row(y0 + i, h, k, mu_off, m2_off, gray, gray_u8, rf1, rf2, rmin, rmax, flat, mu, m2, mscn[i + 1],
                      sig[i], cvr[i])
            for x in range(w):
                pair[i, x] = mscn[i + 1, x] * mscn[i, x]
        # variances of the MSCN coefficients and of the vertical pair products (>= 0: "R", <= 0: "L")
        _keep(mscn[1:], 0, keep)
        _strip_var(mscn[1:], keep, colsum, colsq, cnt, meanx, feats, br, 0)
        _keep(pair, 1, keep)
        _strip_var(pair, keep, colsum, colsq, cnt, meanx, feats, br, 1)
        _keep(pair, 2, keep)
        _strip_var(pair, keep, colsum, colsq, cnt, meanx, feats, br, 2)
        # means of sigma and sigma / mu
        _strip_mean(sig, contiguous, feats, br, 3)
        _strip_mean(cvr, contiguous, feats, br, 4)
        # entropy of the grey levels (terms in increasing grey level, as a sorted run-length count)
        for bc in range(nc):
            x0 = bc * 8
            lo = 255
            hi = 0
            for i in range(8):
                gr = gray_u8[(y0 + i) % _RING]
                for j in range(8):
                    g = np.int64(gr[x0 + j])
                    hist[g] += 1
                    lo = min(lo, g)
                    hi = max(hi, g)
            e = 0.0
            for g in range(lo, hi + 1):
                c = hist[g]
                if c > 0:
                    e += ent_table[c]
                    hist[g] = 0
            feats[br, bc, 8] = e
        # dark channel, saturation (sig, cvr reused), colourfulness (R - G, (R + G) / 2 - B in mscn, pair)
        for i in range(8):
            rr = rp[y0 + i]
            gg = gp[y0 + i]
            bb = bp[y0 + i]
            for x in range(w):
                r = float(rr[x])
                g = float(gg[x])
                b = float(bb[x])
                mn = min(min(r, g), b)
                mx = max(max(r, g), b)
                sig[i, x] = mn / 255.0
                cvr[i, x] = (mx - mn) / mx if mx > 0 else 0.0
                mscn[i, x] = r - g
                pair[i, x] = 0.5 * (r + g) - b
        _strip_mean(sig, contiguous, feats, br, 9)
        _strip_mean(cvr, contiguous, feats, br, 10)
        _keep(pair, 3, keep)
        _strip_var(mscn[:8], keep, colsum, colsq, cnt, meanx, feats, br, 11)
        for bc in range(nc):  # var and mean (left in meanx by _strip_var) of R - G
            v_rg[bc] = feats[br, bc, 11]
            m_rg[bc] = meanx[bc * 8]
        _strip_var(pair, keep, colsum, colsq, cnt, meanx, feats, br, 11)
        for bc in range(nc):
            mb = meanx[bc * 8]
            feats[br, bc, 11] = math.sqrt(v_rg[bc] + feats[br, bc, 11]) + 0.3 * math.sqrt(m_rg[bc] * m_rg[bc] + mb * mb)
        # mscn[8] (the last MSCN row of this strip, the next one's row above) is still intact


@numba.njit(**_JIT)
def _ce_ext_row(rp, gp, bp, which, t, rowmap, colmap, out):  # pragma: no cover - compiled
    """Row ``t`` of the border-extended contrast-energy channel ``which`` (0: grey ``0.299 R + 0.587 G + 0.114 B``,
    1: yellow-blue ``0.5 R + 0.5 G - B``, 2: red-green ``R - G``): ``out[q]`` is the pixel
    ``(rowmap[t], colmap[q])``, zero beyond the maps' lengths. The maps are ``concat([i[:10], i, i[-10:]])`` of
    the indices ``i``, so column ``x`` lies at ``x + m0``, ``m0`` the length of ``i[:10]``."""
    w = rp.shape[1]
    wx = out.shape[0]
    hp, wp = rowmap.shape[0], colmap.shape[0]
    if t >= hp:
        for q in range(wx):
            out[q] = 0.0
        return
    m0 = min(w, CE_BORDER)
    y = rowmap[t]
    rr = rp[y]
    gg = gp[y]
    bb = bp[y]
    inner = out[m0:m0 + w]
    if which == 0:
        for x in range(w):
            inner[x] = 0.299 * float(rr[x]) + 0.587 * float(gg[x]) + 0.114 * float(bb[x])
    elif which == 1:
        for x in range(w):
            inner[x] = 0.5 * float(rr[x]) + 0.5 * float(gg[x]) - float(bb[x])
    else:
        for x in range(w):
            inner[x] = float(rr[x]) - float(gg[x])
    for q in range(m0):
        out[q] = out[m0 + colmap[q]]
    for q in range(m0 + w, wp):
        out[q] = out[m0 + colmap[q]]
    for q in range(wp, wx):
        out[q] = 0.0


@numba.njit(**_JIT)
def _ce_contrast_row(win, k, out):  # pragma: no cover - compiled
    """``out[x] = sqrt(cx^2 + cy^2)`` with ``cx = sum_j k[j] win[9, x + 1 + j]``, ``cy = sum_j k[j] win[j, x + 10]``
    (taps in order from 0), ``win`` the 20 extended rows ``y + 1 .. y + 20`` of output row ``y``."""
    er = win[CE_BORDER - 1, 1:]
    for x in range(out.shape[0]):
        sx = 0.0
        for j in range(CE_TAPS):
            sx += k[j] * er[x + j]
        sy = 0.0
        for j in range(CE_TAPS):
            sy += k[j] * win[j, x + CE_BORDER]
        out[x] = math.sqrt(sx * sx + sy * sy)


@numba.njit(**_JIT)
def ce_contrast(rp, gp, bp, which, rowmap, colmap, k, contrast):  # pragma: no cover - compiled
    """``contrast = sqrt(cx^2 + cy^2)`` of the contrast-energy channel ``which`` of the uint8 planes ``(h, w)``:
    ``cx``/``cy`` are the correlations of its border-extended image (:func:`_ce_ext_row`, zero beyond) with the
    20-tap ``k`` along x / y anchored at tap 9, at the extended pixels ``(y + 10, x + 10)``. Returns
    ``max(contrast)``."""
    h, w = contrast.shape
    wx = w + 2 * CE_BORDER
    ring = np.empty((2 * _CE_RING, wx))  # row t at t % R and t % R + R: any 20 consecutive rows are contiguous
    done = 0  # extended rows computed so far
    for y in range(h):
        while done <= y + CE_TAPS:
            slot = done % _CE_RING
            a = ring[slot]
            _ce_ext_row(rp, gp, bp, which, done, rowmap, colmap, a)
            b = ring[slot + _CE_RING]
            for q in range(wx):
                b[q] = a[q]
            done += 1
        s0 = (y + 1) % _CE_RING
        _ce_contrast_row(ring[s0:s0 + CE_TAPS], k, contrast[y])
    cmax = -np.inf
    for y in range(h):
        row = contrast[y]
        for x in range(w):
            cmax = max(cmax, row[x])
    return cmax


@numba.njit(**_JIT)
def ce_block_mean(contrast, cmax, semisat, threshold, feats, index):  # pragma: no cover - compiled
    """``feats[..., index]`` = 8x8 block means of ``c cmax / (c + semisat cmax) - threshold`` (values not above
    1e-7 count as 0) of ``contrast`` ``(h, w)``."""
    h, w = contrast.shape
    nr, nc = h // 8, w // 8
    resp = np.empty((8, w))
    cs = cmax * semisat
    for br in range(nr):
        for i in range(8):
            src = contrast[br * 8 + i]
            out = resp[i]
            for x in range(w):
                c = src[x]
                v = c * cmax / (c + cs) - threshold
                out[x] = v if v > 1e-7 else 0.0
        _strip_mean(resp, nc == 1, feats, br, index)


@numba.njit(**_JIT)
def _pairwise_sum(a):  # pragma: no cover - compiled
    """numpy's pairwise sum of a short contiguous vector (``len(a) <= 128``)."""
    n = a.shape[0]
    if n < 8:
        s = -0.0
        for i in range(n):
            s += a[i]
        return s
    r = a[:8].copy()
    i = 8
    while i < n - n % 8:
        for j in range(8):
            r[j] += a[i + j]
        i += 8
    s = _tree8(r, 0)
    while i < n:
        s += a[i]
        i += 1
    return s


@numba.njit(**_JIT)
def patch_var(feat, out):  # pragma: no cover - compiled
    """``out[i]`` = unbiased variance of the non-NaN entries of ``feat[i]`` (1: 0; none: NaN), as numpy sums
    the rows of ``(n, k)`` arrays (``k <= 128``)."""
    n, k = feat.shape
    z = np.empty(k)
    for i in range(n):
        row = feat[i]
        cnt = 0
        for j in range(k):
            v = row[j]
            if v == v:
                cnt += 1
                z[j] = v
            else:
                z[j] = 0.0
        mean = _pairwise_sum(z) / float(cnt)
        for j in range(k):
            v = row[j]
            d = v - mean
            z[j] = d * d if v == v else 0.0
        var = _pairwise_sum(z) / (float(cnt) - 1.0)
        if cnt == 1:
            var = 0.0
        elif cnt == 0:
            var = np.nan
        out[i] = var
