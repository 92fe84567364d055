"""Numba kernels of the full-reference metrics of :mod:`benchmarks.metrics.reference` (one thread each).

* CIEDE2000: sRGB -> CIE XYZ -> CIELAB (D65, 2-degree observer) and the CIEDE2000 difference (Sharma, Wu &
  Dalal 2005, ``kL = kC = kH = 1``) with the conventions of ``skimage.color`` (``rgb2lab``,
  ``deltaE_ciede2000``), fused per pixel. Hue angles are in ``[0, 2 pi)``; a hue difference beyond ``pi``
  wraps, and the mean hue then moves by ``pi`` (``+pi`` when ``h1 + h2 < 2 pi``, else ``-pi``); when either
  chroma is 0 the hue difference is 0 and the mean hue is ``h1 + h2``. The transcendental functions are
  branch-free polynomial versions (accurate to a few ulp on the ranges used) so that LLVM vectorises the
  per-pixel loop; per-pixel values agree with skimage to ~1e-12 (floating-point rounding only).
* SSIM: MMEditing's ``_ssim`` (11x11 Gaussian window ``outer(k, k)``, ``k = cv2.getGaussianKernel(11, 1.5)``,
  valid interior only) as one pass over the rows: the separable window applied to ``x, y, x^2, y^2, xy`` of
  all three channels at once, the SSIM map summed per column without materialising it.

Nothing is compiled at import time (``cache=True``: the first call compiles, later processes load the cache).
"""

from __future__ import annotations

import math
from functools import cache

import numba
import numpy as np

__all__ = ["ciede2000_mean", "srgb_to_lab", "ssim_channel_means"]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
# _de00 is inlined at the Numba IR level (too large for LLVM's inliner; a call in the pixel loop would stop
# its vectorisation); the small helpers are inlined by LLVM.
_INLINE = {**_JIT, "inline": "always"}

#: Pixels per chunk of the CIEDE2000 kernels (their per-chunk work buffers stay in cache).
_CHUNK = 512

# ----------------------------------------------------------------------------- constants

_PI = math.pi
_TWO_PI = 2.0 * math.pi
_HALF_PI = 0.5 * math.pi
_QUARTER_PI = 0.25 * math.pi
_TAN_PI_8 = math.tan(math.pi / 8.0)
_RAD2DEG = 180.0 / math.pi
_DEG30 = math.radians(30.0)
_COS30, _SIN30 = math.cos(math.radians(30.0)), math.sin(math.radians(30.0))
_COS6, _SIN6 = math.cos(math.radians(6.0)), math.sin(math.radians(6.0))
_COS63, _SIN63 = math.cos(math.radians(63.0)), math.sin(math.radians(63.0))
_POW25_7 = 25.0**7
_LOG2E = 1.0 / math.log(2.0)
_LN2_HI = 6.93147180369123816490e-01  # ln 2 = _LN2_HI + _LN2_LO, _LN2_HI with trailing zero bits (fdlibm)
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2**52: (x + _ROUND) - _ROUND rounds x to an integer

# sRGB (IEC 61966-2-1) primaries to XYZ, as skimage.color.xyz_from_rgb; D65 / 2-degree white (X, Y, Z).
_M = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
_WHITE = (0.95047, 1.0, 1.08883)
_LAB_EPS = 0.008856  # CIELAB f(t): cbrt(t) above, 7.787 t + 16/116 at or below (skimage's constants)


# ----------------------------------------------------------------------------- scalar math (inlined)


@numba.njit(**_JIT)
def _sqrt(x):  # pragma: no cover - compiled
    # ``x ** 0.5`` becomes llvm.sqrt (vectorisable); math.sqrt is a libm call here, which blocks vectorisation.
    return x**0.5


