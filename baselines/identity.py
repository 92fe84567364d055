"""``identity``: the smoky input itself, the floor every method must beat (the benchmark always scores it)."""

from __future__ import annotations

import numpy as np

from baselines.base import Clip, Method
from baselines.registry import register_method

__all__ = ["Identity"]


@register_method("identity")
class Identity(Method):
    """The smoky input itself: the floor every method must beat."""

    kind = "reference"
    citation = "-"

    def desmoke(self, clip: Clip) -> np.ndarray:
        return clip.lqs.copy()
