"""Reference-based metrics: MMEditing PSNR/SSIM, CIEDE2000, and the official aligned protocol.

Official protocol (spec/selfsvd-official.md §5.2): every output frame is compared with the clip's
reference (PS) frame after :func:`align_to_reference` (blur the prediction, flow, backward warp with
the validity mask, mask both, ``tensor2img``). :func:`aligned_psnr` / :func:`aligned_ssim` score

* the pair :func:`align_to_reference` returns (:class:`AlignedFrame` arrays), as they are -- the runner
  aligns once per frame and feeds every aligned metric (the official code aligns twice, once per metric,
  with the same deterministic result); or
* a raw ``(pred, ref)`` pair with ``flow=`` (a :class:`~lsvd.flow.base.FlowBackend` or a flow name such
  as ``"dis"``, the benchmark's default ``--flow``; the official code uses PWC-Net, ``"pwcnet"``),
  aligned first.

Given plain arrays and no flow they raise rather than return the unaligned PSNR/SSIM: there is no
default flow, because the flow changes the values.

``psnr`` / ``ssim`` / ``ciede2000`` compare against ground-truth clean frames (synthetic data), unaligned.

All functions take RGB ``(H, W, 3)`` numpy arrays, uint8 or float in [0, 1]
(:func:`benchmarks.metrics.base.check_image`).

    from benchmarks.metrics.reference import align_to_reference, aligned_psnr, psnr
    psnr(pred, clean)                                  # unaligned, vs a clean frame
    aligned_psnr(pred, ps, flow="dis")                 # official protocol, vs the PS frame
    pm, rm = align_to_reference(pred, ps, create_flow("dis"))
    aligned_psnr(pm, rm), aligned_ssim(pm, rm)        # one alignment, both metrics
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.metrics.base import METRICS, Metric, as_float255, check_image
from lsvd.flow.base import FlowBackend, backward_warp, create_flow
from lsvd.io.pixels import to_tensor, to_uint8

__all__ = ["BLUR_KERNEL_SIZE", "BLUR_SIGMA", "CLEAN_PSNR_CAP_DB", "AlignedFrame", "align_to_reference",
           "aligned_psnr", "aligned_score", "aligned_ssim", "ciede2000", "ciede2000_reference", "gaussian_blur",
           "gaussian_kernel1d", "psnr", "psnr_capped", "ssim"]

#: Blur of the prediction before alignment (spec §5.2 step 1): torchvision ``gaussian_blur``, 5x5.
BLUR_KERNEL_SIZE = 5
BLUR_SIGMA = 0.3 * ((BLUR_KERNEL_SIZE - 1) * 0.5 - 1) + 0.8  # = 1.1 (OpenCV's default-sigma formula)


def _check_pair(pred: np.ndarray, ref: np.ndarray) -> None:
    for label, x in (("pred", pred), ("ref", ref)):
        if not isinstance(x, np.ndarray) or x.ndim != 3 or x.shape[2] != 3:
            found = x.shape if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"{label}: expected an RGB array (H, W, 3), uint8 or float in [0, 1], found {found}")
        check_image(x, label)
    if pred.shape != ref.shape:
        raise ValueError(f"pred and ref must have the same shape, found {pred.shape} and {ref.shape}")


def psnr(pred: np.ndarray, ref: np.ndarray) -> float:
    """MMEditing ``psnr`` (crop_border 0, all 3 channels, no Y): ``10 log10(255^2 / MSE)``, float64.

    Float inputs in [0, 1] are compared on the same 0..255 scale (times 255, not rounded).
    Returns ``inf`` when the images are identical.
    """
    _check_pair(pred, ref)
    mse = np.mean((as_float255(pred) - as_float255(ref)) ** 2)
    if mse == 0:
        return math.inf
    return float(10.0 * np.log10(255.0 * 255.0 / mse))


@cache
def _ssim_taps() -> np.ndarray:
    """The 11 taps of MMEditing's SSIM window ``outer(k, k)``: ``k = cv2.getGaussianKernel(11, 1.5)``, float64."""
    return cv2.getGaussianKernel(11, 1.5).ravel()


def ssim(pred: np.ndarray, ref: np.ndarray) -> float:
    """MMEditing ``ssim`` (crop_border 0, no Y): per-channel SSIM on float64 0..255, mean of the 3 channels.

    Each channel's SSIM map uses the 11x11 Gaussian window (sigma 1.5) on its valid interior (the 5-pixel
    border is discarded) and is averaged; float inputs in [0, 1] are scored as ``255 * x`` (not rounded).
    Computed by one fused pass over the rows (:func:`benchmarks.metrics._color.ssim_channel_means`, separable
    window); the values are MMEditing's up to float64 rounding (differences ~1e-14).

    Needs ``H, W > 10``.
    """
    from benchmarks.metrics._color import ssim_channel_means

    _check_pair(pred, ref)
    if min(pred.shape[:2]) <= 10:
        raise ValueError(f"ssim needs images larger than 10x10 (11x11 window), found {pred.shape[:2]}")
    if pred.dtype == np.uint8 and ref.dtype == np.uint8:
        a, b = pred, ref  # integer 0..255 values, converted to float64 in the kernel
    else:
        a, b = as_float255(pred, "pred"), as_float255(ref, "ref")
    return float(np.mean(ssim_channel_means(a, b, _ssim_taps())))


