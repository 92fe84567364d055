"""Learned methods: a network from :mod:`lsvd.models.registry` trained with :mod:`lsvd.train`.

Every learned method (SelfSVD, its ablations, the learned baselines) is one subclass that names
its architecture and training overrides; all of them train with the same PS-frame
self-supervision, losses, data and iteration budget (the ``cpu`` preset by default), so a
comparison isolates the architecture:

    @register_method("aodnet")
    class AODNetMethod(LearnedMethod):
        arch = "aodnet"; citation = "Li et al., ICCV 2017"
        video = False; uses_ps = False

Without ``checkpoint`` the method trains ``train_preset`` (+ its overrides) on ``data_root`` once
(:func:`lsvd.train.runs.ensure_run`, cached under ``$LSVD_HOME/runs``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from baselines.base import Clip, Method

__all__ = ["LearnedMethod"]


class LearnedMethod(Method):
    """A trainable network behind the method interface (see the module docstring)."""

    kind = "learned"
    needs_training = True
    video = True
    uses_ps = True
    uses_mask = True  # the network hides PS features under the mask (not if its checkpoint was trained without)
    arch: ClassVar[str] = "selfsvd"
    #: Training-config overrides on top of the preset (e.g. ``{"w_gan": 0.0}`` for an ablation).
    train_overrides: ClassVar[dict[str, Any]] = {}
    default_train_preset: ClassVar[str] = "cpu"

    def __init__(self, checkpoint: str | None = None, *, device: str = "cpu", data_root: str | None = None,
                 flow: str | None = None, window_mode: str = "official", bf16: bool = False,
                 preset: str | None = None, progress: bool = True, train_preset: str | None = None,
                 masks: bool = True, train_seed: int = 0) -> None:
        from lsvd.io.hashing import file_sha256
        from lsvd.train.checkpoint import load_generator, metadata_flag, resolve_generator_file

        if checkpoint is None:
            if data_root is None:
                raise ValueError(f"{self.name}: no checkpoint and no data root to train on; pass --checkpoint PATH")
            self.train_seed = train_seed
            checkpoint = str(self.train_default(data_root, train_preset or self.default_train_preset, progress))
        self.net, self.info = load_generator(checkpoint, preset=preset, flow=flow, arch=self.arch)
        path = Path(self.info["path"])
        self.checkpoint_sha256 = file_sha256(path if path.is_file() else resolve_generator_file(path))
        self.use_mask = metadata_flag(self.info, "use_mask", default=True)
        self.uses_mask = self.uses_mask and self.use_mask  # a checkpoint trained without masks is given none
        #: False: the clips come without SelfSVD masks (``benchmarks.run --no-masks``): PS features kept everywhere
        self.masks = masks
        self.device, self.window_mode, self.bf16 = device, window_mode, bf16
        self.net.to(device)

    #: Seed of the automatic training run (``benchmarks.run --seed``); 0 keeps the historical run names.
    train_seed: int = 0

    @property
    def run_label(self) -> str:
        """The automatic run's label: the method name, plus ``-seedN`` for a seed other than 0."""
        return self.name if not self.train_seed else f"{self.name}-seed{self.train_seed}"

    def train_default(self, data_root: str, preset: str, progress: bool) -> Path:
        """Train (or reuse) this method's run on ``data_root``; returns the run directory."""
        from lsvd.train.runs import ensure_run

        return ensure_run(preset, data_root, label=self.run_label, progress=progress,
                          overrides={"arch": self.arch, "seed": self.train_seed, **self.train_overrides})

    def settings(self) -> dict[str, Any]:
        out = {"checkpoint_sha256": self.checkpoint_sha256, "arch": self.info["arch"], "model": self.info["model"],
               "flow": self.info["flow"], "use_mask": self.use_mask, "window_mode": self.window_mode,
               "bf16": self.bf16}
        if self.uses_mask and not self.masks:  # only then: the usual cache keys stay as they were
            out["masks"] = False
        return out

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "checkpoint": self.info["path"], "checkpoint_sha256": self.checkpoint_sha256,
                "arch": self.info["arch"], "model": self.info["model"], "flow": self.info["flow"],
                "masks": self.masks_used()}

    def masks_used(self) -> str:
        """``used``, ``none (...)`` (run without masks) or ``not read`` (this network ignores them)."""
        if not self.uses_mask:
            return "not read"
        return "used" if self.masks else "none (run without SelfSVD masks: the PS features were kept everywhere)"

    def model(self) -> Any:
        return self.net

    def desmoke(self, clip: Clip) -> np.ndarray:
        import torch

        from lsvd.inference import desmoke_clip, to_uint8

        lqs = torch.from_numpy(np.ascontiguousarray(clip.lqs)).permute(0, 3, 1, 2).float().div_(255.0)
        ps = torch.from_numpy(np.ascontiguousarray(clip.ps)).permute(2, 0, 1).float().div_(255.0)
        use = clip.mask is not None and self.use_mask and self.masks
        mask = torch.from_numpy(clip.mask).float() if use else None
        with torch.no_grad():
            out = desmoke_clip(self.net, lqs, ps, mask, mode=self.window_mode, device=self.device,
                               dtype=torch.bfloat16 if self.bf16 else None)
        return to_uint8(out)
