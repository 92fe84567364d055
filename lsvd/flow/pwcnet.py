"""PWC-Net (Sun et al., CVPR 2018) in plain PyTorch: the sniklaus ``pytorch-pwc`` network the official
SelfSVD code uses, without cupy (spec/selfsvd-official.md §3.3, §7.1, §7.2).

Same architecture and the same state-dict names as pytorch-pwc's ``run.py`` (``netExtractor``,
``netTwo`` .. ``netSix``, ``netRefiner``; 9,374,274 parameters), so its ``network-default`` weights
load unchanged. The cost volume is a loop over the 81 displacements (:func:`correlation`), so it
runs on CPU and GPU and autograd provides its backward.

Weights (:func:`extract_pwcnet_state_dict` reads all of these):

- the sniklaus file ``network-default.pytorch`` (old ``module*`` names, e.g.
  ``moduleExtractor.moduleOne.0.weight``, are renamed ``net*`` as the official code does);
- the official ``pretrained_dirs/pwcnet-network-default.pth`` (the same weights);
- an official SelfSVD checkpoint (mmcv: ``{"meta": ..., "state_dict": {...}}``). Its generator
  holds a ``PWCNet`` wrapper whose inner network is ``net``, so we expect the keys
  ``generator.pwcnet.net.netExtractor.netOne.0.weight`` etc. (the loss network ``alignnet``, if
  saved too, would be ``alignnet.net.*``). Rather than hard-coding that guess, any prefix that ends
  right before ``netExtractor.`` is accepted (``module.``, ``net.``, ``generator.pwcnet.net.``, ...);
  when several networks are present, the generator's (a prefix containing ``generator.pwcnet.``) is
  chosen, otherwise pass ``prefix=``.

The default weights file is ``$LSVD_HOME/weights/pwcnet-network-default.pth``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lsvd.constants import lsvd_home
from lsvd.flow.base import FLOWS, FlowBackend, backward_warp, check_image_pair
from lsvd.io.hashing import file_sha256

log = logging.getLogger(__name__)

#: File names looked up in ``$LSVD_HOME/weights`` when no weights are given (first match wins).
DEFAULT_WEIGHTS_FILES = ("pwcnet-network-default.pth", "network-default.pytorch")
#: The network's top-level state-dict names (pytorch-pwc ``run.py``).
TOP_LEVEL_NAMES = ("netExtractor", "netTwo", "netThr", "netFou", "netFiv", "netSix", "netRefiner")
_ANCHOR = "netExtractor.netOne.0.weight"
_STAGES = ("netOne", "netTwo", "netThr", "netFou", "netFiv", "netSix")
_PYRAMID_CHANNELS = (16, 32, 64, 96, 128, 196)  # extractor levels 1..6
_DENSE_CHANNELS = (128, 128, 96, 64, 32)
_REFINER = ((128, 1), (128, 2), (128, 4), (96, 8), (64, 16), (32, 1), (2, 1))  # (out channels, dilation)
_CORR_CHANNELS = 81


def correlation(first: torch.Tensor, second: torch.Tensor, max_displacement: int = 4) -> torch.Tensor:
    """Cost volume of pytorch-pwc's cupy layer (kernel 1, stride 1), in plain PyTorch (differentiable).

    ``out[:, (dy + d) * (2d + 1) + (dx + d), y, x] = mean_c first[:, c, y, x] * second[:, c, y + dy, x + dx]``
    for ``dy, dx`` in ``[-d, d]``, zero where ``second`` is sampled outside the image.

    Args:
        first, second: float ``(N, C, H, W)`` features.
        max_displacement: ``d`` (4 in PWC-Net, 81 channels).

    Returns:
        ``(N, (2d + 1)**2, H, W)``; the LeakyReLU that follows in PWC-Net is not applied here.
    """
    if first.shape != second.shape or first.ndim != 4:
        raise ValueError(f"expected two (N, C, H, W) features of one shape, found {tuple(first.shape)} and "
                         f"{tuple(second.shape)}")
    d = max_displacement
    h, w = first.shape[-2:]
    padded = F.pad(second, (d, d, d, d))
    size = 2 * d + 1
    planes = [(first * padded[:, :, i:i + h, j:j + w]).mean(dim=1) for i in range(size) for j in range(size)]
    return torch.stack(planes, dim=1)


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=dilation, dilation=dilation)


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(negative_slope=0.1)


def _decoder_channels(level: int) -> int:
    """Input channels of the level's dense block: 81 at level 6, else 81 + features + flow + upfeat."""
    return _CORR_CHANNELS if level == 6 else _CORR_CHANNELS + _PYRAMID_CHANNELS[level - 1] + 2 + 2


