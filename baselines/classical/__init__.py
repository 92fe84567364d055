"""Classical baselines (no training): see the modules of this package."""

from __future__ import annotations

from baselines.classical.cap import ColourAttenuationPrior
from baselines.classical.clahe import CLAHEEnhancement
from baselines.classical.dcp import DarkChannelPrior
from baselines.classical.msrcr import MultiScaleRetinex

#: The method classes of this package, registered by the benchmark (baselines.catalogue).
METHOD_CLASSES: list = [DarkChannelPrior, ColourAttenuationPrior, CLAHEEnhancement, MultiScaleRetinex]

__all__ = ["METHOD_CLASSES", "CLAHEEnhancement", "ColourAttenuationPrior", "DarkChannelPrior", "MultiScaleRetinex"]
