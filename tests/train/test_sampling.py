"""lsvd.train.sampling: samples depend only on (seed, draw number); rank-disjoint, resumable batches."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lsvd.data.datasets import TrainWindows
from lsvd.train.sampling import DrawSampler, SeededWindows


def _dataset(root: Path, seed: int = 0) -> SeededWindows:
    return SeededWindows(TrainWindows(root, "train", num_frames=5, crop_size=32, flip=True), seed)


def _equal(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in ("lqs", "ps", "mask", "frame_numbers", "crop")) and \
        a["clip_id"] == b["clip_id"]


def test_same_draw_same_sample(tiny_root: Path) -> None:
    a, b = _dataset(tiny_root), _dataset(tiny_root)
    forward = [a[k] for k in range(6)]
    backward = [b[k] for k in reversed(range(6))][::-1]  # other order, fresh object (other permutation cache)
    torch.manual_seed(123)  # the global RNG plays no part
    again = [a[k] for k in (5, 0, 3, 1, 4, 2)]
    for k in range(6):
        assert forward[k]["draw"] == k
        assert _equal(forward[k], backward[k])
    for k, item in zip((5, 0, 3, 1, 4, 2), again, strict=True):
        assert _equal(forward[k], item)


def test_draws_and_seeds_differ(tiny_root: Path) -> None:
    ds = _dataset(tiny_root)
    crops = {tuple(ds[k]["crop"].tolist()) + (ds[k]["clip_id"], int(ds[k]["frame_numbers"][0])) for k in range(8)}
    assert len(crops) >= 6  # window start, crop and flip are drawn per draw
    other = _dataset(tiny_root, seed=1)
    assert any(not _equal(ds[k], other[k]) for k in range(4))


def test_each_epoch_covers_every_clip_once(tiny_root: Path) -> None:
    ds = _dataset(tiny_root)
    n = ds.num_clips
    assert n == 2
    orders = []
    for epoch in range(6):
        clips = [ds.clip_index(epoch * n + pos) for pos in range(n)]
        assert sorted(clips) == list(range(n))
        orders.append(tuple(clips))
    assert len(set(orders)) > 1  # epochs are shuffled, not a fixed order


def test_epoch_permutation_larger_index_space() -> None:
    class Fake:
        clips = list(range(7))

    ds = SeededWindows(Fake(), seed=3)  # type: ignore[arg-type]
    for epoch in (0, 1, 5):
        assert sorted(ds.clip_index(epoch * 7 + p) for p in range(7)) == list(range(7))
    first = [ds.clip_index(k) for k in range(14)]
    assert [SeededWindows(Fake(), seed=3).clip_index(k) for k in reversed(range(14))][::-1] == first  # type: ignore


def test_draw_sampler_ranks_disjoint_and_deterministic() -> None:
    r0 = list(DrawSampler(3, 0, 5, rank=0, world_size=2))
    r1 = list(DrawSampler(3, 0, 5, rank=1, world_size=2))
    assert len(r0) == len(r1) == len(DrawSampler(3, 0, 5, rank=1, world_size=2)) == 5
    assert all(len(b) == 3 for b in r0 + r1)
    flat0, flat1 = [k for b in r0 for k in b], [k for b in r1 for k in b]
    assert not set(flat0) & set(flat1)
    assert sorted(flat0 + flat1) == list(range(30))  # no draw skipped either
    assert r0 == list(DrawSampler(3, 0, 5, rank=0, world_size=2))
    single = list(DrawSampler(2, 0, 4))
    assert single == [[0, 1], [2, 3], [4, 5], [6, 7]]
    with pytest.raises(ValueError, match="rank 2 outside world size 2"):
        DrawSampler(1, 0, 1, rank=2, world_size=2)


def test_draw_sampler_start_offset() -> None:
    for rank in (0, 1):
        whole = list(DrawSampler(2, 0, 6, rank=rank, world_size=2))
        assert list(DrawSampler(2, 2, 6, rank=rank, world_size=2)) == whole[2:]
        assert list(DrawSampler(2, 0, 2, rank=rank, world_size=2)) + list(DrawSampler(2, 2, 6, rank=rank,
                                                                                         world_size=2)) == whole
    assert len(DrawSampler(1, 5, 3)) == 0 and list(DrawSampler(1, 5, 3)) == []
