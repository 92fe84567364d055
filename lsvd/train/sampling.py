"""Reproducible, resumable, rank-aware sampling of training windows.

Every sample of a run has a global draw number ``k = (iteration * world_size + rank) * batch_size + slot``.
Draw ``k`` picks clip ``perm_e[k mod n]`` of the epoch ``e = k // n`` permutation (each clip once
per epoch, as a shuffled loader over the official repeated list) and takes its window start, crop
and flip from a generator seeded with ``(seed, k)``. So a sample depends only on the seed and its
draw number, not on worker processes, and resuming at iteration ``i`` continues exactly where an
uninterrupted run would be. Each DDP rank draws its own disjoint numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Dataset, Sampler

from lsvd.data.datasets import TrainWindows

_SEED_STRIDE = 1_000_003  # keeps (seed, draw) pairs apart


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


class SeededWindows(Dataset):
    """``TrainWindows`` addressed by global draw number (an unbounded index space).

    Args:
        windows: the training windows (one entry per clip).
        seed: the run's seed.
    """

    def __init__(self, windows: TrainWindows, seed: int) -> None:
        self.windows = windows
        self.seed = seed
        self.num_clips = len(windows.clips)
        self._perm_epoch = -1
        self._perm: list[int] = []

    def __len__(self) -> int:  # a nominal length; the sampler decides what is drawn
        return self.num_clips

    def clip_index(self, draw: int) -> int:
        """The clip of draw ``draw``: position ``draw mod n`` of the permutation of epoch ``draw // n``."""
        epoch, pos = divmod(draw, self.num_clips)
        if epoch != self._perm_epoch:
            g = _generator(self.seed * _SEED_STRIDE - epoch - 1)
            self._perm = torch.randperm(self.num_clips, generator=g).tolist()
            self._perm_epoch = epoch
        return self._perm[pos]

    def __getitem__(self, draw: int) -> dict:
        item = self.windows.sample(self.clip_index(draw), _generator(self.seed * _SEED_STRIDE + draw))
        item["draw"] = draw
        return item


class DrawSampler(Sampler[list[int]]):
    """Batches of draw numbers for one rank, from iteration ``start`` to ``stop`` (a batch sampler).

    Args:
        batch_size: samples per rank and iteration.
        start, stop: iteration range ``[start, stop)``.
        rank, world_size: this process among the DDP processes.
    """

    def __init__(self, batch_size: int, start: int, stop: int, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.batch_size, self.start, self.stop = batch_size, start, stop
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        for it in range(self.start, self.stop):
            first = (it * self.world_size + self.rank) * self.batch_size
            yield list(range(first, first + self.batch_size))
