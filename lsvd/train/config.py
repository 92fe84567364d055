"""The training configuration: one typed dataclass, TOML presets, ``key=value`` overrides.

    cfg = load_config("cpu", overrides=["iters=200", "batch_size=2"], data="/data/root")
    cfg.validate()                 # every problem at once, before any heavy work
    write_config(cfg, run_dir / "config.toml")

Presets live in ``lsvd/train/presets/<name>.toml`` (``list_presets()``); a path to any TOML file
written by :func:`write_config` (e.g. a run's ``config.toml``) works as a preset too. Keys are the
field names of :class:`TrainConfig`; unknown keys are errors with close matches.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from lsvd.errors import LsvdError
from lsvd.io.hashing import digest

__all__ = ["ConfigError", "TrainConfig", "list_presets", "load_config", "parse_overrides", "preset_path",
    "read_toml", "to_toml", "write_config"]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PRESET_DIR = Path(__file__).resolve().parent / "presets"
METHODS = ("selfsvd", "selfsvd_star")
AMP_MODES = ("auto", "bf16", "off")


class ConfigError(LsvdError, ValueError):
    """A configuration that cannot run; the message lists every problem."""


@dataclass
class TrainConfig:
    """Everything that defines a SelfSVD / SelfSVD* training run (spec/selfsvd-official.md §4).

    Defaults are the official SelfSVD stage-1 settings (preset ``paper``).
    """

    # what to train
    method: str = "selfsvd"  #: "selfsvd" or "selfsvd_star" (stage 2: frozen teacher targets, spec §4.4)
    arch: str = "selfsvd"  #: generator architecture (lsvd.models.registry: selfsvd, selfsvd_nops, unet, ...)
    model: str = "paper"  #: generator size, one of the arch's presets (selfsvd: paper = 64 ch, 60 blocks; small; tiny)
    disc_base: int = 64  #: channels of the discriminator's first conv (64 officially: 2,764,737 params)
    flow: str = "dis"  #: flow backend inside the generator (dis, pwcnet)
    align_flow: str = "dis"  #: flow backend aligning predictions onto the PS frame in the loss
    flow_weights: str = ""  #: PWC-Net weights file ("" = $LSVD_HOME/weights/pwcnet-network-default.pth)
    stage1: str = ""  #: SelfSVD*: the stage-1 checkpoint (teacher, student and discriminator init)
    # data
    data: str = ""  #: a dataset root written by python -m lsvd.prepare (with masks)
    split: str = "train"
    num_frames: int = 5  #: consecutive smoky frames per sample
    crop: int = 256  #: square crop (a multiple of 4)
    flip: bool = True  #: horizontal flip with probability 0.5
    use_mask: bool = True  #: hide PS features under the SelfSVD mask (false: the "no mask" ablation, zero masks)
    batch_size: int = 4  #: clips per process and iteration
    workers: int = 4  #: DataLoader worker processes (0 = load in the main process)
    # optimisation
    iters: int = 100_000
    lr_g: float = 1e-4
    lr_d: float = 2e-4
    beta1: float = 0.9
    beta2: float = 0.99
    min_lr: float = 1e-7  #: cosine floor (absolute, G and D)
    period: int = 0  #: cosine period in iterations (0 = iters)
    w_rec: float = 1.0  #: aligned L1 weight
    w_gan: float = 1.0  #: LSGAN generator weight
    w_reg: float = 0.05  #: PS-feature regulariser weight
    #: iteration at which the adversarial term and the discriminator's training start (0 = officially; the
    #: discriminator's learning rate follows the cosine from iteration 0 all the same)
    gan_start: int = 0
    upsample_init: str = "kaiming"  #: pixel-shuffle init: kaiming (official) or icnr (no checkerboard at init)
    # bookkeeping
    checkpoint_every: int = 4000
    log_every: int = 100
    eval_every: int = 0  #: PSNR against clean frames every N iterations (0 = only at the end; -1 = never)
    eval_split: str = "test"
    eval_clips: int = 0  #: evaluate on the first N clips of eval_split (0 = all)
    seed: int = 0
    deterministic: bool = False  #: deterministic algorithms (bitwise-reproducible on CPU)
    device: str = "auto"  #: auto (cuda if available), cpu, cuda, cuda:1
    amp: str = "auto"  #: auto (bf16 on CUDA, off on CPU), bf16, off
    channels_last: bool = True  #: channels_last memory format (CUDA and CPU; benchmarks/perf/models.py)

    @property
    def cosine_period(self) -> int:
        """The cosine period actually used (``period`` or ``iters``)."""
        return self.period or self.iters

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """sha256 (16 hex) of the settings that change the trained weights (not logging or device)."""
        skip = {"workers", "log_every", "checkpoint_every", "eval_every", "eval_split", "eval_clips", "device"}
        payload = {k: v for k, v in self.to_dict().items() if k not in skip}
        return digest(payload)

    def validate(self) -> None:
        """Raise :class:`ConfigError` listing every problem (cheap checks only; paths must exist)."""
        from lsvd.flow.base import FLOWS
        from lsvd.models.registry import list_models, network_presets
        from lsvd.models.selfsvd import UPSAMPLE_INITS

        problems: list[str] = []

        def need(ok: bool, msg: str) -> None:
            if not ok:
                problems.append(msg)

        need(self.method in METHODS, f"method: expected one of {METHODS}, found {self.method!r}")
        archs = list_models()
        need(self.arch in archs, f"arch: expected one of {archs}, found {self.arch!r}")
        if self.arch in archs:  # the sizes are the architecture's own (lsvd.models.registry)
            sizes = network_presets(self.arch)
            need(self.model in sizes, f"model: expected one of {sizes} (the sizes of arch {self.arch!r}), "
                                      f"found {self.model!r}")
        for name in ("flow", "align_flow"):
            value = getattr(self, name)
            need(value in FLOWS.list(), f"{name}: expected one of {FLOWS.list()}, found {value!r}")
        need(self.disc_base >= 1, f"disc_base: expected >= 1, found {self.disc_base}")
        need(bool(self.data), "data: no dataset root given; pass --root ROOT (prepared with `python -m lsvd.prepare "
                              "--masks`)")
        if self.data:
            need((Path(self.data).expanduser() / "meta" / "info.json").is_file(),
                 f"data: {self.data} is not a prepared dataset root (no meta/info.json); run `python -m lsvd.prepare "
                 f"--root {self.data} --masks` first")
        if self.method == "selfsvd_star":
            need(bool(self.stage1), "stage1: selfsvd_star needs the stage-1 checkpoint (a run directory, a "
                                    "generator.safetensors or an official selfsvd.pth): --set stage1=PATH")
        if self.stage1:
            need(Path(self.stage1).expanduser().exists(), f"stage1: {self.stage1} does not exist")
        if self.flow_weights:
            need(Path(self.flow_weights).expanduser().is_file(), f"flow_weights: {self.flow_weights} is not a file")
        need(self.num_frames >= 1, f"num_frames: expected >= 1, found {self.num_frames}")
        need(self.crop >= 4 and self.crop % 4 == 0, f"crop: expected a positive multiple of 4, found {self.crop}")
        for name in ("batch_size", "iters", "checkpoint_every", "log_every"):
            need(getattr(self, name) >= 1, f"{name}: expected >= 1, found {getattr(self, name)}")
        for name in ("workers", "period", "eval_clips", "seed", "gan_start"):
            need(getattr(self, name) >= 0, f"{name}: expected >= 0, found {getattr(self, name)}")
        need(self.eval_every >= -1, f"eval_every: expected >= -1 (-1 = never, 0 = at the end), found {self.eval_every}")
        for name in ("lr_g", "lr_d"):
            need(getattr(self, name) > 0, f"{name}: expected > 0, found {getattr(self, name)}")
        need(0 <= self.min_lr <= min(self.lr_g, self.lr_d),
             f"min_lr: expected 0 <= min_lr <= min(lr_g, lr_d), found {self.min_lr}")
        for name in ("beta1", "beta2"):
            need(0 <= getattr(self, name) < 1, f"{name}: expected in [0, 1), found {getattr(self, name)}")
        for name in ("w_rec", "w_gan", "w_reg"):
            need(getattr(self, name) >= 0, f"{name}: expected >= 0, found {getattr(self, name)}")
        need(self.upsample_init in UPSAMPLE_INITS,
             f"upsample_init: expected one of {UPSAMPLE_INITS}, found {self.upsample_init!r}")
        need(self.amp in AMP_MODES, f"amp: expected one of {AMP_MODES}, found {self.amp!r}")
        need(self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
             f"device: expected auto, cpu, cuda or cuda:N, found {self.device!r}")
        if problems:
            raise ConfigError("invalid training configuration:\n  - " + "\n  - ".join(problems))


_FIELDS = {f.name: f for f in fields(TrainConfig)}
_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _coerce(key: str, value: Any) -> Any:
    """``value`` (TOML value or override string) converted to the type of field ``key``."""
    if key not in _FIELDS:
        close = difflib.get_close_matches(key, _FIELDS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known keys: {', '.join(_FIELDS)}"
        raise ConfigError(f"unknown configuration key {key!r}{hint}")
    kind = _TYPES[str(_FIELDS[key].type)]
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        if kind is bool:
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ConfigError(f"{key}: expected true or false, found {value!r}")
        try:
            if kind is int:
                number = float(text.replace("_", ""))  # accepts 100_000 and 1e5
                if not number.is_integer():
                    raise ValueError
                return int(number)
            return float(text)
        except ValueError:
            raise ConfigError(f"{key}: expected {kind.__name__}, found {value!r}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {kind.__name__}, found {value!r} ({type(value).__name__})")
    return value


def list_presets() -> list[str]:
    """Names of the built-in presets."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def preset_path(preset: str | os.PathLike[str]) -> Path:
    """The TOML file of a built-in preset name, or ``preset`` itself when it is a file."""
    path = Path(preset).expanduser()
    if path.suffix == ".toml" and path.is_file():
        return path
    builtin = PRESET_DIR / f"{preset}.toml"
    if builtin.is_file():
        return builtin
    close = difflib.get_close_matches(str(preset), list_presets(), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ConfigError(f"unknown training preset {str(preset)!r}{hint}: expected one of {', '.join(list_presets())} "
                      "or a path to a .toml file")


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file into ``{field: value}`` (flat; every key checked and typed)."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return {key: _coerce(key, value) for key, value in raw.items()}


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["iters=200", "flip=false"]`` -> ``{"iters": 200, "flip": False}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE (e.g. iters=200)")
        out[key.strip()] = _coerce(key.strip(), value)
    return out


def load_config(preset: str | os.PathLike[str] = "paper", overrides: Iterable[str] | Mapping[str, Any] = (),
                **values: Any) -> TrainConfig:
    """Defaults <- preset file <- ``overrides`` (``KEY=VALUE`` strings or a mapping) <- ``values``."""
    merged = read_toml(preset_path(preset))
    merged.update(parse_overrides(overrides) if not isinstance(overrides, Mapping)
                  else {k: _coerce(k, v) for k, v in overrides.items()})
    merged.update({k: _coerce(k, v) for k, v in values.items() if v is not None})
    return TrainConfig(**merged)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def to_toml(cfg: TrainConfig) -> str:
    """The full resolved configuration as TOML (every field, with its comment)."""
    lines = ["# resolved lsvd.train configuration (python -m lsvd.train --preset THIS_FILE reproduces it)"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in cfg.to_dict().items()]
    return "\n".join(lines) + "\n"


def write_config(cfg: TrainConfig, path: str | os.PathLike[str]) -> None:
    """Write :func:`to_toml` atomically."""
    from lsvd.io.atomic import write_text

    write_text(path, to_toml(cfg))
