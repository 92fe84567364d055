"""Per-frame smoke score, smoke-onset / pre-smoke (PS) frame detection, and cutting videos into clips.

SelfSVD needs, per clip, a pre-smoke (PS) frame -- the last smoke-free frame before an energy
device fires -- followed by smoky frames. For raw videos we find them from cheap per-frame signals.

The score
---------
Surgical smoke is a whitish veil: ``I = J * t + A * (1 - t)`` with transmission ``t`` in (0, 1] and
a bright, nearly grey airlight ``A``. The veil raises the dark channel (the minimum over RGB, which
is near 0 somewhere in any smoke-free tissue image), desaturates the reddish tissue and lowers its
local contrast; a fresh puff at an instrument tip does all three densely over a small area. Each
frame is scored on a copy downscaled with ``cv2.INTER_AREA`` by integer factors so that its longest
side is at most :data:`SCORE_SIDE` (128) pixels (between 96 and 128 for larger frames; 256x320 ->
85x106, 1080p -> 67x120), with ``x = rgb / 255``:

- ``mx = max_c x``, ``mn = min_c x``, luminance ``L = mean_c x``, saturation
  ``S = (mx - mn) / max(mx, 1e-3)``;
- valid pixels ``P``: not the dark endoscope vignette (``mx >= 0.08``, eroded by a 5x5 box to drop
  its blurred rim) and not a specular highlight (``mn >= 0.90``, dilated by a 5x5 box). When fewer
  than 2% of the pixels are valid, ``P`` is the lit pixels (then every pixel);
- dark channel ``DC = erode_5x5(mn)``, invalid pixels set to 1 first so that they never win;
- ``D`` = mean of the darkest 10% of ``DC`` over ``P`` (the airlight floor that a thin veil lifts);
- ``W = 1 - mean_P(S)``, desaturation;
- ``K = 0.5 / (c + 0.5)``, contrast loss, with ``c = mean_P(|Sobel_x L| + |Sobel_y L|) / mean_P(L)``
  (3x3 Sobel, unscaled; a brightness-free local contrast);
- ``C = mean_P(ramp((DC - 0.3) / 0.3) * ramp((0.5 - S) / 0.3))``, ``ramp(u) = clip(u, 0, 1)``: the
  veil coverage, the fraction of the view under a dense whitish veil (bright dark channel and low
  saturation; dense puffs reach it, reddish tissue does not);
- ``score = 0.25 * D + 0.2 * W + 0.05 * K + 0.5 * C``, in [0, 1], higher = more smoke.

Every term grows with the veil (``1 - t``) whenever the airlight is brighter and greyer than the
tissue, so the score is monotone in veil strength (up to pixels that cross the vignette or
highlight thresholds as the veil lifts them). ``W`` and ``K`` are ratios, untouched by a
global brightness change; ``D`` and ``C`` move with it but stay small in any smoke-free frame (a
bounded change). Absolute values differ between scenes, so detection is relative to each scene's
own smoke-free baseline. :data:`SMOKE_SCORE_VERSION` names this definition.

Two temporal signals come from :func:`scan_frames` (same downscaled copy, one pass):

- emergence ``E_t = mean_{P_t & P_t-1} max(0, DC3_t - dilate_5x5(shift(DC3_t-1)))`` with
  ``DC3 = erode_3x3(mn)``: how much the dark channel rose where nothing that bright was within 2
  pixels in the previous frame, once that frame is moved by the global shift that
  ``cv2.phaseCorrelate`` finds between the luminances (the smaller of the shifted and unshifted
  values is kept). Camera and tissue motion only move bright things, so ``E`` stays near its small
  noise floor; smoke appearing lifts dark tissue in place, so the first puff is a sharp spike even
  when it covers a few percent of the view;
- cut similarity: the normalised cross-correlation of consecutive 32-pixel thumbnails, high-passed
  (minus a Gaussian blur, sigma 4 px) so that the shared vignette and shading do not count, best
  over shifts of up to 2 thumbnail pixels (camera motion); computed for the luminance ``L`` and the
  chroma ``mx - mn``, and the larger of the two is kept. A uniform veil and a brightness change are
  affine in intensity and leave both unchanged; a dense puff adds bright edges to ``L`` but only
  dims the chroma (``t * chroma``); a new scene drops both. A cut is a similarity below 0.72,
  unless at least half of the 4x4 tiles of the (high-passed, sigma 3 px) downscaled luminance are
  found in the previous frame within 3 px (correlation > 0.6): then the change is local (a large
  dense puff, an instrument) and the view is the same. Across synthetic cuts no tile matched.

Detection
---------
A video is split into shots at hard cuts (e.g. :attr:`FrameScan.cuts`); within a shot the first
frame is assumed smoke-free. The baseline is the median score of the last ``baseline_window``
smoke-free frames, carried forward along their robust slope (a slow drift from camera motion or
lighting is not smoke); the noise is the robust spread of their frame-to-frame changes. A frame
``t`` is the onset when either

1. (with emergence) ``E_t`` exceeds ``max(emergence_floor, emergence_factor * median E)`` of the
   baseline frames, and the score then stays up: the median of the scores of frames
   ``t .. t + confirm_frames - 1`` exceeds the baseline by ``max(confirm_rise,
   confirm_noise_factor * noise)``; or
2. (the score alone) ``persist`` consecutive scores exceed the baseline by ``max(rise,
   noise_factor * noise)``; the onset is then moved back over the preceding frames above
   ``max(rise_back, noise_factor_back * noise)`` (smoke starts faint).

Frames that trigger neither but look suspicious (an unconfirmed spike, a short blip from motion)
stay out of the baseline. The frame before the onset is the PS frame. After an event the smoke has
to clear (``clear_frames`` frames back under the threshold) before the next PS frame can be found;
a cut starts afresh.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "SCORE_SIDE",
    "SMOKE_SCORE_VERSION",
    "DetectionParams",
    "FrameScan",
    "SmokeEvent",
    "detect_cuts",
    "detect_events",
    "detect_onset",
    "scan_frames",
    "smoke_score",
    "smoke_scores",
]

log = logging.getLogger(__name__)

SMOKE_SCORE_VERSION = "veil-d10-sat-contrast-cover/2"
"""The score's definition (formula, constants, downscale size); bump whenever any of them changes.
The emergence and cut signals of :func:`scan_frames` are versioned with it."""

SCORE_SIDE = 128
"""Longest side (pixels) of the downscaled copy that the score is computed on."""

_VIGNETTE_MAX = 0.08
_SPECULAR_MIN = 0.90
_MIN_VALID_FRACTION = 0.02
_DARK_FRACTION = 0.10  # D = mean of the darkest 10% of the dark channel
_CONTRAST_C0 = 0.5
_COVER_DARK = (0.3, 0.6)  # dark-channel ramp of the veil coverage
_COVER_SAT = (0.2, 0.5)  # saturation ramp of the veil coverage (1 at S <= 0.2, 0 at S >= 0.5)
_WEIGHTS = (0.25, 0.2, 0.05, 0.5)  # dark channel, desaturation, contrast loss, veil coverage
_THUMB_SIDE = 32
_THUMB_SIGMA = 4.0  # high-pass of the cut thumbnail: drops the vignette and shading, keeps structure
_THUMB_SHIFT = 2  # motion search of the cut similarity (thumbnail pixels)
_CUT_THRESHOLD = 0.72
_TILES = 4  # cut candidates: 4x4 tiles of the downscaled luminance ...
_TILE_SIGMA = 3.0  # ... high-passed ...
_TILE_SHIFT = 3  # ... searched within 3 px ...
_TILE_NCC = 0.6  # ... a tile matches above this correlation ...
_TILE_KEEP = 0.5  # ... and when half of them match, the candidate is not a cut
_K3 = np.ones((3, 3), np.uint8)
_K5 = np.ones((5, 5), np.uint8)


# --------------------------------------------------------------------------------------------------
# Per-frame signals


def _check_frame(rgb: object, where: str = "frame") -> np.ndarray:
    if not isinstance(rgb, np.ndarray):
        raise ValueError(f"{where}: expected a numpy uint8 RGB array (H, W, 3), got {type(rgb).__name__}")
    if rgb.dtype != np.uint8:
        raise ValueError(
            f"{where}: expected dtype uint8 (RGB in 0..255), got {rgb.dtype}; "
            "convert with (x * 255).round().clip(0, 255).astype(np.uint8) if it is float in [0, 1]"
        )
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"{where}: expected shape (H, W, 3) with H, W >= 1, got {rgb.shape}")
    return rgb


def _downscale(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 (h, w, 3) in [0, 1], longest side in (96, 128] (or unchanged if <= 128).

    Exact 2x ``INTER_AREA`` halvings while the longest side is >= 512, then one ``INTER_AREA``
    reduction by the integer factor ``ceil(side / 128)``; at most ``factor - 1`` edge rows/columns
    are dropped so that every reduction is an exact box average (OpenCV's fast path).
    """
    src = rgb
    while max(src.shape[:2]) >= 4 * SCORE_SIDE and min(src.shape[:2]) >= 2:
        h, w = src.shape[:2]
        src = cv2.resize(src[: h - h % 2, : w - w % 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    h, w = src.shape[:2]
    factor = -(-max(h, w) // SCORE_SIDE)
    if factor > 1 and min(h, w) >= factor:
        src = src[: h - h % factor, : w - w % factor]
        src = cv2.resize(src, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    elif factor > 1:  # degenerate strip: plain area resize
        size = (max(1, round(w / factor)), max(1, round(h / factor)))
        src = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
    return src.astype(np.float32) * np.float32(1.0 / 255.0)


@dataclass
class _Maps:
    """What the temporal signals need from one downscaled frame."""

    dark3: np.ndarray  # float32 (h, w): erode_3x3(mn), invalid pixels = 1
    valid: np.ndarray  # bool (h, w)
    thumbs: tuple[np.ndarray, np.ndarray]  # float32 (th, tw): high-passed luminance and chroma thumbnails
    lum: np.ndarray  # float32 (h, w): luminance, for the tile check of cut candidates


def _analyse(x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The score of a downscaled float frame (see the module docstring), with the masked minimum
    channel (invalid pixels = 1), the valid mask, the luminance and the chroma, for the temporal
    signals."""
    r, g, b = cv2.split(x)
    mx = cv2.max(cv2.max(r, g), b)
    mn = cv2.min(cv2.min(r, g), b)
    lit = cv2.erode((mx >= _VIGNETTE_MAX).view(np.uint8), _K5).view(bool)
    specular = cv2.dilate((mn >= _SPECULAR_MIN).view(np.uint8), _K5).view(bool)
    valid = lit & ~specular
    if np.count_nonzero(valid) < _MIN_VALID_FRACTION * mx.size:
        valid = lit if np.count_nonzero(lit) >= _MIN_VALID_FRACTION * mx.size else np.ones_like(lit)

    masked_mn = np.where(valid, mn, np.float32(1.0))
    dark = cv2.erode(masked_mn, _K5)[valid]
    n_low = max(1, int(round(_DARK_FRACTION * dark.size)))
    d_term = float(np.partition(dark, n_low - 1)[:n_low].mean())

    sat = (mx - mn)[valid] / np.maximum(mx[valid], np.float32(1e-3))
    w_term = 1.0 - float(sat.mean())

    lum = (r + g + b) * np.float32(1.0 / 3.0)
    grad = np.abs(cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3))
    grad += np.abs(cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3))
    contrast = float(grad[valid].mean()) / max(float(lum[valid].mean()), 1e-3)
    k_term = _CONTRAST_C0 / (contrast + _CONTRAST_C0)

    (d0, d1), (s0, s1) = _COVER_DARK, _COVER_SAT
    bright = np.clip((dark - d0) * np.float32(1.0 / (d1 - d0)), 0.0, 1.0)
    grey = np.clip((s1 - sat) * np.float32(1.0 / (s1 - s0)), 0.0, 1.0)
    c_term = float((bright * grey).mean())

    wd, ww, wk, wc = _WEIGHTS
    score = float(min(1.0, max(0.0, wd * d_term + ww * w_term + wk * k_term + wc * c_term)))
    return score, masked_mn, valid, lum, mx - mn


def _thumbnail(plane: np.ndarray) -> np.ndarray:
    """High-passed thumbnail (float32, longest side <= 32) of one plane, for cut detection."""
    h, w = plane.shape
    scale = min(1.0, _THUMB_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    thumb = cv2.resize(plane, size, interpolation=cv2.INTER_AREA)
    return thumb - cv2.GaussianBlur(thumb, (0, 0), _THUMB_SIGMA)


def _similarity(cur: np.ndarray, prev: np.ndarray) -> float:
    """Best normalised cross-correlation of ``cur`` with the centre of ``prev`` over shifts of up to
    2 thumbnail pixels (camera motion of ~6% of the view per frame), in [-1, 1]."""
    m = _THUMB_SHIFT
    tpl = prev[m:-m, m:-m] if min(prev.shape) > 2 * m + 2 else prev
    flat_cur, flat_tpl = float(cur.std()) < 1e-6, float(tpl.std()) < 1e-6
    if flat_cur or flat_tpl:
        return 1.0 if flat_cur and flat_tpl else 0.0
    ncc = cv2.matchTemplate(cur, tpl, cv2.TM_CCOEFF_NORMED)
    return float(np.clip(np.nan_to_num(ncc, nan=0.0).max(), -1.0, 1.0))


def _tiles_match(cur: np.ndarray, prev: np.ndarray) -> float:
    """Fraction of the 4x4 tiles of ``cur`` (high-passed luminance) found in ``prev`` within 3 px
    with a normalised cross-correlation above 0.6; textureless tiles are left out (0 if all are)."""
    a = cur - cv2.GaussianBlur(cur, (0, 0), _TILE_SIGMA)
    b = prev - cv2.GaussianBlur(prev, (0, 0), _TILE_SIGMA)
    h, w = a.shape
    th, tw, m = h // _TILES, w // _TILES, _TILE_SHIFT
    if th < 4 or tw < 4 or b.shape != a.shape:
        return 0.0
    good = total = 0
    for i in range(_TILES):
        for j in range(_TILES):
            tile = a[i * th : (i + 1) * th, j * tw : (j + 1) * tw]
            area = b[max(0, i * th - m) : (i + 1) * th + m, max(0, j * tw - m) : (j + 1) * tw + m]
            if float(tile.std()) < 1e-4 or float(area.std()) < 1e-4:
                continue
            total += 1
            ncc = cv2.matchTemplate(area, tile, cv2.TM_CCOEFF_NORMED)
            good += float(np.nan_to_num(ncc, nan=0.0).max()) > _TILE_NCC
    return good / total if total else 0.0


def _emergence(cur: _Maps, prev: _Maps) -> float:
    """Mean rise of the dark channel not explained by motion (see the module docstring)."""
    both = cur.valid & prev.valid
    if not both.any():
        return 0.0
    rise = cur.dark3 - cv2.dilate(prev.dark3, _K5)
    still = float(np.maximum(rise[both], 0.0).mean())
    h, w = cur.lum.shape
    if min(h, w) < 8:
        return still
    (dx, dy), _ = cv2.phaseCorrelate(prev.lum, cur.lum, _hanning(h, w))
    dx, dy = int(round(dx)), int(round(dy))
    if (dx == 0 and dy == 0) or abs(dx) >= w // 2 or abs(dy) >= h // 2:
        return still
    moved = np.ones_like(prev.dark3)  # uncovered border: 1, never a rise
    moved[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = prev.dark3[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    rise = cur.dark3 - cv2.dilate(moved, _K5)
    return min(still, float(np.maximum(rise[both], 0.0).mean()))


@functools.lru_cache(maxsize=8)
def _hanning(h: int, w: int) -> np.ndarray:
    return cv2.createHanningWindow((w, h), cv2.CV_32F)


def smoke_score(rgb: np.ndarray) -> float:
    """Smoke score of one frame.

    ``rgb``: uint8 RGB array of shape (H, W, 3). Returns a float in [0, 1], higher = more smoke,
    as defined in the module docstring (version :data:`SMOKE_SCORE_VERSION`). Raises
    ``ValueError`` on a wrong type, dtype or shape.
    """
    return _analyse(_downscale(_check_frame(rgb)))[0]


def _iter_frames(frames: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    if isinstance(frames, np.ndarray) and frames.ndim != 4:
        raise ValueError(
            "frames: expected a uint8 array (T, H, W, 3) or an iterable of (H, W, 3) frames, "
            f"got an array of shape {frames.shape}"
        )
    for i, rgb in enumerate(frames):
        yield _check_frame(rgb, where=f"frame {i}")


_NO_FRAMES = "frames: expected at least one frame, got none; check that the video decodes"


def smoke_scores(frames: Iterable[np.ndarray]) -> np.ndarray:
    """Smoke scores of a sequence of frames.

    ``frames``: uint8 array (T, H, W, 3) or any iterable of uint8 (H, W, 3) RGB frames (e.g. a
    decoder). Returns float32 (T,) in [0, 1]. Raises ``ValueError`` on a bad frame or no frames.
    """
    out = np.fromiter((_analyse(_downscale(f))[0] for f in _iter_frames(frames)), np.float32)
    if out.size == 0:
        raise ValueError(_NO_FRAMES)
    return out


@dataclass(frozen=True)
class FrameScan:
    """One pass over a video: smoke scores, emergence, cut similarity and hard cuts.

    - ``scores``: float32 (T,) in [0, 1], as :func:`smoke_scores`;
    - ``emergence``: float32 (T,) in [0, 1], the rise of the dark channel from frame t-1 to t not
      explained by small motion (0 at frame 0 and at cuts);
    - ``similarity``: float32 (T,) in [-1, 1], thumbnail similarity of frame t with frame t-1
      (1 at frame 0; raised to ``cut_threshold`` where the tile check finds the same view);
    - ``cuts``: int64 (K,), sorted frame indices that start a new shot, never 0.

    Pass ``scores``, ``cuts`` and ``emergence`` to :func:`detect_events`.
    """

    scores: np.ndarray
    emergence: np.ndarray
    similarity: np.ndarray
    cuts: np.ndarray


def scan_frames(frames: Iterable[np.ndarray], *, cut_threshold: float = _CUT_THRESHOLD) -> FrameScan:
    """Score every frame, and compute emergence and hard cuts, in one pass (one downscale per frame).

    ``frames``: uint8 (T, H, W, 3) or an iterable of uint8 (H, W, 3) RGB frames. A frame starts a new
    shot when its thumbnail similarity with the previous frame is below ``cut_threshold`` (in
    [-1, 1]). 0.72 suits 25-60 fps video: on H.264 synthetic videos and fast-panning test scenes,
    frames of one shot (camera motion, sudden dense puffs) stayed above 0.82 and cuts below 0.62.
    At a few frames per second, motion alone can fall below it. All frames must have the same size.
    """
    if not -1.0 <= cut_threshold <= 1.0:
        raise ValueError(f"cut_threshold: expected a value in [-1, 1], got {cut_threshold}")
    scores: list[float] = []
    emergence: list[float] = []
    sims: list[float] = []
    prev: _Maps | None = None
    first_shape: tuple[int, ...] | None = None
    for i, rgb in enumerate(_iter_frames(frames)):
        if first_shape is None:
            first_shape = rgb.shape
        elif rgb.shape != first_shape:
            raise ValueError(f"frame {i}: expected the size of frame 0 {first_shape}, got {rgb.shape}")
        score, masked_mn, valid, lum, chroma = _analyse(_downscale(rgb))
        maps = _Maps(cv2.erode(masked_mn, _K3), valid, (_thumbnail(lum), _thumbnail(chroma)), lum)
        scores.append(score)
        if prev is None:
            sims.append(1.0)
            emergence.append(0.0)
        else:
            sim = max(_similarity(cur, old) for cur, old in zip(maps.thumbs, prev.thumbs, strict=True))
            if sim < cut_threshold and _tiles_match(maps.lum, prev.lum) >= _TILE_KEEP:
                sim = cut_threshold  # most of the view is unchanged: a local change (a puff), not a cut
            sims.append(sim)
            emergence.append(_emergence(maps, prev) if sim >= cut_threshold else 0.0)
        prev = maps
    if not scores:
        raise ValueError(_NO_FRAMES)
    similarity = np.asarray(sims, dtype=np.float32)
    return FrameScan(
        scores=np.asarray(scores, dtype=np.float32),
        emergence=np.asarray(emergence, dtype=np.float32),
        similarity=similarity,
        cuts=np.flatnonzero(similarity < cut_threshold).astype(np.int64),
    )


def detect_cuts(frames: Iterable[np.ndarray], *, cut_threshold: float = _CUT_THRESHOLD) -> np.ndarray:
    """Hard cuts only: int64 (K,) frame indices that start a new shot (see :func:`scan_frames`)."""
    return scan_frames(frames, cut_threshold=cut_threshold).cuts


# --------------------------------------------------------------------------------------------------
# Detection


@dataclass(frozen=True)
class SmokeEvent:
    """One detected smoke event and the clip cut for it.

    The clip is frames ``[ps_index, end_index)``: ``ps_index`` is the PS frame (smoke-free, the last
    such frame before the onset), ``onset_index = ps_index + 1`` the first smoky frame, and
    ``end_index`` the exclusive end.
    """

    ps_index: int
    onset_index: int
    end_index: int

    @property
    def n_frames(self) -> int:
        """Length of the clip ``[ps_index, end_index)``."""
        return self.end_index - self.ps_index


@dataclass(frozen=True)
class DetectionParams:
    """Thresholds and windows of the onset detector (scores in [0, 1]; windows in frames).

    Score level (always used):

    - ``rise``: smallest rise of the score over the baseline that counts as smoke (absolute floor);
      the threshold is ``max(rise, noise_factor * noise)``, ``noise`` being the robust spread
      (1.4826 * MAD / sqrt(2)) of frame-to-frame score changes over the baseline frames, used once
      ``min_noise_frames + 1`` baseline frames exist.
    - ``persist``: consecutive frames above that threshold that confirm an onset (fewer at the very
      end of a shot, but at least 2).
    - ``rise_back`` / ``noise_factor_back``: the lower threshold that moves a confirmed onset back
      over the faint first smoky frames.
    - ``baseline_window``: the baseline is the median score of this many latest smoke-free frames.
    - ``clear_frames``: consecutive frames back under the threshold that end a smoke event.
    - ``max_ps_score``: a frame whose score is above this is never smoke-free (1.0: no such check).

    Emergence (used when :func:`detect_onset` / :func:`detect_events` get ``emergence``):

    - ``emergence_floor`` / ``emergence_factor``: a spike is ``E_t > max(emergence_floor,
      emergence_factor * median E)`` over the baseline frames (6e-4: e.g. 1% of the view whitened
      by 0.06).
    - ``confirm_frames`` / ``confirm_rise`` / ``confirm_noise_factor``: the spike is the onset when
      the median score of it and the next ``confirm_frames - 1`` frames is above the baseline by
      ``max(confirm_rise, confirm_noise_factor * noise)``.
    """

    rise: float = 0.01
    noise_factor: float = 5.0
    rise_back: float = 0.005
    noise_factor_back: float = 2.5
    baseline_window: int = 8
    min_noise_frames: int = 4
    persist: int = 4
    clear_frames: int = 5
    max_ps_score: float = 1.0
    emergence_floor: float = 6e-4
    emergence_factor: float = 6.0
    confirm_frames: int = 3
    confirm_rise: float = 0.003
    confirm_noise_factor: float = 2.5

    def validate(self) -> None:
        """Raise ``ValueError`` listing every out-of-range field."""
        problems = []
        for name in ("rise", "rise_back", "max_ps_score", "emergence_floor", "confirm_rise"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name}={value} (expected in [0, 1])")
        for name in ("noise_factor", "noise_factor_back", "emergence_factor", "confirm_noise_factor"):
            if not getattr(self, name) >= 0.0:
                problems.append(f"{name}={getattr(self, name)} (expected >= 0)")
        for name in ("baseline_window", "min_noise_frames", "persist", "clear_frames", "confirm_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                problems.append(f"{name}={value!r} (expected an int >= 1)")
        if self.rise_back > self.rise:
            problems.append(f"rise_back={self.rise_back} > rise={self.rise} (expected rise_back <= rise)")
        if problems:
            raise ValueError("DetectionParams: " + "; ".join(problems))


def _check_signal(values: object, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array (T,), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected at least one value, got an empty array")
    if n is not None and arr.size != n:
        raise ValueError(f"{name}: expected one value per frame ({n}, like scores), got {arr.size}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(
            f"{name}: expected finite values, found NaN/inf at {bad.size} frame(s) "
            f"(first: {bad[:5].tolist()}); re-score those frames or drop them"
        )
    return arr


class _Baseline:
    """The latest smoke-free frames of one shot: their scores and emergence values."""

    def __init__(self, params: DetectionParams) -> None:
        self.p = params
        self.scores: list[float] = []
        self.emergence: list[float] = []
        self._keep = max(params.baseline_window, params.min_noise_frames) + 1

    def add(self, score: float, emergence: float | None) -> None:
        self.scores.append(score)
        if emergence is not None:
            self.emergence.append(emergence)
        if len(self.scores) > 4 * self._keep:  # bounded memory on long shots
            del self.scores[: -self._keep]
            del self.emergence[: -4 * self._keep]

    def __len__(self) -> int:
        return len(self.scores)

    def level_noise(self) -> tuple[float, float]:
        """Baseline level carried forward to the next frame, and the noise (see the module docstring)."""
        window = np.asarray(self.scores[-self.p.baseline_window :])
        level = float(np.median(window))
        recent = np.asarray(self.scores[-self._keep :])
        if recent.size < self.p.min_noise_frames + 1:
            return level, 0.0
        diffs = np.diff(recent)
        slope = float(np.median(diffs))
        noise = float(1.4826 * np.median(np.abs(diffs - slope)) / np.sqrt(2.0))
        return level + slope * ((window.size - 1) / 2.0 + 1.0), noise

    def thresholds(self) -> tuple[float, float]:
        """(onset threshold, back-tracking threshold) on the score of the next frame."""
        level, noise = self.level_noise()
        return (
            level + max(self.p.rise, self.p.noise_factor * noise),
            level + max(self.p.rise_back, self.p.noise_factor_back * noise),
        )

    def emergence_threshold(self) -> float:
        median = float(np.median(self.emergence)) if self.emergence else 0.0
        return max(self.p.emergence_floor, self.p.emergence_factor * median)


def _find_onset(
    s: np.ndarray,
    e: np.ndarray | None,
    start: int,
    stop: int,
    min_onset: int,
    base: _Baseline,
    p: DetectionParams,
) -> int | None:
    """First confirmed onset in ``s[start:stop]``, or ``None``.

    ``base`` holds the smoke-free frames seen so far and is fed on the way. The onset is never
    before ``min_onset``: its PS frame ``onset - 1`` must be a frame of the same shot.
    """
    for t in range(start, stop):
        e_t = None if e is None or t < min_onset else float(e[t])
        if not base:
            if s[t] <= p.max_ps_score:
                base.add(float(s[t]), None)
                min_onset = max(min_onset, t + 1)
            continue
        level, noise = base.level_noise()
        if e_t is not None and e_t > base.emergence_threshold():
            window = s[t : min(t + p.confirm_frames, stop)]
            if float(np.median(window)) - level > max(p.confirm_rise, p.confirm_noise_factor * noise):
                if s[t - 1] <= p.max_ps_score:
                    return t
            continue  # an unconfirmed spike (an instrument, a flash): not smoke, not baseline either
        high, low = base.thresholds()
        if s[t] <= high:
            if s[t] <= p.max_ps_score:
                base.add(float(s[t]), e_t)
            continue
        # `persist` frames above the threshold (fewer at the very end of the shot, but at least 2),
        # else a short blip (camera or instrument motion): not smoke, not baseline either.
        window = s[t : min(t + p.persist, stop)]
        if window.size < min(p.persist, 2) or not bool(np.all(window > high)):
            continue
        onset = t
        while onset - 1 >= min_onset and s[onset - 1] > low:
            onset -= 1
        return onset if s[onset - 1] <= p.max_ps_score else None
    return None


def detect_onset(
    scores: np.ndarray,
    params: DetectionParams = DetectionParams(),
    *,
    emergence: np.ndarray | None = None,
) -> int | None:
    """Index of the first smoky frame of one clip whose frame 0 is smoke-free, or ``None``.

    ``scores``: (T,) real, finite, e.g. from :func:`smoke_scores`. ``emergence``: optional (T,), from
    :func:`scan_frames`; with it, onsets are located by their emergence spike (more precise for
    small puffs), without it by the score alone. The result is >= 1 (frame 0 is the PS frame at the
    latest). Raises ``ValueError`` on bad inputs or parameters.
    """
    s = _check_signal(scores, "scores")
    e = None if emergence is None else _check_signal(emergence, "emergence", s.size)
    params.validate()
    return _find_onset(s, e, 0, s.size, 1, _Baseline(params), params)


def _shots(n: int, cuts: Sequence[int] | np.ndarray | None) -> list[tuple[int, int]]:
    if cuts is None:
        return [(0, n)]
    c = np.asarray(cuts)
    if c.ndim != 1 or (c.size and not np.issubdtype(c.dtype, np.integer)):
        raise ValueError(f"cuts: expected a 1-D sequence of int frame indices, got shape {c.shape} dtype {c.dtype}")
    bad = c[(c < 0) | (c > n)]
    if bad.size:
        raise ValueError(f"cuts: expected indices in [0, {n}], found {bad[:5].tolist()}")
    bounds = sorted({0, n, *(int(v) for v in c)})
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def detect_events(
    scores: np.ndarray,
    params: DetectionParams = DetectionParams(),
    *,
    min_frames: int = 10,
    max_frames: int = 100,
    cuts: Sequence[int] | np.ndarray | None = None,
    emergence: np.ndarray | None = None,
) -> list[SmokeEvent]:
    """Smoke events of a long video, each cut into a clip ``[ps_index, end_index)``.

    ``scores``: (T,) real, finite (e.g. :attr:`FrameScan.scores`). ``cuts``: frame indices where a new
    shot starts (e.g. :attr:`FrameScan.cuts`); clips never cross them and the baseline restarts at
    each. Without them, a cut that raises the score looks like smoke. ``emergence``: optional (T,)
    (:attr:`FrameScan.emergence`), for precise onsets (see :func:`detect_onset`).

    Every clip starts at its smoke-free PS frame, holds ``min_frames`` to ``max_frames`` frames and
    ends when the smoke clears (``clear_frames`` frames back at the baseline), at ``max_frames`` or
    at the shot's end, whichever comes first (extended to ``min_frames`` within the shot if the
    smoke clears sooner). Events whose shot leaves fewer than ``min_frames`` frames from the PS
    frame are dropped (logged). Clips do not overlap and are returned in order.
    """
    s = _check_signal(scores, "scores")
    e = None if emergence is None else _check_signal(emergence, "emergence", s.size)
    params.validate()
    if not (isinstance(min_frames, int) and isinstance(max_frames, int) and 2 <= min_frames <= max_frames):
        raise ValueError(
            f"min_frames/max_frames: expected ints with 2 <= min_frames <= max_frames, got {min_frames}, {max_frames}"
        )
    events: list[SmokeEvent] = []
    for shot_start, shot_end in _shots(s.size, cuts):
        events.extend(_shot_events(s, e, shot_start, shot_end, params, min_frames, max_frames))
    return events


def _shot_events(
    s: np.ndarray,
    e: np.ndarray | None,
    shot_start: int,
    shot_end: int,
    p: DetectionParams,
    min_frames: int,
    max_frames: int,
) -> list[SmokeEvent]:
    """The events of one shot ``s[shot_start:shot_end]`` (see :func:`detect_events`)."""
    events: list[SmokeEvent] = []
    base = _Baseline(p)
    t, min_onset = shot_start, shot_start + 1
    while t < shot_end:
        onset = _find_onset(s, e, t, shot_end, min_onset, base, p)
        if onset is None:
            break
        ps = onset - 1
        high, _ = base.thresholds()
        limit = min(ps + max_frames, shot_end)
        # The event lasts until `clear_frames` consecutive frames are back under the threshold.
        end, calm = limit, 0
        for u in range(onset + 1, limit):
            calm = calm + 1 if s[u] <= high else 0
            if calm >= p.clear_frames:
                end = u - p.clear_frames + 1
                break
        end = max(end, min(ps + min_frames, shot_end))
        if end - ps >= min_frames:
            events.append(SmokeEvent(ps_index=int(ps), onset_index=int(onset), end_index=int(end)))
        else:
            log.info("smoke onset at frame %d dropped: only %d frame(s) left in its shot", onset, end - ps)
        # The next PS frame can only come once the smoke has cleared: `clear_frames` consecutive
        # frames back under the old threshold, which then form the new baseline.
        base = _Baseline(p)
        t, run_start = end, None
        while t < shot_end and len(base) < p.clear_frames:
            if s[t] <= high and s[t] <= p.max_ps_score:
                run_start = t if run_start is None else run_start
                base.add(float(s[t]), None if e is None or t == run_start else float(e[t]))
            else:
                run_start, base = None, _Baseline(p)
            t += 1
        if run_start is None or len(base) < p.clear_frames:
            break
        min_onset = run_start + 1
    return events
