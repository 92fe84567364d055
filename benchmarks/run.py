"""``python -m benchmarks.run``: score desmoking methods on a prepared dataset into a leaderboard.

Examples::

    python -m benchmarks.run --method selfsvd                 # built-in default: synthetic mini-LSVD,
                                                              # SelfSVD trained on the CPU first (cached)
    python -m benchmarks.run --method selfsvd --checkpoint selfsvd.pth --root /data/lsvd-root --flow pwcnet
    python -m benchmarks.run --method identity --metrics niqe,brisque,piqe,fade --root ROOT --split all
    python -m benchmarks.run --method selfsvd --num-shards 4 --shard-index 0   # one of 4 jobs, then:
    python -m benchmarks.run --method selfsvd --merge                          # tables from all shards
    python -m benchmarks.run --method selfsvd --checkpoint selfsvd.pth --root ROOT --no-masks   # w/o masks
    python -m benchmarks.run --drop selfsv --output results                   # remove a method's rows
    python -m benchmarks.run --method selfsvd --protocol lsvd256-lohinet  # another protocol card
    python -m benchmarks.run --list-methods | --list-metrics | --list-protocols

The options form one :class:`BenchmarkConfig`, whether given on the command line or to
:func:`run_benchmark` in Python (one path: the same defaults, the ``identity`` floor included, the
same checks). It is validated before any work: a mistyped method, metric, flow, split or checkpoint,
an ``external:DIR`` that is not a folder or a results folder of a newer format exits with 2 at once,
naming close matches and writing nothing. A run then goes::

    resolve    the dataset root (the synthetic mini-LSVD when none is given), its clips of --split (this
               shard's), the SelfSVD masks the methods need, the metrics usable here, the flow backend
    score      per method: create it (a learned one without --checkpoint trains first), desmoke each clip
               (frames read as uint8 once; outputs checked as uint8) and compute the per-frame values,
               from the cache where possible; faults are recorded per clip, never fatal
    aggregate  per-clip and leaderboard tables, efficiency, timing, the method table, notes
    write      the tables, LEADERBOARD.md, and RESULTS/benchmark.json (the resolved config behind each
               (split, method)'s rows) and README.md

SelfSVD reads a SelfSVD mask per clip (``python -m lsvd.masks --root ROOT``); when a method that uses them
(or trains here on them) runs on clips without masks, they are computed into the dataset root first
(as ``python -m lsvd.masks --root ROOT`` does; logged). ``--no-masks`` runs such methods without any masks
instead (the PS features are then kept everywhere): a warning, the leaderboard's ``note`` column,
the notes of ``LEADERBOARD.md`` and ``methods.parquet``'s ``masks`` column say so.

Every run adds the ``identity`` floor (the smoky input) unless ``--no-identity``
(``BenchmarkConfig.identity``). Results go to ``--output`` (default ``./results``), a folder whose
layout and format version :mod:`benchmarks.results` owns and whose ``README.md`` explains each file:
``frames.parquet`` (per frame), ``clips.parquet`` (per clip), ``leaderboard.parquet`` (one scalar per
row, with provenance), ``LEADERBOARD.md``, ``timing.parquet`` (desmoking frames/s on the device used),
``methods.parquet`` (what each method is), ``benchmark.json`` (format version, configs), and for
``python -m reports.build``: ``media/`` (preview videos and sample frames of every clip and method,
see :mod:`benchmarks.media`; ``--no-media`` skips them) and ``runs/<method>/`` (the training logs of
learned methods). A run replaces the rows of its (method, split) pairs and keeps the others. Per-frame
values are cached under ``results/cache`` by content keys, so re-running recomputes only what
changed; shards on several machines write into copies of the same ``results`` folder and a final
``--merge`` run (with the caches copied together, and their ``media`` and ``runs`` folders for
reports) builds the tables without computing anything.

``--drop METHOD`` (repeatable) is a mode of its own: it removes the method from ``--output`` -- its
rows of every table on every split, its cache, media and training logs, its ``benchmark.json``
entries -- rewrites ``LEADERBOARD.md`` and ``README.md``, and runs nothing (exit 2 when the folder
has nothing of that name, naming close matches). Use it for rows that should not stay, e.g. those
of a method renamed or mistyped by an older toolkit.

``--protocol NAME`` (default ``selfsvd-eccv24``, the official SelfSVD protocol; ``--list-protocols``)
scores under a protocol card (:mod:`benchmarks.protocols`): its reference, resolution, alignment,
aggregation, default metric set and complexity convention. Every leaderboard row records ``protocol``
and ``protocol_version``; rows of different protocols stay apart in one results folder, and cached
values are keyed by the card's settings.

Faults stay local: a method that crashes or returns unusable outputs on a clip is recorded as
``failed`` (with the clip and the reason) and still scored on the other clips (``clips.parquet``);
a clip whose input cannot be read (a corrupt frame) is scored for no method and named in every
row's ``note``. Either makes the command exit with 1; a bad command, dataset root or results
folder, with 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.leaderboard import DEFAULT_METRICS, EFFICIENCY_METRICS
from benchmarks.protocols import DEFAULT_PROTOCOL, ProtocolError, load_protocol
from benchmarks.results import METHODS_FILE, ResultsFormatError, ResultsLayout, with_protocol
from benchmarks.stages import SHARED, StageTimes
from lsvd.cli import add_device, add_option, add_root, command_parser, parse, resolve_device, run
from lsvd.errors import LsvdError

log = logging.getLogger("benchmarks.run")

__all__ = ["METHODS_FILE", "METHOD_COLUMNS", "NO_MASKS_NOTE", "BenchmarkConfig", "BenchmarkError", "build_parser",
           "config_from_args", "ensure_default_data", "main", "method_table", "resolve_metrics", "run_benchmark"]


class BenchmarkError(LsvdError, RuntimeError):
    """A benchmark that cannot start (bad options or data); the message says what to do."""


@dataclass
class BenchmarkConfig:
    """Everything a benchmark run depends on (the command's options, typed).

    :func:`run_benchmark` validates it first (:meth:`validate`) and saves it, resolved (``data``: the
    root used; ``metrics``: the names scored), in ``RESULTS/benchmark.json`` for the rows it wrote,
    with :meth:`command_line`, the command that runs it again.
    """

    methods: list[str] = field(default_factory=list)  #: method names (--list-methods) or external:DIR[::MAP.csv]
    identity: bool = True  #: score the identity floor (the smoky input) first; --no-identity: False
    data: str | None = None  #: a prepared dataset root; None: the synthetic mini-LSVD (prepared on first use)
    split: str = "test"  #: the split scored; "all": every clip
    metrics: list[str] | None = None  #: metric names; pyiqa:NAME; None: the protocol card's metric set
    checkpoints: dict[str, str] = field(default_factory=dict)  #: method -> weights (run dir, .safetensors, .pth)
    device: str = "auto"  #: auto (CUDA when available, else CPU; resolved by run_benchmark), cpu, cuda or cuda:N
    flow: str = "dis"  #: flow backend of the aligned and temporal metrics
    seed: int = 0  #: seed of the run and of the automatic training of learned methods
    results: str = "results"  #: the results folder (benchmarks.results)
    num_shards: int = 1
    shard_index: int = 0
    merge: bool = False  #: build the tables from the cache only (after sharded runs)
    media: bool = True  #: save preview videos and sample frames for reports
    no_masks: bool = False  #: run methods that read SelfSVD masks without any instead of computing them
    train_preset: str | None = None  #: preset of the automatic training (None: the methods' default, cpu)
    protocol: str = DEFAULT_PROTOCOL  #: the protocol card scored (benchmarks.protocols; --list-protocols)
    workers: int = 0  #: processes scoring clips in parallel; 0: one per CPU thread (see workers_for)

    def __post_init__(self) -> None:  # what Python callers give for convenience: None, tuples, paths
        if self.metrics is None:
            self.metrics = self.protocol_metrics()
        if self.checkpoints is None:
            self.checkpoints = {}
        if isinstance(self.methods, tuple):
            self.methods = list(self.methods)
        if isinstance(self.metrics, tuple):
            self.metrics = list(self.metrics)
        if isinstance(self.data, os.PathLike):
            self.data = os.fspath(self.data)
        if isinstance(self.results, os.PathLike):
            self.results = os.fspath(self.results)
        if isinstance(self.checkpoints, Mapping):
            self.checkpoints = {k: os.fspath(v) if isinstance(v, os.PathLike) else v
                                for k, v in self.checkpoints.items()}

    def protocol_metrics(self) -> list[str]:
        """The metric set of the protocol card (:data:`DEFAULT_METRICS` when the card cannot be loaded: the
        name is then reported by :meth:`validate`)."""
        try:
            return load_protocol(self.protocol).metric_names
        except (KeyError, ProtocolError, TypeError):
            return list(DEFAULT_METRICS)

    @property
    def method_specs(self) -> list[str]:
        """The methods run, in order, once each: ``identity`` (unless ``identity=False``), then :attr:`methods`."""
        return list(dict.fromkeys((["identity"] if self.identity else []) + list(self.methods)))

    @property
    def metric_names(self) -> list[str]:
        return list(dict.fromkeys(self.metrics))

    @property
    def layout(self) -> ResultsLayout:
        return ResultsLayout(Path(self.results))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> BenchmarkConfig:
        """The config of ``values`` (e.g. a ``benchmark.json`` entry); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            close = {k: difflib.get_close_matches(k, known, n=1) for k in unknown}
            hint = "; ".join(f"{k!r}" + (f" (did you mean {c[0]}?)" if c else "") for k, c in close.items())
            raise BenchmarkError(f"unknown benchmark option(s) {hint}; known: {', '.join(sorted(known))}")
        return cls(**dict(values))

    def validate(self) -> BenchmarkConfig:
        """Raise :class:`BenchmarkError` listing every problem; returns the config when there is none.

        Cheap checks only (names, paths, numbers), so that a mistake fails before any data is
        prepared, any method trains or any file is written.
        """
        from benchmarks.methods import METHODS
        from benchmarks.metrics.base import METRICS
        from benchmarks.results import check_format
        from lsvd.constants import INFO_FILE
        from lsvd.flow.base import FLOWS
        from lsvd.io.paths import unsafe_name_reason

        problems: list[str] = []

        def need(ok: bool, message: str) -> None:
            if not ok:
                problems.append(message)

        if isinstance(self.methods, str) or not all(isinstance(m, str) for m in self.methods):
            problems.append(f"methods: expected a list of method names, found {self.methods!r}")
            specs: list[str] = []
        else:
            specs = self.method_specs
            need(bool(specs), "give at least one --method (see --list-methods), e.g. --method selfsvd")
        for spec in specs:
            if spec.startswith("external:"):
                folder = spec[len("external:"):].partition("::")[0]
                need(bool(folder) and Path(folder).expanduser().is_dir(),
                     f"--method {spec}: {folder or '(no folder)'} is not a folder; expected external:DIR with DIR "
                     "holding another method's outputs (one video file or one frame folder per clip)")
                continue
            try:
                METHODS.get(spec)
            except KeyError as exc:
                problems.append(f"--method {spec}: {exc.args[0]}")
        if isinstance(self.checkpoints, Mapping):
            for name, path in self.checkpoints.items():
                need(name in specs, f"--checkpoint {name}={path}: {name} is not a method of this run "
                                    f"({', '.join(specs) or 'none'})")
                need(Path(str(path)).expanduser().exists(), f"--checkpoint {name}={path}: {path} does not exist")
        else:
            problems.append(f"checkpoints: expected {{method: path}}, found {self.checkpoints!r}")
        card = None
        try:
            card = load_protocol(self.protocol)
        except KeyError as exc:
            problems.append(f"--protocol {self.protocol}: {exc.args[0]}")
        except (ProtocolError, TypeError) as exc:
            problems.append(f"--protocol {self.protocol}: {exc}")
        if card is not None and card.flow is not None:
            need(card.flow in FLOWS.list(), f"--protocol {self.protocol}: its flow {card.flow!r} is not a flow "
                                            f"backend here ({', '.join(FLOWS.list())})")
        if isinstance(self.metrics, str) or not all(isinstance(m, str) for m in self.metrics):
            problems.append(f"metrics: expected a list of metric names, found {self.metrics!r}")
        else:
            need(bool(self.metric_names), "--metrics: expected at least one metric (see --list-metrics)")
            for name in self.metric_names:
                name = card.spec(name).impl if card is not None else name  # a card may rename a metric
                if name.startswith("pyiqa:"):
                    need(len(name) > len("pyiqa:"), f"--metrics {name}: expected pyiqa:NAME, e.g. pyiqa:musiq")
                    continue
                try:
                    METRICS.get(name)
                except KeyError as exc:
                    problems.append(f"--metrics {name}: {exc.args[0]}")
        why = unsafe_name_reason(self.split)
        need(why is None, f"--split {self.split!r}: not a usable split name ({why}); expected e.g. test, or all")
        if not isinstance(self.device, str):
            problems.append(f"--device {self.device!r}: expected auto, cpu, cuda or cuda:N")
        elif self.device.startswith("cuda"):
            import torch

            need(torch.cuda.is_available(), f"--device {self.device}: no CUDA device is available; use --device cpu")
        else:
            need(self.device in ("auto", "cpu"), f"--device {self.device}: expected auto, cpu, cuda or cuda:N")
        flows = FLOWS.list()
        need(self.flow in flows, f"--flow {self.flow}: expected one of {', '.join(flows)}")
        need(isinstance(self.seed, int) and not isinstance(self.seed, bool),
             f"--seed {self.seed!r}: expected an integer")
        need(isinstance(self.workers, int) and not isinstance(self.workers, bool) and self.workers >= 0,
             f"--workers {self.workers!r}: expected 0 (one per CPU thread) or a positive number of processes")
        shards = self.num_shards if isinstance(self.num_shards, int) and self.num_shards >= 1 else 0
        need(shards >= 1, f"--num-shards {self.num_shards}: expected >= 1")
        need(isinstance(self.shard_index, int) and 0 <= self.shard_index < max(shards, 1),
             f"--shard-index {self.shard_index}: expected 0 <= index < --num-shards {self.num_shards}")
        need(not (self.merge and self.num_shards > 1), "--merge builds the tables of every shard from the cache: "
                                                       "give it without --num-shards / --shard-index")
        need(self.train_preset is None or (isinstance(self.train_preset, str) and bool(self.train_preset)),
             f"train_preset: expected a preset name or a .toml, found {self.train_preset!r}")
        if self.data:
            root = Path(self.data).expanduser()
            need((root / INFO_FILE).is_file(), f"--root {self.data}: not a prepared dataset root (no {INFO_FILE}); "
                                               f"run `python -m lsvd.prepare --root {self.data} --masks` first")
        results = self.layout.root
        if results.exists() and not results.is_dir():
            problems.append(f"--output {self.results}: a file; expected a results folder (new or earlier)")
        elif results.is_dir():
            try:
                check_format(results, "update")
            except ResultsFormatError as exc:
                problems.append(str(exc))
            else:
                if card is not None and isinstance(self.flow, str):
                    problems += self._flow_clashes(card.flow_name(self.flow))
        if len(problems) == 1:
            raise BenchmarkError(problems[0])
        if problems:
            raise BenchmarkError(f"{len(problems)} problems with the benchmark options:\n  - "
                                 + "\n  - ".join(problems))
        return self

    def _flow_clashes(self, flow: str) -> list[str]:
        """Problems if the results folder holds rows of this split and protocol scored with another flow (by
        methods this run does not replace): their numbers would share a table column with this run's."""
        if not self.layout.leaderboard.is_file():
            return []
        try:
            board = with_protocol(pd.read_parquet(self.layout.leaderboard))
        except Exception as exc:  # truncated or foreign: the run could not update it either
            return [f"--output {self.results}: {self.layout.leaderboard.name} is unreadable ({type(exc).__name__}); "
                    "move it away or write into another --output"]
        if "flow" not in board.columns:
            return []
        mine = set(self.method_specs)
        other = board[(board["split"] == self.split) & (board["protocol"] == self.protocol)
                      & (board["flow"].astype(str) != flow) & ~board["method"].isin(mine)
                      & (board["flow"].astype(str) != "")]
        if other.empty:
            return []
        methods = ", ".join(sorted(set(other["method"].astype(str))))
        return [f"--flow {flow}: {self.results} already holds rows of split {self.split!r}, protocol {self.protocol} "
                f"scored with flow {', '.join(sorted(set(other['flow'].astype(str))))} ({methods}); numbers of two "
                "flows must not share a column. Use that --flow, another --output, or --drop those methods"]

    def command_line(self) -> str:
        """The ``python -m benchmarks.run`` command that runs this config (shell-quoted; defaults left out)."""
        args = ["python", "-m", "benchmarks.run"]
        for name in self.methods:
            args += ["--method", name]
        if not self.identity:
            args.append("--no-identity")
        if self.data:
            args += ["--root", str(self.data)]
        if self.split != "test":
            args += ["--split", self.split]
        if self.protocol != DEFAULT_PROTOCOL:
            args += ["--protocol", str(self.protocol)]
        if self.metric_names != self.protocol_metrics():
            args += ["--metrics", ",".join(self.metric_names)]
        for name, path in self.checkpoints.items():
            args += ["--checkpoint", f"{name}={path}"]
        for flag, value, default in (("--device", self.device, "auto"), ("--flow", self.flow, "dis"),
                                     ("--seed", self.seed, 0), ("--num-shards", self.num_shards, 1),
                                     ("--shard-index", self.shard_index, 0),
                                     ("--preset", self.train_preset, None)):
            if value != default:
                args += [flag, str(value)]
        args += ["--output", str(self.results)]
        args += [flag for flag, on in (("--merge", self.merge), ("--no-media", not self.media),
                                       ("--no-masks", self.no_masks)) if on]
        return shlex.join(args)

def ensure_default_data(progress: bool = True) -> Path:
    """The synthetic mini-LSVD root with masks, prepared on first use."""
    from lsvd.data.manifest import Manifest
    from lsvd.masks.pipeline import generate_masks
    from lsvd.prepare import prepare_synthetic, synthetic_root

    root = synthetic_root()
    if not (root / "meta" / "info.json").is_file():
        log.info("preparing the synthetic mini-LSVD in %s (first use)", root)
        prepare_synthetic(root, progress=progress)
    clips = Manifest.load(root).clips
    if "mask_mode" not in clips or clips["mask_mode"].isna().any():
        log.info("computing SelfSVD masks for %s (first use)", root)
        generate_masks(root, progress=progress)
    return root


def _parse_checkpoints(items: list[str], methods: list[str]) -> dict[str, str]:
    """``--checkpoint METHOD=PATH``, or ``--checkpoint PATH`` when exactly one learned method is run (the paths
    are checked by :meth:`BenchmarkConfig.validate`)."""
    learned = [m for m in methods if m != "identity" and not m.startswith("external:")]
    out: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not (sep and name in methods):
            if len(learned) != 1:
                raise BenchmarkError(f"--checkpoint {item}: say which method it is for (METHOD=PATH); methods: "
                                     f"{', '.join(learned)}")
            name, path = learned[0], item
        out[name] = path
    return out


def resolve_metrics(names: list[str],
                    protocol: Any = None) -> tuple[list[Any], dict[str, str], dict[str, dict[str, Any]]]:
    """``(usable Metric objects, {name: why missing}, {name: description})`` as the ``protocol`` card scores them
    (:meth:`~benchmarks.protocols.Protocol.create_metric`; default: :data:`DEFAULT_PROTOCOL`); unknown names are
    errors."""
    from benchmarks.metrics.base import MetricUnavailable

    protocol = protocol if protocol is not None else load_protocol(DEFAULT_PROTOCOL)
    usable, missing, described = [], {}, {}
    for name in names:
        try:
            metric = protocol.create_metric(name)
        except KeyError as exc:
            raise BenchmarkError(str(exc.args[0])) from None
        except MetricUnavailable as exc:
            missing[name] = str(exc)
            continue
        described[name] = metric.describe()
        why = metric.available()
        if why:
            missing[name] = why
        else:
            usable.append(metric)
    return usable, missing, described


def _mask_users(methods: list[str], checkpoints: dict[str, str]) -> dict[str, bool]:
    """``{method: trains here}`` of the methods that need SelfSVD masks: trained here (no checkpoint)
    with the PS features hidden under them (then also read at test time where ``uses_mask``), or
    given a checkpoint and ``uses_mask`` (read at test time)."""
    from benchmarks.methods import METHODS

    users = {}
    for spec in methods:
        if spec.startswith("external:"):
            continue
        try:
            cls = METHODS.get(spec)
        except KeyError:
            continue  # reported when the method is created
        if cls.needs_training and spec not in checkpoints:
            if getattr(cls, "train_overrides", {}).get("use_mask", True):
                users[spec] = True
        elif cls.uses_mask:
            users[spec] = False
    return users


def _without_masks(clips: list[Any]) -> list[str]:
    return [c.clip_id for c in clips if any(p is None for p in c.mask_paths)]


def _ensure_masks(root: Path, manifest: Any, source: _ClipSource, users: dict[str, bool], no_masks: bool,
                  progress: bool) -> tuple[Any, _ClipSource, bool]:
    """``(manifest, source, masks)``: compute the SelfSVD masks the ``users`` need and the clips lack
    (unless ``no_masks``); ``masks`` is False when the methods run without them."""
    from lsvd.data.datasets import TestClips
    from lsvd.data.manifest import Manifest
    from lsvd.masks.pipeline import generate_masks

    who = ", ".join(users)
    if no_masks:
        trainers = [m for m, trains in users.items() if trains]
        lacking = _without_masks(TestClips(manifest, None).clips) if trainers else []
        if lacking:
            raise BenchmarkError(f"--no-masks: {', '.join(trainers)} would train here (no --checkpoint), and training "
                                 f"hides the PS features under SelfSVD masks, which {len(lacking)} clip(s) of {root} "
                                 f"lack (e.g. {lacking[0]}); compute them with `python -m lsvd.masks {root}`, or give "
                                 "--checkpoint")
        log.warning("--no-masks: %s run(s) WITHOUT SelfSVD masks: the PS features are kept everywhere (unlike "
                    "SelfSVD as published); the results say so", who)
        return manifest, source, False
    split = None if any(users.values()) else source.split  # training reads the train split's masks too

    def lacking() -> list[str]:
        return _without_masks((TestClips(manifest, None) if split is None else source.dataset).clips)

    missing = lacking()
    if not missing:
        return manifest, source, True
    what = f"--root {root}: {len(missing)} clip(s) have no SelfSVD masks (e.g. {missing[0]}; needed by {who})"
    todo = (f"compute them with `python -m lsvd.masks {root}`, or pass --no-masks to run without them (the PS "
            "features are then kept everywhere)")
    if not os.access(root, os.W_OK):
        raise BenchmarkError(f"{what}; they cannot be computed here: the dataset root is not writable; {todo}")
    log.warning("%s: computing them into the dataset root first (mode official, flow dis, as `python -m lsvd.masks "
                "%s` does; --no-masks skips this)", what, root)
    try:
        summary = generate_masks(root, split=split, progress=progress)
    except Exception as exc:  # unreadable frames, a full disk, ...: the benchmark cannot go on without them
        raise BenchmarkError(f"{what}; computing them failed ({type(exc).__name__}: {exc}); {todo}") from exc
    log.info("masks of %s:\n%s", root, summary.render())
    manifest = Manifest.load(root)
    source = _ClipSource(manifest, source.split)
    left = lacking()
    if left:
        raise BenchmarkError(f"{what}; computing them left {len(left)} clip(s) without (e.g. {left[0]}; see "
                             f"{root / 'meta' / 'masks_report.json'}); {todo}")
    return manifest, source, True


class _ClipSource:
    """Loads a clip of a manifest as :class:`~benchmarks.methods.Clip` + references (lazily, once)."""

    def __init__(self, manifest: Any, split: str | None) -> None:
        from lsvd.data.datasets import TestClips

        self.manifest = manifest
        self.split = split
        self.dataset = TestClips(manifest, split, require_mask=False)
        self.index = {c.clip_id: i for i, c in enumerate(self.dataset.clips)}

    @property
    def clip_ids(self) -> list[str]:
        return sorted(self.index)

    def has_clean(self, clip_id: str) -> bool:
        clip = self.dataset.clips[self.index[clip_id]]
        return all(p is not None for p in clip.clean_paths)

    def load(self, clip_id: str) -> tuple[Any, Any]:
        """The clip and its references; :class:`~benchmarks.evaluate.ClipUnreadable` if a file cannot be read."""
        from benchmarks.evaluate import ClipUnreadable

        try:
            return self._load(clip_id)
        except Exception as exc:  # a corrupt frame, mask or reference: this clip cannot be scored
            raise ClipUnreadable(f"{type(exc).__name__}: {exc}") from exc

    def _load(self, clip_id: str) -> tuple[Any, Any]:
        """The frames as read (uint8, no float round trip), the clip's mask (as :class:`TestClips` gives it)."""
        from benchmarks.evaluate import References
        from benchmarks.methods import Clip
        from lsvd.data.frames import load_frames
        from lsvd.io.images import read_rgb

        entry = self.dataset.clips[self.index[clip_id]]
        positions = list(range(len(entry.paths)))
        ps, *frames = load_frames(entry.storage, (entry.ps_path, *entry.paths), (entry.ps_number, *entry.numbers),
                                  [0, *(i + 1 for i in positions)])
        lqs = np.stack(frames)
        row = self.manifest.clip(clip_id)
        ref_path = row.get("metric_ref_path")
        reference = read_rgb(self.manifest.resolve(ref_path)) if isinstance(ref_path, str) and ref_path else ps
        clean = smoky = None
        if self.has_clean(clip_id):
            clean = np.stack([read_rgb(p) for p in entry.clean_paths])
            onset = row.get("smoke_onset_index")
            if onset is not None and not pd.isna(onset):  # lqs[t] is clip frame ps + 1 + t
                smoky = np.arange(len(lqs)) + int(row["ps_frame_index"]) + 1 >= int(onset)
        mask = self.dataset._masks(entry, positions)[:, None]  # (T, 1, H/4, W/4) float32 in {0, 1}
        clip = Clip(clip_id=clip_id, lqs=lqs, ps=ps, mask=mask, frame_numbers=np.asarray(entry.numbers, np.int64),
                    meta={"split": row.get("split")})
        return clip, References(ps=reference, clean=clean, smoky=smoky)


def _not_cached(clip_id: str) -> Any:
    from benchmarks.evaluate import MethodFailure

    def load() -> Any:
        raise MethodFailure(f"clip {clip_id} is not in the cache (--merge computes nothing; run its shard first)")

    return load


def _efficiency(method: Any, height: int, width: int, protocol: Any = None) -> dict[str, float]:
    """Parameters and GMACs per frame, at the clips' size or at the protocol card's complexity input."""
    if protocol is not None and protocol.complexity_input is not None:
        _, height, width = protocol.complexity_input
    from benchmarks.metrics.efficiency import count_parameters, macs_per_frame

    model = method.model()
    if model is None:  # no network: nothing learned, nothing to count; unknown for outputs made elsewhere
        return {} if method.kind == "external" else {"params": 0.0, "gmacs": 0.0}
    return {"params": float(count_parameters(model)), "gmacs": float(macs_per_frame(model, height, width))}


# --- resolve -> score -> aggregate -> write ------------------------------------------------------------------------


@dataclass
class _Plan:
    """What :func:`_resolve` found: the data, masks, metrics and clips every method is scored on."""

    config: BenchmarkConfig  #: resolved: ``data`` is the root used, ``metrics`` the names scored
    root: Path
    manifest: Any
    source: _ClipSource
    masks: bool  #: whether the methods that read SelfSVD masks get them
    usable: list[Any]  #: the Metric objects computed here
    missing: dict[str, str]  #: metric -> why it cannot be computed here
    described: dict[str, dict[str, Any]]  #: metric -> Metric.describe()
    flow: Any  #: the flow backend of the aligned and temporal metrics
    clip_ids: list[str]  #: this shard's clips
    fingerprints: dict[str, str]  #: clip -> content key of its inputs (cache keys)
    media: Any  #: a MediaWriter, or None (--no-media, --merge)
    protocol: Any = None  #: the Protocol card scored

    @property
    def flow_name(self) -> str:
        """The flow backend used (the card's, else ``--flow``), as recorded in the rows and cache keys."""
        return self.protocol.flow_name(self.config.flow)

    @property
    def layout(self) -> ResultsLayout:
        return self.config.layout


@dataclass
class _MethodScores:
    """One method's part of :func:`_score`."""

    label: str  #: its leaderboard name (method.name; the spec when it could not be created)
    info: dict[str, Any] | None = None  #: Method.describe() + run_logs; None when it could not be created
    frames: list[pd.DataFrame] = field(default_factory=list)  #: per-frame rows of the clips it was scored on
    failure: str = ""  #: why it failed ("": it did not)
    metric_errors: dict[str, str] = field(default_factory=dict)  #: metric -> why it could not be computed
    timing: dict[str, Any] | None = None  #: a timing.parquet row
    efficiency: dict[str, float] = field(default_factory=dict)  #: params, gmacs
    note: str = ""
    method: Any = None  #: the Method (None when it could not be created)
    spec: str = ""  #: what it was created from (--method)


@dataclass
class _Scores:
    methods: list[_MethodScores]
    unreadable: dict[str, str]  #: clip -> why its input cannot be read (no method is scored on it)
    times: StageTimes = field(default_factory=StageTimes)  #: seconds per (method, stage), every clip


@dataclass
class _Tables:
    """This run's rows of every table (:func:`_aggregate`)."""

    board: pd.DataFrame
    frames: pd.DataFrame
    clips: pd.DataFrame
    timing: pd.DataFrame | None
    methods: pd.DataFrame | None
    failures: dict[str, str]
    notes: dict[str, str]


def _resolve(config: BenchmarkConfig, progress: bool) -> _Plan:
    """The data root (prepared on first use when none is given), its clips, masks, metrics and flow."""
    from benchmarks.media import MediaWriter
    from lsvd.data.manifest import Manifest
    from lsvd.flow.base import create_flow

    root = Path(config.data).expanduser() if config.data else ensure_default_data(progress)
    try:
        manifest = Manifest.load(root)
    except Exception as exc:
        raise BenchmarkError(f"--root {root}: cannot load a prepared dataset ({exc}); run `python -m lsvd.prepare "
                             f"--root {root} --masks` first") from exc
    try:
        source = _ClipSource(manifest, None if config.split == "all" else config.split)
    except ValueError as exc:
        raise BenchmarkError(str(exc)) from None
    masks = True
    users = _mask_users(config.method_specs, config.checkpoints)
    if users:
        manifest, source, masks = _ensure_masks(root, manifest, source, users, config.no_masks, progress)
    protocol = load_protocol(config.protocol)
    usable, missing, described = resolve_metrics(config.metric_names, protocol)
    if not all(source.has_clean(c) for c in source.clip_ids):
        for m in [m for m in usable if m.requires_reference == "clean"]:
            missing[m.name] = "the clips have no clean frames (only synthetic or paired data have them)"
        usable = [m for m in usable if m.requires_reference != "clean"]
    clip_ids = source.clip_ids[config.shard_index::config.num_shards]
    resolved = dataclasses.replace(config, data=str(root), metrics=config.metric_names)
    return _Plan(
        config=resolved, root=root, manifest=manifest, source=source, masks=masks, usable=usable, missing=missing,
        described=described, flow=create_flow(protocol.flow_name(config.flow)), clip_ids=clip_ids,
        protocol=protocol,
        fingerprints={c: str(manifest.clip(c).get("fingerprint") or "") + manifest.info["manifest_id"]
                      for c in clip_ids},
        media=MediaWriter(resolved.layout.root, config.split, manifest) if config.media and not config.merge else None)


def _create_methods(plan: _Plan, progress: bool, checkpoints: Mapping[str, str] | None = None) -> list[_MethodScores]:
    """Create each method of the plan (a learned one may train first); ``checkpoints`` overrides the config's
    (a worker process is given the weights the main process trained). A method that cannot be created, or
    whose name another method already has, is a failed :class:`_MethodScores` without ``method``."""
    import torch

    from benchmarks.methods import create_method

    cfg = plan.config
    checkpoints = {**cfg.checkpoints, **(checkpoints or {})}
    created: list[_MethodScores] = []
    for spec in cfg.method_specs:
        torch.manual_seed(cfg.seed)
        labels = [m.label for m in created]
        try:
            method = create_method(spec, checkpoint=checkpoints.get(spec), device=cfg.device, data_root=str(plan.root),
                                   progress=progress, masks=plan.masks, train_seed=cfg.seed,
                                   train_preset=cfg.train_preset)
        except Exception as exc:  # a method that cannot even be built is recorded as failed
            created.append(_MethodScores(spec, failure=f"could not be created: {type(exc).__name__}: {exc}"))
            log.error("%s: %s", spec, created[-1].failure)
            continue
        name = method.name or spec
        if name in labels:  # e.g. two external folders of the same name: their rows would mix
            created.append(_MethodScores(spec, failure=f"another method is already named {name}; rename one of the "
                                                        "folders"))
            log.error("%s: %s", spec, created[-1].failure)
            continue
        created.append(_MethodScores(name, info=method.describe(), method=method, spec=spec))
    return created


@dataclass
class _ClipResult:
    """Every method's part of one clip (:func:`_score_clip`)."""

    clip_id: str
    rows: dict[str, pd.DataFrame] = field(default_factory=dict)  #: method -> per-frame rows
    seconds: dict[str, float] = field(default_factory=dict)  #: method -> desmoking seconds (when it ran)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  #: method -> {metric: why not computed}
    failed: dict[str, str] = field(default_factory=dict)  #: method -> why it failed on this clip
    unreadable: str = ""  #: why the clip's input cannot be read ("": it can)
    times: StageTimes = field(default_factory=StageTimes)


def _score_clip(plan: _Plan, methods: Sequence[_MethodScores], clip_id: str) -> _ClipResult:
    """Score every created method on one clip: its frames are read once, and the work every method shares
    (:class:`~benchmarks.evaluate.SharedWork`) is done once."""
    from benchmarks.evaluate import ClipUnreadable, MethodFailure, SharedWork, evaluate_clip

    cfg = plan.config
    out = _ClipResult(clip_id)
    shared = SharedWork(plan.flow, out.times)
    loaded: list[Any] = []

    def load() -> Any:
        if cfg.merge:
            return _not_cached(clip_id)()
        if not loaded:
            with out.times.stage(SHARED, "decode"):
                loaded.append(plan.source.load(clip_id))
        return loaded[0]

    for m in methods:
        errors: dict[str, str] = {}
        try:
            rows, secs = evaluate_clip(m.method, cfg.split, load, clip_id, plan.fingerprints[clip_id], plan.usable,
                                       plan.flow, plan.flow_name, plan.layout.cache, errors=errors, media=plan.media,
                                       protocol=plan.protocol, timer=out.times, shared=shared)
        except ClipUnreadable as exc:  # no method can be scored on it
            out.unreadable = str(exc)
            return out
        except MethodFailure as exc:  # recorded for this clip; the method goes on with the others
            out.failed[m.label] = str(exc)
            continue
        out.rows[m.label] = rows
        out.errors[m.label] = errors
        if secs is not None:
            out.seconds[m.label] = secs
    return out


#: The plan and methods of a worker process (:func:`_worker_start`).
_WORKER: dict[str, Any] = {}


def _worker_start(config: BenchmarkConfig, checkpoints: dict[str, str], threads: int) -> None:
    """Set up a worker process of :func:`_score`: ``threads`` threads, the plan and the methods."""
    from lsvd.threads import configure_threads

    configure_threads(threads)
    plan = _resolve(config, progress=False)
    _WORKER.update(plan=plan, methods=[m for m in _create_methods(plan, False, checkpoints) if m.method is not None])


def _worker_clip(clip_id: str) -> _ClipResult:
    return _score_clip(_WORKER["plan"], _WORKER["methods"], clip_id)


def workers_for(config: BenchmarkConfig, n_clips: int) -> int:
    """Processes that score clips in parallel: ``config.workers`` (0: ``$LSVD_WORKERS``, else one per CPU thread
    this process has, ``torch.get_num_threads()``), at most one per clip; 1 (this process) on a GPU or with
    ``--merge``."""
    import torch

    if config.merge or config.device.startswith("cuda") or n_clips < 2:
        return 1
    wanted = config.workers or int(os.environ.get("LSVD_WORKERS") or 0) or torch.get_num_threads()
    return max(1, min(wanted, n_clips))


def _map_clips(plan: _Plan, methods: list[_MethodScores], progress: bool) -> Iterator[_ClipResult]:
    """:func:`_score_clip` of every clip of the plan, in clip order: here, or in :func:`workers_for` processes
    of ``threads // workers`` threads each (so that they do not oversubscribe the cores)."""
    import torch

    clip_ids = plan.clip_ids
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(clip_ids), desc="scoring", unit="clip", dynamic_ncols=True)
    workers = workers_for(plan.config, len(clip_ids))
    if workers == 1:
        for clip_id in clip_ids:
            yield _score_clip(plan, methods, clip_id)
            if bar is not None:
                bar.update()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        threads = max(1, torch.get_num_threads() // workers)
        checkpoints = {m.spec: m.info["checkpoint"] for m in methods if (m.info or {}).get("checkpoint")}
        log.info("scoring %d clips in %d processes of %d thread(s)", len(clip_ids), workers, threads)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start,
                                 initargs=(plan.config, checkpoints, threads)) as pool:
            for result in pool.map(_worker_clip, clip_ids):
                if bar is not None:
                    bar.update()
                yield result
    if bar is not None:
        bar.close()


