"""Temporal consistency: the flow-based warping error of Lai et al. (ECCV 2018).

Clip metric (``Metric.kind == "clip"``). Note on the signature: :mod:`benchmarks.metrics.base`
documents clip metrics as ``fn(frames, flow)``; the registered ``warp_error`` is
``fn(outputs, inputs, flow_backend) -> list[float]`` -- the flow is estimated on the **input**
(smoky) frames, not on the outputs, so the runner must pass both clips. Outputs and inputs are
lists (or ``(T, H, W, 3)`` arrays) of uint8 RGB ``(H, W, 3)`` frames.

Definition (W. Lai, J. Huang, O. Wang, E. Shechtman, E. Yumer, M. Yang, "Learning Blind Video
Temporal Consistency", ECCV 2018, §5 "warping error"), for each ``t >= 1``:

* ``F_f = estimate(source=inputs[t-1], target=inputs[t])`` -- on frame t's grid, pointing into t-1;
  ``F_b = estimate(source=inputs[t], target=inputs[t-1])`` -- on frame t-1's grid, pointing into t;
* ``warped = W(outputs[t-1], F_f)`` (output t-1 brought onto frame t);
* non-occluded mask ``M``: forward-backward consistency with ``F_b' = W(F_b, F_f)``,
  ``|F_f + F_b'|^2 < 0.01 (|F_f|^2 + |F_b'|^2) + 0.5``, AND the warp validity (the sample lies
  inside frame t-1: warped ones-plane > 0.999, the same threshold as :func:`lsvd.flow.base.backward_warp`);
* ``E_t = sum_p M(p) * mean_c (warped - outputs[t])^2 / sum_p M(p)`` with values in [0, 1].

Differences from Lai et al.'s released script, deliberately: the squared difference is averaged over
the 3 channels (their script sums the channels, i.e. gives 3x this value); the flow is whatever
``flow_backend`` is (they use FlowNet2); their motion-boundary term is not used (it is commented out
in their code too). ``W`` is the exact bilinear warp :func:`lsvd.flow.base.flow_warp`
(``align_corners=True``), not the official PWC-Net wrapper's ``backward_warp`` whose ``W / (W - 1)``
flow scaling would add a small error for a perfectly consistent translation. When every pixel is
occluded ``E_t = 0`` (as in Lai et al.'s script, which divides a zero sum by the pixel count).
Lower is better. The values are reported raw (not scaled), one per pair, attributed to frame ``t``.

This definition, flow and occlusion rule are stated in the protocol cards (``[warp_error]`` of
``benchmarks/protocols/*.toml``, :mod:`benchmarks.protocols`): keep them in step when this changes (and
bump the cards' versions). Under a card with a resize, the outputs and inputs are resized first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from benchmarks.metrics.base import METRICS, Metric, check_image
from lsvd.flow.base import FlowBackend, flow_warp
from lsvd.io.pixels import to_tensor

#: Forward-backward consistency constants (Lai et al. 2018; Sundaram et al. 2010).
OCC_ALPHA = 0.01
OCC_BETA = 0.5
VALID_THRESHOLD = 0.999


def _frames_to_tensor(frames: Sequence[np.ndarray] | np.ndarray, label: str) -> torch.Tensor:
    """RGB frames (uint8, or float in [0, 1]) -> float32 ``(T, 3, H, W)`` in [0, 1]."""
    arr = np.stack([np.asarray(f) for f in frames]) if not isinstance(frames, np.ndarray) else frames
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"{label}: expected RGB frames (T, H, W, 3), found {arr.shape}")
    return to_tensor(check_image(arr, label))


def non_occluded_mask(flow_fw: torch.Tensor, flow_bw: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` 1 where ``flow_fw`` (target grid -> source) is forward-backward consistent and in frame.

    Args:
        flow_fw: ``(N, 2, H, W)`` flow on the target grid pointing into the source.
        flow_bw: ``(N, 2, H, W)`` flow on the source grid pointing into the target.
    """
    bw_warped = flow_warp(flow_bw, flow_fw)
    ones = flow_fw.new_ones((flow_fw.shape[0], 1, *flow_fw.shape[2:]))
    valid = flow_warp(ones, flow_fw) > VALID_THRESHOLD
    diff = ((flow_fw + bw_warped) ** 2).sum(1, keepdim=True)
    mags = (flow_fw**2).sum(1, keepdim=True) + (bw_warped**2).sum(1, keepdim=True)
    consistent = diff < OCC_ALPHA * mags + OCC_BETA
    return (consistent & valid).to(flow_fw.dtype)


