"""The results folder of ``python -m benchmarks.run``: its layout, format version, README and method removal.

One module owns the folder: :mod:`benchmarks.run` and :mod:`benchmarks.media` write it,
:mod:`reports.results` reads it, and all of them take its file names from here::

    RESULTS/
        benchmark.json           format version, toolkit version, and the benchmark config behind the rows
                                 of each (split, method) (BENCHMARK_FILE)
        README.md                what each file holds (README_FILE; rewritten with the tables)
        leaderboard.parquet      one scalar per (method, split, metric), with provenance (LEADERBOARD_FILE)
        LEADERBOARD.md           the leaderboard as Markdown tables (LEADERBOARD_MD)
        frames.parquet           per-frame values (FRAMES_FILE)
        clips.parquet            per-clip means (CLIPS_FILE)
        timing.parquet           desmoking frames/s on the device used (TIMING_FILE)
        methods.parquet          what each method is (METHODS_FILE)
        media/<split>/<clip_id>/ preview videos and sample frames for reports (MEDIA_DIR; benchmarks.media)
        runs/<method>/           training logs of learned methods (RUNS_DIR)
        cache/<method>/<split>/<clip_id>.parquet   per-frame values by content key (CACHE_DIR)
        report/                  written by python -m reports.build (REPORT_DIR)

Method folder names are :func:`method_dir_name` of the method (``external:CycleGAN`` ->
``external_CycleGAN``).

The format is versioned (:data:`RESULTS_FORMAT_VERSION`, ``major.minor``) as the dataset root is
(:mod:`lsvd.data.manifest`): a reader or writer refuses a folder of another major version with a
message that names both versions and what to do (:func:`check_format`). A folder without
``benchmark.json`` was written before the format had a version, by a toolkit whose tables are those
of format 1.0, and is read as 1.0 (:data:`UNVERSIONED_FORMAT_VERSION`).

Format 1.1 added the ``protocol`` and ``protocol_version`` columns (:data:`PROTOCOL_COLUMNS`) to the
leaderboard, frames and clips tables (:mod:`benchmarks.protocols`): rows of different protocols never
replace each other. Rows written before (format 1.0, without them) are rows of
:data:`~benchmarks.protocols.DEFAULT_PROTOCOL`, version ``"1"`` (:data:`LEGACY_PROTOCOL`);
:func:`with_protocol` fills them in when reading. In ``benchmark.json`` the rows of a protocol other than
the default are recorded under ``"<split>@<protocol>"``.

:func:`drop_method` removes a method from a folder: its rows of every table, its cache, media
and training logs, and its entry in ``benchmark.json`` (``python -m benchmarks.run --drop NAME``).
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsvd.errors import LsvdError
from lsvd.io.hashing import digest

__all__ = [
    "BENCHMARK_FILE", "CACHE_DIR", "CLEAN_FRAMES_DIR", "CLIPS_FILE", "CLIP_SHEET", "FRAMES_FILE", "INPUT_FRAMES_DIR",
    "INPUT_PREVIEW", "LEADERBOARD_FILE", "LEADERBOARD_MD", "MASK_FRAMES_DIR", "MEDIA_DIR", "MEDIA_KEY_FILE",
    "METHODS_FILE", "METHOD_MEDIA_DIR", "OUTPUT_PREVIEW", "PS_FRAME", "README_FILE", "REPORT_DIR",
    "CHECKPOINT_POINTER", "RESULTS_FORMAT_VERSION", "RUNS_DIR", "RUN_LOG_FILE", "TABLES", "TIMING_FILE",
    "UNVERSIONED_FORMAT_VERSION",
    "LEGACY_PROTOCOL", "PROTOCOL_COLUMNS",
    "DropSummary", "ResultsFormatError", "ResultsLayout", "TableSpec", "check_format", "drop_method", "drop_methods",
    "method_dir_name", "methods_in", "read_info", "record_run", "render_readme", "rows_key", "with_protocol",
]

#: The results format this toolkit writes and reads. Bump the minor for additions readers may ignore,
#: the major for changes that older readers would misread.
RESULTS_FORMAT_VERSION = "1.1"
#: The format of a folder without ``benchmark.json`` (written before the format was versioned).
UNVERSIONED_FORMAT_VERSION = "1.0"

# --- files and folders of RESULTS/ ---------------------------------------------------------------------------------
BENCHMARK_FILE = "benchmark.json"
README_FILE = "README.md"
LEADERBOARD_FILE = "leaderboard.parquet"
LEADERBOARD_MD = "LEADERBOARD.md"
FRAMES_FILE = "frames.parquet"
CLIPS_FILE = "clips.parquet"
TIMING_FILE = "timing.parquet"
METHODS_FILE = "methods.parquet"
MEDIA_DIR = "media"
RUNS_DIR = "runs"
CACHE_DIR = "cache"
REPORT_DIR = "report"

# --- protocol columns (format 1.1) -----------------------------------------------------------------------------------
#: The columns naming the protocol card of a row (leaderboard, frames, clips).
PROTOCOL_COLUMNS = ("protocol", "protocol_version")
#: (protocol, protocol_version) of rows written without those columns (format 1.0): the official protocol.
LEGACY_PROTOCOL = ("selfsvd-eccv24", "1")

# --- inside media/<split>/<clip_id>/ (benchmarks.media writes them, reports.results reads them) -------------------
CLIP_SHEET = "clip.json"
INPUT_PREVIEW = "input.webm"
PS_FRAME = "ps.png"
INPUT_FRAMES_DIR = "input"
MASK_FRAMES_DIR = "mask"
CLEAN_FRAMES_DIR = "clean"
METHOD_MEDIA_DIR = "methods"
OUTPUT_PREVIEW = "output.webm"
MEDIA_KEY_FILE = "key.txt"

# --- inside runs/<method>/ -----------------------------------------------------------------------------------------
RUN_LOG_FILE = "log.jsonl"
#: In ``runs/<method>/``: where the weights a learned method was scored with are (path and sha256); the
#: name :data:`lsvd.train.checkpoint.POINTER_FILE` resolves.
CHECKPOINT_POINTER = "checkpoint.json"


class ResultsFormatError(LsvdError, ValueError):
    """A results folder of another format version, or with an unreadable ``benchmark.json``; the message
    says what to do."""


@dataclass(frozen=True)
class TableSpec:
    """One Parquet table of the folder: its file, the columns it is sorted by and what it holds."""

    file: str
    sort: tuple[str, ...]
    about: str


#: The tables, in README order. Each run replaces the rows of its (method, split) pairs and keeps the others.
TABLES: dict[str, TableSpec] = {
    "leaderboard": TableSpec(LEADERBOARD_FILE, ("method", "split", "protocol", "metric"),
                             "one scalar per (method, split, protocol, metric): `protocol` and `protocol_version` "
                             "(the protocol card, benchmarks/protocols/), `value`, `n_clips`, `n_frames`, "
                             "`higher_is_better`, `requires_reference`, `status` (ok | missing | failed), `reason`, "
                             "`note`, and provenance (toolkit version, git commit, data manifest id, checkpoint "
                             "sha256, flow backend, metric parameter files, seed, device, library versions)"),
    "frames": TableSpec(FRAMES_FILE, ("method", "split", "protocol", "clip_id", "metric", "frame_number"),
                        "per-frame values: `method, split, clip_id, frame_number, metric, value, protocol, "
                        "protocol_version`"),
    "clips": TableSpec(CLIPS_FILE, ("method", "split", "protocol", "clip_id", "metric"),
                       "per-clip means: `method, split, protocol, protocol_version, clip_id, metric, value, "
                       "n_frames`"),
    "timing": TableSpec(TIMING_FILE, ("method", "split"),
                        "desmoking speed: `method, split, device, frames, seconds, fps` (NaN for outputs made "
                        "elsewhere)"),
    "methods": TableSpec(METHODS_FILE, ("method", "split"),
                         "what each method is: kind, citation, video, uses_ps, needs_training, licence, ablation, "
                         "checkpoint (+ sha256), arch, model, run_logs, masks"),
}


def with_protocol(table: Any) -> Any:
    """``table`` (a DataFrame) with the :data:`PROTOCOL_COLUMNS`, rows without them (format 1.0) filled as
    :data:`LEGACY_PROTOCOL`; tables with them are returned as they are."""
    if all(c in table.columns for c in PROTOCOL_COLUMNS):
        return table
    table = table.copy()
    for column, value in zip(PROTOCOL_COLUMNS, LEGACY_PROTOCOL, strict=True):
        if column not in table.columns:
            table[column] = value
        else:
            table[column] = table[column].fillna(value)
    return table


def rows_key(split: str, protocol: str | None = None) -> str:
    """The ``benchmark.json`` ``rows`` key of a split's rows under ``protocol``: the split itself for the default
    protocol (as before protocols were recorded), else ``"<split>@<protocol>"``."""
    return split if protocol in (None, LEGACY_PROTOCOL[0]) else f"{split}@{protocol}"


def method_dir_name(method: str) -> str:
    """A folder name on every OS: ``external:CycleGAN`` -> ``external_CycleGAN`` (plain names are unchanged)."""
    return re.sub(r"[^\w.+-]", "_", method)


@dataclass(frozen=True)
class ResultsLayout:
    """The paths of one results folder (see the module docstring)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser())

    @property
    def benchmark(self) -> Path:
        return self.root / BENCHMARK_FILE

    @property
    def readme(self) -> Path:
        return self.root / README_FILE

    @property
    def leaderboard(self) -> Path:
        return self.root / LEADERBOARD_FILE

    @property
    def leaderboard_md(self) -> Path:
        return self.root / LEADERBOARD_MD

    @property
    def media(self) -> Path:
        return self.root / MEDIA_DIR

    @property
    def runs(self) -> Path:
        return self.root / RUNS_DIR

    @property
    def cache(self) -> Path:
        return self.root / CACHE_DIR

    @property
    def report(self) -> Path:
        return self.root / REPORT_DIR

    def table(self, name: str) -> Path:
        """The file of table ``name`` (a key of :data:`TABLES`)."""
        return self.root / TABLES[name].file

    def run_logs(self, method: str) -> Path:
        """``RESULTS/runs/<method>``."""
        return self.runs / method_dir_name(method)

    def run_logs_rel(self, method: str) -> str:
        """``runs/<method>`` (as recorded in ``methods.parquet``)."""
        return f"{RUNS_DIR}/{method_dir_name(method)}"


