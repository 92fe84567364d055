"""Training checkpoints: safetensors weights, resumable state, a ``last`` pointer.

Layout of a run directory (``python -m lsvd.train --run-dir RUN``)::

    RUN/config.toml                 resolved configuration
    RUN/run.json                    provenance (versions, commit, data manifest id, device, world size)
    RUN/log.jsonl                   one JSON line per log interval / evaluation
    RUN/checkpoints/iter_0004000/   generator.safetensors, discriminator.safetensors, state.pt
    RUN/checkpoints/last            the name of the newest complete checkpoint folder

``generator.safetensors`` is a plain :class:`~lsvd.models.SelfSVDNet` state dict whose metadata
says how to rebuild the network (``model``, ``mid_channels``, ``num_blocks``, ``flow``); it is what
``python -m lsvd.desmoke --checkpoint`` and the SelfSVD* stage 2 read. ``state.pt`` (optimisers,
schedulers, iteration, RNG states) holds only tensors and plain Python values and is read back with
``torch.load(weights_only=True)``. Checkpoint folders are written to a temporary name and renamed,
and ``last`` is replaced atomically after that, so a killed run never leaves a half checkpoint.

Every checkpoint and weights file is read through :mod:`lsvd.io.weights` (here also
:func:`read_generator_metadata`), so a file that is empty, truncated, of another kind or an unsafe
pickle raises one :class:`~lsvd.io.weights.CheckpointError` saying what to do. A ``--resume``
whose last checkpoint cannot be read is refused, not silently moved back: the error
(:func:`resume_error`) names the previous checkpoint whose files all read and the one command that
makes ``last`` point at it, so what is resumed is always what the user chose.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lsvd.io.atomic import atomic_dir, write_text
from lsvd.io.weights import (
    REPLACE_ADVICE,
    CheckpointError,
    first_line,
    load_safetensors_file,
    load_torch_file,
    reading,
)

__all__ = ["DISCRIMINATOR_FILE", "GENERATOR_FILE", "STATE_FILE", "CheckpointError", "last_checkpoint",
    "load_generator", "load_state", "metadata_flag", "read_generator_metadata", "resolve_generator_file",
    "resume_error", "save_checkpoint", "verify_checkpoint"]

GENERATOR_FILE = "generator.safetensors"
DISCRIMINATOR_FILE = "discriminator.safetensors"
STATE_FILE = "state.pt"
LAST_FILE = "last"
CHECKPOINT_DIR = "checkpoints"
FORMAT = "lsvd-selfsvd-generator/1"
#: A file naming a generator file and its sha256 (written by ``python -m benchmarks.run`` into ``runs/<method>/``).
POINTER_FILE = "checkpoint.json"
_NAME = re.compile(r"iter_(\d+)")
def checkpoint_name(iteration: int) -> str:
    """Folder name of the checkpoint taken after ``iteration`` iterations."""
    return f"iter_{iteration:07d}"


def _save_safetensors(module: nn.Module, path: Path, metadata: Mapping[str, Any]) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path), metadata={k: str(v) for k, v in metadata.items()})


def rng_state() -> dict[str, Any]:
    """The torch (CPU and CUDA), Python and NumPy random states, as tensors and plain values."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    iteration: int,
    generator: nn.Module,
    discriminator: nn.Module,
    state: Mapping[str, Any],
    metadata: Mapping[str, Any],
    *,
    keep: int = 0,
) -> Path:
    """Write ``checkpoints/iter_<iteration>/`` atomically, then point ``checkpoints/last`` at it.

    Args:
        run_dir: the run directory.
        iteration: iterations done.
        generator, discriminator: the (unwrapped) networks.
        state: resumable state (optimisers, schedulers, ...); saved with the RNG states and ``iteration``.
        metadata: string-able values stored in the generator file (``model``, ``mid_channels``, ...).
        keep: keep only the newest ``keep`` checkpoints (0 = keep all).

    Returns:
        The checkpoint folder.
    """
    root = Path(run_dir) / CHECKPOINT_DIR
    target = root / checkpoint_name(iteration)
    root.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "iteration": iteration, **metadata}
    with atomic_dir(target) as tmp:
        _save_safetensors(generator, tmp / GENERATOR_FILE, meta)
        _save_safetensors(discriminator, tmp / DISCRIMINATOR_FILE, {"iteration": iteration})
        torch.save({**state, "iteration": iteration, "rng": rng_state()}, tmp / STATE_FILE)
    write_text(root / LAST_FILE, target.name + "\n")
    if keep > 0:
        import shutil

        for old in sorted(p for p in root.glob("iter_*") if p.is_dir())[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return target


def last_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The folder named by ``RUN/checkpoints/last``, or ``None`` when the run has no checkpoint yet."""
    pointer = Path(run_dir) / CHECKPOINT_DIR / LAST_FILE
    if not pointer.is_file():
        return None
    folder = pointer.parent / pointer.read_text().strip()
    if not (folder / GENERATOR_FILE).is_file():
        raise FileNotFoundError(f"{pointer} names {folder.name}, which has no {GENERATOR_FILE}; the run directory "
                                "was modified by hand: point 'last' at a complete checkpoint folder")
    return folder


def resolve_generator_file(path: str | os.PathLike[str]) -> Path:
    """The ``generator.safetensors`` of a run directory, a checkpoint folder, or the file itself.

    Raises:
        FileNotFoundError: nothing usable at ``path`` (the message says what was looked for).
    """
    p = Path(path).expanduser()
    if p.is_dir() and (p / POINTER_FILE).is_file():  # RESULTS/runs/<method>/ of python -m benchmarks.run
        p = p / POINTER_FILE
    if p.is_file() and p.suffix == ".json":
        return _follow_pointer(p)
    if p.is_file():
        return p
    if (p / GENERATOR_FILE).is_file():
        return p / GENERATOR_FILE
    if (p / CHECKPOINT_DIR).is_dir() or (p / LAST_FILE).is_file():
        run = p if (p / CHECKPOINT_DIR).is_dir() else p.parent
        folder = last_checkpoint(run)
        if folder is not None:
            return folder / GENERATOR_FILE
    raise FileNotFoundError(f"{p}: expected a run directory (with checkpoints/last), a checkpoint folder (with "
                            f"{GENERATOR_FILE}) or a .safetensors file; found none of these")


def _follow_pointer(pointer: Path) -> Path:
    """The weights file a ``checkpoint.json`` pointer names, after checking its sha256."""
    import json

    from lsvd.io.hashing import file_sha256

    try:
        data = json.loads(pointer.read_text())
        target = Path(data["checkpoint"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{pointer}: expected a checkpoint pointer (JSON with \"checkpoint\" and \"sha256\"), "
                              f"found {type(exc).__name__}: {exc}", path=pointer) from None
    if not target.is_file():
        raise FileNotFoundError(f"{pointer} points to {target}, which does not exist (moved or deleted?); give the "
                                "weights path itself")
    if data.get("sha256") and file_sha256(target) != data["sha256"]:
        raise CheckpointError(f"{pointer}: {target} has changed since it was scored (sha256 differs from the "
                              "recorded one); give the weights path itself to use them anyway", path=target)
    return target


def read_generator_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The metadata of a ``generator.safetensors`` (empty for a file saved without it; errors as
    :func:`load_safetensors_file`)."""
    from safetensors import safe_open

    with reading(path, "safetensors", "generator weights (.safetensors, e.g. from python -m lsvd.train)",
                  REPLACE_ADVICE) as p, safe_open(str(p), framework="pt") as f:
        return dict(f.metadata() or {})


def metadata_flag(info: dict[str, Any], key: str, *, default: bool) -> bool:
    """A boolean of checkpoint metadata, which stores strings (``"True"``/``"False"``; any case, ``1``/``0``,
    ``yes``/``no`` too); ``default`` when absent. Anything else is a ``ValueError``, never read as true."""
    value = info.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"{info.get('path', 'checkpoint')}: metadata {key}={value!r}: expected true or false")


