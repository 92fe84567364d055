"""Contrast-limited adaptive histogram equalisation on the lightness channel, frame by frame.

CLAHE (K. Zuiderveld, "Contrast Limited Adaptive Histogram Equalization", Graphics Gems IV, 1994): histograms
equalised per tile, each histogram clipped at ``clip_limit`` times its mean bin count (the excess redistributed),
tile mappings bilinearly interpolated. Applied with OpenCV (``cv2.createCLAHE``) to the L channel of CIE L*a*b*
(``cv2.COLOR_RGB2LAB`` on uint8: L scaled to 0..255), so hue and chroma are kept.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from baselines.base import Clip, Method
from baselines.classical._common import per_frame
from baselines.registry import register_method

CITATION = "K. Zuiderveld, Contrast Limited Adaptive Histogram Equalization, Graphics Gems IV, 1994"


@register_method("clahe")
class CLAHEEnhancement(Method):
    """CLAHE on the L channel of CIE Lab, frame by frame.

    Args:
        clip_limit: contrast limit (multiple of the mean histogram bin count), default 2.0.
        tiles: the tile grid, passed to OpenCV as ``tileGridSize``; default ``(8, 8)``.
    """

    citation = CITATION

    def __init__(self, clip_limit: float = 2.0, tiles: tuple[int, int] = (8, 8)) -> None:
        self.clip_limit = float(clip_limit)
        self.tiles = (int(tiles[0]), int(tiles[1]))

    def settings(self) -> dict[str, Any]:
        return {"clip_limit": self.clip_limit, "tiles": list(self.tiles)}

    def desmoke_frame(self, frame: np.ndarray, clahe: Any = None) -> np.ndarray:
        """uint8 ``(H, W, 3)`` RGB -> uint8 ``(H, W, 3)`` RGB."""
        clahe = clahe or cv2.createCLAHE(clipLimit=self.clip_limit, tileGridSize=self.tiles)
        lab = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2LAB)
        lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
        return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)

    def desmoke(self, clip: Clip) -> np.ndarray:
        clahe = cv2.createCLAHE(clipLimit=self.clip_limit, tileGridSize=self.tiles)
        return per_frame(clip.lqs, lambda f: self.desmoke_frame(f, clahe))
