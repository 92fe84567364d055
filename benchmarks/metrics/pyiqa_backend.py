"""Optional pyiqa backend: ``--metrics pyiqa:NAME`` scores with any pyiqa metric when pyiqa is installed.

pyiqa is not a dependency (it needs torchvision, downloads its weights at run time and is licensed
PolyForm-Noncommercial-1.0.0). When it is importable, ``get_metric("pyiqa:musiq")`` wraps
``pyiqa.create_metric("musiq")``; otherwise the metric is reported as *missing* with how to get it.

PI (the perceptual index of the official protocol, ``0.5 * ((10 - NRQM) + NIQE)``) needs the NRQM
model, which no registry package ships and which is not implemented natively here: ``pi`` is
computed through pyiqa when it is installed (with its NRQM weights), else reported as missing.
"""

from __future__ import annotations

import importlib.util
import math
from functools import cache
from typing import Any

import numpy as np

from benchmarks.metrics.base import METRICS, Metric, MetricUnavailable

PREFIX = "pyiqa:"
INSTALL_HINT = ("pyiqa is not installed; `pip install pyiqa` adds it (it needs torchvision, downloads its weights on "
                "first use and is licensed PolyForm-Noncommercial-1.0.0)")


def pyiqa_missing() -> str | None:
    """``None`` when pyiqa can be imported, else why not."""
    return None if importlib.util.find_spec("pyiqa") is not None else INSTALL_HINT


@cache
def _create(name: str) -> Any:
    import pyiqa

    return pyiqa.create_metric(name, device="cpu", as_loss=False)


def _score(name: str, frame: np.ndarray) -> float:
    import torch

    x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float().div(255.0)
    with torch.no_grad():
        return float(_create(name)(x).item())


def pyiqa_metric(full_name: str) -> Metric:
    """A :class:`Metric` for ``pyiqa:NAME``; :class:`MetricUnavailable` when pyiqa is absent or lacks it."""
    name = full_name[len(PREFIX):] if full_name.startswith(PREFIX) else full_name
    why = pyiqa_missing()
    if why:
        raise MetricUnavailable(why)
    try:
        lower = bool(_create(name).lower_better)
    except Exception as exc:  # unknown name, weights not downloadable offline, ...
        raise MetricUnavailable(f"pyiqa could not create {name!r}: {exc}") from exc
    return Metric(full_name, lambda frame: _score(name, frame), higher_is_better=not lower,
                  requires_reference="none", citation=f"pyiqa {name}", aggregate="frame_mean")


@METRICS.register("pi")
def _pi_metric() -> Metric:
    return Metric("pi", lambda frame: _score("pi", frame), higher_is_better=False, requires_reference="none",
                  value_range=(-math.inf, math.inf), citation="Blau et al. 2018 (PIRM perceptual index)",
                  aggregate="frame_mean",
                  extra={"available": lambda: None if not pyiqa_missing() else
                         "needs the NRQM model, which no registry package ships and is not implemented natively; "
                         + INSTALL_HINT})