def ciede2000_reference(ref: np.ndarray) -> np.ndarray:
    """The CIELAB image :func:`ciede2000` computes for ``ref``, to pass as its ``ref_lab`` when several
    predictions are scored against the same reference.

    Args:
        ref: sRGB ``(H, W, 3)``, uint8 or float in [0, 1].

    Returns:
        float64 ``(H, W, 3)``: L* in [0, 100], a*, b* (D65, 2-degree observer), as ``skimage.color.rgb2lab`` of
        ``ref`` on [0, 1] up to float64 rounding.
    """
    from benchmarks.metrics._color import srgb_to_lab

    if not isinstance(ref, np.ndarray) or ref.ndim != 3 or ref.shape[2] != 3:
        found = ref.shape if isinstance(ref, np.ndarray) else type(ref).__name__
        raise ValueError(f"ref: expected an RGB array (H, W, 3), uint8 or float in [0, 1], found {found}")
    return srgb_to_lab(check_image(ref, "ref"))


def ciede2000(pred: np.ndarray, ref: np.ndarray, ref_lab: np.ndarray | None = None) -> float:
    """Mean CIEDE2000 colour difference of two sRGB images (uint8, or float in [0, 1]; D65); lower is better.

    The conventions of ``skimage.color`` (``rgb2lab``, then ``deltaE_ciede2000`` with ``kL = kC = kH = 1``),
    computed per pixel by a fused kernel (:mod:`benchmarks.metrics._color`); per-pixel values agree with
    skimage to ~1e-12.

    Args:
        pred, ref: RGB ``(H, W, 3)`` images of the same shape.
        ref_lab: optional ``ciede2000_reference(ref)`` (float64 ``(H, W, 3)``), reused instead of converting
            ``ref`` again; it must be that of this ``ref`` (only its shape and dtype are checked).
    """
    from benchmarks.metrics._color import ciede2000_mean

    _check_pair(pred, ref)
    if ref_lab is not None:
        if not isinstance(ref_lab, np.ndarray) or ref_lab.shape != ref.shape or ref_lab.dtype != np.float64:
            found = (ref_lab.shape, ref_lab.dtype) if isinstance(ref_lab, np.ndarray) else type(ref_lab).__name__
            raise ValueError(f"ref_lab: expected ciede2000_reference(ref), float64 {ref.shape}, found {found}")
    return ciede2000_mean(pred, ref, ref_lab)


# ----------------------------------------------------------------------------- official alignment