@numba.njit(**_JIT)
def _atan2_2pi(y, x):  # pragma: no cover - compiled
    """Angle of the vector ``(x, y)`` in ``[0, 2 pi)`` (0 for ``(0, 0)``), within 1e-15 of ``atan2``."""
    ax = abs(x)
    ay = abs(y)
    mx = ax if ax > ay else ay
    mn = ay if ax > ay else ax
    big = mn > _TAN_PI_8 * mx  # ratio in (tan(pi/8), 1]: atan(t) = pi/4 + atan((t - 1) / (t + 1))
    num = mn - mx if big else mn
    den = mn + mx if big else (mx if mx > 0.0 else 1.0)
    u = num / den  # |u| <= tan(pi/8)
    z = u * u
    # atan(u) = u + u z P(z): near-minimax fit (Chebyshev nodes) on z in [0, tan(pi/8)^2], error ~1 ulp
    p = 0.02275052699336167
    p = p * z - 0.04483334622272886
    p = p * z + 0.05736332165907643
    p = p * z - 0.06649613695291669
    p = p * z + 0.0769105515839315
    p = p * z - 0.09090852557176049
    p = p * z + 0.11111109636534361
    p = p * z - 0.1428571426609662
    p = p * z + 0.19999999999898407
    p = p * z - 0.3333333333333325
    r = u + u * z * p
    r = r + _QUARTER_PI if big else r  # angle in [0, pi/4] of (max, min)
    r = _HALF_PI - r if ay > ax else r
    r = _PI - r if x < 0.0 else r
    return _TWO_PI - r if y < 0.0 else r


@numba.njit(**_JIT)
def _sin_hp(x):  # pragma: no cover - compiled
    """``sin(x)`` for ``|x| <= pi/2`` (Taylor series to x^21; truncation < 2e-18)."""
    z = x * x
    p = 1.9572941063391263e-20
    p = p * z - 8.22063524662433e-18
    p = p * z + 2.8114572543455206e-15
    p = p * z - 7.647163731819816e-13
    p = p * z + 1.6059043836821613e-10
    p = p * z - 2.505210838544172e-08
    p = p * z + 2.7557319223985893e-06
    p = p * z - 0.0001984126984126984
    p = p * z + 0.008333333333333333
    p = p * z - 0.16666666666666666
    return x + x * z * p


@numba.njit(**_JIT)
def _cos_hp(x):  # pragma: no cover - compiled
    """``cos(x)`` for ``|x| <= pi/2`` (Taylor series to x^22; truncation < 1e-19)."""
    z = x * x
    p = -8.896791392450574e-22
    p = p * z + 4.110317623312165e-19
    p = p * z - 1.5619206968586225e-16
    p = p * z + 4.779477332387385e-14
    p = p * z - 1.1470745597729725e-11
    p = p * z + 2.08767569878681e-09
    p = p * z - 2.755731922398589e-07
    p = p * z + 2.48015873015873e-05
    p = p * z - 0.001388888888888889
    p = p * z + 0.041666666666666664
    p = p * z - 0.5
    return 1.0 + z * p


@numba.njit(**_JIT)
def _exp_neg(q):  # pragma: no cover - compiled
    """``exp(-q)`` for ``q >= 0``, relative error ~1 ulp; ``q > 40`` is taken as 40 (``exp(-40) < 5e-18``)."""
    q = q if q < 40.0 else 40.0
    n = (q * _LOG2E + _ROUND) - _ROUND  # exp(-q) = 2^-n exp(-r), |r| <= ln(2) / 2
    u = n * _LN2_LO - (q - n * _LN2_HI)  # u = -r
    p = 1.6059043836821613e-10  # Taylor series of exp(u) to u^13 (truncation < 5e-18)
    p = p * u + 2.08767569878681e-09
    p = p * u + 2.505210838544172e-08
    p = p * u + 2.755731922398589e-07
    p = p * u + 2.7557319223985893e-06
    p = p * u + 2.48015873015873e-05
    p = p * u + 0.0001984126984126984
    p = p * u + 0.001388888888888889
    p = p * u + 0.008333333333333333
    p = p * u + 0.041666666666666664
    p = p * u + 0.16666666666666666
    p = p * u + 0.5
    p = p * u + 1.0
    p = p * u + 1.0
    s = 1.0  # 2^-n, n in [0, 58], exactly
    if n >= 32.0:
        s *= 2.3283064365386963e-10
        n -= 32.0
    if n >= 16.0:
        s *= 1.52587890625e-05
        n -= 16.0
    if n >= 8.0:
        s *= 0.00390625
        n -= 8.0
    if n >= 4.0:
        s *= 0.0625
        n -= 4.0
    if n >= 2.0:
        s *= 0.25
        n -= 2.0
    if n >= 1.0:
        s *= 0.5
    return p * s


