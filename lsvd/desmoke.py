"""Desmoke one clip with a SelfSVD generator: ``python -m lsvd.desmoke INPUT -o OUTPUT``.

INPUT is one of

* a video file (``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ...);
* a folder of integer-named frames (``00000000.png``, ``1.jpg``, ...; sorted by number; other
  files are ignored);
* ``ROOT::CLIP_ID``: a clip of a prepared dataset root (``python -m lsvd.prepare``), e.g.
  ``~/lsvd-data::synth_test_000``.

The PS frame (the smoke-free reference the network sees, spec §6) is ``--ps-frame N`` (a frame
index of the input), ``--ps-frame auto`` (the PS frame of the first clip that ``python -m lsvd.prepare
--videos`` would cut from the input with its default options, by the same function,
:func:`lsvd.data.videos.detect_ps_frame`: frame 0 for inputs of at most 100 frames, else the frame
before the first detected smoke event; frame 0 when there is none; a video is scored exactly as
prepare scores it, a frame folder or prepared clip from its frames), else the clip's
``ps_frame_index`` for a prepared clip, else frame 0. The clip
starts at the PS frame: frames before it are dropped (a note is logged), and, as in the official
test code, the PS frame itself is not output. So ``T`` input frames and PS frame ``p`` give
``T - p - 1`` output frames.

OUTPUT ending in ``.mp4``/``.mkv`` is an H.264 video (fps from the input, ``--fps``, else 25);
anything else is a folder of PNGs named after the input frames (``<stem>.png`` for a frame folder,
``<frame_number:08d>.png`` for a video or a prepared clip), written atomically.

Masks (``--mask``): ``official`` = the mask of clip frame 9 against clip frame 4 (counted from the
PS frame), used for every frame (spec §2.3; needs >= 10 frames, else ``none`` with a warning);
``ps`` = each frame's own mask against the PS frame; ``none`` = all zeros (PS features kept).

Weights (``--checkpoint``): a training run directory, checkpoint folder or ``generator.safetensors``
written by ``python -m lsvd.train`` (network size and flow read from it), an official mmcv SelfSVD
checkpoint (``generator.*`` keys; with ``--flow pwcnet`` the PWC-Net weights come from it too), or
a ``.safetensors`` file holding a plain :class:`~lsvd.models.SelfSVDNet` state dict (give ``--model``),
or what a benchmark scored: ``RESULTS/runs/<method>`` (its ``checkpoint.json``), or just the method's name
for a benchmark written to ``./results`` (``--checkpoint selfsvd`` after the README's main command).
Without one the network is untrained: its last
convolution is zero-initialised, so the output equals the input (a warning says so).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lsvd.cli import add_device, add_option, command_parser, parse, resolve_device, run
from lsvd.constants import OFFICIAL_MASK_INDEX
from lsvd.errors import LsvdError
from lsvd.io.images import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

__all__ = ["DesmokeError", "build_parser", "desmoke", "main"]

#: Input suffixes read as videos.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")
#: Output suffixes written as videos (anything else is a frame folder).
VIDEO_OUTPUT_SUFFIXES = (".mp4", ".mkv")
CLIP_SEPARATOR = "::"
MASK_MODES = ("official", "ps", "none")
DEFAULT_FPS = 25.0

UNTRAINED_WARNING = (
    "no --checkpoint given: the network is UNTRAINED and its output equals its input. Get weights by "
    "training (`python -m lsvd.train`) or use an official SelfSVD checkpoint "
    "(selfsvd.pth, linked from the official README) with --checkpoint PATH --preset paper."
)


class DesmokeError(LsvdError, ValueError):
    """A user-facing problem with the inputs or options (the command exits with status 2)."""


@dataclass
class _Clip:
    frames: list[np.ndarray]  # uint8 RGB (H, W, 3)
    names: list[str]  # output PNG stems, one per frame
    fps: float | None
    ps_index: int | None  # from a prepared clip's manifest
    video: Path | None = None  # the input video file, if it is one


# --- input -----------------------------------------------------------------------------------------


def _read_video(path: Path) -> _Clip:
    from lsvd.io.video import iter_frames, probe_video

    try:
        info = probe_video(path)
        frames = [f.rgb for f in iter_frames(path)]
    except Exception as exc:  # PyAV raises several types for unreadable files
        raise DesmokeError(f"{path}: cannot read the video ({exc}); expected a readable video file") from exc
    if not frames:
        raise DesmokeError(f"{path}: the video has no frames")
    if (short := info.shortfall(len(frames))) is not None:
        log.warning("%s: %s: the file is truncated or damaged; only the decoded frames are desmoked", path, short)
    return _Clip(frames, [f"{i:08d}" for i in range(len(frames))], info.fps, None, path)


def _read_folder(path: Path) -> _Clip:
    from lsvd.io.images import read_rgb, scan_frame_folder

    frames, skipped = scan_frame_folder(path)
    for entry in skipped:
        log.warning("%s: skipped (%s): %s", entry.path, entry.kind, entry.message)
    if not frames:
        raise DesmokeError(f"{path}: no integer-named frames found (expected files like 00000000.png with a "
                           f"suffix in {', '.join(IMAGE_SUFFIXES)})")
    try:
        pixels = [read_rgb(path / f.name) for f in frames]
    except Exception as exc:
        raise DesmokeError(f"{path}: cannot read a frame ({exc})") from exc
    return _Clip(pixels, [Path(f.name).stem for f in frames], None, None)


def _read_prepared(spec: str) -> _Clip:
    from lsvd.data.frames import load_frames
    from lsvd.data.manifest import Manifest, ManifestError

    root, _, clip_id = spec.partition(CLIP_SEPARATOR)
    if not root or not clip_id:
        raise DesmokeError(f"{spec!r}: expected ROOT{CLIP_SEPARATOR}CLIP_ID (a prepared dataset root and a clip "
                           f"id), e.g. ~/lsvd-data{CLIP_SEPARATOR}synth_test_000")
    try:
        manifest = Manifest.load(root)
    except (ManifestError, OSError) as exc:
        raise DesmokeError(f"{spec!r}: {exc}") from exc
    try:
        clip = manifest.clip(clip_id)
    except KeyError:
        known = manifest.clip_ids()
        raise DesmokeError(f"{spec!r}: unknown clip id {clip_id!r}; {root} has {len(known)} clips, e.g. "
                           f"{', '.join(known[:5])}") from None
    rows = manifest.clip_frames(clip_id)
    if rows.empty:
        raise DesmokeError(f"{spec!r}: the clip has no frames in the manifest")
    paths = [str(manifest.resolve(p)) for p in rows["path"]]
    numbers = [int(n) for n in rows["frame_number"]]
    try:
        frames = load_frames(str(clip.storage), paths, numbers, list(range(len(rows))))
    except Exception as exc:
        raise DesmokeError(f"{spec!r}: cannot read the clip's frames ({exc}); re-run `python -m lsvd.prepare`") from exc
    fps = float(clip.fps) if clip.fps is not None and not math.isnan(float(clip.fps)) else None
    return _Clip(frames, [f"{n:08d}" for n in numbers], fps, int(clip.ps_frame_index))


def _read_input(spec: str) -> _Clip:
    if CLIP_SEPARATOR in spec:
        return _read_prepared(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return _read_folder(path)
    if not path.exists():
        raise DesmokeError(f"{spec}: no such file or folder; expected a video, a folder of integer-named frames, "
                           f"or ROOT{CLIP_SEPARATOR}CLIP_ID")
    return _read_video(path)


# --- model and masks -------------------------------------------------------------------------------


#: Where ``python -m benchmarks.run`` writes by default, and its folder of per-method weight pointers.
BENCHMARK_RUNS = Path("results") / "runs"


def _benchmarked(checkpoint: str) -> str:
    """``checkpoint`` itself if it exists, else ``results/runs/<checkpoint>`` when it names a benchmarked method.

    Raises:
        DesmokeError: a bare name (no folder part) that is neither a path nor a method benchmarked into ./results.
    """
    from lsvd.train.checkpoint import POINTER_FILE

    if Path(checkpoint).expanduser().exists() or Path(checkpoint).name != checkpoint:
        return checkpoint
    run = BENCHMARK_RUNS / checkpoint
    if (run / POINTER_FILE).is_file():
        log.info("--checkpoint %s: the weights the benchmark in ./results scored (%s)", checkpoint, run / POINTER_FILE)
        return str(run)
    known = sorted(p.parent.name for p in BENCHMARK_RUNS.glob(f"*/{POINTER_FILE}"))
    raise DesmokeError(f"--checkpoint {checkpoint}: expected a weights file or folder, or the name of a learned "
                       f"method benchmarked into ./results ({BENCHMARK_RUNS}/<method>/{POINTER_FILE}); found neither "
                       f"(benchmarked there: {', '.join(known) or 'none'}). Run `python -m benchmarks.run --method "
                       f"{checkpoint}` first, or give RESULTS/runs/<method> of a benchmark written elsewhere")


def _load_model(preset: str | None, flow: str | None, checkpoint: str | None, device: str) -> tuple[Any, dict]:
    from lsvd.io.weights import CheckpointError
    from lsvd.models.selfsvd import PRESETS, build_selfsvd
    from lsvd.train.checkpoint import load_generator

    if checkpoint is None:
        if preset is not None and preset not in PRESETS:
            raise DesmokeError(f"--model: expected one of {', '.join(PRESETS)}, found {preset!r}")
        log.warning(UNTRAINED_WARNING)
        try:
            return build_selfsvd(preset or "paper", flow=flow or "dis").eval(), {}
        except Exception as exc:  # missing or unreadable flow weights
            raise DesmokeError(f"cannot build the {preset or 'paper'} model with --flow {flow}: {exc}") from exc
    checkpoint = _benchmarked(checkpoint)
    try:
        model, info = load_generator(checkpoint, preset=preset, flow=flow)
    except CheckpointError as exc:  # empty, truncated or unsafe file: its message names it and what to do
        raise DesmokeError(f"--checkpoint {checkpoint}: {exc}") from exc
    except Exception as exc:  # a file that reads but is not a generator checkpoint
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise DesmokeError(f"--checkpoint {checkpoint}: cannot load it ({first}); expected a training run directory, "
                           "a checkpoint folder or generator.safetensors from `python -m lsvd.train`, or an official "
                           "mmcv .pth (generator.* keys; released checkpoints are --preset paper)") from exc
    log.info("weights: %s (%s, model %s, flow %s)", info["path"], info["source"], info["model"], info["flow"])
    return model, info


def _detect_ps(clip: _Clip) -> tuple[int, int | None]:
    """(PS frame, smoke onset or None) of ``--ps-frame auto``: prepare's rule (lsvd.data.videos.detect_ps_frame)."""
    from lsvd.data.smoke import scan_frames
    from lsvd.data.videos import detect_ps_frame, scan_video

    try:  # a video is scored as `prepare --videos` scores it (decoded small by FFmpeg); frames as read
        scan = scan_video(clip.video) if clip.video is not None else scan_frames(clip.frames)
    except Exception as exc:  # PyAV raises several types for unreadable files
        raise DesmokeError(f"--ps-frame auto: cannot score the input for smoke ({exc}); give --ps-frame N") from exc
    found = detect_ps_frame(scan)
    if found is None:
        log.warning("--ps-frame auto: no smoke event detected; using frame 0 as the PS frame")
        return 0, None
    ps, onset = found
    if onset is None:
        log.info("--ps-frame auto: PS frame %d, no smoke onset detected", ps)
    else:
        log.info("--ps-frame auto: PS frame %d, smoke starts at frame %d", ps, onset)
    return ps, onset


