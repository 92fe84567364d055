"""python -m lsvd.train (in-process) and lsvd.desmoke with our training checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsvd.train.__main__ import main


def test_list_presets(capsys: pytest.CaptureFixture) -> None:
    assert main(["--list-presets"]) == 0
    names = capsys.readouterr().out.split()
    assert {"paper", "paper-star", "tiny"} <= set(names)


def test_show_config(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["--show-config", "--preset", "paper", "--set", "iters=10", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\niters = 10\n" in out and "\nlr_g = 0.0001\n" in out and 'model = "paper"' in out


def test_bad_set_exits_2(capsys: pytest.CaptureFixture) -> None:
    assert main(["--show-config", "--preset", "paper", "--set", "itres=10"]) == 2
    err = capsys.readouterr().err
    assert "did you mean iters" in err


def test_unprepared_data_exits_2(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["--preset", "tiny", "--root", str(tmp_path), "--run-dir", str(tmp_path / "run")]) == 2
    assert "python -m lsvd.prepare" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_missing_run_dir_exits_2(capsys: pytest.CaptureFixture, tiny_root: Path) -> None:
    assert main(["--preset", "tiny", "--root", str(tiny_root)]) == 2
    assert "--run-dir" in capsys.readouterr().err


def test_existing_run_dir_exits_2(capsys: pytest.CaptureFixture, tiny_root: Path, finished_run: Path) -> None:
    assert main(["--preset", "tiny", "--root", str(tiny_root), "--run-dir", str(finished_run), "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_desmoke_with_run_dir(tiny_root: Path, finished_run: Path, tmp_path: Path) -> None:
    from lsvd.desmoke import DesmokeError, desmoke

    out = tmp_path / "out"
    s = desmoke(f"{tiny_root}::synth_test_000", str(out), checkpoint=str(finished_run), mask="none")
    assert s["frames"] == len(list(out.iterdir())) > 0
    with pytest.raises(DesmokeError, match="tiny"):
        desmoke(f"{tiny_root}::synth_test_000", str(tmp_path / "x"), checkpoint=str(finished_run), preset="paper",
                mask="none")


def test_desmoke_ps_frame_auto(tiny_root: Path, tmp_path: Path) -> None:
    from lsvd.desmoke import desmoke

    clip = next(p for p in sorted((tiny_root / "synthetic" / "LSVD_test").iterdir()) if p.is_dir())
    s = desmoke(str(clip), str(tmp_path / "auto"), preset="tiny", ps_frame="auto", mask="none")
    n = len(list(clip.glob("*.png")))
    assert 0 <= s["ps_frame"] < n - 1 and s["frames"] == n - 1 - s["ps_frame"]