class _Extractor(nn.Module):
    """Six levels (``netOne`` .. ``netSix``) of conv3x3 stride 2 + 2 conv3x3, LeakyReLU(0.1) after each."""

    def __init__(self) -> None:
        super().__init__()
        cin = 3
        for stage, cout in zip(_STAGES, _PYRAMID_CHANNELS, strict=True):
            self.add_module(stage, nn.Sequential(_conv(cin, cout, stride=2), _lrelu(), _conv(cout, cout), _lrelu(),
                                                 _conv(cout, cout), _lrelu()))
            cin = cout

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        levels = []
        for stage in _STAGES:
            x = getattr(self, stage)(x)
            levels.append(x)
        return levels  # resolutions 1/2 .. 1/64


class _Decoder(nn.Module):
    """One pyramid level: cost volume, DenseNet-style block (``netOne`` .. ``netFiv``), flow (``netSix``)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level
        cin = _decoder_channels(level)
        if level < 6:
            self.netUpflow = nn.ConvTranspose2d(2, 2, kernel_size=4, stride=2, padding=1)
            previous = _decoder_channels(level + 1) + sum(_DENSE_CHANNELS)
            self.netUpfeat = nn.ConvTranspose2d(previous, 2, kernel_size=4, stride=2, padding=1)
            # The network's flow is in units of 20 px at full resolution: x20 / 2**level at this level.
            self.backwarp_scale = 20.0 / 2**level  # 0.625, 1.25, 2.5, 5.0 at levels 5..2
        for stage, cout in zip(_STAGES[:5], _DENSE_CHANNELS, strict=True):
            self.add_module(stage, nn.Sequential(_conv(cin, cout), _lrelu()))
            cin += cout
        self.netSix = nn.Sequential(_conv(cin, 2))

    def forward(
        self, first: torch.Tensor, second: torch.Tensor, previous: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if previous is None:
            feat = F.leaky_relu(correlation(first, second), 0.1)
        else:
            flow = self.netUpflow(previous[0])
            upfeat = self.netUpfeat(previous[1])
            warped, _ = backward_warp(second, flow * self.backwarp_scale)
            volume = F.leaky_relu(correlation(first, warped), 0.1)
            feat = torch.cat([volume, first, flow, upfeat], dim=1)
        for stage in _STAGES[:5]:
            feat = torch.cat([getattr(self, stage)(feat), feat], dim=1)
        return self.netSix(feat), feat


class _Refiner(nn.Module):
    """Context network on the level-2 features (565 channels): dilated convs 1, 2, 4, 8, 16, 1, 1."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = _decoder_channels(2) + sum(_DENSE_CHANNELS)
        for k, (cout, dilation) in enumerate(_REFINER):
            layers.append(_conv(cin, cout, dilation=dilation))
            if k < len(_REFINER) - 1:
                layers.append(_lrelu())
            cin = cout
        self.netMain = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.netMain(x)


class PWCNet(nn.Module):
    """The bare network (pytorch-pwc ``Network``): ``forward(first, second)`` -> raw 1/4-res flow.

    Args of ``forward``:
        first, second: float ``(N, 3, H, W)``, H and W multiples of 64.

    Returns:
        ``(N, 2, H/4, W/4)`` flow from ``first`` into ``second`` in units of 20 px at full
        resolution (the wrapper multiplies by 20 after upsampling).
    """

    def __init__(self) -> None:
        super().__init__()
        self.netExtractor = _Extractor()
        self.netTwo = _Decoder(2)
        self.netThr = _Decoder(3)
        self.netFou = _Decoder(4)
        self.netFiv = _Decoder(5)
        self.netSix = _Decoder(6)
        self.netRefiner = _Refiner()

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        h, w = first.shape[-2:]
        if h % 64 or w % 64 or first.shape != second.shape:
            raise ValueError(f"PWCNet expects two (N, 3, H, W) inputs with H and W multiples of 64, found "
                             f"{tuple(first.shape)} and {tuple(second.shape)}; use PWCNetFlow.estimate, which resizes")
        pyramid_one = self.netExtractor(first)
        pyramid_two = self.netExtractor(second)
        estimate = self.netSix(pyramid_one[5], pyramid_two[5], None)
        for decoder, level in ((self.netFiv, 5), (self.netFou, 4), (self.netThr, 3), (self.netTwo, 2)):
            estimate = decoder(pyramid_one[level - 1], pyramid_two[level - 1], estimate)
        flow, feat = estimate
        return flow + self.netRefiner(feat)


# --- weights -------------------------------------------------------------------------------------


