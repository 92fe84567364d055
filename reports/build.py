"""``python -m reports.build``: the paper's kinds of tables and figures, and one report page, from results.

Examples::

    python -m benchmarks.run --method selfsvd          # writes ./results
    python -m reports.build                             # writes ./results/report
    python -m reports.build --results runs/paper --output paper/report --clips synth_test_001 --zoom 0.5,0.2,0.25,0.25

Reads only the files ``python -m benchmarks.run`` wrote (leaderboard, per-frame and per-clip values,
timing, method table, saved preview videos and sample frames, copied training logs); it never runs
a model or a metric. Writes, into ``--output`` (default ``RESULTS/report``), replacing it as a whole
only once everything is built::

    report.html                one self-contained page (tables, figures, synchronised video players; only
                               its links to the figures' PDFs point outside it)
    REPORT.md                  the tables and links to the figures (for a repository or a paper draft)
    tables/<table>_<split>.md  main comparison, efficiency, ablation (Markdown and LaTeX booktabs), one per
    tables/<table>_<split>.tex (split, evaluation protocol), its protocol card under it; ``_<protocol>`` is
                               appended for protocols other than selfsvd-eccv24; published numbers of the
                               protocol (benchmarks/published) follow the measured rows, marked (published)
    figures/<figure>_<split>.png / .pdf
    stats.json                 the numbers the figures quote (e.g. the protocol agreement), skipped figures

The same results give the same bytes (no dates; fixed fonts; PNG/PDF metadata stripped).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lsvd.cli import add_option, command_parser, parse, run

log = logging.getLogger("reports.build")

__all__ = ["VIDEO_CLIPS", "VIDEO_METHODS", "build_parser", "build_report", "check_out_dir", "default_video_methods",
           "main", "video_groups"]

#: Outputs at most this many methods next to the input in each video group (``--video-methods`` for more).
VIDEO_METHODS = 4
#: Clips with video players by default.
VIDEO_CLIPS = 2


def default_video_methods(results: Any, split: str) -> list[str]:
    """SelfSVD(*) first, then the other non-ablation methods in table order (no identity: it is the input)."""
    from reports.results import PROPOSED

    names = [m for m in results.method_names(split) if m != "identity" and not results.is_ablation(m, split)]
    ordered = [m for m in PROPOSED if m in names] + [m for m in names if m not in PROPOSED]
    return ordered[:VIDEO_METHODS]


def video_groups(results: Any, split: str, clips: Sequence[str] | None, methods: Sequence[str] | None) -> list[Any]:
    """One :class:`~reports.html.VideoGroup` per clip: the input preview and the chosen methods' outputs."""
    from reports.html import VideoGroup

    media = results.clip_media(split)
    chosen = list(clips) if clips else sorted(media)[:VIDEO_CLIPS]
    methods = list(methods) if methods else default_video_methods(results, split)
    groups = []
    for clip_id in chosen:
        m = media.get(clip_id)
        if m is None or not m.input_video.is_file():
            log.warning("clip %s of split %s has no saved preview video: no players for it", clip_id, split)
            continue
        videos = [("Input (smoky)", m.input_video)]
        videos += [(name, m.output_video(name)) for name in methods if m.output_video(name) is not None]
        onset = m.sheet.get("smoke_onset_number")
        caption = (f"Frames {m.sheet['frame_numbers'][0]}-{m.sheet['frame_numbers'][-1]} after the PS frame "
                   f"{m.sheet['ps_frame_number']}" + (f"; smoke from frame {onset}" if onset is not None else "")
                   + ". One control drives every player; previews are VP9, at most 360 px high.")
        groups.append(VideoGroup(f"{split} / {clip_id}", videos, fps=float(m.sheet.get("fps") or 25.0),
                                 caption=caption, first_frame=int(m.sheet["frame_numbers"][0])))
    return groups


def _intro(results: Any, stats: dict[str, Any]) -> str:
    board = results.leaderboard
    parts = []
    for split in results.splits:
        rows = board[board["split"] == split]
        clips = int(rows.loc[rows["status"] == "ok", "n_clips"].max()) if (rows["status"] == "ok").any() else 0
        methods = results.method_names(split)
        parts.append(f"Split '{split}': {clips} clip(s), {len(methods)} method(s) ({', '.join(methods)}).")
        agreement = stats.get(split, {}).get("protocol_agreement", {})
        if "pearson_frames" in agreement:  # skipped on data without clean frames
            parts.append(f"On this split the official protocol (aligned PSNR against the PS frame) and the true PSNR "
                         f"against clean frames agree with Pearson r = {agreement['pearson_frames']:.3f} and Spearman "
                         f"rho = {agreement['spearman_frames']:.3f} over {agreement['n_frames']} frames "
                         f"(r = {agreement['pearson_clips']:.3f} over {agreement['n_clip_means']} per-(method, clip) "
                         f"means). The two rank the {agreement['n_ranked_methods']} methods with Kendall tau = "
                         f"{agreement['kendall_methods']:.3f} (1: the same order).")
    return ("Built by python -m reports.build from the results of python -m benchmarks.run alone (no model was "
            "run). Tables: best in bold, second underlined, by each metric's declared direction; the identity "
            "floor (the smoky input) is not ranked.\n\n" + " ".join(parts))


