"""PyTorch datasets driven only by a dataset root's manifests (spec §1.3, §1.4).

- :class:`TrainWindows`: the official training sample. For a clip, ``num_frames`` (5)
  consecutive smoky frames (frames after the PS frame), the PS frame (target and reference
  input), and the clip's mask (the mask of frame ``mask_ref_index``, 1/4 resolution); one random
  crop shared by all of them (the mask cropped at ``[top//4:(top+crop)//4, left//4:(left+crop)//4]``)
  and one horizontal flip decision (p=0.5). No other augmentation.
- :class:`TestClips`: a whole clip at native resolution, no crop, no flip.

Items are dicts of float32 tensors in [0, 1], RGB: ``lqs`` (T, 3, H, W), ``ps`` (3, H, W),
``mask`` (T, 1, H/4, W/4) with 1 = PS features are hidden there (the clip's one mask
repeated in the official mode, one mask per frame in the ``ps`` mode), ``clean`` (T, 3, H, W) when asked
for, plus ``clip_id`` and ``frame_numbers``. Datasets hold only paths and numbers (no open file
handles), so they are safe with ``DataLoader`` worker processes; random draws use torch's
global generator, which the ``DataLoader`` seeds per worker.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from lsvd.data.frames import load_frames
from lsvd.data.manifest import Manifest
from lsvd.io.images import read_gray, read_rgb
from lsvd.io.pixels import to_tensor

__all__ = ["TestClips", "TrainWindows"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Clip:
    clip_id: str
    storage: str
    height: int
    width: int
    ps_path: str
    ps_number: int
    paths: tuple[str, ...]  # smoky frames after the PS frame, in order
    numbers: tuple[int, ...]
    clean_paths: tuple[str | None, ...]
    mask_paths: tuple[str | None, ...]  # one per frame after PS (the same file repeated in official mode)


def _clips(manifest: Manifest, split: str | None) -> list[_Clip]:
    out = []
    for clip_id in manifest.clip_ids(split):
        clip = manifest.clip(clip_id)
        frames = manifest.clip_frames(clip_id)
        ps = int(clip.ps_frame_index)
        after = frames.iloc[ps + 1:]
        if clip.get("mask_mode") == "ps":  # one mask per frame
            mask_paths = list(after["mask_path"])
        else:  # the official loader: the mask of frame mask_ref_index for every frame
            ref = clip.mask_ref_index
            one = frames.at[int(ref), "mask_path"] if pd.notna(ref) and int(ref) < len(frames) else None
            mask_paths = [one] * len(after)

        def resolve(path: str | None) -> str | None:
            full = manifest.resolve(path)
            return None if full is None else str(full)

        out.append(_Clip(
            clip_id=clip_id, storage=str(clip.storage), height=int(clip.height), width=int(clip.width),
            ps_path=resolve(frames.at[ps, "path"]), ps_number=int(frames.at[ps, "frame_number"]),
            paths=tuple(resolve(p) for p in after["path"]), numbers=tuple(int(n) for n in after["frame_number"]),
            clean_paths=tuple(resolve(p) for p in after["clean_path"]),
            mask_paths=tuple(resolve(p) for p in mask_paths),
        ))
    return out


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float32 (3, H, W) in [0, 1] (:func:`lsvd.io.pixels.to_tensor`)."""
    return to_tensor(rgb)