def load_state(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> dict[str, Any]:
    """``state.pt`` of a checkpoint folder (:func:`load_torch_file`; it must hold ``iteration`` and ``rng``)."""
    path = Path(folder) / STATE_FILE
    expected = "the resumable state of a training checkpoint (optimisers, schedulers, iteration, RNG states)"
    state = load_torch_file(path, expected=expected, map_location=device)
    if not isinstance(state, Mapping) or not {"iteration", "rng"} <= state.keys():
        found = (f"a mapping with keys {sorted(state)[:8]}" if isinstance(state, Mapping)
                 else f"a {type(state).__name__}")
        raise CheckpointError(f"{path}: expected {expected}, found {found}; {REPLACE_ADVICE}", path=path, reason=found)
    return dict(state)


def _iteration(name: str) -> int | None:
    match = _NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def verify_checkpoint(folder: str | os.PathLike[str]) -> None:
    """Read every file of a checkpoint folder in full; raise what the first unreadable one raises."""
    folder = Path(folder)
    for name in (GENERATOR_FILE, DISCRIMINATOR_FILE):
        load_safetensors_file(folder / name, expected="network weights of a training checkpoint")
    load_state(folder)


def previous_good_checkpoint(run_dir: str | os.PathLike[str], before: str | os.PathLike[str]) -> Path | None:
    """The newest checkpoint folder of ``run_dir`` older than ``before`` whose files all read, else ``None``."""
    limit = _iteration(Path(before).name)
    root = Path(run_dir) / CHECKPOINT_DIR
    older = [(it, p) for p in root.glob("iter_*")
             if p.is_dir() and (it := _iteration(p.name)) is not None and (limit is None or it < limit)]
    for _, folder in sorted(older, reverse=True):
        try:
            verify_checkpoint(folder)
        except (CheckpointError, FileNotFoundError):
            continue
        return folder
    return None


def resume_error(run_dir: str | os.PathLike[str], folder: Path, exc: Exception) -> CheckpointError:
    """The error for a last checkpoint ``folder`` that cannot be resumed from (``exc`` says why).

    It names the previous checkpoint whose files all read and how to resume from it; nothing is changed
    on disk (resuming from an older checkpoint is the user's call).
    """
    if isinstance(exc, CheckpointError) and exc.path is not None and exc.reason:
        why = f"{exc.path.name}: found {exc.reason}"
    else:
        why = first_line(str(exc)) or type(exc).__name__
    pointer = Path(run_dir) / CHECKPOINT_DIR / LAST_FILE
    message = f"--resume: the last checkpoint {folder} cannot be resumed from ({why}). "
    previous = previous_good_checkpoint(run_dir, folder)
    if previous is None:
        message += (f"No earlier checkpoint in {pointer.parent} can be read: start again in a new run directory "
                    f"(python -m lsvd.train --preset {Path(run_dir) / 'config.toml'} --run-dir NEW_DIR)")
    else:
        message += (f"The previous good checkpoint is {previous}: to resume from it, point {pointer} at it "
                    f"(echo {previous.name} > {pointer}) and run --resume again; training goes on from iteration "
                    f"{_iteration(previous.name)} as an uninterrupted run would and rewrites {folder.name}")
    return CheckpointError(message, path=folder)


def load_state_dict_checked(module: nn.Module, state: Mapping[str, torch.Tensor], *, source: Any, what: str) -> None:
    """``module.load_state_dict(state, strict=True)`` with an error naming missing, unexpected and mis-shaped keys."""
    own = module.state_dict()
    missing = sorted(own.keys() - state.keys())
    unexpected = sorted(state.keys() - own.keys())
    wrong = sorted(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise ValueError(f"{source}: does not fit this {what} ({len(missing)} missing key(s) {missing[:5]}, "
                         f"{len(unexpected)} unexpected {unexpected[:5]}, {len(wrong)} of another shape {wrong[:5]}); "
                         "check the preset / model size it was trained with")
    module.load_state_dict(state, strict=True)


def load_safetensors_into(module: nn.Module, path: str | os.PathLike[str], *, what: str) -> None:
    """Load a safetensors state dict into ``module`` (strict; see :func:`load_state_dict_checked`)."""
    state = load_safetensors_file(path, expected=f"{what} weights (.safetensors)")
    load_state_dict_checked(module, state, source=path, what=what)


def load_generator(
    path: str | os.PathLike[str],
    *,
    preset: str | None = None,
    flow: str | None = None,
    flow_weights: str | os.PathLike[str] | None = None,
    arch: str | None = None,
) -> tuple[nn.Module, dict[str, str]]:
    """A :class:`~lsvd.models.SelfSVDNet` (eval mode, on CPU) with the weights of any checkpoint.

    Args:
        path: a run directory, a checkpoint folder or ``generator.safetensors`` written by
            ``lsvd.train`` (size and flow read from its metadata), a bare SelfSVDNet ``.safetensors``
            (give ``preset``), or an official mmcv SelfSVD / SelfSVD* ``.pth`` (``generator.*`` keys;
            the released files are ``preset="paper"``; with ``flow="pwcnet"`` its PWC-Net is used).
        preset: network size; must agree with the metadata when both exist.
        flow: flow backend (default: the checkpoint's, else ``dis``).
        flow_weights: PWC-Net weights for ``flow="pwcnet"`` when the checkpoint has none.
        arch: architecture (:mod:`lsvd.models.registry`); read from the metadata of our checkpoints
            (``selfsvd`` when absent); official checkpoints are ``selfsvd``.

    Returns:
        ``(model, info)`` where ``info`` has ``arch``, ``model``, ``flow``, ``source`` (``lsvd`` |
        ``official``), ``path`` and the checkpoint metadata (e.g. ``use_mask``).
    """
    from lsvd.models.convert import load_official_generator
    from lsvd.models.registry import build_model
    from lsvd.models.selfsvd import build_selfsvd

    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"checkpoint {p}: no such file or directory")
    if p.suffix == ".json" or (p / POINTER_FILE).is_file():  # a benchmark's checkpoint.json pointer
        p = resolve_generator_file(p)
    if p.is_file() and p.suffix != ".safetensors":  # official mmcv checkpoint
        preset = preset or "paper"
        flow = flow or "dis"
        state = load_torch_file(p, expected="an official SelfSVD / SelfSVD* checkpoint (an mmcv .pth with "
                                "generator.* weights), a .safetensors file, or a run / checkpoint folder")
        if not isinstance(state, Mapping):
            raise CheckpointError(f"{p}: expected an official SelfSVD checkpoint (a mapping of weights), found a "
                                  f"{type(state).__name__}", path=p, reason=f"a {type(state).__name__}")
        has_pwc = any(k.startswith("generator.pwcnet.") for k in (state.get("state_dict", state) or {}))
        kwargs = {}
        if flow == "pwcnet":
            kwargs = {"flow_kwargs": {"weights": flow_weights or (p if has_pwc else None)}}
        model = build_selfsvd(preset, flow=flow, **kwargs)
        load_official_generator(state, model)
        info = {"arch": "selfsvd", "model": preset, "flow": flow, "source": "official", "path": str(p)}
        return model.eval(), info

    file = resolve_generator_file(p)
    meta = read_generator_metadata(file)
    saved = meta.get("model")
    if saved and preset and preset != saved:
        raise ValueError(f"{file}: trained as the {saved!r} model, but preset {preset!r} was asked for; drop the "
                         "preset (it is read from the checkpoint) or pick the matching one")
    preset = saved or preset
    if preset is None:
        raise ValueError(f"{file}: no metadata says which model size it holds; pass the preset (paper, small, tiny)")
    saved_arch = meta.get("arch")
    if saved_arch and arch and arch != saved_arch:
        raise ValueError(f"{file}: holds a {saved_arch!r} network, not {arch!r}")
    arch = saved_arch or arch or "selfsvd"
    flow = flow or meta.get("flow") or "dis"
    kwargs = {"flow_kwargs": {"weights": flow_weights}} if flow == "pwcnet" and flow_weights else {}
    model = build_model(arch, preset, flow=flow, **kwargs)
    state = load_safetensors_file(file, expected="generator weights (.safetensors)")
    if not any(k.startswith("pwcnet.") for k in state):  # trained with DIS: keep this model's own flow weights
        state.update({k: v for k, v in model.state_dict().items() if k.startswith("pwcnet.")})
    elif flow != "pwcnet":
        state = {k: v for k, v in state.items() if not k.startswith("pwcnet.")}
    load_state_dict_checked(model, state, source=file, what=f"{preset!r} {arch} network")
    info = {**meta, "arch": arch, "model": preset, "flow": flow, "source": "lsvd", "path": str(file)}
    return model.eval(), info
