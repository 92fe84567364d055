"""Registers every baseline of :mod:`baselines` (see :mod:`baselines.catalogue`) in the method registry."""

from __future__ import annotations

from baselines.catalogue import iter_method_classes
from benchmarks.methods import METHODS

for _cls in iter_method_classes():
    METHODS.register(_cls.name)(_cls)
