"""lsvd.train.loop and lsvd.train.checkpoint: run directory, exact resume, SelfSVD*, learning, DDP."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lsvd.models import PatchDiscriminator, build_selfsvd
from lsvd.models.convert import load_official_discriminator
from lsvd.train.checkpoint import (
    DISCRIMINATOR_FILE,
    GENERATOR_FILE,
    last_checkpoint,
    load_generator,
    load_state,
    read_generator_metadata,
    resolve_generator_file,
)
from lsvd.train.loop import RunDirError, _build, train
from tests.train.conftest import tiny_config

LOSSES = ("loss_rec", "loss_gan_g", "loss_reg", "loss_g", "loss_d")


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def _assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _assert_same_state(a, b, path: str = "") -> None:
    """Nested equality of optimiser / scheduler states (tensors bitwise)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same_state(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same_state(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_run_directory_contents(finished_run: Path) -> None:
    run = finished_run
    assert (run / "config.toml").is_file()
    info = json.loads((run / "run.json").read_text())
    for key in ("git_commit", "versions", "data_manifest_id", "config_digest", "world_size"):
        assert key in info
    assert info["world_size"] == 1 and info["data_manifest_id"]
    records = _log(run)
    assert [r["iter"] for r in records] == [1, 2, 3, 4]  # log_every 1, eval_every -1
    for r in records:
        assert all(math.isfinite(r[k]) for k in LOSSES)
    assert records[0]["lr_g"] == pytest.approx(1e-3)  # the first iteration runs at the full rate
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["iter_0000002", "iter_0000004", "last"]
    assert (run / "checkpoints" / "last").read_text().strip() == "iter_0000004"
    folder = last_checkpoint(run)
    assert folder == run / "checkpoints" / "iter_0000004"
    for name in (GENERATOR_FILE, DISCRIMINATOR_FILE, "state.pt"):
        assert (folder / name).is_file()
    meta = read_generator_metadata(folder / GENERATOR_FILE)
    assert meta["model"] == "tiny" and meta["flow"] == "dis" and meta["iteration"] == "4"
    model = build_selfsvd("tiny")
    assert (meta["mid_channels"], meta["num_blocks"]) == (str(model.mid_channels), str(model.num_blocks))
    state = torch.load(folder / "state.pt", weights_only=True)
    assert state["iteration"] == 4 and {"opt_g", "opt_d", "sched_g", "sched_d", "rng"} <= state.keys()
    assert resolve_generator_file(run) == resolve_generator_file(folder) == folder / GENERATOR_FILE
    assert resolve_generator_file(folder / GENERATOR_FILE) == folder / GENERATOR_FILE
    g, ginfo = load_generator(run)
    assert ginfo["source"] == "lsvd" and ginfo["model"] == "tiny"
    _assert_same_tensors({k: v for k, v in g.state_dict().items()}, load_file(str(folder / GENERATOR_FILE)))
    with pytest.raises(ValueError, match="trained as the 'tiny' model"):
        load_generator(run, preset="paper")


def test_exact_resume(finished_run: Path, tiny_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "split"
    first = train(tiny_config(tiny_root), run, progress=False, stop_at=2)
    assert first["iterations"] == 2 and last_checkpoint(run).name == "iter_0000002"
    second = train(None, run, resume=True, progress=False)
    assert second["started_at"] == 2 and second["iterations"] == 4
    assert json.loads((run / "run.json").read_text())["resumed_from"] == "iter_0000002"
    a, b = last_checkpoint(finished_run), last_checkpoint(run)
    _assert_same_tensors(load_file(str(a / GENERATOR_FILE)), load_file(str(b / GENERATOR_FILE)))
    _assert_same_tensors(load_file(str(a / DISCRIMINATOR_FILE)), load_file(str(b / DISCRIMINATOR_FILE)))
    sa, sb = load_state(a), load_state(b)
    for key in ("opt_g", "opt_d", "sched_g", "sched_d", "iteration"):
        _assert_same_state(sa[key], sb[key], key)
    assert [r["loss_rec"] for r in _log(finished_run)] == [r["loss_rec"] for r in _log(run)]


def test_same_seed_and_threads_give_identical_weights(finished_run: Path, tiny_root: Path, tmp_path: Path) -> None:
    """Two trainings of one config (same seed, same thread count) give bitwise-identical weights and losses."""
    again = tmp_path / "again"
    train(tiny_config(tiny_root), again, progress=False)
    a, b = last_checkpoint(finished_run), last_checkpoint(again)
    _assert_same_tensors(load_file(str(a / GENERATOR_FILE)), load_file(str(b / GENERATOR_FILE)))
    _assert_same_tensors(load_file(str(a / DISCRIMINATOR_FILE)), load_file(str(b / DISCRIMINATOR_FILE)))
    assert [r["loss_rec"] for r in _log(finished_run)] == [r["loss_rec"] for r in _log(again)]
    other = tmp_path / "other-seed"
    train(tiny_config(tiny_root, seed=1), other, progress=False)
    assert not torch.equal(load_file(str(a / GENERATOR_FILE))["zero_conv.weight"],
                           load_file(str(last_checkpoint(other) / GENERATOR_FILE))["zero_conv.weight"])


def test_run_dir_guards(finished_run: Path, tiny_root: Path, tmp_path: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in finished_run.rglob("*")}
    with pytest.raises(RunDirError, match="already exists and is not empty"):
        train(tiny_config(tiny_root), finished_run, progress=False)
    with pytest.raises(RunDirError, match="lr_g"):
        train(tiny_config(tiny_root, lr_g=5e-4), finished_run, resume=True, progress=False)
    assert {p: p.stat().st_mtime_ns for p in finished_run.rglob("*")} == before  # nothing touched
    with pytest.raises(RunDirError, match="no config.toml"):
        train(None, tmp_path / "empty", resume=True, progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError):
        train(tiny_config(tiny_root), tmp_path / "other", progress=False)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_resume_allows_bookkeeping_changes(finished_run: Path, tiny_root: Path) -> None:
    # the run is finished: resuming with other workers / log_every trains nothing more but is accepted
    summary = train(tiny_config(tiny_root, workers=1, log_every=3), finished_run, resume=True, progress=False)
    assert summary["started_at"] == summary["iterations"] == 4
    assert last_checkpoint(finished_run).name == "iter_0000004"


def test_selfsvd_star_from_our_run(finished_run: Path, tiny_root: Path, tmp_path: Path) -> None:
    stage1 = last_checkpoint(finished_run)
    g1, info = load_generator(finished_run)
    _assert_same_tensors(g1.state_dict(), {**g1.state_dict(), **load_file(str(stage1 / GENERATOR_FILE))})
    cfg = tiny_config(tiny_root, method="selfsvd_star", stage1=str(finished_run), iters=1)
    cfg.validate()
    student, disc, _, teacher = _build(cfg, torch.device("cpu"))
    _assert_same_tensors(student.state_dict(), g1.state_dict())  # the student starts as the stage-1 generator
    _assert_same_tensors(teacher.state_dict(), g1.state_dict())
    _assert_same_tensors(disc.state_dict(), load_file(str(stage1 / DISCRIMINATOR_FILE)))
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training

    summary = train(cfg, tmp_path / "star", progress=False)
    assert summary["iterations"] == 1 and all(math.isfinite(summary["last"][k]) for k in LOSSES)
    meta = read_generator_metadata(last_checkpoint(tmp_path / "star") / GENERATOR_FILE)
    assert meta["method"] == "selfsvd_star"


def _official_pth(path: Path, generator: torch.nn.Module, disc: torch.nn.Module) -> Path:
    state = {"generator." + k: v for k, v in generator.state_dict().items()}
    state.update({"discriminator." + k: v for k, v in disc.state_dict().items()})
    torch.save({"meta": {"iter": 1}, "state_dict": state}, path)
    return path


def test_official_stage1_checkpoint(tiny_root: Path, tmp_path: Path) -> None:
    torch.manual_seed(5)
    gen, disc = build_selfsvd("tiny"), PatchDiscriminator(base=8)
    for p in list(gen.parameters()) + list(disc.parameters()):  # distinct from a fresh init
        torch.nn.init.normal_(p, std=0.01)
    pth = _official_pth(tmp_path / "selfsvd.pth", gen, disc)
    loaded, info = load_generator(pth, preset="tiny")
    assert info["source"] == "official" and info["model"] == "tiny"
    _assert_same_tensors(loaded.state_dict(), gen.state_dict())
    d2 = PatchDiscriminator(base=8)
    load_official_discriminator(pth, d2)
    _assert_same_tensors(d2.state_dict(), disc.state_dict())
    with pytest.raises(KeyError, match="discriminator does not match"):
        load_official_discriminator(pth, PatchDiscriminator(base=16))
    with pytest.raises(KeyError, match="no 'discriminator.\\*' keys"):
        load_official_discriminator({"generator.x": torch.zeros(1)}, d2)

    cfg = tiny_config(tiny_root, method="selfsvd_star", stage1=str(pth), iters=1)
    student, d3, _, teacher = _build(cfg, torch.device("cpu"))
    _assert_same_tensors(student.state_dict(), gen.state_dict())
    _assert_same_tensors(d3.state_dict(), disc.state_dict())


@pytest.mark.slow
def test_ddp_two_processes(tiny_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "lsvd.train",
         "--preset", "tiny", "--root", str(tiny_root), "--run-dir", str(run), "--no-progress",
         "--set", "iters=2", "--set", "workers=0"],
        capture_output=True, text=True, timeout=240, env=env, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["iter_0000002", "last"]
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
    assert [r["iter"] for r in _log(run)] == [1, 2]
    g, _ = load_generator(run)
    assert sum(float(p.detach().abs().sum()) for p in g.zero_conv.parameters()) > 0  # zero-init conv trained