def gaussian_kernel1d(kernel_size: int = BLUR_KERNEL_SIZE, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """torchvision's ``_get_gaussian_kernel1d``: ``exp(-x^2 / (2 sigma^2))`` at ``x = -k//2..k//2``, normalised."""
    half = (kernel_size - 1) * 0.5
    x = torch.linspace(-half, half, steps=kernel_size)
    pdf = torch.exp(-0.5 * (x / sigma).pow(2))
    return pdf / pdf.sum()


def gaussian_blur(image: torch.Tensor, kernel_size: int = BLUR_KERNEL_SIZE, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """torchvision ``gaussian_blur`` on a float ``(N, C, H, W)`` tensor: reflect padding, 2-D kernel
    ``outer(k1d, k1d)`` applied by a depthwise ``conv2d`` in the image's dtype (as torchvision does).

    On the CPU, the official case (float32 RGB, 5x5) goes through ``cv2.filter2D`` instead: the same values bit
    for bit (``tests/metrics/test_fast_paths_reference.py``; not so for every kernel size and channel count,
    which keep torch's path), 6-9x faster."""
    k2d = _blur_kernel(kernel_size, sigma, image)
    pad = kernel_size // 2
    if (image.device.type == "cpu" and image.dtype == torch.float32 and image.shape[1] == 3 and kernel_size == 5
            and min(image.shape[-2:]) > pad and not image.requires_grad):
        kernel = k2d.numpy()
        out = np.empty((image.shape[0], *image.shape[2:], image.shape[1]), np.float32)
        for n, frame in enumerate(image.permute(0, 2, 3, 1).numpy()):
            padded = cv2.copyMakeBorder(np.ascontiguousarray(frame), pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
            blurred = cv2.filter2D(padded, -1, kernel, borderType=cv2.BORDER_CONSTANT)
            out[n] = blurred[pad:-pad, pad:-pad]
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
    return _blur_torch(image, k2d)


def _blur_kernel(kernel_size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    k1d = gaussian_kernel1d(kernel_size, sigma).to(device=like.device, dtype=like.dtype)
    return torch.outer(k1d, k1d)


def _blur_torch(image: torch.Tensor, k2d: torch.Tensor) -> torch.Tensor:
    """:func:`gaussian_blur` by torch's depthwise ``conv2d`` (any device, dtype and channel count)."""
    c, size = image.shape[1], k2d.shape[-1]
    pad = size // 2
    padded = F.pad(image, [pad, pad, pad, pad], mode="reflect")
    return F.conv2d(padded, k2d.expand(c, 1, size, size), groups=c)


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 RGB ``(H, W, 3)`` -> float32 ``(1, 3, H, W)`` in [0, 1] (the official ``/255`` float32); float
    input in [0, 1] is taken as is."""
    return to_tensor(image)[None]


def _tensor2img(x: torch.Tensor) -> np.ndarray:
    """MMEditing ``tensor2img`` for one RGB image: clamp [0, 1], x255, round, uint8 (kept RGB here)."""
    return to_uint8(x[0])


class AlignedFrame(np.ndarray):
    """A uint8 RGB ``(H, W, 3)`` frame as :func:`align_to_reference` returns it: aligned onto the reference
    and masked. Otherwise a plain array; it only tells the aligned metrics that the pair is aligned."""


def align_to_reference(
    pred: np.ndarray, ref: np.ndarray, flow_backend: FlowBackend, *, blur_kernel: int = BLUR_KERNEL_SIZE,
    blur_sigma: float | None = BLUR_SIGMA, valid_mask: bool = True,
) -> tuple[AlignedFrame, AlignedFrame]:
    """Spec §5.2 steps 1-3: align a prediction onto its reference and mask both.

    Exactly as the official ``ALignPSNR``/``ALignSSIM``:

    1. blur the **prediction only** (torchvision ``gaussian_blur``, 5x5, sigma 1.1, reflect padding,
       float32 on ``/255`` values); the reference is not blurred;
    2. ``flow = flow_backend.estimate(source=blurred_pred, target=ref)`` at full resolution, then
       ``aligned, valid = backward_warp(blurred_pred, flow)`` -- the **blurred** prediction is what gets
       warped (and scored), with the official validity convention (:func:`lsvd.flow.base.backward_warp`);
    3. ``aligned * valid`` and ``ref * valid`` through ``tensor2img`` (clamp [0, 1], x255, round, uint8).
       Invalid pixels are 0 in both and still count in the metrics' averages.

    The official code uses PWC-Net; here the flow is whatever ``flow_backend`` is (record its
    ``config()``), e.g. DIS when no PWC-Net weights are available.

    Args:
        pred: RGB ``(H, W, 3)`` output frame, uint8 (or float in [0, 1]).
        ref: RGB ``(H, W, 3)`` reference (PS) frame, uint8 (or float in [0, 1]).
        flow_backend: a :class:`~lsvd.flow.base.FlowBackend`.
        blur_kernel, blur_sigma: the blur of step 1 (the defaults are the official 5x5, sigma 1.1);
            ``blur_kernel=0``: no blur, the prediction itself is aligned (protocol ``lsvd256-lohinet``,
            :mod:`benchmarks.protocols`).
        valid_mask: mask the reference by the validity too (step 3, official); ``False``: the reference is
            kept whole (the warped prediction is 0 where the sample fell outside, as ``backward_warp`` gives it).

    Returns:
        ``(pred_masked, ref_masked)``: uint8 RGB ``(H, W, 3)`` each, as :class:`AlignedFrame` arrays (which
        the aligned metrics score as they are).
    """
    _check_pair(pred, ref)
    with torch.no_grad():
        pred_t = _to_tensor(pred)
        ref_t = _to_tensor(ref)
        blurred = gaussian_blur(pred_t, blur_kernel, blur_sigma) if blur_kernel else pred_t
        flow = flow_backend.estimate(source=blurred, target=ref_t)
        aligned, valid = backward_warp(blurred, flow.to(blurred.device))
        pred_m, ref_m = _tensor2img(aligned * valid), _tensor2img(ref_t * valid if valid_mask else ref_t)
    return pred_m.view(AlignedFrame), ref_m.view(AlignedFrame)


@cache
def _flow_by_name(name: str) -> FlowBackend:
    return create_flow(name)


def aligned_score(score: Callable[[np.ndarray, np.ndarray], float], pred: np.ndarray, ref: np.ndarray,
                  flow: FlowBackend | str | None = None, *, name: str = "an aligned metric") -> float:
    """``score(pred, ref)`` on the aligned, masked pair of the official protocol.

    Args:
        score: a reference metric on two uint8 RGB frames (e.g. :func:`psnr`).
        pred, ref: the pair :func:`align_to_reference` returned (scored as it is), or, with ``flow``, the raw
            output frame and its reference (PS) frame (uint8 or float in [0, 1]).
        flow: a :class:`~lsvd.flow.base.FlowBackend` or a registered flow name (``"dis"``, ``"pwcnet"``) to
            align with; ``None`` when the pair is already aligned.
        name: the metric's name, for the error.

    Raises:
        ValueError: plain arrays and no ``flow`` (their unaligned score is not this metric).
    """
    if flow is not None:
        backend = _flow_by_name(flow) if isinstance(flow, str) else flow
        pred, ref = align_to_reference(pred, ref, backend)
    elif not (isinstance(pred, AlignedFrame) and isinstance(ref, AlignedFrame)):
        raise ValueError(f"{name} compares the prediction aligned onto its reference (official protocol): pass "
                         f"flow= (a FlowBackend or a flow name such as 'dis'), or the pair "
                         f"align_to_reference(pred, ref, flow_backend) returns; for frames that need no "
                         f"alignment use the unaligned metric (psnr, ssim)")
    return score(np.asarray(pred), np.asarray(ref))


def aligned_psnr(pred: np.ndarray, ref: np.ndarray, flow: FlowBackend | str | None = None) -> float:
    """Official ``ALignPSNR``: :func:`psnr` after :func:`align_to_reference` (see :func:`aligned_score`).

    ``aligned_psnr(pred, ps, flow="dis")`` aligns then scores; ``aligned_psnr(*align_to_reference(...))``
    scores the aligned pair; plain arrays without ``flow`` raise :class:`ValueError`.
    """
    return aligned_score(psnr, pred, ref, flow, name="aligned_psnr")


def aligned_ssim(pred: np.ndarray, ref: np.ndarray, flow: FlowBackend | str | None = None) -> float:
    """Official ``ALignSSIM``: :func:`ssim` after :func:`align_to_reference` (see :func:`aligned_psnr`)."""
    return aligned_score(ssim, pred, ref, flow, name="aligned_ssim")


# ----------------------------------------------------------------------------- registration

_MMEDIT = "MMEditing (mmedit.core.evaluation.metrics)"


@METRICS.register("aligned_psnr")
def _aligned_psnr() -> Metric:
    return Metric("aligned_psnr", aligned_psnr, higher_is_better=True, requires_reference="ps_frame",
                  value_range=(0.0, math.inf), align=True, aggregate="clip_mean",
                  citation=f"SelfSVD official protocol (ALignPSNR); {_MMEDIT} psnr")


@METRICS.register("aligned_ssim")
def _aligned_ssim() -> Metric:
    return Metric("aligned_ssim", aligned_ssim, higher_is_better=True, requires_reference="ps_frame",
                  value_range=(-1.0, 1.0), align=True, aggregate="clip_mean",
                  citation=f"SelfSVD official protocol (ALignSSIM); {_MMEDIT} ssim; Wang et al. 2004")


#: PSNR against clean frames is capped per frame: synthetic clips have smoke-free frames after the PS frame,
#: where the input equals the clean frame (infinite PSNR) and would make every mean infinite.
CLEAN_PSNR_CAP_DB = 100.0


def psnr_capped(pred: np.ndarray, ref: np.ndarray) -> float:
    """:func:`psnr` limited to :data:`CLEAN_PSNR_CAP_DB` (identical images score the cap, not inf)."""
    return min(psnr(pred, ref), CLEAN_PSNR_CAP_DB)


@METRICS.register("psnr")
def _psnr() -> Metric:
    return Metric("psnr", psnr_capped, higher_is_better=True, requires_reference="clean",
                  value_range=(0.0, CLEAN_PSNR_CAP_DB), align=False, aggregate="clip_mean",
                  citation=f"{_MMEDIT} psnr, capped at {CLEAN_PSNR_CAP_DB:g} dB per frame")


@METRICS.register("ssim")
def _ssim() -> Metric:
    return Metric("ssim", ssim, higher_is_better=True, requires_reference="clean",
                  value_range=(-1.0, 1.0), align=False, aggregate="clip_mean",
                  citation=f"{_MMEDIT} ssim; Wang et al. 2004")


@METRICS.register("ciede2000")
def _ciede2000() -> Metric:
    return Metric("ciede2000", ciede2000, higher_is_better=False, requires_reference="clean",
                  value_range=(0.0, math.inf), align=False, aggregate="clip_mean",
                  citation="Sharma, Wu & Dalal 2005 (CIEDE2000); skimage.color.deltaE_ciede2000")