# --- benchmark.json -------------------------------------------------------------------------------------------------


def read_info(root: str | Path) -> dict[str, Any]:
    """``benchmark.json`` of ``root`` (``{"format_version": "1.0"}`` when the folder has none).

    Raises:
        ResultsFormatError: the file is not a JSON object with a ``format_version``.
    """
    path = ResultsLayout(Path(root)).benchmark
    if not path.is_file():
        return {"format_version": UNVERSIONED_FORMAT_VERSION}
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ResultsFormatError(f"{path}: cannot be read ({exc}); restore it from a copy, or delete it (the folder "
                                 f"is then read as results format {UNVERSIONED_FORMAT_VERSION})") from None
    if not isinstance(info, dict) or not isinstance(info.get("format_version"), str):
        raise ResultsFormatError(f"{path}: expected a JSON object with a format_version, found {str(info)[:80]!r}; "
                                 "it was not written by python -m benchmarks.run: restore it, or delete it")
    return info


def _major(version: str) -> int | None:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return None


def check_format(root: str | Path, action: str = "read") -> dict[str, Any]:
    """``benchmark.json`` of ``root`` when its format has our major version, else :class:`ResultsFormatError`.

    Args:
        action: what the caller was about to do (``read``, ``update``), for the message.
    """
    import lsvd

    info = read_info(root)
    version = info["format_version"]
    theirs, ours = _major(version), _major(RESULTS_FORMAT_VERSION)
    if theirs == ours:
        return info
    where = ResultsLayout(Path(root)).benchmark
    head = (f"{where}: results format {version} (written by lsvd-toolkit {info.get('toolkit_version', '?')}); "
            f"this toolkit ({lsvd.__version__}) reads and writes results format {RESULTS_FORMAT_VERSION} and will "
            f"not {action} it.")
    if theirs is not None and ours is not None and theirs > ours:
        raise ResultsFormatError(f"{head} Upgrade the toolkit to use these results, or write new results into "
                                 "another results folder.")
    raise ResultsFormatError(f"{head} Re-run python -m benchmarks.run into a new --output folder, or install the "
                             "toolkit version that wrote it.")


