"""Paper-style figures of a benchmark results folder (read from files only: no model, no metric is run).

Every figure function has the signature ``fn(results, split, out_dir, **options) -> FigureFile``:
it writes ``out_dir/<name>_<split>.png`` and ``.pdf`` (see :func:`reports.style.save_figure`) and
returns a :class:`FigureFile` with a title and a caption for the report page. When the data a
figure needs is absent (no media, no training logs, no clean-frame metrics, ...) nothing is
written: the returned ``FigureFile`` has ``paths == []`` and ``reason`` says why (also logged at
DEBUG; ``python -m reports.build`` prints it). :data:`FIGURES` lists them all in report order;
:func:`build_figures` calls each one.

    from reports.figures import build_figures
    for fig in build_figures(load_results("results"), "test", "report/figures"):
        print(fig.name, fig.paths or fig.reason)

Figures are deterministic (sorted iteration, fixed jitter seed, fixed fonts, no dates in the
files): building twice gives byte-identical PNG and PDF files.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.results import TIMING_FILE
from reports.style import ACCENT, NEUTRAL, figure_style, method_styles, new_figure, save_figure

log = logging.getLogger(__name__)

__all__ = ["FIGURES", "JITTER_SEED", "KEY_METRICS", "LOSSES", "MASK_ALPHA", "QUALITY_PREFERENCE", "TITLES",
           "ZOOM_FRACTION", "FigureFile", "FigureSpec", "agreement_table", "build_figures", "clip_distributions",
           "kendall_tau_b", "mask_overlay", "mask_overlays", "metric_over_time", "protocol_agreement",
           "protocol_agreement_stats", "qualitative_grid", "quality_speed", "smokiest_region", "training_curves"]

#: Per-clip metrics shown by :func:`clip_distributions` (those present), in this order.
KEY_METRICS = ("psnr", "aligned_psnr", "ssim", "fade", "niqe", "brisque", "piqe", "warp_error")
#: Quality metrics in order of preference for :func:`quality_speed` (the first) and :func:`metric_over_time`
#: (the first two): against clean frames, then the official protocol, then no-reference ones (real data).
QUALITY_PREFERENCE = ("psnr", "aligned_psnr", "fade", "niqe", "brisque", "piqe")
#: Losses of :func:`training_curves` (those logged).
LOSSES = ("loss_rec", "loss_g", "loss_d")
#: Seed of the jitter of :func:`clip_distributions`.
JITTER_SEED = 0
#: Side of the automatic zoom window as a fraction of the frame's width and height.
ZOOM_FRACTION = 0.25
#: Mask overlay opacity.
MASK_ALPHA = 0.45

_LABELS = {"psnr": "PSNR vs clean (dB)", "aligned_psnr": "aligned PSNR vs PS (dB)", "ssim": "SSIM vs clean",
           "aligned_ssim": "aligned SSIM vs PS", "fade": "FADE", "niqe": "NIQE", "brisque": "BRISQUE",
           "piqe": "PIQE", "warp_error": "warping error", "loss_rec": "reconstruction loss",
           "loss_g": "generator loss", "loss_d": "discriminator loss"}


@dataclass
class FigureFile:
    """One figure of a report.

    Attributes:
        name: the figure kind (the function's name, e.g. ``"qualitative_grid"``).
        split: the benchmark split shown.
        title: a short heading for the report page.
        caption: one or two sentences saying what is shown (with the key numbers, if any).
        paths: ``[png, pdf]`` written; ``[]`` when the figure was skipped.
        reason: why it was skipped (``""`` when written).
        stats: numbers the figure quotes (e.g. :func:`protocol_agreement_stats`), for pages and READMEs.
    """

    name: str
    split: str
    title: str
    caption: str = ""
    paths: list[Path] = field(default_factory=list)
    reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.paths)


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure: ``function(results, split, out_dir) -> FigureFile``."""

    name: str
    title: str
    function: Callable[..., FigureFile]


def _skip(name: str, split: str, reason: str) -> FigureFile:
    log.debug("figure %s (split %s) skipped: %s", name, split, reason)
    return FigureFile(name, split, TITLES[name], paths=[], reason=reason)


def _done(name: str, split: str, fig: Any, out_dir: str | Path, caption: str, **stats: Any) -> FigureFile:
    paths = save_figure(fig, out_dir, f"{name}_{split}")
    return FigureFile(name, split, TITLES[name], caption, paths, "", stats)


# ----------------------------------------------------------------------------------------- helpers


def _read_rgb(path: Path) -> np.ndarray:
    from lsvd.io.images import read_rgb

    return read_rgb(path)


def _styles(results: Any, split: str) -> dict[str, Any]:
    return method_styles(results.method_names(split))


def _split_frames(results: Any, split: str) -> pd.DataFrame:
    f = results.frames
    if f.empty or "split" not in f:
        return pd.DataFrame(columns=["method", "split", "clip_id", "frame_number", "metric", "value"])
    return f[f["split"].astype(str) == split]


def _split_clips(results: Any, split: str) -> pd.DataFrame:
    c = results.clips
    if c.empty or "split" not in c:
        from benchmarks.leaderboard import clip_table

        return clip_table(_split_frames(results, split))
    return c[c["split"].astype(str) == split]


def _higher_is_better(results: Any, split: str, metric: str) -> bool | None:
    b = results.leaderboard
    hit = b[(b["split"].astype(str) == split) & (b["metric"] == metric)]["higher_is_better"].dropna()
    return bool(hit.iloc[0]) if len(hit) else None


def _axis_label(results: Any, split: str, metric: str) -> str:
    hib = _higher_is_better(results, split, metric)
    arrow = "" if hib is None else (" ↑" if hib else " ↓")
    return _LABELS.get(metric, metric) + arrow


def _board_values(results: Any, split: str, metric: str) -> dict[str, float]:
    b = results.leaderboard
    hit = b[(b["split"].astype(str) == split) & (b["metric"] == metric) & (b["status"] == "ok")]
    return {str(m): float(v) for m, v in zip(hit["method"], hit["value"], strict=True)
            if v is not None and math.isfinite(float(v))}


def _wrap(name: str, width: int = 12) -> str:
    """Break a long method name after ``_``, ``-`` or ``:`` so column titles do not overlap."""
    if len(name) <= width:
        return name
    lines, cur = [], ""
    for part in re.findall(r"[^_:-]+[_:-]?|[_:-]", name):
        if cur and len(cur) + len(part) > width:
            lines.append(cur)
            cur = part
        else:
            cur += part
    lines.append(cur)
    return "\n".join(lines)


def _bare(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)


def smokiest_region(smoky: np.ndarray, ps: np.ndarray,
                    fraction: float = ZOOM_FRACTION) -> tuple[float, float, float, float]:
    """The window (``fraction`` of the width and height) where ``smoky`` differs most from ``ps``.

    Args:
        smoky: the smoky input frame, ``(H, W)`` or ``(H, W, C)``.
        ps: the PS frame (resized to ``smoky``'s size when it differs).

    Returns:
        ``(x, y, w, h)`` as fractions of the frame (the top-left window of the ties).
    """
    a = np.asarray(smoky, dtype=np.float64)
    b = np.asarray(ps, dtype=np.float64)
    if b.shape[:2] != a.shape[:2]:
        import cv2

        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    d = np.abs(a - b.reshape(a.shape))
    if d.ndim == 3:
        d = d.mean(axis=2)
    height, width = d.shape
    h = min(height, max(1, int(round(height * fraction))))
    w = min(width, max(1, int(round(width * fraction))))
    ii = np.pad(d.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = ii[h:, w:] - ii[:-h, w:] - ii[h:, :-w] + ii[:-h, :-w]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return (x / width, y / height, w / width, h / height)


def _region_pixels(zoom: Sequence[float], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    height, width = shape[:2]
    fx, fy, fw, fh = (float(v) for v in zoom)
    w = min(width, max(1, int(round(fw * width))))
    h = min(height, max(1, int(round(fh * height))))
    x = min(max(0, int(round(fx * width))), width - w)
    y = min(max(0, int(round(fy * height))), height - h)
    return x, y, w, h


def _show_with_zoom(ax: Any, ax_zoom: Any, img: np.ndarray | None, zoom: Sequence[float]) -> None:
    from matplotlib.patches import Rectangle

    _bare(ax)
    _bare(ax_zoom)
    if img is None:
        ax.text(0.5, 0.5, "n/a", ha="center", va="center", transform=ax.transAxes, color=NEUTRAL)
        return
    ax.imshow(img, interpolation="nearest")
    x, y, w, h = _region_pixels(zoom, img.shape)
    ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor=ACCENT, linewidth=1.0))
    ax_zoom.imshow(img[y:y + h, x:x + w], interpolation="nearest")
    for s in ax_zoom.spines.values():
        s.set_visible(True)
        s.set_edgecolor(ACCENT)
        s.set_linewidth(1.0)


def _media_clips(results: Any, split: str, clips: Sequence[str] | None, limit: int,
                 need: Callable[[Any], bool] | None = None) -> dict[str, Any]:
    media = results.clip_media(split)
    wanted = list(clips) if clips is not None else sorted(media)
    out: dict[str, Any] = {}
    for c in wanted:
        m = media.get(c)
        ok = m is not None and m.samples and m.input_frame(m.samples[0]).is_file() and m.ps_frame.is_file()
        if ok and (need is None or need(m)):
            out[c] = m
        elif clips is not None:
            log.warning("clip %s of split %s has no saved media for this figure: left out", c, split)
        if clips is None and len(out) >= limit:
            break
    return out


def _image_grid(fig_w_panels: int, rows: int, aspect: float, label_col: bool = True, max_width: float = 7.5,
                panel: float = 1.4, row_gap: float = 0.04) -> tuple[Any, Any, float]:
    """A layout-free figure with a grid of ``rows`` x ``fig_w_panels`` image panels of ``aspect`` (h/w),
    ``row_gap`` inches between rows (room for per-row titles)."""
    pw = max(0.8, min(panel, max_width / max(1, fig_w_panels)))
    ph = pw * aspect
    left, top, bottom, gap = (0.3 if label_col else 0.05), 0.32, 0.05, 0.04
    width = left + fig_w_panels * pw + (fig_w_panels - 1) * gap + 0.05
    height = top + rows * ph + (rows - 1) * row_gap + bottom
    fig = new_figure(width, height, layout=None)
    gs = fig.add_gridspec(rows, fig_w_panels, left=left / width, right=1 - 0.05 / width, top=1 - top / height,
                          bottom=bottom / height, wspace=gap / pw, hspace=row_gap / ph)
    return fig, gs, pw


# ----------------------------------------------------------------------------------------- figures


def qualitative_grid(results: Any, split: str, out_dir: str | Path, clips: Sequence[str] | None = None,
                     methods: Sequence[str] | None = None, zoom: Sequence[float] | None = None,
                     max_clips: int = 3) -> FigureFile:
    """Input, every method's output, the PS frame (and the clean frame) of up to ``max_clips`` clips at
    their primary (smokiest) sample frame, each with an enlarged crop below it.

    Args:
        clips: clip ids (default: the first ``max_clips`` with media).
        methods: methods to show, in this order (default: the non-ablation methods in table order,
            without ``identity``, which equals the input).
        zoom: ``(x, y, w, h)`` fractions of the frame, the same for every clip (default: per clip,
            :func:`smokiest_region` of the input against the PS frame).
    """
    name = "qualitative_grid"
    chosen = _media_clips(results, split, clips, max_clips)
    if not chosen:
        return _skip(name, split, "no saved media (sample frames) for this split")
    if methods is None:
        methods = [m for m in results.method_names(split) if m != "identity" and not results.is_ablation(m, split)]
    shown = [m for m in methods if any(c.output_frame(m, c.samples[0]) is not None for c in chosen.values())]
    with_clean = any(c.clean_frame(c.samples[0]) is not None for c in chosen.values())
    columns = ["Input", *shown, "PS frame", *(["Clean (GT)"] if with_clean else [])]
    first = next(iter(chosen.values()))
    aspect = float(first.sheet.get("height", 1)) / float(first.sheet.get("width", 1))
    regions = {}
    with figure_style():
        fig, gs, _ = _image_grid(len(columns), 2 * len(chosen), aspect)
        for r, (clip_id, media) in enumerate(chosen.items()):
            n = media.samples[0]
            smoky, ps = _read_rgb(media.input_frame(n)), _read_rgb(media.ps_frame)
            clean = media.clean_frame(n)
            # the smoke itself where the clean frame is known; else the difference to the PS frame
            # (which also picks up motion between the PS frame and this one)
            smoke_free = _read_rgb(clean) if clean is not None else ps
            region = tuple(zoom) if zoom is not None else smokiest_region(smoky, smoke_free)
            regions[clip_id] = region
            images = [smoky]
            for m in shown:
                p = media.output_frame(m, n)
                images.append(_read_rgb(p) if p is not None else None)
            images.append(ps)
            if with_clean:
                images.append(_read_rgb(clean) if clean is not None else None)
            for c, img in enumerate(images):
                ax, ax_zoom = fig.add_subplot(gs[2 * r, c]), fig.add_subplot(gs[2 * r + 1, c])
                _show_with_zoom(ax, ax_zoom, img, region)
                if r == 0:
                    ax.set_title(_wrap(columns[c]), fontsize=7, pad=3)
                if c == 0:
                    ax.set_ylabel(f"{clip_id}\nframe {n}", fontsize=6.5)
                    ax_zoom.set_ylabel("zoom", fontsize=6.5)
        caption = (f"Qualitative comparison on {len(chosen)} {split} clip(s) at the smokiest sample frame: the smoky "
                   f"input, the outputs of {', '.join(shown) or 'no method'}, the PS frame (the pre-smoke frame that "
                   f"supervises SelfSVD)" + (" and the clean ground truth" if with_clean else "") + ". Below each "
                   "panel: the boxed region enlarged " + ("(the region given)." if zoom is not None else
                                                          "(the window where the input differs most from the "
                                                          + ("clean" if with_clean else "PS") + " frame, i.e. the "
                                                          "smokiest)."))
        return _done(name, split, fig, out_dir, caption, clips=list(chosen), methods=shown,
                     zoom={k: [round(v, 4) for v in reg] for k, reg in regions.items()})


def mask_overlay(frame: np.ndarray, mask: np.ndarray, color: str = ACCENT, alpha: float = MASK_ALPHA) -> np.ndarray:
    """``frame`` (uint8 RGB) with the nonzero pixels of ``mask`` (any size, nearest-upsampled) tinted."""
    import cv2
    from matplotlib.colors import to_rgb

    m = np.asarray(mask)
    if m.ndim == 3:
        m = m[..., 0]
    if m.shape != frame.shape[:2]:
        m = cv2.resize(m.astype(np.uint8), (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_NEAREST)
    on = (m > 0)[..., None]
    tint = np.asarray(to_rgb(color), dtype=np.float64) * 255.0
    out = np.where(on, (1 - alpha) * frame.astype(np.float64) + alpha * tint, frame.astype(np.float64))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def mask_overlays(results: Any, split: str, out_dir: str | Path, clips: Sequence[str] | None = None,
                  max_clips: int = 2) -> FigureFile:
    """The sample frames of up to ``max_clips`` clips with their SelfSVD mask tinted, and the PS frame."""
    from matplotlib.patches import Patch

    from lsvd.io.images import read_gray

    name = "mask_overlays"
    chosen = _media_clips(results, split, clips, max_clips, need=lambda m: m.mask(m.samples[0]) is not None)
    if not chosen:
        return _skip(name, split, "no saved SelfSVD masks for this split")
    n_cols = max(len(m.samples) for m in chosen.values()) + 1
    first = next(iter(chosen.values()))
    aspect = float(first.sheet.get("height", 1)) / float(first.sheet.get("width", 1))
    fractions = []
    with figure_style():
        fig, gs, _ = _image_grid(n_cols, len(chosen), aspect, panel=1.6, row_gap=0.25)
        for r, (clip_id, media) in enumerate(chosen.items()):
            for c, n in enumerate(media.samples):
                ax = fig.add_subplot(gs[r, c])
                _bare(ax)
                frame = _read_rgb(media.input_frame(n))
                mp = media.mask(n)
                label = f"frame {n}" + (" (smokiest)" if c == 0 else "")
                if mp is not None:
                    mask = read_gray(mp)
                    fractions.append(float((mask > 0).mean()))
                    frame = mask_overlay(frame, mask)
                    label += f", mask {100 * fractions[-1]:.0f}%"
                ax.imshow(frame, interpolation="nearest")
                ax.set_title(label, fontsize=7, pad=3)
                if c == 0:
                    ax.set_ylabel(clip_id, fontsize=6.5)
            ax = fig.add_subplot(gs[r, n_cols - 1])
            _bare(ax)
            ax.imshow(_read_rgb(media.ps_frame), interpolation="nearest")
            ax.set_title(f"PS frame {media.sheet.get('ps_frame_number', '')}", fontsize=7, pad=3)
        fig.legend(handles=[Patch(facecolor=ACCENT, alpha=MASK_ALPHA, label="mask: PS features dropped")],
                   loc="upper right", bbox_to_anchor=(1.0, 1.0), fontsize=6.5, handlelength=1.2)
        mean = float(np.mean(fractions)) if fractions else float("nan")
        caption = (f"SelfSVD masks on {len(chosen)} {split} clip(s): where the mask is set (tinted, on average "
                   f"{100 * mean:.1f}% of the frame), the network does not see the aligned PS-frame features; the "
                   "PS frame is shown on the right.")
        return _done(name, split, fig, out_dir, caption, clips=list(chosen), mean_mask_fraction=mean)


def clip_distributions(results: Any, split: str, out_dir: str | Path,
                       metrics: Sequence[str] | None = None) -> FigureFile:
    """Box plots and jittered points of the per-clip values of each key metric, by method."""
    name = "clip_distributions"
    clips = _split_clips(results, split)
    order = results.method_names(split)
    styles = _styles(results, split)
    present = [] if clips.empty else [
        m for m in (metrics or KEY_METRICS)
        if np.isfinite(clips.loc[clips["metric"] == m, "value"].to_numpy(float)).any()]
    if not present:
        return _skip(name, split, "no per-clip values of the key metrics for this split")
    n_methods = len(order)
    ncols = min(4, len(present))
    nrows = math.ceil(len(present) / ncols)
    pw = min(3.0, max(1.8, 0.2 * n_methods + 0.7))
    with figure_style():
        fig = new_figure(min(12.0, ncols * pw), nrows * 2.4)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for i, metric in enumerate(present):
            ax = axes[i // ncols][i % ncols]
            rng = np.random.default_rng(JITTER_SEED)
            part = clips[clips["metric"] == metric]
            data, names = [], []
            for m in order:
                v = part.loc[part["method"] == m, "value"].to_numpy(float)
                v = v[np.isfinite(v)]
                if len(v):
                    data.append(v)
                    names.append(m)
            box = ax.boxplot(data, positions=np.arange(len(data)), widths=0.6, showfliers=False, patch_artist=True,
                             medianprops={"color": "black", "linewidth": 1.0})
            for patch, m in zip(box["boxes"], names, strict=True):
                patch.set_facecolor(styles[m].color)
                patch.set_alpha(0.3)
                patch.set_edgecolor(styles[m].color)
            for j, (v, m) in enumerate(zip(data, names, strict=True)):
                x = j + rng.uniform(-0.18, 0.18, size=len(v))
                ax.scatter(x, v, s=10, color=styles[m].color, marker=styles[m].marker, edgecolors="none", zorder=3)
            ax.set_xticks(np.arange(len(names)))
            ax.set_xticklabels(names, rotation=60, ha="right", rotation_mode="anchor", fontsize=6.5)
            ax.set_ylabel(_axis_label(results, split, metric))
            ax.grid(axis="y")
        for k in range(len(present), nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        n_clips = int(clips["clip_id"].nunique())
        caption = (f"Per-clip values ({n_clips} {split} clips; mean over each clip's frames) of "
                   f"{', '.join(present)}, by method: boxes span the quartiles, points are clips (jittered "
                   "horizontally). Arrows: higher (↑) or lower (↓) is better.")
        return _done(name, split, fig, out_dir, caption, metrics=present)


def quality_speed(results: Any, split: str, out_dir: str | Path) -> FigureFile:
    """Quality (PSNR vs clean frames, else aligned PSNR vs the PS frame) against frames per second."""
    name = "quality_speed"
    t = results.timing
    if t.empty or "fps" not in t:
        return _skip(name, split, f"no {TIMING_FILE}")
    t = t[(t["split"].astype(str) == split) & np.isfinite(t["fps"].to_numpy(float)) & (t["fps"] > 0)]
    if t.empty:
        return _skip(name, split, "no timings for this split")
    devices = t.groupby("device", sort=True).size()
    device = str(devices.index[int(np.argmax(devices.to_numpy()))])  # the most common device, first by name
    fps = {str(m): float(v) for m, v in zip(t.loc[t["device"] == device, "method"], t.loc[t["device"] == device, "fps"],
                                            strict=True)}
    metric = next((m for m in QUALITY_PREFERENCE if set(_board_values(results, split, m)) & set(fps)), None)
    if metric is None:
        return _skip(name, split, f"no method has both a timing and one of {', '.join(QUALITY_PREFERENCE)}")
    quality = _board_values(results, split, metric)
    params = _board_values(results, split, "params")
    methods = [m for m in results.method_names(split) if m in fps and m in quality]
    styles = _styles(results, split)
    biggest = max([params.get(m, 0.0) for m in methods] + [0.0])
    with figure_style():
        fig = new_figure(4.8, 3.4)
        ax = fig.add_subplot()
        sizes = {}
        for m in methods:
            p = params.get(m, 0.0)
            sizes[m] = 20.0 + 230.0 * p / biggest if p > 0 and biggest > 0 else 14.0
            st = styles[m]
            ax.scatter([fps[m]], [quality[m]], s=sizes[m], color=st.color, marker=st.marker, alpha=0.8,
                       edgecolors="black", linewidths=0.4, zorder=3)
        ax.set_xscale("log")
        ax.set_xlabel(f"frames per second on {device} (log scale) →")
        ax.set_ylabel(_axis_label(results, split, metric))
        ax.grid(True, which="major")
        ax.margins(x=0.2, y=0.1)
        labels = {m: m + (f" ({params[m] / 1e6:.2g} M)" if params.get(m, 0.0) > 0 else "") for m in methods}
        _place_labels(fig, ax, {m: (fps[m], quality[m]) for m in methods}, labels, sizes)
        better = "Up and right is better." if _higher_is_better(results, split, metric) is not False else (
            "Down and right is better.")
        caption = (f"Quality ({_LABELS.get(metric, metric)}) against speed (frames/s on {device}, log scale) on "
                   f"{split}; marker area grows with the number of parameters (in brackets; methods without "
                   f"parameters: smallest markers). {better}")
        return _done(name, split, fig, out_dir, caption, metric=metric, device=device)


def _place_labels(fig: Any, ax: Any, points: dict[str, tuple[float, float]], labels: dict[str, str],
                  sizes: dict[str, float], fontsize: float = 6.5) -> None:
    """Annotate each point, choosing (greedily, in a fixed order) the first of a few offsets whose text box
    overlaps no earlier label and no marker: deterministic, no extra dependency."""
    fig.draw_without_rendering()
    px = fig.dpi / 72.0
    xy = {m: ax.transData.transform(p) for m, p in points.items()}
    radius = {m: math.sqrt(sizes[m]) / 2 * px for m in points}
    markers = [(x - radius[m], y - radius[m], x + radius[m], y + radius[m]) for m, (x, y) in xy.items()]
    placed: list[tuple[float, float, float, float]] = []
    candidates = [(1, 0.3), (1, -1.3), (-1, 0.3), (-1, -1.3), (1, 1.5), (1, -2.5), (-1, 1.5), (-1, -2.5)]

    def overlaps(box: tuple[float, float, float, float], others: list[tuple[float, float, float, float]]) -> int:
        return sum(not (box[2] <= o[0] or o[2] <= box[0] or box[3] <= o[1] or o[3] <= box[1]) for o in others)

    for m in sorted(points, key=lambda k: (-xy[k][1], xy[k][0], k)):
        x, y = xy[m]
        w, h = 0.58 * fontsize * len(labels[m]) * px, 1.15 * fontsize * px
        best = None
        for sx, sy in candidates:
            dx = sx * (radius[m] + 2 * px)
            x0 = x + dx if sx > 0 else x + dx - w
            y0 = y + sy * h
            box = (x0, y0, x0 + w, y0 + h)
            own = (x - radius[m], y - radius[m], x + radius[m], y + radius[m])
            score = overlaps(box, placed) * 10 + overlaps(box, [b for b in markers if b != own])
            if best is None or score < best[0]:
                best = (score, sx, sy, box)
            if score == 0:
                break
        _, sx, sy, box = best
        placed.append(box)
        offset = (((box[0] if sx > 0 else box[2]) - x) / px, (box[1] - y) / px)
        ax.annotate(labels[m], points[m], xytext=offset, textcoords="offset points", fontsize=fontsize,
                    ha="left" if sx > 0 else "right", va="bottom")


def metric_over_time(results: Any, split: str, out_dir: str | Path, clip: str | None = None) -> FigureFile:
    """Per-frame values of the first two available metrics of :data:`QUALITY_PREFERENCE` (aligned PSNR and
    PSNR vs clean on synthetic data; no-reference ones on real data) of one clip by method, with the smoke
    onset and the PS frame."""
    name = "metric_over_time"
    frames = _split_frames(results, split)
    present = [m for m in QUALITY_PREFERENCE if (frames["metric"] == m).any()][:2] if not frames.empty else []
    frames = frames[frames["metric"].isin(present)] if present else frames.iloc[:0]
    if frames.empty:
        return _skip(name, split, f"no per-frame values of {', '.join(QUALITY_PREFERENCE)} for this split")
    media = results.clip_media(split)
    in_frames = sorted(frames["clip_id"].astype(str).unique())
    if clip is None:
        clip = next((c for c in sorted(media) if c in in_frames), in_frames[0])
    part = frames[frames["clip_id"].astype(str) == clip]
    if part.empty:
        return _skip(name, split, f"no per-frame values of clip {clip}")
    metrics = [m for m in ("aligned_psnr", "psnr", *QUALITY_PREFERENCE) if (part["metric"] == m).any()]
    metrics = list(dict.fromkeys(metrics))  # the official protocol on top when present
    sheet = media[clip].sheet if clip in media else {}
    order = [m for m in results.method_names(split) if (part["method"] == m).any()]
    styles = _styles(results, split)
    with figure_style():
        fig = new_figure(5.6, 1.9 * len(metrics) + 0.4)
        axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
        handles = {}
        for ax, metric in zip(axes, metrics, strict=True):
            rows = part[part["metric"] == metric]
            for m in order:
                r = rows[rows["method"] == m].sort_values("frame_number")
                if r.empty:
                    continue
                y = r["value"].to_numpy(float)
                y = np.where(np.isfinite(y), y, np.nan)
                every = max(1, len(r) // 10)
                (line,) = ax.plot(r["frame_number"].to_numpy(), y, markevery=(order.index(m) % every, every),
                                  label=m, linewidth=1.1, **styles[m].line_kwargs())
                handles.setdefault(m, line)
            onset = sheet.get("smoke_onset_number")
            if onset is not None:
                handles.setdefault("smoke onset", ax.axvline(onset, color=NEUTRAL, linestyle="--", linewidth=0.9,
                                                             label="smoke onset"))
            ps = sheet.get("ps_frame_number")
            if ps is not None:
                (mark,) = ax.plot([ps], [0.0], transform=ax.get_xaxis_transform(), marker="*", markersize=10,
                                  color=NEUTRAL, markeredgecolor="black", markeredgewidth=0.5, linestyle="none",
                                  clip_on=False, zorder=4, label="PS frame")
                handles.setdefault("PS frame", mark)
            ax.set_ylabel(_axis_label(results, split, metric))
            ax.grid(True)
        axes[-1].set_xlabel("frame number")
        fig.legend(handles=list(handles.values()), loc="outside right upper")
        caption = (f"Per-frame {' and '.join(_LABELS[m] for m in metrics)} of clip {clip} ({split}) by method"
                   + ("; dashed line: smoke onset" if sheet.get("smoke_onset_number") is not None else "")
                   + ("; star: the PS frame." if sheet.get("ps_frame_number") is not None else "."))
        return _done(name, split, fig, out_dir, caption, clip=clip, metrics=metrics)


def training_curves(results: Any, split: str, out_dir: str | Path,
                    methods: Sequence[str] | None = None) -> FigureFile:
    """Losses (and evaluation PSNR against clean frames, when logged) vs iteration of each learned run."""
    from matplotlib.lines import Line2D

    name = "training_curves"
    logs: dict[str, pd.DataFrame] = {}
    for m in (methods if methods is not None else results.method_names(split)):
        df = results.run_log(m)
        if df is not None and "iter" in df:
            logs[m] = df
    if not logs:
        return _skip(name, split, "no training logs (RESULTS/runs/<method>/log.jsonl)")
    losses = [c for c in LOSSES if any(c in df and df[c].notna().any() for df in logs.values())]
    with_eval = any("eval_psnr_clean_out" in df and df["eval_psnr_clean_out"].notna().any() for df in logs.values())
    panels = losses + (["eval"] if with_eval else [])
    if not panels:
        return _skip(name, split, "the training logs have no losses")
    styles = _styles(results, split)
    with figure_style():
        ncols = min(4, len(panels))
        nrows = math.ceil(len(panels) / ncols)
        fig = new_figure(min(11.0, 2.5 * ncols + 1.2), 2.2 * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        handles = {}
        for i, panel in enumerate(panels):
            ax = axes[i // ncols][i % ncols]
            positive, values = True, []
            for m, df in logs.items():
                st = styles.get(m) or method_styles([m])[m]
                col = "eval_psnr_clean_out" if panel == "eval" else panel
                if col not in df:
                    continue
                r = df[["iter", col]].dropna().sort_values("iter")
                if r.empty:
                    continue
                y = r[col].to_numpy(float)
                values.append(y)
                positive = positive and bool((y > 0).all())
                every = max(1, len(r) // 15)
                (line,) = ax.plot(r["iter"].to_numpy(), y, color=st.color, linestyle=st.linestyle, marker=st.marker,
                                  markevery=every, markersize=3, linewidth=1.0, label=m)
                handles.setdefault(m, line)
                if panel == "eval" and "eval_psnr_clean_in" in df:
                    ri = df[["iter", "eval_psnr_clean_in"]].dropna().sort_values("iter")
                    ax.plot(ri["iter"].to_numpy(), ri["eval_psnr_clean_in"].to_numpy(float), color=st.color,
                            linestyle=(0, (2, 2)), linewidth=0.8, alpha=0.7)
                    handles.setdefault("input", Line2D([], [], color=NEUTRAL, linestyle=(0, (2, 2)), linewidth=0.8,
                                                       label="input (no desmoking)"))
            if panel != "eval" and positive and values:
                allv = np.concatenate(values)
                if allv.size and allv.max() / allv.min() > 10:
                    ax.set_yscale("log")
            ax.set_ylabel("eval PSNR vs clean (dB) ↑" if panel == "eval" else _LABELS.get(panel, panel))
            ax.set_xlabel("iteration")
            ax.grid(True)
        for k in range(len(panels), nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        fig.legend(handles=list(handles.values()), loc="outside right upper")
        caption = (f"Training curves of {', '.join(logs)}: {', '.join(_LABELS.get(c, c) for c in losses)} vs "
                   "iteration" + ("; last panel: PSNR of the outputs against clean frames at the evaluation "
                                  "iterations (dashed: the smoky input's PSNR)." if with_eval else "."))
        return _done(name, split, fig, out_dir, caption, methods=list(logs), panels=panels)


def agreement_table(results: Any, split: str) -> pd.DataFrame:
    """Frames with both an aligned PSNR and a PSNR against clean: ``method, clip_id, frame_number,
    aligned_psnr, psnr`` (finite values only, sorted)."""
    f = _split_frames(results, split)
    f = f[f["metric"].isin(["aligned_psnr", "psnr"])]
    cols = ["method", "clip_id", "frame_number", "aligned_psnr", "psnr"]
    if f.empty:
        return pd.DataFrame(columns=cols)
    wide = (f.groupby(["method", "clip_id", "frame_number", "metric"], sort=True)["value"].first()
            .unstack("metric"))
    if not {"aligned_psnr", "psnr"} <= set(wide.columns):
        return pd.DataFrame(columns=cols)
    wide = wide.reset_index()[cols]
    keep = np.isfinite(wide["aligned_psnr"].to_numpy(float)) & np.isfinite(wide["psnr"].to_numpy(float))
    return wide[keep].astype({"aligned_psnr": float, "psnr": float}).reset_index(drop=True)


def _pearson(x: pd.Series, y: pd.Series) -> float:
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(x.corr(y))


def _spearman(x: pd.Series, y: pd.Series) -> float:
    return _pearson(x.rank(method="average"), y.rank(method="average"))


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (ties in either variable corrected); NaN with fewer than 2 values or no variation."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    i, j = np.triu_indices(len(x), k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    n_x, n_y = np.count_nonzero(dx), np.count_nonzero(dy)
    if n_x == 0 or n_y == 0:
        return float("nan")
    return float((dx * dy).sum() / math.sqrt(n_x * n_y))


def protocol_agreement_stats(results: Any, split: str) -> dict[str, Any] | None:
    """How well the official protocol (aligned PSNR against the PS frame) agrees with PSNR against clean
    frames, where both exist.

    Returns ``None`` without at least 3 frames with both values, else: Pearson ``r`` and Spearman ``rho``
    (ties: average ranks) over frames (``*_frames``) and over per-(method, clip) means (``*_clips``);
    ``pearson_within_methods``, the mean over methods of the frame-level ``r`` of each method alone (the
    pooled values also reward the differences between methods); ``kendall_methods``, Kendall's tau-b
    between the methods' leaderboard values of the two metrics (do both protocols rank the methods
    alike?) over the ``n_ranked_methods`` methods with both; and the least-squares line
    ``psnr = slope * aligned_psnr + intercept`` over frames.
    """
    t = agreement_table(results, split)
    if len(t) < 3:
        return None
    means = t.groupby(["method", "clip_id"], sort=True)[["aligned_psnr", "psnr"]].mean()
    x, y = t["aligned_psnr"], t["psnr"]
    slope, intercept = (np.polyfit(x.to_numpy(), y.to_numpy(), 1) if x.std() > 0 else (float("nan"), float("nan")))
    within = [_pearson(g["aligned_psnr"], g["psnr"]) for _, g in t.groupby("method", sort=True)]
    within = [r for r in within if math.isfinite(r)]
    aligned, clean = _board_values(results, split, "aligned_psnr"), _board_values(results, split, "psnr")
    ranked = sorted(set(aligned) & set(clean))
    return {"n_frames": int(len(t)), "pearson_frames": _pearson(x, y), "spearman_frames": _spearman(x, y),
            "n_clip_means": int(len(means)), "pearson_clips": _pearson(means["aligned_psnr"], means["psnr"]),
            "spearman_clips": _spearman(means["aligned_psnr"], means["psnr"]),
            "pearson_within_methods": float(np.mean(within)) if within else float("nan"),
            "n_ranked_methods": len(ranked),
            "kendall_methods": kendall_tau_b([aligned[m] for m in ranked], [clean[m] for m in ranked]),
            "n_methods": int(t["method"].nunique()), "slope": float(slope), "intercept": float(intercept)}


def _fmt_stat(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.3f}"


def protocol_agreement(results: Any, split: str, out_dir: str | Path) -> FigureFile:
    """Aligned PSNR vs the PS frame (x) against PSNR vs clean frames (y), per frame and per clip mean."""
    name = "protocol_agreement"
    stats = protocol_agreement_stats(results, split)
    if stats is None:
        return _skip(name, split, "frames lack aligned_psnr or psnr against clean frames (no clean data)")
    t = agreement_table(results, split)
    means = t.groupby(["method", "clip_id"], sort=True)[["aligned_psnr", "psnr"]].mean().reset_index()
    styles = _styles(results, split)
    order = [m for m in results.method_names(split) if (t["method"] == m).any()]
    with figure_style():
        fig = new_figure(5.2, 3.6)
        ax = fig.add_subplot()
        for m in order:
            st = styles[m]
            r = t[t["method"] == m]
            ax.scatter(r["aligned_psnr"], r["psnr"], s=7, color=st.color, marker=st.marker, alpha=0.45,
                       edgecolors="none", zorder=2)
            c = means[means["method"] == m]
            ax.scatter(c["aligned_psnr"], c["psnr"], s=45, color=st.color, marker=st.marker, edgecolors="black",
                       linewidths=0.6, zorder=3, label=m)
        lo = float(min(t["aligned_psnr"].min(), t["psnr"].min()))
        hi = float(max(t["aligned_psnr"].max(), t["psnr"].max()))
        ax.plot([lo, hi], [lo, hi], color=NEUTRAL, linestyle=":", linewidth=0.8, label="y = x")
        if math.isfinite(stats["slope"]):
            xs = np.array([t["aligned_psnr"].min(), t["aligned_psnr"].max()], dtype=float)
            ax.plot(xs, stats["slope"] * xs + stats["intercept"], color="black", linestyle="--", linewidth=1.0,
                    label="least squares")
        text = (f"frames (n = {stats['n_frames']}): r = {_fmt_stat(stats['pearson_frames'])}, "
                f"ρ = {_fmt_stat(stats['spearman_frames'])}\n"
                f"clip means (n = {stats['n_clip_means']}): r = {_fmt_stat(stats['pearson_clips'])}, "
                f"ρ = {_fmt_stat(stats['spearman_clips'])}\n"
                f"within methods: mean r = {_fmt_stat(stats['pearson_within_methods'])}\n"
                f"method ranking ({stats['n_ranked_methods']} methods): Kendall τ = "
                f"{_fmt_stat(stats['kendall_methods'])}")
        ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", ha="left", fontsize=6.5,
                bbox={"facecolor": "white", "edgecolor": "#cccccc", "boxstyle": "round,pad=0.3"})
        ax.set_xlabel("aligned PSNR vs PS frame (dB), official protocol")
        ax.set_ylabel("PSNR vs clean frames (dB)")
        ax.grid(True)
        fig.legend(loc="outside right upper")
        caption = (f"Agreement of the official protocol (aligned PSNR against the PS frame) with PSNR against the "
                   f"clean frames on {split}: small points are frames, large ones (method, clip) means. Over "
                   f"{stats['n_frames']} frames Pearson r = {_fmt_stat(stats['pearson_frames'])} and Spearman ρ = "
                   f"{_fmt_stat(stats['spearman_frames'])}; over {stats['n_clip_means']} clip means r = "
                   f"{_fmt_stat(stats['pearson_clips'])}, ρ = {_fmt_stat(stats['spearman_clips'])}; within one "
                   f"method the frame-level r is {_fmt_stat(stats['pearson_within_methods'])} on average, and the "
                   f"two metrics rank the {stats['n_ranked_methods']} methods with Kendall τ = "
                   f"{_fmt_stat(stats['kendall_methods'])} (1: the same order). Dashed: least squares fit; "
                   "dotted: y = x.")
        return _done(name, split, fig, out_dir, caption, **stats)


# ----------------------------------------------------------------------------------------- registry

FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("qualitative_grid", "Qualitative comparison", qualitative_grid),
    FigureSpec("mask_overlays", "SelfSVD masks", mask_overlays),
    FigureSpec("clip_distributions", "Per-clip metric distributions", clip_distributions),
    FigureSpec("quality_speed", "Quality and speed", quality_speed),
    FigureSpec("metric_over_time", "Metrics over a clip", metric_over_time),
    FigureSpec("training_curves", "Training curves", training_curves),
    FigureSpec("protocol_agreement", "Aligned PSNR vs PSNR against clean frames", protocol_agreement),
)
TITLES: dict[str, str] = {spec.name: spec.title for spec in FIGURES}


def build_figures(results: Any, split: str, out_dir: str | Path,
                  names: Sequence[str] | None = None) -> list[FigureFile]:
    """Every figure of :data:`FIGURES` (or those in ``names``) for ``split``, in report order; skipped ones
    are included with ``paths == []`` and their ``reason``."""
    unknown = set(names or ()) - set(TITLES)
    if unknown:
        raise ValueError(f"unknown figure(s) {sorted(unknown)}; known: {list(TITLES)}")
    return [spec.function(results, split, out_dir) for spec in FIGURES if names is None or spec.name in names]
