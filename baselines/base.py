"""The method interface every desmoking method implements (baselines, SelfSVD, external outputs).

    @register_method("my_method")                             # baselines.registry
    class MyMethod(Method):
        kind = "classical"; citation = "..."
        def desmoke(self, clip: Clip) -> np.ndarray: ...       # uint8 (T, H, W, 3)

A method receives a :class:`Clip` (the smoky frames after the PS frame, the PS frame, the clip's
SelfSVD mask) and returns desmoked frames of the same size. It declares its metadata as class
attributes (kind, citation, single-image or video, uses the PS frame at test time, needs
training, licence); the decorator sets its ``name``. A module under ``baselines/`` that defines
one is found by the registry (:mod:`baselines.registry`) on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lsvd.io.hashing import digest

__all__ = ["Clip", "Method"]


@dataclass
class Clip:
    """One clip to desmoke.

    Attributes:
        clip_id: the manifest's clip id.
        lqs: uint8 ``(T, H, W, 3)`` RGB smoky frames after the PS frame.
        ps: uint8 ``(H, W, 3)`` the PS frame.
        mask: float32 ``(T, 1, H/4, W/4)`` SelfSVD mask (1 = PS features hidden) or ``None``.
        frame_numbers: ``(T,)`` frame numbers of ``lqs`` in the source.
    """

    clip_id: str
    lqs: np.ndarray
    ps: np.ndarray
    mask: np.ndarray | None = None
    frame_numbers: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class Method:
    """Base class: subclasses set the class attributes and implement :meth:`desmoke`."""

    name = ""  #: the registered name (set by ``register_method``)
    kind = "classical"  #: classical | learned | external | reference
    citation = ""
    video = False  #: uses several frames at once
    uses_ps = False  #: reads the PS frame at test time
    uses_mask = False  #: reads the clip's SelfSVD mask at test time (hides the PS features under it)
    needs_training = False
    licence = "Apache-2.0"
    ablation_of = ""  #: the method this one is an ablation of (ablation tables group them)
    ablation = ""  #: what the ablation changes, e.g. "w/o mask"

    def desmoke(self, clip: Clip) -> np.ndarray:
        """uint8 ``(T, H, W, 3)`` desmoked frames for ``clip.lqs``."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """Everything that determines the outputs besides the clip (weights hash, options)."""
        return {}

    def cache_key(self) -> str:
        """sha256 (16 hex) of the method name, class and :meth:`settings`."""
        payload = {"method": self.name, "class": type(self).__qualname__, **self.settings()}
        return digest(payload)

    def describe(self) -> dict[str, Any]:
        return {"method": self.name, "kind": self.kind, "citation": self.citation, "video": self.video,
                "uses_ps": self.uses_ps, "uses_mask": self.uses_mask, "needs_training": self.needs_training,
                "licence": self.licence, "ablation_of": self.ablation_of, "ablation": self.ablation}

    def model(self) -> Any:
        """The ``torch.nn.Module`` for parameter / MAC counting, or ``None``."""
        return None