def _score(plan: _Plan, progress: bool) -> _Scores:
    """Create each method (a learned one may train first), then score them clip by clip (:func:`_map_clips`)."""
    from benchmarks.media import save_run_logs
    from benchmarks.results import RUN_LOG_FILE

    cfg, layout = plan.config, plan.layout
    methods = _create_methods(plan, progress)
    scores = _Scores(methods=methods, unreadable={})
    live = [m for m in methods if m.method is not None]
    for m in live:
        if m.method.uses_mask and not plan.masks:
            m.note = NO_MASKS_NOTE
        if not cfg.merge:
            try:
                m.info["run_logs"] = save_run_logs(layout.root, m.label, m.info.get("checkpoint"))
            except OSError as exc:  # the training curves of a report are not worth the benchmark
                log.warning("%s: training log not copied (%s)", m.label, exc)
        elif (layout.run_logs(m.label) / RUN_LOG_FILE).is_file():  # copied by a shard
            m.info["run_logs"] = layout.run_logs_rel(m.label)
    done = {m.label: [0, 0.0] for m in live}  # frames desmoked, seconds
    failed: dict[str, dict[str, str]] = {m.label: {} for m in live}  # method -> {clip: why it failed there}
    for result in _map_clips(plan, live, progress):
        scores.times.merge(result.times)
        if result.unreadable:
            log.error("clip %s cannot be read, so no method is scored on it: %s", result.clip_id, result.unreadable)
            scores.unreadable[result.clip_id] = result.unreadable
            continue
        for m in live:
            if m.label in result.failed:
                failed[m.label][result.clip_id] = result.failed[m.label]
                log.error("%s failed on %s: %s", m.label, result.clip_id, result.failed[m.label])
                continue
            rows = result.rows[m.label]
            m.frames.append(rows)
            for metric, why in result.errors[m.label].items():
                m.metric_errors.setdefault(metric, f"could not be computed on clip {result.clip_id}: {why}")
            if m.label in result.seconds:
                n = int(rows["frame_number"].nunique()) if len(rows) else 0
                done[m.label][0] += n
                done[m.label][1] += result.seconds[m.label]
    for m in live:
        _finish_method(m, plan, failed[m.label], *done[m.label])
    return scores


