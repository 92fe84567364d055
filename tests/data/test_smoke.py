"""Smoke score, onset/PS detection and clip cutting (lsvd.data.smoke)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from lsvd.data import synthetic
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


def _shot(
    seed: int,
    n: int,
    onset: int | None,
    *,
    ramp: float = 0.05,
    motion: float = 1.0,
    size: int = 96,
    puff: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """A panning camera over one tissue canvas, with smoke from ``onset`` on (None: no smoke).

    The smoke is a uniform veil whose density ramps up by ``ramp`` per frame, or with ``puff`` a
    local Gaussian puff (at a fixed place in the view, like an instrument tip) that grows and thickens.
    Returns uint8 frames (n, size, size, 3) and the largest density of each frame (n,).
    """
    rng = np.random.default_rng(seed + 1000)
    canvas = _tissue(seed)
    h, w = canvas.shape[:2]
    y, x = (h - size) / 2.0, (w - size) / 2.0
    vy, vx = rng.normal(0.0, motion, 2)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = rng.uniform(0.3, 0.7, 2) * size
    frames, dens = [], []
    for t in range(n):
        vy, vx = vy + rng.normal(0.0, 0.3 * motion), vx + rng.normal(0.0, 0.3 * motion)
        y, x = float(np.clip(y + vy, 0, h - size)), float(np.clip(x + vx, 0, w - size))
        crop = canvas[int(y) : int(y) + size, int(x) : int(x) + size]
        age = -1 if onset is None else t - onset
        if age < 0:
            density: np.ndarray | float = 0.0
        elif puff:
            sigma = size * (0.05 + 0.015 * age)
            density = min(0.9, 0.5 + ramp * age) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
        else:
            density = min(0.9, ramp * (age + 1))
        frames.append(_veil(crop, density))
        dens.append(float(np.max(density)))
    return np.stack(frames), np.asarray(dens)


def _veil(frame: np.ndarray, density: np.ndarray | float) -> np.ndarray:
    """I = J (1 - d) + A d with a scalar or (H, W) density, as uint8."""
    d = np.asarray(density, dtype=np.float32)
    d = d[..., None] if d.ndim == 2 else d
    out = frame.astype(np.float32) * (1.0 - d) + AIRLIGHT * d
    return np.clip(out, 0.0, 255.0).round().astype(np.uint8)


def test_score_range_and_version() -> None:
    assert 0.0 <= smoke_score(_veil(_tissue(0), 0.0)) <= 1.0
    for value in (0, 255):
        assert 0.0 <= smoke_score(np.full((8, 8, 3), value, np.uint8)) <= 1.0
    assert smoke_score(np.zeros((1, 1, 3), np.uint8)) >= 0.0
    assert smoke_score(np.zeros((1080, 1920, 3), np.uint8)) >= 0.0
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
def test_onset_of_a_uniform_veil_from_scores(seed: int, onset: int, ramp: float) -> None:
    frames, dens = _shot(seed, 30, onset, ramp=ramp)
    found = detect_onset(smoke_scores(frames))
    assert found is not None and abs(found - onset) <= 1
    assert dens[found - 1] == 0.0  # the implied PS frame is smoke-free
    scan = scan_frames(frames)
    with_emergence = detect_onset(scan.scores, emergence=scan.emergence)
    assert with_emergence is not None and abs(with_emergence - onset) <= 1


@pytest.mark.parametrize(("seed", "onset"), [(7, 1), (8, 4), (9, 11)])
def test_onset_of_a_local_puff_is_exact_with_emergence(seed: int, onset: int) -> None:
    frames, dens = _shot(seed, 30, onset, puff=True, ramp=0.02)
    scan = scan_frames(frames)
    assert scan.cuts.size == 0
    assert scan.emergence[onset] > 10 * max(float(np.max(scan.emergence[:onset])), 1e-4)
    assert detect_onset(scan.scores, emergence=scan.emergence) == onset
    assert dens[onset - 1] == 0.0


def test_no_onset_without_smoke_despite_camera_motion() -> None:
    for seed in range(4):
        frames, _ = _shot(10 + seed, 40, None, motion=2.0)
        scan = scan_frames(frames)
        assert scan.cuts.size == 0
        assert detect_onset(scan.scores) is None
        assert detect_onset(scan.scores, emergence=scan.emergence) is None
        assert detect_events(scan.scores, cuts=scan.cuts, emergence=scan.emergence) == []


def test_a_sudden_dense_puff_is_not_a_cut() -> None:
    frames, _ = _shot(30, 20, 8, puff=True, ramp=0.3)
    assert scan_frames(frames).cuts.size == 0


def _concatenated(
    onsets: list[int | None], n: int = 30, *, puffs: bool = True
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Shots of ``n`` frames (seeds 20, 21, ...) end to end; every other one smokes with a puff."""
    frames, dens, starts = [], [], []
    for i, onset in enumerate(onsets):
        f, d = _shot(20 + i, n, onset, ramp=0.04 + 0.02 * (i % 3), puff=puffs and i % 2 == 1)
        starts.append(i * n)
        frames.append(f)
        dens.append(d)
    return np.concatenate(frames), np.concatenate(dens), starts


