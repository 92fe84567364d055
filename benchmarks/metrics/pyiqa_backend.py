"""Optional pyiqa backend: ``--metrics pyiqa:NAME`` scores with any pyiqa metric when pyiqa is installed.

pyiqa is not a dependency (it needs torchvision, downloads its weights at run time and is licensed
PolyForm-Noncommercial-1.0.0); the ``pyiqa`` extra installs it next to the pinned CPU torch::

    pip install torch==2.13.0
    pip install -c constraints.txt -e ".[pyiqa]"

Without it, ``pyiqa:NAME`` is reported as *missing* with that command. Names:

* ``pyiqa:NAME`` -- a no-reference metric (pyiqa ``metric_mode`` ``"NR"``, e.g. ``pyiqa:musiq``) scores each
  output frame; a full-reference one (``"FR"``, e.g. ``pyiqa:lpips``) compares output ``t`` with clean
  frame ``t``, like ``psnr``;
* ``pyiqa:aligned_NAME`` -- a full-reference metric against the clip's PS frame after the official
  alignment, like ``aligned_psnr`` (:func:`benchmarks.metrics.reference.aligned_score`).

Direction, reference and mode are read from pyiqa's own metric table (``DEFAULT_CONFIGS``) without
building the network: ``higher_is_better = not lower_better``, with pyiqa's meaning of a table entry
without ``lower_better`` (its ``InferenceModel.lower_better`` is then ``False``); the built model's
``lower_better`` is checked against it before the first score. A metric whose direction or mode pyiqa
does not state as a bool / ``"FR"``/``"NR"``, or that scores a whole image set (FID, inception score),
is refused (:class:`~benchmarks.metrics.base.MetricUnavailable`) and not listed.

PI (the perceptual index of the official protocol, ``0.5 * ((10 - NRQM) + NIQE)``) needs the NRQM
model, which no registry package ships and which is not implemented natively here: ``pi`` is
computed through pyiqa when it is installed (with its NRQM weights), else reported as missing.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib.util
import logging
import math
from functools import cache, partial
from typing import Any, NamedTuple

import numpy as np

from benchmarks.metrics.base import METRICS, Metric, MetricUnavailable, check_image

__all__ = ["ALIGNED", "INSTALL_HINT", "PREFIX", "PyiqaInfo", "list_pyiqa_metrics", "pyiqa_info", "pyiqa_metric",
           "pyiqa_missing"]

log = logging.getLogger(__name__)

PREFIX = "pyiqa:"
#: ``pyiqa:aligned_NAME``: a full-reference pyiqa metric against the aligned PS frame.
ALIGNED = "aligned_"
INSTALL_HINT = ("pyiqa is not installed; add it with `pip install -c constraints.txt -e \".[pyiqa]\"` after "
                "`pip install torch==2.13.0` (a bare `pip install pyiqa` replaces the CPU torch with a CUDA build); "
                "it needs torchvision, downloads its weights on first use and is licensed "
                "PolyForm-Noncommercial-1.0.0")


class PyiqaInfo(NamedTuple):
    """What pyiqa's metric table says about one metric."""

    name: str
    mode: str  # "FR" (full reference) or "NR" (no reference)
    lower_better: bool


def pyiqa_missing() -> str | None:
    """``None`` when pyiqa can be imported, else why not."""
    return None if importlib.util.find_spec("pyiqa") is not None else INSTALL_HINT


def _configs() -> dict[str, dict[str, Any]]:
    """pyiqa's ``DEFAULT_CONFIGS`` (its metric table); :class:`MetricUnavailable` without a working pyiqa."""
    why = pyiqa_missing()
    if why:
        raise MetricUnavailable(why)
    try:
        from pyiqa.default_model_configs import DEFAULT_CONFIGS
    except Exception as exc:  # installed but broken (e.g. a torchvision built for another torch)
        raise MetricUnavailable(f"pyiqa is installed but cannot be imported ({type(exc).__name__}: {exc})") from exc
    return DEFAULT_CONFIGS


def _dataset_level(name: str) -> bool:
    """pyiqa metrics scored over a set of images, not per frame (pyiqa special-cases them the same way)."""
    return "fid" in name or name == "inception_score"


def pyiqa_info(name: str) -> PyiqaInfo:
    """Mode and direction of pyiqa's metric ``name`` (without the ``pyiqa:`` prefix).

    Raises:
        KeyError: pyiqa has no such metric (close matches listed).
        MetricUnavailable: pyiqa is absent, or does not state a usable mode/direction for it, or the metric
            scores a set of images.
    """
    configs = _configs()
    if name not in configs:
        close = difflib.get_close_matches(name, list(configs), n=3)
        hint = f"; did you mean {', '.join(PREFIX + c for c in close)}?" if close else ""
        raise KeyError(f"unknown pyiqa metric {name!r}{hint} (list them with --list-metrics)")
    cfg = configs[name]
    if _dataset_level(name):
        raise MetricUnavailable(f"pyiqa {name!r} scores a set of images, not one frame")
    mode = cfg.get("metric_mode")
    if mode not in ("FR", "NR"):
        raise MetricUnavailable(f"pyiqa {name!r}: metric_mode {mode!r} is neither 'FR' nor 'NR'")
    # pyiqa's InferenceModel sets lower_better = cfg.get("lower_better", False): an entry without it is
    # higher-is-better by pyiqa's own definition. Anything that is not a bool is an unknown direction.
    lower = cfg.get("lower_better", False)
    if not isinstance(lower, bool):
        raise MetricUnavailable(f"pyiqa {name!r}: its direction (lower_better = {lower!r}) is not a bool; "
                                f"refusing to guess whether higher is better")
    return PyiqaInfo(name, mode, lower)