def _finish_method(m: _MethodScores, plan: _Plan, failed: dict[str, str], frames_done: int, seconds: float) -> None:
    """The failure (failed on some clips), desmoking speed and efficiency of a scored method."""
    cfg, method = plan.config, m.method
    if failed:  # a method that failed on some clips keeps its scores of the others
        first = next(iter(failed))
        m.failure = (f"failed on {len(failed)} of {len(plan.clip_ids)} clip(s) (scores of the others are in "
                     f"clips.parquet); clip {first}: {failed[first]}")
        return
    if method.kind == "external":  # reading files says nothing of how fast the method desmokes
        m.timing = {"method": m.label, "split": cfg.split, "device": "", "frames": frames_done,
                    "seconds": float("nan"), "fps": float("nan")}
    elif seconds > 0:
        m.timing = {"method": m.label, "split": cfg.split, "device": cfg.device, "frames": frames_done,
                    "seconds": round(seconds, 3), "fps": round(frames_done / seconds, 3)}
    if plan.clip_ids:
        first_clip = plan.source.dataset.clips[plan.source.index[plan.clip_ids[0]]]
        try:
            m.efficiency = _efficiency(method, first_clip.height, first_clip.width, plan.protocol)
        except Exception as exc:  # counting must not sink the benchmark
            log.warning("%s: no parameter / MAC count (%s)", m.label, exc)