def _config_id(entry: Mapping[str, Any]) -> str:
    return digest(entry)


def _fresh_info(old: Mapping[str, Any]) -> dict[str, Any]:
    import lsvd

    return {"format_version": RESULTS_FORMAT_VERSION, "toolkit_version": lsvd.__version__,
            "written_by": "python -m benchmarks.run", "runs": dict(old.get("runs") or {}),
            "rows": {s: dict(m) for s, m in (old.get("rows") or {}).items()}}


def _prune(info: dict[str, Any]) -> dict[str, Any]:
    info["rows"] = {s: m for s, m in info["rows"].items() if m}
    used = {i for m in info["rows"].values() for i in m.values()}
    info["runs"] = {i: r for i, r in info["runs"].items() if i in used}
    return info


def record_run(root: str | Path, split: str, methods: Sequence[str], config: Mapping[str, Any],
               command: str, protocol: str | None = None) -> dict[str, Any]:
    """Write ``benchmark.json`` and ``README.md``: the rows of ``methods`` on ``split`` now come from ``config``
    (run as ``command``) under ``protocol`` (:func:`rows_key`). Entries of other (split, method) pairs are kept;
    configs no row uses are dropped.
    Nothing time-dependent is stored, so the same runs give the same bytes. Returns the info written."""
    from lsvd.io.atomic import write_json, write_text

    layout = ResultsLayout(Path(root))
    info = _fresh_info(check_format(layout.root, "update"))
    if methods:
        entry = {"config": dict(config), "command": command}
        run_id = _config_id(entry)
        info["runs"][run_id] = entry
        rows = info["rows"].setdefault(rows_key(split, protocol), {})
        for name in methods:
            rows[name] = run_id
    info = _prune(info)
    write_json(layout.benchmark, info)
    write_text(layout.readme, render_readme(info))
    return info


