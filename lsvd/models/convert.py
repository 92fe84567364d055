"""Load official SelfSVD / SelfSVD* checkpoints into :class:`~lsvd.models.SelfSVDNet`.

An official checkpoint is an mmcv file ``{"meta": ..., "state_dict": {...}, ...}`` whose state dict
holds ``generator.*`` (the generator, including its frozen PWC-Net under ``generator.pwcnet.net.*``),
``discriminator.*`` and, for SelfSVD* (spec §4.4), ``model_t.*`` (the frozen stage-1 teacher).
Only the generator is read: ``discriminator.*`` and ``model_t.*`` are ignored (the teacher is the
stage-1 generator, load it from the stage-1 file); ``generator.img_upsample.*`` (defined, unused,
parameter-free) is ignored too. The PWC-Net weights are returned separately (they also load into
:class:`lsvd.flow.PWCNetFlow`, which accepts the whole checkpoint).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

GENERATOR_PREFIX = "generator."
_PWC_PREFIX = "pwcnet."
_IGNORED_PREFIXES = ("img_upsample.",)


def _read_state_dict(source: str | os.PathLike[str] | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        obj: Any = source
    else:
        from lsvd.io.weights import load_torch_file

        obj = load_torch_file(source, expected="an official SelfSVD / SelfSVD* checkpoint (an mmcv .pth)")
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise TypeError(f"expected a checkpoint or state dict (a mapping), found {type(obj).__name__}")
    return obj


def load_official_generator(
    source: str | os.PathLike[str] | Mapping[str, Any], model: nn.Module, *, load_flow: bool = True
) -> dict[str, torch.Tensor]:
    """Load the ``generator.*`` weights of an official checkpoint into ``model`` (strict).

    Args:
        source: a checkpoint path (read with ``torch.load(weights_only=True)``; an unreadable or unsafe
            file raises :class:`~lsvd.io.weights.CheckpointError`), an mmcv checkpoint dict
            (``{"state_dict": ...}``) or a flat state dict.
        model: a :class:`~lsvd.models.SelfSVDNet` of the checkpoint's size (``"paper"`` for the
            released files).
        load_flow: when ``model`` holds a PWC-Net (``model.pwcnet``) and the checkpoint has one,
            load it there too (strict).

    Returns:
        The checkpoint's PWC-Net state dict with ``generator.pwcnet.net.`` stripped (keys such as
        ``netExtractor.netOne.0.weight``), empty when absent.

    Raises:
        KeyError: no ``generator.*`` keys, or the keys do not match ``model``; the message lists
            the missing and unexpected keys.
    """
    state = _read_state_dict(source)
    generator: dict[str, torch.Tensor] = {}
    pwc: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not key.startswith(GENERATOR_PREFIX):
            continue  # discriminator.*, model_t.* (SelfSVD* teacher), anything else
        name = key[len(GENERATOR_PREFIX):]
        if name.startswith(_PWC_PREFIX):
            inner = name[len(_PWC_PREFIX):]
            pwc[inner[len("net."):] if inner.startswith("net.") else inner] = value
        elif not name.startswith(_IGNORED_PREFIXES):
            generator[name] = value
    if not generator:
        prefixes = sorted({k.split(".", 1)[0] for k in state})
        raise KeyError(f"no '{GENERATOR_PREFIX}*' keys found; top-level prefixes present: {prefixes}")

    own = {k for k in model.state_dict() if not k.startswith(_PWC_PREFIX)}
    missing = sorted(own - generator.keys())
    unexpected = sorted(generator.keys() - own)
    if missing or unexpected:
        raise KeyError(
            f"checkpoint does not match the model ({type(model).__name__}): {len(missing)} missing key(s) "
            f"{missing[:20]}{' ...' if len(missing) > 20 else ''}, {len(unexpected)} unexpected key(s) "
            f"{unexpected[:20]}{' ...' if len(unexpected) > 20 else ''}; check the preset (mid_channels, num_blocks)"
        )
    result = model.load_state_dict(generator, strict=False)
    bad = [k for k in result.missing_keys if not k.startswith(_PWC_PREFIX)]
    if bad or result.unexpected_keys:  # pragma: no cover - guarded above
        raise KeyError(f"missing {bad}, unexpected {result.unexpected_keys}")
    pwc_module = getattr(model, "pwcnet", None)
    if load_flow and pwc and isinstance(pwc_module, nn.Module) and hasattr(pwc_module, "net"):
        pwc_module.net.load_state_dict(pwc, strict=True)
    return pwc


def load_official_discriminator(source: str | os.PathLike[str] | Mapping[str, Any], model: nn.Module) -> None:
    """Load the ``discriminator.*`` weights of an official checkpoint into a
    :class:`~lsvd.models.PatchDiscriminator` (strict; SelfSVD* stage 2 starts from them, spec §4.4).

    Raises:
        KeyError: no ``discriminator.*`` keys, or they do not match ``model`` (missing/unexpected listed).
    """
    state = _read_state_dict(source)
    prefix = "discriminator."
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise KeyError(f"no '{prefix}*' keys found; top-level prefixes present: "
                       f"{sorted({k.split('.', 1)[0] for k in state})}")
    own = model.state_dict().keys()
    missing, unexpected = sorted(own - weights.keys()), sorted(weights.keys() - own)
    shapes = model.state_dict()
    wrong = sorted(k for k in own & weights.keys() if tuple(shapes[k].shape) != tuple(weights[k].shape))
    if missing or unexpected or wrong:
        raise KeyError(f"discriminator does not match ({len(missing)} missing {missing[:10]}, {len(unexpected)} "
                       f"unexpected {unexpected[:10]}, {len(wrong)} of another shape {wrong[:10]}); the official "
                       "discriminator has base 64")
    model.load_state_dict(weights, strict=True)
