"""The SelfSVD / SelfSVD* training loop behind ``python -m lsvd.train``.

    from lsvd.train.config import load_config
    from lsvd.train.loop import train
    cfg = load_config("cpu", data="~/.cache/lsvd/datasets/synthetic")
    summary = train(cfg, "runs/cpu")                 # new run (refuses a non-empty run directory)
    summary = train(None, "runs/cpu", resume=True)   # continue from checkpoints/last, exactly

One process trains on one device; under ``torchrun`` every process trains on its own GPU (or CPU
with gloo) with DDP, each on its own draws (:mod:`lsvd.train.sampling`), and rank 0 writes the run
directory (:mod:`lsvd.train.checkpoint`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from lsvd.errors import LsvdError
from lsvd.io.weights import CheckpointError
from lsvd.train.checkpoint import (
    DISCRIMINATOR_FILE,
    GENERATOR_FILE,
    last_checkpoint,
    load_generator,
    load_safetensors_into,
    load_state,
    resume_error,
    save_checkpoint,
    set_rng_state,
)
from lsvd.train.config import ConfigError, TrainConfig, read_toml, write_config

__all__ = ["CONFIG_FILE", "LOG_FILE", "RUN_FILE", "RunDirError", "evaluate_clean", "prepare_run_dir",
    "resolve_device", "train"]

log = logging.getLogger(__name__)

CONFIG_FILE = "config.toml"
RUN_FILE = "run.json"
LOG_FILE = "log.jsonl"
#: Settings that may differ when resuming (they do not change what is computed).
RESUMABLE_CHANGES = ("workers", "log_every", "checkpoint_every", "eval_every", "eval_clips", "device")


class RunDirError(LsvdError, RuntimeError):
    """The run directory cannot be used as asked (exists, or has nothing to resume)."""


@dataclass
class _Dist:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device_kind: str) -> _Dist:
    """Join the ``torchrun`` process group when ``WORLD_SIZE > 1`` (nccl on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return _Dist(rank=dist.get_rank(), local_rank=int(os.environ.get("LOCAL_RANK", "0")), world_size=world)


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``; ``cuda`` -> ``cuda:<local_rank>``."""
    from lsvd.cli import resolve_device as resolve_auto

    name = resolve_auto(name)
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but CUDA is not available here; use --device cpu")
    if name == "cuda":
        name = f"cuda:{local_rank}"
    return torch.device(name)


def amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """bf16 for ``amp=bf16``, or ``auto`` on CUDA; ``None`` (float32) otherwise."""
    if cfg.amp == "bf16" or (cfg.amp == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed torch, Python and NumPy; optionally switch torch to deterministic algorithms."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True  # as the official runtime


def _flow_kwargs(name: str, weights: str) -> dict[str, Any]:
    return {"weights": weights} if name == "pwcnet" and weights else {}


def prepare_run_dir(cfg: TrainConfig | None, run_dir: Path, resume: bool) -> TrainConfig:
    """Check the run directory against ``resume`` and return the configuration to run.

    New run: ``run_dir`` must be absent or empty. Resume: ``run_dir/config.toml`` must exist; its
    configuration is used, and ``cfg`` (when given) may differ only in :data:`RESUMABLE_CHANGES`.
    """
    saved = run_dir / CONFIG_FILE
    if resume:
        if not saved.is_file():
            raise RunDirError(f"--resume: {run_dir} has no {CONFIG_FILE}; it is not a training run directory "
                              "(start a new run without --resume)")
        base = TrainConfig(**read_toml(saved))
        if cfg is None:
            return base
        changed = [k for k, v in cfg.to_dict().items() if getattr(base, k) != v and k not in RESUMABLE_CHANGES]
        if changed:
            diffs = ", ".join(f"{k}: {getattr(base, k)!r} -> {getattr(cfg, k)!r}" for k in changed)
            raise RunDirError(f"--resume: the configuration differs from the run's {saved} ({diffs}); only "
                              f"{', '.join(RESUMABLE_CHANGES)} may change on resume. Start a new run to change more")
        for key in RESUMABLE_CHANGES:
            setattr(base, key, getattr(cfg, key))
        return base
    if cfg is None:
        raise ValueError("a configuration is needed for a new run")
    if int(os.environ.get("RANK", "0")) > 0:  # under torchrun only rank 0 checks (and then writes)
        return cfg
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunDirError(f"{run_dir} already exists and is not empty; pass --resume to continue that run, or "
                          "choose another --run-dir (nothing was overwritten)")
    return cfg


class _Logger:
    """Loss averages over each log interval, it/s, JSON lines in ``log.jsonl`` (rank 0)."""

    def __init__(self, path: Path | None, every: int, batch_size: int, world_size: int) -> None:
        self.path, self.every = path, every
        self.samples_per_it = batch_size * world_size
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.count = 0
        self.t0 = time.perf_counter()

    def write(self, record: dict[str, Any]) -> None:
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")

    def add(self, iteration: int, values: dict[str, float], lrs: tuple[float, float]) -> dict[str, Any] | None:
        for k, v in values.items():  # per key: the adversarial losses start at gan_start
            self.sums[k] += v
            self.counts[k] += 1
        self.count += 1
        if iteration % self.every:
            return None
        dt = time.perf_counter() - self.t0
        record = {"iter": iteration, **{k: round(v / self.counts[k], 6) for k, v in self.sums.items()},
                  "lr_g": lrs[0], "lr_d": lrs[1], "it_per_s": round(self.count / dt, 4),
                  "samples_per_s": round(self.count * self.samples_per_it / dt, 3)}
        self.write(record)
        self.sums.clear()
        self.counts.clear()
        self.count = 0
        self.t0 = time.perf_counter()
        return record


@torch.no_grad()
def evaluate_clean(generator: nn.Module, root: str, split: str, *, max_clips: int = 0,
                   device: torch.device | str = "cpu", dtype: torch.dtype | None = None,
                   use_mask: bool = True) -> dict[str, Any] | None:
    """PSNR against the clean frames of ``split`` (synthetic or paired data), input and output.

    Per clip ``10 log10(1 / MSE)`` over all its smoky frames (RGB in [0, 1], outputs clamped; the
    official test-time windowing), then the mean over clips. ``None`` when the split has no clean frames.

    Returns:
        ``{"split", "clips", "psnr_clean_in", "psnr_clean_out"}``.
    """
    from lsvd.data.datasets import TestClips
    from lsvd.inference import desmoke_clip

    try:
        clips = TestClips(root, split, with_clean=True)
    except ValueError as exc:
        log.info("no evaluation against clean frames: %s", exc)
        return None
    n = len(clips) if max_clips <= 0 else min(max_clips, len(clips))
    was_training = generator.training
    generator.eval()
    psnr_in, psnr_out = [], []
    for i in range(n):
        item = clips[i]
        mask = item["mask"] if use_mask else None
        out = desmoke_clip(generator, item["lqs"], item["ps"], mask, device=device, dtype=dtype)
        out = out.float().cpu().clamp(0.0, 1.0)
        clean = item["clean"]
        psnr_in.append(-10.0 * math.log10(max(float(((item["lqs"] - clean) ** 2).mean()), 1e-10)))
        psnr_out.append(-10.0 * math.log10(max(float(((out - clean) ** 2).mean()), 1e-10)))
    generator.train(was_training)
    return {"split": split, "clips": n, "psnr_clean_in": round(float(np.mean(psnr_in)), 4),
            "psnr_clean_out": round(float(np.mean(psnr_out)), 4)}


def _build(cfg: TrainConfig, device: torch.device) -> tuple[nn.Module, nn.Module, Any, nn.Module | None]:
    """Generator, discriminator, alignment flow and (SelfSVD*) the frozen teacher, on ``device``."""
    from lsvd.flow.base import create_flow
    from lsvd.models import PatchDiscriminator
    from lsvd.models.registry import build_model
    from lsvd.models.selfsvd import init_upsamplers

    generator = build_model(cfg.arch, cfg.model, flow=cfg.flow, flow_kwargs=_flow_kwargs(cfg.flow, cfg.flow_weights))
    init_upsamplers(generator, cfg.upsample_init)
    discriminator = PatchDiscriminator(base=cfg.disc_base)
    teacher = None
    if cfg.method == "selfsvd_star":
        try:
            teacher, info = load_generator(cfg.stage1, preset=cfg.model, flow=cfg.flow,
                                           flow_weights=cfg.flow_weights or None, arch=cfg.arch)
            _load_stage1_discriminator(cfg.stage1, info, discriminator)
        except CheckpointError as exc:
            raise CheckpointError(f"stage1: {exc}", path=exc.path, reason=exc.reason) from exc
        teacher.requires_grad_(False).eval()
        generator.load_state_dict(teacher.state_dict(), strict=True)  # the student starts as the teacher
        teacher.to(device)
    align = create_flow(cfg.align_flow, **_flow_kwargs(cfg.align_flow, cfg.flow_weights))
    if isinstance(align, nn.Module):
        align.requires_grad_(False).eval().to(device)
    generator.to(device)
    discriminator.to(device)
    if cfg.channels_last:
        generator.to(memory_format=torch.channels_last)
        discriminator.to(memory_format=torch.channels_last)
    return generator, discriminator, align, teacher


def _load_stage1_discriminator(stage1: str, info: dict[str, str], discriminator: nn.Module) -> None:
    """SelfSVD* starts its discriminator from stage 1 (spec §4.4): our checkpoint folder or the official file."""
    if info["source"] == "official":
        from lsvd.models.convert import load_official_discriminator

        load_official_discriminator(stage1, discriminator)
        return
    folder = Path(info["path"]).parent
    if not (folder / DISCRIMINATOR_FILE).is_file():
        raise FileNotFoundError(f"stage1: {folder} has no {DISCRIMINATOR_FILE}; SelfSVD* starts its discriminator "
                                "from stage 1: give the stage-1 run directory or checkpoint folder")
    load_safetensors_into(discriminator, folder / DISCRIMINATOR_FILE, what="discriminator (check disc_base)")


def train(cfg: TrainConfig | None, run_dir: str | os.PathLike[str], *, resume: bool = False,
          progress: bool = True, stop_at: int | None = None) -> dict[str, Any]:
    """Train (or resume) a run; returns a summary (iterations, last losses, evaluation, checkpoint).

    ``stop_at`` ends this session after that many iterations (a checkpoint is written there) without
    changing the run: resume it later (for time-limited cluster jobs).

    Raises:
        ConfigError: invalid configuration (before any heavy work).
        RunDirError: the run directory exists without ``resume``, or has nothing to resume.
        CheckpointError: a checkpoint or weights file (``stage1``, ``flow_weights``, the last checkpoint on
            ``resume``) cannot be read safely. An unreadable last checkpoint is refused rather than skipped
            (resume stays exact and explicit): the message names the previous good checkpoint and how to
            point ``checkpoints/last`` at it.
        FloatingPointError: a loss became NaN/inf (the last checkpoint is intact).
    """
    deterministic, benchmark = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    try:
        return _train(cfg, run_dir, resume=resume, progress=progress, stop_at=stop_at)
    finally:  # leave torch's global switches as they were
        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.benchmark = benchmark


def _train(cfg: TrainConfig | None, run_dir: str | os.PathLike[str], *, resume: bool, progress: bool,
           stop_at: int | None) -> dict[str, Any]:
    from lsvd.data.datasets import TrainWindows
    from lsvd.data.manifest import Manifest
    from lsvd.provenance import provenance
    from lsvd.train.sampling import DrawSampler, SeededWindows
    from lsvd.train.schedule import cosine_scheduler
    from lsvd.train.step import LossWeights, train_step

    run_dir = Path(run_dir).expanduser()
    cfg = prepare_run_dir(cfg, run_dir, resume)
    cfg.validate()
    kind = "cuda" if cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available()) else "cpu"
    ddp = _init_distributed(kind)
    device = resolve_device(cfg.device, ddp.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dtype = amp_dtype(cfg, device)
    seed_everything(cfg.seed, cfg.deterministic)

    manifest = Manifest.load(cfg.data)
    windows = TrainWindows(manifest, cfg.split, num_frames=cfg.num_frames, crop_size=cfg.crop, flip=cfg.flip,
                           require_mask=cfg.use_mask)
    generator, discriminator, align, teacher = _build(cfg, device)
    opt_g = torch.optim.Adam([p for p in generator.parameters() if p.requires_grad], lr=cfg.lr_g,
                             betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    sched_g = cosine_scheduler(opt_g, cfg.min_lr, cfg.cosine_period)
    sched_d = cosine_scheduler(opt_d, cfg.min_lr, cfg.cosine_period)

    start = 0
    folder = last_checkpoint(run_dir) if resume else None
    if folder is not None:
        try:  # an unreadable last checkpoint is refused; the error names the previous good one
            load_safetensors_into(generator, folder / GENERATOR_FILE, what="generator")
            load_safetensors_into(discriminator, folder / DISCRIMINATOR_FILE, what="discriminator")
            state = load_state(folder)
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            sched_g.load_state_dict(state["sched_g"])
            sched_d.load_state_dict(state["sched_d"])
            set_rng_state(state["rng"])
            start = int(state["iteration"])
        except (ValueError, KeyError, TypeError, FileNotFoundError) as exc:  # CheckpointError is a ValueError
            raise resume_error(run_dir, folder, exc) from exc
        log.info("resuming %s from %s (iteration %d)", run_dir, folder.name, start)

    if ddp.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(cfg, run_dir / CONFIG_FILE)
        from lsvd.io.atomic import write_json

        write_json(run_dir / RUN_FILE, {
            "config_digest": cfg.digest(), "data_manifest_id": manifest.info.get("manifest_id"),
            "data_root": str(Path(cfg.data).expanduser().resolve()), "device": str(device),
            "amp": str(dtype).replace("torch.", "") if dtype else "off", "world_size": ddp.world_size,
            "train_clips": len(windows.clips), "resumed_from": folder.name if folder else None,
            **provenance(),
        })

    stop = cfg.iters if stop_at is None else max(start, min(stop_at, cfg.iters))
    train_g: nn.Module = generator
    train_d: nn.Module = discriminator
    if ddp.world_size > 1:
        dist.barrier()  # the run directory exists before any rank goes on
        ids = [device.index] if device.type == "cuda" else None
        train_g = DistributedDataParallel(generator, device_ids=ids)
        train_d = DistributedDataParallel(discriminator, device_ids=ids)
    generator.train()
    discriminator.train()

    loader = DataLoader(
        SeededWindows(windows, cfg.seed),
        batch_sampler=DrawSampler(cfg.batch_size, start, stop, ddp.rank, ddp.world_size),
        num_workers=cfg.workers, pin_memory=device.type == "cuda", persistent_workers=False,
    )
    logger = _Logger(run_dir / LOG_FILE if ddp.main else None, cfg.log_every, cfg.batch_size, ddp.world_size)
    weights = LossWeights(rec=cfg.w_rec, gan=cfg.w_gan, reg=cfg.w_reg)
    meta = {"arch": cfg.arch, "model": cfg.model, "mid_channels": getattr(generator, "mid_channels", ""),
            "num_blocks": getattr(generator, "num_blocks", ""), "use_mask": cfg.use_mask,
            "flow": cfg.flow, "method": cfg.method, "config_digest": cfg.digest(),
            "data_manifest_id": manifest.info.get("manifest_id"), "seed": cfg.seed}

    def checkpoint(iteration: int) -> Path | None:
        if not ddp.main:
            return None
        state = {"opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "sched_g": sched_g.state_dict(),
                 "sched_d": sched_d.state_dict()}
        return save_checkpoint(run_dir, iteration, generator, discriminator, state, meta)

    def evaluate(iteration: int) -> dict[str, Any] | None:
        if not ddp.main or cfg.eval_every < 0:
            return None
        result = evaluate_clean(generator, cfg.data, cfg.eval_split, max_clips=cfg.eval_clips, device=device,
                                dtype=dtype, use_mask=cfg.use_mask)
        if result is not None:
            logger.write({"iter": iteration, "eval": result})
            log.info("iteration %d: PSNR vs clean on %s: input %.2f dB, output %.2f dB", iteration,
                     result["split"], result["psnr_clean_in"], result["psnr_clean_out"])
        return result

    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.iters, initial=start, desc="train", unit="it", disable=not (progress and ddp.main),
               dynamic_ncols=True)
    last_values: dict[str, float] = {}
    last_eval = None
    iteration = start
    t_start = time.perf_counter()
    for batch in loader:
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items() if k in ("lqs", "ps", "mask")}
        if not cfg.use_mask:  # ablation: the PS features are never hidden
            batch["mask"].zero_()
        if cfg.channels_last:
            batch["ps"] = batch["ps"].contiguous(memory_format=torch.channels_last)
        last_values = train_step(batch, train_g, train_d, opt_g, opt_d, align, weights, teacher=teacher,
                                 amp_dtype=dtype, adversarial=iteration >= cfg.gan_start)
        lrs = (opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"])  # the rates this iteration used
        sched_g.step()
        with warnings.catch_warnings():  # before gan_start D takes no step; its rate follows the iteration anyway
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
            sched_d.step()
        iteration += 1
        bar.update(1)
        record = logger.add(iteration, last_values, lrs)
        if record is not None and not bar.disable:
            bar.set_postfix(rec=f"{record['loss_rec']:.4f}", d=f"{record.get('loss_d', float('nan')):.3f}",
                            its=record["it_per_s"])
        elif record is not None:
            log.info("iter %d: %s", iteration, {k: v for k, v in record.items() if k != "iter"})
        if iteration % cfg.checkpoint_every == 0 or iteration == stop:
            checkpoint(iteration)
        if cfg.eval_every > 0 and iteration % cfg.eval_every == 0 and iteration != cfg.iters:
            last_eval = evaluate(iteration)
    bar.close()
    seconds = time.perf_counter() - t_start
    if iteration == cfg.iters and cfg.eval_every >= 0:
        last_eval = evaluate(iteration)
    if ddp.world_size > 1:
        dist.barrier()
    folder = last_checkpoint(run_dir) if ddp.main else None
    return {"run_dir": str(run_dir), "iterations": iteration, "started_at": start,
            "seconds": round(seconds, 2), "it_per_s": round((iteration - start) / seconds, 4) if seconds else None,
            "last": last_values, "eval": last_eval, "checkpoint": str(folder) if folder else None,
            "device": str(device), "world_size": ddp.world_size, "rank": ddp.rank}