def input_flows(inputs: Sequence[np.ndarray] | np.ndarray, flow_backend: FlowBackend) -> list[tuple[torch.Tensor,
                                                                                                      torch.Tensor]]:
    """The flows of consecutive input frames the warp error needs, the same for every method scored on them.

    Args:
        inputs: ``T`` RGB ``(H, W, 3)`` input frames, uint8 or float in [0, 1].
        flow_backend: a :class:`~lsvd.flow.base.FlowBackend`.

    Returns:
        ``T - 1`` pairs ``(F_f, M)``: float32 ``(1, 2, H, W)`` flow of frame ``t`` into ``t - 1`` and the bool
        ``(1, 1, H, W)`` non-occluded mask (:func:`non_occluded_mask`), on the CPU.
    """
    inp = _frames_to_tensor(inputs, "inputs")
    pairs = []
    with torch.no_grad():
        for t in range(1, inp.shape[0]):
            src, tgt = inp[t - 1 : t], inp[t : t + 1]
            flow_fw = flow_backend.estimate(source=src, target=tgt).float().cpu()
            flow_bw = flow_backend.estimate(source=tgt, target=src).float().cpu()
            pairs.append((flow_fw, non_occluded_mask(flow_fw, flow_bw).bool()))
    return pairs


def warp_error(
    outputs: Sequence[np.ndarray] | np.ndarray,
    inputs: Sequence[np.ndarray] | np.ndarray,
    flow_backend: FlowBackend,
    pair_flows: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> list[float]:
    """Lai et al.'s temporal warping error between consecutive outputs (see the module docstring).

    Args:
        outputs: ``T`` RGB ``(H, W, 3)`` output frames, uint8 or float in [0, 1].
        inputs: the ``T`` RGB input frames the flow is estimated on (same shape and scale rules).
        flow_backend: a :class:`~lsvd.flow.base.FlowBackend`.
        pair_flows: :func:`input_flows` of ``inputs`` when already computed (the benchmark computes them once
            per clip for every method); ``None``: computed here.

    Returns:
        ``T - 1`` floats, one per pair ``(t-1, t)``; empty for ``T < 2``.
    """
    out = _frames_to_tensor(outputs, "outputs")
    inp = _frames_to_tensor(inputs, "inputs")
    if out.shape != inp.shape:
        raise ValueError(f"outputs and inputs must have the same shape, found {tuple(out.shape)} and "
                         f"{tuple(inp.shape)}")
    if out.shape[0] < 2:
        return []
    pairs = input_flows(inputs, flow_backend) if pair_flows is None else pair_flows
    if len(pairs) != out.shape[0] - 1:
        raise ValueError(f"pair_flows: expected {out.shape[0] - 1} pairs for {out.shape[0]} frames, found {len(pairs)}")
    errors: list[float] = []
    with torch.no_grad():
        for t, (flow_fw, mask) in enumerate(pairs):
            mask = mask.to(out.dtype)
            warped = flow_warp(out[t : t + 1], flow_fw)
            sq = ((warped - out[t + 1 : t + 2]) ** 2).mean(1, keepdim=True)
            n = float(mask.sum())
            errors.append(float((sq * mask).sum()) / n if n > 0 else 0.0)
    return errors


@METRICS.register("warp_error")
def _warp_error() -> Metric:
    return Metric("warp_error", warp_error, higher_is_better=False, requires_reference="none",
                  value_range=(0.0, 1.0), kind="clip", aggregate="clip_mean",
                  citation="Lai et al., Learning Blind Video Temporal Consistency, ECCV 2018",
                  extra={"signature": "fn(outputs, inputs, flow_backend, pair_flows=None) -> list[float]",
                         "shares": "input_flows"})


__all__ = ["warp_error", "input_flows", "non_occluded_mask", "OCC_ALPHA", "OCC_BETA"]
