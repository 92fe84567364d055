"""``python -m benchmarks.run``: score desmoking methods on a prepared dataset into a leaderboard.

Examples::

    python -m benchmarks.run --method selfsvd                 # built-in default: synthetic mini-LSVD,
                                                              # SelfSVD trained on the CPU first (cached)
    python -m benchmarks.run --method selfsvd --checkpoint selfsvd.pth --data /data/lsvd-root --flow pwcnet
    python -m benchmarks.run --method identity --metrics niqe,brisque,piqe,fade --data ROOT --split all
    python -m benchmarks.run --method selfsvd --num-shards 4 --shard-index 0   # one of 4 jobs, then:
    python -m benchmarks.run --method selfsvd --merge                          # tables from all shards
    python -m benchmarks.run --method selfsvd --checkpoint selfsvd.pth --data ROOT --no-masks   # w/o masks
    python -m benchmarks.run --list-methods | --list-metrics

SelfSVD reads a SelfSVD mask per clip (``python -m lsvd.masks ROOT``); when a method that uses them
(or trains here on them) runs on clips without masks, they are computed into the dataset root first
(as ``python -m lsvd.masks ROOT`` does; logged). ``--no-masks`` runs such methods without any masks
instead (the PS features are then kept everywhere): a warning, the leaderboard's ``note`` column,
the notes of ``LEADERBOARD.md`` and ``methods.parquet``'s ``masks`` column say so.

Every run adds the ``identity`` floor (the smoky input) unless ``--no-identity``. Results go to
``--results`` (default ``./results``): ``frames.parquet`` (per frame), ``clips.parquet`` (per clip),
``leaderboard.parquet`` (one scalar per row, with provenance), ``LEADERBOARD.md``,
``timing.parquet`` (desmoking frames/s on the device used), ``methods.parquet`` (what each method
is), and for ``python -m reports.build``: ``media/`` (preview videos and sample frames of every
clip and method, see :mod:`benchmarks.media`; ``--no-media`` skips them) and ``runs/<method>/``
(the training logs of learned methods). Per-frame values are cached under
``results/cache`` by content keys, so re-running recomputes only what changed; shards on several
machines write into copies of the same ``results`` folder and a final ``--merge`` run (with the
caches copied together, and their ``media`` and ``runs`` folders for reports) builds the tables
without computing anything.

Faults stay local: a method that crashes or returns unusable outputs on a clip is recorded as
``failed`` (with the clip and the reason) and still scored on the other clips (``clips.parquet``);
a clip whose input cannot be read (a corrupt frame) is scored for no method and named in every
row's ``note``. Either makes the command exit with 1; a bad command or dataset root, with 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.leaderboard import DEFAULT_METRICS, EFFICIENCY_METRICS
from lsvd.threads import add_threads_argument, configure_threads_or_report

log = logging.getLogger("benchmarks.run")



class BenchmarkError(RuntimeError):
    """A benchmark that cannot start (bad options or data); the message says what to do."""


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
    """``--checkpoint METHOD=PATH``, or ``--checkpoint PATH`` when exactly one learned method is run."""
    learned = [m for m in methods if m != "identity" and not m.startswith("external:")]
    out: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not (sep and name in methods):
            if len(learned) != 1:
                raise BenchmarkError(f"--checkpoint {item}: say which method it is for (METHOD=PATH); methods: "
                                     f"{', '.join(learned)}")
            name, path = learned[0], item
        if not Path(path).expanduser().exists():
            raise BenchmarkError(f"--checkpoint {item}: {path} does not exist")
        out[name] = path
    return out


def resolve_metrics(names: list[str]) -> tuple[list[Any], dict[str, str], dict[str, dict[str, Any]]]:
    """``(usable Metric objects, {name: why missing}, {name: description})``; unknown names are errors."""
    from benchmarks.metrics.base import MetricUnavailable, get_metric

    usable, missing, described = [], {}, {}
    for name in names:
        try:
            metric = get_metric(name)
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
    what = f"--data {root}: {len(missing)} clip(s) have no SelfSVD masks (e.g. {missing[0]}; needed by {who})"
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
        from benchmarks.evaluate import References
        from benchmarks.methods import Clip
        from lsvd.io.images import read_rgb

        item = self.dataset[self.index[clip_id]]
        lqs = _to_uint8(item["lqs"].permute(0, 2, 3, 1))
        ps = _to_uint8(item["ps"].permute(1, 2, 0))
        row = self.manifest.clip(clip_id)
        ref_path = row.get("metric_ref_path")
        reference = read_rgb(self.manifest.resolve(ref_path)) if isinstance(ref_path, str) and ref_path else ps
        clean = smoky = None
        if self.has_clean(clip_id):
            clean = np.stack([read_rgb(p) for p in self.dataset.clips[self.index[clip_id]].clean_paths])
            onset = row.get("smoke_onset_index")
            if onset is not None and not pd.isna(onset):  # lqs[t] is clip frame ps + 1 + t
                smoky = np.arange(len(lqs)) + int(row["ps_frame_index"]) + 1 >= int(onset)
        mask = item["mask"].numpy()
        clip = Clip(clip_id=clip_id, lqs=lqs, ps=ps, mask=mask, frame_numbers=item["frame_numbers"].numpy(),
                    meta={"split": row.get("split")})
        return clip, References(ps=reference, clean=clean, smoky=smoky)


def _to_uint8(t: Any) -> np.ndarray:
    """float [0, 1] tensor (exactly k/255 values, as read) -> uint8 array."""
    return (t * 255.0).round().clamp(0, 255).byte().numpy()


def _not_cached(clip_id: str) -> Any:
    from benchmarks.evaluate import MethodFailure

    def load() -> Any:
        raise MethodFailure(f"clip {clip_id} is not in the cache (--merge computes nothing; run its shard first)")

    return load


def _efficiency(method: Any, height: int, width: int) -> dict[str, float]:
    from benchmarks.metrics.efficiency import count_parameters, macs_per_frame

    model = method.model()
    if model is None:  # no network: nothing learned, nothing to count; unknown for outputs made elsewhere
        return {} if method.kind == "external" else {"params": 0.0, "gmacs": 0.0}
    return {"params": float(count_parameters(model)), "gmacs": float(macs_per_frame(model, height, width))}


def run_benchmark(methods: list[str], *, data: str | None = None, split: str = "test", metrics: list[str] | None = None,
                  device: str = "cpu", results: str = "results", checkpoints: dict[str, str] | None = None,
                  flow: str = "dis", seed: int = 0, num_shards: int = 1, shard_index: int = 0, merge: bool = False,
                  media: bool = True, progress: bool = True, no_masks: bool = False,
                  train_preset: str | None = None) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); returns ``{"leaderboard": DataFrame | None, ...}``.

    ``seed`` also seeds the automatic training of learned methods without a checkpoint (their run
    directories get ``-seedN`` for N != 0); ``train_preset`` replaces their default ``cpu`` preset.
    """
    import torch

    import lsvd
    from benchmarks.evaluate import ClipUnreadable, MethodFailure, evaluate_clip
    from benchmarks.leaderboard import (
        LEADERBOARD_FILE,
        LEADERBOARD_MD,
        aggregate,
        clip_table,
        metric_params_json,
        render_markdown,
        update_table,
    )
    from benchmarks.media import MediaWriter, method_dir_name, save_run_logs
    from benchmarks.methods import create_method
    from lsvd.data.manifest import Manifest
    from lsvd.flow.base import create_flow
    from lsvd.io.atomic import write_text
    from lsvd.provenance import git_commit, versions

    if not 0 <= shard_index < num_shards:
        raise BenchmarkError(f"--shard-index {shard_index}: expected 0 <= index < --num-shards {num_shards}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchmarkError("--device cuda: no CUDA device is available; use --device cpu")
    root = Path(data).expanduser() if data else ensure_default_data(progress)
    try:
        manifest = Manifest.load(root)
    except Exception as exc:
        raise BenchmarkError(f"--data {root}: cannot load a prepared dataset ({exc}); run `python -m lsvd.prepare "
                             f"--root {root} --masks` first") from exc
    split_arg = None if split == "all" else split
    try:
        source = _ClipSource(manifest, split_arg)
    except ValueError as exc:
        raise BenchmarkError(str(exc)) from None
    masks = True  # whether the methods that read SelfSVD masks get them
    users = _mask_users(methods, checkpoints or {})
    if users:
        manifest, source, masks = _ensure_masks(root, manifest, source, users, no_masks, progress)
    metric_names = list(dict.fromkeys(metrics or DEFAULT_METRICS))
    usable, missing, described = resolve_metrics(metric_names)
    clean_ok = all(source.has_clean(c) for c in source.clip_ids)
    if not clean_ok:
        for m in [m for m in usable if m.requires_reference == "clean"]:
            missing[m.name] = "the clips have no clean frames (only synthetic or paired data have them)"
        usable = [m for m in usable if m.requires_reference != "clean"]
    flow_backend = create_flow(flow)
    clip_ids = source.clip_ids[shard_index::num_shards]
    results_dir = Path(results).expanduser()
    cache_dir = results_dir / "cache"
    fingerprints = {c: str(manifest.clip(c).get("fingerprint") or "") + manifest.info["manifest_id"]
                    for c in clip_ids}
    media_writer = MediaWriter(results_dir, split, manifest) if media and not merge else None

    frames_parts, failures, timings, efficiency, method_info, notes = [], {}, [], {}, {}, {}
    clip_failures: dict[str, dict[str, str]] = {}  # method -> clip -> why the method failed on it
    unreadable: dict[str, str] = {}  # clip -> why its input cannot be read (no method is scored on it)
    metric_errors: dict[str, dict[str, str]] = {}  # method -> metric -> why it could not be computed
    labels: list[str] = []  # the leaderboard names: method.name (external:DIR -> external:<DIR's name>)
    for spec in methods:
        torch.manual_seed(seed)
        try:
            method = create_method(spec, checkpoint=(checkpoints or {}).get(spec), device=device,
                                   data_root=str(root), progress=progress, masks=masks, train_seed=seed,
                                   train_preset=train_preset)
        except Exception as exc:  # a method that cannot even be built is recorded as failed
            labels.append(spec)
            failures[spec] = f"could not be created: {type(exc).__name__}: {exc}"
            log.error("%s: %s", spec, failures[spec])
            continue
        name = method.name or spec
        if name in labels:  # e.g. two external folders of the same name: their rows would mix
            labels.append(spec)
            failures[spec] = f"another method is already named {name}; rename one of the folders"
            log.error("%s: %s", spec, failures[spec])
            continue
        labels.append(name)
        method_info[name] = method.describe()
        if method.uses_mask and not masks:
            notes[name] = NO_MASKS_NOTE
        if not merge:
            try:
                method_info[name]["run_logs"] = save_run_logs(results_dir, name, method_info[name].get("checkpoint"))
            except OSError as exc:  # the training curves of a report are not worth the benchmark
                log.warning("%s: training log not copied (%s)", name, exc)
        elif (results_dir / "runs" / method_dir_name(name) / "log.jsonl").is_file():  # copied by a shard
            method_info[name]["run_logs"] = f"runs/{method_dir_name(name)}"
        frames_done, seconds = 0, 0.0
        parts = []
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(clip_ids, desc=name, unit="clip", dynamic_ncols=True)
        for clip_id in bar if bar is not None else clip_ids:
            loader = _not_cached(clip_id) if merge else functools.partial(source.load, clip_id)
            errors: dict[str, str] = {}
            try:
                rows, secs = evaluate_clip(method, split, loader, clip_id, fingerprints[clip_id], usable,
                                           flow_backend, flow, cache_dir, errors=errors, media=media_writer)
            except ClipUnreadable as exc:
                if clip_id not in unreadable:
                    log.error("clip %s cannot be read, so no method is scored on it: %s", clip_id, exc)
                unreadable.setdefault(clip_id, str(exc))
                continue
            except MethodFailure as exc:  # recorded for this clip; the method goes on with the others
                clip_failures.setdefault(name, {})[clip_id] = str(exc)
                log.error("%s failed on %s: %s", name, clip_id, exc)
                continue
            parts.append(rows)
            for metric, why in errors.items():
                metric_errors.setdefault(name, {}).setdefault(metric, f"could not be computed on clip {clip_id}: {why}")
            if secs is not None:
                n = int(rows["frame_number"].nunique()) if len(rows) else 0
                frames_done, seconds = frames_done + n, seconds + secs
        frames_parts.extend(parts)  # a method that failed on some clips keeps its scores of the others
        if name in clip_failures:
            failed = clip_failures[name]
            first = next(iter(failed))
            failures[name] = (f"failed on {len(failed)} of {len(clip_ids)} clip(s) (scores of the others are in "
                              f"clips.parquet); clip {first}: {failed[first]}")
        else:
            if method.kind == "external":  # reading files says nothing of how fast the method desmokes
                timings.append({"method": name, "split": split, "device": "", "frames": frames_done,
                                "seconds": float("nan"), "fps": float("nan")})
            elif seconds > 0:
                timings.append({"method": name, "split": split, "device": device, "frames": frames_done,
                                "seconds": round(seconds, 3), "fps": round(frames_done / seconds, 3)})
            first = source.dataset.clips[source.index[clip_ids[0]]] if clip_ids else None
            if first is not None:
                try:
                    efficiency[name] = _efficiency(method, first.height, first.width)
                except Exception as exc:  # counting must not sink the benchmark
                    log.warning("%s: no parameter / MAC count (%s)", name, exc)

    if unreadable:  # every method is scored on the same clips
        frames_parts = [part[~part["clip_id"].isin(unreadable)] for part in frames_parts]
        first = min(unreadable)
        note = (f"{len(unreadable)} clip(s) not scored for any method, their input being unreadable: "
                f"{', '.join(sorted(unreadable))} (clip {first}: {unreadable[first]})")
        for name in labels:
            notes[name] = "; ".join(filter(None, [notes.get(name), note]))
    if num_shards > 1:
        return {"leaderboard": None, "shard": shard_index, "clips": clip_ids, "failures": failures,
                "unreadable": unreadable}

    frames = pd.concat(frames_parts, ignore_index=True) if frames_parts else pd.DataFrame(
        columns=["method", "split", "clip_id", "frame_number", "metric", "value"])
    agg = aggregate(frames, described)
    commit = git_commit()
    libs = json.dumps(versions(), sort_keys=True, separators=(",", ":"))
    rows = []
    for name in labels:
        info = method_info.get(name, {})
        base = {"n_clips": 0, "n_frames": 0, "toolkit_version": lsvd.__version__, "git_commit": commit or "",
                "data_manifest_id": manifest.info["manifest_id"],
                "checkpoint_sha256": info.get("checkpoint_sha256", ""),
                "flow": flow, "seed": seed, "device": device, "versions": libs, "note": notes.get(name, "")}
        for metric in metric_names:
            desc = described.get(metric, {})
            row = {"method": name, "split": split, "metric": metric, "value": float("nan"), **base,
                   "higher_is_better": bool(desc.get("higher_is_better", True)),
                   "requires_reference": desc.get("requires_reference", ""),
                   "metric_params": metric_params_json(desc), "status": "ok", "reason": ""}
            if name in failures:
                row.update(status="failed", reason=failures[name])
            elif metric in missing:
                row.update(status="missing", reason=missing[metric])
            elif metric in metric_errors.get(name, {}):  # values of only some clips would mislead
                row.update(status="missing", reason=metric_errors[name][metric])
            else:
                hit = agg[(agg["method"] == name) & (agg["metric"] == metric)]
                if hit.empty:
                    row.update(status="missing", reason="no value computed")
                else:
                    row.update(value=float(hit["value"].iloc[0]), n_clips=int(hit["n_clips"].iloc[0]),
                               n_frames=int(hit["n_frames"].iloc[0]))
            rows.append(row)
        for metric in EFFICIENCY_METRICS:
            value = efficiency.get(name, {}).get(metric)
            rows.append({"method": name, "split": split, "metric": metric,
                         "value": float("nan") if value is None else value, **base,
                         "higher_is_better": False, "requires_reference": "model", "metric_params": "[]",
                         "status": "ok" if value is not None else ("failed" if name in failures else "missing"),
                         "reason": failures.get(name, "" if value is not None else "not counted (unknown for "
                                                "outputs produced elsewhere)")})
    board = pd.DataFrame(rows)
    sort = ["method", "split", "metric"]
    results_dir.mkdir(parents=True, exist_ok=True)
    table = update_table(results_dir / LEADERBOARD_FILE, board, sort)
    update_table(results_dir / "frames.parquet", frames, ["method", "split", "clip_id", "metric", "frame_number"])
    update_table(results_dir / "clips.parquet", clip_table(frames), ["method", "split", "clip_id", "metric"])
    if timings:
        update_table(results_dir / "timing.parquet", pd.DataFrame(timings), ["method", "split"])
    if method_info:
        update_table(results_dir / METHODS_FILE, method_table(method_info, split), ["method", "split"])
    write_text(results_dir / LEADERBOARD_MD, render_markdown(table))
    return {"leaderboard": table, "board": board, "failures": failures, "missing": missing, "results": results_dir,
            "timings": timings, "data": str(root), "notes": notes, "unreadable": unreadable}


#: The leaderboard ``note`` of a method that reads SelfSVD masks but ran without them (``--no-masks``).
NO_MASKS_NOTE = ("ran WITHOUT SelfSVD masks (--no-masks): the PS features were kept everywhere, unlike SelfSVD as "
                 "published")


#: Per (method, split): what each method is (kind, citation, ablation, checkpoint, copied run logs).
METHODS_FILE = "methods.parquet"
METHOD_COLUMNS = ["kind", "citation", "video", "uses_ps", "needs_training", "licence", "ablation_of", "ablation",
                  "checkpoint", "checkpoint_sha256", "arch", "model", "run_logs", "masks"]


def method_table(method_info: dict[str, dict[str, Any]], split: str) -> pd.DataFrame:
    """One row per method of :data:`METHOD_COLUMNS` (text; ``""`` when a method has no such field)."""
    rows = [{"method": name, "split": split,
             **{c: "" if info.get(c) is None else str(info.get(c)) for c in METHOD_COLUMNS}}
            for name, info in method_info.items()]
    return pd.DataFrame(rows, columns=["method", "split", *METHOD_COLUMNS])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", action="append", default=[], help="a method to score (repeatable; --list-methods)")
    p.add_argument("--no-identity", action="store_true", help="do not add the identity floor")
    p.add_argument("--data", help="a dataset root from python -m lsvd.prepare (default: the synthetic mini-LSVD)")
    p.add_argument("--split", default="test", help="split to score (default test; 'all' for every clip)")
    p.add_argument("--metrics", action="append", default=[],
                   help=f"comma-separated metric names (default: {','.join(DEFAULT_METRICS)}); pyiqa:NAME for pyiqa's")
    p.add_argument("--checkpoint", action="append", default=[], metavar="[METHOD=]PATH",
                   help="weights of a learned method (a lsvd.train run directory, a .safetensors, an official .pth)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--flow", default="dis", help="flow backend of the aligned and temporal metrics (dis, pwcnet)")
    p.add_argument("--results", default="results", help="where results and the leaderboard go (default ./results)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the run and of the automatic training of learned methods (default 0)")
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--shard-index", type=int, default=0)
    p.add_argument("--merge", action="store_true", help="build the tables from the cache only (after sharded runs)")
    p.add_argument("--no-masks", action="store_true",
                   help="run the methods that read SelfSVD masks without any (the PS features are kept "
                   "everywhere; the results say so) instead of computing the clips' missing masks first")
    p.add_argument("--no-media", action="store_true",
                   help="do not save preview videos and sample frames for reports (python -m reports.build)")
    p.add_argument("--list-methods", action="store_true")
    p.add_argument("--list-metrics", action="store_true")
    add_threads_argument(p)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-v", "--verbose", action="count", default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    from lsvd.logging_utils import init_logging

    args = build_parser().parse_args(argv)
    init_logging(args.verbose)
    if not configure_threads_or_report(args.threads):
        return 2
    if args.list_methods:
        from benchmarks.methods import METHODS

        for name in METHODS.list():
            cls = METHODS.get(name)
            print(f"{name:16s} {cls.kind:10s} {cls.citation}")
        return 0
    if args.list_metrics:
        from benchmarks.metrics.base import get_metric, list_metrics

        for name in list_metrics():
            m = get_metric(name)
            why = m.available()
            print(f"{name:14s} {'higher' if m.higher_is_better else 'lower':6s} ref={m.requires_reference:9s} "
                  f"{'available' if not why else 'missing: ' + why}")
        return 0
    if not args.method:
        print("error: give at least one --method (see --list-methods), e.g. --method selfsvd", file=sys.stderr)
        return 2
    methods = list(dict.fromkeys(([] if args.no_identity else ["identity"]) + args.method))
    metrics = [m.strip() for item in args.metrics for m in item.split(",") if m.strip()] or None
    t0 = time.perf_counter()
    try:
        checkpoints = _parse_checkpoints(args.checkpoint, methods)
        out = run_benchmark(methods, data=args.data, split=args.split, metrics=metrics, device=args.device,
                            results=args.results, checkpoints=checkpoints, flow=args.flow, seed=args.seed,
                            num_shards=args.num_shards, shard_index=args.shard_index, merge=args.merge,
                            media=not args.no_media, progress=not args.no_progress, no_masks=args.no_masks)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if out["leaderboard"] is None:
        print(f"shard {out['shard']}: {len(out['clips'])} clip(s) scored into the cache; run with --merge when every "
              "shard is done")
        return 0 if not (out["failures"] or out["unreadable"]) else 1
    print((out["results"] / "LEADERBOARD.md").read_text())
    for name, why in sorted(out["missing"].items()):
        print(f"missing  {name}: {why}")
    for name, note in sorted(out["notes"].items()):
        print(f"note     {name}: {note}")
    for t in out["timings"]:
        if t["device"]:
            print(f"speed    {t['method']}: {t['fps']} frames/s on {t['device']} ({t['frames']} frames)")
    for clip_id, why in sorted(out["unreadable"].items()):
        print(f"skipped  clip {clip_id} for every method, its input being unreadable: {why}")
    print(f"results  {out['results']} ({time.perf_counter() - t0:.0f} s)")
    return 0 if not (out["failures"] or out["unreadable"]) else 1


if __name__ == "__main__":
    sys.exit(main())
