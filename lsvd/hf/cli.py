"""``python -m lsvd.hf`` / ``lsvd-hf``: write the dataset card or a Hub folder, or show a config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lsvd.cli import add_common_options, add_root, parse, run
from lsvd.data.manifest import Manifest
from lsvd.hf.card import write_dataset_card
from lsvd.hf.hub import write_hub_folder
from lsvd.hf.tables import CONFIGS, FRAMES, load

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lsvd.hf",
        description="HuggingFace datasets views of a prepared dataset root.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  python -m lsvd.hf card --root /data/lsvd-root            # rewrite README.md + hf/ from the manifest\n"
        "  python -m lsvd.hf hub --root /data/lsvd-root -o /tmp/hub  # self-contained folder for the Hub\n"
        "  python -m lsvd.hf show --root /data/lsvd-root --config clips",
    )
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("card", help="write the dataset card and its data files")
    h = sub.add_parser("hub", help="write a push-ready folder with the pixels embedded")
    h.add_argument("-o", "--output", type=Path, help="the folder to write (new, or an earlier hub folder)")
    h.add_argument("--max-shard-rows", type=int, default=1000)
    h.add_argument("--max-shard-mb", type=int, default=500)
    h.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    s = sub.add_parser("show", help="print the datasets object of a config")
    s.add_argument("--config", choices=CONFIGS, default=FRAMES)
    for q in (c, h, s):
        add_root(q, old=())
        q.add_argument("old_spellings", nargs="*", type=Path, help=argparse.SUPPRESS)  # positional ROOT [OUT]
        add_common_options(q)
    return p


def _hf(args: argparse.Namespace) -> int:
    if args.old_spellings:
        print("warning: positional ROOT [OUT] is an old spelling of --root ROOT [-o OUT]", file=sys.stderr)
        args.root = args.root or args.old_spellings[0]
        if args.command == "hub" and len(args.old_spellings) > 1:
            args.output = args.output or args.old_spellings[1]
    if args.root is None:
        raise ValueError("--root: expected a dataset root written by python -m lsvd.prepare")
    if args.command == "card":
        print(write_dataset_card(Manifest.load(args.root)))
    elif args.command == "hub":
        if args.output is None:
            raise ValueError("-o/--output: expected the folder to write the Hub copy to")
        print(write_hub_folder(args.root, args.output, max_shard_rows=args.max_shard_rows,
                               max_shard_bytes=args.max_shard_mb << 20, configs=args.configs))
    else:
        print(load(args.root, args.config))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; 0 on success, 2 on a bad root or argument (the error on stderr)."""
    return run(_hf, parse(build_parser(), argv))
