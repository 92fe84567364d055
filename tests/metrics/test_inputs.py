"""Every registered metric's public call checks its images: uint8, or float in [0, 1]; anything else raises.

A float frame holding 0..255 values (``frame.astype(np.float32)``) used to be scored as another image
(NIQE 41.37 instead of 39.36); it must raise instead, while a float frame in [0, 1] scores like its uint8 copy.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.metrics.base import as_float255, check_image, get_metric, list_metrics
from lsvd.flow.base import create_flow
from tests.conftest import smooth_frames

#: Registered metrics that need pyiqa (``pi``): not computable here, their inputs are checked in test_pyiqa_backend.
NEEDS_PYIQA = {"pi"}


def _frames() -> tuple[np.ndarray, np.ndarray]:
    a, b = smooth_frames(2, 96, 128, seed=4)
    return a, b


def _call(name: str, pred: np.ndarray, other: np.ndarray) -> float:
    """The metric's public call on ``pred`` (and ``other`` as the reference / input / next frame)."""
    metric = get_metric(name)
    if metric.kind == "clip":
        return float(np.mean(metric([pred, other], [pred, other], create_flow("dis"))))
    if metric.requires_reference == "none":
        return metric(pred)
    if metric.align:
        return metric(pred, other, flow="dis")
    return metric(pred, other)


def _names() -> list[str]:
    return [n for n in list_metrics() if not n.startswith("pyiqa:") and n not in NEEDS_PYIQA]


def test_every_registered_metric_is_covered():
    assert {"niqe", "brisque", "piqe", "fade", "psnr", "ssim", "ciede2000", "aligned_psnr", "aligned_ssim",
            "periodic_energy", "warp_error"} <= set(_names())


@pytest.mark.parametrize("name", _names())
def test_float_0_255_raises(name: str) -> None:
    a, b = _frames()
    with pytest.raises(ValueError, match=r"float in \[0, 1\], found float32 values in \[\d+, \d+\]"):
        _call(name, a.astype(np.float32), b)
    with pytest.raises(TypeError, match="dtype int16"):
        _call(name, a.astype(np.int16), b)


@pytest.mark.parametrize("name", _names())
def test_float_0_1_scores_like_uint8(name: str) -> None:
    a, b = _frames()
    want = _call(name, a, b)
    fa, fb = (x.astype(np.float32) / np.float32(255.0) for x in (a, b))
    assert _call(name, fa, fb) == pytest.approx(want, rel=1e-4, abs=1e-6)
    if get_metric(name).kind == "frame":  # a clip's frames are stacked: one scale per clip
        assert _call(name, fa, b) == pytest.approx(want, rel=1e-4, abs=1e-6)


def test_niqe_float_0_255_is_refused_not_rescored():
    a, _ = _frames()
    niqe = get_metric("niqe")
    assert niqe(a / 255.0) == pytest.approx(niqe(a), rel=1e-6)
    with pytest.raises(ValueError, match="divide 0..255 values by 255"):
        niqe(a.astype(np.float64))


def test_check_image():
    u8 = np.zeros((4, 4, 3), np.uint8)
    assert check_image(u8) is u8
    assert check_image([[0.0, 1.0]]).dtype == np.float64  # array-likes become arrays
    assert check_image(np.empty((0, 3), np.float32)).shape == (0, 3)
    for bad, err in ((np.full((2, 2), 1.5), ValueError), (np.full((2, 2), -0.1), ValueError),
                     (np.full((2, 2), np.nan), ValueError), (np.zeros((2, 2), np.uint16), TypeError),
                     (np.zeros((2, 2), bool), TypeError)):
        with pytest.raises(err, match="^frame: expected uint8"):
            check_image(bad, "frame")
    np.testing.assert_array_equal(as_float255(np.array([0, 128, 255], np.uint8)), [0.0, 128.0, 255.0])
    np.testing.assert_allclose(as_float255(np.array([0.0, 0.5, 1.0])), [0.0, 127.5, 255.0])