def list_pyiqa_metrics(pattern: str = "*") -> list[str]:
    """``pyiqa:NAME`` (and ``pyiqa:aligned_NAME`` for full-reference metrics) matching the glob ``pattern``,
    sorted; empty when pyiqa is not installed. Metrics :func:`pyiqa_info` refuses are left out."""
    if pyiqa_missing():
        return []
    try:
        configs = _configs()
    except MetricUnavailable as exc:
        log.warning("pyiqa metrics not listed: %s", exc)
        return []
    names = []
    for name in configs:
        try:
            info = pyiqa_info(name)
        except MetricUnavailable:
            continue
        names.append(PREFIX + name)
        if info.mode == "FR":
            names.append(PREFIX + ALIGNED + name)
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


@cache
def _create(name: str) -> Any:
    """pyiqa's model for ``name`` on the CPU (built once per process; may download its weights)."""
    import pyiqa

    expected = pyiqa_info(name).lower_better
    try:
        model = pyiqa.create_metric(name, device="cpu", as_loss=False)
    except Exception as exc:  # weights not downloadable offline, missing optional packages, ...
        raise MetricUnavailable(f"pyiqa could not create {name!r}: {type(exc).__name__}: {exc}") from exc
    built = getattr(model, "lower_better", None)
    if built is not expected:
        raise MetricUnavailable(f"pyiqa {name!r}: the model says lower_better={built!r}, its metric table "
                                f"{expected!r}; refusing to guess the direction")
    return model


def _to_tensor(frame: np.ndarray, label: str) -> Any:
    """RGB ``(H, W, 3)`` uint8 or float in [0, 1] -> float32 ``(1, 3, H, W)`` in [0, 1]."""

    arr = check_image(frame, label)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{label}: expected an RGB array (H, W, 3), found {arr.shape}")
    from lsvd.io.pixels import to_tensor

    return to_tensor(arr)[None]


def _score(name: str, frame: np.ndarray) -> float:
    """A no-reference pyiqa metric on one frame."""
    import torch

    x = _to_tensor(frame, "frame")
    with torch.no_grad():
        return float(_create(name)(x).item())


def _score_pair(name: str, pred: np.ndarray, ref: np.ndarray) -> float:
    """A full-reference pyiqa metric: ``pred`` compared with ``ref`` (same shape)."""
    import torch

    x, y = _to_tensor(pred, "pred"), _to_tensor(ref, "ref")
    if x.shape != y.shape:
        raise ValueError(f"pred and ref must have the same shape, found {tuple(pred.shape)} and {tuple(ref.shape)}")
    with torch.no_grad():
        return float(_create(name)(x, y).item())


def pyiqa_metric(full_name: str) -> Metric:
    """The :class:`Metric` of ``pyiqa:NAME`` / ``pyiqa:aligned_NAME`` (see the module docstring); the network is
    built on the first score, not here.

    Raises:
        KeyError: no such pyiqa metric, or ``aligned_`` on a no-reference one.
        MetricUnavailable: pyiqa is absent, or it does not state the metric's mode or direction.
    """
    name = full_name[len(PREFIX):] if full_name.startswith(PREFIX) else full_name
    full_name = PREFIX + name
    aligned = False
    if name.startswith(ALIGNED) and name not in _configs():
        name, aligned = name[len(ALIGNED):], True
    info = pyiqa_info(name)
    common = {"higher_is_better": not info.lower_better, "citation": f"pyiqa {name}",
              "extra": {"available": pyiqa_missing, "pyiqa_name": name}}
    if info.mode == "NR":
        if aligned:
            raise KeyError(f"{full_name}: pyiqa {name!r} is a no-reference metric; use {PREFIX}{name}")
        return Metric(full_name, partial(_score, name), requires_reference="none", aggregate="frame_mean", **common)
    if aligned:
        from benchmarks.metrics.reference import aligned_score

        return Metric(full_name, partial(aligned_score, partial(_score_pair, name), name=full_name),
                      requires_reference="ps_frame", align=True, aggregate="clip_mean", **common)
    return Metric(full_name, partial(_score_pair, name), requires_reference="clean", aggregate="clip_mean", **common)


@METRICS.register("pi")
def _pi_metric() -> Metric:
    return Metric("pi", lambda frame: _score("pi", frame), higher_is_better=False, requires_reference="none",
                  value_range=(-math.inf, math.inf), citation="Blau et al. 2018 (PIRM perceptual index)",
                  aggregate="frame_mean",
                  extra={"available": lambda: None if not pyiqa_missing() else
                         "needs the NRQM model, which no registry package ships and is not implemented natively; "
                         + INSTALL_HINT})
