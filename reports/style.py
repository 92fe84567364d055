"""One figure style for every report: fonts, colours, markers and deterministic files.

    from reports.style import figure_style, method_styles, new_figure, save_figure

    styles = method_styles(results.method_names(split))   # the same method -> the same look everywhere
    with figure_style():
        fig = new_figure(6.0, 3.0)
        ax = fig.add_subplot()
        ax.plot(x, y, color=styles["selfsvd"].color, marker=styles["selfsvd"].marker)
        paths = save_figure(fig, out_dir, "my_figure")    # my_figure.png + my_figure.pdf, byte-stable

Figures are :class:`matplotlib.figure.Figure` objects rendered by the Agg (PNG) and PDF backends;
pyplot is never imported, so building figures leaves no global state behind (apart from the
``rcParams`` that :func:`figure_style` sets for the duration of its ``with`` block). Matplotlib is
imported inside the functions: importing :mod:`reports` costs nothing.

Colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies);
every method also gets its own marker and line style, so figures read in grey-scale print too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ACCENT", "FORMATS", "LINESTYLES", "MARKERS", "NEUTRAL", "OKABE_ITO", "PALETTE", "PDF_METADATA",
           "PNG_METADATA", "RC", "MethodStyle", "figure_style", "method_styles", "new_figure", "save_figure"]

#: Okabe & Ito (2008), "Color Universal Design": the 8 colours, in the order methods receive them
#: (yellow, the weakest on white, last).
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
    "yellow": "#F0E442",
}
PALETTE: tuple[str, ...] = tuple(OKABE_ITO.values())
#: Markers cycle with a period (10) coprime-ish to the colours' (8): the first 40 methods differ in the pair.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
LINESTYLES: tuple[Any, ...] = ("-", "--", "-.", ":")
#: Colour of annotations (zoom rectangles, masks) that are not methods.
ACCENT = OKABE_ITO["vermillion"]
#: Neutral grey for references (input lines, y = x, least-squares fits).
NEUTRAL = "#666666"

#: rcParams of every report figure: fixed fonts (DejaVu Sans ships with matplotlib) for determinism.
RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.sans-serif": ["DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
    "font.size": 8.0,
    "axes.titlesize": 9.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 7.0,
    "legend.frameon": False,
    "figure.titlesize": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "axes.grid": False,
    "grid.linewidth": 0.5,
    "grid.alpha": 0.4,
    "lines.linewidth": 1.4,
    "lines.markersize": 4.5,
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "savefig.bbox": "standard",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "pdf.fonttype": 42,  # TrueType: text stays text (editable, searchable) in the PDF
    "pdf.compression": 6,
    "svg.hashsalt": "lsvd-report",  # deterministic ids, should anyone save SVG
    "image.interpolation": "nearest",
    "image.resample": False,
}

#: PNG/PDF metadata that would otherwise carry the matplotlib version or the time of writing.
PNG_METADATA: dict[str, Any] = {"Software": None}
PDF_METADATA: dict[str, Any] = {"Creator": None, "Producer": None, "CreationDate": None}
FORMATS: tuple[str, ...] = ("png", "pdf")


@dataclass(frozen=True)
class MethodStyle:
    """How one method is drawn: ``color`` (hex), ``marker`` and ``linestyle`` (matplotlib codes)."""

    color: str
    marker: str
    linestyle: Any

    def line_kwargs(self) -> dict[str, Any]:
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle}


def method_styles(methods: Sequence[str]) -> dict[str, MethodStyle]:
    """``{method: MethodStyle}`` by position in ``methods`` (pass ``results.method_names(split)`` in every
    figure of a report, so a method keeps its colour and marker across figures). Duplicates keep their
    first position."""
    out: dict[str, MethodStyle] = {}
    for m in methods:
        if m in out:
            continue
        i = len(out)
        out[m] = MethodStyle(PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)], LINESTYLES[i % len(LINESTYLES)])
    return out


@contextlib.contextmanager
def figure_style(**overrides: Any) -> Iterator[None]:
    """Apply :data:`RC` (and ``overrides``) for the ``with`` block; create *and* save figures inside it."""
    import matplotlib

    with matplotlib.rc_context({**RC, **overrides}):
        yield


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Any:
    """A pyplot-free :class:`~matplotlib.figure.Figure` of ``width`` x ``height`` inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


def save_figure(fig: Any, out_dir: str | os.PathLike[str], name: str,
                formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``out_dir/name.png`` and ``out_dir/name.pdf`` (``formats``) atomically and deterministically.

    The same figure gives byte-identical files on every run: no software version or date in the
    metadata (so ``SOURCE_DATE_EPOCH`` is not needed), fixed fonts (:data:`RC`). Returns the paths
    in ``formats`` order.
    """
    from lsvd.io.atomic import atomic_path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        meta = {"png": PNG_METADATA, "pdf": PDF_METADATA}.get(fmt)
        target = out_dir / f"{name}.{fmt}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=RC["savefig.dpi"], metadata=meta, facecolor="white")
        paths.append(target)
    return paths