# --- README.md ------------------------------------------------------------------------------------------------------


def render_readme(info: Mapping[str, Any]) -> str:
    """``README.md`` of a results folder: its files and the runs behind its rows (from ``benchmark.json``)."""
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python -m benchmarks.run` (lsvd-toolkit {info.get('toolkit_version', '?')}) in results format "
        f"{info.get('format_version', RESULTS_FORMAT_VERSION)}; `python -m reports.build --results <this folder>` "
        "turns it into tables, figures and a report page (`report/`). Every table is tidy Parquet, one scalar per "
        "cell; a run replaces the rows of its (method, split, protocol) triples and keeps the others; `protocol` and "
        "`protocol_version` name the evaluation protocol card (benchmarks/protocols/) of a row.",
        "",
        "| file | what it holds |",
        "| --- | --- |",
        f"| `{BENCHMARK_FILE}` | the results format version, and for every (split, method) the benchmark config "
        "whose run wrote its rows (`rows` -> `runs`: the config and the command line that reproduces it) |",
        f"| `{README_FILE}` | this file (rewritten with the tables) |",
    ]
    for spec in TABLES.values():
        lines.append(f"| `{spec.file}` | {spec.about}; sorted by {', '.join(spec.sort)} |")
        if spec.file == LEADERBOARD_FILE:
            lines.append(f"| `{LEADERBOARD_MD}` | the leaderboard as one Markdown table per split (arrows: the "
                         "better direction), with failures and notes |")
    lines += [
        f"| `{MEDIA_DIR}/<split>/<clip_id>/` | for reports: `{CLIP_SHEET}` (frame numbers, PS frame, smoke onset, "
        f"sample frames), `{INPUT_PREVIEW}` (VP9 preview), `{PS_FRAME}`, `{INPUT_FRAMES_DIR}/`, "
        f"`{MASK_FRAMES_DIR}/`, `{CLEAN_FRAMES_DIR}/` (sample frames, lossless PNG) and "
        f"`{METHOD_MEDIA_DIR}/<method>/` (`{OUTPUT_PREVIEW}`, the primary sample frame, `{MEDIA_KEY_FILE}`) |",
        f"| `{RUNS_DIR}/<method>/` | the training log (`{RUN_LOG_FILE}`), config and run record of a learned method, "
        f"and `{CHECKPOINT_POINTER}`: the path and sha256 of the weights it was scored with (`python -m lsvd.desmoke "
        f"--checkpoint {RUNS_DIR}/<method>` uses them) |",
        f"| `{CACHE_DIR}/<method>/<split>/<clip_id>.parquet` | per-frame values keyed by content (method settings "
        "and weights, clip fingerprint, metric, flow): re-running recomputes only what changed; `--merge` builds "
        "the tables from it alone |",
        f"| `{REPORT_DIR}/` | written by `python -m reports.build` (not by the benchmark) |",
        "",
        "Method folder names replace characters other than letters, digits and `._+-` with `_` "
        "(`external:CycleGAN` -> `external_CycleGAN`). Remove a method from every file with "
        "`python -m benchmarks.run --drop METHOD --output <this folder>`.",
        "",
    ]
    rows, runs = info.get("rows") or {}, info.get("runs") or {}
    if rows:
        lines += ["## Runs behind the rows", ""]
        for split in sorted(rows):
            by_run: dict[str, list[str]] = {}
            for method, run_id in sorted(rows[split].items()):
                by_run.setdefault(run_id, []).append(method)
            for run_id, methods in sorted(by_run.items(), key=lambda kv: kv[1]):
                command = (runs.get(run_id) or {}).get("command", "?")
                lines += [f"- split `{split}`, {', '.join(f'`{m}`' for m in methods)} (run `{run_id}`):",
                          "", "  ```", f"  {command}", "  ```", ""]
    return "\n".join(lines)


