"""Classical desmoking baselines (baselines.classical): correctness of the building blocks, gains on synthetic haze,
the method contract and the benchmark registration."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from baselines.base import Clip
from baselines.classical._common import dark_channel, guided_filter, to_float, to_uint8
from baselines.classical.cap import ColourAttenuationPrior, raw_depth
from baselines.classical.clahe import CLAHEEnhancement
from baselines.classical.dcp import DarkChannelPrior
from baselines.classical.msrcr import MultiScaleRetinex
from baselines.registry import METHODS, list_methods
from tests.conftest import smooth_frames

#: Every registered classical method (a new module under baselines/classical/ joins automatically).
CLASSICAL = [METHODS.get(n) for n in list_methods() if METHODS.get(n).kind == "classical"]

AIRLIGHT = np.array([0.92, 0.90, 0.88])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


def _hazy(profile: str, h: int = 96, w: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clean J float [0,1], hazy uint8 I = J t + A (1 - t), t) for a smoothly varying transmission."""
    clean = smooth_frames(1, h, w, seed=seed)[0].astype(np.float64) / 255.0
    yy, xx = np.mgrid[0:h, 0:w]
    if profile == "ramp":
        t = 0.1 + 0.8 * xx / (w - 1)
    else:  # radial: dense smoke in the centre
        t = 0.15 + 0.75 * np.clip(np.hypot(yy - h / 2, xx - w / 2) / (0.6 * w), 0, 1)
    hazy = to_uint8(clean * t[..., None] + AIRLIGHT * (1 - t[..., None]))
    return clean, hazy, t


def test_dark_channel_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    img = rng.random((9, 11, 3))
    patch, r = 5, 2
    expected = np.empty((9, 11))
    for y in range(9):
        for x in range(11):
            expected[y, x] = img[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].min()
    np.testing.assert_array_equal(dark_channel(img, patch), expected)