def build_report(results_dir: str | Path = "results", out: str | Path | None = None, *,
                 splits: Sequence[str] | None = None, clips: Sequence[str] | None = None,
                 methods: Sequence[str] | None = None, zoom: Sequence[float] | None = None,
                 video_clips: Sequence[str] | None = None, video_methods: Sequence[str] | None = None,
                 title: str = "LSVD toolkit report", published: bool = True, deltas: bool = True) -> dict[str, Any]:
    """Build every table, figure and the page (see the module docstring).

    Args:
        splits: splits to report (default: every split of the leaderboard).
        clips / methods / zoom: the qualitative figures' clips, methods and zoom region ``(x, y, w, h)``
            in fractions of the frame (defaults: :mod:`reports.figures`).
        video_clips / video_methods: the clips with video players and the outputs shown next to the input.
        published: show the shipped published numbers (:mod:`benchmarks.published`) beside the measured rows of
            their protocol, marked ``(published)`` and never ranked with them.
        deltas: end each method's quality cell in its change against the identity floor, ``24.21 (+2.07)``.

    Returns:
        ``{"out": Path, "figures": [FigureFile], "tables": {key: Table}, "stats": dict}``.

    Raises:
        reports.results.ResultsError: not a results folder, or an unknown split.
    """
    from lsvd.io.atomic import atomic_dir, write_json, write_text
    from reports.figures import FIGURES
    from reports.html import FigureSection, TableSection, render_page, write_page
    from reports.results import ResultsError, load_results
    from reports.tables import build_tables, write_tables

    results = load_results(results_dir)
    chosen = list(splits) if splits else results.splits
    unknown = sorted(set(chosen) - set(results.splits))
    if unknown:
        raise ResultsError(f"split(s) {unknown} are not in {results.layout.leaderboard}; it has "
                           f"{results.splits}")
    out = check_out_dir(Path(out).expanduser() if out is not None else results.layout.report, results.root)
    tables = build_tables(results, chosen, published=published, deltas=deltas)
    options = {"qualitative_grid": {"clips": clips, "methods": methods, "zoom": zoom},
               "mask_overlays": {"clips": clips}, "metric_over_time": {"clip": clips[0] if clips else None}}
    figures, stats = [], {}
    with atomic_dir(out) as tmp:
        write_tables(tables, tmp / "tables")
        for split in chosen:
            # figures show one protocol's leaderboard rows: the split's first (the default one when it has it)
            view = results.for_protocol(results.protocols(split)[0])
            for spec in FIGURES:
                kwargs = {k: v for k, v in options.get(spec.name, {}).items() if v is not None}
                fig = spec.function(view, split, tmp / "figures", **kwargs)
                fig.paths = [out / p.relative_to(tmp) for p in fig.paths]
                figures.append(fig)
                entry = stats.setdefault(split, {})
                entry[spec.name] = fig.stats if fig.ok else {"skipped": fig.reason}
        made = [f for f in figures if f.ok]
        page = render_page(
            title, subtitle=", ".join(f"split {s}" for s in chosen), intro=_intro(results, stats),
            provenance=_provenance(results),
            tables=[TableSection(t.title, t.to_html(caption=False), t.caption, card=t.card) for t in tables.values()],
            figures=[FigureSection(f.title + (f" ({f.split})" if len(chosen) > 1 else ""), tmp / _rel(f, out, "png"),
                                   f.caption, pdf_href=_rel(f, out, "pdf")) for f in made],
            videos=[g for split in chosen for g in video_groups(results, split, video_clips, video_methods)])
        write_page(tmp / "report.html", page)
        write_text(tmp / "REPORT.md", _markdown(title, tables, made, out))
        write_json(tmp / "stats.json", _finite({"provenance": _provenance(results), "figures": stats}))
    return {"out": out, "figures": figures, "tables": tables, "stats": stats}


def check_out_dir(out: Path, results_root: Path) -> Path:
    """``out``, unless replacing it could destroy something other than an earlier report.

    Raises:
        ResultsError: ``out`` is the results folder or contains it, or is a non-empty folder that is
            not a report (no ``report.html`` / ``stats.json``).
    """
    from reports.results import ResultsError

    resolved, root = out.resolve(), results_root.resolve()
    if resolved == root or resolved in root.parents:
        raise ResultsError(f"--output {out}: it is (or contains) the results folder {results_root}, which building "
                           "the report would replace; choose a new folder, e.g. the default RESULTS/report")
    if out.is_dir() and any(out.iterdir()) and not ((out / "report.html").is_file() or (out / "stats.json").is_file()):
        raise ResultsError(f"--output {out}: a non-empty folder that is not a report (no report.html); the build "
                           "replaces --output as a whole, so give an empty or new folder, or an earlier report's")
    return out


