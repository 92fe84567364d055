"""Speed of the SelfSVD networks: CPU inference frames/s, CPU training iterations/s, and a GPU section.

Run: ``python -m benchmarks.perf.models [--quick] [--presets paper,small,tiny] [--sizes 256x256,480x640]
[--no-record]``; records ``benchmarks/perf/results/models.json``. No targets; figures only.

- *CPU inference*: for each generator preset (``lsvd.models.PRESETS``) and size (HxW),
  ``build_selfsvd(preset, flow="dis")`` in eval mode under ``torch.no_grad()``, called directly on one
  5-frame window: ``lqs (1,5,3,H,W)``, ``ps (1,3,H,W)`` uniform random in [0, 1] (seed 0) and a zero
  mask ``(1,5,1,H/4,W/4)`` (plain model calls; ``desmoke_clip`` adds only the windowing). One
  warm-up call, then calls until ~``--min-s`` seconds have passed (at least one call, at most
  ``--max-calls``); frames/s = 5 x calls / seconds. The flow estimates inside a call
  (``model.compute_flows(lqs, ps)``: 9 DIS flows at 1/4 resolution) are timed on their own the
  same way, and their share of a call is given (``flow_share``), i.e. whether DIS or the network
  dominates. Threads: ``torch.get_num_threads()`` (and OpenCV's, which DIS uses).
- *CPU training*: the ``cpu`` training preset (``lsvd/train/presets/cpu.toml``; when it is absent
  the ``tiny`` preset with crop 128, batch 2, the ``small`` generator and ``disc_base`` 16, said in
  the figures). Generator, ``PatchDiscriminator``, two Adam optimisers and the alignment flow as
  ``lsvd.train`` builds them; ``train_step`` on random batches already in memory (data loading is
  NOT included). Two warm-up iterations, then at least ``--train-iters`` timed: it/s and samples/s.
  A rough per-iteration breakdown from helpers timed separately: generator forward+backward (with
  its own flows, also given alone), the discriminator passes (G-step forward+backward into the
  prediction, D-step forward+backward on targets and predictions), the alignment flow on the
  N*T predictions; the rest (losses, warps, optimiser steps, overlap) is ``other``.
- *CPU training, before vs after* (:func:`bench_training_paths`): today's ``train_step`` against the
  code path before 2026-12 (kept here as ``legacy_forward`` / ``_legacy_train_step``: per-frame
  reconstruction inside the recurrence, the discriminator's real half on all N*T copies of the PS
  targets, NCHW), from the same weights on the same in-memory batches, timed alternately; it/s of
  both, the speed-up, and both loss curves with their largest relative gap.
- *GPU* (only when ``torch.cuda.is_available()``; otherwise the figure says no GPU was measured):
  the paper preset, batch 4 x 5 frames x 256^2, bf16 autocast (``train_step(..., amp_dtype=bf16)``),
  channels_last, ``cudnn.benchmark``; warm-up, then 100 iterations between ``cuda.synchronize()``:
  it/s, peak memory (``max_memory_allocated``), FLOPs per iteration (``FlopCounterMode`` over one
  iteration; the DIS flows run on the CPU and count no FLOPs), achieved FLOP/s and model FLOP
  utilisation against the device's dense bf16 peak (:data:`PEAK_BF16`, by device name; FLOP/s only
  for an unknown device). Inference: the paper preset on 5-frame 1920x1080 windows in bf16 autocast.
- Timings are wall clock; ``*_median_ms`` per call are given next to the means because the
  development machine is shared (others' load shows as spread: ``*_min_ms`` / ``*_max_ms``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import cv2
import torch

from benchmarks.perf._record import record
from lsvd.flow.base import create_flow
from lsvd.models import PRESETS, PatchDiscriminator, build_selfsvd, count_trainable_parameters
from lsvd.train.config import PRESET_DIR, TrainConfig, load_config
from lsvd.train.step import LossWeights, train_step

T = 5  # frames per window
#: Dense bf16 peak FLOP/s by device name (first match wins; substrings of torch.cuda.get_device_name()).
PEAK_BF16: list[tuple[tuple[str, ...], float]] = [
    (("H200",), 989e12),
    (("H100", "PCIe"), 756e12),
    (("H100", "SXM"), 989e12),
    (("H100", "HBM3"), 989e12),  # the SXM part reports itself as "NVIDIA H100 80GB HBM3"
    (("A100",), 312e12),
]
CPU_FALLBACK = {"crop": 128, "batch_size": 2, "model": "small", "disc_base": 16}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_calls(fn: Callable[[], Any], min_s: float, max_calls: int, device: torch.device, *,
                min_calls: int = 1, warmup: int = 1) -> dict[str, float]:
    """Warm-up, then call ``fn`` until ``min_s`` seconds have passed (>= ``min_calls``, <= ``max_calls``)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_calls or (len(times) < max_calls and time.perf_counter() - start < min_s):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    return {"calls": len(times), "seconds": total, "mean_ms": total / len(times) * 1e3,
            "median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3, "max_ms": max(times) * 1e3}


def _window(h: int, w: int, device: torch.device, batch: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "lqs": torch.rand(batch, T, 3, h, w, generator=g).to(device),
        "ps": torch.rand(batch, 3, h, w, generator=g).to(device),
        "mask": torch.zeros(batch, T, 1, h // 4, w // 4, device=device),
    }


def _r(x: float, nd: int = 2) -> float:
    return float(round(x, nd))


# ---------------------------------------------------------------------------------------------- CPU inference
def bench_inference(preset: str, h: int, w: int, min_s: float, max_calls: int) -> dict[str, Any]:
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    model = build_selfsvd(preset, flow="dis").eval()
    x = _window(h, w, cpu)
    with torch.no_grad():
        call = _time_calls(lambda: model(x["lqs"], x["ps"], x["mask"]), min_s, max_calls, cpu)
        flows = _time_calls(lambda: model.compute_flows(x["lqs"], x["ps"]), min(min_s, 2.0), max_calls, cpu,
                            min_calls=2)
    return {
        "params": count_trainable_parameters(model),
        "fps": _r(T * call["calls"] / call["seconds"], 3),
        "window_mean_ms": _r(call["mean_ms"], 1),
        "window_median_ms": _r(call["median_ms"], 1),
        "window_min_ms": _r(call["min_ms"], 1),
        "window_max_ms": _r(call["max_ms"], 1),
        "calls": call["calls"],
        "flows_median_ms": _r(flows["median_ms"], 1),
        "flow_share": _r(min(1.0, flows["median_ms"] / call["median_ms"]), 3),
    }


# ---------------------------------------------------------------------------------------------- training
def _training_setup(cfg: TrainConfig, device: torch.device, channels_last: bool = False):
    torch.manual_seed(cfg.seed)
    g = build_selfsvd(cfg.model, flow=cfg.flow).to(device).train()
    d = PatchDiscriminator(base=cfg.disc_base).to(device).train()
    if channels_last:
        g.to(memory_format=torch.channels_last)
        d.to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    align = create_flow(cfg.align_flow)
    weights = LossWeights(cfg.w_rec, cfg.w_gan, cfg.w_reg)
    batch = _window(cfg.crop, cfg.crop, device, batch=cfg.batch_size, seed=cfg.seed)
    if channels_last:
        batch["ps"] = batch["ps"].contiguous(memory_format=torch.channels_last)
    return g, d, opt_g, opt_d, align, weights, batch


def _breakdown(batch: dict[str, torch.Tensor], g: torch.nn.Module, d: torch.nn.Module, align: Any,
               min_s: float, max_calls: int, min_calls: int = 2, warmup: int = 1) -> dict[str, float]:
    """Median ms per iteration of the parts of ``train_step``, each timed on its own (roughly)."""
    cpu = torch.device("cpu")
    lqs, ps, mask = batch["lqs"], batch["ps"], batch["mask"]
    n, t, c, h, w = lqs.shape
    targets = ps[:, None].expand(n, t, c, h, w).reshape(n * t, c, h, w)
    with torch.no_grad():
        out = g(lqs, ps, mask)["out"].reshape(n * t, c, h, w)

    def gen_fwd_bwd() -> None:
        g.zero_grad(set_to_none=True)
        r = g(lqs, ps, mask)
        (r["out"].abs().mean() + r["ref_feat"].abs().mean()).backward()

    def d_passes() -> None:
        d.zero_grad(set_to_none=True)
        pred = out.clone().requires_grad_(True)
        d.requires_grad_(False)
        (d(pred) - 1.0).pow(2).mean().backward()  # G step: D frozen, gradient into the prediction
        d.requires_grad_(True)
        real, fake = d(torch.cat([targets, out])).chunk(2)  # D step
        ((real - 1.0).pow(2).mean() + fake.pow(2).mean()).backward()

    parts = {
        "generator_fwd_bwd": gen_fwd_bwd,
        "generator_flows": lambda: g.compute_flows(lqs, ps),
        "discriminator_passes": d_passes,
        "alignment_flow": lambda: align.estimate(out, targets),
    }
    res = {name: _time_calls(fn, min_s, max_calls, cpu, min_calls=min_calls, warmup=warmup)["median_ms"]
           for name, fn in parts.items()}
    g.zero_grad(set_to_none=True)
    d.zero_grad(set_to_none=True)
    return res


def bench_training_cpu(min_iters: int, min_s: float, part_s: float, quick: bool = False) -> dict[str, Any]:
    cpu = torch.device("cpu")
    have_cpu = (PRESET_DIR / "cpu.toml").is_file()
    cfg = load_config("cpu") if have_cpu else load_config("tiny", dict(CPU_FALLBACK))
    g, d, opt_g, opt_d, align, weights, batch = _training_setup(cfg, cpu)
    step = _time_calls(lambda: train_step(batch, g, d, opt_g, opt_d, align, weights), min_s, 10_000, cpu,
                       min_calls=min_iters, warmup=1 if quick else 2)
    it_s = step["calls"] / step["seconds"]
    parts = _breakdown(batch, g, d, align, part_s, 50, *((1, 0) if quick else (2, 1)))
    parts_sum = parts["generator_fwd_bwd"] + parts["discriminator_passes"] + parts["alignment_flow"]
    return {
        "config": ("preset cpu (lsvd/train/presets/cpu.toml)" if have_cpu
                   else f"cpu.toml absent: preset tiny with {CPU_FALLBACK}"),
        "model": cfg.model, "disc_base": cfg.disc_base, "flow": cfg.flow, "align_flow": cfg.align_flow,
        "batch_size": cfg.batch_size, "frames": T, "crop": cfg.crop,
        "generator_params": count_trainable_parameters(g), "discriminator_params": count_trainable_parameters(d),
        "it_per_s": _r(it_s, 3),
        "samples_per_s": _r(it_s * cfg.batch_size, 3),
        "iteration_mean_ms": _r(step["mean_ms"], 1),
        "iteration_median_ms": _r(step["median_ms"], 1),
        "iteration_min_ms": _r(step["min_ms"], 1),
        "iteration_max_ms": _r(step["max_ms"], 1),
        "iterations_timed": step["calls"],
        "breakdown_median_ms": {
            "generator_fwd_bwd_incl_its_flows": _r(parts["generator_fwd_bwd"], 1),
            "of_which_generator_flows": _r(parts["generator_flows"], 1),
            "discriminator_passes": _r(parts["discriminator_passes"], 1),
            "alignment_flow": _r(parts["alignment_flow"], 1),
            "other_losses_warp_optimisers": _r(max(0.0, step["median_ms"] - parts_sum), 1),
        },
        "data_loading": "not included (random batches already in memory)",
    }


# ------------------------------------------------------------------ training: before vs after, one run
def legacy_forward(net: torch.nn.Module, lqs: torch.Tensor, ps: torch.Tensor,
                    mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """``SelfSVDNet.forward`` as it was before 2026-12 (commit 8cf021b): PS-feature warps and the
    reconstruction (x4 pixel-shuffle tail at full resolution) run frame by frame inside the recurrence."""
    from lsvd.flow.base import flow_warp

    mask = net._check_inputs(lqs, ps, mask)
    n, t, c, h, w = lqs.shape
    ref_flows, flows = net.compute_flows(lqs, ps)
    feats = net.feat_extract(lqs.reshape(n * t, c, h, w)).reshape(n, t, -1, h // 4, w // 4)
    ref_feat = net.ref_feat_extract(ps)
    hidden = feats.new_zeros(n, net.mid_channels, h // 4, w // 4)
    outputs = []
    for i in range(t):
        if i > 0:
            hidden = flow_warp(hidden, flows[:, i - 1])
        ref_i = flow_warp(ref_feat, ref_flows[:, i]) * (1.0 - mask[:, i])
        hidden = hidden + net.backbone["forward_1"](torch.cat([feats[:, i], hidden, ref_i], dim=1))
        outputs.append(net._reconstruct(feats[:, i], hidden) + lqs[:, i])
    return {"out": torch.stack(outputs, dim=1), "ref_feat": ref_feat}


def _legacy_train_step(batch: dict[str, torch.Tensor], g: torch.nn.Module, d: torch.nn.Module,
                       opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, align: Any,
                       weights: LossWeights) -> dict[str, float]:
    """``train_step`` before 2026-12: the legacy forward, and the discriminator's real half on all N*T
    copies of the PS targets."""
    from lsvd.train.losses import aligned_l1, feature_l1, lsgan_d, lsgan_g

    lqs, ps, mask = batch["lqs"], batch["ps"], batch["mask"]
    n, t, c, h, w = lqs.shape
    targets = ps[:, None].expand(n, t, c, h, w).reshape(n * t, c, h, w)
    d.requires_grad_(False)
    result = legacy_forward(g, lqs, ps, mask)
    out = result["out"].reshape(n * t, c, h, w)
    loss_rec = aligned_l1(out, targets, align)
    loss_g = weights.rec * loss_rec + weights.gan * lsgan_g(d(out)) + weights.reg * feature_l1(result["ref_feat"])
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    d.requires_grad_(True)
    real, fake = d(torch.cat([targets, out.detach()])).chunk(2)
    loss_d = lsgan_d(real, fake)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    return {"loss_rec": float(loss_rec), "loss_d": float(loss_d)}


def bench_training_paths(iters: int, seed: int = 0, quick: bool = False) -> dict[str, Any]:
    """The ``cpu`` preset's iteration, the code path before 2026-12 vs today's, side by side.

    Both start from the same weights and train on the same ``iters`` random batches (drawn once,
    in memory; data loading excluded), the adversarial term on from the first iteration as in the
    worst case. Timed alternately one iteration each (so load on the machine hits both alike);
    the first two of each are warm-up. Also returns both loss curves and their largest gap.
    """
    cpu = torch.device("cpu")
    cfg = load_config("cpu", {"model": "tiny", "crop": 64} if quick else {})
    before = _training_setup(cfg, cpu)
    after = _training_setup(cfg, cpu, channels_last=cfg.channels_last)
    after[0].load_state_dict(before[0].state_dict())
    after[1].load_state_dict(before[1].state_dict())
    batches = [_window(cfg.crop, cfg.crop, cpu, batch=cfg.batch_size, seed=seed + k) for k in range(iters)]
    times: dict[str, list[float]] = {"before": [], "after": []}
    curves: dict[str, list[float]] = {"before": [], "after": []}
    for batch in batches:
        for name, (g, d, opt_g, opt_d, align, weights, _) in (("before", before), ("after", after)):
            t0 = time.perf_counter()
            if name == "before":
                values = _legacy_train_step(batch, g, d, opt_g, opt_d, align, weights)
            else:  # as lsvd.train feeds it: the PS frames in channels_last when the networks are
                if cfg.channels_last:
                    batch = {**batch, "ps": batch["ps"].contiguous(memory_format=torch.channels_last)}
                values = train_step(batch, g, d, opt_g, opt_d, align, weights)
            times[name].append(time.perf_counter() - t0)
            curves[name].append(round(values["loss_rec"], 6))
    med = {k: statistics.median(v[2:]) for k, v in times.items()}
    gap = max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(curves["before"], curves["after"], strict=True))
    return {
        "config": ("preset cpu with the tiny generator at 64^2 (--quick)" if quick else "preset cpu")
                  + " (lsvd/train/presets/cpu.toml), adversarial term on, random batches in memory",
        "iterations": iters, "channels_last_after": cfg.channels_last,
        "before_it_per_s": _r(1.0 / med["before"], 3), "after_it_per_s": _r(1.0 / med["after"], 3),
        "speedup": _r(med["before"] / med["after"], 2),
        "before_median_ms": _r(1000 * med["before"], 1), "after_median_ms": _r(1000 * med["after"], 1),
        "loss_rec_before": curves["before"], "loss_rec_after": curves["after"],
        "loss_rec_max_relative_gap": float(f"{gap:.3g}"),
    }


# ---------------------------------------------------------------------------------------------- GPU
def peak_bf16(name: str) -> float | None:
    """Dense bf16 peak FLOP/s of a device by name (:data:`PEAK_BF16`), ``None`` when unknown."""
    for keys, peak in PEAK_BF16:
        if all(k.lower() in name.lower() for k in keys):
            return peak
    return None


def _gpu_training(device: torch.device, name: str, preset: str, batch_size: int, crop: int, iters: int,
                  amp_dtype: torch.dtype | None) -> dict[str, Any]:
    from torch.utils.flop_counter import FlopCounterMode

    cuda = device.type == "cuda"
    cfg = load_config("paper", {"model": preset, "batch_size": batch_size, "crop": crop})
    g, d, opt_g, opt_d, align, weights, batch = _training_setup(cfg, device, channels_last=cuda)

    def step() -> None:
        train_step(batch, g, d, opt_g, opt_d, align, weights, amp_dtype=amp_dtype)

    with FlopCounterMode(display=False) as counter:  # also the first warm-up iteration
        step()
    flops = counter.get_total_flops()
    for _ in range(2):
        step()
    _sync(device)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    _sync(device)
    seconds = time.perf_counter() - t0
    it_s = iters / seconds
    peak = peak_bf16(name) if cuda else None
    train: dict[str, Any] = {
        "preset": preset, "batch_size": batch_size, "frames": T, "crop": crop, "iterations": iters,
        "amp": str(amp_dtype).replace("torch.", "") if amp_dtype else "off", "channels_last": cuda,
        "flow": cfg.flow, "align_flow": cfg.align_flow,
        "it_per_s": _r(it_s, 3), "samples_per_s": _r(it_s * batch_size, 3),
        "iteration_ms": _r(seconds / iters * 1e3, 2),
        "peak_memory_gib": _r(torch.cuda.max_memory_allocated(device) / 2**30, 3) if cuda else None,
        "flops_per_iteration": flops,
        "achieved_tflop_s": _r(flops * it_s / 1e12, 2),
        "peak_bf16_tflop_s": _r(peak / 1e12, 1) if peak else None,
        "mfu": _r(flops * it_s / peak, 4) if peak else None,
    }
    if not peak:
        train["mfu_note"] = f"device {name!r} not in the peak table: FLOP/s only"
    return train


def bench_gpu(device: torch.device, *, preset: str = "paper", batch_size: int = 4, crop: int = 256,
              iters: int = 100, infer_hw: tuple[int, int] = (1080, 1920), infer_s: float = 10.0,
              amp_dtype: torch.dtype | None = torch.bfloat16) -> dict[str, Any]:
    """Training it/s, memory, MFU and inference fps on ``device`` (meant for CUDA; runs on CPU for checks)."""
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(device) if cuda else str(device)
    train = _gpu_training(device, name, preset, batch_size, crop, iters, amp_dtype)

    if cuda:
        torch.cuda.empty_cache()
    h, w = infer_hw
    torch.manual_seed(0)
    model = build_selfsvd(preset, flow="dis").to(device).eval()
    if cuda:
        model.to(memory_format=torch.channels_last)
        torch.cuda.reset_peak_memory_stats(device)
    x = _window(h, w, device)
    if cuda:
        x["ps"] = x["ps"].contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None)
    with torch.no_grad(), autocast:
        call = _time_calls(lambda: model(x["lqs"], x["ps"], x["mask"]), infer_s, 1000, device, warmup=2)
        flows = _time_calls(lambda: model.compute_flows(x["lqs"], x["ps"]), min(infer_s, 3.0), 1000, device,
                            min_calls=2)
    infer = {
        "preset": preset, "size": f"{w}x{h}", "frames_per_window": T,
        "amp": str(amp_dtype).replace("torch.", "") if amp_dtype else "off",
        "fps": _r(T * call["calls"] / call["seconds"], 3),
        "window_median_ms": _r(call["median_ms"], 1), "calls": call["calls"],
        "flows_median_ms": _r(flows["median_ms"], 1),
        "flow_share": _r(min(1.0, flows["median_ms"] / call["median_ms"]), 3),
        "flow_note": "DIS runs on the CPU (OpenCV); its share includes the device<->host copies",
        "peak_memory_gib": _r(torch.cuda.max_memory_allocated(device) / 2**30, 3) if cuda else None,
    }
    return {"device": name, "cuda": torch.version.cuda, "training": train, "inference": infer}


# ---------------------------------------------------------------------------------------------- main
def _sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        h, w = (int(v) for v in item.lower().split("x"))
        if h % 4 or w % 4:
            raise SystemExit(f"--sizes: {item} is not a multiple of 4")
        out.append((h, w))
    return out


def _print_table(figures: dict[str, Any]) -> None:
    print(f"\nCPU inference (threads {figures['threads']['torch']}, 5-frame windows, DIS flows)")
    print(f"{'preset':<7} {'HxW':>8} {'fps':>9} {'median ms':>10} {'min..max ms':>17} {'calls':>5} {'flow %':>7}")
    for preset, by_size in figures["inference_cpu"].items():
        for size, f in by_size.items():
            spread = f"{f['window_min_ms']:.0f}..{f['window_max_ms']:.0f}"
            print(f"{preset:<7} {size:>8} {f['fps']:>9.3f} {f['window_median_ms']:>10.1f} {spread:>17} "
                  f"{f['calls']:>5} {100 * f['flow_share']:>6.1f}%")
    tr = figures["training_cpu"]
    print(f"\nCPU training ({tr['config']}; {tr['model']} G, D base {tr['disc_base']}, "
          f"batch {tr['batch_size']}x{tr['frames']}x{tr['crop']}^2)")
    print(f"  {tr['it_per_s']:.3f} it/s, {tr['samples_per_s']:.3f} samples/s, "
          f"median {tr['iteration_median_ms']:.0f} ms "
          f"({tr['iterations_timed']} iterations; data loading not included)")
    for k, v in tr["breakdown_median_ms"].items():
        print(f"    {k:<36} {v:>9.1f} ms")
    gpu = figures["gpu"]
    if isinstance(gpu, str):
        print(f"\nGPU: {gpu}")
    else:
        t, i = gpu["training"], gpu["inference"]
        print(f"\nGPU {gpu['device']}: training {t['it_per_s']:.2f} it/s, peak {t['peak_memory_gib']} GiB, "
              f"{t['achieved_tflop_s']} TFLOP/s, MFU {t['mfu']}; inference {i['size']} {i['fps']:.2f} fps "
              f"(flow share {i['flow_share']})")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, 256x256 only (a smoke check)")
    ap.add_argument("--presets", default=",".join(PRESETS), help="generator presets for CPU inference")
    ap.add_argument("--sizes", default="256x256,480x640", help="HxW sizes for CPU inference")
    ap.add_argument("--min-s", type=float, default=None, help="seconds per inference measurement (5; quick 0.3)")
    ap.add_argument("--max-calls", type=int, default=50, help="at most this many timed calls per measurement")
    ap.add_argument("--train-iters", type=int, default=None, help="at least this many timed iterations (10; quick 2)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads for the run (default: torch's default; restored at the end)")
    ap.add_argument("--note", default="", help="a sentence appended to the recorded notes (e.g. the machine's load)")
    ap.add_argument("--no-record", action="store_true", help="print only, do not write results/models.json")
    args = ap.parse_args(argv)
    default_threads = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(default_threads)


def _run(args: argparse.Namespace) -> dict[str, Any]:

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    for p in presets:
        if p not in PRESETS:
            raise SystemExit(f"--presets: unknown preset {p!r} (expected {', '.join(PRESETS)})")
    sizes = [(256, 256)] if args.quick else _sizes(args.sizes)
    min_s = args.min_s if args.min_s is not None else (0.3 if args.quick else 5.0)
    train_iters = args.train_iters if args.train_iters is not None else (1 if args.quick else 10)

    figures: dict[str, Any] = {
        "threads": {"torch": torch.get_num_threads(), "requested_with_--threads": args.threads,
                    "torch_interop": torch.get_num_interop_threads(),
                    "opencv": cv2.getNumThreads()},
        "quick": args.quick,
        "inputs": "uniform random in [0, 1] (seed 0), zero masks; fps = 5 x calls / seconds after 1 warm-up call",
        "inference_cpu": {},
    }
    for preset in presets:
        figures["inference_cpu"][preset] = {}
        for h, w in sizes:
            f = bench_inference(preset, h, w, min_s, args.max_calls)
            figures["inference_cpu"][preset][f"{h}x{w}"] = f
            print(preset, f"{h}x{w}", f, flush=True)
    figures["training_cpu"] = bench_training_cpu(train_iters, 1.0 if args.quick else 10.0,
                                                 0.2 if args.quick else 3.0, quick=args.quick)
    print("training_cpu", figures["training_cpu"], flush=True)
    figures["training_cpu_before_after"] = bench_training_paths(4 if args.quick else 30, quick=args.quick)
    print("training_cpu_before_after", {k: v for k, v in figures["training_cpu_before_after"].items()
                                        if not k.startswith("loss_rec_")}, flush=True)
    if torch.cuda.is_available():
        figures["gpu"] = bench_gpu(torch.device("cuda"), iters=10 if args.quick else 100,
                                   infer_s=2.0 if args.quick else 10.0)
    else:
        figures["gpu"] = "no CUDA device on this machine; no GPU figure measured"
    _print_table(figures)

    spread = [f["window_max_ms"] / f["window_min_ms"] for by in figures["inference_cpu"].values()
              for f in by.values() if f["calls"] > 1]
    notes = (
        "see the module docstring for method; plain model calls (desmoke_clip adds only the windowing); "
        "training breakdown parts are timed separately (medians), so they need not add up to an iteration; "
        "data loading not included"
    )
    if not figures["training_cpu"]["config"].startswith("preset cpu"):
        notes += "; lsvd/train/presets/cpu.toml was absent: CPU training used the tiny preset with " + str(CPU_FALLBACK)
    if spread and max(spread) > 1.3:
        notes += (f"; shared machine: per-call times varied up to {max(spread):.2f}x (max/min) within one "
                  "measurement, so treat the figures as +-noise")
    if args.threads is not None:
        notes += f"; torch threads set to {args.threads} with --threads"
    if args.note:
        notes += "; " + args.note
    if not args.no_record:
        print(record("models", figures, notes=notes))
    return figures


if __name__ == "__main__":
    main()
