"""Per-iteration cosine learning-rate schedule of SelfSVD (spec/selfsvd-official.md §4.3).

``lr_k = min_lr + 0.5 (base_lr - min_lr)(1 + cos(pi k / period))``, updated every iteration, no
warm-up, one absolute ``min_lr`` shared by all parameter groups (G and D alike). The official runs
use a single period equal to the run length (SelfSVD: 100,000 it, min 1e-7; SelfSVD*: 50,000 it,
min 5e-6); past the period the rate stays at ``min_lr`` here.

    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
    sched = cosine_scheduler(opt, min_lr=1e-7, period=100_000)
    for it in range(total):
        ...; opt.step(); sched.step()
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR


def cosine_lr(step: int, base_lr: float, min_lr: float, period: int) -> float:
    """The learning rate at iteration ``step`` (0-based): ``base_lr`` at 0, ``min_lr`` at ``period`` and after.

    Args:
        step: iteration index, ``>= 0``; clamped to ``period``.
        base_lr: initial learning rate.
        min_lr: the floor (absolute, not a fraction of ``base_lr``).
        period: iterations of the half cosine, ``>= 1``.
    """
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    k = min(step, period)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * k / period))


class CosineFactor:
    """``LambdaLR`` multiplier ``cosine_lr(step, base_lr, min_lr, period) / base_lr`` for one parameter group.

    A callable object (not a lambda) so that ``LambdaLR.state_dict()`` stores its settings.
    """

    def __init__(self, base_lr: float, min_lr: float, period: int) -> None:
        if base_lr <= 0:
            raise ValueError(f"base_lr must be > 0, got {base_lr}")
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.base_lr = float(base_lr)
        self.min_lr = float(min_lr)
        self.period = int(period)

    def __call__(self, step: int) -> float:
        return cosine_lr(step, self.base_lr, self.min_lr, self.period) / self.base_lr


def cosine_scheduler(optimizer: torch.optim.Optimizer, min_lr: float, period: int) -> LambdaLR:
    """A ``LambdaLR`` giving each parameter group ``cosine_lr(k, group_lr, min_lr, period)`` at iteration ``k``.

    Call ``scheduler.step()`` once per iteration (after ``optimizer.step()``). The base rate of each
    group is its ``lr`` when the scheduler is built (``initial_lr`` if already set, e.g. on resume).
    ``state_dict()`` / ``load_state_dict()`` round-trip the iteration and the settings.
    """
    factors = [CosineFactor(g.get("initial_lr", g["lr"]), min_lr, period) for g in optimizer.param_groups]
    return LambdaLR(optimizer, lr_lambda=factors)
