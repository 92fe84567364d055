"""Synthetic mini-LSVD: deterministic laparoscopy-like clips with known clean frames and smoke density.

Each clip is rendered from its own RNG, ``np.random.default_rng([config.seed, split_id, index])``
(``split_id``: train 0, test 1), so a clip's bytes do not depend on the other clips or counts:
a larger tissue scene (multi-octave pink/red texture, folds, branching vessels, fat, connective
strands, blood) seen through a slowly moving camera (sub-pixel translation, zoom, roll) with a
smooth time-varying deformation, wet specular highlights, one or two shaded metal instruments
pivoting about their trocars, and the endoscope light's vignette. From the onset frame on, smoke
is emitted at the tip of the energy instrument (instrument 0): advected, growing, thinning
Gaussian puffs, domain-warped and modulated by fractal noise. Smoke is composed with the
atmospheric scattering model ``I = J * t + A * (1 - t)``, ``t = exp(-beta * density)``.

:func:`generate` writes the official LSVD layout (``LSVD_<split>/<clip>/{:08d}.png``, frame 0 the
smoke-free PS frame) plus ``LSVD_<split>_clean`` and ``LSVD_<split>_density`` (16-bit PNG) folders,
a contact sheet and ``synthetic.json`` (written last). Runs are incremental and atomic per clip.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from lsvd.constants import LSVD_CLEAN_DIR, LSVD_DENSITY_DIR, LSVD_SPLIT_DIR
from lsvd.io.atomic import TMP_PREFIX, atomic_dir, write_bytes, write_json
from lsvd.io.images import encode_png, read_gray, read_rgb, write_png

logger = logging.getLogger(__name__)

GENERATOR_NAME = "lsvd.data.synthetic"
GENERATOR_VERSION = "1.0.0"  # bump whenever the bytes written for a given config change
MANIFEST_NAME = "synthetic.json"
PARTIAL_MANIFEST_NAME = ".synthetic.partial.json"  # clips finished by an unfinished run
CONTACT_SHEET_NAME = "contact_sheet.png"
FRAME_TEMPLATE = "{:08d}.png"
SPLITS: tuple[str, ...] = ("train", "test")
DENSITY_SCALE = 65535
DENSITY_ENCODING = "16-bit grayscale PNG; density = value / 65535, in [0, 1]"

_SPLIT_IDS = {"train": 0, "test": 1}
_CLIP_NAME_RE = re.compile(r"^synth_(train|test)_(\d{3,})$")


def split_folders(split: str) -> dict[str, str]:
    """Folder names (under the output root) of a split: ``smoky``, ``clean`` and ``density``."""
    return {"smoky": LSVD_SPLIT_DIR.format(split=split), "clean": LSVD_CLEAN_DIR.format(split=split),
            "density": LSVD_DENSITY_DIR.format(split=split)}


def clip_name(split: str, index: int) -> str:
    """The name of clip ``index`` of ``split``, e.g. ``synth_test_003``."""
    return f"synth_{split}_{index:03d}"


# --------------------------------------------------------------------------------------------
# Configuration and metadata


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate: clip counts, clip length, frame size, seed and smoke-onset range.

    The onset frame of each clip is drawn uniformly in ``[onset_min, onset_max]``. A config is
    validated on construction (:meth:`validate`), so an invalid one never reaches the renderer.
    """

    n_train: int = 8
    n_test: int = 4
    n_frames: int = 30
    height: int = 256
    width: int = 320
    seed: int = 0
    onset_min: int = 3
    onset_max: int = 8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.integer):
                object.__setattr__(self, f.name, int(value))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` listing every problem with this config (all at once)."""
        problems: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append(f"{f.name} must be an int, got {value!r} ({type(value).__name__})")
        if problems:
            raise ValueError("invalid SyntheticConfig: " + "; ".join(problems))
        if self.n_train < 0 or self.n_test < 0 or self.n_train + self.n_test < 1:
            problems.append(
                f"n_train and n_test must be >= 0 with at least one clip, got n_train={self.n_train}, "
                f"n_test={self.n_test}"
            )
        if self.n_frames < 10:
            problems.append(f"n_frames must be >= 10, got {self.n_frames}")
        for name in ("height", "width"):
            value = getattr(self, name)
            if value < 32 or value % 4:
                problems.append(f"{name} must be a multiple of 4 and >= 32, got {value}")
        if self.seed < 0:
            problems.append(f"seed must be >= 0, got {self.seed}")
        if self.onset_min < 1:
            problems.append(f"onset_min must be >= 1 (frame 0 is the smoke-free PS frame), got {self.onset_min}")
        if self.onset_max < self.onset_min:
            problems.append(f"onset_max ({self.onset_max}) must be >= onset_min ({self.onset_min})")
        if self.onset_max >= self.n_frames - 1:
            problems.append(
                f"onset_max must be < n_frames - 1 = {self.n_frames - 1} so that smoke can spread, "
                f"got {self.onset_max}; lower onset_max or raise n_frames"
            )
        if problems:
            raise ValueError("invalid SyntheticConfig: " + "; ".join(problems))

    def n_clips(self, split: str) -> int:
        """Number of clips in ``split`` (``"train"`` or ``"test"``)."""
        _check_split(split)
        return self.n_train if split == "train" else self.n_test


PRESETS: dict[str, SyntheticConfig] = {
    "default": SyntheticConfig(),
    "tiny": SyntheticConfig(n_train=2, n_test=2, n_frames=12, height=64, width=96),
}


@dataclass(frozen=True)
class SyntheticClip:
    """Metadata of one synthetic clip.

    ``onset_index`` is the first frame with smoke (density > 0 somewhere); frames before it are
    smoke-free (smoky == clean). ``beta`` and ``airlight`` (RGB in [0, 1]) are the scattering
    parameters. ``seed`` is ``SeedSequence([config.seed, split_id, index]).generate_state(1)[0]``,
    a single integer naming the entropy of the clip's RNG.
    """

    name: str
    split: str
    n_frames: int
    onset_index: int
    beta: float
    airlight: tuple[float, float, float]
    seed: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SyntheticClip:
        """Rebuild a clip from its ``asdict`` form (e.g. an entry of ``synthetic.json``'s ``clips``)."""
        return cls(
            name=str(d["name"]),
            split=str(d["split"]),
            n_frames=int(d["n_frames"]),
            onset_index=int(d["onset_index"]),
            beta=float(d["beta"]),
            airlight=tuple(float(a) for a in d["airlight"]),  # type: ignore[arg-type]
            seed=int(d["seed"]),
        )


def _check_split(split: str) -> None:
    if split not in _SPLIT_IDS:
        raise ValueError(f"split must be one of {list(_SPLIT_IDS)}, got {split!r}")


# --------------------------------------------------------------------------------------------
# Rendering helpers (all vectorised; every random draw comes from the clip's generator)


def _fractal(
    rng: np.random.Generator, shape: tuple[int, int], cells: float, octaves: int, persistence: float = 0.5
) -> np.ndarray:
    """Isotropic multi-octave noise of ``shape`` (float32), standardised to mean 0 and std 1.

    White noise filtered in the Fourier domain by a sum of Gaussian low-passes: octave ``o`` has
    features about ``height / (cells * 2**o)`` pixels across and weight ``persistence**o``. Unlike
    grid-interpolated value noise it has no axis-aligned artefacts, even in derivatives (bump
    shading, specular highlights). The field is periodic.
    """
    h, w = shape
    white = rng.standard_normal(shape)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f2 = fx * fx + fy * fy
    spectrum = np.zeros(f2.shape)
    for o in range(octaves):
        sigma = 0.4 * h / (cells * 2**o)  # spatial std of the octave's Gaussian, pixels
        band = np.exp(-2.0 * np.pi**2 * sigma**2 * f2)
        spectrum += persistence**o * band / np.sqrt((band * band).mean())
    out = np.fft.irfft2(np.fft.rfft2(white) * spectrum, s=shape).astype(np.float32)
    out -= out.mean()
    out /= out.std() + 1e-6
    return out


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class _Wave:
    """A smooth 1-D trajectory: a sum of sinusoids in time (frames)."""

    amp: np.ndarray
    freq: np.ndarray
    phase: np.ndarray

    def __call__(self, t: float | np.ndarray) -> np.ndarray:
        t = np.asarray(t, np.float64)[..., None]
        return (self.amp * np.sin(2.0 * np.pi * self.freq * t + self.phase)).sum(-1)


def _wave(rng: np.random.Generator, amplitude: float, fmin: float, fmax: float, k: int = 2) -> _Wave:
    w = rng.uniform(0.4, 1.0, k)
    return _Wave(
        amp=amplitude * w / w.sum(),
        freq=rng.uniform(fmin, fmax, k),
        phase=rng.uniform(0.0, 2.0 * np.pi, k),
    )


def _draw_vessels(rng: np.random.Generator, hs: int, ws: int, s: float) -> np.ndarray:
    """Branching vessel mask ``(hs, ws)`` float32 in [0, 1], drawn antialiased at 2x then reduced."""
    import cv2

    canvas = np.zeros((2 * hs, 2 * ws), np.uint8)
    step = 0.022 * s
    stack: list[tuple[float, float, float, float, int, int]] = []
    for _ in range(int(rng.integers(2, 6))):
        x, y = rng.uniform(0, ws), rng.uniform(0, hs)
        width = rng.uniform(0.008, 0.022) * s
        stack.append((x, y, rng.uniform(0, 2 * np.pi), width, int(rng.integers(18, 45)), 0))
    while stack:
        x, y, ang, width, n_steps, depth = stack.pop()
        for _ in range(n_steps):
            ang += rng.normal(0.0, 0.2)
            nx, ny = x + step * math.cos(ang), y + step * math.sin(ang)
            p0 = (int(round(32 * x)), int(round(32 * y)))
            p1 = (int(round(32 * nx)), int(round(32 * ny)))
            cv2.line(canvas, p0, p1, 255, max(1, int(round(2.0 * width))), cv2.LINE_AA, 4)
            x, y = nx, ny
            width *= 0.985
            if depth < 3 and rng.random() < 0.09:
                side = 1.0 if rng.random() < 0.5 else -1.0
                branch = ang + side * rng.uniform(0.5, 1.1)
                stack.append((x, y, branch, width * 0.6, int(rng.integers(8, 25)), depth + 1))
    return cv2.resize(canvas, (ws, hs), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _render_scene(rng: np.random.Generator, hs: int, ws: int, s: float) -> np.ndarray:
    """Tissue scene ``(hs, ws, 6)`` float32: diffuse-lit RGB in [0, 1], surface normal x and y, wetness.

    Specular highlights are computed per frame from the normals (light at the lens), so they
    slide over the tissue as the camera moves, as real wet glints do.
    """
    import cv2

    shape = (hs, ws)
    fold = _fractal(rng, shape, 1.6, 3, 0.45)
    tint = _fractal(rng, shape, 3.0, 5, 0.5)
    fine = _fractal(rng, shape, 18.0, 3, 0.55)
    bumps = _fractal(rng, shape, 7.0, 2, 0.5)
    fat_n = _fractal(rng, shape, 2.5, 4, 0.5)
    lobule = _fractal(rng, shape, 14.0, 2, 0.5)
    strand_n = _fractal(rng, shape, 3.0, 3, 0.5)
    strand_region = _fractal(rng, shape, 1.5, 2, 0.5)
    blood_n = _fractal(rng, shape, 2.5, 3, 0.5)
    wet_n = _fractal(rng, shape, 3.0, 3, 0.5)

    # Palette from deep red to pale pink, shifted per clip.
    stops = np.array([0.0, 0.3, 0.55, 0.8, 1.0])
    colours = np.array(
        [[0.45, 0.07, 0.07], [0.70, 0.20, 0.18], [0.85, 0.42, 0.38], [0.93, 0.62, 0.57], [0.97, 0.80, 0.76]]
    )
    colours = np.clip(colours * rng.uniform(0.95, 1.04, 3), 0, 1)
    v = np.clip(0.6 + rng.uniform(-0.1, 0.2) + 0.17 * tint + 0.1 * fold + 0.035 * fine, 0.0, 1.0)
    col = np.stack([np.interp(v, stops, colours[:, c]) for c in range(3)], axis=-1).astype(np.float32)

    # Creases between organ lobes: dark red lines along a zero set of the fold field.
    crease = np.exp(-(((fold - rng.uniform(-0.6, 0.6)) / 0.07) ** 2))
    crease = cv2.GaussianBlur(crease, (0, 0), 0.004 * s + 0.5)

    # Yellow fat lobules.
    fat_t = rng.uniform(0.9, 1.7)
    fat = 0.9 * _smoothstep(fat_t, fat_t + 0.8, fat_n + 0.25 * lobule)
    lob = np.clip(0.5 + 0.25 * lobule, 0, 1)[..., None]
    fat_col = np.array([0.97, 0.86, 0.52], np.float32) * (0.8 + 0.2 * lob) + np.array(
        [0.0, -0.08, -0.12], np.float32
    ) * (1 - lob)
    col = col * (1 - fat[..., None]) + fat_col * fat[..., None]

    # Whitish connective-tissue strands (ridged noise) in some regions.
    strands = np.clip(1.0 - np.abs(strand_n) / 0.2, 0, 1) ** 2 * _smoothstep(0.0, 1.2, strand_region)
    strands = (0.5 * strands)[..., None]
    col = col * (1 - strands) + np.array([0.97, 0.88, 0.85], np.float32) * strands

    # Dark blood pooled in low regions.
    blood = _smoothstep(1.2, 2.0, blood_n) * _smoothstep(0.3, -0.7, fold) * rng.uniform(0.5, 0.95)
    col = col * (1 - blood[..., None]) + np.array([0.38, 0.02, 0.03], np.float32) * blood[..., None]

    # Vessels under the serosa: a sharp core and a soft halo.
    vessels = _draw_vessels(rng, hs, ws, s)
    halo = cv2.GaussianBlur(vessels, (0, 0), 0.006 * s + 0.5)
    core = cv2.GaussianBlur(vessels, (0, 0), 0.5)
    vessel_col = np.array([0.55, 0.07, 0.09], np.float32)
    col = col * (1 - 0.35 * halo[..., None]) + vessel_col * 0.35 * halo[..., None]
    col = col * (1 - 0.6 * core[..., None]) + vessel_col * 0.75 * 0.6 * core[..., None]
    col = col * (1 - 0.5 * crease[..., None]) + np.array([0.3, 0.03, 0.04], np.float32) * 0.5 * crease[..., None]

    # Relief: organ folds, fine bumps, lobulated fat, raised vessels, sunken creases.
    height = (
        0.06 * s * fold
        + 0.012 * s * bumps
        + 0.003 * s * fine
        + 0.008 * s * fat * lobule
        + 0.004 * s * core
        - 0.01 * s * crease
    ).astype(np.float32)
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    inv = 1.0 / np.sqrt(1.0 + gx * gx + gy * gy)
    nx, ny, nz = -gx * inv, -gy * inv, inv
    light = np.array([-0.2, -0.3, 1.0])
    light /= np.linalg.norm(light)
    diffuse = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
    depth = 0.62 + 0.38 / (1 + np.exp(-1.5 * fold))
    col *= ((0.35 + 0.65 * diffuse**1.5) * (depth * (1 - 0.5 * fat) + 0.5 * fat))[..., None]
    wet = np.clip(0.6 + 0.4 * wet_n, 0, 1) * (1 - 0.3 * fat) * (1 - 0.4 * crease) + 0.5 * blood
    return np.concatenate(
        [np.clip(col, 0, 1), nx[..., None], ny[..., None], np.clip(wet, 0, 1)[..., None]], axis=-1
    ).astype(np.float32)


@dataclass(frozen=True)
class _Instrument:
    """A straight instrument pivoting about its trocar; the tip follows a smooth wobble."""

    pivot: np.ndarray  # (2,) trocar position in frame pixels (outside the frame)
    tip0: np.ndarray  # (2,) mean tip position
    wobble_x: _Wave
    wobble_y: _Wave
    radius: float  # shaft radius near the tip (pixels)
    taper: float  # radius growth per pixel towards the trocar
    tip_len: float
    collar_len: float
    hook: bool  # energy hook instead of grasper jaws
    metal: np.ndarray  # (3,) base colour

    def tip(self, t: float) -> np.ndarray:
        """Tip position ``(2,)`` (x, y pixels) at time ``t`` (frames, may be fractional)."""
        return self.tip0 + np.array([float(self.wobble_x(t)), float(self.wobble_y(t))])


def _make_instrument(rng: np.random.Generator, h: int, w: int, s: float, angle: float, hook: bool) -> _Instrument:
    centre = np.array([w / 2.0, h / 2.0])
    direction = np.array([math.cos(angle), math.sin(angle)])
    half_diag = 0.5 * math.hypot(h, w)
    pivot = centre + direction * half_diag * rng.uniform(1.5, 2.2)
    normal = np.array([-direction[1], direction[0]])
    tip0 = centre + direction * rng.uniform(-0.05, 0.3) * half_diag + normal * rng.normal(0, 0.08) * s
    tip0 = np.clip(tip0, [0.25 * w, 0.25 * h], [0.75 * w, 0.75 * h])
    return _Instrument(
        pivot=pivot,
        tip0=tip0,
        wobble_x=_wave(rng, 0.06 * s, 0.015, 0.06),
        wobble_y=_wave(rng, 0.06 * s, 0.015, 0.06),
        radius=rng.uniform(0.045, 0.07) * s,
        taper=rng.uniform(0.001, 0.002),
        tip_len=rng.uniform(0.09, 0.13) * s,
        collar_len=rng.uniform(0.05, 0.1) * s,
        hook=hook,
        metal=np.array([0.62, 0.64, 0.67]) * rng.uniform(0.9, 1.1),
    )


def _capsule(
    xs: np.ndarray,
    ys: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    ra: float,
    rb: float,
    colour: np.ndarray,
    gloss: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Shade a tapered cylinder with rounded ends from ``a`` to ``b`` at pixel centres ``xs, ys``.

    Returns coverage alpha ``(h, w)`` in [0, 1] and straight (not premultiplied) RGB ``(h, w, 3)``.
    """
    ax_, ay_ = float(b[0] - a[0]), float(b[1] - a[1])
    length = math.hypot(ax_, ay_) + 1e-6
    ax_, ay_ = ax_ / length, ay_ / length
    px, py = xs - float(a[0]), ys - float(a[1])
    u = px * ax_ + py * ay_
    v = py * ax_ - px * ay_
    uc = np.clip(u, 0.0, length)
    r = ra + (rb - ra) / length * uc
    du = u - uc
    dist = np.sqrt(du * du + v * v)
    alpha = np.clip(r - dist + 0.5, 0.0, 1.0)
    nv = np.clip(v / r, -1.0, 1.0)
    nu = np.clip(du / r, -1.0, 1.0)
    nz = np.sqrt(np.clip(1.0 - nv * nv - nu * nu, 0.0, 1.0))
    # The light sits next to the lens: brightest where the surface faces the camera.
    stripe = np.exp(-(((nv + 0.3) / 0.13) ** 2)) + 0.35 * np.exp(-(((nv - 0.45) / 0.2) ** 2))
    shade = 0.1 + 0.9 * nz**1.4
    rgb = colour.astype(np.float32) * shade[..., None] + (gloss * stripe * nz)[..., None]
    return alpha, rgb


def _render_instrument(inst: _Instrument, t: float, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coverage ``(h, w)`` and premultiplied colour ``(h, w, 3)`` of an instrument at time ``t``."""
    h, w = xs.shape
    tip = inst.tip(t)
    axis = inst.pivot - tip
    axis /= np.linalg.norm(axis)
    normal = np.array([-axis[1], axis[0]])
    r0 = inst.radius
    far = 2.0 * float(np.linalg.norm(inst.pivot - tip))
    collar_start = tip + axis * inst.tip_len
    shaft_start = collar_start + axis * inst.collar_len
    dark = np.array([0.08, 0.08, 0.09])
    parts = [
        (
            shaft_start,
            tip + axis * far,
            r0 * (1 + inst.taper * inst.tip_len),
            r0 * (1 + inst.taper * far),
            inst.metal,
            0.55,
        ),
        (collar_start, shaft_start, r0, r0 * (1 + inst.taper * inst.tip_len), dark, 0.3),
    ]
    if inst.hook:  # L-shaped monopolar hook on a thin insulated rod
        rod_r = 0.22 * r0
        end = tip - normal * 0.9 * r0
        parts += [
            (tip, collar_start, rod_r, 0.75 * r0, inst.metal * 1.1, 0.6),
            (end, tip, 0.85 * rod_r, rod_r, inst.metal * 1.1, 0.6),
        ]
    else:  # grasper: two jaws
        gap = 0.3 * r0
        for side in (-1.0, 1.0):
            jaw_tip = tip + normal * side * gap
            parts.append((jaw_tip, collar_start + normal * side * 0.32 * r0, 0.3 * r0, 0.6 * r0, inst.metal, 0.6))
    alpha = np.zeros((h, w), np.float32)
    prem = np.zeros((h, w, 3), np.float32)
    for a, b, ra, rb, colour, gloss in parts:
        rmax = max(ra, rb) + 2.0
        x0 = max(0, int(math.floor(min(a[0], b[0]) - rmax)))
        x1 = min(w, int(math.ceil(max(a[0], b[0]) + rmax)) + 1)
        y0 = max(0, int(math.floor(min(a[1], b[1]) - rmax)))
        y1 = min(h, int(math.ceil(max(a[1], b[1]) + rmax)) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        pa, rgb = _capsule(xs[y0:y1, x0:x1], ys[y0:y1, x0:x1], a, b, ra, rb, colour, gloss)
        pa3 = pa[..., None]
        prem[y0:y1, x0:x1] = rgb * pa3 + prem[y0:y1, x0:x1] * (1 - pa3)
        alpha[y0:y1, x0:x1] = pa + alpha[y0:y1, x0:x1] * (1 - pa)
    return alpha, prem


@dataclass(frozen=True)
class _Puffs:
    """Smoke puffs: birth time, origin, velocity, sway, shape and strength (one entry per puff)."""

    birth: np.ndarray
    origin: np.ndarray  # (P, 2)
    vel: np.ndarray  # (P, 2) pixels per frame
    sway_amp: np.ndarray
    sway_freq: np.ndarray
    sway_phase: np.ndarray
    sigma0: np.ndarray
    growth: np.ndarray
    elong: np.ndarray  # (P, 2) x and y stretch of the Gaussian
    amp: np.ndarray
    tau: float
    buoyancy: float


def _make_puffs(rng: np.random.Generator, onset: int, n_frames: int, s: float, emitter: _Instrument) -> _Puffs:
    """Puffs emitted at the energy tip: a burst born in ``[onset - 0.9, onset)`` (a visible puff at
    the onset frame and none before it), then 4 per frame until emission stops (6+ frames later)."""
    per_frame = 4
    duration = int(rng.integers(6, n_frames + 1))
    burst = 10
    birth = np.concatenate(
        [
            onset - 0.9 + 0.9 * np.arange(burst) / burst,
            onset
            + (np.arange(per_frame * (n_frames - onset)) + rng.uniform(0, 1, per_frame * (n_frames - onset)))
            / per_frame,
        ]
    )
    birth = birth[birth <= min(onset + duration, n_frames - 1)]
    n = birth.size
    strength = 1.0 + 0.35 * np.sin(2 * np.pi * rng.uniform(0.05, 0.15) * birth + rng.uniform(0, 2 * np.pi))
    amp = rng.uniform(0.8, 1.4) * strength * rng.uniform(0.7, 1.3, n)
    amp[:burst] *= 0.6
    origin = np.stack([emitter.tip(b) for b in birth]) + rng.normal(0, 0.01 * s, (n, 2))
    drift = np.array([rng.uniform(-0.012, 0.012), -rng.uniform(0.014, 0.028)]) * s
    vel = drift * rng.uniform(0.7, 1.3, (n, 1)) + rng.normal(0, 0.006 * s, (n, 2))
    return _Puffs(
        birth=birth,
        origin=origin,
        vel=vel,
        sway_amp=rng.uniform(0.0, 0.05, n) * s,
        sway_freq=rng.uniform(0.03, 0.1, n),
        sway_phase=rng.uniform(0, 2 * np.pi, n),
        sigma0=rng.uniform(0.025, 0.04, n) * s * np.where(np.arange(n) < burst, 1.3, 1.0),
        growth=rng.uniform(0.008, 0.016, n) * s,
        elong=np.stack([rng.uniform(0.8, 1.4, n), rng.uniform(0.9, 1.6, n)], axis=1),
        amp=amp,
        tau=float(rng.uniform(8.0, 20.0)),
        buoyancy=float(rng.uniform(0.0, 0.001)) * s,
    )


def _puff_field(p: _Puffs, t: float, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the anisotropic Gaussian puffs alive at time ``t`` and the same sum weighted by youth.

    Returns two ``(h, w)`` float32 fields >= 0. Each Gaussian is separable, so both sums come from
    one matrix product ``Gy.T @ [amp * Gx, amp * youth * Gx]``.
    """
    alive = p.birth <= t
    if not alive.any():
        return np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    age = t - p.birth[alive]
    sigma = p.sigma0[alive] + p.growth[alive] * age
    pos = p.origin[alive] + p.vel[alive] * age[:, None]
    pos[:, 0] += p.sway_amp[alive] * np.sin(2 * np.pi * p.sway_freq[alive] * age + p.sway_phase[alive])
    pos[:, 1] -= 0.5 * p.buoyancy * age**2
    amp = p.amp[alive] * (p.sigma0[alive] / sigma) ** 1.5 * np.exp(-age / p.tau)
    sx = sigma * p.elong[alive, 0]
    sy = sigma * p.elong[alive, 1]
    x = np.arange(w, dtype=np.float32)
    y = np.arange(h, dtype=np.float32)
    gx = np.exp(-0.5 * ((x[None, :] - pos[:, :1].astype(np.float32)) / sx[:, None].astype(np.float32)) ** 2)
    gy = np.exp(-0.5 * ((y[None, :] - pos[:, 1:].astype(np.float32)) / sy[:, None].astype(np.float32)) ** 2)
    weighted = amp[:, None].astype(np.float32) * gx
    youth = np.exp(-age / 2.0).astype(np.float32)[:, None]
    both = gy.T @ np.concatenate([weighted, youth * weighted], axis=1)
    return both[:, :w], both[:, w:]


def _clip_seed(config: SyntheticConfig, split: str, index: int) -> int:
    return int(np.random.SeedSequence([config.seed, _SPLIT_IDS[split], index]).generate_state(1)[0])


def render_clip(
    config: SyntheticConfig, split: str, index: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, SyntheticClip]:
    """Render clip ``index`` of ``split``; pure and deterministic.

    Returns the smoky frames ``uint8 (T, H, W, 3)`` RGB, the clean frames ``uint8 (T, H, W, 3)``,
    the smoke density ``float32 (T, H, W)`` in [0, 1] (already quantised to the 16-bit PNG
    encoding, ``value / 65535``) and the clip's metadata. Frames before ``onset_index`` have
    density exactly 0 and smoky == clean; otherwise
    ``smoky = round(clean * t + 255 * airlight * (1 - t))``, ``t = exp(-beta * density)``.
    """
    import cv2

    config.validate()
    _check_split(split)
    n_split = config.n_clips(split)
    if not 0 <= index < n_split:
        raise ValueError(f"index must be in [0, {n_split}) for split {split!r} of this config, got {index}")
    rng = np.random.default_rng([config.seed, _SPLIT_IDS[split], index])
    n, h, w = config.n_frames, config.height, config.width
    s = float(min(h, w))

    # Per-clip parameters (fixed draw order: changing it changes the bytes; bump the version).
    onset = int(rng.integers(config.onset_min, config.onset_max + 1))
    beta = round(float(rng.uniform(1.0, 2.6)), 4)
    base = rng.uniform(0.85, 0.95)
    airlight = tuple(
        round(float(np.clip(base + d, 0.0, 1.0)), 4)
        for d in (rng.uniform(-0.01, 0.03), rng.uniform(-0.02, 0.02), rng.uniform(-0.03, 0.02))
    )
    gain = rng.uniform(0.92, 1.08)

    margin = int(math.ceil(0.16 * max(h, w)))
    hs, ws = h + 2 * margin, w + 2 * margin
    scene = _render_scene(rng, hs, ws, s)

    cam_x = _wave(rng, 0.07 * s, 0.01, 0.04)
    cam_y = _wave(rng, 0.06 * s, 0.01, 0.04)
    cam_zoom = _wave(rng, 0.035, 0.01, 0.04)
    cam_roll = _wave(rng, math.radians(2.0), 0.01, 0.04)
    deform = [_fractal(rng, (h, w), 1.5, 2) for _ in range(4)]
    deform_amp = 0.008 * s
    deform_w = _wave(rng, 1.0, 0.03, 0.08, k=4)

    # Specular highlights: Blinn-Phong with the light at the lens (half vector = view vector).
    focal = 1.1 * max(h, w)
    shininess = rng.uniform(40.0, 80.0)
    spec_gain = rng.uniform(0.8, 1.1)

    # Instruments: the first one is the energy device that emits the smoke.
    n_inst = int(rng.integers(1, 3))
    angle0 = rng.uniform(-0.15, 1.15) * np.pi  # the energy device enters from below or the sides
    angles = [angle0, angle0 + rng.uniform(0.6, 1.4) * np.pi]
    instruments = [_make_instrument(rng, h, w, s, angles[i], hook=(i == 0)) for i in range(n_inst)]

    puffs = _make_puffs(rng, onset, n, s, instruments[0])
    rise = float(-puffs.vel[:, 1].mean()) if puffs.birth.size else 0.02 * s
    pad = int(math.ceil(rise * n + 4 * deform_amp)) + 8
    warp_x = _fractal(rng, (h + pad, w), 3.0, 4, 0.7)
    warp_y = _fractal(rng, (h + pad, w), 3.0, 4, 0.7)
    wisp_a = _fractal(rng, (h + pad, w), 4.0, 5, 0.62)
    wisp_b = _fractal(rng, (h + pad, w), 7.0, 4, 0.6)
    warp_amp = 0.035 * s

    # Fixed per-clip fields.
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xc, yc = xs - w / 2.0, ys - h / 2.0
    view_norm = (1.0 / np.sqrt(1.0 + (xc * xc + yc * yc) / focal**2)).astype(np.float32)
    vig_centre = rng.normal(0, 0.04, 2) * s
    r = np.hypot(xc - vig_centre[0], yc - vig_centre[1]) / (0.5 * max(h, w))
    ring = rng.uniform(1.12, 1.3)
    vignette = (np.clip(1.0 - 0.42 * r**2.2, 0.0, 1.0) * (1.0 - _smoothstep(ring - 0.18, ring, r))) * 0.96 + 0.04
    vignette = (vignette * gain).astype(np.float32)[..., None]

    clean = np.empty((n, h, w, 3), np.uint8)
    smoky = np.empty((n, h, w, 3), np.uint8)
    density = np.zeros((n, h, w), np.float32)
    air255 = 255.0 * np.asarray(airlight, np.float32)
    for f in range(n):
        # Camera + deformation: frame pixel -> scene pixel.
        zoom = 1.0 + float(cam_zoom(f))
        roll = float(cam_roll(f))
        cx, cy = ws / 2.0 + float(cam_x(f)), hs / 2.0 + float(cam_y(f))
        c, sn = zoom * math.cos(roll), zoom * math.sin(roll)
        wv = [float(x) for x in deform_w.amp * np.sin(2 * np.pi * deform_w.freq * f + deform_w.phase)]
        dx = deform_amp * (wv[0] * deform[0] + wv[1] * deform[1])
        dy = deform_amp * (wv[2] * deform[2] + wv[3] * deform[3])
        map_x = (cx + c * xc - sn * yc + dx).astype(np.float32)
        map_y = (cy + sn * xc + c * yc + dy).astype(np.float32)
        img = cv2.remap(scene, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

        # Wet glints from the remapped normals, seen from the pixel's view direction.
        vx, vy = -xc / focal, -yc / focal
        nx, ny, wet = img[..., 3], img[..., 4], img[..., 5]
        nz = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
        ndotv = np.clip((nx * vx + ny * vy + nz) * view_norm, 0.0, 1.0)
        sheen = ndotv**shininess
        spec = np.minimum(spec_gain * wet * (0.3 * sheen + sheen**4), 1.0)
        rgb = img[..., :3]
        rgb += spec[..., None] * (1.0 - rgb)

        # Instruments with a soft contact shadow.
        covers = [_render_instrument(inst, float(f), xs, ys) for inst in instruments]
        occ = 1.0 - np.prod([1.0 - a for a, _ in covers], axis=0)
        shadow = cv2.GaussianBlur(occ, (0, 0), 0.03 * s)
        shadow = cv2.warpAffine(
            shadow, np.float32([[1, 0, 0.02 * s], [0, 1, 0.03 * s]]), (w, h), borderMode=cv2.BORDER_REPLICATE
        )
        rgb *= (1.0 - 0.45 * shadow)[..., None]
        for a, prem in covers:
            rgb = rgb * (1.0 - a[..., None]) + prem

        clean_f = np.rint(np.clip(rgb * vignette, 0.0, 1.0) * 255.0).astype(np.uint8)
        clean[f] = clean_f
        if f < onset:
            smoky[f] = clean_f
            continue

        # Smoke density: saturated puffs, domain-warped and modulated by scrolling fractal noise.
        age = f - onset
        off = rise * age
        row = int(off)
        wxf = warp_amp * warp_x[row : row + h]
        wyf = warp_amp * warp_y[row : row + h]
        total, young = _puff_field(puffs, float(f), h, w)
        fields2 = np.stack([1.0 - np.exp(-total), young / (total + 1e-6)], axis=-1)
        fields2 = cv2.remap(fields2, xs + wxf, ys + wyf, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        field, youth = fields2[..., 0], np.clip(fields2[..., 1], 0.0, 1.0)
        wa = cv2.remap(wisp_a, xs + 1.5 * wxf, ys + off + 1.5 * wyf, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        wb = cv2.remap(wisp_b, xs - wyf, ys + 0.55 * off + wxf, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        wisp = np.clip(0.5 + 0.4 * wa + 0.2 * wb, 0.0, 1.0)
        modulation = np.minimum(0.3 + 0.85 * wisp**1.5, 1.0)
        modulation += (1.0 - modulation) * youth * 0.6  # fresh smoke is dense, older smoke wispy
        dens = np.clip(field * modulation * (0.7 + 0.3 * field), 0.0, 1.0)
        dens = np.rint(dens * DENSITY_SCALE).astype(np.float32) / DENSITY_SCALE
        density[f] = dens
        trans = np.exp(-beta * dens)[..., None]
        smoky[f] = np.clip(np.rint(clean_f * trans + air255 * (1.0 - trans)), 0, 255).astype(np.uint8)

    if not density[onset].any():  # cannot happen: the onset burst is emitted inside the frame
        raise RuntimeError(f"internal error: no smoke at the onset frame of {clip_name(split, index)}")
    clip = SyntheticClip(
        name=clip_name(split, index),
        split=split,
        n_frames=n,
        onset_index=onset,
        beta=beta,
        airlight=airlight,  # type: ignore[arg-type]
        seed=_clip_seed(config, split, index),
    )
    return smoky, clean, density, clip


# --------------------------------------------------------------------------------------------
# Writing the dataset


def _render_key(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The config fields that affect a clip's bytes (the clip counts do not)."""
    if not isinstance(config, dict):
        return None
    return {k: v for k, v in config.items() if k not in ("n_train", "n_test")}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("generator") == GENERATOR_NAME else None


def _clip_complete(out: Path, clip: SyntheticClip) -> bool:
    """True when the clip's three folders hold exactly frames ``0 .. n_frames-1``, none empty."""
    expected = {FRAME_TEMPLATE.format(i) for i in range(clip.n_frames)}
    for folder in split_folders(clip.split).values():
        d = out / folder / clip.name
        try:
            entries = {e.name: e for e in os.scandir(d)}
        except OSError:
            return False
        if set(entries) != expected or any(e.stat().st_size == 0 for e in entries.values()):
            return False
    return True


def _manifest(config: SyntheticConfig, clips: Sequence[SyntheticClip]) -> dict[str, Any]:
    return {
        "generator": GENERATOR_NAME,
        "version": GENERATOR_VERSION,
        "config": asdict(config),
        "density_encoding": DENSITY_ENCODING,
        "clips": [asdict(c) for c in clips],
    }


def _write_clip(
    out: Path, smoky: np.ndarray, clean: np.ndarray, density: np.ndarray, clip: SyntheticClip
) -> SyntheticClip:
    """Write one clip's three folders (each atomically) and return its metadata."""
    folders = split_folders(clip.split)
    d16 = np.rint(density * DENSITY_SCALE).astype(np.uint16)
    for kind, frames in (("smoky", smoky), ("clean", clean), ("density", d16)):
        with atomic_dir(out / folders[kind] / clip.name) as tmp:
            for i, frame in enumerate(frames):
                write_png(tmp / FRAME_TEMPLATE.format(i), frame)
    return clip


def _remove_clip(out: Path, name: str) -> None:
    for split in SPLITS:
        for folder in split_folders(split).values():
            shutil.rmtree(out / folder / name, ignore_errors=True)


def _remove_stale_tmp(out: Path) -> None:
    """Remove temporary clip folders left by a killed run (ours only: ``.tmp-synth_*``)."""
    for split in SPLITS:
        for folder in split_folders(split).values():
            d = out / folder
            if d.is_dir():
                for entry in d.iterdir():
                    if entry.name.startswith((TMP_PREFIX + "synth_", TMP_PREFIX + "old-synth_")) and entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)


def generate(out_dir: str | os.PathLike[str], config: SyntheticConfig, *, progress: bool = True) -> list[SyntheticClip]:
    """Write the synthetic dataset for ``config`` under ``out_dir``; return the clips (train, then test).

    Layout: ``LSVD_<split>/<clip>/{:08d}.png`` (smoky; frame 0 the smoke-free PS frame),
    ``LSVD_<split>_clean/...`` (clean frames), ``LSVD_<split>_density/...`` (16-bit PNG, density =
    value / 65535), ``contact_sheet.png`` and ``synthetic.json`` (written last). Each clip folder is
    written atomically. Incremental: clips already on disk from a run with the same generator
    version and rendering parameters are kept (nothing is rewritten when nothing changed); clip
    folders recorded by an earlier run but absent from ``config`` are removed. Other folders under
    ``out_dir`` are never touched.
    """
    from tqdm.auto import tqdm

    config.validate()
    out = Path(out_dir)
    wanted = [(split, i) for split in SPLITS for i in range(config.n_clips(split))]
    wanted_names = {clip_name(split, i) for split, i in wanted}
    key = _render_key(asdict(config))

    old = _read_json(out / MANIFEST_NAME)
    partial = _read_json(out / PARTIAL_MANIFEST_NAME)
    owned: set[str] = set()
    known: dict[str, SyntheticClip] = {}
    for doc in (old, partial):
        if doc is None:
            continue
        entries = [c for c in doc.get("clips", []) if isinstance(c, dict)]
        owned.update(str(c.get("name")) for c in entries if _CLIP_NAME_RE.match(str(c.get("name"))))
        if doc.get("version") != GENERATOR_VERSION or _render_key(doc.get("config")) != key:
            continue
        for entry in entries:
            try:
                clip = SyntheticClip.from_dict(entry)
            except (KeyError, TypeError, ValueError):
                continue
            if clip.name in wanted_names and clip.n_frames == config.n_frames:
                known[clip.name] = clip
    reuse = {name: clip for name, clip in known.items() if _clip_complete(out, clip)}

    manifest_now = _manifest(config, [reuse[clip_name(s_, i)] for s_, i in wanted if clip_name(s_, i) in reuse])
    up_to_date = len(reuse) == len(wanted) and old == json.loads(json.dumps(manifest_now))
    if up_to_date and (out / CONTACT_SHEET_NAME).is_file():
        logger.info("synthetic dataset in %s is up to date (%d clips)", out, len(wanted))
        return [reuse[clip_name(s_, i)] for s_, i in wanted]

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / PARTIAL_MANIFEST_NAME, manifest_now)
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # never leave a manifest describing other bytes
    for name in sorted(owned - wanted_names):
        _remove_clip(out, name)
    _remove_stale_tmp(out)

    done: dict[str, SyntheticClip] = dict(reuse)

    def finished(future: Future[SyntheticClip]) -> None:
        clip = future.result()  # re-raises a failed write
        done[clip.name] = clip
        write_json(
            out / PARTIAL_MANIFEST_NAME,
            _manifest(config, [done[clip_name(s_, i)] for s_, i in wanted if clip_name(s_, i) in done]),
        )
        bar.update(1)

    # PNG encoding (which releases the GIL) of clip k overlaps with rendering clip k + 1.
    bar = tqdm(total=len(wanted), desc="synthetic LSVD clips", unit="clip", disable=not progress)
    bar.update(len(reuse))
    pending: Future[SyntheticClip] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthetic-writer") as pool:
        try:
            for split, index in wanted:
                if clip_name(split, index) in done:
                    continue
                rendered = render_clip(config, split, index)
                if pending is not None:
                    finished(pending)
                pending = pool.submit(_write_clip, out, *rendered)
            if pending is not None:
                finished(pending)
        finally:
            bar.close()

    clips = [done[clip_name(s_, i)] for s_, i in wanted]
    save_contact_sheet(out, clips, out / CONTACT_SHEET_NAME)
    write_json(out / MANIFEST_NAME, _manifest(config, clips))
    (out / PARTIAL_MANIFEST_NAME).unlink(missing_ok=True)
    n_new = len(wanted) - len(reuse)
    logger.info("synthetic dataset written to %s: %d clips rendered, %d kept", out, n_new, len(reuse))
    return clips


def save_contact_sheet(
    out_dir: str | os.PathLike[str],
    clips: Sequence[SyntheticClip],
    path: str | os.PathLike[str],
    n_clips: int = 4,
) -> Path:
    """Write a labelled PNG grid of the first ``n_clips`` clips, read back from ``out_dir``.

    Rows are clips; columns are frame 0 (PS), the onset frame, a middle smoky frame, the last
    smoky frame, the clean last frame and the last frame's density. Returns ``path``.
    """
    import cv2

    out = Path(out_dir)
    rows = list(clips)[: max(1, n_clips)]
    if not rows:
        raise ValueError("save_contact_sheet needs at least one clip, got none")
    first = read_rgb(out / split_folders(rows[0].split)["smoky"] / rows[0].name / FRAME_TEMPLATE.format(0))
    h0, w0 = first.shape[:2]
    tile_w = int(min(320, max(192, w0)))
    tile_h = int(round(h0 * tile_w / w0))
    label_h, head_h = 22, 26
    font = cv2.FONT_HERSHEY_SIMPLEX

    def tile(img: np.ndarray) -> np.ndarray:
        interp = cv2.INTER_AREA if img.shape[1] > tile_w else cv2.INTER_NEAREST
        return cv2.resize(img, (tile_w, tile_h), interpolation=interp)

    titles = ["frame 0 (PS)", "onset", "middle", "last", "clean (last)", "density (last)"]
    sheet_rows = []
    header = np.full((head_h, tile_w * len(titles), 3), 30, np.uint8)
    for j, title in enumerate(titles):
        cv2.putText(header, title, (j * tile_w + 6, head_h - 8), font, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    sheet_rows.append(header)
    for clip in rows:
        folders = split_folders(clip.split)
        last = clip.n_frames - 1
        mid = (clip.onset_index + last) // 2
        picks = [("smoky", 0), ("smoky", clip.onset_index), ("smoky", mid), ("smoky", last), ("clean", last)]
        tiles = [tile(read_rgb(out / folders[k] / clip.name / FRAME_TEMPLATE.format(i))) for k, i in picks]
        dens = read_gray(out / folders["density"] / clip.name / FRAME_TEMPLATE.format(last))
        dens8 = np.rint(dens.astype(np.float32) / DENSITY_SCALE * 255).astype(np.uint8)
        tiles.append(tile(np.repeat(dens8[..., None], 3, axis=2)))
        frames = [0, clip.onset_index, mid, last, last, last]
        for j, t in enumerate(tiles):
            cv2.putText(t, f"#{frames[j]}", (5, tile_h - 6), font, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
        label = np.full((label_h, tile_w * len(titles), 3), 50, np.uint8)
        text = (
            f"{clip.name}  onset={clip.onset_index}  beta={clip.beta:.2f}  "
            f"A=({clip.airlight[0]:.2f},{clip.airlight[1]:.2f},{clip.airlight[2]:.2f})"
        )
        cv2.putText(label, text, (6, label_h - 7), font, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        sheet_rows += [label, np.concatenate(tiles, axis=1)]
    sheet = np.concatenate(sheet_rows, axis=0)
    path = Path(path)
    write_bytes(path, encode_png(sheet, compression=6))
    return path