@numba.njit(**_JIT)
def _cbrt(t):  # pragma: no cover - compiled
    """Cube root for ``t`` in ``[2**-9, 1.1]`` (the CIELAB ``f(t)`` range), within ~1 ulp."""
    lo = t < 0.015625
    mid = t < 0.125
    t2 = t * 64.0 if lo else (t * 8.0 if mid else t)  # now in [1/8, 1.1]; cbrt(8) = 2 exactly
    s = 0.25 if lo else (0.5 if mid else 1.0)
    y = ((0.41663880653647184 * t2 - 1.0888337168929556) * t2 + 1.3153458178525896) * t2 + 0.35836732093022117
    y3 = y * y * y  # cubic fit (1.3% error), then two Halley steps (error cubed each time)
    y = y * (y3 + 2.0 * t2) / (2.0 * y3 + t2)
    y3 = y * y * y
    y = y + y * (t2 - y3) / (2.0 * y3 + t2)
    return y * s


@numba.njit(**_JIT)
def _lab_f(t):  # pragma: no cover - compiled
    return _cbrt(t) if t > _LAB_EPS else 7.787 * t + 16.0 / 116.0


@numba.njit(**_JIT)
def _srgb_linear(v):  # pragma: no cover - compiled
    """sRGB decoding of one value in [0, 1] (skimage ``rgb2xyz``)."""
    return ((v + 0.055) / 1.055) ** 2.4 if v > 0.04045 else v / 12.92


@numba.njit(**_INLINE)
def _de00(l1, a1, b1, l2, a2, b2):  # pragma: no cover - compiled
    """CIEDE2000 of Lab colours 1 and 2 (``kL = kC = kH = 1``), as ``skimage.color.deltaE_ciede2000``."""
    # a' = a (1 + G): G from the mean chroma of the two colours
    cab = 0.5 * (_sqrt(a1 * a1 + b1 * b1) + _sqrt(a2 * a2 + b2 * b2))
    cab2 = cab * cab
    cab7 = cab2 * cab2 * cab2 * cab
    g = 1.0 + 0.5 * (1.0 - _sqrt(cab7 / (cab7 + _POW25_7)))
    ap1 = a1 * g
    ap2 = a2 * g
    c1 = _sqrt(ap1 * ap1 + b1 * b1)
    c2 = _sqrt(ap2 * ap2 + b2 * b2)
    h1 = _atan2_2pi(b1, ap1)
    h2 = _atan2_2pi(b2, ap2)
    # lightness and chroma terms
    lm = 0.5 * (l1 + l2) - 50.0
    lm2 = lm * lm
    l_term = (l2 - l1) / (1.0 + 0.015 * lm2 / _sqrt(20.0 + lm2))
    cm = 0.5 * (c1 + c2)
    c_term = (c2 - c1) / (1.0 + 0.045 * cm)
    # hue difference and mean hue
    hdiff = h2 - h1
    hsum = h1 + h2
    cc = c1 * c2
    achromatic = cc == 0.0  # either chroma 0: no hue difference, mean hue = h1 + h2
    dh = hdiff - _TWO_PI if hdiff > _PI else (hdiff + _TWO_PI if hdiff < -_PI else hdiff)
    dh = 0.0 if achromatic else dh
    hwrap = (hsum + _TWO_PI if hsum < _TWO_PI else hsum - _TWO_PI) if abs(hdiff) > _PI else hsum
    hm = hsum if achromatic else 0.5 * hwrap  # in [0, 2 pi); when achromatic it has no effect (dh_term = 0)
    dh_term = 2.0 * _sqrt(cc) * _sin_hp(0.5 * dh)
    # T(hm) from cos / sin of hm (via the half angle of hm - pi, in [-pi/2, pi/2)) and multiple-angle formulas
    half = 0.5 * (hm - _PI)
    sh = _sin_hp(half)
    ch = _cos_hp(half)
    s1 = -2.0 * sh * ch
    k1 = sh * sh - ch * ch
    k2 = k1 * k1 - s1 * s1
    s2 = 2.0 * s1 * k1
    k3 = k1 * k2 - s1 * s2
    s3 = s1 * k2 + k1 * s2
    k4 = k2 * k2 - s2 * s2
    s4 = 2.0 * s2 * k2
    t = (1.0 - 0.17 * (k1 * _COS30 + s1 * _SIN30) + 0.24 * k2 + 0.32 * (k3 * _COS6 - s3 * _SIN6)
         - 0.20 * (k4 * _COS63 + s4 * _SIN63))
    h_term = dh_term / (1.0 + 0.015 * cm * t)
    # rotation term
    cm2 = cm * cm
    cm7 = cm2 * cm2 * cm2 * cm
    rc = 2.0 * _sqrt(cm7 / (cm7 + _POW25_7))
    q = (hm * _RAD2DEG - 275.0) / 25.0
    dtheta = _DEG30 * _exp_neg(q * q)  # in [0, pi/6]
    r_term = -_sin_hp(2.0 * dtheta) * rc * c_term * h_term
    de2 = l_term * l_term + c_term * c_term + h_term * h_term + r_term
    return _sqrt(de2 if de2 > 0.0 else 0.0)