def _unreadable_note(unreadable: dict[str, str]) -> str:
    first = min(unreadable)
    return (f"{len(unreadable)} clip(s) not scored for any method, their input being unreadable: "
            f"{', '.join(sorted(unreadable))} (clip {first}: {unreadable[first]})")


def _aggregate(plan: _Plan, scores: _Scores) -> _Tables:
    """This run's rows: per frame, per clip, the leaderboard (one scalar per row, with provenance), timing
    and the method table. Clips whose input is unreadable are left out for every method."""
    import lsvd
    from benchmarks.evaluate import ROW_COLUMNS
    from benchmarks.leaderboard import aggregate, clip_table, metric_params_json
    from lsvd.provenance import git_commit, versions

    cfg = plan.config
    notes = {m.label: m.note for m in scores.methods if m.note}
    parts = [part for m in scores.methods for part in m.frames]
    if scores.unreadable:  # every method is scored on the same clips
        parts = [part[~part["clip_id"].isin(scores.unreadable)] for part in parts]
        note = _unreadable_note(scores.unreadable)
        for m in scores.methods:
            notes[m.label] = "; ".join(filter(None, [notes.get(m.label), note]))
    failures = {m.label: m.failure for m in scores.methods if m.failure}
    frames = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ROW_COLUMNS)
    card = {"protocol": plan.protocol.name, "protocol_version": plan.protocol.version}
    frames = frames.assign(**card)
    agg = aggregate(frames, plan.described)
    commit = git_commit()
    libs = json.dumps(versions(), sort_keys=True, separators=(",", ":"))
    rows = []
    for m in scores.methods:
        name, info = m.label, m.info or {}
        base = {"n_clips": 0, "n_frames": 0, "toolkit_version": lsvd.__version__, "git_commit": commit or "",
                "data_manifest_id": plan.manifest.info["manifest_id"],
                "checkpoint_sha256": info.get("checkpoint_sha256", ""),
                "flow": plan.flow_name, "seed": cfg.seed, "device": cfg.device, "versions": libs,
                "note": notes.get(name, "")}
        for metric in cfg.metric_names:
            desc = plan.described.get(metric, {})
            row = {"method": name, "split": cfg.split, **card, "metric": metric, "value": float("nan"), **base,
                   "frame_stride": plan.protocol.spec(metric).frame_stride,
                   "higher_is_better": bool(desc.get("higher_is_better", True)),
                   "requires_reference": desc.get("requires_reference", ""),
                   "metric_params": metric_params_json(desc), "status": "ok", "reason": ""}
            if m.failure:
                row.update(status="failed", reason=m.failure)
            elif metric in plan.missing:
                row.update(status="missing", reason=plan.missing[metric])
            elif metric in m.metric_errors:  # values of only some clips would mislead
                row.update(status="missing", reason=m.metric_errors[metric])
            else:
                hit = agg[(agg["method"] == name) & (agg["metric"] == metric)]
                if hit.empty:
                    row.update(status="missing", reason="no value computed")
                else:
                    row.update(value=float(hit["value"].iloc[0]), n_clips=int(hit["n_clips"].iloc[0]),
                               n_frames=int(hit["n_frames"].iloc[0]))
            rows.append(row)
        for metric in EFFICIENCY_METRICS:
            value = m.efficiency.get(metric)
            rows.append({"method": name, "split": cfg.split, **card, "metric": metric,
                         "value": float("nan") if value is None else value, **base, "frame_stride": 1,
                         "higher_is_better": False, "requires_reference": "model", "metric_params": "[]",
                         "status": "ok" if value is not None else ("failed" if m.failure else "missing"),
                         "reason": m.failure or ("" if value is not None else "not counted (unknown for "
                                                 "outputs produced elsewhere)")})
    timings = [m.timing for m in scores.methods if m.timing is not None]
    method_info = {m.label: m.info for m in scores.methods if m.info is not None}
    return _Tables(board=pd.DataFrame(rows), frames=frames, clips=clip_table(frames),
                   timing=pd.DataFrame(timings) if timings else None,
                   methods=method_table(method_info, cfg.split) if method_info else None,
                   failures=failures, notes=notes)


