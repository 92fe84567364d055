"""Networks of the SelfSVD method: the generator, the PatchGAN discriminator and checkpoint conversion.

    from lsvd.models import build_selfsvd, PatchDiscriminator
    net = build_selfsvd("tiny", flow="dis")
    out = net(lqs, ps, mask)["out"]          # (N, T, 3, H, W), same range as lqs (no clamp)

Every architecture (these and the networks other packages register) is built by name through
:mod:`lsvd.models.registry` (``build_model(arch, preset)``). Submodules import only torch,
:mod:`lsvd.flow` (flow backends are built on first use) and :mod:`lsvd.registry`.
"""

from __future__ import annotations

from lsvd.models.convert import load_official_discriminator, load_official_generator
from lsvd.models.discriminator import PatchDiscriminator
from lsvd.models.selfsvd import (
    PRESETS,
    PixelShufflePack,
    ResidualBlockNoBN,
    ResidualBlocksWithInputConv,
    SelfSVDNet,
    SelfSVDNoPSNet,
    build_selfsvd,
    count_trainable_parameters,
)

__all__ = [
    "PRESETS",
    "PatchDiscriminator",
    "PixelShufflePack",
    "ResidualBlockNoBN",
    "ResidualBlocksWithInputConv",
    "SelfSVDNet",
    "SelfSVDNoPSNet",
    "build_selfsvd",
    "count_trainable_parameters",
    "load_official_discriminator",
    "load_official_generator",
]
