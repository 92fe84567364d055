"""The method registry: every desmoking method a benchmark can run, by name.

    @register_method("my_method")             # in any module under baselines/: found automatically
    class MyMethod(Method): ...

    method = create_method("clahe", clip_limit=3.0)
    list_methods("selfsvd*")                  # sorted names

The registry imports every public module of :mod:`baselines` (recursively; ``_``-prefixed helper
modules are skipped) on the first lookup or listing, never at import time, so a new method is one
file under ``baselines/`` with the decorator. :func:`create_method` rejects options a method does
not take (naming them, the accepted ones and close matches), except the run-wide
:data:`RUN_OPTIONS` the benchmark runner gives every method.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from baselines.base import Method
from lsvd.registry import Registry

__all__ = ["METHODS", "RUN_OPTIONS", "create_method", "list_methods", "register_method"]

METHODS: Registry[type[Method]] = Registry("method", packages=["baselines"])

#: Run-wide settings the benchmark runner passes to every method; a method whose constructor does not
#: take one ignores it (a classical method has no ``checkpoint``). Any other option must be accepted.
RUN_OPTIONS = frozenset({"checkpoint", "device", "data_root", "progress", "masks", "train_seed", "train_preset"})

M = TypeVar("M", bound=type[Method])


def register_method(name: str) -> Callable[[M], M]:
    """Class decorator: register a :class:`~baselines.base.Method` subclass as ``name`` (sets ``cls.name``)."""

    def deco(cls: M) -> M:
        if not (isinstance(cls, type) and issubclass(cls, Method)):
            raise TypeError(f"method {name!r}: expected a subclass of baselines.base.Method, got {cls!r}")
        declared = cls.__dict__.get("name", name)
        if declared != name:
            raise ValueError(f"method {name!r} ({cls.__module__}.{cls.__qualname__}) declares name {declared!r}")
        cls.name = name
        return METHODS.register(name)(cls)

    return deco


def _accepted_options(cls: type) -> tuple[list[str], bool]:
    """``(keyword options of cls's constructor, whether it takes **kwargs)``."""
    params = inspect.signature(cls).parameters.values()
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def create_method(name: str, **options: Any) -> Method:
    """Instantiate the method registered as ``name`` with ``options``.

    ``external:DIR`` (or ``external:DIR::MAPPING.csv``) reads outputs produced elsewhere from ``DIR``
    (:class:`baselines.external.ExternalOutputs`). Options in :data:`RUN_OPTIONS` that a method does
    not take are dropped; any other option it does not take is a ``TypeError`` naming it, the
    accepted options and close matches (``clip_limt`` -> ``clip_limit``).
    """
    if name.startswith("external:"):
        cls = METHODS.get("external")
        folder, _, mapping = name[len("external:"):].partition("::")
        options = {**options, "folder": folder, "mapping": mapping or None}
    else:
        cls = METHODS.get(name)
    accepted, var_keyword = _accepted_options(cls)
    if not var_keyword:
        unknown = [k for k in options if k not in accepted and k not in RUN_OPTIONS]
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, accepted, n=3)
                hints.append(f"{key!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
            raise TypeError(f"method {name!r}: unknown option{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(hints)}; it accepts: {', '.join(accepted) or 'no options'}")
        options = {k: v for k, v in options.items() if k in accepted}
    return cls(**options)


def list_methods(pattern: str = "*") -> list[str]:
    """Registered method names matching a glob ``pattern``, sorted."""
    return METHODS.list(pattern)
