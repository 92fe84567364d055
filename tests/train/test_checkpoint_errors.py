"""Unreadable checkpoints and weights: truncated files and unsafe pickles give a CheckpointError (exit 2 in the
commands) that names the file; a broken last checkpoint on --resume names the previous good one."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lsvd.io.weights import CheckpointError
from lsvd.train.checkpoint import (
    DISCRIMINATOR_FILE,
    GENERATOR_FILE,
    STATE_FILE,
    last_checkpoint,
    load_generator,
    load_state,
)
from lsvd.train.loop import _build, train
from tests.train.conftest import tiny_config

LAST, PREVIOUS = "iter_0000004", "iter_0000002"  # the checkpoints of the finished_run fixture


class _Payload:
    """Unpickling this runs a shell command that writes ``marker`` (what weights_only loading must refuse)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"echo pwned > {shlex.quote(str(self.marker))}",)


@pytest.fixture
def unsafe_pth(tmp_path: Path) -> tuple[Path, Path]:
    """(an official-looking .pth whose pickle runs a command, the file that command would write)."""
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "unsafe.pth"
    torch.save({"state_dict": {"generator.x": torch.zeros(1), "payload": _Payload(marker)}}, path)
    return path, marker


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _copy_run(finished_run: Path, tmp_path: Path) -> Path:
    """A copy of the finished tiny run (the session fixture must stay intact)."""
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def _snapshot(run: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in run.rglob("*")}


def test_payload_is_live(unsafe_pth: tuple[Path, Path]) -> None:
    """The fixture really runs code when unpickled without weights_only (so the refusals below mean something)."""
    path, marker = unsafe_pth
    torch.load(path, weights_only=False)
    assert marker.read_text().strip() == "pwned"


def test_truncated_generator_on_resume(finished_run: Path, tmp_path: Path) -> None:
    run = _copy_run(finished_run, tmp_path)
    _truncate(run / "checkpoints" / LAST / GENERATOR_FILE)
    before = _snapshot(run)
    with pytest.raises(CheckpointError) as info:
        train(None, run, resume=True, progress=False)
    message = str(info.value)
    assert f"last checkpoint {run / 'checkpoints' / LAST} cannot be resumed from ({GENERATOR_FILE}: " in message
    assert "truncated" in message and "Traceback" not in message
    assert f"previous good checkpoint is {run / 'checkpoints' / PREVIOUS}" in message
    assert f"echo {PREVIOUS} > {run / 'checkpoints' / 'last'}" in message
    assert _snapshot(run) == before  # refused before anything was written

    # the advice works, and the rerun from the previous checkpoint is the uninterrupted run
    (run / "checkpoints" / "last").write_text(PREVIOUS + "\n")
    summary = train(None, run, resume=True, progress=False)
    assert (summary["started_at"], summary["iterations"]) == (2, 4)
    a, b = last_checkpoint(finished_run), last_checkpoint(run)
    assert b.name == LAST
    for name in (GENERATOR_FILE, DISCRIMINATOR_FILE):
        sa, sb = load_file(str(a / name)), load_file(str(b / name))
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa), name


@pytest.mark.parametrize("damage", ["truncated", "unsafe", "empty"])
def test_bad_state_on_resume(damage: str, finished_run: Path, tmp_path: Path) -> None:
    run = _copy_run(finished_run, tmp_path)
    state = run / "checkpoints" / LAST / STATE_FILE
    marker = tmp_path / "pwned.txt"
    if damage == "truncated":
        _truncate(state)
    elif damage == "unsafe":
        torch.save({**load_state(state.parent), "payload": _Payload(marker)}, state)
    else:
        state.write_bytes(b"")
    with pytest.raises(CheckpointError) as info:
        train(None, run, resume=True, progress=False)
    message = str(info.value)
    assert STATE_FILE in message and str(run / "checkpoints" / PREVIOUS) in message
    expected = {"truncated": "truncated", "unsafe": "nothing in the file was run", "empty": "empty file"}[damage]
    assert expected in message
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused" if damage == "unsafe" else "expected the resumable state"):
        load_state(state.parent)


