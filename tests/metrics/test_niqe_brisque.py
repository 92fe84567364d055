"""NIQE / BRISQUE: pyiqa 0.1.16 calibration values and behaviour (no download needed for the latter)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.metrics.base import get_metric
from benchmarks.metrics.brisque import brisque
from benchmarks.metrics.calibration import calibration_images
from benchmarks.metrics.niqe import niqe
from tests.conftest import smooth_frames

# pyiqa 0.1.16 ResultsCalibra values (its default "niqe" and "brisque").
NIQE_CALIBRATION = {"I03": 15.6538, "I04": 3.6549, "I06": 3.2342, "I08": 3.1921, "I19": 9.0722}
BRISQUE_CALIBRATION = {"I03": 94.6452, "I04": -0.1082, "I06": 1.0759, "I08": 5.1423, "I19": 66.8381}
FETCH = "python -m benchmarks.metrics.calibration fetch"


@pytest.fixture(scope="module")
def calib() -> dict[str, np.ndarray]:
    try:
        paths = calibration_images()
    except FileNotFoundError as exc:
        pytest.skip(f"pyiqa calibration images not fetched ({exc}); run `{FETCH}`")
    missing = sorted(set(NIQE_CALIBRATION) - set(paths))
    if missing:
        pytest.skip(f"calibration images {missing} missing; run `{FETCH}`")
    return {k: cv2.imread(str(paths[k]), cv2.IMREAD_COLOR)[..., ::-1].copy() for k in NIQE_CALIBRATION}


@pytest.mark.parametrize("name", sorted(NIQE_CALIBRATION))
def test_niqe_matches_pyiqa_calibration(calib, name):
    assert niqe(calib[name]) == pytest.approx(NIQE_CALIBRATION[name], rel=0.01)


@pytest.mark.parametrize("name", sorted(BRISQUE_CALIBRATION))
def test_brisque_matches_pyiqa_calibration(calib, name):
    # 1 % relative, but 0.5 absolute (1 % of BRISQUE's nominal 0..100 scale, halved) for values near zero
    # such as I04's -0.1082, where a relative tolerance is meaningless.
    assert brisque(calib[name]) == pytest.approx(BRISQUE_CALIBRATION[name], rel=0.01, abs=0.5)


def _one_over_f(h: int, w: int, seed: int) -> np.ndarray:
    """A 1/f-spectrum random field in [0, 1] (natural images' power law), so NIQE/BRISQUE rate it natural."""
    rng = np.random.default_rng(seed)
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :])
    f[0, 0] = 1.0
    x = np.fft.irfft2((rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f, s=(h, w))
    return (x - x.min()) / (x.max() - x.min())


@pytest.fixture(scope="module")
def natural() -> np.ndarray:
    return (np.stack([_one_over_f(192, 288, seed) for seed in range(3)], -1) * 200 + 30).astype(np.uint8)


def _degrade(img: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), 3.0)


def _noisy(img: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.clip(img.astype(np.float32) + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("fn", [niqe, brisque], ids=["niqe", "brisque"])
def test_degradation_raises_score(fn, natural):
    base = fn(natural)
    assert np.isfinite(base)
    assert fn(_degrade(natural)) > base
    assert fn(_noisy(natural)) > base


@pytest.mark.parametrize("fn", [niqe, brisque], ids=["niqe", "brisque"])
def test_deterministic_and_input_forms(fn, natural):
    a = fn(natural)
    assert fn(natural.copy()) == a
    assert fn(natural.astype(np.float32) / 255.0) == pytest.approx(a, rel=1e-6)
    # grayscale: the Y (YIQ) plane pyiqa uses, given directly, scores the same as the RGB image
    y = np.round((natural.astype(np.float32) / 255.0) @ np.array([0.299, 0.587, 0.114], np.float32) * 255)
    y8 = y.astype(np.uint8)
    assert fn(y8) == pytest.approx(a, rel=1e-9)
    assert fn(y8[..., None]) == pytest.approx(a, rel=1e-9)
    with pytest.raises(ValueError):
        fn(natural[..., :2])


def test_too_small_images_raise():
    small = smooth_frames(1, 95, 200)[0]
    with pytest.raises(ValueError, match="96x96"):
        niqe(small)
    assert np.isfinite(niqe(smooth_frames(1, 96, 96)[0]))
    with pytest.raises(ValueError, match="BRISQUE"):
        brisque(np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("name,param", [("niqe", "niqe_pris_params.npz"), ("brisque", "brisque_live_allmodel.npz")])
def test_registry(name, param, natural):
    metric = get_metric(name)
    assert metric.name == name and metric.higher_is_better is False
    assert metric.requires_reference == "none" and metric.aggregate == "frame_mean"
    assert metric.available() is None
    (desc,) = metric.describe()["params"]
    assert desc["name"] == param and len(desc["sha256"]) == 64
    assert metric(natural) == pytest.approx((niqe if name == "niqe" else brisque)(natural))
