"""Learned baselines, trained with the same PS-frame self-supervision as SelfSVD.

Same data, aligned loss, discriminator, iteration budget, training loop and checkpoints as SelfSVD
(:class:`~baselines.learned.base.LearnedMethod`); only the network differs
(:mod:`baselines.learned.nets`), so a comparison isolates the architecture. None of them reads the
PS frame at test time. SelfSVD, SelfSVD* and the ablations are in :mod:`baselines.learned.selfsvd`.
"""

from __future__ import annotations

from baselines.learned.base import LearnedMethod


class AODNetMethod(LearnedMethod):
    """AOD-Net (single image, ~1.8k parameters)."""

    name = "aodnet"
    arch = "aodnet"
    citation = "Li, Peng, Wang, Xu, Feng, AOD-Net: All-in-One Dehazing Network, ICCV 2017"
    video = False
    uses_ps = False
    uses_mask = False


class NAFNetMethod(LearnedMethod):
    """A NAFNet-style U-Net (single image)."""

    name = "unet"
    arch = "unet"
    citation = "Chen, Chu, Zhang, Sun, Simple Baselines for Image Restoration (NAFNet), ECCV 2022"
    video = False
    uses_ps = False
    uses_mask = False


class BasicVSRMethod(LearnedMethod):
    """A BasicVSR-style bidirectional recurrent video network, without the PS-frame input."""

    name = "basicvsr"
    arch = "basicvsr"
    citation = "Chan, Wang, Yu, Dong, Loy, BasicVSR, CVPR 2021 (same-resolution restoration variant)"
    video = True
    uses_ps = False
    uses_mask = False


#: The method classes of this package, registered by the benchmark (baselines.catalogue).
METHOD_CLASSES: list = [AODNetMethod, NAFNetMethod, BasicVSRMethod]