class _ClipDataset(Dataset):
    def __init__(self, root: str | os.PathLike[str] | Manifest, split: str | None, *, require_mask: bool,
                 with_clean: bool):
        self.manifest = root if isinstance(root, Manifest) else Manifest.load(root)
        self.split = split
        self.require_mask = require_mask
        self.with_clean = with_clean
        self.clips = _clips(self.manifest, split)
        if not self.clips:
            raise ValueError(f"{self.manifest.root}: no clips in split {split!r}")
        no_mask = [c.clip_id for c in self.clips if any(p is None for p in c.mask_paths)]
        if no_mask and require_mask:
            raise ValueError(
                f"{self.manifest.root}: {len(no_mask)} clip(s) have no SelfSVD mask (e.g. {no_mask[0]}); "
                "generate masks with `python -m lsvd.masks --root ROOT`, or pass require_mask=False to use all-zero "
                "masks (the PS features are then never hidden)")
        no_clean = [c.clip_id for c in self.clips if any(p is None for p in c.clean_paths)]
        if with_clean and no_clean:
            raise ValueError(f"{self.manifest.root}: with_clean=True but {len(no_clean)} clip(s) have no clean "
                             f"frames (e.g. {no_clean[0]}); only synthetic or paired data have them")

    def __len__(self) -> int:
        return len(self.clips)

    def _read(self, clip: _Clip, idx: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The PS frame and the smoky frames at positions ``idx`` (of the frames after PS)."""
        ps, *frames = load_frames(clip.storage, (clip.ps_path, *clip.paths), (clip.ps_number, *clip.numbers),
                                  [0, *(i + 1 for i in idx)])
        return ps, frames

    def _masks(self, clip: _Clip, idx: list[int]) -> np.ndarray:
        """(T, H/4, W/4) float32 in {0, 1} for the frames at positions ``idx``; zeros where none."""
        shape = (clip.height // 4, clip.width // 4)
        cache: dict[str | None, np.ndarray] = {None: np.zeros(shape, np.float32)}
        for path in {clip.mask_paths[i] for i in idx} - {None}:
            mask = read_gray(path)
            if mask.shape != shape:
                raise ValueError(f"{path}: expected a {shape[0]}x{shape[1]} mask (1/4 of the frame), "
                                 f"found {mask.shape[0]}x{mask.shape[1]}; regenerate the masks")
            cache[path] = (mask > 127).astype(np.float32)
        return np.stack([cache[clip.mask_paths[i]] for i in idx])


class TrainWindows(_ClipDataset):
    """Official training windows (see the module docstring). One item per clip; use a sampler
    or ``repeat`` for more draws per epoch (the official loader repeats the list 10,000 times).

    Clips with fewer than ``num_frames`` smoky frames, or smaller than the crop, are left out
    with a warning naming them.
    """

    def __init__(self, root: str | os.PathLike[str] | Manifest, split: str | None = "train", *,
                 num_frames: int = 5, crop_size: int | None = 256, flip: bool = True, repeat: int = 1,
                 require_mask: bool = True, with_clean: bool = False):
        if num_frames < 1:
            raise ValueError(f"num_frames: expected >= 1, got {num_frames}")
        if crop_size is not None and (crop_size <= 0 or crop_size % 4):
            raise ValueError(f"crop_size: expected a positive multiple of 4 (the mask is cropped at 1/4), "
                             f"got {crop_size}")
        if repeat < 1:
            raise ValueError(f"repeat: expected >= 1, got {repeat}")
        super().__init__(root, split, require_mask=require_mask, with_clean=with_clean)
        keep, dropped = [], []
        for c in self.clips:
            too_small = crop_size is not None and (c.height < crop_size or c.width < crop_size)
            (dropped if len(c.paths) < num_frames or too_small else keep).append(c)
        if dropped:
            log.warning("TrainWindows: %d clip(s) left out (fewer than %d smoky frames or smaller than the %s "
                        "crop): %s", len(dropped), num_frames, crop_size, ", ".join(c.clip_id for c in dropped))
        if not keep:
            raise ValueError(f"{self.manifest.root}: no clip of split {split!r} has {num_frames} smoky frames "
                             f"and a size of at least {crop_size}; lower num_frames or crop_size")
        self.clips, self.dropped = keep, [c.clip_id for c in dropped]
        self.num_frames, self.crop_size, self.flip, self.repeat = num_frames, crop_size, flip, repeat

    def __len__(self) -> int:
        return len(self.clips) * self.repeat

    def __getitem__(self, index: int) -> dict:
        return self.sample(index)

    def sample(self, index: int, generator: torch.Generator | None = None) -> dict:
        """The item of clip ``index % len(clips)`` with its random draws (window start, crop, flip) taken
        from ``generator`` (torch's global generator when ``None``)."""
        clip = self.clips[index % len(self.clips)]
        start = int(torch.randint(0, len(clip.paths) - self.num_frames + 1, (), generator=generator).item())
        idx = list(range(start, start + self.num_frames))
        ps, lqs = self._read(clip, idx)
        mask = self._masks(clip, idx)
        clean = [read_rgb(clip.clean_paths[i]) for i in idx] if self.with_clean else None
        if self.crop_size is not None:
            c = self.crop_size
            top = int(torch.randint(0, clip.height - c + 1, (), generator=generator).item())
            left = int(torch.randint(0, clip.width - c + 1, (), generator=generator).item())
            crop = lambda a: a[top:top + c, left:left + c]  # noqa: E731
            ps, lqs = crop(ps), [crop(f) for f in lqs]
            clean = [crop(f) for f in clean] if clean is not None else None
            mask = mask[:, top // 4:(top + c) // 4, left // 4:(left + c) // 4]
        else:
            top = left = 0
        flipped = self.flip and bool(torch.rand((), generator=generator) < 0.5)
        if flipped:
            ps, lqs, mask = ps[:, ::-1], [f[:, ::-1] for f in lqs], mask[:, :, ::-1]
            clean = [f[:, ::-1] for f in clean] if clean is not None else None
        item = {
            "lqs": torch.stack([_to_tensor(f) for f in lqs]),
            "ps": _to_tensor(ps),
            "mask": torch.from_numpy(np.ascontiguousarray(mask))[:, None],
            "clip_id": clip.clip_id,
            "frame_numbers": torch.tensor([clip.numbers[i] for i in idx]),
            "crop": torch.tensor([top, left, int(flipped)]),  # top, left, horizontally flipped
        }
        if clean is not None:
            item["clean"] = torch.stack([_to_tensor(f) for f in clean])
        return item


class TestClips(_ClipDataset):
    """Whole clips at native resolution: every smoky frame after the PS frame (spec §1.4)."""

    __test__ = False  # not a pytest test class

    def __init__(self, root: str | os.PathLike[str] | Manifest, split: str | None = "test", *,
                 require_mask: bool = False, with_clean: bool = False):
        super().__init__(root, split, require_mask=require_mask, with_clean=with_clean)

    def __getitem__(self, index: int) -> dict:
        clip = self.clips[index]
        idx = list(range(len(clip.paths)))
        ps, lqs = self._read(clip, idx)
        item = {
            "lqs": torch.stack([_to_tensor(f) for f in lqs]),
            "ps": _to_tensor(ps),
            "mask": torch.from_numpy(self._masks(clip, idx))[:, None],
            "clip_id": clip.clip_id,
            "frame_numbers": torch.tensor(clip.numbers),
        }
        if self.with_clean:
            item["clean"] = torch.stack([_to_tensor(read_rgb(p)) for p in clip.clean_paths])
        return item