def _write(plan: _Plan, scores: _Scores, tables: _Tables) -> pd.DataFrame:
    """Update the results folder's tables with this run's rows, render LEADERBOARD.md, record the config
    (``benchmark.json``) and rewrite README.md; returns the whole leaderboard."""
    from benchmarks.leaderboard import render_markdown, update_table
    from benchmarks.results import TABLES, record_run
    from lsvd.io.atomic import write_text

    cfg, layout = plan.config, plan.layout
    layout.root.mkdir(parents=True, exist_ok=True)
    board = update_table(layout.table("leaderboard"), tables.board, list(TABLES["leaderboard"].sort))
    for name, table in (("frames", tables.frames), ("clips", tables.clips), ("timing", tables.timing),
                        ("methods", tables.methods)):
        if table is not None:
            update_table(layout.table(name), table, list(TABLES[name].sort))
    write_text(layout.leaderboard_md, render_markdown(board))
    record_run(layout.root, cfg.split, [m.label for m in scores.methods], cfg.to_dict(), cfg.command_line(),
               protocol=cfg.protocol)
    return board


def run_benchmark(methods: Sequence[str] | BenchmarkConfig, *, progress: bool = True, **options: Any) -> dict[str, Any]:
    """Run the benchmark (see the module docstring): validate, resolve, score, aggregate, write.

    Args:
        methods: the method names (then ``options`` are the other :class:`BenchmarkConfig` fields, e.g.
            ``data=``, ``metrics=``, ``identity=False``), or a whole :class:`BenchmarkConfig`. The
            ``identity`` floor is added unless ``identity=False``, as on the command line.
        progress: progress bars and the progress of automatic training and preparation.

    Returns:
        ``{"leaderboard": DataFrame (the whole file), "board": this run's rows, "failures": {method: why},
        "missing": {metric: why}, "results": Path, "timings", "data": root, "notes", "unreadable": {clip: why},
        "checkpoints": {learned method: its checkpoint.json pointer},
        "config": the resolved BenchmarkConfig, "stage_times": seconds per (method, stage), a
        :class:`~benchmarks.stages.StageTimes`}``; for one shard of several, ``{"leaderboard": None, "shard",
        "clips", "failures", "unreadable", "config"}`` (only the cache is filled).

    Raises:
        BenchmarkError: invalid options (all of them named at once, before any work) or unusable data.
    """
    if isinstance(methods, BenchmarkConfig):
        if options:
            raise TypeError(f"run_benchmark(config): give {sorted(options)} in the BenchmarkConfig")
        config = methods
    else:
        config = BenchmarkConfig(methods=methods if isinstance(methods, str) else list(methods), **options)
    config.validate()
    if config.device == "auto":  # recorded as the device that ran
        config = dataclasses.replace(config, device=resolve_device("auto"))
    plan = _resolve(config, progress)
    scores = _score(plan, progress)
    failures = {m.label: m.failure for m in scores.methods if m.failure}
    if config.num_shards > 1:
        from benchmarks.results import record_run

        record_run(plan.layout.root, config.split, [], plan.config.to_dict(), plan.config.command_line(),
                   protocol=config.protocol)
        return {"leaderboard": None, "shard": config.shard_index, "clips": plan.clip_ids, "failures": failures,
                "unreadable": scores.unreadable, "config": plan.config, "stage_times": scores.times}
    tables = _aggregate(plan, scores)
    board = _write(plan, scores, tables)
    return {"leaderboard": board, "board": tables.board, "failures": tables.failures, "missing": plan.missing,
            "results": plan.layout.root, "timings": [m.timing for m in scores.methods if m.timing is not None],
            "data": str(plan.root), "notes": tables.notes, "unreadable": scores.unreadable, "config": plan.config,
            "checkpoints": _checkpoint_pointers(plan.layout, scores), "stage_times": scores.times}


