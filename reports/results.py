"""Read a benchmark results folder (``python -m benchmarks.run --output DIR``) for reports.

    results = load_results("results")
    results.leaderboard          # tidy: method, split, metric, value, status, higher_is_better, ...
    results.frames               # per frame: method, split, clip_id, frame_number, metric, value
    results.clip_media("test")   # {clip_id: ClipMedia}: preview videos, sample frames, masks
    results.run_log("selfsvd")   # the training log of a learned method (DataFrame) or None

Only files are read: reports never run a model or a metric. The folder's file names and format version
come from :mod:`benchmarks.results` (the writer uses the same); a folder of another major results format
is refused with a message naming both versions, one without ``benchmark.json`` (written before the format
had a version) is read as format 1.0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.results import (
    CLEAN_FRAMES_DIR,
    CLIP_SHEET,
    INPUT_FRAMES_DIR,
    INPUT_PREVIEW,
    LEADERBOARD_FILE,
    MASK_FRAMES_DIR,
    MEDIA_KEY_FILE,
    METHOD_MEDIA_DIR,
    OUTPUT_PREVIEW,
    PS_FRAME,
    RUN_LOG_FILE,
    ResultsFormatError,
    ResultsLayout,
    check_format,
    method_dir_name,
)
from lsvd.errors import LsvdError

__all__ = ["DEFAULT_PROTOCOL", "DEFAULT_PROTOCOL_VERSION", "KIND_ORDER", "PROPOSED", "ClipMedia", "Results",
           "ResultsError", "load_results", "protocol_card"]

#: Method kinds in table order: the floor first, the proposed methods last (as papers do).
KIND_ORDER = ("reference", "classical", "external", "learned")
#: Methods shown last in comparisons ("ours").
PROPOSED = ("selfsvd", "selfsvd_star")
#: The protocol of leaderboard rows without a ``protocol`` column (written before rows named theirs); the same
#: name as ``benchmarks.protocols.DEFAULT_PROTOCOL``.
DEFAULT_PROTOCOL = "selfsvd-eccv24"
#: Their protocol version.
DEFAULT_PROTOCOL_VERSION = "1"


class ResultsError(LsvdError, ValueError):
    """A results folder that cannot be reported on; the message says what to do."""


@dataclass
class ClipMedia:
    """The media the benchmark saved for one clip (see :mod:`benchmarks.media`).

    Attributes:
        folder: ``RESULTS/media/<split>/<clip_id>``.
        sheet: its ``clip.json``: ``frame_numbers`` (list of int), ``ps_frame_number``,
            ``smoke_onset_number`` (int or None), ``samples`` (frame numbers with PNGs; the first is
            the primary one to show: the smokiest after the onset), ``fps``,
            ``height``, ``width``, ``has_mask``, ``has_clean``.
        methods: names of the methods whose outputs are saved (folder names mapped back to names).
    """

    folder: Path
    sheet: dict[str, Any]
    methods: dict[str, Path] = field(default_factory=dict)

    @property
    def clip_id(self) -> str:
        return str(self.sheet["clip_id"])

    @property
    def samples(self) -> list[int]:
        return [int(n) for n in self.sheet["samples"]]

    @property
    def input_video(self) -> Path:
        return self.folder / INPUT_PREVIEW

    @property
    def ps_frame(self) -> Path:
        return self.folder / PS_FRAME

    def input_frame(self, n: int) -> Path:
        return self.folder / INPUT_FRAMES_DIR / f"{n}.png"

    def mask(self, n: int) -> Path | None:
        """uint8 0/255 PNG at quarter resolution, or None without masks."""
        p = self.folder / MASK_FRAMES_DIR / f"{n}.png"
        return p if p.is_file() else None

    def clean_frame(self, n: int) -> Path | None:
        p = self.folder / CLEAN_FRAMES_DIR / f"{n}.png"
        return p if p.is_file() else None

    def output_frame(self, method: str, n: int) -> Path | None:
        """A method's output at sample frame ``n`` (saved for the primary sample only), or None."""
        folder = self.methods.get(method)
        p = folder / f"{n}.png" if folder is not None else None
        return p if p is not None and p.is_file() else None

    def output_video(self, method: str) -> Path | None:
        folder = self.methods.get(method)
        p = folder / OUTPUT_PREVIEW if folder is not None else None
        return p if p is not None and p.is_file() else None


