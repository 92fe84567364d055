"""Evaluation protocols: named, versioned cards that say exactly how a leaderboard number is computed.

    from benchmarks.protocols import DEFAULT_PROTOCOL, list_protocols, load_protocol
    list_protocols()                          # ['lsvd256-lohinet', 'paired-clean', 'selfsvd-eccv24']
    card = load_protocol("lsvd256-lohinet")   # a frozen Protocol; KeyError naming close matches
    card.to_markdown()                        # the whole card, every setting, for reports

A card is a TOML file in ``benchmarks/protocols/`` (``<name>.toml``) setting, for every number of a
leaderboard: the reference (and the folder it comes from), the resolution (native, or a resize with its
interpolation), the alignment (flow backend, blur of the prediction or none, validity masking), the
aggregation (``clip_mean``: mean per clip then over clips; ``frame_mean``: mean over all frames;
``metric``: each metric's declared one), the metric set (implementation, reference, alignment,
aggregation and an optional ``frame_stride`` per metric for slow metrics), the complexity convention
(input size of the parameter / MAC counts) and the exact definition of ``warp_error``. The metrics'
parameter file hashes come from :meth:`benchmarks.metrics.base.Metric.describe` when the card is rendered.

``python -m benchmarks.run --protocol NAME`` scores under a card (default :data:`DEFAULT_PROTOCOL`,
the official SelfSVD protocol, i.e. the toolkit's behaviour before cards existed); every leaderboard
row records ``protocol`` and ``protocol_version`` and the cache keys include the card
(:meth:`Protocol.value_key`), so two protocols never share values. Change ``version`` whenever a
setting that changes values changes (the flow included).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tomllib

from lsvd.errors import LsvdError

__all__ = ["DEFAULT_PROTOCOL", "INTERPOLATIONS", "PROTOCOLS_DIR", "MetricSpec", "Protocol", "ProtocolError",
           "list_protocols", "load_protocol"]

#: The protocol of a run that names none, and of results written before protocols were recorded.
DEFAULT_PROTOCOL = "selfsvd-eccv24"
PROTOCOLS_DIR = Path(__file__).resolve().parent / "protocols"
#: Resize interpolations a card may name (OpenCV flags).
INTERPOLATIONS = {"nearest": 0, "linear": 1, "cubic": 2, "area": 3, "lanczos4": 4}
REFERENCES = ("metric_ref", "ps_frame")
AGGREGATIONS = ("clip_mean", "frame_mean", "metric")


class ProtocolError(LsvdError, ValueError):
    """A protocol card that does not validate; the message names the file and the setting."""


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a card: its leaderboard ``name``, the registered implementation ``impl`` (a name of
    ``--list-metrics``) and the card's overrides (``None``: the implementation's own)."""

    name: str
    impl: str
    reference: str | None = None  #: requires_reference of the scored metric (none, ps_frame, clean, input)
    align: bool | None = None  #: align onto the reference first
    aggregate: str | None = None  #: clip_mean | frame_mean
    frame_stride: int = 1  #: score frames 0, s, 2s, ... of each clip (slow metrics); 1: every frame
    note: str = ""


