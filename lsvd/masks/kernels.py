"""Numba kernels behind the SelfSVD mask (official specification, sections 2.2 and 2.5).

Each kernel reproduces one step of the official ``data_process/script_mask_generate.py`` (OpenCV,
numpy, PyTorch and scikit-image calls) and is checked against that plain version in
``tests/masks/test_kernels.py``:

- :func:`min_rgb` -- per-pixel minimum over RGB (``np.min(m, 2)``), raw values of the input dtype;
- :func:`erode_square` -- square min filter, pixels outside the image ignored (``cv2.erode`` with a
  ``ksize x ksize`` kernel of ones and its default border);
- :func:`box_filter` -- normalised ``ksize x ksize`` mean with ``BORDER_REFLECT_101``
  (``cv2.boxFilter(src, -1, (ksize, ksize))``), separable running sums;
- :func:`guided_filter` / :func:`guided_filter_range` -- the official ``guidedfilter`` (six box
  means) in one streaming pass per column strip, plus the output's min and max;
- :func:`atmospheric_light` -- the official 2000-bin histogram rule for the airlight ``A``
  (``np.histogram`` binning reproduced bin for bin, but only the top bins are counted);
- :func:`dehaze_full` / :func:`dehaze_resized` -- the veil removal ``J = (I - M) / (1 - M / A)``,
  clipped, as float32; the second fuses it with the bilinear ``align_corners=True`` downscale so the
  full-resolution dehazed image is never made;
- :func:`bilinear_resize` -- PyTorch's ``F.interpolate(mode="bilinear", align_corners=True)`` in
  float32, tap for tap (PyTorch may round the last bit differently: it uses FMA);
- :func:`masked_gray` -- clamp, validity mask and RGB mean of the aligned pair (float32, as the
  official tensors);
- :func:`block_ssim` -- blockwise SSIM, exactly ``skimage.metrics.structural_similarity`` with its
  defaults on each block (spec 2.5), evaluated in float64 (skimage: float32).

Precision and determinism. uint8 frames (the official input) take exact integer arithmetic in the
guided filter: the sums of I, p, I*p, I*I are exact integers, and the second box filter sums the
coefficients a, b in fixed point (``round(x * 2^45)`` for eps = 1e-3, int64), so the refined dark
channel differs from the float64 reference by ~1e-14 and does not depend on how the image is split
between threads: uint8 results are bitwise identical for any thread count. Float input uses float64
sums (identical across thread counts up to rounding, ~1e-15).

All kernels are ``@njit(parallel=True, cache=True)`` (or serial helpers; a few thin Python wrappers
choose strip counts or accumulator types) and also run, slowly, as plain Python under
``NUMBA_DISABLE_JIT=1``; float32 arithmetic uses explicit ``np.float32`` operands so that both
modes round alike. Helpers dispatched on the input dtype use ``numba.extending.overload`` with a
plain-Python twin.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

__all__ = [
    "RESTART",
    "atmospheric_light",
    "bilinear_resize",
    "block_ssim",
    "box_filter",
    "dehaze_full",
    "dehaze_resized",
    "erode_square",
    "guided_filter",
    "guided_filter_range",
    "linear_taps",
    "masked_gray",
    "min_rgb",
    "reflect101",
]

#: Column granularity of the strips; :func:`box_filter` restarts its running sums at multiples of it.
RESTART = 64
#: Rows per chunk in the histogram / airlight reductions.
_CHUNK_ROWS = 32

_PAR = {"parallel": True, "cache": True, "error_model": "numpy"}
_SER = {"cache": True, "error_model": "numpy"}


# --------------------------------------------------------------------------------------------
# helpers


@njit(**_SER)
def reflect101(p, n):
    """OpenCV ``borderInterpolate(p, n, BORDER_REFLECT_101)`` (repeated reflections for small n)."""
    if n == 1:
        return 0
    while p < 0 or p >= n:
        if p < 0:
            p = -p
        else:
            p = 2 * n - 2 - p
    return p


def _n_strips(width: int) -> int:
    """Column strips for the box filters: one per thread, at most one per :data:`RESTART` columns."""
    blocks = (width + RESTART - 1) // RESTART
    return max(1, min(numba.get_num_threads(), blocks))


@njit(**_SER)
def _strip_bounds(width, nstrips, s):
    blocks = (width + RESTART - 1) // RESTART
    x0 = (s * blocks // nstrips) * RESTART
    x1 = min(width, ((s + 1) * blocks // nstrips) * RESTART)
    return x0, x1


@njit(**_SER)
def _strip_columns(width, x0, x1, r):
    """Reflected source columns of the extended strip [x0 - r, x1 + r), as offsets from ``lo``."""
    m = x1 - x0 + 2 * r
    cols = np.empty(m, np.int64)
    lo = width
    hi = 0
    for e in range(m):
        c = reflect101(x0 - r + e, width)
        cols[e] = c
        lo = min(lo, c)
        hi = max(hi, c + 1)
    # unsigned: numba then skips the negative-index wrap-around checks in the hot loops
    return (cols - lo).astype(np.uint64), lo, hi


# --------------------------------------------------------------------------------------------
# dark channel prior


@njit(**_PAR)
def min_rgb(img):
    """Per-pixel minimum over RGB of (H, W, 3) uint8 or float64 -> (H, W) of the same dtype (raw values)."""
    h, w = img.shape[0], img.shape[1]
    out = np.empty((h, w), img.dtype)
    for y in prange(h):
        for x in range(w):
            v = img[y, x, 0]
            g = img[y, x, 1]
            b = img[y, x, 2]
            if g < v:
                v = g
            if b < v:
                v = b
            out[y, x] = v
    return out


@njit(**_PAR)
def _erode_vertical(src, ksize):
    h, w = src.shape
    r = ksize // 2
    out = np.empty((h, w), src.dtype)
    for y in prange(h):
        o_row = out[y]
        y0 = max(0, y - r)
        y1 = min(h - 1, y + r)
        s_row = src[y0]
        for x in range(w):
            o_row[x] = s_row[x]
        for yy in range(y0 + 1, y1 + 1):
            s_row = src[yy]
            for x in range(w):
                o_row[x] = min(o_row[x], s_row[x])
    return out


@njit(**_SER)
def _erode_horizontal(src, ksize):
    # Serial on purpose: written this way (whole image, output allocated here, r derived from
    # ksize) LLVM vectorises the byte-min loop fully and it beats every parallel variant tried
    # (per-row helpers, prange) by 2-4x on 2 cores.
    h, w = src.shape
    r = ksize // 2
    out = np.empty((h, w), src.dtype)
    for y in range(h):
        # the edge pixel lies in every window that crosses the border: replicate it as padding
        buf = np.empty(w + 2 * r, src.dtype)
        s_row = src[y]
        for k in range(r):
            buf[k] = s_row[0]
            buf[w + r + k] = s_row[w - 1]
        for x in range(w):
            buf[r + x] = s_row[x]
        o_row = out[y]
        for x in range(w):
            o_row[x] = buf[x]
        for k in range(1, 2 * r + 1):
            for x in range(w):
                o_row[x] = min(o_row[x], buf[x + k])
    return out


def erode_square(src: np.ndarray, ksize: int) -> np.ndarray:
    """Min over the ``ksize x ksize`` window centred on each pixel, clipped to the image ((H, W), any dtype).

    ``cv2.erode(src, np.ones((ksize, ksize)))`` with its default border (outside pixels ignored),
    separably: columns (parallel), then rows (serial, see ``_erode_horizontal``). ``ksize`` odd.
    """
    return _erode_horizontal(_erode_vertical(src, ksize), ksize)


@njit(**_PAR)
def _box_filter(src, ksize, nst):
    h, w = src.shape
    r = ksize // 2
    scale = 1.0 / (ksize * ksize)
    out = np.empty((h, w), np.float64)
    for s in prange(nst):
        x0, x1 = _strip_bounds(w, nst, s)
        cols, lo, hi = _strip_columns(w, x0, x1, r)
        n = hi - lo
        col = np.zeros(n, np.float64)
        for k in range(-r, r + 1):
            yy = reflect101(k, h)
            for c in range(n):
                col[c] += src[yy, lo + c]
        for y in range(h):
            if y > 0:
                ya = reflect101(y + r, h)
                yb = reflect101(y - r - 1, h)
                for c in range(n):
                    col[c] += src[ya, lo + c] - src[yb, lo + c]
            x = x0
            while x < x1:
                xe = min(x1, (x // RESTART + 1) * RESTART)
                e = x - x0
                acc = 0.0
                for t in range(ksize):
                    acc += col[cols[e + t]]
                out[y, x] = acc * scale
                for xx in range(x + 1, xe):
                    e = xx - x0
                    acc += col[cols[e + 2 * r]] - col[cols[e - 1]]
                    out[y, xx] = acc * scale
                x = xe
    return out


def box_filter(src: np.ndarray, ksize: int) -> np.ndarray:
    """Normalised ``ksize x ksize`` box mean of float64 (H, W) with BORDER_REFLECT_101 (``cv2.boxFilter``)."""
    return _box_filter(src, ksize, _n_strips(src.shape[1]))


def _widen(x):
    """Integer -> int64, float -> float64 (the plain-Python version, used under NUMBA_DISABLE_JIT)."""
    if isinstance(x, int | np.integer):
        return np.int64(x)
    return np.float64(x)


@overload(_widen, jit_options={"cache": True})
def _widen_overload(x):
    if isinstance(x, types.Integer):
        return lambda x: np.int64(x)
    return lambda x: np.float64(x)


def _unit(x, lut, in_scale):
    """A pixel value in [0, 1]: ``lut[x]`` (= x / in_scale) for integers, ``x / in_scale`` for floats (plain Python)."""
    if isinstance(x, int | np.integer):
        return lut[x]
    return np.float64(x) / in_scale


@overload(_unit, jit_options={"cache": True})
def _unit_overload(x, lut, in_scale):
    if isinstance(x, types.Integer):
        return lambda x, lut, in_scale: lut[x]
    return lambda x, lut, in_scale: np.float64(x) / in_scale


#: Largest box for the packed uint8 sums (``ksize^2 * 255^2 < 2^32``); larger boxes take float64 sums.
_PACKED_MAX_KSIZE = 257


def _fixed_point_scale(ksize: int, eps: float) -> float:
    """Power of two for the fixed-point second box filter: 81^2 sums of |a|, |b| stay below 2^62.

    For I, p in [0, 1]: ``|a| = |cov| / (var + eps) <= sqrt(var_p) / (2 sqrt(eps)) <= 1 / (4 sqrt(eps))``
    and ``|b| <= 1 + |a|``; a factor 2 is kept as margin.
    """
    bound = 2.0 * ksize * ksize * (1.0 + 1.0 / (4.0 * np.sqrt(eps)))
    return float(2.0 ** np.floor(np.log2(2.0**62 / bound)))


def _stage1_generic(y1, guide, src, r, cs, lo1, cols1, ps, qa_row, qb_row, inv1, inv2, eps, qscale):
    """Row ``y1`` of the guided filter's (a, b) in fixed point (``round(a * qscale)``) on ``len(qa_row)`` columns.

    Rows must come in order 0, 1, 2, ...: ``cs`` (4, n1) holds the running column sums of I, p,
    I*p, I*I over ``2r + 1`` reflect-101 rows (exact integers for uint8 input), ``ps`` (4, n2 + 2r + 1)
    their prefix sums along the reflected columns ``cols1``, whose differences are the window sums.
    """
    h = guide.shape[0]
    n1 = cs.shape[1]
    n2 = qa_row.shape[0]
    c_i = cs[0]
    c_p = cs[1]
    c_ip = cs[2]
    c_ii = cs[3]
    if y1 == 0:
        for c in range(n1):
            c_i[c] = 0
            c_p[c] = 0
            c_ip[c] = 0
            c_ii[c] = 0
        for k in range(-r, r + 1):
            yy = reflect101(k, h)
            g_row = guide[yy, lo1:lo1 + n1]
            s_row = src[yy, lo1:lo1 + n1]
            for c in range(n1):
                vi = _widen(g_row[c])
                vp = _widen(s_row[c])
                c_i[c] += vi
                c_p[c] += vp
                c_ip[c] += vi * vp
                c_ii[c] += vi * vi
    else:
        ya = reflect101(y1 + r, h)
        yb = reflect101(y1 - r - 1, h)
        g_add = guide[ya, lo1:lo1 + n1]
        s_add = src[ya, lo1:lo1 + n1]
        g_sub = guide[yb, lo1:lo1 + n1]
        s_sub = src[yb, lo1:lo1 + n1]
        for c in range(n1):
            ia = _widen(g_add[c])
            pa = _widen(s_add[c])
            ib = _widen(g_sub[c])
            pb = _widen(s_sub[c])
            c_i[c] += ia - ib
            c_p[c] += pa - pb
            c_ip[c] += ia * pa - ib * pb
            c_ii[c] += ia * ia - ib * ib
    p_i = ps[0]
    p_p = ps[1]
    p_ip = ps[2]
    p_ii = ps[3]
    a_i = p_i[0] = 0
    a_p = p_p[0] = 0
    a_ip = p_ip[0] = 0
    a_ii = p_ii[0] = 0
    for e in range(n2 + 2 * r):
        c = cols1[e]
        a_i += c_i[c]
        a_p += c_p[c]
        a_ip += c_ip[c]
        a_ii += c_ii[c]
        p_i[e + 1] = a_i
        p_p[e + 1] = a_p
        p_ip[e + 1] = a_ip
        p_ii[e + 1] = a_ii
    k = 2 * r + 1
    for j in range(n2):
        m_i = (p_i[j + k] - p_i[j]) * inv1
        m_p = (p_p[j + k] - p_p[j]) * inv1
        m_ip = (p_ip[j + k] - p_ip[j]) * inv2
        m_ii = (p_ii[j + k] - p_ii[j]) * inv2
        av = (m_ip - m_i * m_p) / (m_ii - m_i * m_i + eps)
        qa_row[j] = np.int64(np.rint(av * qscale))
        qb_row[j] = np.int64(np.rint((m_p - av * m_i) * qscale))


def _stage1_packed(y1, guide, src, r, cs, lo1, cols1, ps, qa_row, qb_row, inv1, inv2, eps, qscale):
    """:func:`_stage1_generic` for uint8 input (compiled only), two quantities per uint64 word.

    ``I | p << 32`` and ``I*p | I*I << 32``: every window sum of one quantity is below 2^32
    (``81^2 * 255^2 < 2^32``), so the packed sums, exact modulo 2^64, unpack exactly; half the
    serial prefix-sum work of the generic version.
    """
    h = guide.shape[0]
    n1 = cs.shape[1]
    n2 = qa_row.shape[0]
    c01 = cs[0].view(np.uint64)
    c23 = cs[1].view(np.uint64)
    sh = np.uint64(32)
    low = np.uint64(0xFFFFFFFF)
    if y1 == 0:
        for c in range(n1):
            c01[c] = np.uint64(0)
            c23[c] = np.uint64(0)
        for k in range(-r, r + 1):
            yy = reflect101(k, h)
            g_row = guide[yy, lo1:lo1 + n1]
            s_row = src[yy, lo1:lo1 + n1]
            for c in range(n1):
                vi = np.uint64(g_row[c])
                vp = np.uint64(s_row[c])
                c01[c] += vi | (vp << sh)
                c23[c] += (vi * vp) | ((vi * vi) << sh)
    else:
        ya = reflect101(y1 + r, h)
        yb = reflect101(y1 - r - 1, h)
        g_add = guide[ya, lo1:lo1 + n1]
        s_add = src[ya, lo1:lo1 + n1]
        g_sub = guide[yb, lo1:lo1 + n1]
        s_sub = src[yb, lo1:lo1 + n1]
        for c in range(n1):
            ia = np.uint64(g_add[c])
            pa = np.uint64(s_add[c])
            ib = np.uint64(g_sub[c])
            pb = np.uint64(s_sub[c])
            c01[c] = c01[c] + (ia | (pa << sh)) - (ib | (pb << sh))
            c23[c] = c23[c] + ((ia * pa) | ((ia * ia) << sh)) - ((ib * pb) | ((ib * ib) << sh))
    # window sums for the columns lo2 + j: prefix sums in column order (contiguous) for the windows
    # inside the image, running sums over reflected columns for those crossing its border
    w = guide.shape[1]
    lo2 = lo1 + np.int64(cols1[r])  # first output column (cols1 maps ext position r to it)
    p01 = ps[0].view(np.uint64)
    p23 = ps[1].view(np.uint64)
    t01 = ps[2].view(np.uint64)
    t23 = ps[3].view(np.uint64)
    a01 = np.uint64(0)
    a23 = np.uint64(0)
    p01[0] = a01
    p23[0] = a23
    for c in range(n1):
        a01 += c01[c]
        a23 += c23[c]
        p01[c + 1] = a01
        p23[c + 1] = a23
    hi2 = lo2 + n2
    xi0 = min(max(lo2, r), hi2)
    xi1 = max(min(hi2, w - r), xi0)
    hi_01 = p01[xi0 + r + 1 - lo1:]
    lo_01 = p01[xi0 - r - lo1:]
    hi_23 = p23[xi0 + r + 1 - lo1:]
    lo_23 = p23[xi0 - r - lo1:]
    out_01 = t01[xi0 - lo2:]
    out_23 = t23[xi0 - lo2:]
    for j in range(np.uint64(0), np.uint64(xi1 - xi0)):
        out_01[j] = hi_01[j] - lo_01[j]
        out_23[j] = hi_23[j] - lo_23[j]
    for xs, xe in ((lo2, xi0), (xi1, hi2)):
        if xs < xe:
            s01 = np.uint64(0)
            s23 = np.uint64(0)
            for t in range(-r, r + 1):
                c = reflect101(xs + t, w) - lo1
                s01 += c01[c]
                s23 += c23[c]
            t01[xs - lo2] = s01
            t23[xs - lo2] = s23
            for x in range(xs + 1, xe):
                ca = reflect101(x + r, w) - lo1
                cb = reflect101(x - r - 1, w) - lo1
                s01 = s01 + c01[ca] - c01[cb]
                s23 = s23 + c23[ca] - c23[cb]
                t01[x - lo2] = s01
                t23[x - lo2] = s23
    for j in range(n2):
        w01 = t01[j]
        w23 = t23[j]
        m_i = np.float64(w01 & low) * inv1
        m_p = np.float64(w01 >> sh) * inv1
        m_ip = np.float64(w23 & low) * inv2
        m_ii = np.float64(w23 >> sh) * inv2
        av = (m_ip - m_i * m_p) / (m_ii - m_i * m_i + eps)
        qa_row[j] = np.int64(np.rint(av * qscale))
        qb_row[j] = np.int64(np.rint((m_p - av * m_i) * qscale))


def _guided_stage1_row(y1, guide, src, r, cs, lo1, cols1, ps, qa_row, qb_row, inv1, inv2, eps, qscale):
    """Pass 1 of the guided filter for one row (plain Python: :func:`_stage1_generic`)."""
    _stage1_generic(y1, guide, src, r, cs, lo1, cols1, ps, qa_row, qb_row, inv1, inv2, eps, qscale)


@overload(_guided_stage1_row, jit_options={"cache": True})
def _guided_stage1_row_overload(y1, guide, src, r, cs, lo1, cols1, ps, qa_row, qb_row, inv1, inv2, eps, qscale):
    if isinstance(guide.dtype, types.Integer) and isinstance(src.dtype, types.Integer):
        return _stage1_packed
    return _stage1_generic


@njit(**_SER)
def _border_window_sums(qa_row, qb_row, lo2, xs, xe, x0, w, r, ra, rb):
    """Running reflect-101 window sums for the output columns [xs, xe) (those near the image border)."""
    if xs >= xe:
        return
    sa = 0
    sb = 0
    for t in range(-r, r + 1):
        c = reflect101(xs + t, w) - lo2
        sa += qa_row[c]
        sb += qb_row[c]
    ra[xs - x0] = sa
    rb[xs - x0] = sb
    for x in range(xs + 1, xe):
        ca = reflect101(x + r, w) - lo2
        cb = reflect101(x - r - 1, w) - lo2
        sa += qa_row[ca] - qa_row[cb]
        sb += qb_row[ca] - qb_row[cb]
        ra[x - x0] = sa
        rb[x - x0] = sb


@njit(**_SER)
def _guided_stage2_row(qa_row, qb_row, lo2, x0, w, r, p_a, p_b, ring_a, ring_b, slot):
    """Horizontal window sums of one fixed-point (a, b) row (columns lo2..) for the strip into ring ``slot``.

    Windows inside the image are differences of a prefix sum in column order (contiguous); the
    few that cross the border (reflect-101) use running sums.
    """
    n2 = qa_row.shape[0]
    nx = ring_a.shape[1]
    x1 = x0 + nx
    acc_a = 0
    acc_b = 0
    p_a[0] = 0
    p_b[0] = 0
    for c in range(n2):
        acc_a += qa_row[c]
        acc_b += qb_row[c]
        p_a[c + 1] = acc_a
        p_b[c + 1] = acc_b
    ra = ring_a[slot]
    rb = ring_b[slot]
    xi0 = min(max(x0, r), x1)
    xi1 = max(min(x1, w - r), xi0)
    # unsigned indices: no negative-index wrap-around checks, so the loop vectorises
    hi_a = p_a[xi0 + r + 1 - lo2:]
    lo_a = p_a[xi0 - r - lo2:]
    hi_b = p_b[xi0 + r + 1 - lo2:]
    lo_b = p_b[xi0 - r - lo2:]
    out_a = ra[xi0 - x0:]
    out_b = rb[xi0 - x0:]
    for j in range(np.uint64(0), np.uint64(xi1 - xi0)):
        out_a[j] = hi_a[j] - lo_a[j]
        out_b[j] = hi_b[j] - lo_b[j]
    _border_window_sums(qa_row, qb_row, lo2, x0, xi0, x0, w, r, ra, rb)
    _border_window_sums(qa_row, qb_row, lo2, xi1, x1, x0, w, r, ra, rb)


_KEY_FLIP = np.int64(0x7FFFFFFFFFFFFFFF)


@njit(**_SER)
def _row_key_range(row):
    """(min, max) of a float64 row as order-preserving int64 keys (integer reductions vectorise; exact)."""
    bits = row.view(np.int64)
    lo = _KEY_FLIP
    hi = -_KEY_FLIP - 1
    for i in range(bits.shape[0]):
        b = bits[i]
        k = b ^ ((b >> 63) & _KEY_FLIP)
        lo = min(lo, k)
        hi = max(hi, k)
    return lo, hi


@njit(**_SER)
def _key_to_float(k):
    """Inverse of the key map of :func:`_row_key_range`."""
    out = np.empty(1, np.int64)
    out[0] = k ^ ((k >> 63) & _KEY_FLIP)
    return out.view(np.float64)[0]


@njit(**_PAR)
def _guided_fused(guide, src, in_scale, ksize, eps, qscale, acc_proto, nst):
    """Guided filter of ``guide / in_scale`` (I) and ``src / in_scale`` (p) -> (q float64 (H, W), strip mins, maxs).

    One streaming pass per column strip. Pass 1 keeps running column sums of I, p, I*p, I*I
    (``acc_proto.dtype``: exact int64 for uint8 input, float64 otherwise) and gets each row's window
    sums from prefix sums (:func:`_guided_stage1_row`); the (a, b) of the row go to fixed point
    (``round(x * qscale)``, int64), are box-summed horizontally at once and kept in a ring of
    ``2r + 2`` rows, from which pass 2's column sums are updated. Integer sums make the result
    independent of the strip layout (thread count) and exact up to the fixed-point rounding
    (``0.5 / qscale`` ~ 1e-14 on a and b).
    """
    h, w = guide.shape
    r = ksize // 2
    k2 = float(ksize * ksize)
    inv1 = 1.0 / (in_scale * k2)
    inv2 = 1.0 / (in_scale * in_scale * k2)
    inv_q = 1.0 / (qscale * k2)
    out = np.empty((h, w), np.float64)
    mins = np.empty(nst, np.float64)
    maxs = np.empty(nst, np.float64)
    nring = min(h, 2 * r + 2)
    for s in prange(nst):
        x0, x1 = _strip_bounds(w, nst, s)
        nx = x1 - x0
        _, lo2, hi2 = _strip_columns(w, x0, x1, r)
        n2 = hi2 - lo2
        cols1, lo1, hi1 = _strip_columns(w, lo2, hi2, r)
        n1 = hi1 - lo1
        cs = np.zeros((4, n1), acc_proto.dtype)
        ps = np.empty((4, n2 + 2 * r + 1), acc_proto.dtype)
        qa_row = np.empty(n2, np.int64)
        qb_row = np.empty(n2, np.int64)
        p_a = np.empty(n2 + 1, np.int64)
        p_b = np.empty(n2 + 1, np.int64)
        ring_a = np.empty((nring, nx), np.int64)
        ring_b = np.empty((nring, nx), np.int64)
        s_a = np.zeros(nx, np.int64)
        s_b = np.zeros(nx, np.int64)
        top = min(r, h - 1)
        for y1 in range(top + 1):
            _guided_stage1_row(y1, guide, src, r, cs, lo1, cols1, ps, qa_row, qb_row, inv1, inv2, eps, qscale)
            _guided_stage2_row(qa_row, qb_row, lo2, x0, w, r, p_a, p_b, ring_a, ring_b, y1 % nring)
        produced = top + 1
        for k in range(-r, r + 1):
            ra = ring_a[reflect101(k, h) % nring]
            rb = ring_b[reflect101(k, h) % nring]
            for e in range(nx):
                s_a[e] += ra[e]
                s_b[e] += rb[e]
        mn = _KEY_FLIP
        mx = -_KEY_FLIP - 1
        for y in range(h):
            if y > 0:
                ya = reflect101(y + r, h)
                yb = reflect101(y - r - 1, h)
                if ya >= produced:
                    _guided_stage1_row(ya, guide, src, r, cs, lo1, cols1, ps, qa_row, qb_row, inv1, inv2,
                                       eps, qscale)
                    _guided_stage2_row(qa_row, qb_row, lo2, x0, w, r, p_a, p_b, ring_a, ring_b, ya % nring)
                    produced += 1
                a_add = ring_a[ya % nring]
                a_sub = ring_a[yb % nring]
                b_add = ring_b[ya % nring]
                b_sub = ring_b[yb % nring]
                for e in range(nx):
                    s_a[e] += a_add[e] - a_sub[e]
                    s_b[e] += b_add[e] - b_sub[e]
            o_row = out[y, x0:x1]
            g_row = guide[y, x0:x1]
            for e in range(nx):
                o_row[e] = (np.float64(s_a[e]) * inv_q) * (np.float64(g_row[e]) / in_scale) + np.float64(s_b[e]) * inv_q
            lo, hi = _row_key_range(o_row)
            mn = min(mn, lo)
            mx = max(mx, hi)
        mins[s] = _key_to_float(mn)
        maxs[s] = _key_to_float(mx)
    return out, mins, maxs


def guided_filter_range(
    guide: np.ndarray, src: np.ndarray, ksize: int, eps: float, in_scale: float = 1.0
) -> tuple[np.ndarray, float, float]:
    """:func:`guided_filter` plus the output's minimum and maximum (computed in the same pass).

    Requires ``guide / in_scale`` and ``src / in_scale`` in [0, 1] (the fixed-point range of the
    second box filter is derived from it) and ``eps >= 1e-12``.
    """
    if guide.dtype == np.uint8 and src.dtype == np.uint8 and ksize <= _PACKED_MAX_KSIZE:
        acc_proto = np.zeros(0, np.int64)
    else:
        guide = np.ascontiguousarray(guide, dtype=np.float64)
        src = np.ascontiguousarray(src, dtype=np.float64)
        acc_proto = np.zeros(0, np.float64)
    qscale = _fixed_point_scale(ksize, eps)
    out, mins, maxs = _guided_fused(guide, src, float(in_scale), ksize, float(eps), qscale, acc_proto,
                                    _n_strips(guide.shape[1]))
    return out, float(mins.min()), float(maxs.max())


def guided_filter(guide: np.ndarray, src: np.ndarray, ksize: int, eps: float, in_scale: float = 1.0) -> np.ndarray:
    """He et al.'s guided filter (guide ``I = guide / in_scale``, input ``p = src / in_scale``) -> float64 (H, W).

    ``a = cov(I, p) / (var(I) + eps)``, ``b = mean(p) - a * mean(I)``, output
    ``mean(a) * I + mean(b)``, every mean a ``ksize x ksize`` :func:`box_filter` -- the official
    ``guidedfilter``. ``guide``, ``src``: (H, W) uint8 (``in_scale`` 255) or float64.
    """
    return guided_filter_range(guide, src, ksize, eps, in_scale)[0]


@njit(**_SER)
def _histogram_edges(first, last, bins):
    """``np.linspace(first, last, bins + 1)`` exactly (numpy's rounding)."""
    edges = np.empty(bins + 1, np.float64)
    delta = last - first
    step = delta / bins
    for i in range(bins + 1):
        if step == 0.0:
            edges[i] = (i / bins) * delta + first
        else:
            edges[i] = i * step + first
    edges[bins] = last
    return edges


@njit(**_SER)
def _bin_of(v, first, ratio, edges, bins):
    """numpy's bin of ``v``: ``edges[i] <= v < edges[i + 1]`` (the last bin closed)."""
    i = min(max(int((v - first) * ratio), 0), bins - 1)
    while i > 0 and v < edges[i]:
        i -= 1
    while i < bins - 1 and v >= edges[i + 1]:
        i += 1
    return i


@njit(**_SER)
def _sample_counts(refined, first, ratio, edges, bins, stride):
    """Histogram of the pixels on a ``stride`` x ``stride`` lattice -> (counts, number sampled)."""
    h, w = refined.shape
    counts = np.zeros(bins, np.int64)
    n = 0
    for y in range(0, h, stride):
        for x in range(0, w, stride):
            counts[_bin_of(refined[y, x], first, ratio, edges, bins)] += 1
            n += 1
    return counts, n


@njit(**_PAR)
def _top_bins(refined, img, in_scale, first, ratio, edges, bins, k0):
    """Counts and per-bin maximum RGB mean of ``img / in_scale`` over the pixels in bins >= ``k0``."""
    h, w = refined.shape
    lut = np.arange(256) / in_scale
    nchunk = (h + _CHUNK_ROWS - 1) // _CHUNK_ROWS
    counts = np.zeros((nchunk, bins), np.int64)
    best = np.full((nchunk, bins), -np.inf)
    thr = edges[k0]
    for k in prange(nchunk):
        for y in range(k * _CHUNK_ROWS, min(h, (k + 1) * _CHUNK_ROWS)):
            row = refined[y]
            for x in range(w):
                v = row[x]
                if v >= thr:
                    i = _bin_of(v, first, ratio, edges, bins)
                    counts[k, i] += 1
                    mean = ((_unit(img[y, x, 0], lut, in_scale) + _unit(img[y, x, 1], lut, in_scale))
                            + _unit(img[y, x, 2], lut, in_scale)) / 3.0
                    best[k, i] = max(best[k, i], mean)
    total = np.zeros(bins, np.int64)
    top = np.full(bins, -np.inf)
    for k in range(nchunk):
        for i in range(bins):
            total[i] += counts[k, i]
            top[i] = max(top[i], best[k, i])
    return total, top


#: Pixels sampled (at least) for the first guess of the airlight bin.
_SAMPLE_TARGET = 30000


def _sample_stride(n: int) -> int:
    """Lattice step of the airlight sample: about :data:`_SAMPLE_TARGET` pixels (every pixel when few)."""
    return max(1, int(np.sqrt(n / _SAMPLE_TARGET)))


@njit(**_SER)
def _airlight_search(counts, k0, n, bins, fraction):
    """Highest bin ``l`` in [max(1, k0), bins - 1] with cumulative fraction <= ``fraction`` (-1: look lower)."""
    above = 0  # pixels in bins > i
    lowest = max(1, k0)
    for i in range(bins - 1, lowest - 1, -1):
        if (n - above) / float(n) <= fraction:
            return i
        above += counts[i]
    return 1 if lowest == 1 else -1


def atmospheric_light(
    refined: np.ndarray, img: np.ndarray, in_scale: float, bins: int, fraction: float,
    value_range: tuple[float, float] | None = None,
) -> tuple[float, float, int]:
    """Airlight rule of the official DCP on the refined dark channel ``refined`` (float64 (H, W)).

    As ``np.histogram(refined, bins)`` (range = min..max, widened by 0.5 on each side when constant;
    ``edges[i] <= v < edges[i + 1]``, last bin closed): ``l`` is the highest bin from ``bins - 1``
    down to 1 (1 when none) whose cumulative fraction is ``<= fraction``, and ``A`` the maximum RGB
    mean of ``img / in_scale`` (uint8 or float64 (H, W, 3)) over the pixels with
    ``refined >= edges[l]``. Returns ``(A, edges[l], l)``.

    Only the top of the histogram matters, so a sparse sample first locates it (bin ``k0``
    comfortably below ``l``), then one pass bins just the pixels in bins >= ``k0`` (a fraction of a
    percent) and keeps each bin's maximum RGB mean. If ``l`` is not found above ``k0`` the pass is
    repeated for all pixels, so the result is always exactly the official one.
    ``value_range``: ``(min, max)`` of ``refined`` when already known.
    """
    first, last = value_range if value_range is not None else (float(refined.min()), float(refined.max()))
    if first == last:
        first, last = first - 0.5, last + 0.5
    edges = _histogram_edges(first, last, bins)
    ratio = bins / (last - first)
    sample, ns = _sample_counts(refined, first, ratio, edges, bins, _sample_stride(refined.size))
    need = max(4.0 * (1.0 - fraction) * ns, 32.0)
    k0, acc = 0, 0
    for i in range(bins - 1, 0, -1):
        acc += int(sample[i])
        if acc >= need:
            k0 = i
            break
    n = refined.size
    counts, top = _top_bins(refined, img, float(in_scale), first, ratio, edges, bins, k0)
    level = int(_airlight_search(counts, k0, n, bins, fraction))
    if level < 0:  # the sample misled us: bin everything
        counts, top = _top_bins(refined, img, float(in_scale), first, ratio, edges, bins, 0)
        level = int(_airlight_search(counts, 0, n, bins, fraction))
    return float(top[level:].max()), float(edges[level]), level


@njit(**_SER)
def _defog(value, veil, airlight):
    """``clip((value - veil) / (1 - veil / airlight), 0, 1)``; 0/0 (never met with A > 0) gives 0."""
    if airlight > 0.0:
        ratio = veil / airlight
    elif veil == 0.0:
        ratio = 0.0
    else:
        ratio = np.inf
    j = (value - veil) / (1.0 - ratio)
    if j != j:
        j = 0.0
    return min(max(j, 0.0), 1.0)


@njit(**_PAR)
def dehaze_full(img, in_scale, refined, airlight, omega, max_veil):
    """Veil removal at full resolution -> float32 (H, W, 3), ``M = min(refined * omega, max_veil)``."""
    h, w = refined.shape
    lut = np.arange(256) / in_scale
    out = np.empty((h, w, 3), np.float32)
    for y in prange(h):
        for x in range(w):
            veil = min(refined[y, x] * omega, max_veil)
            for c in range(3):
                out[y, x, c] = np.float32(_defog(_unit(img[y, x, c], lut, in_scale), veil, airlight))
    return out


@njit(**_SER)
def linear_taps(in_size, out_size):
    """PyTorch's 1-D linear taps for ``align_corners=True``: (index0, index1, weight0, weight1), float32 weights."""
    i0 = np.empty(out_size, np.int64)
    i1 = np.empty(out_size, np.int64)
    w0 = np.empty(out_size, np.float32)
    w1 = np.empty(out_size, np.float32)
    if out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(0.0)
    for i in range(out_size):
        real = scale * np.float32(i)
        k = min(int(np.floor(real)), in_size - 1)
        lam = min(max(real - np.float32(k), np.float32(0.0)), np.float32(1.0))
        i0[i] = k
        i1[i] = k + 1 if k < in_size - 1 else k
        w0[i] = np.float32(1.0) - lam
        w1[i] = lam
    return i0, i1, w0, w1


@njit(**_PAR)
def bilinear_resize(src, out_h, out_w):
    """Float32 (H, W, C) -> (out_h, out_w, C), bilinear with ``align_corners=True`` (PyTorch's taps)."""
    h, w, nc = src.shape
    y0, y1, wy0, wy1 = linear_taps(h, out_h)
    x0, x1, wx0, wx1 = linear_taps(w, out_w)
    out = np.empty((out_h, out_w, nc), np.float32)
    for i in prange(out_h):
        for j in range(out_w):
            for c in range(nc):
                top = src[y0[i], x0[j], c] * wx0[j] + src[y0[i], x1[j], c] * wx1[j]
                bot = src[y1[i], x0[j], c] * wx0[j] + src[y1[i], x1[j], c] * wx1[j]
                out[i, j, c] = top * wy0[i] + bot * wy1[i]
    return out


@njit(**_PAR)
def dehaze_resized(img, in_scale, refined, airlight, omega, max_veil, out_h, out_w):
    """:func:`dehaze_full` followed by :func:`bilinear_resize`, evaluated only at the needed taps."""
    h, w = refined.shape
    lut = np.arange(256) / in_scale
    y0, y1, wy0, wy1 = linear_taps(h, out_h)
    x0, x1, wx0, wx1 = linear_taps(w, out_w)
    out = np.empty((out_h, out_w, 3), np.float32)
    for i in prange(out_h):
        num = np.empty(out_w * 12, np.float64)
        den = np.empty(out_w * 12, np.float64)
        jv = np.empty(out_w * 12, np.float32)
        for j in range(out_w):
            for t in range(4):
                yy = y0[i] if t < 2 else y1[i]
                xx = x0[j] if t % 2 == 0 else x1[j]
                veil = min(refined[yy, xx] * omega, max_veil)
                if airlight > 0.0:
                    d = 1.0 - veil / airlight
                else:
                    d = 1.0 if veil == 0.0 else -np.inf
                for c in range(3):
                    q = j * 12 + t * 3 + c
                    num[q] = _unit(img[yy, xx, c], lut, in_scale) - veil
                    den[q] = d
        for q in range(out_w * 12):  # the divisions, branch-free so that they vectorise
            v = num[q] / den[q]
            v = v if v > 0.0 else 0.0  # also maps NaN (0/0) to 0
            v = v if v < 1.0 else 1.0
            jv[q] = np.float32(v)
        for j in range(out_w):
            for c in range(3):
                q = j * 12 + c
                top = jv[q] * wx0[j] + jv[q + 3] * wx1[j]
                bot = jv[q + 6] * wx0[j] + jv[q + 9] * wx1[j]
                out[i, j, c] = top * wy0[i] + bot * wy1[i]
    return out


# --------------------------------------------------------------------------------------------
# 1/4-resolution comparison


@njit(**_PAR)
def masked_gray(warped, frame, valid):
    """Float32 grey pair ``mean_c clamp(warped)``, ``mean_c clamp(frame) * valid`` (clamp to [0, 1]).

    warped: float32 (3, h, w) channels first (the warp's output layout); frame: float32 (h, w, 3);
    valid: float32 (h, w) of 0/1. Rounds like the official float32 tensors: ``((c0 + c1) + c2) / 3``.
    """
    h, w = valid.shape
    gx = np.empty((h, w), np.float32)
    gy = np.empty((h, w), np.float32)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    three = np.float32(3.0)
    for y in prange(h):
        for x in range(w):
            m = valid[y, x]
            r0 = min(max(warped[0, y, x], zero), one)
            r1 = min(max(warped[1, y, x], zero), one)
            r2 = min(max(warped[2, y, x], zero), one)
            gx[y, x] = ((r0 + r1) + r2) / three
            f0 = min(max(frame[y, x, 0], zero), one) * m
            f1 = min(max(frame[y, x, 1], zero), one) * m
            f2 = min(max(frame[y, x, 2], zero), one) * m
            gy[y, x] = ((f0 + f1) + f2) / three
    return gx, gy


@njit(**_PAR)
def block_ssim(gx, gy, block):
    """SSIM of each non-overlapping ``block x block`` tile (rows/cols that do not fill one are dropped).

    Equal to ``skimage.metrics.structural_similarity(tile_x, tile_y, data_range=1)`` (7x7 uniform
    window, sample covariance 49/48, K1 0.01, K2 0.03): the mean over the ``(block - 6)^2`` window
    positions that lie fully inside the tile, here computed in float64. Returns float64 (H // block, W // block).
    """
    h, w = gx.shape
    nby = h // block
    nbx = w // block
    nwin = block - 6
    c1 = 0.01**2
    c2 = 0.03**2
    cov_norm = 49.0 / 48.0
    out = np.empty((nby, nbx), np.float64)
    for t in prange(nby * nbx):
        by = t // nbx
        bx = t - by * nbx
        acc = 0.0
        for a in range(nwin):
            for b in range(nwin):
                y0 = by * block + a
                x0 = bx * block + b
                sx = 0.0
                sy = 0.0
                sxx = 0.0
                syy = 0.0
                sxy = 0.0
                for u in range(7):
                    for v in range(7):
                        p = np.float64(gx[y0 + u, x0 + v])
                        q = np.float64(gy[y0 + u, x0 + v])
                        sx += p
                        sy += q
                        sxx += p * p
                        syy += q * q
                        sxy += p * q
                mx = sx / 49.0
                my = sy / 49.0
                vx = cov_norm * (sxx / 49.0 - mx * mx)
                vy = cov_norm * (syy / 49.0 - my * my)
                vxy = cov_norm * (sxy / 49.0 - mx * my)
                num = (2.0 * mx * my + c1) * (2.0 * vxy + c2)
                den = (mx * mx + my * my + c1) * (vx + vy + c2)
                acc += num / den
        out[by, bx] = acc / (nwin * nwin)
    return out