@pytest.mark.parametrize("use_emergence", [True, False])
def test_events_cut_correctly_on_concatenated_video(use_emergence: bool) -> None:
    onsets = [5, 12, None, 2, 9]
    frames, dens, starts = _concatenated(onsets, puffs=use_emergence)  # small puffs need emergence
    scan = scan_frames(frames)
    assert scan.cuts.tolist() == starts[1:]
    emergence = scan.emergence if use_emergence else None
    events = detect_events(scan.scores, min_frames=10, max_frames=20, cuts=scan.cuts, emergence=emergence)
    truth = [s + o for s, o in zip(starts, onsets, strict=True) if o is not None]
    assert len(events) == len(truth)
    for ev, true_onset in zip(events, truth, strict=True):
        assert isinstance(ev, SmokeEvent)
        assert abs(ev.onset_index - true_onset) <= 1
        assert ev.onset_index == ev.ps_index + 1
        assert dens[ev.ps_index] == 0.0
        assert 10 <= ev.n_frames <= 20
        shot = ev.ps_index // 30
        assert ev.end_index <= (shot + 1) * 30  # never across a cut
    for a, b in zip(events[:-1], events[1:], strict=True):
        assert a.end_index <= b.ps_index


def test_events_dropped_when_shot_too_short_and_smoke_must_clear() -> None:
    frames, _, _ = _concatenated([25, 5])  # the first onset leaves 6 frames before the cut
    scan = scan_frames(frames)
    events = detect_events(scan.scores, min_frames=10, cuts=scan.cuts, emergence=scan.emergence)
    assert [e.onset_index for e in events] in ([35], [34], [36])
    # One long smoky shot yields one event, capped at max_frames, not one per max_frames.
    frames, _ = _shot(40, 80, 5, ramp=0.02)
    events = detect_events(smoke_scores(frames), min_frames=10, max_frames=30)
    assert len(events) == 1 and events[0].n_frames == 30


def test_event_ends_when_the_smoke_clears_and_a_second_one_follows() -> None:
    scores = np.full(60, 0.2)
    scores[10:20] = np.linspace(0.25, 0.4, 10)  # smoke from frame 10, gone from 20
    scores[40:] = 0.35  # more smoke from frame 40
    events = detect_events(scores, min_frames=5, max_frames=50)
    assert events == [SmokeEvent(9, 10, 20), SmokeEvent(39, 40, 60)]


def test_without_cuts_ps_frames_stay_smoke_free() -> None:
    frames, dens, _ = _concatenated([5, 8, 3], puffs=False)
    events = detect_events(smoke_scores(frames))
    assert events and events[0].onset_index in (4, 5, 6)
    assert all(dens[e.ps_index] == 0.0 for e in events)


def test_synthetic_tiny_preset() -> None:
    config = synthetic.PRESETS["tiny"]
    clips = [synthetic.render_clip(config, split, index) for split in ("train", "test") for index in range(2)]
    for smoky, _clean, density, meta in clips:
        scan = scan_frames(smoky)
        assert detect_onset(scan.scores, emergence=scan.emergence) == meta.onset_index
        found = detect_onset(scan.scores)
        assert found is not None and abs(found - meta.onset_index) <= 1
        assert float(density[found - 1].max()) == 0.0
    # Concatenated: one event per clip, each starting at a smoke-free PS frame.
    smoky = np.concatenate([c[0] for c in clips])
    density = np.concatenate([c[2] for c in clips])
    starts = np.cumsum([0] + [c[0].shape[0] for c in clips[:-1]])
    scan = scan_frames(smoky)
    assert scan.cuts.tolist() == starts[1:].tolist()
    events = detect_events(scan.scores, cuts=scan.cuts, emergence=scan.emergence, min_frames=3, max_frames=12)
    assert [e.onset_index for e in events] == [s + c[3].onset_index for s, c in zip(starts, clips, strict=True)]
    assert all(float(density[e.ps_index].max()) == 0.0 for e in events)


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
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        smoke_scores(np.zeros((4, 16, 16), np.uint8))
    with pytest.raises(ValueError, match="size of frame 0"):
        scan_frames([good, np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(ValueError, match="cut_threshold"):
        scan_frames([good], cut_threshold=2.0)
    with pytest.raises(ValueError, match="NaN"):
        detect_onset(np.array([0.1, np.nan, 0.2]))
    with pytest.raises(ValueError, match="empty"):
        detect_events(np.array([]))
    with pytest.raises(ValueError, match="1-D"):
        detect_events(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="emergence"):
        detect_events(np.zeros(20), emergence=np.zeros(19))
    with pytest.raises(ValueError, match="min_frames"):
        detect_events(np.zeros(20), min_frames=30, max_frames=20)
    with pytest.raises(ValueError, match="cuts"):
        detect_events(np.zeros(20), cuts=[25])
    with pytest.raises(ValueError, match="persist"):
        detect_onset(np.zeros(5), dataclasses.replace(DetectionParams(), persist=0))