@dataclass(frozen=True)
class Protocol:
    """A protocol card (see the module docstring); build with :func:`load_protocol`."""

    name: str
    version: str
    title: str
    citation: str
    source: str = ""  #: where the protocol is defined (paper table, script)
    reference: Literal["metric_ref", "ps_frame"] = "metric_ref"  #: of ps_frame metrics (see reference_folder)
    reference_folder: str = ""
    resize: tuple[int, int] | None = None  #: (H, W) every scored frame is resized to; None: native
    interpolation: str = "linear"  #: of the resize (INTERPOLATIONS)
    interpolation_note: str = ""
    flow: str | None = None  #: flow backend of alignment and warp_error; None: the run's --flow
    flow_note: str = ""
    blur_kernel: int = 5  #: Gaussian blur of the prediction before alignment; 0: no blur
    blur_sigma: float | None = 1.1
    valid_mask: bool = True  #: mask the aligned pair by the warp's validity
    aggregation: str = "metric"  #: default of the metrics (AGGREGATIONS)
    metrics: tuple[MetricSpec, ...] = ()
    complexity_input: tuple[int, int, int] | None = None  #: (C, H, W) of params / MACs; None: the clips' size
    complexity_note: str = ""
    warp_error: dict[str, str] = field(default_factory=dict)  #: definition, flow, occlusion, values
    notes: tuple[str, ...] = ()
    path: str = ""

    @property
    def metric_names(self) -> list[str]:
        """The card's metric set, in order (the run's default ``--metrics``)."""
        return [m.name for m in self.metrics]

    def spec(self, name: str) -> MetricSpec:
        """The card's entry of metric ``name``, or a plain entry (the registered metric as it is)."""
        for m in self.metrics:
            if m.name == name:
                return m
        return MetricSpec(name=name, impl=name)

    def create_metric(self, name: str) -> Any:
        """The :class:`~benchmarks.metrics.base.Metric` scored as ``name`` under this card (its implementation
        with the card's reference, alignment, aggregation; ``extra["frame_stride"]``). Raises as
        :func:`~benchmarks.metrics.base.get_metric`."""
        import dataclasses

        from benchmarks.metrics.base import get_metric

        spec = self.spec(name)
        metric = get_metric(spec.impl)
        aggregate = spec.aggregate or (metric.aggregate if self.aggregation == "metric" else self.aggregation)
        return dataclasses.replace(
            metric, name=spec.name, requires_reference=spec.reference or metric.requires_reference,
            align=metric.align if spec.align is None else spec.align, aggregate=aggregate,
            extra={**metric.extra, "frame_stride": spec.frame_stride, "impl": spec.impl})

    def flow_name(self, run_flow: str) -> str:
        """The flow backend used: the card's, else the run's ``--flow``."""
        return self.flow or run_flow

    def align_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`benchmarks.metrics.reference.align_to_reference`."""
        return {"blur_kernel": self.blur_kernel, "blur_sigma": self.blur_sigma, "valid_mask": self.valid_mask}

    def value_key(self, metric: str) -> dict[str, Any]:
        """What a cached value of ``metric`` depends on in this card (part of the cache key)."""
        spec = self.spec(metric)
        return {"protocol": self.name, "version": self.version, "reference": self.reference,
                "resize": list(self.resize) if self.resize else None, "interpolation": self.interpolation,
                "align": self.align_options(), "flow": self.flow,
                "metric": {"impl": spec.impl, "reference": spec.reference, "align": spec.align,
                           "frame_stride": spec.frame_stride}}

    def prepare(self, outputs: np.ndarray, clip: Any, refs: Any) -> tuple[np.ndarray, Any, Any]:
        """``(outputs, clip, refs)`` as the metrics score them: the reference of ``ps_frame`` metrics chosen
        (``ps_frame``: the clip's PS frame, ``clip.ps``), then every frame resized when the card says so."""
        import dataclasses

        ps = clip.ps if self.reference == "ps_frame" else refs.ps
        refs = dataclasses.replace(refs, ps=ps)
        if self.resize is None:
            return outputs, clip, refs
        def many(frames: np.ndarray | None) -> np.ndarray | None:
            return None if frames is None else np.stack([self.resize_frame(f) for f in frames])

        clip = dataclasses.replace(clip, lqs=many(clip.lqs), ps=self.resize_frame(clip.ps), mask=None)
        refs = dataclasses.replace(refs, ps=self.resize_frame(refs.ps), clean=many(refs.clean))
        return many(outputs), clip, refs

    def resize_frame(self, frame: np.ndarray) -> np.ndarray:
        """One uint8 ``(H, W, 3)`` frame at the card's resolution (``cv2.resize``, the card's interpolation)."""
        import cv2

        if self.resize is None:
            return frame
        h, w = self.resize
        return cv2.resize(np.ascontiguousarray(frame), (w, h), interpolation=INTERPOLATIONS[self.interpolation])

    def to_markdown(self) -> str:
        """The whole card as Markdown: every setting, and each metric's implementation and parameter hashes."""
        def blur() -> str:
            return "none" if not self.blur_kernel else f"Gaussian {self.blur_kernel}x{self.blur_kernel}, " \
                f"sigma {self.blur_sigma:g}, of the prediction only"

        res = "native (no resize)" if self.resize is None else (
            f"{self.resize[0]}x{self.resize[1]} (H x W), cv2 `{self.interpolation}`" +
            (f" ({self.interpolation_note})" if self.interpolation_note else ""))
        rows = [("name", f"`{self.name}`"), ("version", self.version), ("citation", self.citation),
                ("source", self.source),
                ("reference", {"metric_ref": "the clip's metric reference (`metric_ref_path`, LSVD_test_pro "
                                             "when present), else its PS frame",
                               "ps_frame": "the clip's PS frame (frame 0 of the raw clip in the LSVD layout)"}
                 [self.reference] + (f"; {self.reference_folder}" if self.reference_folder else "")),
                ("resolution", res),
                ("flow", (f"`{self.flow}`" if self.flow else "the run's `--flow` (recorded in each row's `flow`)")
                 + (f"; {self.flow_note}" if self.flow_note else "")),
                ("blur", blur()), ("validity mask", "yes: aligned prediction and reference both masked"
                                   if self.valid_mask else "no"),
                ("aggregation", {"clip_mean": "mean per clip, then the unweighted mean over clips",
                                 "frame_mean": "plain mean over all frames of all clips",
                                 "metric": "each metric's own (below)"}[self.aggregation]),
                ("complexity", ("the clips' size" if self.complexity_input is None else
                                "x".join(map(str, self.complexity_input)))
                 + (f"; {self.complexity_note}" if self.complexity_note else ""))]
        lines = [f"### Protocol `{self.name}` (version {self.version}): {self.title}", "",
                 "| setting | value |", "| --- | --- |", *[f"| {k} | {v} |" for k, v in rows], "",
                 "| metric | implementation | reference | aligned | aggregation | frame stride | parameter files |",
                 "| --- | --- | --- | --- | --- | --- | --- |"]
        for spec in self.metrics:
            try:
                m = self.create_metric(spec.name)
                params = ", ".join(f"{p['name']} sha256 {str(p['sha256'])[:12]}" for p in m.describe()["params"])
                cells = [m.requires_reference, "yes" if m.align else "no", m.aggregate]
            except Exception as exc:  # e.g. pyiqa absent: the card still renders
                params, cells = f"unavailable here ({type(exc).__name__})", ["?", "?", spec.aggregate or "?"]
            lines.append(f"| `{spec.name}` | `{spec.impl}` | {' | '.join(cells)} | {spec.frame_stride} | "
                         f"{params or 'none'} |")
        if self.warp_error:
            lines += ["", "`warp_error`: " + "; ".join(f"{k}: {v}" for k, v in self.warp_error.items())]
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines) + "\n"


