"""What a metric is: a function plus the facts a leaderboard needs about it.

    @METRICS.register("niqe")
    def _niqe() -> Metric:
        return Metric("niqe", niqe_score, higher_is_better=False, requires_reference="none",
                      value_range=(0.0, math.inf), params=(NIQE_PARAMS,), citation="Mittal et al. 2013")

    metric = get_metric("niqe")          # the Metric
    metric(frame_u8)                      # a float (per frame)
    get_metric("aligned_psnr")(pred, ps, flow="dis")   # aligned first (see below)

Kinds of metric (``Metric.kind``):

* ``"frame"`` -- ``fn(pred)`` (no reference) or ``fn(pred, ref)``; ``pred``/``ref`` are RGB
  ``(H, W, 3)`` frames, uint8 (0..255) or float in [0, 1] (:func:`check_image`: anything else, e.g. a
  float frame in 0..255, raises). With ``align=True`` (``aligned_psnr``, ``aligned_ssim``) the prediction
  is compared after alignment onto the reference (spec §5.2: blur, flow, validity mask, both masked):
  pass ``flow=`` (a :class:`~lsvd.flow.base.FlowBackend` or a flow name such as ``"dis"``), or the pair
  :func:`benchmarks.metrics.reference.align_to_reference` returns (what the runner does, aligning once
  per frame for all aligned metrics); plain arrays without ``flow=`` raise instead of being scored
  unaligned.
* ``"clip"`` -- ``fn(frames, flow)`` on a clip's consecutive uint8 outputs; returns one value per
  frame pair (e.g. temporal warping error).

A metric whose parameter file is absent raises :class:`MetricUnavailable` when used; the runner
records it as *missing* (never as 0). pyiqa's metrics are ``pyiqa:NAME`` when pyiqa is installed
(:mod:`benchmarks.metrics.pyiqa_backend`); :func:`list_metrics` lists them too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from lsvd.errors import LsvdError
from lsvd.io.hashing import file_sha256
from lsvd.registry import Registry

__all__ = ["METRICS", "PARAMS_DIR", "REFERENCE_KINDS", "Metric", "MetricUnavailable", "ParamFile", "as_float255",
           "check_image", "get_metric", "list_metrics", "param_file_sha256"]

REFERENCE_KINDS = ("none", "ps_frame", "clean", "input")
PARAMS_DIR = Path(__file__).resolve().parent / "params"


class MetricUnavailable(LsvdError, RuntimeError):
    """The metric cannot be computed here (a parameter file or an optional package is missing)."""


def check_image(image: Any, name: str = "image") -> np.ndarray:
    """``image`` as a numpy array, once its values are on a scale the metrics read: uint8 (0..255) or float
    in [0, 1].

    Every metric's public function checks its images with this, so that a float frame holding 0..255
    values (``frame.astype(np.float32)``) raises instead of being scored as a different image.

    Args:
        image: an array of any shape (each metric checks the shape it needs).
        name: what the error calls it (``"pred"``, ``"ref"``, ...).

    Raises:
        TypeError: the dtype is neither uint8 nor a float type.
        ValueError: float values outside [0, 1], or NaN.
    """
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name}: expected uint8 (0..255) or float in [0, 1], found dtype {arr.dtype}; "
                        f"convert 0..255 values with .astype(np.uint8)")
    if arr.size:
        lo, hi = float(np.min(arr)), float(np.max(arr))
        if not (lo >= 0.0 and hi <= 1.0):  # False for NaN too
            raise ValueError(f"{name}: expected uint8 (0..255) or float in [0, 1], found {arr.dtype} values in "
                             f"[{lo:g}, {hi:g}]; divide 0..255 values by 255 or pass uint8")
    return arr


def as_float255(image: Any, name: str = "image") -> np.ndarray:
    """The image (checked by :func:`check_image`) as float64 on the 0..255 scale: uint8 values as they are,
    float values times 255 (not rounded)."""
    arr = check_image(image, name)
    return arr.astype(np.float64) if arr.dtype == np.uint8 else arr.astype(np.float64) * 255.0


#: sha256 of a parameter file, cached per path (the files do not change while a process runs).
param_file_sha256 = cache(file_sha256)


@dataclass(frozen=True)
class ParamFile:
    """A parameter file a metric needs, with where it came from.

    Args:
        name: file name under ``benchmarks/metrics/params/`` (or an absolute path given by the user).
        version: the version of the source it was taken from (e.g. ``"mmagic 1.2.0"``).
        source: where it comes from (package and path inside it).
    """

    name: str
    version: str
    source: str

    @property
    def path(self) -> Path:
        p = Path(self.name)
        return p if p.is_absolute() else PARAMS_DIR / p

    def require(self) -> Path:
        """The path, or :class:`MetricUnavailable` saying what is missing and how to get it."""
        if not self.path.is_file():
            raise MetricUnavailable(f"parameter file {self.path} is missing ({self.source}, {self.version})")
        return self.path

    def describe(self) -> dict[str, str | None]:
        """``{"name", "version", "sha256"}`` (sha256 ``None`` when the file is absent)."""
        return {"name": Path(self.name).name, "version": self.version,
                "sha256": param_file_sha256(str(self.path)) if self.path.is_file() else None}


@dataclass(frozen=True)
class Metric:
    """A registered metric.

    Args:
        name: registry name (also the leaderboard column value).
        fn: the function (see the module docstring for its signature per ``kind``).
        higher_is_better: direction.
        requires_reference: ``"none"``, ``"ps_frame"`` (the clip's PS frame, or the LSVD_test_pro
            reference when the manifest has one), ``"clean"`` (ground-truth clean frames) or ``"input"``
            (the smoky input frame the method received, i.e. what ``identity`` outputs).
        value_range: the theoretical ``(low, high)`` (``math.inf`` allowed).
        kind: ``"frame"`` or ``"clip"``.
        align: for reference metrics, align the prediction onto the reference first (official protocol).
        params: parameter files it reads.
        citation: short reference.
        aggregate: how the benchmark averages it: ``"clip_mean"`` (mean per clip, then over clips, the
            official PSNR/SSIM) or ``"frame_mean"`` (mean over all frames, the official NIQE/PI).
    """

    name: str
    fn: Callable[..., Any]
    higher_is_better: bool
    requires_reference: str = "none"
    value_range: tuple[float, float] = (-math.inf, math.inf)
    kind: str = "frame"
    align: bool = False
    params: tuple[ParamFile, ...] = ()
    citation: str = ""
    aggregate: str = "clip_mean"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.requires_reference not in REFERENCE_KINDS:
            raise ValueError(f"{self.name}: requires_reference must be one of {REFERENCE_KINDS}, "
                             f"found {self.requires_reference!r}")
        if self.kind not in ("frame", "clip"):
            raise ValueError(f"{self.name}: kind must be 'frame' or 'clip', found {self.kind!r}")
        if self.aggregate not in ("clip_mean", "frame_mean"):
            raise ValueError(f"{self.name}: aggregate must be 'clip_mean' or 'frame_mean', found {self.aggregate!r}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for p in self.params:
            p.require()
        return self.fn(*args, **kwargs)

    def available(self) -> str | None:
        """``None`` when usable, else why not (a missing parameter file, ...)."""
        for p in self.params:
            if not p.path.is_file():
                return f"parameter file {p.path.name} missing ({p.source}, {p.version})"
        check = self.extra.get("available")
        return check() if callable(check) else None

    def describe(self) -> dict[str, Any]:
        """What a leaderboard records about the metric (direction, reference, range, parameter hashes)."""
        return {"metric": self.name, "higher_is_better": self.higher_is_better,
                "requires_reference": self.requires_reference, "range": list(self.value_range),
                "kind": self.kind, "align": self.align, "aggregate": self.aggregate, "citation": self.citation,
                "params": [p.describe() for p in self.params]}


#: name -> a zero-argument factory returning the :class:`Metric` (modules register lazily).
METRICS: Registry[Callable[[], Metric]] = Registry("metric", builtins=[
    "benchmarks.metrics.reference",
    "benchmarks.metrics.niqe",
    "benchmarks.metrics.brisque",
    "benchmarks.metrics.piqe",
    "benchmarks.metrics.fade",
    "benchmarks.metrics.temporal",
    "benchmarks.metrics.artifacts",
    "benchmarks.metrics.pyiqa_backend",
])


def get_metric(name: str) -> Metric:
    """The :class:`Metric` registered as ``name`` (``KeyError`` with close matches otherwise); ``pyiqa:NAME`` and
    ``pyiqa:aligned_NAME`` for pyiqa's metrics (:mod:`benchmarks.metrics.pyiqa_backend`; :class:`MetricUnavailable`
    without pyiqa or when pyiqa does not state the metric's direction)."""
    if name.startswith("pyiqa:"):
        from benchmarks.metrics.pyiqa_backend import pyiqa_metric

        return pyiqa_metric(name)
    return METRICS.get(name)()


def list_metrics(pattern: str = "*") -> list[str]:
    """Metric names matching the glob ``pattern``: the registered ones, then, when pyiqa is installed, pyiqa's
    (``pyiqa:NAME``, and ``pyiqa:aligned_NAME`` for its full-reference ones; see
    :func:`benchmarks.metrics.pyiqa_backend.list_pyiqa_metrics`). Every name listed resolves with
    :func:`get_metric`."""
    from benchmarks.metrics.pyiqa_backend import list_pyiqa_metrics

    return METRICS.list(pattern) + list_pyiqa_metrics(pattern)
