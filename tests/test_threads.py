"""lsvd.threads: thread counts follow the CPUs the process may use and the load on them."""

from __future__ import annotations

import pytest
import torch

from lsvd import threads


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LSVD_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_affinity_minus_busy(no_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(threads, "busy_cpus", lambda: 0)
    assert threads.usable_cpus() == 4 and threads.choose_threads() == 4
    monkeypatch.setattr(threads, "busy_cpus", lambda: 3)
    assert threads.choose_threads() == 1  # 4 usable, 3 busy
    monkeypatch.setattr(threads, "busy_cpus", lambda: 9)
    assert threads.choose_threads() == 1  # never below one


def test_busy_cpus_counts_other_runnable_tasks(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    real_read = threads.Path.read_text

    def fake(path, *a, **k):
        return "0.50 0.40 0.30 3/120 999\n" if str(path) == "/proc/loadavg" else real_read(path, *a, **k)

    monkeypatch.setattr(threads.Path, "read_text", fake)
    assert threads.busy_cpus() == 2  # 3 runnable, one of them this process


def test_explicit_counts_win(no_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "busy_cpus", lambda: 50)
    assert threads.choose_threads(3) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.choose_threads() == 2
    monkeypatch.setenv("LSVD_THREADS", "5")
    assert threads.choose_threads() == 5
    with pytest.raises(ValueError, match="positive integer"):
        threads.choose_threads(0)
    monkeypatch.setenv("LSVD_THREADS", "many")
    with pytest.raises(ValueError, match="LSVD_THREADS"):
        threads.choose_threads()


def test_configure_sets_torch_threads(no_env: None) -> None:
    before = torch.get_num_threads()
    try:
        assert threads.configure_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_commands_refuse_a_bad_thread_count(capsys: pytest.CaptureFixture) -> None:
    from lsvd.train.__main__ import main

    assert main(["--threads", "0", "--list-presets"]) == 2
    assert "positive integer" in capsys.readouterr().err
