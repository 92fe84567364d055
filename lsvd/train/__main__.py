"""``python -m lsvd.train``: train SelfSVD (stage 1) or SelfSVD* (stage 2) on a prepared dataset root.

Examples::

    python -m lsvd.prepare --masks                                   # the synthetic mini-LSVD, with masks
    python -m lsvd.train --preset cpu --run-dir runs/cpu             # minutes on a laptop CPU
    python -m lsvd.train --preset cpu --run-dir runs/cpu --resume    # continue exactly where it stopped
    python -m lsvd.train --root /data/lsvd-root --preset paper --run-dir runs/selfsvd
    python -m lsvd.train --root /data/lsvd-root --preset paper-star --run-dir runs/selfsvd-star \\
        --set stage1=runs/selfsvd                                    # SelfSVD*, from the stage-1 run
    torchrun --nproc_per_node 8 -m lsvd.train --root ROOT --preset paper --run-dir runs/ddp
    python -m lsvd.train --preset cpu --set iters=200 --set lr_g=3e-4 --run-dir runs/quick
    python -m lsvd.train --list-presets | --show-config --preset paper

Presets are TOML files (``lsvd/train/presets``, or a path such as a run's ``config.toml``); every
field of :class:`lsvd.train.config.TrainConfig` can be overridden with ``--set KEY=VALUE``. The
configuration is validated before anything heavy starts. Without ``--root``, the default
synthetic root (``$LSVD_HOME/datasets/synthetic-default``) is used. Then use the result with
``python -m lsvd.desmoke VIDEO -o OUT.mp4 --checkpoint RUN_DIR``.
"""

from __future__ import annotations

import argparse
import json
import sys

from lsvd.cli import add_device, add_root, command_parser, parse, run


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m lsvd.train", __doc__)
    add_root(p, help="dataset root from python -m lsvd.prepare --masks (default: the synthetic-default root)")
    p.add_argument("--preset", default=None, help="training preset name or .toml file (default: cpu without CUDA, "
                                                  "paper with it)")
    p.add_argument("--run-dir", help="run directory: what training writes (must be new or empty unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one configuration field (repeatable), e.g. --set iters=500")
    p.add_argument("--stop-at", type=int, metavar="ITER",
                   help="end this session at iteration ITER with a checkpoint (resume later with --resume)")
    add_device(p, default=None)
    p.add_argument("--list-presets", action="store_true", help="list the built-in presets and exit")
    p.add_argument("--show-config", action="store_true", help="print the resolved configuration and exit")
    return p


def _train(args: argparse.Namespace) -> int:
    import torch

    from lsvd.prepare import synthetic_root
    from lsvd.train.config import ConfigError, list_presets, load_config, to_toml
    from lsvd.train.loop import train

    if args.list_presets:
        print("\n".join(list_presets()))
        return 0
    explicit = bool(args.preset or args.overrides or args.root or args.device)
    if args.resume and not explicit:
        cfg = None  # the run's own config.toml
    else:
        preset = args.preset or ("paper" if torch.cuda.is_available() else "cpu")
        data = args.root or str(synthetic_root())
        cfg = load_config(preset, args.overrides, data=data, device=args.device)
        if args.show_config:
            print(to_toml(cfg), end="")
            return 0
        cfg.validate()
    if not args.run_dir:
        raise ConfigError("--run-dir: where to write the run (checkpoints, config, log) is required")
    try:
        summary = train(cfg, args.run_dir, resume=args.resume, progress=args.progress, stop_at=args.stop_at)
    except FloatingPointError as exc:
        print(f"error: training diverged: {exc}. The last checkpoint is intact; resume with a lower learning "
              "rate in a new run", file=sys.stderr)
        return 3
    if summary["rank"] != 0:  # under torchrun, rank 0 reports
        return 0
    ev = summary.get("eval") or {}
    print(f"run            {summary['run_dir']}")
    print(f"iterations     {summary['started_at']} -> {summary['iterations']} in {summary['seconds']} s "
          f"({summary['it_per_s']} it/s on {summary['device']}, {summary['world_size']} process(es))")
    if summary["last"]:
        print("last losses    " + json.dumps({k: round(v, 4) for k, v in summary["last"].items()}))
    if ev:
        print(f"PSNR vs clean  {ev['split']} ({ev['clips']} clips): input {ev['psnr_clean_in']:.2f} dB -> "
              f"output {ev['psnr_clean_out']:.2f} dB")
    if summary["checkpoint"]:
        print(f"checkpoint     {summary['checkpoint']}")
        print(f"desmoke with   python -m lsvd.desmoke VIDEO -o OUT.mp4 --checkpoint {summary['run_dir']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_train, parse(build_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())