# ----------------------------------------------------------------------------- CIEDE2000 loops


@numba.njit(**_JIT)
def _linear(v, lut, is_u8):  # pragma: no cover - compiled
    """Linear value of one sRGB sample: uint8 through ``lut``; a float in [0, 1] as skimage gets it from
    ``as_float255(x) / 255``."""
    return lut[np.intp(v)] if is_u8 else _srgb_linear((np.float64(v) * 255.0) / 255.0)


@numba.njit(**_JIT)
def _gather_linear(x, i0, n, lut, is_u8, r, g, b):  # pragma: no cover - compiled
    """Linear RGB of the pixels ``i0 .. i0 + n`` of ``x`` (N, 3) into ``r, g, b``."""
    for j in range(n):
        r[j] = _linear(x[i0 + j, 0], lut, is_u8)
        g[j] = _linear(x[i0 + j, 1], lut, is_u8)
        b[j] = _linear(x[i0 + j, 2], lut, is_u8)


@numba.njit(**_JIT)
def _lab_soa(r, g, b, lab_l, lab_a, lab_b, n):  # pragma: no cover - compiled
    """CIELAB (D65, 2 degrees) of linear RGB ``r, g, b`` (first ``n``), as skimage ``xyz2lab(rgb2xyz(.))``."""
    for j in range(n):
        rr = r[j]
        gg = g[j]
        bb = b[j]
        fx = _lab_f((_M[0][0] * rr + _M[0][1] * gg + _M[0][2] * bb) / _WHITE[0])
        fy = _lab_f((_M[1][0] * rr + _M[1][1] * gg + _M[1][2] * bb) / _WHITE[1])
        fz = _lab_f((_M[2][0] * rr + _M[2][1] * gg + _M[2][2] * bb) / _WHITE[2])
        lab_l[j] = 116.0 * fy - 16.0
        lab_a[j] = 500.0 * (fx - fy)
        lab_b[j] = 200.0 * (fy - fz)


@numba.njit(**_JIT)
def _de00_soa(l1, a1, b1, l2, a2, b2, out, n):  # pragma: no cover - compiled
    for j in range(n):
        out[j] = _de00(l1[j], a1[j], b1[j], l2[j], a2[j], b2[j])


@numba.njit(**_JIT)
def _lab_image(x, lut, is_u8, out):  # pragma: no cover - compiled
    """``out`` (N, 3) float64 = CIELAB of the sRGB pixels ``x`` (N, 3)."""
    npix = x.shape[0]
    buf = np.empty((6, _CHUNK))
    for i0 in range(0, npix, _CHUNK):
        n = min(_CHUNK, npix - i0)
        _gather_linear(x, i0, n, lut, is_u8, buf[0], buf[1], buf[2])
        _lab_soa(buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], n)
        for j in range(n):
            out[i0 + j, 0] = buf[3, j]
            out[i0 + j, 1] = buf[4, j]
            out[i0 + j, 2] = buf[5, j]


@numba.njit(**_JIT)
def _de00_sum(x, x_u8, y, y_u8, y_lab, lut):  # pragma: no cover - compiled
    """Sum over pixels of CIEDE2000(Lab(x), Lab(y)); ``x`` (N, 3) sRGB, ``y`` (N, 3) sRGB or, with ``y_lab``,
    CIELAB already (float64)."""
    npix = x.shape[0]
    buf = np.empty((10, _CHUNK))
    total = 0.0
    for i0 in range(0, npix, _CHUNK):
        n = min(_CHUNK, npix - i0)
        _gather_linear(x, i0, n, lut, x_u8, buf[0], buf[1], buf[2])
        _lab_soa(buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], n)
        if y_lab:
            for j in range(n):
                buf[6, j] = y[i0 + j, 0]
                buf[7, j] = y[i0 + j, 1]
                buf[8, j] = y[i0 + j, 2]
        else:
            _gather_linear(y, i0, n, lut, y_u8, buf[0], buf[1], buf[2])
            _lab_soa(buf[0], buf[1], buf[2], buf[6], buf[7], buf[8], n)
        _de00_soa(buf[3], buf[4], buf[5], buf[6], buf[7], buf[8], buf[9], n)
        s = 0.0
        for j in range(n):
            s += buf[9, j]
        total += s
    return total


