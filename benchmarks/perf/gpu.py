"""The GPU path measured: SelfSVD inference, training, correctness and a whole video on one device.

Run: ``python -m benchmarks.perf.gpu [--quick] [--out PATH] [--device auto|cuda|cpu] [--budget-s S] [--threads N]``;
writes ``benchmarks/perf/results/gpu.json`` (device name, torch / CUDA / cuDNN versions, machine,
commit, command and every figure). Meant for one CUDA GPU, where the full run takes under 8 minutes
(``--budget-s``, default 360: a measurement that would start after it is skipped, with that reason;
the compiled inference runs last, since one compilation can take a minute or more).
``--quick`` runs every section with the ``tiny`` generator at 64x96 in about 20 s, on the CPU
when there is no GPU, so the script cannot rot; no targets, figures only.

Sections of ``figures`` (a figure that cannot be measured is ``null`` and named in the record's
``null_reasons``; a measurement not run at all is ``{"skipped": reason}``):

- *inference*: the ``paper`` preset through :func:`lsvd.inference.desmoke_clip` (official test
  windows: a 15-frame clip is 3 windows of 5) at 1080p and 720p, uniform random frames (seed 0),
  zero masks, flows included (``dis``; ``pwcnet`` when its weights are found, else skipped with
  the loader's message). Variants: fp32 / bf16 autocast (``desmoke_clip(dtype=bf16)``; CUDA only,
  on the CPU the bf16 rows run in fp32 and say so), channels_last off / on, and ``torch.compile``
  of the encoders, propagation and reconstruction blocks (``nn.Module.compile``, static shapes; the
  flows are not compiled, DIS is OpenCV; the warm-up calls, compile included, are ``warmup_s``; a
  failure is recorded as skipped; run last, as compiling may take minutes). One warm-up call (two
  when compiled), then ``reps`` calls between ``torch.cuda.synchronize()``: frames/s from wall
  time, the time per call between two CUDA events recorded around the timed calls (it includes the
  stream's idle time while the CPU runs DIS), peak memory (``max_memory_allocated`` after
  ``reset_peak_memory_stats``).
- *training*: ``train_step`` of the ``paper`` training preset, batch 4 x 5 frames x 256^2, bf16
  autocast, channels_last (:func:`benchmarks.perf.models._gpu_training`): it/s, peak memory,
  FLOPs of one step (``torch.utils.flop_counter.FlopCounterMode``; the DIS flows run on the CPU and
  count none), achieved TFLOP/s and model FLOP utilisation against the device's dense bf16 peak
  (:data:`benchmarks.perf.models.PEAK_BF16`; unknown device: ``null`` with the reason).
- *correctness*: one fixed-seed random network (``zero_conv`` drawn from N(0, 0.1) so the output
  differs from the input) on a real clip (``desmoke-lap/Input/input_10.avi`` under
  ``$LSVD_SHARED_DATA``, default ``../shared/data``; first 11 frames, else a synthetic clip;
  recorded): bf16 vs fp32 outputs (PSNR, max / mean abs
  difference; on the CPU bf16 comes from ``torch.autocast("cpu")`` around ``desmoke_clip``), CPU vs
  CUDA fp32 outputs of the same weights (TF32 settings recorded), and the masks of
  :func:`lsvd.masks.core.mask_for_pair` on 3 frame pairs: DIS flows run on the CPU whatever the
  device, so for DIS two runs are compared (determinism); PWC-Net on CPU vs CUDA when its weights
  are found.
- *desmoke_video*: a synthetic 1080p H.264 video (:func:`lsvd.io.video.write_video`; 31 frames)
  through :func:`lsvd.desmoke.desmoke` (PS frame 0, official mask, untrained ``paper`` network:
  speed only), twice; the second run is reported: frames/s and the time and share of each stage
  from hooks around the stages (they synchronise CUDA at each stage boundary): decode
  (``_read_input``), model build, masks (flows included), the network's own flows
  (``compute_flows``), the network, encode (``write_video``), other (conversions, writing checks).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.perf._record import RESULTS_DIR
from benchmarks.perf.models import _gpu_training, peak_bf16
from lsvd.io.atomic import write_json
from lsvd.models import build_selfsvd
from lsvd.provenance import git_commit, machine, versions

NAME = "gpu"
NO_CUDA = "no CUDA device"
ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LSVD_SHARED_DATA") or ROOT.parent / "shared" / "data")
REAL_CLIP = SHARED / "desmoke-lap" / "Input" / "input_10.avi"
#: (name, bf16 autocast, channels_last, torch.compile); the pwcnet flow runs the ones in PWC_VARIANTS.
VARIANTS: list[tuple[str, bool, bool, bool]] = [
    ("fp32", False, False, False),
    ("fp32_channels_last", False, True, False),
    ("bf16", True, False, False),
    ("bf16_channels_last", True, True, False),
    ("bf16_channels_last_compiled", True, True, True),
]
PWC_VARIANTS = ("fp32", "bf16_channels_last")


class _Budget:
    """Seconds left to the whole run; a measurement starting after the deadline is skipped."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.perf_counter() + seconds

    def spent(self) -> dict[str, str] | None:
        if time.perf_counter() > self.deadline:
            return {"skipped": f"time budget of {self.seconds:.0f} s (--budget-s) spent before this measurement"}
        return None


