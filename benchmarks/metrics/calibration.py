"""The calibration images the no-reference metrics are checked against.

pyiqa publishes calibration values of its metrics on five distorted images (``I03``, ``I04``,
``I06``, ``I08``, ``I19``) that ship inside its wheel (``ResultsCalibra/dist_dir/*.bmp``). We never
install pyiqa; ``python -m benchmarks.metrics.calibration fetch`` downloads the wheel with the
package installer (no dependencies) and extracts only those images into
``$LSVD_HOME/calibration/pyiqa-0.1.16/dist_dir/``. The calibration tests skip when they are absent.

    python -m benchmarks.metrics.calibration fetch        # once (CI does it in .ci/run)
    python -m benchmarks.metrics.calibration fetch --wheel pyiqa-0.1.16-py3-none-any.whl   # offline
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lsvd.constants import lsvd_home
from lsvd.io.atomic import atomic_dir

__all__ = ["NAMES", "PYIQA_VERSION", "calibration_dir", "calibration_images", "extract", "fetch", "main"]

PYIQA_VERSION = "0.1.16"
NAMES = ("I03", "I04", "I06", "I08", "I19")
_MEMBER = "ResultsCalibra/dist_dir/{name}.bmp"


def calibration_dir() -> Path:
    """``$LSVD_HOME/calibration/pyiqa-<version>/dist_dir``."""
    return lsvd_home() / "calibration" / f"pyiqa-{PYIQA_VERSION}" / "dist_dir"


def calibration_images() -> dict[str, Path]:
    """``{"I03": path, ...}`` of the fetched calibration images.

    Raises:
        FileNotFoundError: not fetched yet (the message gives the command).
    """
    folder = calibration_dir()
    paths = {name: folder / f"{name}.bmp" for name in NAMES}
    missing = [n for n, p in paths.items() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"calibration images {', '.join(missing)} not found in {folder}; fetch them with "
                                "`python -m benchmarks.metrics.calibration fetch`")
    return paths


def extract(wheel: str | Path) -> Path:
    """Extract the five images from a pyiqa wheel into :func:`calibration_dir` (atomically)."""
    target = calibration_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z, atomic_dir(target) as tmp:
        for name in NAMES:
            try:
                data = z.read(_MEMBER.format(name=name))
            except KeyError:
                raise FileNotFoundError(f"{wheel}: no {_MEMBER.format(name=name)} inside; expected a pyiqa "
                                        f"{PYIQA_VERSION} wheel") from None
            (tmp / f"{name}.bmp").write_bytes(data)
    return target


def fetch(wheel: str | Path | None = None) -> Path:
    """Download the pyiqa wheel (``pip download --no-deps``, nothing installed) unless given, then extract.
    Nothing is downloaded when the images are already there."""
    if wheel is not None:
        return extract(wheel)
    try:
        calibration_images()
        return calibration_dir()
    except FileNotFoundError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"pyiqa=={PYIQA_VERSION}", "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("pyiqa-*.whl"))
        if done.returncode != 0 or not wheels:
            raise RuntimeError(f"could not download pyiqa=={PYIQA_VERSION} ({done.stderr.strip()[-300:]}); "
                               "download the wheel elsewhere and pass --wheel PATH")
        return extract(wheels[0])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.metrics.calibration", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="download pyiqa's wheel and extract its calibration images")
    f.add_argument("--wheel", help="use this pyiqa wheel instead of downloading it")
    sub.add_parser("where", help="print where the images are looked for")
    args = p.parse_args(argv)
    if args.command == "where":
        print(calibration_dir())
        return 0
    try:
        print(fetch(args.wheel))
    except (RuntimeError, FileNotFoundError, zipfile.BadZipFile) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
