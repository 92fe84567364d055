"""SelfSVD, SelfSVD* and the ablations of the paper's ablation table, as learned methods.

All train with :mod:`lsvd.train` on the same data and budget (the ``cpu`` preset by default) and
differ only in what the paper ablates:

| method | what changes |
| --- | --- |
| ``selfsvd`` | nothing (stage 1) |
| ``selfsvd_star`` | stage 2 from the ``selfsvd`` run, frozen teacher targets (spec §4.4) |
| ``selfsvd_no_ps`` | no PS-frame input (architecture ``selfsvd_nops``) |
| ``selfsvd_no_mask`` | the PS frame is given without the mask (zero masks in training and test) |
| ``selfsvd_no_reg`` | no PS-feature regulariser (``w_reg = 0``) |
| ``selfsvd_no_gan`` | no adversarial loss (``w_gan = 0``) |

The official vs ``ps`` mask mode ablation is a property of the data: prepare a root with
``python -m lsvd.masks --root ROOT --mode ps`` and run ``selfsvd`` on it.
"""

from __future__ import annotations

from pathlib import Path

from baselines.learned.base import LearnedMethod
from baselines.registry import register_method

_CITATION = "Wu et al., Self-Supervised Video Desmoking for Laparoscopic Surgery, ECCV 2024"


@register_method("selfsvd")
class SelfSVD(LearnedMethod):
    """SelfSVD (stage 1)."""

    citation = _CITATION


@register_method("selfsvd_star")
class SelfSVDStar(LearnedMethod):
    """SelfSVD* (stage 2): trained from the automatic ``selfsvd`` run with the frozen teacher's targets."""

    citation = _CITATION

    def train_default(self, data_root: str, preset: str, progress: bool) -> Path:
        from lsvd.train.runs import ensure_run

        seed = {"seed": self.train_seed}
        stage1_label = SelfSVD.name if not self.train_seed else f"{SelfSVD.name}-seed{self.train_seed}"
        stage1 = ensure_run(preset, data_root, label=stage1_label, progress=progress, overrides=seed)
        if preset == "cpu":  # the matching stage-2 preset (halved rates, shorter)
            return ensure_run("cpu-star", data_root, label=self.run_label, progress=progress,
                              overrides={"stage1": str(stage1), **seed})
        return ensure_run(preset, data_root, label=self.run_label, progress=progress,
                          overrides={"method": "selfsvd_star", "stage1": str(stage1), "gan_start": 0, **seed})


@register_method("selfsvd_no_ps")
class SelfSVDNoPS(LearnedMethod):
    """Ablation: no PS-frame input."""

    citation = _CITATION + " (ablation)"
    ablation_of = "selfsvd"
    ablation = "w/o PS frame input"
    arch = "selfsvd_nops"
    uses_ps = False
    uses_mask = False  # no PS features to hide


@register_method("selfsvd_no_mask")
class SelfSVDNoMask(LearnedMethod):
    """Ablation: the PS frame is given without the mask."""

    citation = _CITATION + " (ablation)"
    ablation_of = "selfsvd"
    ablation = "w/o mask"
    train_overrides = {"use_mask": False}


@register_method("selfsvd_no_reg")
class SelfSVDNoReg(LearnedMethod):
    """Ablation: no regulariser on the PS features."""

    citation = _CITATION + " (ablation)"
    ablation_of = "selfsvd"
    ablation = "w/o feature regulariser"
    train_overrides = {"w_reg": 0.0}


@register_method("selfsvd_no_gan")
class SelfSVDNoGAN(LearnedMethod):
    """Ablation: no adversarial loss."""

    citation = _CITATION + " (ablation)"
    ablation_of = "selfsvd"
    ablation = "w/o adversarial loss"
    train_overrides = {"w_gan": 0.0}