def _checkpoint_pointers(layout: ResultsLayout, scores: Any) -> dict[str, Path]:
    """``{method: RESULTS/runs/<method>/checkpoint.json}`` of the learned methods scored in this run."""
    from benchmarks.results import CHECKPOINT_POINTER

    found = {}
    for m in scores.methods:
        pointer = layout.run_logs(m.label) / CHECKPOINT_POINTER
        if (m.info or {}).get("checkpoint") and pointer.is_file():
            found[m.label] = pointer
    return found


#: The leaderboard ``note`` of a method that reads SelfSVD masks but ran without them (``--no-masks``).
NO_MASKS_NOTE = ("ran WITHOUT SelfSVD masks (--no-masks): the PS features were kept everywhere, unlike SelfSVD as "
                 "published")


#: Columns of ``methods.parquet`` (:data:`benchmarks.results.METHODS_FILE`), per (method, split): what each
#: method is (kind, citation, ablation, checkpoint, copied run logs).
METHOD_COLUMNS = ["kind", "citation", "video", "uses_ps", "needs_training", "licence", "ablation_of", "ablation",
                  "checkpoint", "checkpoint_sha256", "arch", "model", "run_logs", "masks"]


def method_table(method_info: dict[str, dict[str, Any]], split: str) -> pd.DataFrame:
    """One row per method of :data:`METHOD_COLUMNS` (text; ``""`` when a method has no such field)."""
    rows = [{"method": name, "split": split,
             **{c: "" if info.get(c) is None else str(info.get(c)) for c in METHOD_COLUMNS}}
            for name, info in method_info.items()]
    return pd.DataFrame(rows, columns=["method", "split", *METHOD_COLUMNS])


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m benchmarks.run", __doc__)
    p.add_argument("--method", action="append", default=[], help="a method to score (repeatable; --list-methods)")
    p.add_argument("--no-identity", action="store_true", help="do not add the identity floor")
    add_root(p, help="a dataset root from python -m lsvd.prepare (default: the synthetic mini-LSVD)")
    p.add_argument("--split", default="test", help="split to score (default test; 'all' for every clip)")
    p.add_argument("--metrics", action="append", default=[],
                   help="comma-separated metric names (default: the --protocol card's metric set); pyiqa:NAME for "
                   "pyiqa's")
    p.add_argument("--checkpoint", action="append", default=[], metavar="[METHOD=]PATH",
                   help="weights of a learned method (a lsvd.train run directory, a .safetensors, an official .pth)")
    add_option(p, "--preset", old=("--train-preset",), metavar="PRESET",
               help="training preset of learned methods without --checkpoint, trained here first (default cpu)")
    add_device(p)
    p.add_argument("--flow", default="dis", help="flow backend of the aligned and temporal metrics (dis, pwcnet)")
    p.add_argument("--protocol", default=DEFAULT_PROTOCOL,
                   help=f"the evaluation protocol card (default {DEFAULT_PROTOCOL}; --list-protocols): reference, "
                   "resolution, alignment, aggregation, default metrics")
    add_option(p, "-o", "--output", old=("--results",), default="results",
               help="the results folder: tables, leaderboard, media (default ./results)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the run and of the automatic training of learned methods (default 0)")
    p.add_argument("--workers", type=int, default=0,
                   help="processes scoring clips in parallel, each with --threads / N threads (default 0: one per "
                   "thread, or $LSVD_WORKERS; values depend on the threads each process gets, see the README)")
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--shard-index", type=int, default=0)
    p.add_argument("--merge", action="store_true", help="build the tables from the cache only (after sharded runs)")
    p.add_argument("--no-masks", action="store_true",
                   help="run the methods that read SelfSVD masks without any (the PS features are kept "
                   "everywhere; the results say so) instead of computing the clips' missing masks first")
    p.add_argument("--no-media", action="store_true",
                   help="do not save preview videos and sample frames for reports (python -m reports.build)")
    p.add_argument("--drop", action="append", default=[], metavar="METHOD",
                   help="remove METHOD's rows, cache, media and logs from --output (repeatable); runs nothing")
    p.add_argument("--list-methods", action="store_true")
    p.add_argument("--list-metrics", action="store_true")
    p.add_argument("--list-protocols", action="store_true")
    return p


