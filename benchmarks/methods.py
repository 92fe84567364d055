"""What a benchmark runs: desmoking methods behind one interface and one registry.

    method = create_method("selfsvd", checkpoint="runs/cpu", device="cpu")
    out = method.desmoke(clip)            # uint8 (T, H, W, 3), the same size as clip.lqs
    method.describe()                     # kind, citation, video, uses_ps, needs_training, licence, ...
    method.cache_key()                    # changes whenever the outputs may change (weights, settings)

The interface (:class:`~baselines.base.Clip`, :class:`~baselines.base.Method`) lives in
:mod:`baselines.base`; this module holds the registry, ``identity`` (the smoky input: the floor of
every leaderboard) and the lookup of ``external:DIR``; every other method comes from
:mod:`baselines` (:mod:`baselines.catalogue`: classical, learned incl. SelfSVD, SelfSVD* and the
ablations, external outputs). A learned method without ``checkpoint`` trains its CPU preset on the
default data first (once; cached under ``$LSVD_HOME/runs``), so ``python -m benchmarks.run
--method selfsvd`` works on a fresh machine.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from baselines.base import Clip, Method
from lsvd.registry import Registry

log = logging.getLogger(__name__)


METHODS: Registry[type[Method]] = Registry("method", builtins=["benchmarks.methods", "benchmarks.baseline_methods"])


def create_method(name: str, **options: Any) -> Method:
    """Instantiate the method registered as ``name`` with ``options``.

    ``external:DIR`` (or ``external:DIR::MAPPING.csv``) reads outputs produced elsewhere from ``DIR``
    (:class:`baselines.external.ExternalOutputs`). Options a method does not take are dropped
    (e.g. ``checkpoint`` for a classical method).
    """
    import inspect

    if name.startswith("external:"):
        cls = METHODS.get("external")
        folder, _, mapping = name[len("external:"):].partition("::")
        options = {**options, "folder": folder, "mapping": mapping or None}
    else:
        cls = METHODS.get(name)
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        options = {k: v for k, v in options.items() if k in params}
    return cls(**options)


def list_methods(pattern: str = "*") -> list[str]:
    return METHODS.list(pattern)


@METHODS.register("identity")
class Identity(Method):
    """The smoky input itself: the floor every method must beat."""

    name = "identity"
    kind = "reference"
    citation = "-"

    def __init__(self, **_: Any) -> None:
        pass

    def desmoke(self, clip: Clip) -> np.ndarray:
        return clip.lqs.copy()
