"""One generic registry for every pluggable kind (flows, models, methods, metrics).

    FLOWS = Registry("flow")

    @FLOWS.register("dis")
    class DISFlow: ...

    FLOWS.create("dis", **kwargs)      # an instance (or the function's result)
    FLOWS.list("p*")                  # sorted names matching a glob pattern
    FLOWS.get("dis")                  # the registered object itself

Unknown names raise :class:`KeyError` listing close matches and every known name. Registration
happens when the module defining the entry is imported. A registry finds its entries itself, lazily
(on the first ``get``, ``list``, ``create`` or ``in``; never at toolkit import time), from:

- ``builtins``: module names, each imported;
- ``packages``: package names, every public module of each imported (recursively; names starting
  with ``_`` are skipped), so a new entry is one new file with the decorator;
- ``entry_points``: an entry-point group (``importlib.metadata``) whose entries name further
  modules or packages (imported as ``packages``): how another installed package adds its entries
  without the registry's owner importing it.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.metadata
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

__all__ = ["Registry", "entry_point_modules", "import_package"]

T = TypeVar("T")


def import_package(name: str) -> None:
    """Import module ``name`` and, for a package, every public module under it (recursively).

    Names starting with ``_`` (``_common``, ``__main__``) are skipped; import errors are raised.
    """
    module = importlib.import_module(name)
    for info in pkgutil.iter_modules(getattr(module, "__path__", None) or []):
        if not info.name.startswith("_"):
            import_package(f"{name}.{info.name}")


def entry_point_modules(group: str) -> list[str]:
    """The modules named by entry points of ``group``, over every installed distribution, in order.

    Unlike ``importlib.metadata.entry_points``, which keeps the first distribution of each name on
    ``sys.path``, this reads them all: a stale ``*.egg-info`` left in a source checkout (first on the
    path when run from there) does not hide the entry points of the installed metadata.
    """
    modules: list[str] = []
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == group and ep.module not in modules:
                modules.append(ep.module)
    return modules


def _origin(obj: Any) -> tuple[str, str]:
    return getattr(obj, "__module__", ""), getattr(obj, "__qualname__", repr(obj))


class Registry(Generic[T]):
    """Name -> object (class or factory function) for one kind of pluggable thing."""

    def __init__(self, kind: str, builtins: Iterable[str] = (), *, packages: Iterable[str] = (),
                 entry_points: str | None = None):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._builtins = tuple(builtins)
        self._packages = tuple(packages)
        self._entry_points = entry_points
        self._loaded = not (self._builtins or self._packages or self._entry_points)

    def _load_builtins(self) -> None:
        """Import the registry's modules once (see the module docstring); a failed import is raised
        again on the next lookup, never left as a silently shorter registry."""
        if self._loaded:
            return
        self._loaded = True  # set first: the imported modules may look names up while registering
        try:
            for module in self._builtins:
                importlib.import_module(module)
            for package in self._packages:
                import_package(package)
            if self._entry_points:
                for module in entry_point_modules(self._entry_points):
                    import_package(module)
        except BaseException:
            self._loaded = False
            raise

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name`` (a name can be registered once; a module executed
        again, e.g. reloaded, replaces its own entries)."""

        def deco(obj: T) -> T:
            if name in self._entries and _origin(self._entries[name]) != _origin(obj):
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
            plugins = (f"; other installed packages add theirs through the entry-point group {self._entry_points!r}: "
                       "reinstall one whose entries are missing, e.g. `pip install -e .`" if self._entry_points else "")
            raise KeyError(
                f"unknown {self.kind} {name!r}{hint} Known: {', '.join(sorted(self._entries)) or 'none'} "
                f"(list them with --list{plugins})"
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
