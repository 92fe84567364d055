"""Generate SelfSVD masks for a prepared dataset root and record them in its manifests.

Modes (spec §2.1-§2.3):

- ``official`` (default): as the released code uses them. The reference is frame 4 of the clip,
  and the clip's one mask is the mask of frame 9 (``mask_ref_index``), which the loader applies
  to every frame. One reference dehaze and one mask per clip. The default because it reproduces
  the official training data, and so the published numbers.
- ``ps``: the reference is the clip's PS frame (the frame the network actually sees), and every
  other frame gets its own mask (one PS dehaze per clip, one mask per frame).

Masks are written as ``masks/<clip_id>/<frame_number:08d>.png`` (0/255, 1/4 resolution), one
folder per clip written atomically with a ``.lsvd-mask.json`` sidecar holding the clip's key
(input fingerprint, mode, flow backend, parameter digest) and mask ratios. A clip whose manifest
columns or sidecar match the request is not recomputed, so runs resume after a kill and shards
(``num_shards``/``shard_index``) merge: sharded runs write masks only; a run without sharding
then records every clip's masks in the manifests without recomputing them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from lsvd.constants import OFFICIAL_MASK_INDEX, PATH_TEMPLATES
from lsvd.data.frames import load_frames
from lsvd.data.manifest import Manifest, root_lock, write_manifest
from lsvd.data.problems import ProblemLog
from lsvd.io.atomic import atomic_dir, write_json
from lsvd.io.hashing import DIGEST_LENGTH, file_sha256
from lsvd.io.hashing import digest as hash_of
from lsvd.io.images import write_png
from lsvd.io.paths import inside

__all__ = ["DEFAULT_MODE", "MODES", "MaskSummary", "add_mask_arguments", "clip_masks", "generate_masks", "plan_clip"]

log = logging.getLogger(__name__)

Mode = Literal["official", "ps"]
MODES: tuple[str, ...] = ("official", "ps")
DEFAULT_MODE: Mode = "official"
OFFICIAL_REF_INDEX = 4  # the mask script's reference frame (spec §2.1)
SIDECAR = ".lsvd-mask.json"


@dataclass
class MaskSummary:
    root: Path
    mode: str
    flow: str
    clips: int
    computed: int
    reused: int
    masks_written: int
    problems: dict[str, int]
    seconds: float
    manifest_updated: bool
    shard: tuple[int, int] = (0, 1)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"dataset root   {self.root}",
            f"masks          mode {self.mode}, flow {self.flow}"
            + (f", shard {self.shard[0] + 1}/{self.shard[1]}" if self.shard[1] > 1 else ""),
            f"this run       {self.clips} clip(s): {self.computed} computed ({self.masks_written} masks), "
            f"{self.reused} unchanged, in {self.seconds:.1f} s; manifests "
            + ("updated" if self.manifest_updated else "not updated"),
        ]
        if self.problems:
            lines.append("skipped        " + ", ".join(f"{k}: {v}" for k, v in self.problems.items()))
        lines += self.notes
        return "\n".join(lines)


def add_mask_arguments(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options shared by ``lsvd.masks`` and ``lsvd.prepare --masks``."""
    p.add_argument("--mode", dest="mask_mode", choices=MODES, default=DEFAULT_MODE,
                   help=f"official: reference frame 4, one mask per clip (frame 9), as the released code; "
                   f"ps: reference = PS frame, one mask per frame (default: {DEFAULT_MODE})")
    p.add_argument("--flow", default="dis", help="flow backend aligning the reference: dis (default) or pwcnet "
                   "(python -m lsvd.masks --list-flows lists them)")
    p.add_argument("--flow-weights", help="weights file for a learned flow backend (pwcnet)")


def plan_clip(n_frames: int, ps_index: int, mode: str) -> tuple[int, list[int]]:
    """(reference frame_index, frame_indices that get a mask) for a clip of ``n_frames``."""
    if mode == "official":
        if n_frames <= OFFICIAL_MASK_INDEX:
            raise ValueError(f"official masks need frames {OFFICIAL_REF_INDEX} (reference) and "
                             f"{OFFICIAL_MASK_INDEX} (the clip's mask); the clip has {n_frames} frames; "
                             "use --mode ps or remove the clip")
        return OFFICIAL_REF_INDEX, [OFFICIAL_MASK_INDEX]
    if mode == "ps":
        return ps_index, [i for i in range(n_frames) if i != ps_index]
    raise ValueError(f"unknown mask mode {mode!r}; expected one of {MODES}")