def config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    """The :class:`BenchmarkConfig` of parsed command-line arguments (not validated yet)."""
    specs = list(dict.fromkeys(([] if args.no_identity else ["identity"]) + args.method))
    metrics = [m.strip() for item in args.metrics for m in item.split(",") if m.strip()]
    return BenchmarkConfig(methods=list(args.method), identity=not args.no_identity, data=args.root, split=args.split,
                           metrics=metrics or None, protocol=args.protocol,
                           checkpoints=_parse_checkpoints(args.checkpoint, specs), device=args.device, flow=args.flow,
                           seed=args.seed, results=args.output, num_shards=args.num_shards,
                           shard_index=args.shard_index, merge=args.merge, media=not args.no_media,
                           no_masks=args.no_masks, train_preset=args.preset, workers=args.workers)


def _drop(args: argparse.Namespace) -> int:
    from benchmarks.results import drop_methods

    if args.method:
        raise BenchmarkError("--drop removes methods from --output and runs nothing; run the benchmark (--method) "
                             "in another command")
    for summary in drop_methods(args.output, args.drop):
        print(summary.render())
    return 0


def _list_methods() -> None:
    from benchmarks.methods import METHODS

    for name in METHODS.list():
        cls = METHODS.get(name)
        print(f"{name:16s} {cls.kind:10s} {cls.citation}")