@dataclass
class Results:
    """The tables of a results folder (empty DataFrames for optional files that are absent)."""

    root: Path
    leaderboard: pd.DataFrame
    frames: pd.DataFrame
    clips: pd.DataFrame
    timing: pd.DataFrame
    methods: pd.DataFrame
    #: ``benchmark.json`` (format version, the configs behind the rows); ``{"format_version": "1.0"}`` without it
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def layout(self) -> ResultsLayout:
        return ResultsLayout(self.root)

    @property
    def splits(self) -> list[str]:
        return sorted(self.leaderboard["split"].astype(str).unique())

    def _protocol_column(self, name: str, default: str) -> pd.Series:
        board = self.leaderboard
        return board[name].astype(str) if name in board else pd.Series(default, index=board.index, dtype=str)

    def protocols(self, split: str) -> list[str]:
        """The evaluation protocols of ``split``'s rows: :data:`DEFAULT_PROTOCOL` first, then A-Z."""
        rows = self.leaderboard["split"].astype(str) == split
        names = set(self._protocol_column("protocol", DEFAULT_PROTOCOL)[rows])
        return sorted(names, key=lambda p: (p != DEFAULT_PROTOCOL, p))

    def for_protocol(self, protocol: str) -> Results:
        """These results with only the leaderboard rows of ``protocol`` (the other tables are shared)."""
        from dataclasses import replace

        return replace(self, leaderboard=self.leaderboard[self._protocol_column("protocol", DEFAULT_PROTOCOL)
                                                          == protocol])

    def protocol_version(self, split: str, protocol: str) -> str:
        """The protocol version(s) of ``split``'s rows of ``protocol`` (``"1, 2"`` when rows differ)."""
        rows = ((self.leaderboard["split"].astype(str) == split)
                & (self._protocol_column("protocol", DEFAULT_PROTOCOL) == protocol))
        versions = set(self._protocol_column("protocol_version", DEFAULT_PROTOCOL_VERSION)[rows])
        return ", ".join(sorted(versions)) or DEFAULT_PROTOCOL_VERSION

    def method_names(self, split: str) -> list[str]:
        """Methods of ``split`` in table order: identity, classical, external, learned, then SelfSVD(*)."""
        names = list(dict.fromkeys(self.leaderboard.loc[self.leaderboard["split"] == split, "method"].astype(str)))
        return sorted(names, key=lambda m: self._order_key(m, split))

    def method_info(self, method: str, split: str) -> dict[str, Any]:
        """The method's row of ``methods.parquet`` (``{}`` when absent, e.g. results of an older toolkit)."""
        if self.methods.empty:
            return {}
        hit = self.methods[(self.methods["method"] == method) & (self.methods["split"] == split)]
        return {} if hit.empty else hit.iloc[0].to_dict()

    def is_ablation(self, method: str, split: str) -> bool:
        return bool(self.method_info(method, split).get("ablation_of"))

    def _order_key(self, method: str, split: str) -> tuple[int, int, str]:
        kind = str(self.method_info(method, split).get("kind") or ("reference" if method == "identity" else "learned"))
        proposed = PROPOSED.index(method) + 1 if method in PROPOSED else 0
        ablation = 1 if self.is_ablation(method, split) else 0
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        return (proposed * 10 + ablation, rank, method)

    def clip_media(self, split: str) -> dict[str, ClipMedia]:
        """``{clip_id: ClipMedia}`` of the clips with saved media (sorted by clip id)."""
        folder = self.layout.media / split
        out: dict[str, ClipMedia] = {}
        if not folder.is_dir():
            return out
        names = {method_dir_name(m): m for m in self.leaderboard["method"].astype(str).unique()}
        for sheet_path in sorted(folder.glob(f"*/{CLIP_SHEET}")):
            try:
                sheet = json.loads(sheet_path.read_text())
            except ValueError as exc:
                raise ResultsError(f"{sheet_path}: not valid JSON ({exc}); re-run python -m benchmarks.run") from None
            media = ClipMedia(sheet_path.parent, sheet)
            methods_dir = sheet_path.parent / METHOD_MEDIA_DIR
            if methods_dir.is_dir():
                for d in sorted(methods_dir.iterdir()):
                    if (d / MEDIA_KEY_FILE).is_file():
                        media.methods[names.get(d.name, d.name)] = d
            out[media.clip_id] = media
        return out

    def run_log(self, method: str, split: str | None = None) -> pd.DataFrame | None:
        """The training log (``runs/<method>/log.jsonl``) copied with a learned method's results, or ``None``.

        Returns a DataFrame with ``iter`` and the logged losses / rates; evaluation entries
        (``{"iter": N, "eval": {...}}``) become columns ``eval_<name>``.
        """
        path = self.layout.run_logs(method) / RUN_LOG_FILE
        if not path.is_file():
            return None
        rows = []
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut by a killed run: the rest of the log is still good
                continue
            ev = entry.pop("eval", None)
            if isinstance(ev, dict):
                entry.update({f"eval_{k}": v for k, v in ev.items()})
            rows.append(entry)
        return pd.DataFrame(rows) if rows else None

    def provenance(self) -> dict[str, Any]:
        """Toolkit version, commits, data manifests, flows, seeds and devices of the leaderboard rows."""
        board = self.leaderboard
        out: dict[str, Any] = {}
        for col in ("toolkit_version", "git_commit", "data_manifest_id", "flow", "seed", "device"):
            if col in board:
                out[col] = sorted({str(v) for v in board[col].dropna()})
        return out


