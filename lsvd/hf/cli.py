"""``python -m lsvd.hf`` / ``lsvd-hf``: write the dataset card or a Hub folder, or show a config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lsvd.data.manifest import Manifest, ManifestError
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
        "  python -m lsvd.hf card /data/lsvd-root          # rewrite README.md + hf/ from the manifest\n"
        "  python -m lsvd.hf hub /data/lsvd-root /tmp/hub  # self-contained folder for the Hub\n"
        "  python -m lsvd.hf show /data/lsvd-root --config clips",
    )
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("card", help="write the dataset card and its data files")
    c.add_argument("root", type=Path)
    h = sub.add_parser("hub", help="write a push-ready folder with the pixels embedded")
    h.add_argument("root", type=Path)
    h.add_argument("out", type=Path)
    h.add_argument("--max-shard-rows", type=int, default=1000)
    h.add_argument("--max-shard-mb", type=int, default=500)
    h.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    s = sub.add_parser("show", help="print the datasets object of a config")
    s.add_argument("root", type=Path)
    s.add_argument("--config", choices=CONFIGS, default=FRAMES)
    for q in (c, h, s):
        q.add_argument("-v", "--verbose", action="count", default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command; 0 on success, 2 on a bad root or argument (the error on stderr)."""
    from lsvd.logging_utils import init_logging

    args = build_parser().parse_args(argv)
    init_logging(args.verbose)
    try:
        if args.command == "card":
            print(write_dataset_card(Manifest.load(args.root)))
        elif args.command == "hub":
            out = write_hub_folder(args.root, args.out, max_shard_rows=args.max_shard_rows,
                                   max_shard_bytes=args.max_shard_mb << 20, configs=args.configs)
            print(out)
        else:
            print(load(args.root, args.config))
    except (ManifestError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