@cache
def _linear_lut() -> np.ndarray:
    """sRGB decoding of the 256 uint8 levels ``i / 255`` (skimage ``rgb2xyz``), float64."""
    v = np.arange(256, dtype=np.float64) / 255.0
    lut = v / 12.92
    high = v > 0.04045
    lut[high] = np.power((v[high] + 0.055) / 1.055, 2.4)
    return lut


def _pixels(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """A checked RGB ``(H, W, 3)`` image as contiguous ``(H * W, 3)`` pixels (uint8, or float64) and whether uint8."""
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image).reshape(-1, 3), True
    return np.ascontiguousarray(image, dtype=np.float64).reshape(-1, 3), False


def srgb_to_lab(image: np.ndarray) -> np.ndarray:
    """CIELAB (D65, 2-degree observer) of a checked sRGB image ``(H, W, 3)``, uint8 or float in [0, 1]:
    float64 ``(H, W, 3)``, ``L`` in [0, 100]; ``skimage.color.rgb2lab(as_float255(image) / 255)``."""
    x, u8 = _pixels(image)
    out = np.empty((x.shape[0], 3), dtype=np.float64)
    _lab_image(x, _linear_lut(), u8, out)
    return out.reshape(image.shape)


def ciede2000_mean(pred: np.ndarray, ref: np.ndarray, ref_lab: np.ndarray | None = None) -> float:
    """Mean over pixels of CIEDE2000(Lab(pred), Lab(ref)) for checked sRGB images ``(H, W, 3)`` of the same
    shape (uint8 or float in [0, 1]); ``ref_lab``: :func:`srgb_to_lab` of ``ref`` (float64, same shape), used
    instead of converting ``ref``. ``nan`` for an image without pixels (as ``np.mean``)."""
    x, x_u8 = _pixels(pred)
    if x.shape[0] == 0:
        return float(np.mean(np.zeros(0)))
    if ref_lab is None:
        y, y_u8 = _pixels(ref)
    else:
        y, y_u8 = np.ascontiguousarray(ref_lab, dtype=np.float64).reshape(-1, 3), False
    return float(_de00_sum(x, x_u8, y, y_u8, ref_lab is not None, _linear_lut()) / x.shape[0])


# ----------------------------------------------------------------------------- SSIM


