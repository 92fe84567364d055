"""``python -m lsvd.masks --root ROOT``: SelfSVD masks for a prepared dataset root.

Examples::

    python -m lsvd.masks --root ~/.cache/lsvd/datasets/synthetic-default     # official mode, DIS flow
    python -m lsvd.masks --root ROOT --mode ps                                # PS frame vs every frame
    python -m lsvd.masks --root ROOT --flow pwcnet --flow-weights pwcnet-network-default.pth
    python -m lsvd.masks --root ROOT --num-shards 4 --shard-index 0           # one of 4 jobs; then
    python -m lsvd.masks --root ROOT                                          # records all shards

See :mod:`lsvd.masks.pipeline` for the modes and how runs resume.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lsvd.cli import add_root, command_parser, parse, run
from lsvd.masks.pipeline import add_mask_arguments


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m lsvd.masks", __doc__)
    add_root(p, old=())
    p.add_argument("old_root", nargs="?", type=Path, help=argparse.SUPPRESS)  # the old positional ROOT
    add_mask_arguments(p)
    p.add_argument("--split", help="only the clips of this split")
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--shard-index", type=int, default=0)
    p.add_argument("--strict", action="store_true", help="fail if any clip cannot get masks")
    p.add_argument("--list-flows", "--list", action="store_true", help="list the flow backends and exit")
    return p


def _masks(args: argparse.Namespace) -> int:
    if args.list_flows:
        from lsvd.flow import list_flows

        print("\n".join(list_flows()))
        return 0
    if args.old_root is not None:
        print("warning: a positional ROOT is an old spelling of --root; use --root ROOT", file=sys.stderr)
        args.root = args.root or args.old_root
    if args.root is None:
        raise ValueError("--root: expected a dataset root written by python -m lsvd.prepare")
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    from lsvd.masks.pipeline import generate_masks

    summary = generate_masks(args.root, mode=args.mask_mode, flow=args.flow, flow_weights=args.flow_weights,
                             split=args.split, num_shards=args.num_shards, shard_index=args.shard_index,
                             strict=args.strict, progress=args.progress)
    print(summary.render())
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_masks, parse(build_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())
