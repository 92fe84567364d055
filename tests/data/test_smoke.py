"""Smoke score, onset/PS detection and clip cutting (lsvd.data.smoke)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from lsvd.data.smoke import (
    SMOKE_SCORE_VERSION,
    DetectionParams,
    SmokeEvent,
    detect_events,
    detect_onset,
    scan_frames,
    smoke_score,
    smoke_scores,
)

AIRLIGHT = 0.85 * 255


def _tissue(seed: int, height: int = 200, width: int = 240) -> np.ndarray:
    """A smoke-free, tissue-like float32 canvas (H, W, 3) in 0..255: reddish, textured, with vessels."""
    rng = np.random.default_rng(seed)

    def smooth(cells: int) -> np.ndarray:
        field = rng.random((cells, cells)).astype(np.float32)
        return cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)

    low, mid, fine = smooth(5), smooth(14), smooth(40)
    shade = 0.55 + 0.45 * low
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    vessels = np.exp(-(np.sin(xx / 9.0 + 3.0 * mid) ** 2) * 40.0)
    r = 0.80 * shade * (1.0 - 0.35 * vessels) + 0.10 * fine
    g = 0.30 * shade * (1.0 - 0.55 * vessels) + 0.08 * mid
    b = 0.25 * shade * (1.0 - 0.50 * vessels) + 0.06 * fine
    return np.clip(np.stack([r, g, b], axis=-1) * 255.0, 0.0, 255.0)


def _veil(frame: np.ndarray, density: float) -> np.ndarray:
    """I = J (1 - d) + A d, as uint8."""
    out = frame.astype(np.float32) * (1.0 - density) + AIRLIGHT * density
    return np.clip(out, 0.0, 255.0).round().astype(np.uint8)


def _shot(
    seed: int, n: int, onset: int | None, *, ramp: float = 0.05, motion: float = 1.0, size: int = 96
) -> tuple[np.ndarray, np.ndarray]:
    """A panning camera over one tissue canvas; smoke density ramps up from ``onset`` (None: none).

    Returns uint8 frames (n, size, size, 3) and densities (n,).
    """
    rng = np.random.default_rng(seed + 1000)
    canvas = _tissue(seed)
    h, w = canvas.shape[:2]
    y, x = (h - size) / 2.0, (w - size) / 2.0
    vy, vx = rng.normal(0.0, motion, 2)
    frames, dens = [], []
    for t in range(n):
        vy, vx = vy + rng.normal(0.0, 0.3 * motion), vx + rng.normal(0.0, 0.3 * motion)
        y, x = float(np.clip(y + vy, 0, h - size)), float(np.clip(x + vx, 0, w - size))
        crop = canvas[int(y) : int(y) + size, int(x) : int(x) + size]
        d = 0.0 if onset is None or t < onset else min(0.9, ramp * (t - onset + 1))
        frames.append(_veil(crop, d))
        dens.append(d)
    return np.stack(frames), np.asarray(dens)


def test_score_range_and_version() -> None:
    frame = _veil(_tissue(0), 0.0)
    s = smoke_score(frame)
    assert 0.0 <= s <= 1.0
    assert smoke_score(np.zeros((8, 8, 3), np.uint8)) == pytest.approx(smoke_score(np.zeros((8, 8, 3), np.uint8)))
    assert 0.0 <= smoke_score(np.full((8, 8, 3), 255, np.uint8)) <= 1.0
    assert isinstance(SMOKE_SCORE_VERSION, str) and SMOKE_SCORE_VERSION


def test_score_monotone_in_veil_strength() -> None:
    for seed in range(3):
        canvas = _tissue(seed)
        scores = [smoke_score(_veil(canvas, d)) for d in np.linspace(0.0, 0.9, 10)]
        assert np.all(np.diff(scores) > 0), scores
        assert scores[-1] - scores[0] > 0.3


def test_score_bounded_change_under_brightness_without_smoke() -> None:
    canvas = _tissue(1)
    ref = smoke_score(_veil(canvas, 0.0))
    veil_step = smoke_score(_veil(canvas, 0.2)) - ref
    for gain in (0.6, 0.8, 1.2):
        changed = smoke_score(np.clip(canvas * gain, 0, 255).round().astype(np.uint8))
        assert abs(changed - ref) < 0.05
        assert abs(changed - ref) < 0.5 * veil_step


def test_score_ignores_vignette_and_specular_highlights() -> None:
    frame = _veil(_tissue(2), 0.0)
    ref = smoke_score(frame)
    masked = frame.copy()
    yy, xx = np.mgrid[0 : frame.shape[0], 0 : frame.shape[1]]
    r = np.hypot(yy - frame.shape[0] / 2, xx - frame.shape[1] / 2)
    masked[r > 0.9 * frame.shape[0] / 2] = 3  # black endoscope border
    masked[40:46, 60:70] = 255  # specular highlights
    masked[120:124, 150:156] = 250
    assert abs(smoke_score(masked) - ref) < 0.03


def test_smoke_scores_matches_smoke_score_and_accepts_iterables() -> None:
    frames, _ = _shot(3, 6, None)
    s = smoke_scores(frames)
    assert s.dtype == np.float32 and s.shape == (6,)
    np.testing.assert_allclose(s, [smoke_score(f) for f in frames], rtol=1e-6)
    np.testing.assert_allclose(smoke_scores(iter(list(frames))), s)
    np.testing.assert_allclose(scan_frames(frames).scores, s)


@pytest.mark.parametrize(("seed", "onset", "ramp"), [(4, 1, 0.05), (5, 7, 0.03), (6, 15, 0.1)])
def test_onset_detected_on_composite(seed: int, onset: int, ramp: float) -> None:
    frames, dens = _shot(seed, 30, onset, ramp=ramp)
    found = detect_onset(smoke_scores(frames))
    assert found is not None and abs(found - onset) <= 1
    assert dens[found - 1] == 0.0  # the implied PS frame is smoke-free


def test_no_onset_without_smoke_despite_camera_motion() -> None:
    for seed in range(4):
        frames, _ = _shot(10 + seed, 40, None, motion=2.0)
        assert detect_onset(smoke_scores(frames)) is None
        scan = scan_frames(frames)
        assert scan.cuts.size == 0
        assert detect_events(scan.scores, cuts=scan.cuts) == []


def _concatenated(onsets: list[int | None], n: int = 30) -> tuple[np.ndarray, np.ndarray, list[int]]:
    frames, dens, starts = [], [], []
    for i, onset in enumerate(onsets):
        f, d = _shot(20 + i, n, onset, ramp=0.04 + 0.02 * (i % 3))
        starts.append(i * n)
        frames.append(f)
        dens.append(d)
    return np.concatenate(frames), np.concatenate(dens), starts


def test_events_cut_correctly_on_concatenated_video() -> None:
    onsets = [5, 12, None, 2, 9]
    frames, dens, starts = _concatenated(onsets)
    scan = scan_frames(frames)
    assert scan.cuts.tolist() == starts[1:]
    events = detect_events(scan.scores, min_frames=10, max_frames=20, cuts=scan.cuts)
    truth = [s + o for s, o in zip(starts, onsets, strict=True) if o is not None]
    assert len(events) == len(truth)
    for ev, true_onset in zip(events, truth, strict=True):
        assert isinstance(ev, SmokeEvent)
        assert abs(ev.onset_index - true_onset) <= 1
        assert ev.onset_index == ev.ps_index + 1
        assert dens[ev.ps_index] == 0.0
        assert 10 <= ev.end_index - ev.ps_index <= 20
        shot = ev.ps_index // 30
        assert ev.end_index <= (shot + 1) * 30  # never across a cut
    for a, b in zip(events[:-1], events[1:], strict=True):
        assert a.end_index <= b.ps_index


def test_events_dropped_when_shot_too_short_and_smoke_must_clear() -> None:
    frames, _, _ = _concatenated([25, 5])  # the first onset leaves 6 frames before the cut
    scan = scan_frames(frames)
    events = detect_events(scan.scores, min_frames=10, cuts=scan.cuts)
    assert [e.onset_index for e in events] in ([35], [34], [36])
    # One long smoky shot yields one event, capped at max_frames, not one per max_frames.
    frames, _ = _shot(40, 80, 5, ramp=0.02)
    events = detect_events(smoke_scores(frames), min_frames=10, max_frames=30)
    assert len(events) == 1 and events[0].end_index - events[0].ps_index == 30


def test_without_cuts_ps_frames_stay_smoke_free() -> None:
    frames, dens, _ = _concatenated([5, 8, 3])
    events = detect_events(smoke_scores(frames))
    assert events and events[0].onset_index in (4, 5, 6)
    assert all(dens[e.ps_index] == 0.0 for e in events)


def test_synthetic_tiny_preset() -> None:
    synthetic = pytest.importorskip("lsvd.data.synthetic")
    config = synthetic.PRESETS["tiny"]
    for index in range(3):
        smoky, _clean, density, meta = synthetic.render_clip(config, "train", index)
        found = detect_onset(smoke_scores(smoky))
        assert found is not None and abs(found - meta.onset_index) <= 1
        assert float(density[found - 1].max()) == 0.0 or found - 1 < meta.onset_index


def test_bad_inputs_raise_clear_errors() -> None:
    good = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        smoke_score(good.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        smoke_score(np.zeros((16, 16), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        smoke_score(np.zeros((16, 16, 4), np.uint8))
    with pytest.raises(ValueError, match="numpy"):
        smoke_score([[0, 0, 0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one frame"):
        smoke_scores([])
    with pytest.raises(ValueError, match="frame 1"):
        smoke_scores([good, good[..., :2]])
    with pytest.raises(ValueError, match="NaN"):
        detect_onset(np.array([0.1, np.nan, 0.2]))
    with pytest.raises(ValueError, match="empty"):
        detect_events(np.array([]))
    with pytest.raises(ValueError, match="1-D"):
        detect_events(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="min_frames"):
        detect_events(np.zeros(20), min_frames=30, max_frames=20)
    with pytest.raises(ValueError, match="cuts"):
        detect_events(np.zeros(20), cuts=[25])
    with pytest.raises(ValueError, match="persist"):
        detect_onset(np.zeros(5), dataclasses.replace(DetectionParams(), persist=0))