def test_resume_without_a_good_checkpoint(finished_run: Path, tmp_path: Path) -> None:
    run = _copy_run(finished_run, tmp_path)
    _truncate(run / "checkpoints" / LAST / STATE_FILE)
    _truncate(run / "checkpoints" / PREVIOUS / DISCRIMINATOR_FILE)
    with pytest.raises(CheckpointError, match="No earlier checkpoint") as info:
        train(None, run, resume=True, progress=False)
    assert f"--preset {run / 'config.toml'}" in str(info.value)


def test_resume_cli_exits_2(finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from lsvd.train.__main__ import main

    run = _copy_run(finished_run, tmp_path)
    _truncate(run / "checkpoints" / LAST / GENERATOR_FILE)
    assert main(["--run-dir", str(run), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --resume") and PREVIOUS in err and "Traceback" not in err


def _pwcnet_flow(path: Path) -> None:
    from lsvd.flow.pwcnet import PWCNetFlow

    PWCNetFlow(weights=path, device="cpu")


def _official_discriminator(path: Path) -> None:
    from lsvd.models import PatchDiscriminator
    from lsvd.models.convert import load_official_discriminator

    load_official_discriminator(path, PatchDiscriminator(base=8))


@pytest.mark.parametrize("load", [_pwcnet_flow, _official_discriminator, load_generator],
                         ids=["pwcnet", "official-discriminator", "load-generator"])
def test_unsafe_pth_refused(load, unsafe_pth: tuple[Path, Path]) -> None:
    path, marker = unsafe_pth
    with pytest.raises(CheckpointError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: expected ") and "system" in message  # the refused global, os.system
    assert "refused" in message and "torch.save(model.state_dict(), PATH)" in message
    assert "Weights only load failed" not in message  # torch's own long text is cut to its reason
    assert not marker.exists()


def test_truncated_flow_weights(tmp_path: Path) -> None:
    from lsvd.flow.pwcnet import load_pwcnet_weights

    path = tmp_path / "pwcnet.pth"
    torch.save({"netExtractor.netOne.0.weight": torch.zeros(16, 3, 3, 3)}, path)
    _truncate(path)
    with pytest.raises(CheckpointError, match=r"expected PWC-Net weights .* truncated .*--flow-weights PATH"):
        load_pwcnet_weights(path)


@pytest.mark.parametrize("damage", ["unsafe", "truncated"])
def test_bad_stage1(damage: str, tiny_root: Path, finished_run: Path, tmp_path: Path,
                    unsafe_pth: tuple[Path, Path]) -> None:
    path, marker = unsafe_pth
    if damage == "truncated":
        path = _copy_run(finished_run, tmp_path)
        _truncate(path / "checkpoints" / LAST / GENERATOR_FILE)
    cfg = tiny_config(tiny_root, method="selfsvd_star", stage1=str(path), iters=1)
    with pytest.raises(CheckpointError, match="^stage1: ") as info:
        _build(cfg, torch.device("cpu"))
    assert str(path) in str(info.value) and ("refused" if damage == "unsafe" else "truncated") in str(info.value)
    assert not marker.exists()


def test_train_cli_unsafe_files_exit_2(tiny_root: Path, tmp_path: Path, unsafe_pth: tuple[Path, Path],
                                       capsys: pytest.CaptureFixture) -> None:
    from lsvd.train.__main__ import main

    path, marker = unsafe_pth
    base = ["--preset", "tiny", "--root", str(tiny_root), "--no-progress"]
    for name, sets in (("stage1", ["method=selfsvd_star", f"stage1={path}"]),
                       ("flow", ["flow=pwcnet", f"flow_weights={path}"])):
        args = [a for s in sets for a in ("--set", s)]
        assert main([*base, *args, "--run-dir", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and str(path) in err and "refused" in err and "Traceback" not in err
        assert not (tmp_path / name).exists()
    assert not marker.exists()


def test_desmoke_cli_unsafe_checkpoint_exits_2(tiny_root: Path, tmp_path: Path, unsafe_pth: tuple[Path, Path],
                                               capsys: pytest.CaptureFixture) -> None:
    from lsvd.desmoke import main

    path, marker = unsafe_pth
    assert main([f"{tiny_root}::synth_test_000", "-o", str(tmp_path / "out"), "--checkpoint", str(path),
                 "--mask", "none", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --checkpoint {path}: ") and "refused" in err
    assert not marker.exists() and not (tmp_path / "out").exists()
