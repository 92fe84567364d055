"""The "w/o mask" ablation (``selfsvd_no_mask``): it trains on zero masks, its checkpoint records
``use_mask=False`` (a string in the safetensors metadata), the method reads that back as a boolean and
gives the network no mask at test time, and its outputs are those of a mask-free run; ``selfsvd``
gets the clip's masks in training and at test time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.methods import create_method
from lsvd.train.checkpoint import metadata_flag


@pytest.mark.parametrize(("value", "expected"), [("False", False), ("false", False), ("0", False), (False, False),
                                                 ("True", True), ("true", True), (True, True), (None, True),
                                                 ("", True)])
def test_metadata_flag(value, expected: bool) -> None:
    info = {} if value is None else {"use_mask": value}
    assert metadata_flag(info, "use_mask", default=True) is expected


def test_metadata_flag_rejects_junk() -> None:
    with pytest.raises(ValueError, match=r"ckpt\.safetensors: metadata use_mask='maybe': expected true or false"):
        metadata_flag({"use_mask": "maybe", "path": "ckpt.safetensors"}, "use_mask", default=True)


@pytest.fixture(scope="module")
def clip(tiny_synthetic_root: Path):
    """A tiny test clip whose mask hides the PS features on its left half (the tiny data's masks are empty)."""
    from dataclasses import replace

    from benchmarks.run import _ClipSource
    from lsvd.data.manifest import Manifest

    source = _ClipSource(Manifest.load(tiny_synthetic_root), "test")
    clip, _ = source.load(source.clip_ids[0])
    assert clip.mask is not None
    mask = np.zeros_like(clip.mask)
    mask[..., : mask.shape[-1] // 2] = 1.0
    return replace(clip, mask=mask)


def _spy_masks(method) -> list[torch.Tensor | None]:
    """Record the ``mask`` argument of every forward of the method's network."""
    seen: list[torch.Tensor | None] = []
    forward = method.net.forward

    def spy(lqs, ps, mask=None):
        seen.append(mask)
        return forward(lqs, ps, mask)

    method.net.forward = spy
    return seen


def test_no_mask_ablation_end_to_end(tiny_synthetic_root: Path, clip, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import lsvd.train.step as step
    from lsvd.data.datasets import TrainWindows

    monkeypatch.setenv("LSVD_HOME", str(tmp_path / "home"))
    real_sample = TrainWindows.sample

    def sample_with_mask(self, *args, **kwargs) -> dict:  # the tiny data's masks are empty: hide the left half
        item = real_sample(self, *args, **kwargs)
        item["mask"][..., : item["mask"].shape[-1] // 2] = 1.0
        return item

    monkeypatch.setattr(TrainWindows, "sample", sample_with_mask)
    training_masks: dict[str, list[bool]] = {}
    real_step = step.train_step

    def spy_step(batch, *args, **kwargs):
        training_masks[current].append(bool(batch["mask"].any()))
        return real_step(batch, *args, **kwargs)

    monkeypatch.setattr(step, "train_step", spy_step)
    methods = {}
    for current in ("selfsvd", "selfsvd_no_mask"):
        training_masks[current] = []
        methods[current] = create_method(current, data_root=str(tiny_synthetic_root), train_preset="tiny",
                                         progress=False, device="cpu")
    assert training_masks["selfsvd_no_mask"] and not any(training_masks["selfsvd_no_mask"])
    assert any(training_masks["selfsvd"])

    with_mask, without = methods["selfsvd"], methods["selfsvd_no_mask"]
    assert without.info["use_mask"] == "False"  # as stored: a string
    assert without.use_mask is False and without.uses_mask is False
    assert without.describe()["masks"] == "not read" and with_mask.describe()["masks"] == "used"
    assert with_mask.use_mask is True and with_mask.uses_mask is True

    seen_with, seen_without = _spy_masks(with_mask), _spy_masks(without)
    with_mask.desmoke(clip)
    without.desmoke(clip)
    assert seen_with and all(m is not None for m in seen_with) and any(bool(m.any()) for m in seen_with)
    assert seen_without and all(m is None for m in seen_without)


def _checkpoint(path: Path, use_mask: str) -> str:
    """A tiny SelfSVD generator whose outputs depend on the PS features (``zero_conv`` perturbed)."""
    from safetensors.torch import save_file

    from lsvd.models.registry import build_model

    torch.manual_seed(0)
    net = build_model("selfsvd", "tiny")
    with torch.no_grad():
        net.zero_conv.weight.normal_(0, 0.5)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path),
              metadata={"arch": "selfsvd", "model": "tiny", "flow": "dis", "use_mask": use_mask})
    return str(path)


def test_without_mask_differs_from_with_mask(clip, tmp_path: Path) -> None:
    from dataclasses import replace

    with_mask = create_method("selfsvd", checkpoint=_checkpoint(tmp_path / "a.safetensors", "True"), device="cpu")
    # the same weights, recorded as trained without masks (lower case: any spelling of false is false)
    without = create_method("selfsvd", checkpoint=_checkpoint(tmp_path / "b.safetensors", "false"), device="cpu")
    assert without.use_mask is False and with_mask.use_mask is True
    assert with_mask.cache_key() != without.cache_key()

    out_with = with_mask.desmoke(clip)
    out_without = without.desmoke(clip)
    out_no_mask = with_mask.desmoke(replace(clip, mask=None))
    np.testing.assert_array_equal(out_without, out_no_mask)  # exactly a run that has no masks
    assert not np.array_equal(out_with, out_without)  # and the mask changes the outputs
