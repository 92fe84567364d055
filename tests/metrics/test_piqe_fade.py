"""PIQE and FADE: native implementations against their references (pyiqa 0.1.16 PIQE, pyfade 1.0.0 FADE)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from benchmarks.metrics.base import get_metric, list_metrics
from benchmarks.metrics.calibration import calibration_images
from benchmarks.metrics.fade import FADE_PARAMS, fade, fade_map
from benchmarks.metrics.piqe import piqe
from tests.conftest import smooth_frames

# pyiqa 0.1.16's own PIQE (pyiqa/archs/piqe_arch.py from the unzipped wheel, helpers color_util, matlab_utils,
# func_util importable without installing pyiqa; torch 2.13.0 CPU), on the calibration images loaded as pyiqa
# does (PIL RGB -> float32 / 255, (1, 3, H, W)):
#   x = torch.from_numpy(np.asarray(Image.open(p).convert("RGB"))).permute(2, 0, 1)[None].float() / 255
#   pyiqa.archs.piqe_arch.piqe(x)[0].item()
PIQE_PYIQA = {"I03": 100.000000, "I04": 21.624249, "I06": 35.864601, "I08": 41.147087, "I19": 76.948502}
# pyiqa's published ResultsCalibra/calibration_summary.csv (IQA-PyTorch, commit 065c2b73), row "piqe(ours)";
# the MATLAB row "piqe" is 100.0, 21.62, 35.86, 41.15, 76.95
PIQE_PUBLISHED = {"I03": 100.0, "I04": 21.6242, "I06": 35.8646, "I08": 41.147, "I19": 76.9485}
# same code on I04[:375, :500] and I04[:383, :509] (exercises pyiqa's H % 16 / W % 16 symmetric padding)
PIQE_PYIQA_CROPS = {(375, 500): 19.514378, (383, 509): 19.961060}
# pyfade.fade_array(np.asarray(Image.open(p).convert("RGB"))) with fade-python 1.0.0 defaults
FADE_PYFADE = {"I03": 1.053877, "I04": 0.768176, "I06": 0.533956, "I08": 0.278219, "I19": 1.356531}

REL = 0.01


def _calibration() -> dict[str, np.ndarray]:
    try:
        paths = calibration_images()
    except FileNotFoundError as exc:
        pytest.skip(f"pyiqa 0.1.16 calibration images not available ({exc}); "
                    "fetch them with `python -m benchmarks.metrics.calibration fetch`")
    out = {}
    for name, path in paths.items():
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            pytest.skip(f"cannot read calibration image {path}")
        out[name] = np.ascontiguousarray(bgr[..., ::-1])
    return out


def _pyfade():
    try:
        import pyfade
    except ImportError:
        return None
    return pyfade


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def _haze(frame: np.ndarray, t: float = 0.45, airlight: float = 225.0) -> np.ndarray:
    """``I = J t + A (1 - t)`` with a transmission decreasing from left to right."""
    w = frame.shape[1]
    tmap = np.linspace(0.9, t, w)[None, :, None]
    return np.clip(frame.astype(np.float64) * tmap + airlight * (1.0 - tmap) + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def calib() -> dict[str, np.ndarray]:
    return _calibration()


# --- (a) calibration images -------------------------------------------------------------------------------

def test_piqe_matches_pyiqa_on_calibration_images(calib):
    for name, ref in PIQE_PYIQA.items():
        assert _rel(piqe(calib[name]), ref) < REL, (name, piqe(calib[name]), ref)
        assert _rel(piqe(calib[name]), PIQE_PUBLISHED[name]) < REL
    for (h, w), ref in PIQE_PYIQA_CROPS.items():
        assert _rel(piqe(calib["I04"][:h, :w]), ref) < REL, ((h, w), ref)


def test_fade_matches_pyfade_on_calibration_images(calib):
    pf = _pyfade()
    for name, recorded in FADE_PYFADE.items():
        ours = fade(calib[name])
        ref = float(pf.fade_array(calib[name])) if pf is not None else recorded
        assert _rel(ours, ref) < REL, (name, ours, ref)
        assert _rel(ours, recorded) < REL, (name, ours, recorded)


# --- (b) FADE on generated frames ---------------------------------------------------------------------------

def test_fade_higher_on_haze_and_matches_pyfade():
    pf = _pyfade()
    frames = smooth_frames(2, 96, 128, seed=3)
    for frame in frames:
        hazy = _haze(frame)
        clean_v, hazy_v = fade(frame), fade(hazy)
        assert hazy_v > clean_v
        if pf is not None:
            assert _rel(clean_v, float(pf.fade_array(frame))) < REL
            assert _rel(hazy_v, float(pf.fade_array(hazy))) < REL
    if pf is not None:  # odd size (cropped to the 8-grid) with flat, saturated regions (NaN patches)
        frame = frames[0][:90, :125].copy()
        frame[10:40, 20:70] = 255
        frame[60:] = 0
        assert _rel(fade(frame), float(pf.fade_array(frame))) < REL


def test_fade_map_and_errors():
    frame = smooth_frames(1, 64, 80, seed=1)[0]
    score, dmap = fade_map(frame)
    assert dmap.shape == (8, 10) and math.isfinite(score) and score > 0
    assert fade(frame) == score
    with pytest.raises(ValueError, match="at least 8x8"):
        fade(np.zeros((7, 40, 3), np.uint8))
    with pytest.raises(ValueError):
        fade(np.zeros((16, 16, 5), np.uint8))


# --- (c) PIQE behaviour -------------------------------------------------------------------------------------

def test_piqe_higher_on_noise_and_blur():
    # fine texture everywhere (PIQE rewards added noise on flat, smooth content: its artifact criterion)
    tex = cv2.resize(np.random.default_rng(0).random((64, 80, 3)).astype(np.float32), (160, 128),
                     interpolation=cv2.INTER_CUBIC)
    frame = np.clip(tex * 200 + 30, 0, 255).astype(np.uint8)
    base = piqe(frame)
    rng = np.random.default_rng(0)
    noisy = np.clip(frame + rng.normal(0, 25, frame.shape), 0, 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(frame, (0, 0), 3.0)
    assert 0.0 <= base <= 100.0
    assert piqe(noisy) > base
    assert piqe(blurred) > base


def test_piqe_errors_and_determinism():
    frame = smooth_frames(1, 72, 88, seed=5)[0]
    assert piqe(frame) == piqe(frame.copy())
    with pytest.raises(ValueError, match="at least 16x16"):
        piqe(np.zeros((15, 64, 3), np.uint8))
    with pytest.raises(ValueError):
        piqe(np.zeros((32, 32, 2), np.uint8))
    assert piqe(np.zeros((32, 32, 3), np.uint8)) == 100.0  # no active block


def test_registry_entries():
    assert {"piqe", "fade"} <= set(list_metrics())
    p, f = get_metric("piqe"), get_metric("fade")
    assert p.higher_is_better is False and p.value_range == (0.0, 100.0) and p.params == ()
    assert p.requires_reference == "none" and p.available() is None
    assert f.higher_is_better is False and f.value_range == (0.0, math.inf) and f.params == (FADE_PARAMS,)
    assert f.available() is None and f.describe()["params"][0]["sha256"]
    frame = smooth_frames(1, 48, 64)[0]
    assert p(frame) == piqe(frame) and f(frame) == fade(frame)
