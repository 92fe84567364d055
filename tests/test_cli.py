"""The conventions every command shares (lsvd.cli): names, old spellings, -q/-v, devices, progress, errors."""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lsvd.cli import COMMANDS, add_option, add_root, command_parser, parse, resolve_device, run
from lsvd.errors import LsvdError

ROOT = Path(__file__).resolve().parents[1]
#: command -> (module with build_parser, subcommand args or [])
PARSERS = {
    "python -m lsvd.prepare": ("lsvd.prepare", []),
    "python -m lsvd.masks": ("lsvd.masks.__main__", []),
    "python -m lsvd.train": ("lsvd.train.__main__", []),
    "python -m lsvd.desmoke": ("lsvd.desmoke", ["x", "-o", "y"]),
    "python -m lsvd.hf": ("lsvd.hf.cli", ["card"]),
    "python -m benchmarks.run": ("benchmarks.run", []),
    "python -m benchmarks.ablation": ("benchmarks.ablation", []),
    "python -m reports.build": ("reports.build", []),
    "python -m reports.reproduce": ("reports.reproduce", []),
}


def test_python_m_lsvd_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "lsvd"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert set(PARSERS) == set(COMMANDS)
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_command_shares_the_common_options(command: str):
    module, extra = PARSERS[command]
    args = importlib.import_module(module).build_parser().parse_args(
        [*extra, "-q", "-v", "-v", "--threads", "1", "--no-progress"])
    assert (args.quiet, args.verbose, args.threads, args.no_progress) == (1, 2, 1, True)


@pytest.mark.parametrize(("module", "extra", "new", "old", "dest", "value"), [
    ("benchmarks.run", [], "--root", "--data", "root", "/r"),
    ("benchmarks.run", [], "--output", "--results", "output", "/o"),
    ("benchmarks.run", [], "--preset", "--train-preset", "preset", "cpu-long"),
    ("lsvd.train.__main__", [], "--root", "--data", "root", "/r"),
    ("lsvd.prepare", [], "--data-preset", "--preset", "data_preset", "tiny"),
    ("lsvd.desmoke", ["x", "-o", "y"], "--model", "--preset", "model", "small"),
    ("benchmarks.ablation", [], "--output", "--results", "output", "/o"),
    ("reports.build", [], "--output", "--out", "output", "/o"),
])
def test_one_name_per_concept_and_old_spellings_warn(module, extra, new, old, dest, value, capsys):
    parser = importlib.import_module(module).build_parser()
    assert getattr(parser.parse_args([*extra, new, value]), dest) == value
    assert "old spelling" not in capsys.readouterr().err
    assert getattr(parser.parse_args([*extra, old, value]), dest) == value
    assert f"{old} is an old spelling of {new}" in capsys.readouterr().err
    assert not re.search(re.escape(old) + r"(?![\w-])", parser.format_help())  # hidden: --help shows one name


def test_devices_default_to_auto():
    import torch

    for module, extra in (("lsvd.desmoke", ["x", "-o", "y"]), ("benchmarks.run", [])):
        assert importlib.import_module(module).build_parser().parse_args(extra).device == "auto"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu" and resolve_device(None) in ("cpu", "cuda")


def test_parse_sets_log_level_and_progress(monkeypatch):
    p = command_parser("x", None)
    args = parse(p, ["-q"])
    assert logging.getLogger().level == logging.WARNING
    assert not args.progress  # stderr is captured here, not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert parse(p, []).progress and not parse(p, ["--no-progress"]).progress
    parse(p, ["-v"])
    assert logging.getLogger().level == logging.DEBUG
    parse(p, [])
    assert logging.getLogger().level == logging.INFO


@pytest.mark.parametrize("exc", [LsvdError("bad root"), ValueError("bad root"), KeyError("bad root"),
                                 FileNotFoundError("bad root")])
def test_run_turns_errors_into_exit_2(exc, capsys):
    def command(args):
        raise exc

    assert run(command, argparse.Namespace(threads=None)) == 2
    assert capsys.readouterr().err == "error: bad root\n"


def test_run_passes_exit_codes_and_rejects_bad_threads(capsys):
    assert run(lambda args: None, argparse.Namespace()) == 0
    assert run(lambda args: 1, argparse.Namespace()) == 1
    assert run(lambda args: 0, argparse.Namespace(threads=0)) == 2
    assert "threads" in capsys.readouterr().err


def test_add_option_old_spelling_keeps_the_default():
    p = argparse.ArgumentParser()
    add_option(p, "--new", old=("--old",), default="d")
    add_root(p)
    assert p.parse_args([]).new == "d" and p.parse_args([]).root is None