def _read_optional(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def load_results(root: str | Path) -> Results:
    """Load a results folder written by ``python -m benchmarks.run``.

    Raises:
        ResultsError: no leaderboard in ``root`` (the message says how to make one), or a folder of
            another major results format version (the message names both versions).
    """
    layout = ResultsLayout(Path(root))
    root, board_path = layout.root, layout.leaderboard
    if not board_path.is_file():
        found = "does not exist" if not root.exists() else f"has no {LEADERBOARD_FILE}"
        raise ResultsError(f"{root} {found}: expected the --output folder of python -m benchmarks.run; run "
                           f"`python -m benchmarks.run --method selfsvd --output {root}` first")
    try:
        info = check_format(root, "read")
    except ResultsFormatError as exc:
        raise ResultsError(str(exc)) from None
    try:
        board = pd.read_parquet(board_path)
    except Exception as exc:
        raise ResultsError(f"{board_path}: cannot be read ({exc}); re-run python -m benchmarks.run") from None
    needed = {"method", "split", "metric", "value", "status", "higher_is_better"}
    if not needed <= set(board.columns):
        raise ResultsError(f"{board_path}: expected columns {sorted(needed)}, found {sorted(board.columns)}; it was "
                           "not written by python -m benchmarks.run (or by a much older toolkit): re-run it")
    if "protocol" not in board:  # results written before rows named their protocol: all under the default one
        board = board.assign(protocol=DEFAULT_PROTOCOL)
    if "protocol_version" not in board:
        board = board.assign(protocol_version=DEFAULT_PROTOCOL_VERSION)
    board = board.assign(protocol=board["protocol"].fillna(DEFAULT_PROTOCOL).astype(str),
                         protocol_version=board["protocol_version"].fillna(DEFAULT_PROTOCOL_VERSION).astype(str))
    return Results(root=root, leaderboard=board, frames=_read_optional(layout.table("frames")),
                   clips=_read_optional(layout.table("clips")), timing=_read_optional(layout.table("timing")),
                   methods=_read_optional(layout.table("methods")), info=info)


def protocol_card(name: str) -> str:
    """The Markdown card of protocol ``name`` (``benchmarks.protocols``), or a line saying it was not found."""
    try:
        from benchmarks.protocols import load_protocol
    except ImportError:  # a toolkit without protocol cards
        return f"protocol {name} (card not found)\n"
    try:
        return load_protocol(name).to_markdown()
    except (KeyError, ValueError, LsvdError):
        return f"protocol {name} (card not found)\n"
