"""What every command shares: one name per concept, common options, logging, threads, progress
bars and the error exit.

The toolkit's commands::

    python -m lsvd.prepare     python -m lsvd.masks     python -m lsvd.train     python -m lsvd.desmoke
    python -m lsvd.hf          python -m benchmarks.run python -m benchmarks.ablation
    python -m reports.build

use the same names for the same things (:data:`NAMES`): ``--root`` (a dataset root), ``-o/--output``
(what the command writes), ``--model`` (network size), ``--preset`` (training preset),
``--data-preset`` (synthetic data size), ``--device`` (``auto`` by default), ``-v``/``-q``,
``--threads`` and ``--no-progress``. Older spellings still work and print a warning. A command is::

    def main(argv=None):
        parser = command_parser("python -m lsvd.masks", __doc__)
        add_root(parser)
        args = parse(parser, argv)        # logging, threads, args.progress
        return run(_masks, args)          # errors -> "error: <message>" on stderr, exit 2
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lsvd.errors import LsvdError

__all__ = ["COMMANDS", "add_common_options", "add_device", "add_option", "add_root", "command_parser", "parse",
           "resolve_device", "run"]

log = logging.getLogger(__name__)

#: Every command of the toolkit and what it does (``python -m lsvd`` prints them).
COMMANDS = {
    "python -m lsvd.prepare": "index LSVD folders, videos or the synthetic mini-LSVD into a dataset root",
    "python -m lsvd.masks": "SelfSVD masks for a dataset root (official or ps mode, DIS or PWC-Net flow)",
    "python -m lsvd.train": "train SelfSVD, SelfSVD* or a learned baseline on a dataset root",
    "python -m lsvd.desmoke": "desmoke a video, a frame folder or a prepared clip",
    "python -m lsvd.hf": "dataset card, HF loading and a push-ready folder of a dataset root",
    "python -m benchmarks.run": "score methods with reference and no-reference metrics into a leaderboard",
    "python -m benchmarks.ablation": "train SelfSVD and its ablations over seeds; mean +- std table",
    "python -m reports.build": "tables, figures and a report page from a results folder",
    "python -m reports.reproduce": "regenerate every number the README quotes, with its provenance",
}


def command_parser(prog: str, description: str | None, epilog: str | None = None) -> argparse.ArgumentParser:
    """An argument parser with the common options: ``-v``, ``-q``, ``--threads``, ``--no-progress``."""
    p = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_options(p)
    return p


def add_common_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``-v``/``-q`` (log level), ``--threads`` and ``--no-progress`` (also for subcommand parsers)."""
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    p.add_argument("-q", "--quiet", action="count", default=0, help="only warnings and errors")
    p.add_argument("--threads", type=int, help="CPU threads (default: the CPUs this process may use that are not "
                                               "busy; see lsvd.threads)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars (there are none anyway when stderr is not a terminal)")


class _OldSpelling(argparse.Action):
    """An old option name: stores like the new one and warns once."""

    def __init__(self, option_strings: Sequence[str], dest: str, new: str = "", **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"warning: {option_string} is an old spelling of {self.new}; use {self.new}", file=sys.stderr)
        if self.nargs == 0:
            values = True
        setattr(namespace, self.dest, values)


def add_option(p: argparse.ArgumentParser | argparse._ArgumentGroup, *flags: str, old: Sequence[str] = (),
               **kwargs: Any) -> argparse.Action:
    """``p.add_argument(*flags, **kwargs)``, plus hidden ``old`` spellings that warn and store the same."""
    action = p.add_argument(*flags, **kwargs)
    if old:
        extra = {k: kwargs[k] for k in ("type", "nargs", "choices", "metavar") if k in kwargs}
        if kwargs.get("action") == "store_true":
            extra["nargs"] = 0
        p.add_argument(*old, dest=action.dest, action=_OldSpelling, new=flags[-1], help=argparse.SUPPRESS,
                       default=argparse.SUPPRESS, **extra)
    return action


def add_root(p: argparse.ArgumentParser | argparse._ArgumentGroup, *, help: str | None = None,
             old: Sequence[str] = ("--data",)) -> argparse.Action:
    """``--root ROOT``: a dataset root written by ``python -m lsvd.prepare`` (old spelling ``--data``)."""
    return add_option(p, "--root", old=old, metavar="ROOT",
                      help=help or "a dataset root written by python -m lsvd.prepare")


def add_device(p: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None = "auto") -> None:
    """``--device``: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    p.add_argument("--device", default=default, help="auto (CUDA when available, else CPU; the default), cpu, "
                                                     "cuda or cuda:N")


def resolve_device(device: str | None) -> str:
    """``auto`` (or ``None``) -> ``cuda`` when torch sees a GPU, else ``cpu``; anything else as given."""
    if device in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``, set up logging (``-v``/``-q``) and ``args.progress`` (off with ``--no-progress`` or
    when stderr is not a terminal, so cluster logs stay readable). Threads are set by :func:`run`."""
    from lsvd.logging_utils import init_logging

    args = parser.parse_args(argv)
    init_logging(getattr(args, "verbose", 0) - getattr(args, "quiet", 0))
    args.progress = not getattr(args, "no_progress", False) and sys.stderr.isatty()
    return args


def run(command: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Set the threads (``--threads``), run ``command(args)`` and return its exit code (0 for ``None``).

    A deliberate error (:class:`~lsvd.errors.LsvdError`), bad input (``ValueError``, ``KeyError``) or a
    file problem (``OSError``) prints ``error: <message>`` on stderr and gives exit code 2, never a
    traceback.
    """
    from lsvd.threads import configure_threads

    try:
        if hasattr(args, "threads"):
            configure_threads(args.threads)
        code = command(args)
    except (LsvdError, ValueError, KeyError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0 if code is None else int(code)
