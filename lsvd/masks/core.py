"""The per-pair SelfSVD mask pipeline (official ``data_process/script_mask_generate.py``, spec section 2.2).

For a reference frame and a current frame (uint8 RGB, same size):

1. ``/ 255`` in float64;
2. dark-channel-prior dehazing (:func:`dehaze`: 15x15 dark channel, 81x81 guided filter,
   2000-bin airlight rule, veil ``min(0.95 V', 0.80)``);
3. bilinear ``align_corners=True`` downscale to ``floor(H/4) x floor(W/4)`` (float32) -- steps 2
   and 3 are :func:`prepare_reference` / :func:`prepare_frame`, and the reference is prepared once
   per clip (the official script re-dehazes it for every frame);
4. the reference is backward-warped onto the current frame with a flow given on the current
   frame's grid (``lsvd.flow.backward_warp``, PWC-Net ``get_backwarp`` convention, spec 3.3), with
   its 0/1 validity mask; the flow is an input (an array, a callable, or ``None`` for identity), so
   masks can be computed for a known flow;
5. both images clamped to [0, 1], the current one multiplied by the validity mask;
6. grey = RGB mean, Gaussian blur 27x27 sigma 27 (``cv2.GaussianBlur``, reflect-101 border);
7. SSIM of each non-overlapping 8x8 block (:func:`lsvd.masks.kernels.block_ssim`, exactly skimage's
   value per block, spec 2.5); mask 1 where SSIM < 0.92; leftover rows/columns 0.

Differences from the official script (all outside its normal operating range): an all-black
image (airlight ``A = 0``) gives ``J = I`` where the official code divides 0 by 0 (NaN); SSIM is
evaluated in float64 where skimage uses float32 (differences up to ~5e-5, so a block can only flip
when its SSIM lies that close to the threshold); ``flow=None`` skips the warp (the official warp
with a zero flow moves pixels by ~1e-6).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lsvd.io.hashing import digest
from lsvd.masks import kernels

__all__ = [
    "AIRLIGHT_FRACTION",
    "FlowSource",
    "MaskParams",
    "block_mask",
    "dehaze",
    "mask_for_pair",
    "prepare_frame",
    "prepare_reference",
    "quarter",
]

#: Cumulative fraction of the refined dark channel's histogram that bounds the airlight bin (official 0.999).
AIRLIGHT_FRACTION = 0.999

#: A flow given to :func:`mask_for_pair`: an array (2, h, w), a callable ``(ref_q, frame_q) -> flow``, or None.
FlowSource = Callable[[np.ndarray, np.ndarray], Any] | np.ndarray | None


@dataclass(frozen=True)
class MaskParams:
    """Mask-generation parameters; the defaults are the official ones (spec 2.2).

    box: guided-filter box size (pixels, odd); eps: guided-filter regulariser; omega: veil factor
    ``w``; max_veil: veil cap ``maxV1``; bins: airlight histogram bins; erosion: dark-channel window
    (odd); blur_ksize / blur_sigma: Gaussian blur of the grey 1/4-res pair; block: SSIM block side
    at 1/4 resolution (>= 7, the SSIM window); threshold: SSIM below which a block is 1; scale:
    downscale factor before alignment (0.25).
    """

    box: int = 81
    eps: float = 1e-3
    omega: float = 0.95
    max_veil: float = 0.80
    bins: int = 2000
    erosion: int = 15
    blur_ksize: int = 27
    blur_sigma: float = 27.0
    block: int = 8
    threshold: float = 0.92
    scale: float = 0.25

    def validate(self) -> MaskParams:
        """Raise ValueError on an unusable value; return self."""
        for name in ("box", "erosion", "blur_ksize"):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or v < 1 or v % 2 == 0:
                raise ValueError(f"MaskParams.{name}: expected a positive odd integer, got {v!r}")
        if not isinstance(self.bins, int | np.integer) or self.bins < 2:
            raise ValueError(f"MaskParams.bins: expected an integer >= 2, got {self.bins!r}")
        if not isinstance(self.block, int | np.integer) or self.block < 7:
            raise ValueError(
                f"MaskParams.block: expected an integer >= 7 (the SSIM window is 7x7), got {self.block!r}"
            )
        checks = {
            "eps": self.eps >= 1e-12,
            "omega": 0 < self.omega <= 1,
            "max_veil": 0 <= self.max_veil < 1,
            "blur_sigma": self.blur_sigma > 0,
            "threshold": -1 <= self.threshold <= 1,
            "scale": 0 < self.scale <= 1,
        }
        ranges = {
            "eps": ">= 1e-12",
            "omega": "in (0, 1]",
            "max_veil": "in [0, 1)",
            "blur_sigma": "> 0",
            "threshold": "in [-1, 1]",
            "scale": "in (0, 1]",
        }
        for name, ok in checks.items():
            v = getattr(self, name)
            if not (isinstance(v, int | float | np.number) and math.isfinite(v) and ok):
                raise ValueError(f"MaskParams.{name}: expected a finite number {ranges[name]}, got {v!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (JSON-serialisable)."""
        return {k: (float(v) if k in _FLOAT_FIELDS else int(v)) for k, v in dataclasses.asdict(self).items()}

    def digest(self) -> str:
        """Short stable hash of the parameters, for manifests (:func:`lsvd.io.hashing.digest`)."""
        return digest(self.to_dict())


