"""The registry of trainable desmoking networks (``arch`` in training configs and checkpoints).

    net = build_model("selfsvd", "tiny", flow="dis")        # any registered architecture and size
    list_models()                                            # ['aodnet', 'basicvsr', 'selfsvd', ...]
    network_presets("aodnet")                                # ('paper', 'small', 'tiny'): its sizes

A network is an ``nn.Module`` class registered with :func:`register_network`, which sets its
``arch``. The class says which sizes it accepts and builds itself at one of them:

    @register_network("mynet")
    class MyNet(nn.Module):
        presets = {"paper": 64, "small": 32, "tiny": 8}      # size name -> whatever from_preset needs

        @classmethod
        def from_preset(cls, preset, *, flow="dis", flow_kwargs=None):
            return cls(preset_value(cls, preset))             # networks without a flow ignore it

``paper`` is the published size, ``small`` the CPU one and ``tiny`` the tests' (training presets
pick one of them with ``model``). Every network follows the SelfSVDNet contract so that one
training loop (:mod:`lsvd.train`) and one inference path serve them all:

    out = net(lqs (N, T, 3, H, W) in [0, 1], ps (N, 3, H, W), mask (N, T, 1, H/4, W/4) | None)
    out["out"]       (N, T, 3, H, W), not clamped
    out["ref_feat"]  PS-frame features for the 0.05 regulariser (a zero tensor when the network
                     does not read the PS frame)

Single-image networks process each frame independently; H and W multiples of 4.

Where the registry finds networks: :mod:`lsvd.models.selfsvd`, and every module or package named
in the ``lsvd.networks`` entry-point group of an installed distribution (the toolkit's own
``pyproject.toml`` declares the networks defined outside :mod:`lsvd` there), imported on the first
lookup; :mod:`lsvd` itself never imports them. Importing a module that registers networks also
adds them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

from lsvd.registry import Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "MODELS",
    "build_model",
    "list_models",
    "network_presets",
    "preset_value",
    "register_network",
]

#: The entry-point group naming modules or packages that register networks.
ENTRY_POINT_GROUP = "lsvd.networks"

MODELS: Registry[type[nn.Module]] = Registry("model", builtins=["lsvd.models.selfsvd"],
                                             entry_points=ENTRY_POINT_GROUP)

N = TypeVar("N", bound=type[nn.Module])


def register_network(arch: str) -> Callable[[N], N]:
    """Class decorator: register an ``nn.Module`` class as architecture ``arch`` (sets ``cls.arch``).

    The class must have ``presets`` (a non-empty mapping: size name -> its arguments) and a
    ``from_preset(preset, *, flow, flow_kwargs)`` classmethod; ``TypeError`` otherwise.
    """

    def deco(cls: N) -> N:
        where = f"network {arch!r} ({cls.__module__}.{cls.__qualname__})"
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise TypeError(f"{where}: expected an nn.Module class")
        if not isinstance(getattr(cls, "presets", None), Mapping) or not cls.presets:
            raise TypeError(f"{where}: expected a non-empty `presets` mapping (size name -> arguments)")
        if not callable(getattr(cls, "from_preset", None)):
            raise TypeError(f"{where}: expected a `from_preset(preset, *, flow, flow_kwargs)` classmethod")
        declared = cls.__dict__.get("arch", arch)
        if declared != arch:
            raise ValueError(f"{where}: declares arch {declared!r} but is registered as {arch!r}")
        cls.arch = arch  # type: ignore[attr-defined]
        return MODELS.register(arch)(cls)

    return deco


def preset_value(cls: type[nn.Module], preset: str) -> Any:
    """``cls.presets[preset]``; ``ValueError`` naming the sizes ``cls`` accepts otherwise."""
    presets: Mapping[str, Any] = cls.presets  # type: ignore[attr-defined]
    if preset not in presets:
        name = getattr(cls, "arch", cls.__name__)
        raise ValueError(f"unknown {name} preset {preset!r}: expected one of {', '.join(presets)}")
    return presets[preset]


def build_model(arch: str, preset: str, *, flow: Any = "dis", flow_kwargs: Mapping[str, Any] | None = None
                ) -> nn.Module:
    """Build architecture ``arch`` at size ``preset`` (``KeyError`` listing the known architectures,
    ``ValueError`` listing its sizes otherwise)."""
    cls = MODELS.get(arch)
    preset_value(cls, preset)
    return cls.from_preset(preset, flow=flow, flow_kwargs=flow_kwargs)  # type: ignore[attr-defined]


def network_presets(arch: str) -> tuple[str, ...]:
    """The sizes architecture ``arch`` accepts (``KeyError`` listing the known architectures)."""
    return tuple(MODELS.get(arch).presets)  # type: ignore[attr-defined]


def list_models(pattern: str = "*") -> list[str]:
    """Registered architectures matching a glob ``pattern``, sorted."""
    return MODELS.list(pattern)
