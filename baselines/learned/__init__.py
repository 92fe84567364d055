"""Learned methods, trained with the same PS-frame self-supervision as SelfSVD.

Same data, aligned loss, discriminator, iteration budget, training loop and checkpoints as SelfSVD
(:class:`~baselines.learned.base.LearnedMethod`); only the network differs, so a comparison
isolates the architecture. A learned baseline is one module holding its network
(``@register_network``, found by :mod:`lsvd.models.registry` through this package's entry point)
and its method (``@register_method``): :mod:`~baselines.learned.aodnet`,
:mod:`~baselines.learned.unet`, :mod:`~baselines.learned.basicvsr`; none of them reads the PS frame
at test time. SelfSVD, SelfSVD* and the ablations are in :mod:`baselines.learned.selfsvd`.
"""
