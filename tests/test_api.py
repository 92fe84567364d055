"""The public Python API: the modules the README documents declare ``__all__``, and every name in
every ``__all__`` of the toolkit exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import baselines
import benchmarks
import lsvd
import reports

#: Modules of the README's "Python API" section.
DOCUMENTED = ["lsvd.prepare", "lsvd.data.manifest", "lsvd.masks.pipeline", "lsvd.train.config", "lsvd.train.loop",
              "lsvd.desmoke", "lsvd.hf", "lsvd.io.weights", "lsvd.io.hashing", "lsvd.io.pixels", "lsvd.io.images",
              "lsvd.cli", "lsvd.errors", "lsvd.models.registry", "baselines.registry", "baselines.base",
              "benchmarks.run", "benchmarks.results", "benchmarks.metrics.base", "benchmarks.metrics.reference"]


def _modules() -> list[str]:
    names = []
    for package in (lsvd, baselines, benchmarks, reports):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not any(part.startswith("_") for part in info.name.split(".")) and "perf" not in info.name:
                names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_documented_modules_declare_all(name: str):
    assert hasattr(importlib.import_module(name), "__all__"), f"{name} has no __all__"


def test_every_all_names_what_exists():
    broken = {}
    for name in _modules():
        module = importlib.import_module(name)
        missing = [n for n in getattr(module, "__all__", ()) if not hasattr(module, n)]
        if missing:
            broken[name] = missing
    assert not broken
