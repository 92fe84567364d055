"""The method contract, over the whole registry: every registered method (new ones automatically) builds
through ``create_method`` and desmokes a tiny clip into uint8 frames of the input's shape, deterministically,
with complete metadata and a stable cache key. ``external`` reads files and is covered by ``test_external``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from benchmarks.methods import METHODS, create_method, list_methods

DESCRIBE_KEYS = {"kind", "citation", "video", "uses_ps", "needs_training", "licence"}
NAMES = [n for n in list_methods() if n != "external"]


@pytest.fixture(scope="module")
def lsvd_home(tmp_path_factory: pytest.TempPathFactory):
    """Automatic training runs go to a temporary ``$LSVD_HOME``, never the user's cache."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("lsvd-home")
        mp.setenv("LSVD_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def tiny_root(tiny_synthetic_root: Path) -> Path:
    """``python -m lsvd.prepare --synthetic --data-preset tiny --masks``: 2 train + 2 test clips, 64x96."""
    return tiny_synthetic_root


@pytest.fixture(scope="module")
def tiny_clip(tiny_root: Path):
    from benchmarks.run import _ClipSource
    from lsvd.data.manifest import Manifest

    source = _ClipSource(Manifest.load(tiny_root), "test")
    clip, _ = source.load(source.clip_ids[0])
    return clip


def _accepts(cls: type, option: str) -> bool:
    params = inspect.signature(cls.__init__).parameters
    return option in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


#: Built-in SelfSVD classes that may predate ``train_preset``: given the tiny run as their checkpoint instead.
TAKES_A_SELFSVD_RUN = {"selfsvd", "selfsvd_star"}


def _options(name: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """``create_method`` options: ``train_preset="tiny"`` (a learned class trains its own tiny run), or a
    tiny SelfSVD checkpoint for a SelfSVD class without ``train_preset``; other learned classes without it skip."""
    cls = METHODS.get(name)
    root = request.getfixturevalue("tiny_root")
    options: dict[str, Any] = {"checkpoint": None, "data_root": str(root), "device": "cpu", "progress": False,
                               "train_preset": "tiny"}
    if cls.needs_training:
        request.getfixturevalue("lsvd_home")
        if not _accepts(cls, "train_preset"):
            if name not in TAKES_A_SELFSVD_RUN:
                pytest.skip(f"{cls.__module__}.{cls.__qualname__} ({name}) needs training but does not accept "
                            "train_preset='tiny'")
            options["checkpoint"] = str(request.getfixturevalue("tiny_run"))
    return options


@pytest.mark.parametrize("name", NAMES)
def test_method_contract(name: str, request: pytest.FixtureRequest, tiny_clip):
    options = _options(name, request)
    method = create_method(name, **options)
    assert method.name == name

    torch.manual_seed(0)
    first = method.desmoke(tiny_clip)
    torch.manual_seed(0)
    second = method.desmoke(tiny_clip)
    out = np.asarray(first)
    assert out.dtype == np.uint8, f"{name}: {out.dtype} outputs"
    assert out.shape == tiny_clip.lqs.shape, f"{name}: {out.shape} != {tiny_clip.lqs.shape}"
    assert np.array_equal(out, np.asarray(second)), f"{name}: two calls with the same seed differ"

    info = method.describe()
    assert DESCRIBE_KEYS <= set(info), f"{name}: describe() lacks {DESCRIBE_KEYS - set(info)}"
    assert info["kind"] in {"classical", "learned", "external", "reference"}
    assert isinstance(info["citation"], str) and info["citation"]
    assert isinstance(info["licence"], str) and info["licence"]
    for key in ("video", "uses_ps", "needs_training"):
        assert isinstance(info[key], bool), f"{name}: describe()[{key!r}] is {info[key]!r}"

    key = method.cache_key()
    assert key == method.cache_key()
    assert create_method(name, **options).cache_key() == key, f"{name}: cache_key() differs between instances"


def test_every_method_registers_the_same_way() -> None:
    """One decorator in a module under baselines/ for every method, ``identity`` and ``external`` included."""
    from baselines.base import Method

    for name in list_methods():
        cls = METHODS.get(name)
        assert issubclass(cls, Method) and cls.name == name, name
        assert cls.__module__.split(".")[0] == "baselines", f"{name}: registered from {cls.__module__}"
    assert {"identity", "external", "dcp", "selfsvd", "selfsvd_no_mask", "aodnet"} <= set(list_methods())


def test_learned_methods_name_registered_networks() -> None:
    from baselines.learned.base import LearnedMethod
    from lsvd.models.registry import list_models

    learned = {n: METHODS.get(n) for n in list_methods() if issubclass(METHODS.get(n), LearnedMethod)}
    assert learned
    for name, cls in learned.items():
        assert cls.arch in list_models(), f"{name}: arch {cls.arch!r} is not a registered network"


def test_unknown_options_are_rejected() -> None:
    with pytest.raises(TypeError, match=r"method 'clahe': unknown option 'clip_limt' \(did you mean clip_limit\?\); "
                                        r"it accepts: clip_limit, tiles"):
        create_method("clahe", clip_limt=3)
    with pytest.raises(TypeError, match=r"unknown options 'omgea' \(did you mean omega\?\), 'colour'"):
        create_method("dcp", omgea=0.9, colour=1)
    with pytest.raises(TypeError, match="'strength'.*accepts: no options"):
        create_method("identity", strength=2)
    # the runner's run-wide settings are dropped where a method does not take them
    method = create_method("clahe", clip_limit=3, checkpoint=None, device="cpu", data_root="x", progress=False,
                           masks=True, train_seed=0, train_preset="cpu")
    assert method.clip_limit == 3.0


def test_a_new_method_is_one_decorated_class(monkeypatch: pytest.MonkeyPatch) -> None:
    from baselines.base import Clip, Method
    from baselines.registry import register_method

    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))  # undone after the test

    @register_method("test_invert")
    class Invert(Method):
        kind = "classical"
        citation = "-"

        def desmoke(self, clip: Clip) -> np.ndarray:
            return 255 - clip.lqs

    assert Invert.name == "test_invert" and "test_invert" in list_methods()
    frames = np.zeros((1, 8, 8, 3), np.uint8)
    assert create_method("test_invert").desmoke(Clip("c", frames, frames[0])).max() == 255
    with pytest.raises(ValueError, match="declares name 'other'"):
        register_method("test_x")(type("X", (Method,), {"name": "other"}))