def default_weights_path() -> Path:
    """``$LSVD_HOME/weights/pwcnet-network-default.pth`` (where the default lookup expects the weights)."""
    return lsvd_home() / "weights" / DEFAULT_WEIGHTS_FILES[0]


def _missing_weights_error(looked_at: list[Path]) -> FileNotFoundError:
    places = ", ".join(str(p) for p in looked_at)
    return FileNotFoundError(
        f"PWC-Net weights not found (looked for {places}). The 'pwcnet' flow needs either the pytorch-pwc "
        "'network-default' weights by Simon Niklaus (https://github.com/sniklaus/pytorch-pwc, file "
        "network-default.pytorch; the official SelfSVD repository fetches the same file as "
        "pretrained_dirs/pwcnet-network-default.pth with mmedit/models/external/pwcnet/download.bash), or an "
        "official SelfSVD checkpoint (selfsvd.pth / selfsvdstar.pth), which contains them. Put the file at "
        f"{default_weights_path()} (the default lookup, under $LSVD_HOME) or pass it explicitly: "
        "create_flow('pwcnet', weights=PATH) in Python, --flow-weights PATH on the command line. "
        "The 'dis' flow needs no weights."
    )


def resolve_weights(weights: str | os.PathLike[str] | None) -> Path:
    """The weights file to load: ``weights`` itself, or the first default file under ``$LSVD_HOME/weights``."""
    if weights is None:
        candidates = [lsvd_home() / "weights" / name for name in DEFAULT_WEIGHTS_FILES]
    else:
        path = Path(weights).expanduser()
        candidates = [path / name for name in DEFAULT_WEIGHTS_FILES] if path.is_dir() else [path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise _missing_weights_error(candidates)


def _unwrap(obj: Any) -> Mapping[str, Any]:
    """The state dict inside a checkpoint (mmcv ``state_dict``, BasicSR ``params``/``params_ema``)."""
    while isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("state_dict", "params", "params_ema", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
        else:
            break
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a state dict (a mapping of names to tensors), found {type(obj).__name__}")
    return obj


def extract_pwcnet_state_dict(
    state: Mapping[str, Any], *, prefix: str | None = None, source: str = "the given state dict"
) -> dict[str, torch.Tensor]:
    """PWC-Net weights with the official names, from any of the layouts in the module docstring.

    Args:
        state: a state dict or a checkpoint holding one (``{"state_dict": ...}``).
        prefix: the key prefix in front of ``netExtractor.`` (after renaming ``module*`` to ``net*``);
            ``None`` finds it (``""``, then one containing ``generator.pwcnet.``, then the only one).
        source: where ``state`` came from, for error messages.

    Returns:
        ``{"netExtractor.netOne.0.weight": tensor, ...}`` (only the network's own keys).
    """
    tensors = {re.sub(r"\bmodule(?=[A-Z])", "net", k): v for k, v in _unwrap(state).items()
               if isinstance(v, torch.Tensor)}
    if prefix is None:
        found = sorted({k[: -len(_ANCHOR)] for k in tensors if k.endswith(_ANCHOR)}, key=lambda p: (len(p), p))
        found = [p for p in found if p == "" or p.endswith(".")]
        generator = [p for p in found if "generator.pwcnet." in p]
        if not found:
            sample = ", ".join(list(tensors)[:5]) or "no tensors"
            raise ValueError(f"no PWC-Net weights in {source}: expected keys like '{_ANCHOR}' (optionally behind a "
                             f"prefix such as 'module.' or 'generator.pwcnet.net.'), found {sample}; pass the "
                             "pytorch-pwc network-default weights or an official SelfSVD checkpoint")
        if "" in found:
            prefix = ""
        elif generator:
            prefix = generator[0]
        elif len(found) == 1:
            prefix = found[0]
        else:
            raise ValueError(f"{source} holds several PWC-Nets (key prefixes {found}); choose one with prefix=...")
        log.debug("PWC-Net weights from %s under prefix %r", source, prefix)
    out = {}
    for key, value in tensors.items():
        if key.startswith(prefix) and key[len(prefix):].split(".", 1)[0] in TOP_LEVEL_NAMES:
            out[key[len(prefix):]] = value
    if not out:
        raise ValueError(f"no PWC-Net weights under prefix {prefix!r} in {source}")
    return out


def load_pwcnet_weights(path: str | os.PathLike[str], *, prefix: str | None = None) -> dict[str, torch.Tensor]:
    """Read a weights file or checkpoint (``torch.load(weights_only=True)``, CPU) and extract PWC-Net's weights.

    Raises:
        lsvd.io.weights.CheckpointError: the file is empty, truncated, not a PyTorch file, or an unsafe
            pickle (refused before any of it runs).
        ValueError: it holds no PWC-Net weights.
    """
    from lsvd.io.weights import load_torch_file

    obj = load_torch_file(path, expected="PWC-Net weights (the pytorch-pwc network-default file or an official "
                                         "SelfSVD checkpoint)",
                          advice="give another weights file (flow_weights=PATH, --flow-weights PATH)")
    return extract_pwcnet_state_dict(obj, prefix=prefix, source=str(path))


def _load_strict(net: PWCNet, state: Mapping[str, torch.Tensor], source: str) -> None:
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
                  for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or mismatched:
        parts = [f"{label}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''} ({len(items)})"
                 for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched))
                 if items]
        raise ValueError(f"the PWC-Net weights from {source} do not fit the pytorch-pwc architecture: "
                         f"{'; '.join(parts)}. Expected the 'network-default' weights or an official SelfSVD "
                         "checkpoint")
    net.load_state_dict(state)