@numba.njit(**_JIT, fastmath={"contract"})
def _ssim_column_sums(x, y, w):  # pragma: no cover - compiled
    """MMEditing SSIM map of ``x``, ``y`` (H, 3 W) -- RGB rows, uint8 or float64 on 0..255 -- summed over the
    rows of the valid interior, per interleaved column: ``(3 (W - 10),)``. ``w``: the 11 symmetric taps."""
    h, k_in = x.shape
    k_out = k_in - 30
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    w0, w1, w2, w3, w4, w5 = w[0], w[1], w[2], w[3], w[4], w[5]
    vx = np.empty(k_in)
    vy = np.empty(k_in)
    vxx = np.empty(k_in)
    vyy = np.empty(k_in)
    vxy = np.empty(k_in)
    total = np.zeros(k_out)
    for i in range(h - 10):
        x0, x1, x2, x3, x4, x5 = x[i], x[i + 1], x[i + 2], x[i + 3], x[i + 4], x[i + 5]
        x6, x7, x8, x9, x10 = x[i + 6], x[i + 7], x[i + 8], x[i + 9], x[i + 10]
        y0, y1, y2, y3, y4, y5 = y[i], y[i + 1], y[i + 2], y[i + 3], y[i + 4], y[i + 5]
        y6, y7, y8, y9, y10 = y[i + 6], y[i + 7], y[i + 8], y[i + 9], y[i + 10]
        # vertical pass: rows i .. i + 10 -> one row of window sums
        for k in range(k_in):
            a0, a1, a2, a3 = np.float64(x0[k]), np.float64(x1[k]), np.float64(x2[k]), np.float64(x3[k])
            a4, a5, a6, a7 = np.float64(x4[k]), np.float64(x5[k]), np.float64(x6[k]), np.float64(x7[k])
            a8, a9, a10 = np.float64(x8[k]), np.float64(x9[k]), np.float64(x10[k])
            b0, b1, b2, b3 = np.float64(y0[k]), np.float64(y1[k]), np.float64(y2[k]), np.float64(y3[k])
            b4, b5, b6, b7 = np.float64(y4[k]), np.float64(y5[k]), np.float64(y6[k]), np.float64(y7[k])
            b8, b9, b10 = np.float64(y8[k]), np.float64(y9[k]), np.float64(y10[k])
            vx[k] = w5 * a5 + w4 * (a4 + a6) + w3 * (a3 + a7) + w2 * (a2 + a8) + w1 * (a1 + a9) + w0 * (a0 + a10)
            vy[k] = w5 * b5 + w4 * (b4 + b6) + w3 * (b3 + b7) + w2 * (b2 + b8) + w1 * (b1 + b9) + w0 * (b0 + b10)
            vxx[k] = (w5 * (a5 * a5) + w4 * (a4 * a4 + a6 * a6) + w3 * (a3 * a3 + a7 * a7) + w2 * (a2 * a2 + a8 * a8)
                      + w1 * (a1 * a1 + a9 * a9) + w0 * (a0 * a0 + a10 * a10))
            vyy[k] = (w5 * (b5 * b5) + w4 * (b4 * b4 + b6 * b6) + w3 * (b3 * b3 + b7 * b7) + w2 * (b2 * b2 + b8 * b8)
                      + w1 * (b1 * b1 + b9 * b9) + w0 * (b0 * b0 + b10 * b10))
            vxy[k] = (w5 * (a5 * b5) + w4 * (a4 * b4 + a6 * b6) + w3 * (a3 * b3 + a7 * b7) + w2 * (a2 * b2 + a8 * b8)
                      + w1 * (a1 * b1 + a9 * b9) + w0 * (a0 * b0 + a10 * b10))
        # horizontal pass (same channel = stride 3) and the SSIM map of this row
        for k in range(k_out):
            mx = (w5 * vx[k + 15] + w4 * (vx[k + 12] + vx[k + 18]) + w3 * (vx[k + 9] + vx[k + 21])
                  + w2 * (vx[k + 6] + vx[k + 24]) + w1 * (vx[k + 3] + vx[k + 27]) + w0 * (vx[k] + vx[k + 30]))
            my = (w5 * vy[k + 15] + w4 * (vy[k + 12] + vy[k + 18]) + w3 * (vy[k + 9] + vy[k + 21])
                  + w2 * (vy[k + 6] + vy[k + 24]) + w1 * (vy[k + 3] + vy[k + 27]) + w0 * (vy[k] + vy[k + 30]))
            mxx = (w5 * vxx[k + 15] + w4 * (vxx[k + 12] + vxx[k + 18]) + w3 * (vxx[k + 9] + vxx[k + 21])
                   + w2 * (vxx[k + 6] + vxx[k + 24]) + w1 * (vxx[k + 3] + vxx[k + 27]) + w0 * (vxx[k] + vxx[k + 30]))
            myy = (w5 * vyy[k + 15] + w4 * (vyy[k + 12] + vyy[k + 18]) + w3 * (vyy[k + 9] + vyy[k + 21])
                   + w2 * (vyy[k + 6] + vyy[k + 24]) + w1 * (vyy[k + 3] + vyy[k + 27]) + w0 * (vyy[k] + vyy[k + 30]))
            mxy = (w5 * vxy[k + 15] + w4 * (vxy[k + 12] + vxy[k + 18]) + w3 * (vxy[k + 9] + vxy[k + 21])
                   + w2 * (vxy[k + 6] + vxy[k + 24]) + w1 * (vxy[k + 3] + vxy[k + 27]) + w0 * (vxy[k] + vxy[k + 30]))
            mx2 = mx * mx
            my2 = my * my
            mxmy = mx * my
            total[k] += (((2.0 * mxmy + c1) * (2.0 * (mxy - mxmy) + c2))
                         / ((mx2 + my2 + c1) * ((mxx - mx2) + (myy - my2) + c2)))
    return total


def ssim_channel_means(x: np.ndarray, y: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Per-channel mean SSIM (MMEditing ``_ssim``) of ``x``, ``y``: RGB ``(H, W, 3)`` with ``H, W > 10``, both
    uint8 or both float64 on the 0..255 scale; ``taps``: the 11 symmetric window taps. Returns ``(3,)``."""
    h, w = x.shape[:2]
    sums = _ssim_column_sums(np.ascontiguousarray(x).reshape(h, 3 * w), np.ascontiguousarray(y).reshape(h, 3 * w),
                             np.ascontiguousarray(taps, dtype=np.float64))
    return sums.reshape(w - 10, 3).sum(axis=0) / ((h - 10) * (w - 10))
