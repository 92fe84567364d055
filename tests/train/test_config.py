"""lsvd.train.config: presets, typed overrides, TOML round trip, validation, digest."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lsvd.train.config import (
    ConfigError,
    TrainConfig,
    list_presets,
    load_config,
    parse_overrides,
    read_toml,
    to_toml,
    write_config,
)


def test_builtin_presets_listed() -> None:
    names = list_presets()
    assert {"paper", "paper-star", "tiny"} <= set(names)
    for name in names:  # every preset file parses into a valid-typed config
        assert isinstance(load_config(name), TrainConfig)


def test_paper_preset_is_official() -> None:
    cfg = load_config("paper")
    assert cfg.method == "selfsvd" and cfg.model == "paper"
    assert cfg.iters == 100_000 and cfg.lr_g == 1e-4 and cfg.lr_d == 2e-4 and cfg.min_lr == 1e-7
    assert cfg.batch_size == 4 and cfg.crop == 256 and cfg.disc_base == 64 and cfg.checkpoint_every == 4000
    assert (cfg.beta1, cfg.beta2, cfg.num_frames) == (0.9, 0.99, 5)
    assert (cfg.w_rec, cfg.w_gan, cfg.w_reg) == (1.0, 1.0, 0.05)
    assert cfg.cosine_period == 100_000
    assert cfg.gan_start == 0 and cfg.upsample_init == "kaiming"  # the small-budget settings stay out of it


def test_cpu_recipe_settings() -> None:
    """The small-budget recipe (README "Training"): ICNR, adversarial term from halfway at 1/100 weight."""
    for name, start in (("cpu", 350), ("cpu-long", 900)):
        cfg = load_config(name)
        assert (cfg.upsample_init, cfg.gan_start, cfg.w_gan) == ("icnr", start, 0.01)
        assert cfg.gan_start == cfg.iters // 2 and (cfg.w_rec, cfg.w_reg) == (1.0, 0.05)


def test_new_settings_validated() -> None:
    cfg = load_config("tiny", data="/nonexistent", upsample_init="xavier", gan_start=-1)
    with pytest.raises(ConfigError) as err:
        cfg.validate()
    assert "upsample_init" in str(err.value) and "gan_start" in str(err.value)


def test_paper_star_preset() -> None:
    cfg = load_config("paper-star")
    assert cfg.method == "selfsvd_star" and cfg.model == "paper"
    assert (cfg.lr_g, cfg.lr_d, cfg.min_lr, cfg.iters) == (5e-5, 1e-4, 5e-6, 50_000)


def test_overrides_are_typed() -> None:
    got = parse_overrides(["iters=1e5", "checkpoint_every=100_000", "lr_g=3e-4", "flip=false", "channels_last=true",
                           "model=tiny", "w_gan=0", " seed = 7 "])
    assert got == {"iters": 100_000, "checkpoint_every": 100_000, "lr_g": 3e-4, "flip": False,
                   "channels_last": True, "model": "tiny", "w_gan": 0.0, "seed": 7}
    assert type(got["iters"]) is int and type(got["w_gan"]) is float and type(got["flip"]) is bool
    cfg = load_config("paper", ["iters=10", "lr_d=0.5"], batch_size=2)
    assert (cfg.iters, cfg.lr_d, cfg.batch_size, cfg.lr_g) == (10, 0.5, 2, 1e-4)
    assert load_config("paper", {"iters": 3}).iters == 3


@pytest.mark.parametrize("item, match", [
    ("itres=5", "did you mean iters"),
    ("iters=1.5", "iters: expected int"),
    ("iters=ten", "iters: expected int"),
    ("lr_g=fast", "lr_g: expected float"),
    ("flip=maybe", "flip: expected true or false"),
    ("iters", "expected KEY=VALUE"),
])
def test_bad_overrides(item: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_overrides([item])


def test_bad_toml_types_and_keys(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('iters = "many"\n')
    with pytest.raises(ConfigError, match="iters: expected int"):
        read_toml(bad)
    bad.write_text("flip = 1\n")
    with pytest.raises(ConfigError, match="flip: expected bool"):
        read_toml(bad)
    bad.write_text("batchsize = 2\n")
    with pytest.raises(ConfigError, match="did you mean batch_size"):
        load_config(bad)
    bad.write_text("iters = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_toml(bad)
    with pytest.raises(ConfigError, match="did you mean paper"):
        load_config("papr")


def test_toml_round_trip(tmp_path: Path) -> None:
    cfg = load_config("paper", ["lr_g=3.5e-5", "flip=false", 'stage1=a "quoted" path', "iters=7"], data="/x/y")
    path = tmp_path / "config.toml"
    write_config(cfg, path)
    assert path.read_text() == to_toml(cfg)
    assert TrainConfig(**read_toml(path)) == cfg
    assert load_config(path) == cfg  # a run's config.toml is a preset too


def test_validate_lists_every_problem(tiny_root: Path) -> None:
    cfg = load_config("tiny", ["crop=30", "lr_g=-1", "model=huge"], data=str(tiny_root))
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    text = str(info.value)
    assert "crop: expected a positive multiple of 4" in text
    assert "lr_g: expected > 0" in text
    assert "model: expected one of" in text and "'huge'" in text
    assert text.count("\n  - ") >= 3
    load_config("tiny", data=str(tiny_root)).validate()  # the good one passes


def test_model_sizes_are_the_architectures_own(tiny_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``model`` is checked against the sizes of ``arch`` (its class's ``presets``), not SelfSVD's."""
    from torch import nn

    from lsvd.models.registry import MODELS, register_network

    MODELS.list()  # discover the built-in networks first, then add one for this test only
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))

    @register_network("test_sized")
    class Sized(nn.Module):
        presets = {"mini": 1, "maxi": 2}

        @classmethod
        def from_preset(cls, preset, *, flow="dis", flow_kwargs=None):
            return cls()

    load_config("tiny", ["arch=test_sized", "model=mini"], data=str(tiny_root)).validate()
    with pytest.raises(ConfigError, match=r"model: expected one of \('mini', 'maxi'\) \(the sizes of arch "
                                          r"'test_sized'\), found 'tiny'"):
        load_config("tiny", ["arch=test_sized"], data=str(tiny_root)).validate()
    with pytest.raises(ConfigError, match=r"model: expected one of \('paper', 'small', 'tiny'\).*found 'mini'"):
        load_config("tiny", ["model=mini"], data=str(tiny_root)).validate()
    with pytest.raises(ConfigError, match="arch: expected one of") as info:
        load_config("tiny", ["arch=nonet"], data=str(tiny_root)).validate()
    assert "model:" not in str(info.value)  # an unknown architecture has no sizes to check against


def test_validate_data_and_stage1(tmp_path: Path, tiny_root: Path) -> None:
    with pytest.raises(ConfigError, match="python -m lsvd.prepare"):
        load_config("tiny", data=str(tmp_path)).validate()
    with pytest.raises(ConfigError, match="--root ROOT"):
        load_config("tiny").validate()
    star = load_config("paper-star", data=str(tiny_root))
    with pytest.raises(ConfigError, match="stage1: selfsvd_star needs"):
        star.validate()
    with pytest.raises(ConfigError, match="does not exist"):
        dataclasses.replace(star, stage1=str(tmp_path / "nope")).validate()
    dataclasses.replace(star, stage1=str(tmp_path)).validate()


def test_digest_ignores_bookkeeping() -> None:
    cfg = load_config("paper")
    same = dataclasses.replace(cfg, workers=0, log_every=1, device="cpu", checkpoint_every=1)
    assert same.digest() == cfg.digest()
    assert dataclasses.replace(cfg, lr_g=2e-4).digest() != cfg.digest()
    assert dataclasses.replace(cfg, seed=1).digest() != cfg.digest()
    assert len(cfg.digest()) == 16
