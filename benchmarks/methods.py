"""What a benchmark runs: desmoking methods behind one interface and one registry.

    method = create_method("selfsvd", checkpoint="runs/cpu", device="cpu")
    out = method.desmoke(clip)            # uint8 (T, H, W, 3), the same size as clip.lqs
    method.describe()                     # kind, citation, video, uses_ps, needs_training, licence, ...
    method.cache_key()                    # changes whenever the outputs may change (weights, settings)

The interface (:class:`~baselines.base.Clip`, :class:`~baselines.base.Method`) lives in
:mod:`baselines.base` and the registry in :mod:`baselines.registry`: every method, ``identity``
(the smoky input: the floor of every leaderboard) included, is a class in a module under
``baselines/`` registered with ``@register_method(name)`` and found there on the first lookup.
This module is the benchmark's entry to them. A learned method without ``checkpoint`` trains its
CPU preset on the default data first (once; cached under ``$LSVD_HOME/runs``), so
``python -m benchmarks.run --method selfsvd`` works on a fresh machine.
"""

from __future__ import annotations

from baselines.base import Clip, Method
from baselines.registry import METHODS, RUN_OPTIONS, create_method, list_methods, register_method

__all__ = ["METHODS", "RUN_OPTIONS", "Clip", "Method", "create_method", "list_methods", "register_method"]
