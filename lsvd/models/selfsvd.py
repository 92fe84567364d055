"""The SelfSVD generator ``SelfSVDNet`` in plain PyTorch (spec/selfsvd-official.md §3).

A BasicVSR++-like video network with a single forward (causal) recurrent branch:

1. ``feat_extract`` (two stride-2 convs + 5 residual blocks) turns every smoky frame into
   features at 1/4 resolution; ``ref_feat_extract`` (same structure, own weights) does the same
   for the pseudo-supervision (PS) frame, once per forward.
2. Flows come from a :class:`~lsvd.flow.FlowBackend` on bicubic x0.25 images (no antialias):
   ``ref_flow_i = flow(source=PS, target=frame_i)`` and
   ``flow_i = flow(source=frame_i, target=frame_{i+1})``.
3. The PS features are aligned to each frame with :func:`~lsvd.flow.flow_warp` and multiplied by
   ``1 - mask_i`` (the masking strategy: PS features are dropped on blocks flagged 1).
4. Forward propagation ``h_i = h'_{i-1} + backbone([spatial_i, h'_{i-1}, ref_i])`` with
   ``h'_{i-1} = flow_warp(h_{i-1}, flow_{i-1})``.
5. Reconstruction per frame, x4 pixel-shuffle upsampling, a zero-initialised 1x1 ``zero_conv`` and
   a global residual to the input, so the untrained network is the identity.

Module and attribute names follow the official code (and MMEditing's building blocks), so an
official generator state dict maps one to one (see :mod:`lsvd.models.convert`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lsvd.flow.base import FlowBackend, create_flow, flow_warp
from lsvd.models.registry import preset_value, register_network

#: ``preset name -> (mid_channels, num_blocks)``; ``"paper"`` is the official configuration.
PRESETS: dict[str, tuple[int, int]] = {"paper": (64, 60), "small": (32, 16), "tiny": (16, 2)}

_LRELU_SLOPE = 0.1
#: Initialisations of the pixel-shuffle upsamplers: the official Kaiming-normal, or ICNR.
UPSAMPLE_INITS = ("kaiming", "icnr")


def _kaiming_init_(module: nn.Module, scale: float = 1.0) -> None:
    """MMEditing ``default_init_weights``: Kaiming-normal (fan_in, a=0) x ``scale``, bias 0, on every conv."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in", nonlinearity="relu")
            with torch.no_grad():
                m.weight.mul_(scale)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ResidualBlockNoBN(nn.Module):
    """``x + conv2(relu(conv1(x)))`` (3x3 convs, bias), both convs Kaiming-normal x0.1, bias 0.

    Args:
        mid_channels: channels ``C`` of the input and output ``(N, C, H, W)``.
    """

    def __init__(self, mid_channels: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        _kaiming_init_(self, scale=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> ``(N, C, H, W)``."""
        return x + self.conv2(self.relu(self.conv1(x)))


class ResidualBlocksWithInputConv(nn.Module):
    """conv3x3 (``in -> out``) -> LeakyReLU(0.1) -> ``num_blocks`` x :class:`ResidualBlockNoBN`.

    State-dict names as in MMEditing: ``main.0`` (input conv), ``main.2.<i>.conv1/conv2``.
    The input conv keeps PyTorch's default init.

    Args:
        in_channels: input channels.
        out_channels: output (and residual block) channels.
        num_blocks: number of residual blocks (0 allowed).
    """

    def __init__(self, in_channels: int, out_channels: int = 64, num_blocks: int = 30) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=True),
            nn.LeakyReLU(negative_slope=_LRELU_SLOPE, inplace=True),
            nn.Sequential(*(ResidualBlockNoBN(out_channels) for _ in range(num_blocks))),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` -> ``(N, out_channels, H, W)``."""
        return self.main(x)


class PixelShufflePack(nn.Module):
    """conv (``in -> out * scale**2``, Kaiming-normal, bias 0) then ``pixel_shuffle(scale)``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        scale_factor: spatial upsampling factor.
        upsample_kernel: conv kernel size (odd).
    """

    def __init__(self, in_channels: int, out_channels: int, scale_factor: int, upsample_kernel: int) -> None:
        super().__init__()
        self.scale_factor = scale_factor
        self.upsample_conv = nn.Conv2d(in_channels, out_channels * scale_factor**2, upsample_kernel, 1,
                                       (upsample_kernel - 1) // 2)
        _kaiming_init_(self, scale=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in, H, W)`` -> ``(N, out, H * s, W * s)``."""
        return F.pixel_shuffle(self.upsample_conv(x), self.scale_factor)

    @torch.no_grad()
    def icnr_(self) -> None:
        """ICNR initialisation (Aitken et al. 2017, "Checkerboard artifact free sub-pixel convolution").

        The ``s**2`` sub-pixel kernels of every output channel are set to the same kernel (its
        first one), so that at initialisation the layer equals a conv followed by nearest-neighbour
        upsampling: no checkerboard. Draws no random numbers.
        """
        s2 = self.scale_factor**2
        weight, bias = self.upsample_conv.weight, self.upsample_conv.bias
        weight.copy_(weight[::s2].repeat_interleave(s2, dim=0))
        if bias is not None:
            bias.copy_(bias[::s2].repeat_interleave(s2, dim=0))


def _encoder(mid_channels: int) -> nn.Sequential:
    """Two stride-2 conv3x3 + LeakyReLU(0.1), then ResidualBlocksWithInputConv(mid, mid, 5): 1/4 resolution."""
    return nn.Sequential(
        nn.Conv2d(3, mid_channels, 3, 2, 1),
        nn.LeakyReLU(negative_slope=_LRELU_SLOPE, inplace=True),
        nn.Conv2d(mid_channels, mid_channels, 3, 2, 1),
        nn.LeakyReLU(negative_slope=_LRELU_SLOPE, inplace=True),
        ResidualBlocksWithInputConv(mid_channels, mid_channels, 5),
    )


def count_trainable_parameters(module: nn.Module) -> int:
    """Number of parameter values with ``requires_grad=True`` (a frozen flow network is not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class FlowHolder(nn.Module):
    """Holds the flow backend of a network: an ``nn.Module`` backend (PWC-Net) is a frozen submodule
    named :attr:`flow_attr` (kept in eval mode by :meth:`train`), any other backend stays outside the
    state dict. Subclasses call :meth:`set_flow` in ``__init__``."""

    flow_attr = "pwcnet"

    def set_flow(self, flow: str | FlowBackend, flow_kwargs: Mapping[str, Any] | None = None) -> None:
        backend = create_flow(flow, **dict(flow_kwargs or {})) if isinstance(flow, str) else flow
        if not isinstance(backend, FlowBackend):
            raise TypeError(f"flow: expected a backend name or a FlowBackend, found {type(backend).__name__}")
        if isinstance(backend, nn.Module):
            backend.requires_grad_(False)
            setattr(self, self.flow_attr, backend)
            self._flow_outside: FlowBackend | None = None
        else:
            self._flow_outside = backend

    @property
    def flow(self) -> FlowBackend:
        """The flow backend used for alignment."""
        if self._flow_outside is not None:
            return self._flow_outside
        return getattr(self, self.flow_attr)

    def train(self, mode: bool = True) -> FlowHolder:
        """Like ``nn.Module.train`` but a held flow network always stays in eval mode (it is frozen)."""
        super().train(mode)
        if self._flow_outside is None:
            getattr(self, self.flow_attr).eval()
        return self


@register_network("selfsvd")
class SelfSVDNet(FlowHolder):
    """The SelfSVD generator (spec §3), forward-only recurrent, with masked PS-frame features.

    Args:
        mid_channels: feature channels (64 in the paper).
        num_blocks: residual blocks of the propagation ``backbone['forward_1']`` (60 in the paper).
        flow: a flow backend name for :func:`lsvd.flow.create_flow` (``"dis"``, ``"pwcnet"``) or a
            :class:`~lsvd.flow.FlowBackend` instance. A backend that is an ``nn.Module`` (PWC-Net)
            is stored as the submodule ``pwcnet`` (state-dict keys ``pwcnet.net.*``, as officially),
            frozen; any other backend is kept outside the state dict.
        flow_kwargs: keyword arguments for :func:`~lsvd.flow.create_flow` when ``flow`` is a name.
        ps_input: read the PS frame (the method). ``False`` is the "no PS-frame input" ablation: no
            ``ref_feat_extract``, zeros in its place in the backbone input, a zero ``ref_feat``.

    Flows are computed without gradient (the official flow network is frozen and its inputs are
    the network inputs, so no trainable parameter is affected).
    """

    #: The sizes :meth:`from_preset` builds (:data:`PRESETS`).
    presets = PRESETS

    @classmethod
    def from_preset(cls, preset: str, *, flow: str | FlowBackend = "dis",
                    flow_kwargs: Mapping[str, Any] | None = None) -> SelfSVDNet:
        """A network of a named size (:data:`PRESETS`: ``"paper"``, ``"small"``, ``"tiny"``)."""
        mid, blocks = preset_value(cls, preset)
        return cls(mid, blocks, flow=flow, flow_kwargs=flow_kwargs)

    def __init__(
        self,
        mid_channels: int = 64,
        num_blocks: int = 60,
        flow: str | FlowBackend = "dis",
        flow_kwargs: Mapping[str, Any] | None = None,
        ps_input: bool = True,
    ) -> None:
        super().__init__()
        if mid_channels < 1 or num_blocks < 0:
            raise ValueError(f"expected mid_channels >= 1 and num_blocks >= 0, got {mid_channels} and {num_blocks}")
        self.mid_channels = mid_channels
        self.num_blocks = num_blocks

        self.ps_input = ps_input
        self.feat_extract = _encoder(mid_channels)
        self.ref_feat_extract = _encoder(mid_channels) if ps_input else None
        self.backbone = nn.ModuleDict({"forward_1": ResidualBlocksWithInputConv(3 * mid_channels, mid_channels,
                                                                                num_blocks)})
        self.reconstruction = ResidualBlocksWithInputConv(2 * mid_channels, mid_channels, 5)
        self.upsample1 = PixelShufflePack(mid_channels, mid_channels, 2, upsample_kernel=3)
        self.upsample2 = PixelShufflePack(mid_channels, mid_channels, 2, upsample_kernel=3)
        self.conv_hr = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1)
        self.conv_last = nn.Conv2d(mid_channels, 3, 3, 1, 1)
        self.zero_conv = nn.Conv2d(3, 3, 1, 1, 0)
        nn.init.zeros_(self.zero_conv.weight)
        nn.init.zeros_(self.zero_conv.bias)
        self.lrelu = nn.LeakyReLU(negative_slope=_LRELU_SLOPE, inplace=True)

        self.set_flow(flow, flow_kwargs)  # PWC-Net: submodule `pwcnet` (official state-dict keys pwcnet.net.*)

    def _check_inputs(self, lqs: torch.Tensor, ps: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if not isinstance(lqs, torch.Tensor) or lqs.ndim != 5 or lqs.shape[2] != 3:
            found = tuple(lqs.shape) if isinstance(lqs, torch.Tensor) else type(lqs).__name__
            raise ValueError(f"lqs: expected (N, T, 3, H, W) RGB, found {found}")
        n, t, _, h, w = lqs.shape
        if h % 4 or w % 4 or h < 4 or w < 4:
            raise ValueError(
                f"lqs: height and width must be positive multiples of 4 (two stride-2 encoders and a x4 "
                f"pixel-shuffle decoder), found {h}x{w}; crop or pad to {h // 4 * 4}x{w // 4 * 4}"
            )
        if t < 1:
            raise ValueError("lqs: expected at least one frame (T >= 1)")
        if not isinstance(ps, torch.Tensor) or tuple(ps.shape) != (n, 3, h, w):
            found = tuple(ps.shape) if isinstance(ps, torch.Tensor) else type(ps).__name__
            raise ValueError(f"ps: expected the PS frame as ({n}, 3, {h}, {w}), found {found}")
        expected = (n, t, 1, h // 4, w // 4)
        if mask is None:
            return lqs.new_zeros(expected)
        if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != expected:
            found = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"mask: expected (N, T, 1, H/4, W/4) = {expected} (1 = drop PS features), found {found}")
        return mask.to(lqs.dtype)

    def compute_flows(self, lqs: torch.Tensor, ps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Flows at 1/4 resolution on bicubic x0.25 images (no antialias), without gradient.

        Args:
            lqs: ``(N, T, 3, H, W)`` in [0, 1].
            ps: ``(N, 3, H, W)`` in [0, 1].

        Returns:
            ``(ref_flows, flows)``: ``(N, T, 2, H/4, W/4)`` from each frame into the PS frame, and
            ``(N, T-1, 2, H/4, W/4)`` from frame ``i+1`` into frame ``i`` (``None`` when ``T == 1``).
        """
        n, t, c, h, w = lqs.shape
        with torch.no_grad():
            lq_down = F.interpolate(lqs.reshape(n * t, c, h, w), scale_factor=0.25, mode="bicubic",
                                    align_corners=False).reshape(n, t, c, h // 4, w // 4)
            ps_down = F.interpolate(ps, scale_factor=0.25, mode="bicubic", align_corners=False)
            ref_down = ps_down[:, None].expand(-1, t, -1, -1, -1)
            hd, wd = h // 4, w // 4
            ref_flows = self.flow.estimate(ref_down.reshape(n * t, c, hd, wd), lq_down.reshape(n * t, c, hd, wd))
            ref_flows = ref_flows.to(lqs.dtype).reshape(n, t, 2, hd, wd)
            flows = None
            if t > 1:
                src = lq_down[:, :-1].reshape(n * (t - 1), c, hd, wd)
                tgt = lq_down[:, 1:].reshape(n * (t - 1), c, hd, wd)
                flows = self.flow.estimate(src, tgt).to(lqs.dtype).reshape(n, t - 1, 2, hd, wd)
        return ref_flows, flows

    def forward(self, lqs: torch.Tensor, ps: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Desmoke a clip.

        Args:
            lqs: smoky frames ``(N, T, 3, H, W)``, RGB in [0, 1]; ``H``, ``W`` multiples of 4.
            ps: the pseudo-supervision (PS) frame ``(N, 3, H, W)``, RGB in [0, 1].
            mask: ``(N, T, 1, H/4, W/4)``, 1 where the aligned PS features are dropped, 0 where
                kept; ``None`` means all zeros (PS features kept everywhere).

        Returns:
            ``{"out": (N, T, 3, H, W)`` (not clamped; equals ``lqs`` at init),
            ``"ref_feat": (N, C, H/4, W/4)`` unwarped, unmasked PS features (for the regulariser)}.
        """
        mask = self._check_inputs(lqs, ps, mask)
        n, t, c, h, w = lqs.shape
        ref_flows, flows = self.compute_flows(lqs, ps)

        feats = self.feat_extract(lqs.reshape(n * t, c, h, w)).reshape(n, t, -1, h // 4, w // 4)
        if self.ref_feat_extract is not None:
            ref_feat = self.ref_feat_extract(ps)
        else:  # ablation: no PS-frame input
            ref_feat = feats.new_zeros(n, self.mid_channels, h // 4, w // 4)

        hd, wd = h // 4, w // 4
        if self.ref_feat_extract is not None:  # the PS features aligned to every frame, masked, in one batch
            refs = flow_warp(ref_feat[:, None].expand(-1, t, -1, -1, -1).reshape(n * t, -1, hd, wd),
                             ref_flows.reshape(n * t, 2, hd, wd)).reshape(n, t, -1, hd, wd) * (1.0 - mask)
        else:
            refs = ref_feat[:, None].expand(-1, t, -1, -1, -1)

        hidden = feats.new_zeros(n, self.mid_channels, hd, wd)
        hiddens = []
        for i in range(t):  # the recurrence is sequential; everything per frame around it is batched
            if i > 0:
                assert flows is not None
                hidden = flow_warp(hidden, flows[:, i - 1])
            hidden = hidden + self.backbone["forward_1"](torch.cat([feats[:, i], hidden, refs[:, i]], dim=1))
            hiddens.append(hidden)
        if torch.is_grad_enabled():  # training: one batch of N*T frames (faster on CPU; same values)
            residual = self._reconstruct(feats.reshape(n * t, -1, hd, wd),
                                         torch.stack(hiddens, dim=1).reshape(n * t, -1, hd, wd)).reshape(n, t, c, h, w)
        else:  # inference: frame by frame, so the full-resolution tail holds one frame at a time
            residual = torch.stack([self._reconstruct(feats[:, i], hiddens[i]) for i in range(t)], dim=1)
        return {"out": residual + lqs, "ref_feat": ref_feat}

    def _reconstruct(self, feat: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """``(N, C, h, w)`` x2 -> residual image ``(N, 3, 4h, 4w)``."""
        x = self.reconstruction(torch.cat([feat, hidden], dim=1))
        x = self.lrelu(self.upsample1(x))
        x = self.lrelu(self.upsample2(x))
        x = self.lrelu(self.conv_hr(x))
        return self.zero_conv(self.conv_last(x))


def init_upsamplers(net: nn.Module, scheme: str) -> nn.Module:
    """Re-initialise every :class:`PixelShufflePack` of ``net``: ``"kaiming"`` (official, unchanged) or ``"icnr"``.

    Returns ``net``. ICNR removes the checkerboard the official initialisation puts in the residual
    branch (at init 92% of its energy sits at the 2- and 4-pixel periods; see ``README``).
    """
    if scheme not in UPSAMPLE_INITS:
        raise ValueError(f"upsample init: expected one of {UPSAMPLE_INITS}, found {scheme!r}")
    if scheme == "icnr":
        for m in net.modules():
            if isinstance(m, PixelShufflePack):
                m.icnr_()
    return net


def build_selfsvd(preset: str = "paper", *, flow: str | FlowBackend = "dis", **kwargs: Any) -> SelfSVDNet:
    """A :class:`SelfSVDNet` of a named size (:data:`PRESETS`: ``"paper"``, ``"small"``, ``"tiny"``).

    Args:
        preset: key of :data:`PRESETS`.
        flow: flow backend name or instance (see :class:`SelfSVDNet`).
        kwargs: further :class:`SelfSVDNet` arguments (``flow_kwargs``).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown SelfSVD preset {preset!r}: expected one of {', '.join(PRESETS)}")
    mid, blocks = PRESETS[preset]
    return SelfSVDNet(mid, blocks, flow=flow, **kwargs)


@register_network("selfsvd_nops")
class SelfSVDNoPSNet(SelfSVDNet):
    """Ablation: :class:`SelfSVDNet` without the PS-frame input (``ps_input=False``: its aligned
    features are replaced by zeros everywhere)."""

    def __init__(self, mid_channels: int = 64, num_blocks: int = 60, flow: str | FlowBackend = "dis",
                 flow_kwargs: Mapping[str, Any] | None = None) -> None:
        super().__init__(mid_channels, num_blocks, flow, flow_kwargs, ps_input=False)
