"""Every ``python -m`` command of the README's shell blocks parses with the options it shows.

A renamed or removed option then fails here, not on a reader's machine. (Running them is the
fresh-machine check's job: most need data or weights.)
"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest

from tests.test_cli import PARSERS

README = Path(__file__).resolve().parents[1] / "README.md"
def readme_commands() -> list[str]:
    """The ``python -m`` commands of the README's ``bash`` blocks (continuations joined, comments dropped)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.lstrip().startswith("#"):
                continue
            for part in re.split(r"&&|;", line.split("  #")[0]):
                part = part.strip()
                if part.startswith("python -m ") and " | " not in part:
                    commands.append(part)
    return commands


def test_the_readme_has_commands_of_every_kind():
    assert {" ".join(c.split()[:3]) for c in readme_commands()} >= set(PARSERS)


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_parses(command: str, capsys):
    words = shlex.split(re.sub(r"\$\w+", "1", command))  # shell variables ($D, $I): any value
    name = " ".join(words[:3])
    if name not in PARSERS:
        pytest.skip(f"{name}: not a toolkit command with a parser")
    parser = importlib.import_module(PARSERS[name][0]).build_parser()
    try:
        parser.parse_args(words[3:])
    except SystemExit as exc:
        if exc.code not in (0, None):  # --help / --list-* exit 0
            pytest.fail(f"{command!r} does not parse: {capsys.readouterr().err.strip()}")