def _fail(path: Path, message: str) -> ProtocolError:
    return ProtocolError(f"{path}: {message}")


def _parse(path: Path) -> Protocol:
    """Read and validate one card."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise _fail(path, f"not a readable TOML card ({exc})") from None
    known = {"name", "version", "title", "citation", "source", "notes", "reference", "resolution", "alignment",
             "aggregation", "complexity", "warp_error", "metrics"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _fail(path, f"unknown setting(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    for key in ("name", "version", "title", "citation"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _fail(path, f"{key}: expected a non-empty string")
    if raw["name"] != path.stem:
        raise _fail(path, f"name {raw['name']!r} must be the file name {path.stem!r}")
    ref, res, ali = raw.get("reference", {}), raw.get("resolution", {}), raw.get("alignment", {})
    agg, cx = raw.get("aggregation", {}), raw.get("complexity", {})
    if ref.get("kind", "metric_ref") not in REFERENCES:
        raise _fail(path, f"reference.kind: expected one of {', '.join(REFERENCES)}, found {ref.get('kind')!r}")
    size = res.get("size")
    mode = res.get("mode", "native")
    if mode not in ("native", "resize") or (mode == "resize") != (size is not None):
        raise _fail(path, "resolution: expected mode = 'native', or mode = 'resize' with size = [H, W]")
    if size is not None and not (isinstance(size, list) and len(size) == 2 and all(
            isinstance(v, int) and v > 10 for v in size)):
        raise _fail(path, f"resolution.size: expected [H, W] of integers > 10, found {size!r}")
    interp = res.get("interpolation", "linear")
    if interp not in INTERPOLATIONS:
        raise _fail(path, f"resolution.interpolation: expected one of {', '.join(INTERPOLATIONS)}, found {interp!r}")
    kernel, sigma = ali.get("blur_kernel", 0), ali.get("blur_sigma")
    if not (isinstance(kernel, int) and kernel >= 0 and (kernel == 0 or (kernel % 2 == 1 and isinstance(
            sigma, int | float) and sigma > 0))):
        raise _fail(path, "alignment: expected blur_kernel = 0 (no blur), or an odd blur_kernel with blur_sigma > 0")
    flow = ali.get("flow", "run")
    if not isinstance(flow, str):
        raise _fail(path, f"alignment.flow: expected 'run' (the run's --flow) or a flow name, found {flow!r}")
    default_agg = agg.get("default", "metric")
    if default_agg not in AGGREGATIONS:
        raise _fail(path, f"aggregation.default: expected one of {', '.join(AGGREGATIONS)}, found {default_agg!r}")
    specs = []
    for i, m in enumerate(raw.get("metrics", [])):
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            raise _fail(path, f"metrics[{i}]: expected a table with a name")
        extra = sorted(set(m) - {"name", "impl", "reference", "align", "aggregate", "frame_stride", "note"})
        if extra:
            raise _fail(path, f"metrics[{i}] ({m['name']}): unknown key(s) {', '.join(extra)}")
        stride = m.get("frame_stride", 1)
        if not (isinstance(stride, int) and stride >= 1):
            raise _fail(path, f"metrics[{i}] ({m['name']}): frame_stride must be an integer >= 1, found {stride!r}")
        if m.get("aggregate") not in (None, "clip_mean", "frame_mean"):
            raise _fail(path, f"metrics[{i}] ({m['name']}): aggregate must be clip_mean or frame_mean")
        specs.append(MetricSpec(name=m["name"], impl=m.get("impl", m["name"]), reference=m.get("reference"),
                                align=m.get("align"), aggregate=m.get("aggregate"), frame_stride=stride,
                                note=m.get("note", "")))
    if not specs or len({s.name for s in specs}) != len(specs):
        raise _fail(path, "metrics: expected at least one metric, each name once")
    cin = cx.get("input", "clip")
    if cin != "clip" and not (isinstance(cin, list) and len(cin) == 3 and all(isinstance(v, int) for v in cin)):
        raise _fail(path, f"complexity.input: expected 'clip' or [C, H, W], found {cin!r}")
    return Protocol(
        name=raw["name"], version=raw["version"], title=raw["title"], citation=raw["citation"],
        source=raw.get("source", ""), reference=ref.get("kind", "metric_ref"), reference_folder=ref.get("folder", ""),
        resize=tuple(size) if size else None, interpolation=interp, interpolation_note=res.get("note", ""),
        flow=None if flow == "run" else flow, flow_note=ali.get("note", ""), blur_kernel=kernel,
        blur_sigma=float(sigma) if kernel else None, valid_mask=bool(ali.get("valid_mask", True)),
        aggregation=default_agg, metrics=tuple(specs),
        complexity_input=None if cin == "clip" else tuple(cin), complexity_note=cx.get("note", ""),
        warp_error={str(k): str(v) for k, v in raw.get("warp_error", {}).items()},
        notes=tuple(raw.get("notes", [])), path=str(path))


def list_protocols() -> list[str]:
    """The names of the cards shipped in :data:`PROTOCOLS_DIR`, sorted."""
    return sorted(p.stem for p in PROTOCOLS_DIR.glob("*.toml"))


@cache
def load_protocol(name: str) -> Protocol:
    """The card ``name`` (validated).

    Raises:
        KeyError: no such card (the message names close matches and the cards there are).
        ProtocolError: the card does not validate.
    """
    names = list_protocols()
    if name not in names:
        close = difflib.get_close_matches(str(name), names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown protocol {name!r}{hint} (protocols: {', '.join(names)})")
    return _parse(PROTOCOLS_DIR / f"{name}.toml")
