"""``python -m lsvd.masks ROOT``: SelfSVD masks for a prepared dataset root.

Examples::

    python -m lsvd.masks ~/.cache/lsvd/datasets/synthetic-default            # official mode, DIS flow
    python -m lsvd.masks ROOT --mode ps                                       # PS frame vs every frame
    python -m lsvd.masks ROOT --flow pwcnet --flow-weights pwcnet-network-default.pth
    python -m lsvd.masks ROOT --num-shards 4 --shard-index 0                  # one of 4 jobs; then
    python -m lsvd.masks ROOT                                                 # records all shards

See :mod:`lsvd.masks.pipeline` for the modes and how runs resume.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lsvd.masks.pipeline import add_mask_arguments


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lsvd.masks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", nargs="?", type=Path, help="a dataset root written by python -m lsvd.prepare")
    add_mask_arguments(p)
    p.add_argument("--split", help="only the clips of this split")
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--shard-index", type=int, default=0)
    p.add_argument("--threads", type=int, help="Numba threads (default: all usable cores)")
    p.add_argument("--strict", action="store_true", help="fail if any clip cannot get masks")
    p.add_argument("--list-flows", "--list", action="store_true", help="list the flow backends and exit")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-v", "--verbose", action="count", default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    from lsvd.data.manifest import ManifestError
    from lsvd.data.problems import BadInputError
    from lsvd.logging_utils import init_logging

    args = build_parser().parse_args(argv)
    init_logging(args.verbose)
    if args.list_flows:
        from lsvd.flow import list_flows

        print("\n".join(list_flows()))
        return 0
    if args.root is None:
        build_parser().error("ROOT is required (a dataset root written by python -m lsvd.prepare)")
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    from lsvd.masks.pipeline import generate_masks

    try:
        summary = generate_masks(args.root, mode=args.mask_mode, flow=args.flow, flow_weights=args.flow_weights,
                                 split=args.split, num_shards=args.num_shards, shard_index=args.shard_index,
                                 strict=args.strict, progress=not args.no_progress)
    except (BadInputError, ManifestError, FileNotFoundError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