@FLOWS.register("pwcnet")
class PWCNetFlow(nn.Module, FlowBackend):
    """Frozen PWC-Net behind the :class:`FlowBackend` interface, exactly as the official wrapper runs it.

    ``estimate(source, target)`` (spec §3.3 ``offset_estimate``): resize both bilinearly
    (``align_corners=False``) to ``ceil(H/64)*64 x ceil(W/64)*64``, run ``net(target, source)``
    (flow on the target grid into the source), upsample the 1/4-res output to ``(H, W)``
    bilinearly, multiply by 20, then x by ``W / W64`` and y by ``H / H64``. Inputs are fed as
    RGB in [0, 1], as the official code does, although the weights were trained on BGR input
    (sniklaus' ``run.py`` flips channels); we match the official numbers, not the original model.

    An ``nn.Module`` (the inner network is ``self.net``, so a generator holding it as ``pwcnet``
    saves ``pwcnet.net.netExtractor...`` like the official one). Parameters are frozen
    (``requires_grad=False``) but gradients flow to the inputs.

    Args:
        weights: a weights file / checkpoint path (or a folder holding
            ``pwcnet-network-default.pth``), an already loaded state dict or checkpoint, or ``None``
            for ``$LSVD_HOME/weights/pwcnet-network-default.pth``.
        device: where the network runs; ``None`` picks CUDA when available, else CPU. Inputs on
            another device are moved there and the flow comes back on the inputs' device.
        prefix: the key prefix of the network inside ``weights`` (see
            :func:`extract_pwcnet_state_dict`); ``None`` finds it.
    """

    name = "pwcnet"
    differentiable = True

    def __init__(
        self,
        weights: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        device: str | torch.device | None = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__()
        self.net = PWCNet()
        self.weights_sha256: str | None = None
        if isinstance(weights, Mapping):
            self.weights_source = "state dict"
            state = extract_pwcnet_state_dict(weights, prefix=prefix)
        else:
            path = resolve_weights(weights)
            self.weights_source = str(path)
            state = load_pwcnet_weights(path, prefix=prefix)
            self.weights_sha256 = file_sha256(path)
        _load_strict(self.net, state, self.weights_source)
        self.net.requires_grad_(False)
        self.eval()
        self.to(torch.device(device) if device is not None else
                torch.device("cuda" if torch.cuda.is_available() else "cpu"))

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "weights": self.weights_source, "weights_sha256": self.weights_sha256}

    def estimate(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``source``, ``target``: float ``(N, 3, H, W)`` RGB in [0, 1] -> ``(N, 2, H, W)`` pixels.

        The flow is float32 (float64 if the network was converted with ``.double()``), on
        ``source``'s device, differentiable w.r.t. both inputs.
        """
        check_image_pair(source, target)
        param = next(self.net.parameters())
        h, w = source.shape[-2:]
        h64, w64 = math.ceil(h / 64) * 64, math.ceil(w / 64) * 64
        src = source.to(param.device, param.dtype)
        tgt = target.to(param.device, param.dtype)
        if (h64, w64) != (h, w):
            src = F.interpolate(src, size=(h64, w64), mode="bilinear", align_corners=False)
            tgt = F.interpolate(tgt, size=(h64, w64), mode="bilinear", align_corners=False)
        raw = self.net(tgt, src)
        flow = 20.0 * F.interpolate(raw, size=(h, w), mode="bilinear", align_corners=False)
        scale = torch.tensor([w / w64, h / h64], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
        flow = flow * scale
        if flow.dtype in (torch.float16, torch.bfloat16):
            flow = flow.float()
        return flow.to(source.device)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`estimate`."""
        return self.estimate(source, target)