# --- removing a method ----------------------------------------------------------------------------------------------


@dataclass
class DropSummary:
    """What :func:`drop_method` removed: ``rows`` per table file, and the folders."""

    method: str
    rows: dict[str, int] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)

    def render(self) -> str:
        parts = [f"{n} row(s) of {f}" for f, n in self.rows.items() if n]
        parts += self.folders
        return f"dropped  {self.method}: " + (", ".join(parts) if parts else "nothing")


def methods_in(root: str | Path) -> list[str]:
    """The method names a results folder has rows, folders or config entries of (sorted)."""
    import pandas as pd

    layout = ResultsLayout(Path(root))
    names: set[str] = set()
    for name in TABLES:
        path = layout.table(name)
        if path.is_file():
            names |= set(pd.read_parquet(path, columns=["method"])["method"].astype(str))
    for split_rows in (read_info(layout.root).get("rows") or {}).values():
        names |= set(split_rows)
    return sorted(names)


def _method_folders(layout: ResultsLayout, method: str) -> list[Path]:
    folder = method_dir_name(method)
    found = [p for p in (layout.cache / folder, layout.run_logs(method)) if p.is_dir()]
    if layout.media.is_dir():
        found += sorted(p for p in layout.media.glob(f"*/*/{METHOD_MEDIA_DIR}/{folder}") if p.is_dir())
    return found


def drop_methods(root: str | Path, methods: Sequence[str]) -> list[DropSummary]:
    """Remove each of ``methods`` from the results folder ``root``: its rows of every table (all splits), its
    cache, media and training logs, and its ``benchmark.json`` entries; ``LEADERBOARD.md`` and ``README.md``
    are rewritten. Other methods' rows are untouched. Every name is checked before anything is removed.

    Raises:
        ResultsFormatError: ``root`` is not a results folder, is of another format version, or has
            nothing of one of ``methods`` (the message names close matches).
    """
    layout = ResultsLayout(Path(root))
    if not layout.leaderboard.is_file() and not layout.cache.is_dir():
        raise ResultsFormatError(f"--output {layout.root}: not a results folder of python -m benchmarks.run (no "
                                 f"{LEADERBOARD_FILE}, no {CACHE_DIR}/); nothing to drop")
    check_format(layout.root, "update")
    present = methods_in(layout.root)
    problems = []
    for method in dict.fromkeys(methods):
        if method not in present and not _method_folders(layout, method):
            close = difflib.get_close_matches(method, present, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            problems.append(f"--drop {method}: no rows or files of that method in {layout.root}{hint}")
    if problems:
        raise ResultsFormatError("; ".join(problems) + f"; methods there: {', '.join(present) or 'none'}")
    return [_drop(layout, method) for method in dict.fromkeys(methods)]


def drop_method(root: str | Path, method: str) -> DropSummary:
    """:func:`drop_methods` of one method."""
    return drop_methods(root, [method])[0]


def _drop(layout: ResultsLayout, method: str) -> DropSummary:
    import pandas as pd

    from benchmarks.leaderboard import render_markdown
    from lsvd.io.atomic import atomic_path, write_json, write_text

    summary = DropSummary(method)
    for name, spec in TABLES.items():
        path = layout.table(name)
        if not path.is_file():
            continue
        table = pd.read_parquet(path)
        keep = table[table["method"].astype(str) != method].reset_index(drop=True)
        summary.rows[spec.file] = len(table) - len(keep)
        if len(keep) < len(table):
            with atomic_path(path) as tmp:
                keep.to_parquet(tmp, index=False)
            if name == "leaderboard":
                write_text(layout.leaderboard_md, render_markdown(keep))
    for folder in _method_folders(layout, method):
        shutil.rmtree(folder)
        summary.folders.append(folder.relative_to(layout.root).as_posix() + "/")
    info = _fresh_info(check_format(layout.root, "update"))
    for split_rows in info["rows"].values():
        split_rows.pop(method, None)
    info = _prune(info)
    write_json(layout.benchmark, info)
    write_text(layout.readme, render_readme(info))
    return summary
