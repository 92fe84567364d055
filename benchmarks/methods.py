"""What a benchmark runs: desmoking methods behind one interface and one registry.

    method = create_method("selfsvd", checkpoint="runs/cpu", device="cpu")
    out = method.desmoke(clip)            # uint8 (T, H, W, 3), the same size as clip.lqs
    method.describe()                     # kind, citation, video, uses_ps, needs_training, licence, ...
    method.cache_key()                    # changes whenever the outputs may change (weights, settings)

A method receives a :class:`Clip` (the smoky frames after the PS frame, the PS frame, the clip's
SelfSVD mask) and returns desmoked frames of the same size. Built-in: ``identity`` (the smoky
input: the floor of every leaderboard), ``selfsvd`` and ``selfsvd_star``. A learned method without
``checkpoint`` trains its CPU preset on the default data first (once; cached under
``$LSVD_HOME/runs``), so ``python -m benchmarks.run --method selfsvd`` works on a fresh machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lsvd.registry import Registry

log = logging.getLogger(__name__)


@dataclass
class Clip:
    """One clip to desmoke.

    Attributes:
        clip_id: the manifest's clip id.
        lqs: uint8 ``(T, H, W, 3)`` RGB smoky frames after the PS frame.
        ps: uint8 ``(H, W, 3)`` the PS frame.
        mask: float32 ``(T, 1, H/4, W/4)`` SelfSVD mask (1 = PS features hidden) or ``None``.
        frame_numbers: ``(T,)`` frame numbers of ``lqs`` in the source.
    """

    clip_id: str
    lqs: np.ndarray
    ps: np.ndarray
    mask: np.ndarray | None = None
    frame_numbers: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class Method:
    """Base class: subclasses set the class attributes and implement :meth:`desmoke`."""

    name = ""
    kind = "classical"  #: classical | learned | external | reference
    citation = ""
    video = False  #: uses several frames at once
    uses_ps = False  #: reads the PS frame at test time
    needs_training = False
    licence = "Apache-2.0"

    def desmoke(self, clip: Clip) -> np.ndarray:
        """uint8 ``(T, H, W, 3)`` desmoked frames for ``clip.lqs``."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """Everything that determines the outputs besides the clip (weights hash, options)."""
        return {}

    def cache_key(self) -> str:
        """sha256 (16 hex) of the method name, class and :meth:`settings`."""
        payload = {"method": self.name, "class": type(self).__qualname__, **self.settings()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        return {"method": self.name, "kind": self.kind, "citation": self.citation, "video": self.video,
                "uses_ps": self.uses_ps, "needs_training": self.needs_training, "licence": self.licence}

    def model(self) -> Any:
        """The ``torch.nn.Module`` for parameter / MAC counting, or ``None``."""
        return None


METHODS: Registry[type[Method]] = Registry("method", builtins=["benchmarks.methods"])


def create_method(name: str, **options: Any) -> Method:
    """Instantiate the method registered as ``name`` with ``options`` (unknown options are errors)."""
    return METHODS.get(name)(**options)


def list_methods(pattern: str = "*") -> list[str]:
    return METHODS.list(pattern)


@METHODS.register("identity")
class Identity(Method):
    """The smoky input itself: the floor every method must beat."""

    name = "identity"
    kind = "reference"
    citation = "-"

    def __init__(self, **_: Any) -> None:
        pass

    def desmoke(self, clip: Clip) -> np.ndarray:
        return clip.lqs.copy()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_run_dir(preset: str, data_root: str | Path) -> Path:
    """``$LSVD_HOME/runs/<preset>-<manifest id>``: where an automatically trained checkpoint lives."""
    from lsvd.constants import lsvd_home
    from lsvd.data.manifest import Manifest

    manifest_id = Manifest.load(data_root).info["manifest_id"]
    return lsvd_home() / "runs" / f"{preset}-{manifest_id[:12]}"


def ensure_trained(preset: str, data_root: str | Path, *, stage1: str | None = None, progress: bool = True) -> Path:
    """A finished ``lsvd.train`` run of ``preset`` on ``data_root`` (trained now if absent, resumed if partial)."""
    from lsvd.train.checkpoint import last_checkpoint, load_state
    from lsvd.train.config import load_config, read_toml
    from lsvd.train.loop import CONFIG_FILE, train

    run_dir = default_run_dir(preset, data_root)
    values = {"data": str(Path(data_root).expanduser().resolve())}
    if stage1:
        values["stage1"] = stage1
    cfg = load_config(preset, **values)
    folder = last_checkpoint(run_dir) if (run_dir / CONFIG_FILE).is_file() else None
    if folder is not None and int(load_state(folder)["iteration"]) >= int(read_toml(run_dir / CONFIG_FILE)["iters"]):
        return run_dir
    resume = (run_dir / CONFIG_FILE).is_file()
    log.info("no checkpoint given: training the %s preset on %s into %s (once; cached)", preset, data_root, run_dir)
    train(None if resume else cfg, run_dir, resume=resume, progress=progress)
    return run_dir


class _SelfSVDBase(Method):
    kind = "learned"
    citation = "Wu et al., Self-Supervised Video Desmoking for Laparoscopic Surgery, ECCV 2024"
    video = True
    uses_ps = True
    needs_training = True
    default_preset = "cpu"

    def __init__(self, checkpoint: str | None = None, *, device: str = "cpu", data_root: str | None = None,
                 flow: str | None = None, window_mode: str = "official", bf16: bool = False,
                 preset: str | None = None, progress: bool = True) -> None:
        from lsvd.train.checkpoint import load_generator, resolve_generator_file

        if checkpoint is None:
            if data_root is None:
                raise ValueError(f"{self.name}: no checkpoint and no data root to train on; pass --checkpoint PATH")
            checkpoint = str(self._train_default(data_root, progress))
        self.net, self.info = load_generator(checkpoint, preset=preset, flow=flow)
        path = Path(self.info["path"])
        file = path if path.is_file() else resolve_generator_file(path)
        self.checkpoint_sha256 = _sha256_file(file)
        self.device, self.window_mode, self.bf16 = device, window_mode, bf16
        self.net.to(device)

    def _train_default(self, data_root: str, progress: bool) -> Path:
        return ensure_trained(self.default_preset, data_root, progress=progress)

    def settings(self) -> dict[str, Any]:
        return {"checkpoint_sha256": self.checkpoint_sha256, "model": self.info["model"], "flow": self.info["flow"],
                "window_mode": self.window_mode, "bf16": self.bf16}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "checkpoint": self.info["path"], "checkpoint_sha256": self.checkpoint_sha256,
                "model": self.info["model"], "flow": self.info["flow"]}

    def model(self) -> Any:
        return self.net

    def desmoke(self, clip: Clip) -> np.ndarray:
        import torch

        from lsvd.inference import desmoke_clip, to_uint8

        lqs = torch.from_numpy(np.ascontiguousarray(clip.lqs)).permute(0, 3, 1, 2).float().div_(255.0)
        ps = torch.from_numpy(np.ascontiguousarray(clip.ps)).permute(2, 0, 1).float().div_(255.0)
        mask = None if clip.mask is None else torch.from_numpy(clip.mask).float()
        with torch.no_grad():
            out = desmoke_clip(self.net, lqs, ps, mask, mode=self.window_mode, device=self.device,
                               dtype=torch.bfloat16 if self.bf16 else None)
        return to_uint8(out)


@METHODS.register("selfsvd")
class SelfSVD(_SelfSVDBase):
    """SelfSVD (stage 1); without a checkpoint, the ``cpu`` preset trained on the default data."""

    name = "selfsvd"


@METHODS.register("selfsvd_star")
class SelfSVDStar(_SelfSVDBase):
    """SelfSVD* (stage 2); without a checkpoint, ``cpu-star`` trained from the automatic ``cpu`` run."""

    name = "selfsvd_star"
    default_preset = "cpu-star"

    def _train_default(self, data_root: str, progress: bool) -> Path:
        stage1 = ensure_trained("cpu", data_root, progress=progress)
        return ensure_trained(self.default_preset, data_root, stage1=str(stage1), progress=progress)
