"""periodic_energy: an FFT-free reference, smooth vs periodic changes, errors, registration, and the runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.metrics.artifacts import periodic_energy
from benchmarks.metrics.base import Metric, get_metric, list_metrics


def _frame(h: int = 61, w: int = 83, seed: int = 0) -> np.ndarray:
    """A textured uint8 RGB frame away from 0 and 255 (so added patterns are not clipped)."""
    rng = np.random.default_rng(seed)
    return rng.integers(40, 216, size=(h, w, 3), dtype=np.uint8)


def _add(frame: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """``frame + delta`` (delta ``(H, W)``, the same on every channel), clipped to uint8."""
    return np.clip(frame.astype(np.float64) + delta[..., None], 0, 255).round().astype(np.uint8)


def periodic_energy_by_phase_classes(pred: np.ndarray, inp: np.ndarray) -> float:
    """The same quantity without an FFT: the 4x4-periodic component of ``d`` is the mean of ``d`` over each
    phase class ``(y % 4, x % 4)``; by Parseval its energy about the mean (times ``H4 * W4``) is the energy of
    the lattice frequencies without DC, and the energy of ``d`` about its mean is ``P.sum()`` without DC."""
    h4, w4 = pred.shape[0] // 4 * 4, pred.shape[1] // 4 * 4
    d = (pred.astype(np.float64) - inp.astype(np.float64)).mean(axis=2)[:h4, :w4]
    classes = d.reshape(h4 // 4, 4, w4 // 4, 4).mean(axis=(0, 2))  # (4, 4): class (y % 4, x % 4)
    periodic = np.tile(classes, (h4 // 4, w4 // 4))
    total = ((d - d.mean()) ** 2).sum()
    return 0.0 if total == 0 else float(((periodic - periodic.mean()) ** 2).sum() / total)


# ---------------------------------------------------------------- the function


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(61, 83), (64, 96), (4, 4), (9, 13), (32, 7)])
def test_matches_the_phase_class_reference(seed: int, shape: tuple[int, int]):
    rng = np.random.default_rng(seed)
    inp = _frame(*shape, seed=seed)
    # random changes, from white noise to a mostly periodic one
    periodic = np.tile(rng.normal(0, 6, (4, 4)), (shape[0] // 4 + 1, shape[1] // 4 + 1))[: shape[0], : shape[1]]
    delta = rng.normal(0, 3 + seed, shape) + (seed % 3) * periodic
    pred = _add(inp, delta)
    got = periodic_energy(pred, inp)
    assert got == pytest.approx(periodic_energy_by_phase_classes(pred, inp), abs=1e-9)
    assert 0.0 <= got <= 1.0


def test_white_noise_has_the_lattice_share():
    # white noise spreads evenly over all H4*W4 frequencies: the 15 non-DC lattice ones hold ~15 / (H4*W4 - 1)
    inp = _frame(128, 128)
    pred = _add(inp, np.random.default_rng(1).normal(0, 10, (128, 128)))
    assert periodic_energy(pred, inp) == pytest.approx(15 / (128 * 128 - 1), rel=0.5)


def test_smooth_change_is_near_zero():
    inp = _frame(96, 128)
    y, x = np.mgrid[0:96, 0:128].astype(np.float64)
    gradient = 0.3 * x + 0.2 * y
    blob = 40 * np.exp(-((y - 40) ** 2 + (x - 70) ** 2) / (2 * 15.0**2))
    for delta in (gradient, blob, -blob + 0.1 * x):
        assert periodic_energy(_add(inp, delta), inp) < 0.01


@pytest.mark.parametrize("shape", [(64, 96), (61, 83)])
def test_checkerboard_and_period_4_patterns_are_near_one(shape: tuple[int, int]):
    inp = _frame(*shape)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    checker = np.where((y + x) % 2 == 0, 8.0, -8.0)
    assert periodic_energy(_add(inp, checker), inp) > 0.99
    stripes2 = np.where(x % 2 == 0, 8.0, -8.0)  # the column-wise artefact of an x2 pixel shuffle
    assert periodic_energy(_add(inp, stripes2), inp) > 0.99
    grid4 = np.where((y % 4 == 0) | (x % 4 == 0), 10.0, 0.0)
    assert periodic_energy(_add(inp, grid4), inp) > 0.99
    tile4 = np.tile(np.random.default_rng(3).normal(0, 6, (4, 4)), (shape[0] // 4 + 1, shape[1] // 4 + 1))
    assert periodic_energy(_add(inp, tile4[: shape[0], : shape[1]]), inp) > 0.99
    # a checkerboard on top of a smooth change: its share of what changed, neither 0 nor 1
    mixed = periodic_energy(_add(inp, checker + 0.2 * x), inp)
    assert 0.05 < mixed < 0.95


def test_identical_frames_and_uniform_shift_give_zero():
    inp = _frame()
    assert periodic_energy(inp, inp) == 0.0
    assert periodic_energy(inp, inp.copy()) == 0.0
    assert periodic_energy(_add(inp, np.full(inp.shape[:2], 7.0)), inp) == 0.0


def test_bad_inputs_raise_value_error():
    a = _frame(32, 48)
    with pytest.raises(ValueError, match=r"same shape, found \(32, 48, 3\) and \(32, 40, 3\)"):
        periodic_energy(a, a[:, :40])
    with pytest.raises(ValueError, match=r"\(H, W, 3\), found \(32, 48\)"):
        periodic_energy(a[..., 0], a[..., 0])
    with pytest.raises(ValueError, match="at least 4x4"):
        periodic_energy(a[:3], a[:3])


def test_registered_metric():
    assert "periodic_energy" in list_metrics()
    with pytest.raises(ValueError, match="requires_reference must be one of"):
        Metric("x", periodic_energy, higher_is_better=False, requires_reference="inputs")
    m = get_metric("periodic_energy")
    assert m.name == "periodic_energy" and m.higher_is_better is False and m.requires_reference == "input"
    assert m.value_range == (0.0, 1.0) and m.kind == "frame" and m.align is False and m.available() is None
    assert m.describe()["requires_reference"] == "input"
    inp = _frame(32, 48)
    assert m(inp, inp) == 0.0


# ---------------------------------------------------------------- the runner


@pytest.fixture
def checkerboard_method():
    """A method that adds a +/-8 checkerboard to every input frame, registered for the test only."""
    from benchmarks import methods as methods_mod

    class Checkerboard(methods_mod.Method):
        name = "test_checkerboard"
        kind = "classical"
        citation = "-"

        def __init__(self, **_):
            pass

        def desmoke(self, clip):
            h, w = clip.lqs.shape[1:3]
            y, x = np.mgrid[0:h, 0:w]
            return _add_all(clip.lqs, np.where((y + x) % 2 == 0, 8.0, -8.0))

    methods_mod.METHODS.register(Checkerboard.name)(Checkerboard)
    try:
        yield Checkerboard.name
    finally:
        methods_mod.METHODS._entries.pop(Checkerboard.name, None)


def _add_all(frames: np.ndarray, delta: np.ndarray) -> np.ndarray:
    return np.clip(frames.astype(np.float64) + delta[None, ..., None], 0, 255).round().astype(np.uint8)


def test_benchmark_reports_periodic_energy(tiny_synthetic_root: Path, tmp_path: Path, checkerboard_method: str):
    from benchmarks.run import main

    out = tmp_path / "results"
    assert main(["--method", checkerboard_method, "--metrics", "periodic_energy,brisque", "--root",
                 str(tiny_synthetic_root), "--output", str(out), "--no-progress", "--no-media"]) == 0
    board = pd.read_parquet(out / "leaderboard.parquet").set_index(["method", "metric"])
    identity = board.loc[("identity", "periodic_energy")]
    assert identity["status"] == "ok" and identity["value"] == 0.0
    assert identity["requires_reference"] == "input" and not bool(identity["higher_is_better"])
    assert identity["n_clips"] == 2
    checker = board.loc[(checkerboard_method, "periodic_energy")]
    assert checker["status"] == "ok" and checker["value"] > 0.9

    # every frame was scored against its own input frame (not the PS frame)
    frames = pd.read_parquet(out / "frames.parquet")
    pe = frames[frames["metric"] == "periodic_energy"]
    assert (pe[pe["method"] == "identity"]["value"] == 0.0).all()
    assert len(pe[pe["method"] == checkerboard_method]) == len(pe[pe["method"] == "identity"]) > 0

    md = (out / "LEADERBOARD.md").read_text()
    assert "periodic_energy ↓" in md
    assert md.index("brisque ↓") < md.index("periodic_energy ↓")  # next to the no-reference scores

    # the paper tables show the column with the declared direction, and never rank identity
    from reports.results import load_results
    from reports.tables import format_value, main_table

    table = main_table(load_results(out), "test")
    j = table.header.index("periodic_energy ↓")
    i = next(i for i, r in enumerate(table.rows) if r[0] == "identity")
    assert table.rows[i][j] == "0" and table.emphasis[i][j] is None
    k = next(i for i, r in enumerate(table.rows) if r[0] == checkerboard_method)
    shown = format_value(checker["value"], "periodic_energy")
    assert table.rows[k][j] == f"{shown} (+{shown})"  # its change against the floor, 0