def _guided_filter_reference(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al. 2010, literally: a linear model per window (cut at the border), averaged over windows per pixel."""
    h, w = guide.shape
    a = np.empty((h, w))
    b = np.empty((h, w))
    for y in range(h):
        for x in range(w):
            win = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            gi, pi = guide[win].ravel(), src[win].ravel()
            cov = np.mean(gi * pi) - gi.mean() * pi.mean()
            a[y, x] = cov / (gi.var() + eps)
            b[y, x] = pi.mean() - a[y, x] * gi.mean()
    q = np.empty((h, w))
    for y in range(h):
        for x in range(w):
            win = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            q[y, x] = a[win].mean() * guide[y, x] + b[win].mean()
    return q


@pytest.mark.parametrize("r,eps", [(1, 1e-3), (2, 1e-3), (3, 1e-2)])
def test_guided_filter_matches_reference(r: int, eps: float) -> None:
    rng = np.random.default_rng(2)
    guide = cv2.resize(rng.random((4, 5)), (13, 10), interpolation=cv2.INTER_CUBIC) + 0.05 * rng.random((10, 13))
    src = rng.random((10, 13))
    out = guided_filter(guide, src, r, eps)
    ref = _guided_filter_reference(guide, src, r, eps)
    assert np.abs(out - ref).max() < 1e-5


def test_guided_filter_smooths_and_keeps_constant() -> None:
    rng = np.random.default_rng(3)
    guide = np.full((20, 20), 0.5)
    src = rng.random((20, 20))
    out = guided_filter(guide, src, 3, 1e-3)
    assert out.std() < 0.5 * src.std()  # a flat guide makes it a (double) box blur
    np.testing.assert_allclose(guided_filter(guide, np.full((20, 20), 0.3), 3, 1e-3), 0.3, atol=1e-12)


def test_cap_depth_is_the_papers_linear_model() -> None:
    # Zhu et al. 2015: d = 0.121779 + 0.959710 v - 0.780245 s, v = max(RGB), s = (max - min) / max
    image = np.array([[[0.8, 0.4, 0.2], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0]]])
    expected = [0.121779 + 0.959710 * 0.8 - 0.780245 * 0.75, 0.121779 + 0.959710 * 0.5, 0.121779]
    np.testing.assert_allclose(raw_depth(image)[0], expected, rtol=1e-12)


@pytest.mark.parametrize("cls", [DarkChannelPrior, ColourAttenuationPrior], ids=["dcp", "cap"])
@pytest.mark.parametrize("profile", ["ramp", "radial"])
def test_haze_model_methods_move_towards_clean(cls, profile: str) -> None:
    clean, hazy, _ = _hazy(profile)
    before = _psnr(hazy / 255.0, clean)
    after = _psnr(cls().desmoke(Clip("c", hazy[None], hazy))[0] / 255.0, clean)
    # measured at seed 0: dcp +6.2 dB (ramp) / +3.9 dB (radial), cap +4.1 / +5.5
    assert after > before + 3.0, (before, after)


def test_dcp_estimates_airlight() -> None:
    _, hazy, _ = _hazy("ramp")
    _, t, airlight = DarkChannelPrior().dehaze(to_float(hazy))
    assert np.abs(airlight - AIRLIGHT).max() < 0.08, airlight  # measured 0.049
    assert t.shape == hazy.shape[:2]


def test_dcp_transmission_follows_truth() -> None:
    _, hazy, t_true = _hazy("ramp")
    _, t, _ = DarkChannelPrior().dehaze(to_float(hazy))
    assert np.corrcoef(t.ravel(), t_true.ravel())[0, 1] > 0.9


def test_clahe_matches_opencv_by_hand() -> None:
    frame = smooth_frames(1, 64, 80, seed=4)[0]
    lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(np.ascontiguousarray(lab[..., 0]))
    expected = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    np.testing.assert_array_equal(CLAHEEnhancement().desmoke(Clip("c", frame[None], frame))[0], expected)


@pytest.mark.parametrize("cls", CLASSICAL, ids=lambda c: c.name)
def test_method_contract(cls) -> None:
    frames = smooth_frames(3, 40, 56, seed=5)
    frames = to_uint8(frames / 255.0 * 0.5 + 0.45)  # some haze
    clip = Clip("c", frames, frames[0])
    m = cls()
    out = m.desmoke(clip)
    assert out.dtype == np.uint8 and out.shape == frames.shape
    np.testing.assert_array_equal(out, cls().desmoke(Clip("c", frames.copy(), frames[0])))
    assert not np.array_equal(out, frames)  # it does something
    assert m.kind == "classical" and m.citation and not m.needs_training and not m.video and not m.uses_ps
    # single-image: frame t's output depends on frame t only
    np.testing.assert_array_equal(m.desmoke(Clip("c", frames[1:2], frames[0]))[0], out[1])


@pytest.mark.parametrize("cls", CLASSICAL, ids=lambda c: c.name)
@pytest.mark.parametrize("value", [0, 128, 255])
def test_constant_frame(cls, value: int) -> None:
    frames = np.full((1, 24, 32, 3), value, np.uint8)
    out = cls().desmoke(Clip("c", frames, frames[0]))
    assert out.dtype == np.uint8 and out.shape == frames.shape
    assert np.unique(out.reshape(-1, 3), axis=0).shape[0] == 1  # still uniform
    if hasattr(cls, "dehaze"):
        for x in cls().dehaze(frames[0] / 255.0):
            assert np.isfinite(x).all()
    if value == 128 and cls is not CLAHEEnhancement:  # CLAHE equalises a one-bin histogram
        assert np.abs(out.astype(int) - 128).max() <= 1


def test_settings_change_cache_key() -> None:
    assert DarkChannelPrior().cache_key() == DarkChannelPrior().cache_key()
    assert DarkChannelPrior(omega=0.9).cache_key() != DarkChannelPrior().cache_key()
    assert ColourAttenuationPrior(beta=1.2).cache_key() != ColourAttenuationPrior().cache_key()
    assert CLAHEEnhancement(clip_limit=3.0).cache_key() != CLAHEEnhancement().cache_key()
    assert MultiScaleRetinex(sigmas=(10, 50)).cache_key() != MultiScaleRetinex().cache_key()


def test_import_does_not_load_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, baselines.classical.dcp, baselines.classical.cap, baselines.classical.clahe, "
            "baselines.classical.msrcr; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_list_methods(capsys) -> None:
    from benchmarks.methods import create_method
    from benchmarks.run import main

    assert main(["--list-methods"]) == 0
    names = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert {"dcp", "cap", "clahe", "msrcr"} <= names
    assert isinstance(create_method("dcp", checkpoint=None, device="cpu"), DarkChannelPrior)


def test_classical_methods_are_registered_by_their_decorator() -> None:
    assert {c.name: c for c in CLASSICAL} == {"cap": ColourAttenuationPrior, "clahe": CLAHEEnhancement,
                                                    "dcp": DarkChannelPrior, "msrcr": MultiScaleRetinex}
