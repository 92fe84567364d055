"""Automatic training runs: a finished run of a preset (plus overrides) on a dataset, trained once.

    run_dir = ensure_run("cpu", root, label="selfsvd")                      # trains or reuses
    run_dir = ensure_run("cpu", root, label="selfsvd_no_gan", overrides={"w_gan": 0.0})

Runs live in ``$LSVD_HOME/runs/<label>-<preset>-<manifest id[:12]>``; an interrupted one is resumed.
Used by the benchmark to give learned methods weights when none are given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def default_run_dir(label: str, preset: str, data_root: str | Path) -> Path:
    """``$LSVD_HOME/runs/<label>-<preset>-<manifest id[:12]>`` (a preset given as a TOML path: its file stem)."""
    from lsvd.constants import lsvd_home
    from lsvd.data.manifest import Manifest

    manifest_id = Manifest.load(data_root).info["manifest_id"]
    return lsvd_home() / "runs" / f"{label}-{Path(preset).stem}-{manifest_id[:12]}"


def ensure_run(preset: str, data_root: str | Path, *, label: str, overrides: Mapping[str, Any] | None = None,
               progress: bool = True) -> Path:
    """A finished run of ``preset`` + ``overrides`` on ``data_root`` (trained now if absent, resumed if partial).

    A cached directory that holds a run of another configuration (e.g. of an older version of the
    preset) is never reused: the run goes to ``<dir>-<config digest[:8]>`` instead.
    """
    from lsvd.train.checkpoint import last_checkpoint, load_state
    from lsvd.train.config import load_config, read_toml
    from lsvd.train.loop import CONFIG_FILE, train

    run_dir = default_run_dir(label, preset, data_root)
    cfg = load_config(preset, dict(overrides or {}), data=str(Path(data_root).expanduser().resolve()))
    if (run_dir / CONFIG_FILE).is_file():
        from lsvd.train.config import TrainConfig

        cached = TrainConfig(**read_toml(run_dir / CONFIG_FILE))
        if cached.digest() != cfg.digest():  # e.g. a run of an older version of the preset: never reuse it
            log.warning("%s holds a run of another configuration (an older %s preset?); training %s into %s",
                        run_dir, preset, label, f"{run_dir.name}-{cfg.digest()[:8]}")
            run_dir = run_dir.with_name(f"{run_dir.name}-{cfg.digest()[:8]}")
    started = (run_dir / CONFIG_FILE).is_file()
    folder = last_checkpoint(run_dir) if started else None
    if folder is not None and int(load_state(folder)["iteration"]) >= int(read_toml(run_dir / CONFIG_FILE)["iters"]):
        return run_dir
    log.info("training %s (%s preset) on %s into %s (once; cached)", label, preset, data_root, run_dir)
    train(cfg, run_dir, resume=started, progress=progress)
    return run_dir