def _r(x: float, nd: int = 3) -> float:
    return float(round(x, nd))


def _null(rec: dict[str, Any], key: str, reason: str) -> None:
    rec[key] = None
    rec.setdefault("null_reasons", {})[key] = reason


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _dtype_name(bf16: bool) -> str:
    return "bf16" if bf16 else "fp32"


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"


# ---------------------------------------------------------------------------------------------- inputs
def _random_clip(t: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``lqs (t, 3, h, w)``, ``ps (3, h, w)`` uniform in [0, 1] and a zero mask ``(t, 1, h/4, w/4)``."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(t, 3, h, w, generator=g), torch.rand(3, h, w, generator=g), torch.zeros(t, 1, h // 4, w // 4)


def _synthetic_frames(n: int, h: int, w: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` smooth uint8 RGB frames ``(h, w, 3)``: a gradient, a moving disc and a growing haze."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w, yy / h, 0.5 + 0.25 * np.sin(xx / max(w, 1) * 6.0)], axis=-1)
    base = base + rng.normal(0.0, 0.02, (h, w, 3)).astype(np.float32)
    frames = []
    for k in range(n):
        cx, cy, rad = w * (0.3 + 0.4 * k / max(n, 1)), h * 0.5, 0.15 * min(h, w)
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2 < rad**2)[..., None].astype(np.float32)
        haze = 0.6 * k / max(n - 1, 1)
        img = (base * (1 - 0.5 * disc) + 0.5 * disc) * (1 - haze) + haze * 0.9
        frames.append((np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8))
    return frames


def _real_or_synthetic(n: int) -> tuple[list[np.ndarray], str]:
    """``n`` uint8 RGB frames of the real laparoscopic clip when present, else synthetic ones; and which."""
    if REAL_CLIP.is_file():
        try:
            from lsvd.io.video import iter_frames

            frames = []
            for f in iter_frames(REAL_CLIP):
                frames.append(f.rgb)
                if len(frames) == n:
                    break
            if len(frames) == n:
                h, w = (s // 4 * 4 for s in frames[0].shape[:2])
                return [np.ascontiguousarray(f[:h, :w]) for f in frames], f"{REAL_CLIP.name}, first {n} frames, {h}x{w}"
        except Exception as exc:  # PyAV raises several types; fall back and say why
            return _synthetic_frames(n, 256, 256), f"synthetic 256x256 ({REAL_CLIP} unreadable: {_first_line(exc)})"
    return _synthetic_frames(n, 256, 256), f"synthetic 256x256 ({REAL_CLIP} absent)"


def _crop(frames: list[np.ndarray], h: int, w: int) -> list[np.ndarray]:
    fh, fw = frames[0].shape[:2]
    h, w = min(h, fh // 4 * 4), min(w, fw // 4 * 4)
    top, left = (fh - h) // 2, (fw - w) // 2
    return [np.ascontiguousarray(f[top:top + h, left:left + w]) for f in frames]


def _pwcnet(device: torch.device) -> tuple[Any, str | None]:
    """The PWC-Net flow on ``device``, or ``None`` and why not (weights missing, unreadable)."""
    from lsvd.flow.base import create_flow

    try:
        return create_flow("pwcnet", device=device), None
    except Exception as exc:  # missing weights (FileNotFoundError) or an unusable file
        return None, f"pwcnet flow unavailable: {_first_line(exc)}"


# ---------------------------------------------------------------------------------------------- inference
def _compile_blocks(model: nn.Module, backend: str) -> None:
    """``nn.Module.compile`` (in place, state-dict keys unchanged) on the convolutional stacks, not the flows.

    Static shapes; Dynamo's caches are cleared first, since the stacks share their ``forward`` code and each
    (module, shape) pair is one specialisation, which would exhaust its recompile limit across sizes.
    """
    torch._dynamo.reset()
    for name in ("feat_extract", "ref_feat_extract", "reconstruction"):
        mod = getattr(model, name, None)
        if mod is not None:
            mod.compile(backend=backend, dynamic=False)
    for mod in model.backbone.values():
        mod.compile(backend=backend, dynamic=False)


def _time_desmoke(model: nn.Module, clip: tuple[torch.Tensor, ...], device: torch.device, bf16: bool,
                  reps: int, warmup: int = 1) -> dict[str, Any]:
    """``warmup`` untimed ``desmoke_clip`` calls, then ``reps`` timed ones (wall + CUDA events, peak memory)."""
    from lsvd.inference import desmoke_clip

    lqs, ps, mask = clip
    cuda = device.type == "cuda"

    def call() -> None:
        desmoke_clip(model, lqs, ps, mask, device=device, dtype=torch.bfloat16 if bf16 else None)

    t0 = time.perf_counter()
    for _ in range(warmup):
        call()
    _sync(device)
    warmup_s = time.perf_counter() - t0
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        _sync(device)
        times.append(time.perf_counter() - t0)
    t = lqs.shape[0]
    rec: dict[str, Any] = {
        "frames_per_call": t, "calls": reps, "warmup_calls": warmup, "warmup_s": _r(warmup_s, 2),
        "fps": _r(t * reps / sum(times)), "clip_median_ms": _r(statistics.median(times) * 1e3, 1),
    }
    if cuda:
        end.record()
        end.synchronize()
        rec["cuda_event_ms_per_call"] = _r(start.elapsed_time(end) / reps, 1)
        rec["peak_memory_gib"] = _r(torch.cuda.max_memory_allocated(device) / 2**30)
    else:
        _null(rec, "cuda_event_ms_per_call", NO_CUDA)
        _null(rec, "peak_memory_gib", NO_CUDA)
    return rec


def _inference_variant(preset: str, flow: Any, size: tuple[int, int], t: int, variant: tuple[str, bool, bool, bool],
                       device: torch.device, reps: int, compile_backend: str) -> dict[str, Any]:
    name, bf16, channels_last, compiled = variant
    torch.manual_seed(0)
    model = build_selfsvd(preset, flow=flow).eval().to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    rec: dict[str, Any] = {"dtype": _dtype_name(bf16), "channels_last": channels_last, "compiled": compiled}
    if compiled:
        rec["compile"] = f"nn.Module.compile(backend={compile_backend!r}) on the encoders, backbone, reconstruction"
        try:
            _compile_blocks(model, compile_backend)
        except Exception as exc:
            return {**rec, "skipped": f"torch.compile failed: {_first_line(exc)}"}
    if bf16 and device.type != "cuda":
        rec["note"] = "desmoke_clip applies bf16 autocast on CUDA only: this row ran in fp32"
    try:
        rec.update(_time_desmoke(model, _random_clip(t, *size), device, bf16, reps, warmup=2 if compiled else 1))
    except Exception as exc:
        if not compiled:
            raise
        return {**rec, "skipped": f"torch.compile failed at the first call: {_first_line(exc)}"}
    return rec


def bench_inference(preset: str, sizes: list[tuple[int, int]], t: int, device: torch.device, reps: int,
                    budget: _Budget, *, compiled: bool, compile_backend: str) -> dict[str, Any]:
    """``{flow: {HxW: {variant: record}}}`` for the variants with ``compiled`` as given."""
    out: dict[str, Any] = {}
    pwc, why = _pwcnet(device)
    for flow_name, flow in (("dis", "dis"), ("pwcnet", pwc)):
        out[flow_name] = {}
        for h, w in sizes:
            key = f"{h}x{w}"
            by: dict[str, Any] = {}
            for variant in VARIANTS:
                if variant[3] != compiled or (flow_name == "pwcnet" and variant[0] not in PWC_VARIANTS):
                    continue
                if flow is None:
                    by[variant[0]] = {"skipped": why}
                    continue
                by[variant[0]] = budget.spent() or _inference_variant(preset, flow, (h, w), t, variant, device, reps,
                                                                    compile_backend)
                print("inference", flow_name, key, variant[0], by[variant[0]], flush=True)
            if by:
                out[flow_name][key] = by
        if not out[flow_name]:
            del out[flow_name]
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return out


# ---------------------------------------------------------------------------------------------- training
def bench_training(preset: str, batch_size: int, crop: int, iters: int, device: torch.device,
                   budget: _Budget) -> dict[str, Any]:
    if (skipped := budget.spent()) is not None:
        return skipped
    cuda = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if cuda else str(device)
    rec = _gpu_training(device, name, preset, batch_size, crop, iters, torch.bfloat16 if cuda else None)
    rec["flops_method"] = ("FlopCounterMode over one train_step (generator fwd+bwd, discriminator passes; the DIS "
                           "flows run on the CPU and count no FLOPs); MFU = FLOPs x it/s / dense bf16 peak")
    rec.pop("mfu_note", None)
    if not cuda:
        rec["amp_note"] = "bf16 autocast is used on CUDA only; this CPU run is fp32"
        for key in ("peak_memory_gib", "peak_bf16_tflop_s", "mfu"):
            _null(rec, key, NO_CUDA)
    elif rec["mfu"] is None:
        reason = f"device {name!r} not in the peak table (benchmarks.perf.models.PEAK_BF16): FLOP/s only"
        for key in ("peak_bf16_tflop_s", "mfu"):
            _null(rec, key, reason)
    return rec


# ---------------------------------------------------------------------------------------------- correctness
def _fixed_model(preset: str, flow: Any, seed: int = 0) -> nn.Module:
    """A fixed-seed random network whose last convolution is not zero (so the output is not the input)."""
    torch.manual_seed(seed)
    model = build_selfsvd(preset, flow=flow).eval()
    with torch.no_grad():
        model.zero_conv.weight.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(seed))
    return model


def _compare(a: torch.Tensor, b: torch.Tensor) -> dict[str, Any]:
    """PSNR (dB, peak 1) and max / mean absolute difference of two ``(T, 3, H, W)`` outputs in [0, 1]."""
    diff = (a.double() - b.double()).abs()
    mse = float(diff.pow(2).mean())
    rec: dict[str, Any] = {"max_abs_diff": float(f"{float(diff.max()):.4g}"),
                           "mean_abs_diff": float(f"{float(diff.mean()):.4g}")}
    if mse == 0.0:
        _null(rec, "psnr_db", "outputs identical (MSE 0): PSNR infinite")
    else:
        rec["psnr_db"] = _r(10.0 * math.log10(1.0 / mse), 2)
    return rec


def _masks(frames: list[np.ndarray], pairs: list[tuple[int, int]], flow: Any) -> list[np.ndarray]:
    from lsvd.masks.core import MaskParams, mask_for_pair
    from lsvd.masks.pipeline import numpy_flow

    fn = numpy_flow(flow)
    return [mask_for_pair(frames[a], frames[b], fn, MaskParams())[0] for a, b in pairs]


def _mask_agreement(first: list[np.ndarray], second: list[np.ndarray]) -> dict[str, Any]:
    same = [bool(np.array_equal(a, b)) for a, b in zip(first, second, strict=True)]
    agree = float(np.mean([np.mean(a == b) for a, b in zip(first, second, strict=True)]))
    return {"pairs": len(same), "identical_pairs": sum(same), "all_identical": all(same),
            "pixel_agreement": _r(agree, 6), "mask_ones_fraction": _r(float(np.mean([m.mean() for m in first])), 4)}


def bench_correctness(preset: str, crop: tuple[int, int], device: torch.device, budget: _Budget) -> dict[str, Any]:
    from lsvd.flow.base import create_flow
    from lsvd.inference import desmoke_clip
    from lsvd.io.pixels import to_tensor

    if (skipped := budget.spent()) is not None:
        return skipped
    cuda = device.type == "cuda"
    frames, source = _real_or_synthetic(11)
    model_frames = _crop(frames, *crop)
    lqs, ps = to_tensor(np.stack(model_frames[1:])), to_tensor(model_frames[0])
    h, w = ps.shape[-2:]
    out: dict[str, Any] = {
        "clip": source, "model_input": f"{len(model_frames) - 1} frames + PS frame 0, {h}x{w} (centre crop), "
                                      f"no mask; preset {preset}, flow dis",
        "weights": "random, torch.manual_seed(0), zero_conv.weight ~ N(0, 0.1) (not zero)",
        "tf32": {"cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                 "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32},
    }
    model = _fixed_model(preset, "dis")
    fp32 = desmoke_clip(model, lqs, ps, device=device)
    if cuda:
        bf16 = desmoke_clip(model, lqs, ps, device=device, dtype=torch.bfloat16)
        how = "desmoke_clip(dtype=torch.bfloat16) on CUDA vs fp32"
    else:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = desmoke_clip(model, lqs, ps, device=device)
        how = "no CUDA device: torch.autocast('cpu', bfloat16) around desmoke_clip vs fp32, on the CPU"
    out["bf16_vs_fp32"] = {"how": how, **_compare(bf16, fp32)}

    if cuda:
        cpu_out = desmoke_clip(model, lqs, ps, device="cpu")
        out["cpu_vs_cuda_fp32"] = {"how": "same weights and inputs, fp32, DIS flows on the CPU in both",
                                   **_compare(fp32, cpu_out)}
    else:
        out["cpu_vs_cuda_fp32"] = {"how": "needs a CUDA device"}
        for key in ("max_abs_diff", "mean_abs_diff", "psnr_db"):
            _null(out["cpu_vs_cuda_fp32"], key, NO_CUDA)

    pairs = [(0, 4), (0, 7), (4, 9)]
    dis = create_flow("dis")
    out["masks_dis"] = {
        "compared": "lsvd.masks.core.mask_for_pair with DIS flows, run twice: DIS is OpenCV and runs on the CPU "
                    "whatever the device, so there is no GPU flow to compare; this checks determinism",
        "frame_pairs": [list(p) for p in pairs], "frames": f"{frames[0].shape[0]}x{frames[0].shape[1]}",
        **_mask_agreement(_masks(frames, pairs, dis), _masks(frames, pairs, dis)),
    }
    pwc_cpu, why = _pwcnet(torch.device("cpu"))
    if pwc_cpu is None:
        out["masks_pwcnet_cpu_vs_cuda"] = {"skipped": why}
    elif not cuda:
        out["masks_pwcnet_cpu_vs_cuda"] = {"skipped": NO_CUDA}
    else:
        pwc_cuda, _ = _pwcnet(device)
        out["masks_pwcnet_cpu_vs_cuda"] = {
            "compared": "lsvd.masks.core.mask_for_pair with PWC-Net flows computed on the CPU vs on CUDA (fp32)",
            "frame_pairs": [list(p) for p in pairs],
            **_mask_agreement(_masks(frames, pairs, pwc_cpu), _masks(frames, pairs, pwc_cuda)),
        }
    return out


# ---------------------------------------------------------------------------------------------- desmoke video
@contextlib.contextmanager
def _stage_timers(device: torch.device) -> Iterator[dict[str, float]]:
    """Time the stages of :func:`lsvd.desmoke.desmoke` by wrapping the functions it calls (restored after)."""
    import lsvd.desmoke as ds
    import lsvd.inference as inf
    import lsvd.io.video as video
    from lsvd.models.selfsvd import SelfSVDNet

    totals = {"decode": 0.0, "model_build": 0.0, "masks": 0.0, "model_total": 0.0, "model_flows": 0.0,
              "encode": 0.0}
    targets = [(ds, "_read_input", "decode"), (ds, "_load_model", "model_build"), (ds, "_masks", "masks"),
               (inf, "desmoke_clip", "model_total"), (SelfSVDNet, "compute_flows", "model_flows"),
               (video, "write_video", "encode")]

    def timed(fn: Callable[..., Any], stage: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _sync(device)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                _sync(device)
                totals[stage] += time.perf_counter() - t0
        return wrapper

    saved = [(owner, attr, owner.__dict__[attr]) for owner, attr, _ in targets]
    try:
        for owner, attr, stage in targets:
            setattr(owner, attr, timed(getattr(owner, attr), stage))
        yield totals
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


def bench_desmoke_video(preset: str, size: tuple[int, int], n_frames: int, device: torch.device,
                        budget: _Budget) -> dict[str, Any]:
    from lsvd.desmoke import desmoke
    from lsvd.io.video import write_video

    if (skipped := budget.spent()) is not None:
        return skipped
    h, w = size
    cuda = device.type == "cuda"
    with tempfile.TemporaryDirectory(prefix="lsvd-perf-gpu-") as tmp:
        src, dst = Path(tmp) / "smoky.mp4", Path(tmp) / "desmoked.mp4"
        write_video(src, _synthetic_frames(n_frames, h, w), fps=25.0)
        runs = []
        for _ in range(2):  # the first run is the warm-up (cuDNN autotuning, allocator)
            with _stage_timers(device) as stages:
                t0 = time.perf_counter()
                summary = desmoke(str(src), str(dst), preset=preset, flow="dis", ps_frame=0, mask="official",
                                  device=device.type, bf16=cuda)
                total = time.perf_counter() - t0
            runs.append((total, dict(stages), summary))
    total, stages, summary = runs[-1]
    ms = {
        "decode": stages["decode"], "model_build": stages["model_build"],
        "flows_masks": stages["masks"] + stages["model_flows"], "of_which_masks": stages["masks"],
        "of_which_network_flows": stages["model_flows"],
        "model_network": stages["model_total"] - stages["model_flows"], "encode": stages["encode"],
    }
    parts = ("decode", "model_build", "flows_masks", "model_network", "encode")
    ms["other"] = max(0.0, total - sum(ms[k] for k in parts))
    return {
        "video": f"synthetic H.264 {w}x{h}, {n_frames} frames (PS frame 0 + {n_frames - 1} output frames)",
        "preset": preset, "flow": "dis", "mask": summary["mask"], "device": summary["device"],
        "dtype": "bf16" if cuda else "fp32", "weights": "untrained (speed only; the output equals the input)",
        "frames_out": summary["frames"], "seconds": _r(total, 3), "fps": _r(summary["frames"] / total),
        "first_run_seconds": _r(runs[0][0], 3),
        "stage_seconds": {k: _r(v, 4) for k, v in ms.items()},
        "stage_share": {k: _r(ms[k] / total, 4) for k in (*parts, "other")},
    }


# ---------------------------------------------------------------------------------------------- main
def _device_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"type": device.type, "torch": torch.__version__, "cuda": torch.version.cuda,
                            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = peak_bf16(name)
        info.update(name=name, capability=".".join(map(str, torch.cuda.get_device_capability(device))),
                    memory_gib=_r(torch.cuda.get_device_properties(device).total_memory / 2**30, 1),
                    peak_bf16_tflop_s=_r(peak / 1e12, 1) if peak else None)
        if peak is None:
            _null(info, "peak_bf16_tflop_s", f"device {name!r} not in benchmarks.perf.models.PEAK_BF16")
    else:
        info["name"] = f"cpu ({machine()['cpu']})"
        info["note"] = NO_CUDA + ": GPU-only figures (CUDA events, peak memory, MFU) are null"
    return info


def _resolve(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available; use --device cpu or auto")
    return torch.device(device)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny preset at 64x96, 2 iterations (a smoke check; CPU ok)")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR / f"{NAME}.json", help="where to write the JSON")
    ap.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cuda, cuda:N or cpu")
    ap.add_argument("--budget-s", type=float, default=None, help="skip measurements starting later (360; quick 300)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads for the run (default: torch's default; restored at the end)")
    ap.add_argument("--note", default="", help="a sentence appended to the recorded notes")
    args = ap.parse_args(argv)
    default_threads = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        return _run(args, argv)
    finally:
        torch.set_num_threads(default_threads)


def _run(args: argparse.Namespace, argv: list[str] | None) -> dict[str, Any]:
    device = _resolve(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    budget = _Budget(args.budget_s if args.budget_s is not None else (300.0 if args.quick else 360.0))
    q = args.quick
    preset = "tiny" if q else "paper"
    sizes = [(64, 96)] if q else [(1080, 1920), (720, 1280)]
    clip_t, reps = (5, 2) if q else (15, 3)
    compile_backend = "eager" if q and not cuda else "inductor"
    t_start = time.perf_counter()

    figures: dict[str, Any] = {"quick": q, "preset": preset, "torch_threads": torch.get_num_threads()}
    figures["inference"] = bench_inference(preset, sizes, clip_t, device, reps, budget, compiled=False,
                                           compile_backend=compile_backend)
    figures["training"] = bench_training(preset, 1 if q else 4, 64 if q else 256, 2 if q else 30, device, budget)
    print("training", figures["training"], flush=True)
    figures["correctness"] = bench_correctness(preset, (64, 96) if q else (256, 256), device, budget)
    print("correctness", figures["correctness"], flush=True)
    figures["desmoke_video"] = bench_desmoke_video(preset, (64, 96) if q else (1080, 1920), 11 if q else 31, device,
                                                   budget)
    print("desmoke_video", figures["desmoke_video"], flush=True)
    compiled = bench_inference(preset, sizes, clip_t, device, reps, budget, compiled=True,
                               compile_backend=compile_backend)  # last: compilation may take minutes
    for flow, by_size in compiled.items():
        for size, by_variant in by_size.items():
            figures["inference"].setdefault(flow, {}).setdefault(size, {}).update(by_variant)
    figures["inference_setup"] = (
        f"desmoke_clip, official windows, {clip_t}-frame clips of uniform random frames (seed 0), zero masks; "
        f"1 warm-up call (2 when compiled) then {reps} timed calls; compile backend {compile_backend!r}"
        + (" (quick on CPU: the eager backend exercises the code path without inductor)" if compile_backend == "eager"
           else ""))
    figures["total_seconds"] = _r(time.perf_counter() - t_start, 1)

    notes = "see the module docstring of benchmarks/perf/gpu.py for method"
    if not cuda:
        notes += "; " + NO_CUDA + ": measured on the CPU, GPU-only figures null"
    if q:
        notes += "; --quick: tiny preset, 64x96, a smoke check, not the paper figures"
    if args.note:
        notes += "; " + args.note
    write_json(args.out, {
        "name": NAME,
        "command": " ".join([Path(sys.executable).name, *(sys.argv if argv is None else ["-m", __name__, *argv])]),
        "recorded_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "device": _device_info(device),
        "machine": machine(),
        "versions": versions(),
        "git_commit": git_commit(),
        "figures": figures,
        "notes": notes,
    })
    print(args.out, flush=True)
    return figures


if __name__ == "__main__":
    main()