_DEFAULT = MaskParams()
_FLOAT_FIELDS = frozenset(f.name for f in dataclasses.fields(MaskParams) if f.type in ("float", float))


# --------------------------------------------------------------------------------------------
# input checks


def _check_image(img: np.ndarray, name: str, params: MaskParams, *, allow_uint8: bool = True) -> None:
    if not isinstance(img, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array (H, W, 3), got {type(img).__name__}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{name}: expected shape (H, W, 3) RGB, got {img.shape}; convert grey/RGBA frames to RGB")
    if img.dtype == np.uint8:
        if not allow_uint8:
            raise ValueError(f"{name}: expected a float image in [0, 1], got uint8; divide by 255 first")
    elif np.issubdtype(img.dtype, np.floating):
        if not np.isfinite(img).all():
            raise ValueError(f"{name}: contains NaN or inf; expected finite values in [0, 1]")
        lo, hi = float(img.min()), float(img.max())
        if lo < 0 or hi > 1:
            raise ValueError(f"{name}: expected values in [0, 1], found [{lo:.4g}, {hi:.4g}]; clip or rescale first")
    else:
        raise ValueError(f"{name}: expected dtype uint8 or float in [0, 1], got {img.dtype}")
    h, w = img.shape[:2]
    qh, qw = _scaled_size(h, params.scale), _scaled_size(w, params.scale)
    if qh < params.block or qw < params.block:
        need = math.ceil(params.block / params.scale)
        raise ValueError(
            f"{name}: {h}x{w} is {qh}x{qw} at scale {params.scale}, smaller than one {params.block}x{params.block} "
            f"block; expected at least {need}x{need} pixels"
        )


def _scaled_size(n: int, scale: float) -> int:
    # F.interpolate(scale_factor=s): floor(float(n) * s)
    return int(math.floor(float(n) * scale))


def _as_image(img: np.ndarray) -> tuple[np.ndarray, float]:
    """(array for the kernels, divisor): uint8 stays uint8 (/255 inside), floats become float64."""
    if img.dtype == np.uint8:
        return np.ascontiguousarray(img), 255.0
    return np.ascontiguousarray(img, dtype=np.float64), 1.0


def _refined_veil(img: np.ndarray, in_scale: float, params: MaskParams) -> tuple[np.ndarray, float]:
    """Steps of ``Defog``: min RGB, dark channel, guided filter -> (refined dark channel V', airlight A)."""
    v = kernels.min_rgb(img)
    d = kernels.erode_square(v, params.erosion)
    refined, lo, hi = kernels.guided_filter_range(v, d, params.box, params.eps, in_scale)
    airlight, _, _ = kernels.atmospheric_light(refined, img, in_scale, params.bins, AIRLIGHT_FRACTION, (lo, hi))
    return refined, airlight


# --------------------------------------------------------------------------------------------
# public API


def dehaze(rgb: np.ndarray, params: MaskParams = _DEFAULT) -> np.ndarray:
    """Official dark-channel-prior dehazing (spec 2.2 step 2) of RGB (H, W, 3) in [0, 1] -> float32 (H, W, 3).

    Computed in float64 (uint8 input is divided by 255 first), returned as float32 in [0, 1].
    """
    params.validate()
    _check_image(rgb, "rgb", params)
    img, in_scale = _as_image(rgb)
    refined, airlight = _refined_veil(img, in_scale, params)
    return kernels.dehaze_full(img, in_scale, refined, airlight, params.omega, params.max_veil)


def quarter(rgb: np.ndarray, scale: float = 0.25) -> np.ndarray:
    """Bilinear ``align_corners=True`` downscale of (H, W, C) to ``floor(H*scale) x floor(W*scale)``, float32.

    Tap for tap PyTorch's ``F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=True)``
    on float32 (spec 2.2 step 3).
    """
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3:
        raise ValueError(f"rgb: expected a numpy array (H, W, C), got {getattr(rgb, 'shape', type(rgb).__name__)}")
    if not np.issubdtype(rgb.dtype, np.floating):
        raise ValueError(f"rgb: expected a float array, got {rgb.dtype}; convert (e.g. / 255) first")
    if not 0 < scale <= 1:
        raise ValueError(f"scale: expected a value in (0, 1], got {scale!r}")
    oh, ow = _scaled_size(rgb.shape[0], scale), _scaled_size(rgb.shape[1], scale)
    if oh < 1 or ow < 1:
        raise ValueError(f"rgb: {rgb.shape[0]}x{rgb.shape[1]} downscales to {oh}x{ow}; expected a larger image")
    return kernels.bilinear_resize(np.ascontiguousarray(rgb, dtype=np.float32), oh, ow)


def prepare_frame(frame_rgb_uint8: np.ndarray, params: MaskParams = _DEFAULT) -> np.ndarray:
    """Dehazed, 1/4-res float32 (h, w, 3) of an RGB frame (uint8, or float in [0, 1]); steps 1-3."""
    params.validate()
    _check_image(frame_rgb_uint8, "frame", params)
    img, in_scale = _as_image(frame_rgb_uint8)
    refined, airlight = _refined_veil(img, in_scale, params)
    h, w = img.shape[:2]
    return kernels.dehaze_resized(
        img, in_scale, refined, airlight, params.omega, params.max_veil,
        _scaled_size(h, params.scale), _scaled_size(w, params.scale),
    )


def prepare_reference(ref_rgb_uint8: np.ndarray, params: MaskParams = _DEFAULT) -> np.ndarray:
    """Same as :func:`prepare_frame`, for the clip's reference frame: compute it once per clip."""
    return prepare_frame(ref_rgb_uint8, params)


def _backward_warp(source: Any, flow: Any) -> tuple[Any, Any]:
    """``lsvd.flow.backward_warp`` (imported lazily: torch is only needed when a flow is given)."""
    from lsvd.flow import backward_warp

    return backward_warp(source, flow)


def _check_quarter(arr: np.ndarray, name: str, block: int) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array (h, w, 3), got {type(arr).__name__}")
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{name}: expected shape (h, w, 3) (a prepare_frame output), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{name}: expected float32 (a prepare_frame output), got {arr.dtype}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or inf")
    if arr.shape[0] < block or arr.shape[1] < block:
        raise ValueError(f"{name}: {arr.shape[0]}x{arr.shape[1]} is smaller than one {block}x{block} block")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _as_flow(flow: Any, h: int, w: int) -> np.ndarray:
    if hasattr(flow, "detach") and hasattr(flow, "cpu"):  # a torch tensor, e.g. from a flow backend
        flow = flow.detach().cpu().numpy()
    if not isinstance(flow, np.ndarray):
        raise ValueError(f"flow: expected a numpy array (2, {h}, {w}), got {type(flow).__name__}")
    if flow.ndim == 4 and flow.shape[0] == 1:
        flow = flow[0]
    if flow.shape != (2, h, w):
        raise ValueError(
            f"flow: expected shape (2, {h}, {w}) (x, y displacements on the frame's 1/4-res grid), got {flow.shape}"
        )
    if not np.issubdtype(flow.dtype, np.floating) or not np.isfinite(flow).all():
        raise ValueError(f"flow: expected finite float values, got dtype {flow.dtype} with non-finite entries or ints")
    return np.ascontiguousarray(flow, dtype=np.float32)


def block_mask(
    ref_q: np.ndarray, frame_q: np.ndarray, flow: np.ndarray | None, params: MaskParams = _DEFAULT
) -> tuple[np.ndarray, np.ndarray]:
    """Steps 4-7 on the prepared pair -> (mask uint8 (h, w) in {0, 1}, SSIM float64 (h // block, w // block)).

    ref_q, frame_q: float32 (h, w, 3), outputs of :func:`prepare_reference` / :func:`prepare_frame`.
    flow: float (2, h, w) pixel displacements (x then y) on the frame's grid pointing into the
    reference (``backend.estimate(source=ref_q, target=frame_q)``); ``None`` = identity (no warp,
    everything valid). The reference is warped with ``lsvd.flow.backward_warp``; the frame is
    multiplied by the validity mask; grey pair blurred (``cv2.GaussianBlur``); mask 1 on the blocks
    whose SSIM is below ``params.threshold``; leftover rows/columns stay 0.
    """
    import cv2

    params.validate()
    ref_q = _check_quarter(ref_q, "ref_q", params.block)
    frame_q = _check_quarter(frame_q, "frame_q", params.block)
    if ref_q.shape != frame_q.shape:
        raise ValueError(
            f"ref_q / frame_q: expected the same shape, got {ref_q.shape} and {frame_q.shape}; "
            "prepare both from frames of the same size"
        )
    h, w = frame_q.shape[:2]
    if flow is None:
        warped = ref_q.transpose(2, 0, 1)
        valid = np.ones((h, w), np.float32)
    else:
        flow = _as_flow(flow, h, w)
        import torch

        src = torch.from_numpy(ref_q).permute(2, 0, 1).unsqueeze(0)
        out, mask = _backward_warp(src, torch.from_numpy(flow).unsqueeze(0))
        warped = np.asarray(out[0].detach().cpu().numpy(), dtype=np.float32)
        valid = np.ascontiguousarray(mask[0, 0].detach().cpu().numpy(), dtype=np.float32)
    gx, gy = kernels.masked_gray(warped, frame_q, valid)
    k = (params.blur_ksize, params.blur_ksize)
    gx = cv2.GaussianBlur(gx, k, params.blur_sigma)
    gy = cv2.GaussianBlur(gy, k, params.blur_sigma)
    ssim = kernels.block_ssim(gx, gy, params.block)
    mask = np.zeros((h, w), np.uint8)
    b = params.block
    nby, nbx = ssim.shape
    mask[: nby * b, : nbx * b] = np.repeat(np.repeat((ssim < params.threshold).astype(np.uint8), b, 0), b, 1)
    return mask, ssim


def mask_for_pair(
    ref_rgb_uint8: np.ndarray, frame_rgb_uint8: np.ndarray, flow_fn: FlowSource, params: MaskParams = _DEFAULT
) -> tuple[np.ndarray, np.ndarray]:
    """Mask of one frame against a reference frame (both RGB (H, W, 3), same size) -> ``block_mask``'s output.

    flow_fn: a callable ``(ref_q, frame_q) -> flow (2, h, w)`` run on the dehazed 1/4-res images
    (source = reference, target = frame; a torch (1, 2, h, w) result is accepted), a ready flow
    array (2, h, w), or ``None`` (identity).
    """
    params.validate()
    _check_image(ref_rgb_uint8, "ref", params)
    _check_image(frame_rgb_uint8, "frame", params)
    if ref_rgb_uint8.shape != frame_rgb_uint8.shape:
        raise ValueError(
            f"ref / frame: expected the same size, got {ref_rgb_uint8.shape} and {frame_rgb_uint8.shape}; "
            "masks compare frames of one clip"
        )
    ref_q = prepare_reference(ref_rgb_uint8, params)
    frame_q = prepare_frame(frame_rgb_uint8, params)
    flow = flow_fn(ref_q, frame_q) if callable(flow_fn) else flow_fn
    return block_mask(ref_q, frame_q, flow, params)