def _flow_id(flow: str, weights: str | None) -> str:
    if not weights:
        return flow
    return f"{flow}@{file_sha256(weights)[:DIGEST_LENGTH]}"


def _clip_key(fingerprint: str, mode: str, flow_id: str, digest: str) -> str:
    return hash_of([fingerprint, mode, flow_id, digest])


def _read_sidecar(folder: Path) -> dict | None:
    """The clip's mask sidecar, or ``None`` when missing or unreadable (the masks are then recomputed)."""
    try:
        sidecar = json.loads((folder / SIDECAR).read_text())
    except (OSError, ValueError):
        return None
    return sidecar if isinstance(sidecar, dict) and isinstance(sidecar.get("ratios"), dict) else None


@contextlib.contextmanager
def _torch_single_thread():
    """Run torch single-threaded: its tensors here are small (1/4-res warps, DIS glue), and its
    OpenMP threads spinning next to Numba's parallel kernels made mask generation 4x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def numpy_flow(backend):
    """numpy (h, w, 3) reference and frame -> numpy (2, h, w) flow on the frame grid into the reference."""
    import torch

    def fn(ref_q: np.ndarray, frame_q: np.ndarray) -> np.ndarray:
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].float()  # noqa: E731
        with torch.no_grad():
            return backend.estimate(to(ref_q), to(frame_q))[0].cpu().numpy()

    return fn


def clip_masks(frames: dict[int, np.ndarray], ref_index: int, targets: list[int], params, flow_fn
               ) -> dict[int, np.ndarray]:
    """Masks (uint8 (h, w) in {0, 1}) of ``targets`` against the reference frame ``ref_index``;
    ``frames`` maps frame_index to uint8 RGB and must hold the reference and the targets.
    The reference is dehazed once (see :func:`plan_clip` for the modes' indices)."""
    from lsvd.masks.core import block_mask, prepare_frame, prepare_reference

    ref_q = prepare_reference(frames[ref_index], params)
    out = {}
    for index in targets:
        frame_q = prepare_frame(frames[index], params)
        out[index] = block_mask(ref_q, frame_q, flow_fn(ref_q, frame_q), params)[0]
    return out


def _compute_clip(manifest: Manifest, clip: pd.Series, frames: pd.DataFrame, mode: str, params, flow_fn,
                  key: str, folder: Path) -> dict[int, float]:
    """Masks of one clip, written atomically into ``folder``; returns {frame_index: ratio}."""
    ref_index, targets = plan_clip(len(frames), int(clip.ps_frame_index), mode)
    paths = [str(manifest.resolve(p)) for p in frames["path"]]
    numbers = [int(n) for n in frames["frame_number"]]
    wanted = [ref_index, *targets]
    images = dict(zip(wanted, load_frames(str(clip.storage), paths, numbers, wanted), strict=True))
    masks = clip_masks(images, ref_index, targets, params, flow_fn)
    with atomic_dir(folder) as tmp:
        for index, mask in masks.items():
            name = Path(PATH_TEMPLATES["mask"].format(clip_id=clip.clip_id, frame_number=numbers[index])).name
            write_png(tmp / name, (mask * 255).astype(np.uint8))
        ratios = {index: float(mask.mean()) for index, mask in masks.items()}
        write_json(tmp / SIDECAR, {"key": key, "mode": mode, "ratios": {str(k): v for k, v in ratios.items()}})
    return ratios


def generate_masks(
    root: str | os.PathLike[str],
    *,
    mode: str = DEFAULT_MODE,
    flow: str = "dis",
    flow_weights: str | None = None,
    params=None,
    split: str | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    strict: bool = False,
    progress: bool = True,
) -> MaskSummary:
    """Generate (or reuse) the masks of every clip of ``root`` (or of one ``split``)."""
    from lsvd.flow import create_flow
    from lsvd.flow.base import FLOWS
    from lsvd.masks.core import MaskParams

    t0 = time.perf_counter()
    if mode not in MODES:
        raise ValueError(f"unknown mask mode {mode!r}; expected one of {MODES}")
    if not (num_shards >= 1 and 0 <= shard_index < num_shards):
        raise ValueError(f"expected 0 <= shard_index < num_shards, got shard {shard_index} of {num_shards}")
    params = params or MaskParams()
    params.validate()
    FLOWS.get(flow)  # fail fast on an unknown backend (the error lists close matches)
    # sharded runs write disjoint mask folders and no manifest, so they may run side by side
    with root_lock(root, "masks run") if num_shards == 1 else contextlib.nullcontext():
        manifest = Manifest.load(root)
        flow_id = _flow_id(flow, flow_weights)
        backend = None  # built on first use: unchanged datasets never load a flow network
        digest = params.digest()
        problems = ProblemLog(strict=strict)
        clip_ids = manifest.clip_ids(split)[shard_index::num_shards]
        frames_by_clip = dict(tuple(manifest.frames.groupby("clip_id", sort=False)))
        updates: dict[str, dict[int, float]] = {}
        computed = reused = written = 0
        for clip_id in tqdm(clip_ids, desc=f"masks ({mode})", unit="clip", disable=not progress):
            clip = manifest.clip(clip_id)
            frames = frames_by_clip[clip_id].sort_values("frame_index").reset_index(drop=True)
            key = _clip_key(str(clip.fingerprint), mode, flow_id, digest)
            rel = Path(PATH_TEMPLATES["mask"].format(clip_id=clip_id, frame_number=0)).parent
            folder = inside(manifest.root, rel.as_posix())
            recorded = frames["mask_path"].dropna()
            if (clip.get("mask_mode"), clip.get("mask_flow"), clip.get("mask_params")) == (mode, flow_id, digest) and \
                    len(recorded) and all(manifest.resolve(p).is_file() for p in recorded):
                reused += 1
                continue
            sidecar = _read_sidecar(folder)
            if sidecar is not None and sidecar.get("key") == key:
                updates[clip_id] = {int(k): v for k, v in sidecar["ratios"].items()}
                reused += 1
                continue
            try:
                if backend is None:
                    backend = create_flow(flow, **({"weights": flow_weights} if flow_weights else {}))
                single = flow == "dis"  # a learned flow network wants torch's threads
                with _torch_single_thread() if single else contextlib.nullcontext():
                    updates[clip_id] = _compute_clip(manifest, clip, frames, mode, params, numpy_flow(backend), key,
                                                     folder)
            except (ValueError, OSError) as exc:  # bad frames, unreadable files: reported, the run goes on
                problems.add("mask_failed", clip_id, str(exc), "clip")
                continue
            computed += 1
            written += len(updates[clip_id])
        problems.check()
        summary = MaskSummary(root=manifest.root, mode=mode, flow=flow_id, clips=len(clip_ids), computed=computed,
                              reused=reused, masks_written=written, problems=problems.counts(), seconds=0.0,
                              manifest_updated=False, shard=(shard_index, num_shards))
        if num_shards > 1:
            summary.notes.append("sharded run: masks written, manifests untouched; after every shard has run, run "
                                 "the same command without --num-shards/--shard-index to record them")
        elif updates:
            _record(manifest, updates, mode, flow_id, params)
            summary.manifest_updated = True
        if problems.problems:
            write_json(manifest.root / "meta" / "masks_report.json", problems.to_json())
        summary.seconds = time.perf_counter() - t0
        return summary


def _record(manifest: Manifest, updates: dict[str, dict[int, float]], mode: str, flow_id: str, params) -> None:
    """Write mask paths, ratios and the clips' mask columns into the manifests and the card (atomically)."""
    clips, frames = manifest.clips.copy(), manifest.frames.copy()
    for clip_id, ratios in updates.items():
        rows = frames.index[frames["clip_id"] == clip_id]
        index = frames.loc[rows, "frame_index"].astype(int)
        numbers = frames.loc[rows, "frame_number"].astype(int)
        frames.loc[rows, "mask_path"] = [
            PATH_TEMPLATES["mask"].format(clip_id=clip_id, frame_number=n) if i in ratios else None
            for i, n in zip(index, numbers, strict=True)]
        frames.loc[rows, "mask_ratio"] = [ratios.get(i, np.nan) for i in index]
        c = clips.index[clips["clip_id"] == clip_id]
        clips.loc[c, ["mask_mode", "mask_flow", "mask_params"]] = [mode, flow_id, params.digest()]
        if mode == "official":
            clips.loc[c, "mask_ref_index"] = OFFICIAL_MASK_INDEX
    masks_info = {"mode": mode, "flow_backend": flow_id, "params": asdict(params), "params_digest": params.digest()}
    write_manifest(manifest.root, clips, frames, source=manifest.info["source"], extra_info={"masks": masks_info})
