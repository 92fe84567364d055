"""One generic registry for every pluggable kind (flows, models, methods, metrics).

    FLOWS = Registry("flow")

    @FLOWS.register("dis")
    class DISFlow: ...

    FLOWS.create("dis", **kwargs)      # an instance (or the function's result)
    FLOWS.list("p*")                  # sorted names matching a glob pattern
    FLOWS.get("dis")                  # the registered object itself

Unknown names raise :class:`KeyError` listing close matches and every known name. Registration
happens when the module defining the entry is imported; modules that own a registry import
their built-in entries lazily (``Registry(..., builtins=[module names])``), never at toolkit
import time.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object (class or factory function) for one kind of pluggable thing."""

    def __init__(self, kind: str, builtins: Iterable[str] = ()):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._builtins = tuple(builtins)
        self._loaded = not self._builtins

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._builtins:
                importlib.import_module(module)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name`` (a name can be registered once)."""

        def deco(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered ({self._entries[name]!r})")
            self._entries[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        self._load_builtins()
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(
                f"unknown {self.kind} {name!r}{hint} Known: {', '.join(sorted(self._entries)) or 'none'} "
                f"(list them with --list)"
            ) from None

    def create(self, name: str, **kwargs: Any) -> Any:
        """Call the registered class or factory with ``kwargs``."""
        return self.get(name)(**kwargs)  # type: ignore[operator]

    def list(self, pattern: str = "*") -> list[str]:
        """Registered names matching a glob ``pattern``, sorted."""
        self._load_builtins()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._entries