def _masks(frames: list[np.ndarray], mode: str, flow_backend: Any) -> tuple[Any, str]:
    """(mask (T-1, 1, H/4, W/4) float or None, the mode actually used) for clip ``frames`` (PS first)."""
    import torch

    from lsvd.masks.core import MaskParams
    from lsvd.masks.pipeline import clip_masks, numpy_flow, plan_clip

    n = len(frames) - 1
    h, w = frames[0].shape[:2]
    if mode == "official" and len(frames) <= OFFICIAL_MASK_INDEX:
        log.warning("--mask official needs >= %d frames from the PS frame on; the clip has %d: using --mask none",
                    OFFICIAL_MASK_INDEX + 1, len(frames))
        mode = "none"
    if mode == "none":
        return None, mode
    params = MaskParams()
    try:
        params.validate()
        ref_index, targets = plan_clip(len(frames), 0, mode)
        by_index = clip_masks(dict(enumerate(frames)), ref_index, targets, params, numpy_flow(flow_backend))
        # official: the one mask for every frame after the PS frame; ps: one per frame
        masks = [by_index[targets[0]]] * n if mode == "official" else [by_index[i] for i in range(1, n + 1)]
    except ValueError as exc:
        raise DesmokeError(f"--mask {mode}: {exc}; use --mask none") from exc
    mask = torch.from_numpy(np.stack(masks).astype(np.float32))[:, None]
    if tuple(mask.shape[2:]) != (h // 4, w // 4):  # the 1/4 grid rounds differently: fit it
        mask = torch.nn.functional.interpolate(mask, size=(h // 4, w // 4), mode="nearest")
    return mask, mode


# --- the command -----------------------------------------------------------------------------------


def desmoke(
    input: str,  # noqa: A002 - the command's argument name
    output: str,
    *,
    checkpoint: str | None = None,
    preset: str | None = None,
    flow: str | None = None,
    ps_frame: int | str | None = None,
    mode: str = "official",
    mask: str = "official",
    device: str = "auto",
    bf16: bool = False,
    fps: float | None = None,
    window: int = 5,
    progress: bool = False,
) -> dict[str, Any]:
    """Desmoke one clip and write it; returns a summary dict.

    Args: see the module docstring and :func:`build_parser` (same names as the options).

    Returns:
        ``{"input", "output", "frames", "height", "width", "ps_frame", "smoke_onset", "dropped", "mask",
        "device", "seconds", "checkpoint"}`` (``frames`` = frames written; ``smoke_onset``: the input frame
        index where smoke starts, found by ``--ps-frame auto``, else ``None``).

    Raises:
        DesmokeError: unreadable or invalid input / options (the message says what to change).
    """
    import torch

    from lsvd.inference import MODES, desmoke_clip, to_uint8

    t0 = time.perf_counter()
    if mask not in MASK_MODES:
        raise DesmokeError(f"--mask: expected one of {', '.join(MASK_MODES)}, found {mask!r}")
    if mode not in MODES:
        raise DesmokeError(f"--mode: expected one of {', '.join(MODES)}, found {mode!r}")
    device = resolve_device(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DesmokeError("--device cuda: no CUDA device is available; use --device cpu or auto")
    if fps is not None and not fps > 0:
        raise DesmokeError(f"--fps: expected a positive number, found {fps}")

    clip = _read_input(input)
    h, w = clip.frames[0].shape[:2]
    for k, f in enumerate(clip.frames):
        if f.shape != (h, w, 3):
            raise DesmokeError(f"{input}: frame {clip.names[k]} is {f.shape}, expected ({h}, {w}, 3) like the first")
    if h % 4 or w % 4:
        raise DesmokeError(f"{input}: frames are {h}x{w}; height and width must be multiples of 4 (spec §3.6); "
                           f"crop or pad to {h // 4 * 4}x{w // 4 * 4}")
    onset = None
    if ps_frame == "auto":
        ps, onset = _detect_ps(clip)
    elif ps_frame is not None:
        try:
            ps = int(ps_frame)
        except ValueError:
            raise DesmokeError(f"--ps-frame: expected a frame index or 'auto', found {ps_frame!r}") from None
    else:
        ps = clip.ps_index if clip.ps_index is not None else 0
    if not 0 <= ps < len(clip.frames) - 1:
        raise DesmokeError(f"--ps-frame {ps}: expected 0 <= N < {len(clip.frames) - 1} (the clip has "
                           f"{len(clip.frames)} frames and at least one must follow the PS frame)")
    if ps > 0:
        log.info("the clip starts at the PS frame %d: frames %s..%s before it are not output",
                 ps, clip.names[0], clip.names[ps - 1])
    frames, names = clip.frames[ps:], clip.names[ps:]

    from lsvd.train.checkpoint import metadata_flag

    model, info = _load_model(preset, flow, checkpoint, device)
    if not metadata_flag(info, "use_mask", default=True) and mask != "none":
        log.info("the checkpoint was trained without masks (the 'no mask' ablation): --mask none")
        mask = "none"
    flow_backend = getattr(model, "flow", None)
    if flow_backend is None:  # a network without a flow (single-image baselines): masks with DIS
        from lsvd.flow.base import create_flow

        flow_backend = create_flow("dis")
    mask_t, mask_used = _masks(frames, mask, flow_backend)

    from lsvd.io.pixels import to_tensor

    lqs, ps_t = to_tensor(np.stack(frames[1:])), to_tensor(frames[0])
    out = desmoke_clip(model, lqs, ps_t, mask_t, window=window, mode=mode, device=device, progress=progress,
                       dtype=torch.bfloat16 if bf16 else None)
    images = to_uint8(out)

    target = Path(output).expanduser()
    if target.suffix.lower() in VIDEO_OUTPUT_SUFFIXES:
        from lsvd.io.video import write_video

        write_video(target, list(images), fps=fps or clip.fps or DEFAULT_FPS)
    else:
        from lsvd.io.atomic import atomic_dir
        from lsvd.io.images import write_png

        with atomic_dir(target) as tmp:
            for name, image in zip(names[1:], images, strict=True):
                write_png(tmp / f"{name}.png", image)
    return {
        "input": input, "output": str(target), "frames": len(images), "height": h, "width": w,
        "ps_frame": ps, "smoke_onset": onset, "dropped": ps, "mask": mask_used, "device": device,
        "seconds": round(time.perf_counter() - t0, 3), "checkpoint": checkpoint,
    }


EXAMPLES = """examples:
  python -m lsvd.desmoke case12.mp4 -o case12-desmoked.mp4 --checkpoint runs/cpu   # a video, trained weights
  python -m lsvd.desmoke frames/ -o out/ --checkpoint selfsvd.pth --ps-frame auto  # a frame folder, official weights
  python -m lsvd.desmoke ~/lsvd-data::synth_test_000 -o out.mkv --checkpoint runs/cpu  # a prepared clip
  python -m lsvd.desmoke case12.mp4 -o out.mp4 --checkpoint runs/cpu --mask ps --device cuda --bf16

INPUT: a video file, a folder of integer-named frames, or ROOT::CLIP_ID (a clip of a prepared dataset
root). The clip starts at the PS frame (--ps-frame, else the prepared clip's ps_frame_index, else 0);
frames before it and the PS frame itself are not output."""


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m lsvd.desmoke", "Desmoke one clip with a SelfSVD generator.", EXAMPLES)
    p.add_argument("input", help=f"video, frame folder, or ROOT{CLIP_SEPARATOR}CLIP_ID")
    p.add_argument("-o", "--output", required=True, help="*.mp4 / *.mkv for a video, anything else for a PNG folder")
    p.add_argument("--checkpoint", help="a run directory / checkpoint folder / generator.safetensors from "
                                        "python -m lsvd.train, an official SelfSVD checkpoint (.pth), RESULTS/runs/"
                                        "<method> of a benchmark, or a method benchmarked into ./results (selfsvd)")
    add_option(p, "--model", old=("--preset",), help="network size (paper, small, tiny): read from lsvd.train "
               "checkpoints; default paper (the released checkpoints)")
    p.add_argument("--flow", choices=("dis", "pwcnet"), help="flow backend (default: the checkpoint's, else dis)")
    p.add_argument("--ps-frame", help="index of the PS (smoke-free reference) frame, or 'auto' to detect it "
                                      "as `python -m lsvd.prepare --videos` does (0 for inputs of at most 100 "
                                      "frames, else the frame before the first smoke event) (default: the "
                                      "prepared clip's, else 0)")
    p.add_argument("--mode", default="official", choices=("official", "overlap"), help="window plan")
    p.add_argument("--mask", default="official", choices=MASK_MODES, help="mask source (default official)")
    add_device(p)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast on CUDA")
    p.add_argument("--fps", type=float, help="output video fps (default: the input's, else 25)")
    return p


def _desmoke(args: argparse.Namespace) -> int:
    s = desmoke(args.input, args.output, checkpoint=args.checkpoint, preset=args.model, flow=args.flow,
                ps_frame=args.ps_frame, mode=args.mode, mask=args.mask, device=args.device, bf16=args.bf16,
                fps=args.fps, progress=args.progress)
    print(f"desmoked {s['frames']} frames of {s['width']}x{s['height']} on {s['device']} in {s['seconds']:.1f} s "
          f"(PS frame {s['ps_frame']}, mask {s['mask']}) -> {s['output']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_desmoke, parse(build_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())
