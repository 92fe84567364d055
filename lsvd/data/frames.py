"""Read a clip's frames whatever their storage (one PNG per frame, or frames inside a video)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lsvd.constants import STORAGE_VIDEO
from lsvd.io.images import read_rgb
from lsvd.io.video import read_frames

__all__ = ["load_frames"]


def load_frames(storage: str, paths: Sequence[str], numbers: Sequence[int], indices: Sequence[int]
                ) -> list[np.ndarray]:
    """uint8 RGB (H, W, 3) frames at ``indices`` of a clip whose frames are ``paths[i]`` /
    ``numbers[i]`` (absolute paths; for video storage every path is the same video file)."""
    if storage == STORAGE_VIDEO:
        decoded = read_frames(paths[0], [numbers[i] for i in indices])
        return [decoded[numbers[i]] for i in indices]
    return [read_rgb(paths[i]) for i in indices]
