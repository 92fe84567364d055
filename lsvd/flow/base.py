"""The flow interface, its registry and the two warping conventions of the official code.

Conventions shared by every backend:

- images are float tensors ``(N, 3, H, W)``, RGB in [0, 1];
- a flow is a float tensor ``(N, 2, H, W)`` in pixels, channels first, channel 0 = x (columns),
  channel 1 = y (rows);
- ``backend.estimate(source, target)`` returns the flow defined on the **target** grid that points
  into the **source**, so ``backward_warp(source, flow)`` (or ``flow_warp``) approximates ``target``.

Two warps, because the official code uses two slightly different ones (spec/selfsvd-official.md):

- :func:`backward_warp`: the PWC-Net wrapper's ``get_backwarp`` (spec §3.3), used for the mask
  pipeline, the reconstruction loss and the aligned metrics. It mixes an ``align_corners=False``
  grid with a ``(W - 1) / 2`` flow normalisation, so a flow of ``f`` pixels actually samples
  ``f * W / (W - 1)`` pixels away (a tiny, deliberate reproduction of the official behaviour).
- :func:`flow_warp`: MMEditing's ``flow_warp`` (spec §3.1), used for feature alignment in the
  generator; exact pixel offsets (``align_corners=True``).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F

from lsvd.registry import Registry

__all__ = ["FLOWS", "FlowBackend", "backward_warp", "check_image_pair", "create_flow", "flow_warp", "list_flows"]

#: Every flow backend, by name. Built-ins are imported on first use (never at toolkit import).
FLOWS: Registry[Any] = Registry("flow", builtins=["lsvd.flow.dis", "lsvd.flow.pwcnet"])


class FlowBackend:
    """Base class of dense optical flow estimators (register subclasses with ``@FLOWS.register``).

    Attributes:
        name: registry name, recorded with every result that used the flow.
        differentiable: whether gradients reach ``source`` and ``target`` through :meth:`estimate`.
    """

    name: str = ""
    differentiable: bool = False

    def estimate(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Flow from ``target`` into ``source``.

        Args:
            source: float ``(N, 3, H, W)`` RGB in [0, 1], the image that will be warped.
            target: float ``(N, 3, H, W)`` RGB in [0, 1], the grid the flow is defined on.

        Returns:
            float32 ``(N, 2, H, W)`` flow in pixels (x then y) on ``source``'s device, such that
            ``backward_warp(source, flow)`` approximates ``target``.
        """
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """What identifies this backend's output (name and options), for provenance records."""
        return {"name": self.name}

    def __call__(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.estimate(source, target)


def create_flow(name: str, **kwargs: Any) -> FlowBackend:
    """Build the flow backend registered as ``name`` (e.g. ``"dis"``, ``"pwcnet"``) with ``kwargs``."""
    return FLOWS.create(name, **kwargs)


def list_flows(pattern: str = "*") -> list[str]:
    """Registered flow names matching the glob ``pattern``, sorted."""
    return FLOWS.list(pattern)


def check_image_pair(source: torch.Tensor, target: torch.Tensor) -> None:
    """Raise ``ValueError`` unless both are float ``(N, 3, H, W)`` tensors of the same shape."""
    for label, x in (("source", source), ("target", target)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{label}: expected a torch.Tensor (N, 3, H, W), found {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"{label}: expected shape (N, 3, H, W) RGB, found {tuple(x.shape)}; "
                "add a batch dimension with x[None] or convert grayscale with x.expand(-1, 3, -1, -1)"
            )
        if not x.is_floating_point():
            raise ValueError(f"{label}: expected a float tensor in [0, 1], found {x.dtype}; use x.float() / 255")
    if source.shape != target.shape:
        raise ValueError(
            f"source and target must have the same shape, found {tuple(source.shape)} and {tuple(target.shape)}"
        )


def _check_flow(x: torch.Tensor, flow: torch.Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected the image/features as (N, C, H, W), found shape {tuple(x.shape)}")
    n, _, h, w = x.shape
    if flow.ndim != 4 or flow.shape[1] != 2:
        hint = "; it looks channels-last, use flow.permute(0, 3, 1, 2)" if flow.ndim == 4 and flow.shape[3] == 2 else ""
        raise ValueError(f"expected flow as (N, 2, H, W) (channels first), found {tuple(flow.shape)}{hint}")
    if flow.shape[0] != n or flow.shape[2:] != (h, w):
        raise ValueError(
            f"flow {tuple(flow.shape)} does not match the input {tuple(x.shape)}: expected ({n}, 2, {h}, {w})"
        )


def backward_warp(
    source: torch.Tensor, flow: torch.Tensor, *, threshold: float = 0.999
) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp ``source`` onto the flow's grid, the official PWC-Net wrapper's way (spec §3.3 ``get_backwarp``).

    Grid ``x = linspace(-1 + 1/W, 1 - 1/W, W)`` (likewise y), flow normalised by ``(W - 1) / 2`` and
    ``(H - 1) / 2`` (so ``f`` pixels sample ``f * W / (W - 1)`` pixels away), bilinear
    ``grid_sample`` with zeros padding and ``align_corners=False``. A ones-plane is warped along and
    thresholded (``> threshold`` -> 1, else 0) into the validity mask.

    Args:
        source: float ``(N, C, H, W)`` image or features.
        flow: float ``(N, 2, H, W)`` pixels, x then y, on the output grid pointing into ``source``.
        threshold: minimum warped ones-plane value counted as valid.

    Returns:
        ``(warped * valid, valid)``: ``(N, C, H, W)`` and ``(N, 1, H, W)`` of 0./1. in ``source``'s
        dtype. Differentiable w.r.t. ``source`` and ``flow``; ``valid`` is constant (no gradient).
    """
    _check_flow(source, flow)
    n, _, h, w = source.shape
    flow = flow.to(source.dtype)
    base_x = torch.linspace(-1.0 + 1.0 / w, 1.0 - 1.0 / w, w, dtype=source.dtype, device=source.device)
    base_y = torch.linspace(-1.0 + 1.0 / h, 1.0 - 1.0 / h, h, dtype=source.dtype, device=source.device)
    grid_x = base_x.view(1, 1, w) + flow[:, 0] / (max(w - 1, 1) / 2.0)
    grid_y = base_y.view(1, h, 1) + flow[:, 1] / (max(h - 1, 1) / 2.0)
    grid = torch.stack((grid_x, grid_y), dim=-1)
    warped = F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    with torch.no_grad():
        ones = source.new_ones((n, 1, h, w))
        coverage = F.grid_sample(ones, grid.detach(), mode="bilinear", padding_mode="zeros", align_corners=False)
        valid = (coverage > threshold).to(source.dtype)
    return warped * valid, valid


def flow_warp(
    x: torch.Tensor, flow: torch.Tensor, *, padding_mode: Literal["zeros", "border", "reflection"] = "zeros"
) -> torch.Tensor:
    """Warp ``x`` by ``flow`` the MMEditing way (spec §3.1): ``out[y, x] = x[y + fy, x + fx]`` (bilinear).

    Pixel flow normalised by ``W - 1`` and ``H - 1``, ``grid_sample`` with ``align_corners=True``,
    so integer flows move pixels exactly. Unlike MMEditing (flow ``(N, H, W, 2)``), the flow here is
    channels first, ``(N, 2, H, W)``, like every flow in this package.

    Args:
        x: float ``(N, C, H, W)`` image or features.
        flow: float ``(N, 2, H, W)`` pixels, x then y, on the output grid pointing into ``x``.
        padding_mode: ``grid_sample`` padding for samples outside ``x``.

    Returns:
        float ``(N, C, H, W)``, differentiable w.r.t. ``x`` and ``flow``.
    """
    _check_flow(x, flow)
    _, _, h, w = x.shape
    flow = flow.to(x.dtype)
    cols = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, w)
    rows = torch.arange(h, dtype=x.dtype, device=x.device).view(1, h, 1)
    grid_x = 2.0 * (cols + flow[:, 0]) / max(w - 1, 1) - 1.0
    grid_y = 2.0 * (rows + flow[:, 1]) / max(h - 1, 1) - 1.0
    grid = torch.stack((grid_x, grid_y), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)
