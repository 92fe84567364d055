"""Every baseline method class, for the benchmark's registry (``benchmarks.methods`` registers them by ``name``).

Each subpackage lists its classes in ``METHOD_CLASSES``; adding a baseline is one class there.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from baselines.base import Method

#: Modules whose ``METHOD_CLASSES`` are registered.
MODULES = ("baselines.learned.selfsvd", "baselines.classical", "baselines.learned", "baselines.external")


def iter_method_classes() -> Iterator[type[Method]]:
    """The baseline classes, in catalogue order (imports their modules)."""
    for name in MODULES:
        yield from importlib.import_module(name).METHOD_CLASSES