def _finite(obj: Any) -> Any:
    """``obj`` with NaN / inf floats as None (strict JSON)."""
    import math

    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _rel(fig: Any, out: Path, suffix: str) -> str:
    path = next(p for p in fig.paths if p.suffix == f".{suffix}")
    return path.relative_to(out).as_posix()


def _provenance(results: Any) -> dict[str, Any]:
    import lsvd

    prov = results.provenance()
    labels = {"toolkit_version": "toolkit version (benchmark)", "git_commit": "git commit (benchmark)",
              "data_manifest_id": "data manifest", "flow": "flow backend", "seed": "seed", "device": "device"}
    out: dict[str, Any] = {labels.get(k, k): v[0] if len(v) == 1 else v for k, v in prov.items()}
    out["report built with"] = f"lsvd toolkit {lsvd.__version__}"
    return out


def _markdown(title: str, tables: dict[str, Any], figures: Sequence[Any], out: Path) -> str:
    parts = [f"# {title}\n", "Built by `python -m reports.build` from benchmark results (see `stats.json` for the "
             "numbers the figures quote).\n"]
    parts += [t.to_markdown() for t in tables.values()]
    parts.append("## Figures\n")
    for f in figures:
        parts.append(f"### {f.title} ({f.split})\n\n![{f.title}]({_rel(f, out, 'png')})\n\n{f.caption} "
                     f"([PDF]({_rel(f, out, 'pdf')}))\n")
    return "\n".join(parts)


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected x,y,w,h fractions of the frame, got {text!r}") from None
    if len(values) != 4 or not all(0 <= v <= 1 for v in values) or values[2] <= 0 or values[3] <= 0:
        raise argparse.ArgumentTypeError(f"expected 4 fractions x,y,w,h in [0, 1] with w, h > 0, got {text!r}")
    return values


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m reports.build", __doc__)
    p.add_argument("--results", default="results", help="the --output folder of python -m benchmarks.run")
    add_option(p, "-o", "--output", old=("--out",), help="where the report goes (default RESULTS/report); replaced "
               "as a whole")
    p.add_argument("--split", action="append", default=[], help="split to report (repeatable; default: all)")
    p.add_argument("--clips", type=_names, help="comma-separated clip ids of the qualitative figures")
    p.add_argument("--methods", type=_names, help="comma-separated methods of the qualitative grid")
    p.add_argument("--zoom", type=_floats, metavar="X,Y,W,H", help="zoom region, fractions of the frame "
                   "(default: per clip, the window where the input differs most from the PS frame)")
    p.add_argument("--video-clips", type=_names, help=f"clips with video players (default: the first {VIDEO_CLIPS})")
    p.add_argument("--video-methods", type=_names, help="outputs shown next to the input (default: SelfSVD(*) "
                   f"first, then other methods, {VIDEO_METHODS} at most)")
    p.add_argument("--title", default="LSVD toolkit report")
    p.add_argument("--published", action=argparse.BooleanOptionalAction, default=True,
                   help="show published numbers (benchmarks/published) beside the measured rows of their protocol, "
                   "marked (published) and not ranked (default: on)")
    p.add_argument("--deltas", action=argparse.BooleanOptionalAction, default=True,
                   help="end each method's quality cell in its change against the identity floor, e.g. 24.21 (+2.07) "
                   "(default: on)")
    return p


def _report(args: argparse.Namespace) -> int:
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # matplotlib's PDF font subsetting is chatty
    out = build_report(args.results, args.output, splits=args.split or None, clips=args.clips, methods=args.methods,
                       zoom=args.zoom, video_clips=args.video_clips, video_methods=args.video_methods,
                       title=args.title, published=args.published, deltas=args.deltas)
    made = [f for f in out["figures"] if f.ok]
    print(f"tables   {len(out['tables'])} ({', '.join(out['tables'])}), Markdown and LaTeX in {out['out'] / 'tables'}")
    print(f"figures  {len(made)} (PNG and PDF) in {out['out'] / 'figures'}")
    for f in out["figures"]:
        if not f.ok:
            print(f"skipped  {f.name} ({f.split}): {f.reason}")
    for split, entry in out["stats"].items():
        agreement = entry.get("protocol_agreement", {})
        if "pearson_frames" in agreement:
            print(f"protocol {split}: aligned PSNR vs PSNR against clean frames: Pearson r "
                  f"{agreement['pearson_frames']:.3f}, Spearman rho {agreement['spearman_frames']:.3f} "
                  f"({agreement['n_frames']} frames); method ranking Kendall tau {agreement['kendall_methods']:.3f} "
                  f"({agreement['n_ranked_methods']} methods)")
    print(f"page     {out['out'] / 'report.html'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_report, parse(build_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())
