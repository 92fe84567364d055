"""``python -m lsvd.prepare``: index LSVD folders, raw videos or the built-in synthetic
mini-LSVD into a versioned dataset root (Parquet manifests + meta/info.json + dataset card).

Examples::

    python -m lsvd.prepare                                  # synthetic mini-LSVD (default preset)
    python -m lsvd.prepare --synthetic --data-preset tiny --root /tmp/tiny
    python -m lsvd.prepare --lsvd /data/LSVD --root /data/lsvd-root --hash
    python -m lsvd.prepare --videos case1.mp4 more_videos/ --root /data/my-root --store png
    python -m lsvd.prepare --videos clips/ --onsets onsets.csv --split auto --test-fraction 0.2
    python -m lsvd.prepare --synthetic --masks --mode official --flow dis   # + SelfSVD masks

Re-running is incremental (unchanged inputs are skipped; nothing is rewritten when nothing
changed) and safe (manifests are replaced atomically; a killed run leaves the old ones).
Bad inputs are skipped and listed in ``meta/report.json``; ``--strict`` fails instead.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from lsvd.cli import add_option, add_root, command_parser, parse, run
from lsvd.constants import (
    CLIPS_FILE,
    INFO_FILE,
    REPORT_FILE,
    SOURCE_LSVD,
    SOURCE_SYNTHETIC,
    SOURCE_VIDEO,
    STORAGE_VIDEO,
    SYNTHETIC_DIR,
    lsvd_home,
)
from lsvd.data.lsvd_layout import IndexResult, index_lsvd
from lsvd.data.manifest import Manifest, ManifestError, refuse_newer_format, root_lock, write_manifest
from lsvd.data.problems import BadInputError, ProblemLog
from lsvd.io.atomic import write_json

if TYPE_CHECKING:
    from lsvd.data.synthetic import SyntheticConfig

__all__ = ["PrepareSummary", "build_parser", "default_root", "main", "prepare_lsvd", "prepare_synthetic",
    "prepare_videos", "synthetic_root"]

log = logging.getLogger(__name__)


@dataclass
class PrepareSummary:
    """What a prepare run did (also printed at the end of the command)."""

    root: Path
    source: str
    clips: int
    frames: int
    by_split: dict[str, int]
    indexed: int
    reused: int
    removed: int
    problems: dict[str, int]
    changed: bool
    seconds: float
    extras: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        splits = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_split.items())) or "none"
        lines = [
            f"dataset root   {self.root}",
            f"source         {self.source}",
            f"clips          {self.clips} ({splits}); {self.frames} frames",
            f"this run       {self.indexed} clip(s) indexed, {self.reused} unchanged, {self.removed} removed; "
            f"manifests {'written' if self.changed else 'unchanged'} in {self.seconds:.1f} s",
        ]
        if self.problems:
            kinds = ", ".join(f"{k}: {v}" for k, v in self.problems.items())
            lines.append(f"skipped        {sum(self.problems.values())} problem(s) ({kinds}); see {REPORT_FILE}")
        lines += [f"{k:<14} {v}" for k, v in self.extras.items()]
        return "\n".join(lines)


@contextlib.contextmanager
def _writing(root: Path, source_kind: str, force: bool) -> Iterator[tuple[pd.DataFrame, pd.DataFrame] | None]:
    """Hold the root's write lock and yield its last manifest rows (``None`` when there are none).

    Refuses a root of another source kind (unless ``force``) and a root of a newer format; a root
    whose ``meta/info.json`` or manifests are unreadable is indexed from scratch, which repairs it.
    """
    with root_lock(root, "prepare"):
        yield _previous(root, source_kind, force)


def _previous(root: Path, source_kind: str, force: bool) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    info_path = root / INFO_FILE
    if not info_path.exists():
        return None
    try:
        info = json.loads(info_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        info = None
        log.warning("%s is unreadable (%s); indexing from scratch, which rewrites it", info_path, exc)
    if isinstance(info, dict):
        refuse_newer_format(info, str(info_path))
        kind = (info.get("source") or {}).get("kind")
    else:
        kind = _kind_from_clips(root)
    if kind is not None and kind != source_kind and not force:
        raise ManifestError(
            f"{root} holds a dataset prepared from a {kind!r} source, not {source_kind!r}; "
            "use another --root (one source per root), or --force to replace it"
        )
    if not isinstance(info, dict):
        return None
    try:
        manifest = Manifest.load(root)
    except ManifestError as exc:
        log.warning("previous manifest not reusable (%s); indexing from scratch", exc)
        return None
    return manifest.clips, manifest.frames


def _kind_from_clips(root: Path) -> str | None:
    """The source kind recorded in ``clips.parquet`` (when ``info.json`` is lost), if readable and single."""
    try:
        kinds = set(pd.read_parquet(root / CLIPS_FILE, columns=["source"])["source"].dropna())
    except Exception:  # missing or corrupt too: nothing to protect
        return None
    return kinds.pop() if len(kinds) == 1 else None


def _fill_smoke_scores(frames: pd.DataFrame, root: Path, progress: bool) -> pd.DataFrame:
    """Compute missing ``smoke_score`` values of PNG-stored frames (decodes those frames)."""
    from lsvd.data.smoke import smoke_score
    from lsvd.io.images import read_rgb

    todo = np.flatnonzero(frames["smoke_score"].isna().to_numpy())
    if not len(todo):
        return frames
    frames = frames.copy()
    scores = frames["smoke_score"].astype("float64").to_numpy().copy()
    for i in tqdm(todo, desc="smoke scores", unit="frame", disable=not progress):
        path = Path(frames.at[i, "path"])
        scores[i] = smoke_score(read_rgb(path if path.is_absolute() else root / path))
    frames["smoke_score"] = scores
    return frames


def _finish(root: Path, result: IndexResult, log_: ProblemLog, source: dict, previous, t0: float,
            extras: dict[str, str] | None = None) -> PrepareSummary:
    """Strict check, write manifests + report + card, and summarise."""
    log_.check()
    if result.clips.empty:
        raise BadInputError(log_.problems, header=f"no usable clip found in {source.get('uri')}")
    manifest_id, changed = write_manifest(root, result.clips, result.frames, source=source)  # and the card
    write_json(root / REPORT_FILE, {"manifest_id": manifest_id, **log_.to_json()})
    prev_ids = set(previous[0]["clip_id"]) if previous is not None and len(previous[0]) else set()
    by_split = result.clips.groupby("split").size().to_dict()
    extras = dict(extras or {})
    if (result.clips["storage"] == STORAGE_VIDEO).all():  # HF loading needs decoding: say how, once, here
        from lsvd.hf.card import VIDEO_PIXELS_ADVICE

        extras["HF datasets"] = "frames stay inside the videos: " + VIDEO_PIXELS_ADVICE.replace("`", "")
    return PrepareSummary(
        root=root, source=source["kind"], clips=len(result.clips), frames=len(result.frames),
        by_split={str(k): int(v) for k, v in by_split.items()}, indexed=result.indexed, reused=result.reused,
        removed=len(prev_ids - set(result.clips["clip_id"])), problems=log_.counts(), changed=changed,
        seconds=time.perf_counter() - t0, extras=extras,
    )


def prepare_lsvd(src: str | Path, root: str | Path, *, strict: bool = False, hash_files: bool = False,
                 smoke_scores: bool = False, licence: str | None = None, force: bool = False,
                 progress: bool = True) -> PrepareSummary:
    """Index an official LSVD tree in place (see :mod:`lsvd.data.lsvd_layout`)."""
    t0 = time.perf_counter()
    src, root = Path(src).expanduser().resolve(), Path(root).expanduser().resolve()
    with _writing(root, SOURCE_LSVD, force) as previous:
        problems = ProblemLog(strict=strict)
        kw = {"licence": licence} if licence else {}
        result = index_lsvd(src, root, problems, previous=previous, hash_files=hash_files, progress=progress, **kw)
        if smoke_scores and not result.clips.empty:
            result.frames = _fill_smoke_scores(result.frames, root, progress)
        source = {"kind": SOURCE_LSVD, "uri": src.as_posix(), "inputs": [src.as_posix()],
                  "description": "official LSVD folder layout, indexed in place (frame 0 of each clip is its PS "
                  "frame)", "hashed": hash_files}
        return _finish(root, result, problems, source, previous, t0)


def prepare_synthetic(root: str | Path, *, preset: str = "default", seed: int | None = None,
                      strict: bool = False, force: bool = False, progress: bool = True,
                      config: SyntheticConfig | None = None) -> PrepareSummary:
    """Generate the synthetic mini-LSVD under ``root/synthetic`` and index it.

    ``config`` (a :class:`~lsvd.data.synthetic.SyntheticConfig`, e.g. 1080p frames for speed measurements)
    replaces the preset's; the root then records ``preset="custom"`` and the whole config.
    """
    from lsvd.data.synthetic import PRESETS, generate

    t0 = time.perf_counter()
    root = Path(root).expanduser().resolve()
    if config is not None:
        preset = "custom"
    elif preset not in PRESETS:
        raise ValueError(f"unknown synthetic preset {preset!r}; choose one of {sorted(PRESETS)}")
    else:
        config = PRESETS[preset]
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
    with _writing(root, SOURCE_SYNTHETIC, force) as previous:
        gen_dir = root / SYNTHETIC_DIR
        clips_meta = {c.name: c for c in generate(gen_dir, config, progress=progress)}
        problems = ProblemLog(strict=strict)
        result = index_lsvd(gen_dir, root, problems, previous=previous, licence="CC0-1.0", progress=progress)
        meta = json.loads((gen_dir / "synthetic.json").read_text())
        uri = f"lsvd.data.synthetic?preset={preset}&seed={config.seed}&version={meta['version']}"
        c = result.clips
        if not c.empty:
            c["source"] = SOURCE_SYNTHETIC
            c["source_uri"] = uri
            c["smoke_onset_index"] = [clips_meta[i].onset_index for i in c["clip_id"]]
            c["onset_source"] = "synthetic"
            result.frames = _fill_smoke_scores(result.frames, root, progress)
        source = {"kind": SOURCE_SYNTHETIC, "uri": uri, "description": "built-in synthetic mini-LSVD: rendered "
                  "laparoscopic-like clips with smoke composed by I = J*t + A*(1-t); clean frames and density "
                  "included", "config": dataclasses.asdict(config), "preset": preset}
        return _finish(root, result, problems, source, previous, t0,
                       extras={"contact sheet": str(gen_dir / "contact_sheet.png")})


def prepare_videos(paths: list[str | Path], root: str | Path, *, strict: bool = False, force: bool = False,
                   progress: bool = True, **options) -> PrepareSummary:
    """Ingest raw videos (see :mod:`lsvd.data.videos` for ``options``)."""
    from lsvd.data.videos import VideoOptions, index_videos

    t0 = time.perf_counter()
    root = Path(root).expanduser().resolve()
    opts = VideoOptions(**options)
    with _writing(root, SOURCE_VIDEO, force) as previous:
        problems = ProblemLog(strict=strict)
        result = index_videos([Path(p) for p in paths], root, problems, opts, previous=previous, progress=progress)
        inputs = [Path(p).expanduser().resolve().as_posix() for p in paths]
        source = {"kind": SOURCE_VIDEO, "uri": ", ".join(inputs), "inputs": inputs,
                  "description": "raw videos: PS frames and smoke onsets "
                  + ("given by the user" if opts.onsets else "detected with lsvd.data.smoke"),
                  "options": opts.to_json()}
        return _finish(root, result, problems, source, previous, t0)


def synthetic_root(preset: str = "default", seed: int | None = None) -> Path:
    """``$LSVD_HOME/datasets/synthetic-<preset>[-seed<N>]``: where the synthetic mini-LSVD goes by default."""
    return lsvd_home() / "datasets" / (f"synthetic-{preset}" + (f"-seed{seed}" if seed is not None else ""))


def default_root(args: argparse.Namespace) -> Path:
    """``$LSVD_HOME/datasets/<name>`` for the chosen source."""
    if args.lsvd:
        name = "lsvd"
    elif args.videos:
        name = "videos"
    else:
        return synthetic_root(args.data_preset, args.seed)
    return lsvd_home() / "datasets" / name


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m lsvd.prepare", __doc__)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--synthetic", action="store_true", help="generate and index the synthetic mini-LSVD "
                     "(the default when no source is given)")
    src.add_argument("--lsvd", metavar="DIR", help="an official LSVD tree (LSVD_train/, LSVD_test/, ...)")
    src.add_argument("--videos", nargs="+", metavar="PATH", help="video files or folders of videos")
    add_root(p, help="dataset root to write (default: $LSVD_HOME/datasets/<source>)", old=())
    p.add_argument("--strict", action="store_true", help="fail on bad input (listing every problem) "
                   "instead of skipping it")
    p.add_argument("--hash", action="store_true", help="record sha256 of every frame file (LSVD, PNG)")
    p.add_argument("--force", action="store_true", help="replace a root prepared from another source kind")
    p.add_argument("--licence", help="licence of the pixels, recorded per clip")
    g = p.add_argument_group("masks")
    g.add_argument("--masks", action="store_true", help="also generate SelfSVD masks (python -m lsvd.masks)")
    from lsvd.masks.pipeline import add_mask_arguments

    add_mask_arguments(g)
    g = p.add_argument_group("synthetic")
    add_option(g, "--data-preset", old=("--preset",), default="default", help="size of the synthetic data: default | "
               "tiny")
    g.add_argument("--seed", type=int, help="synthetic seed (default: the preset's)")
    g = p.add_argument_group("lsvd")
    g.add_argument("--smoke-scores", action="store_true", help="decode frames to compute smoke scores")
    g = p.add_argument_group("videos")
    g.add_argument("--store", choices=("video", "png"), default="video",
                   help="keep frames inside the videos (default; addressed by frame number and timestamp) "
                   "or extract the clips' frames as PNG under the root (fast random access for training)")
    g.add_argument("--cut", choices=("auto", "events", "whole"), default="auto",
                   help="events: cut long videos into clips at detected smoke events; whole: one clip per "
                   "video starting at its PS frame; auto (default): whole for videos of at most "
                   "--max-clip-frames frames, events otherwise")
    g.add_argument("--onsets", type=Path, help="CSV with columns video, ps_frame[, onset_frame, end_frame]: "
                   "user-given PS frames and onsets (one row per clip) instead of detection")
    g.add_argument("--min-clip-frames", type=int, default=10)
    g.add_argument("--max-clip-frames", type=int, default=100)
    g.add_argument("--split", default="test", help="split name for every clip, or 'auto' to draw "
                   "train/test per video with --test-fraction and --split-seed")
    g.add_argument("--test-fraction", type=float, default=0.2)
    g.add_argument("--split-seed", type=int, default=0)
    g.add_argument("--workers", type=int, default=0, help="videos scanned in parallel (0: one per two "
                   "cores; each video uses a decoding and a scoring process)")
    return p


def _prepare(args: argparse.Namespace) -> int:
    root = Path(args.root) if args.root else default_root(args)
    if args.lsvd:
        summary = prepare_lsvd(args.lsvd, root, strict=args.strict, hash_files=args.hash,
                               smoke_scores=args.smoke_scores, licence=args.licence, force=args.force,
                               progress=args.progress)
    elif args.videos:
        summary = prepare_videos(
            args.videos, root, strict=args.strict, force=args.force, progress=args.progress,
            store=args.store, cut=args.cut, onsets=args.onsets, min_clip_frames=args.min_clip_frames,
            max_clip_frames=args.max_clip_frames, split=args.split, test_fraction=args.test_fraction,
            split_seed=args.split_seed, hash_files=args.hash, licence=args.licence or "unknown",
            workers=args.workers)
    else:
        summary = prepare_synthetic(root, preset=args.data_preset, seed=args.seed, strict=args.strict,
                                    force=args.force, progress=args.progress)
    print(summary.render())
    if args.masks:
        from lsvd.masks.pipeline import generate_masks

        masks = generate_masks(root, mode=args.mask_mode, flow=args.flow, flow_weights=args.flow_weights,
                               strict=args.strict, progress=args.progress)
        print(masks.render())
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_prepare, parse(build_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())
