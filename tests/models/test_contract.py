"""The network contract, over the whole model registry: every registered architecture (new ones
automatically, wherever they are defined) builds by name at its ``tiny`` size, runs the
:mod:`lsvd.models.registry` forward contract on a small clip, is deterministic in eval mode, has
trainable parameters that the output reaches, and reloads from its own state dict. Behaviour
particular to one network (identity at init, ignored inputs, parameter counts of the paper sizes) is
tested next to it (``test_models``, ``tests/baselines/test_learned_nets``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

from lsvd.flow import FlowBackend
from lsvd.models.registry import MODELS, build_model, list_models, network_presets
from lsvd.models.selfsvd import count_trainable_parameters

ARCHS = list_models()
N, T, H, W = 2, 3, 32, 48


class ZeroFlow(FlowBackend):
    """Stand-in backend: zero flow (identity alignment), any size."""

    name = "zero"

    def estimate(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return source.new_zeros(source.shape[0], 2, *source.shape[2:])


def _tiny(arch: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(arch, "tiny", flow=ZeroFlow())


def _clip(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lqs = torch.rand(N, T, 3, H, W, generator=g)
    ps = torch.rand(N, 3, H, W, generator=g)
    mask = (torch.rand(N, T, 1, H // 4, W // 4, generator=g) < 0.5).float()
    return lqs, ps, mask


def test_registry_finds_the_builtin_and_the_baseline_networks() -> None:
    """``selfsvd`` from lsvd itself, the others through the ``lsvd.networks`` entry point."""
    assert {"selfsvd", "selfsvd_nops", "aodnet", "unet", "basicvsr"} <= set(ARCHS)


@pytest.mark.parametrize("arch", ARCHS)
def test_registration(arch: str) -> None:
    cls = MODELS.get(arch)
    assert isinstance(cls, type) and issubclass(cls, nn.Module)
    assert cls.arch == arch
    sizes = network_presets(arch)
    assert "tiny" in sizes, f"{arch}: every network needs a 'tiny' size for the tests, has {sizes}"
    with pytest.raises(ValueError, match=f"unknown {arch} preset 'huge': expected one of {', '.join(sizes)}"):
        build_model(arch, "huge")


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_contract(arch: str) -> None:
    net = _tiny(arch).eval()
    assert isinstance(net, MODELS.get(arch)) and net.arch == arch
    assert count_trainable_parameters(net) > 0
    lqs, ps, mask = _clip()
    with torch.no_grad():
        out = net(lqs, ps, mask)
        again = net(lqs, ps, mask)
        no_mask = net(lqs, ps, None)
    assert set(out) >= {"out", "ref_feat"}
    y = out["out"]
    assert y.shape == lqs.shape and y.dtype == lqs.dtype, f"{arch}: {tuple(y.shape)} {y.dtype}"
    assert torch.isfinite(y).all()
    # not clamped, but an image: inputs in [0, 1] give outputs near that range
    assert y.min() >= -1.0 and y.max() <= 2.0, f"{arch}: outputs in [{y.min():.3g}, {y.max():.3g}]"
    ref = out["ref_feat"]
    assert isinstance(ref, torch.Tensor) and ref.shape[0] == N and tuple(ref.shape[-2:]) == (H // 4, W // 4)
    assert torch.isfinite(ref).all()
    assert torch.equal(y, again["out"]), f"{arch}: two eval forwards differ"
    assert no_mask["out"].shape == lqs.shape  # the mask is optional


@pytest.mark.parametrize("arch", ARCHS)
def test_bad_sizes_are_errors(arch: str) -> None:
    net = _tiny(arch).eval()
    lqs, ps, _ = _clip()
    with torch.no_grad(), pytest.raises(ValueError, match="multiples of 4"):
        net(lqs[..., :30], ps[..., :30])
    with torch.no_grad(), pytest.raises(ValueError, match=r"\(N, T, 3, H, W\)"):
        net(lqs[:, 0], ps)


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_and_state_dict_round_trip(arch: str) -> None:
    net = _tiny(arch, seed=0).train()
    lqs, ps, mask = _clip(seed=1)
    out = net(lqs, ps, mask)
    (out["out"] - torch.rand_like(lqs)).abs().mean().add(out["ref_feat"].abs().mean()).backward()
    missing = [name for name, p in net.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"{arch}: parameters the outputs do not reach: {missing[:5]}"

    other = _tiny(arch, seed=1)
    other.load_state_dict(net.state_dict(), strict=True)
    net.eval(), other.eval()
    with torch.no_grad():
        assert torch.equal(net(lqs, ps, mask)["out"], other(lqs, ps, mask)["out"])


def test_lsvd_imports_nothing_from_baselines() -> None:
    """Networks defined in ``baselines`` register into lsvd's registry; lsvd never imports them."""
    root = Path(__file__).resolve().parents[2] / "lsvd"
    outside = {"baselines", "benchmarks", "reports"}
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):  # importlib.import_module("...")
                names = [node.value] if node.value.split(".")[0] in outside and " " not in node.value else []
            else:
                continue
            offenders += [f"{path.relative_to(root.parent)}:{node.lineno}: {n}" for n in names
                          if n.split(".")[0] in outside]
    assert not offenders, offenders
