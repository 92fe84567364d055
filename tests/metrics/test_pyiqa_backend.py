"""The optional pyiqa backend, with a stand-in ``pyiqa`` module (the tests run whether or not pyiqa is installed).

The stand-in has pyiqa's API surface the backend uses: ``pyiqa.default_model_configs.DEFAULT_CONFIGS`` (metric
table: ``metric_mode``, ``lower_better``) and ``pyiqa.create_metric(name, device=, as_loss=)`` returning a model
with ``lower_better`` called as ``model(x)`` (no reference) or ``model(x, ref)`` (full reference).
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from benchmarks.metrics import pyiqa_backend
from benchmarks.metrics.base import MetricUnavailable, get_metric, list_metrics
from benchmarks.metrics.reference import align_to_reference
from lsvd.flow.base import create_flow
from tests.conftest import smooth_frames

CONFIGS = {
    "lpips": {"metric_opts": {"type": "LPIPS"}, "metric_mode": "FR", "lower_better": True},
    "ssim": {"metric_opts": {"type": "SSIM"}, "metric_mode": "FR"},  # no lower_better: pyiqa's "higher is better"
    "musiq": {"metric_opts": {"type": "MUSIQ"}, "metric_mode": "NR"},
    "niqe": {"metric_opts": {"type": "NIQE"}, "metric_mode": "NR", "lower_better": True},
    "odd_direction": {"metric_opts": {"type": "X"}, "metric_mode": "NR", "lower_better": None},
    "odd_mode": {"metric_opts": {"type": "X"}, "lower_better": True},
    "fid": {"metric_opts": {"type": "FID"}, "metric_mode": "NR", "lower_better": True},
}


class FakeModel:
    """Mean absolute difference (FR) or mean (NR) of what it is given; records its inputs."""

    def __init__(self, name: str):
        self.name = name
        self.lower_better = CONFIGS[name].get("lower_better", False)
        self.calls: list[tuple[torch.Tensor, ...]] = []

    def __call__(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        self.calls.append((x,) if ref is None else (x, ref))
        return (x - ref).abs().mean() if ref is not None else x.mean()


@pytest.fixture
def fake_pyiqa(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    created: dict[str, FakeModel] = {}

    def create_metric(name: str, as_loss: bool = False, device: str | None = None, **kwargs) -> FakeModel:
        assert device == "cpu" and as_loss is False
        created[name] = FakeModel(name)
        return created[name]

    pkg = types.ModuleType("pyiqa")
    pkg.__spec__ = importlib.machinery.ModuleSpec("pyiqa", None, is_package=True)
    pkg.create_metric = create_metric
    table = types.ModuleType("pyiqa.default_model_configs")
    table.DEFAULT_CONFIGS = CONFIGS
    pkg.default_model_configs = table
    monkeypatch.setitem(sys.modules, "pyiqa", pkg)
    monkeypatch.setitem(sys.modules, "pyiqa.default_model_configs", table)
    pyiqa_backend._create.cache_clear()
    yield SimpleNamespace(created=created)
    pyiqa_backend._create.cache_clear()


@pytest.fixture
def no_pyiqa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyiqa", None)  # import fails, find_spec says absent
    pyiqa_backend._create.cache_clear()


def _pair() -> tuple[np.ndarray, np.ndarray]:
    a, b = smooth_frames(2, 48, 64, seed=2)
    return a, b


def test_list_metrics_adds_pyiqa_names(fake_pyiqa) -> None:
    names = list_metrics()
    assert {"niqe", "aligned_psnr"} <= set(names)  # the registered ones stay
    got = {n for n in names if n.startswith("pyiqa:")}
    # full-reference metrics twice (clean frames, aligned PS frame); unknown direction/mode and FID left out
    assert got == {"pyiqa:lpips", "pyiqa:aligned_lpips", "pyiqa:ssim", "pyiqa:aligned_ssim", "pyiqa:musiq",
                   "pyiqa:niqe"}
    assert list_metrics("pyiqa:*lpips") == ["pyiqa:aligned_lpips", "pyiqa:lpips"]
    for name in got:  # every listed name resolves, without building a network
        get_metric(name)
    assert fake_pyiqa.created == {}


def test_list_metrics_without_pyiqa(no_pyiqa) -> None:
    assert not [n for n in list_metrics() if n.startswith("pyiqa:")]
    with pytest.raises(MetricUnavailable, match=r'pip install -c constraints.txt -e "\.\[pyiqa\]"'):
        get_metric("pyiqa:lpips")
    assert "constraints.txt" in get_metric("pi").available()


def test_direction_comes_from_pyiqa(fake_pyiqa) -> None:
    assert get_metric("pyiqa:lpips").higher_is_better is False  # lower_better True
    assert get_metric("pyiqa:niqe").higher_is_better is False
    assert get_metric("pyiqa:musiq").higher_is_better is True  # pyiqa: no lower_better = higher is better
    with pytest.raises(MetricUnavailable, match="not a bool; refusing to guess"):
        get_metric("pyiqa:odd_direction")
    with pytest.raises(MetricUnavailable, match="neither 'FR' nor 'NR'"):
        get_metric("pyiqa:odd_mode")
    with pytest.raises(MetricUnavailable, match="set of images"):
        get_metric("pyiqa:fid")
    with pytest.raises(KeyError, match="did you mean pyiqa:lpips"):
        get_metric("pyiqa:lpipz")
    with pytest.raises(KeyError, match="no-reference metric; use pyiqa:musiq"):
        get_metric("pyiqa:aligned_musiq")


def test_model_disagreeing_with_the_table_is_refused(fake_pyiqa, monkeypatch: pytest.MonkeyPatch) -> None:
    metric = get_metric("pyiqa:musiq")
    real_init = FakeModel.__init__

    def init(self, name):
        real_init(self, name)
        self.lower_better = None

    monkeypatch.setattr(FakeModel, "__init__", init)
    with pytest.raises(MetricUnavailable, match="lower_better=None"):
        metric(_pair()[0])


def test_list_metrics_command(fake_pyiqa, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.run import main

    assert main(["--list-metrics"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "lower" in lines["pyiqa:lpips"] and "ref=clean" in lines["pyiqa:lpips"]
    assert "ref=ps_frame" in lines["pyiqa:aligned_lpips"] and "higher" in lines["pyiqa:musiq"]
    assert "pyiqa:fid" not in lines and "niqe" in lines


def test_no_reference_metric(fake_pyiqa) -> None:
    a, _ = _pair()
    m = get_metric("pyiqa:musiq")
    assert m.requires_reference == "none" and m.align is False and m.aggregate == "frame_mean"
    assert m(a) == pytest.approx(a.mean() / 255.0, rel=1e-6)
    (x,), = fake_pyiqa.created["musiq"].calls
    assert x.shape == (1, 3, 48, 64) and x.dtype == torch.float32 and float(x.max()) <= 1.0
    assert m(a / 255.0) == pytest.approx(m(a), rel=1e-6)
    with pytest.raises(ValueError, match=r"float in \[0, 1\]"):
        m(a.astype(np.float32))


def test_full_reference_metric_against_clean_frames(fake_pyiqa) -> None:
    a, b = _pair()
    m = get_metric("pyiqa:lpips")
    assert m.requires_reference == "clean" and m.align is False and m.aggregate == "clip_mean"
    want = np.abs(a / 255.0 - b / 255.0).mean()
    assert m(a, b) == pytest.approx(want, rel=1e-5)
    (x, y), = fake_pyiqa.created["lpips"].calls
    np.testing.assert_allclose(y[0].permute(1, 2, 0).numpy(), b / 255.0, atol=1e-7)  # the reference is the 2nd
    with pytest.raises(ValueError, match="same shape"):
        m(a, b[:, :32])
    with pytest.raises(ValueError, match=r"ref: expected uint8"):
        m(a, b.astype(np.float32))


def test_aligned_full_reference_metric_against_the_ps_frame(fake_pyiqa) -> None:
    a, b = _pair()
    m = get_metric("pyiqa:aligned_lpips")
    assert m.requires_reference == "ps_frame" and m.align is True and m.aggregate == "clip_mean"
    assert m.higher_is_better is False
    with pytest.raises(ValueError, match="flow="):
        m(a, b)  # never the unaligned score
    pm, rm = align_to_reference(a, b, create_flow("dis"))
    want = np.abs(np.asarray(pm) / 255.0 - np.asarray(rm) / 255.0).mean()
    assert m(pm, rm) == pytest.approx(want, rel=1e-5)
    assert m(a, b, flow="dis") == pytest.approx(want, rel=1e-5)


def test_benchmark_scores_full_reference_pyiqa_metrics(fake_pyiqa) -> None:
    """What the runner does per clip (``benchmarks.evaluate._frame_values``): values, not *missing*."""
    from benchmarks.evaluate import References, _frame_values

    frames = np.stack(smooth_frames(4, 48, 64, seed=5))
    outputs = np.clip(frames.astype(int) + 7, 0, 255).astype(np.uint8)
    clip = SimpleNamespace(lqs=frames, frame_numbers=np.arange(1, 5))
    refs = References(ps=frames[0], clean=frames, smoky=None)
    flow = create_flow("dis")
    aligned = [align_to_reference(f, refs.ps, flow) for f in outputs]
    clean = _frame_values(get_metric("pyiqa:lpips"), outputs, clip, refs, flow, aligned)
    assert [n for n, _ in clean] == [1, 2, 3, 4]
    want = [np.abs(o / 255.0 - f / 255.0).mean() for o, f in zip(outputs, frames, strict=True)]
    np.testing.assert_allclose([v for _, v in clean], want, rtol=1e-5)
    ps = _frame_values(get_metric("pyiqa:aligned_lpips"), outputs, clip, refs, flow, aligned)
    want = [np.abs(np.asarray(p) / 255.0 - np.asarray(r) / 255.0).mean() for p, r in aligned]
    np.testing.assert_allclose([v for _, v in ps], want, rtol=1e-5)