def _list_metrics() -> None:
    from benchmarks.metrics.base import get_metric, list_metrics

    for name in list_metrics():
        m = get_metric(name)
        why = m.available()
        print(f"{name:14s} {'higher' if m.higher_is_better else 'lower':6s} ref={m.requires_reference:9s} "
              f"{'available' if not why else 'missing: ' + why}")


def _list_protocols() -> None:
    from benchmarks.protocols import list_protocols

    for name in list_protocols():
        card = load_protocol(name)
        print(f"{name:18s} v{card.version:4s} {card.title}{'  (default)' if name == DEFAULT_PROTOCOL else ''}")


def _benchmark(args: argparse.Namespace) -> int:
    if args.list_protocols:
        _list_protocols()
        return 0
    if args.list_methods:
        _list_methods()
        return 0
    if args.list_metrics:
        _list_metrics()
        return 0
    if args.drop:
        return _drop(args)
    if not args.method:
        raise BenchmarkError("give at least one --method (see --list-methods), e.g. --method selfsvd")
    t0 = time.perf_counter()
    out = run_benchmark(config_from_args(args), progress=args.progress)
    if out["leaderboard"] is None:
        print(f"shard {out['shard']}: {len(out['clips'])} clip(s) scored into the cache; run with --merge when every "
              "shard is done")
        return 0 if not (out["failures"] or out["unreadable"]) else 1
    print(out["config"].layout.leaderboard_md.read_text())
    for name, why in sorted(out["missing"].items()):
        print(f"missing  {name}: {why}")
    for name, note in sorted(out["notes"].items()):
        print(f"note     {name}: {note}")
    for t in out["timings"]:
        if t["device"]:
            print(f"speed    {t['method']}: {t['fps']} frames/s on {t['device']} ({t['frames']} frames)")
    for clip_id, why in sorted(out["unreadable"].items()):
        print(f"skipped  clip {clip_id} for every method, its input being unreadable: {why}")
    for name, pointer in sorted(out.get("checkpoints", {}).items()):
        print(f"weights  {name}: {pointer} (python -m lsvd.desmoke VIDEO -o OUT.mp4 --checkpoint {pointer.parent})")
    print(f"results  {out['results']} ({time.perf_counter() - t0:.0f} s)")
    return 0 if not (out["failures"] or out["unreadable"]) else 1


def main(argv: list[str] | None = None) -> int:
    return run(_benchmark, parse(build_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())
