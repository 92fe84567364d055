"""Logging set-up for entry points (library modules only call ``logging.getLogger``)."""

from __future__ import annotations

import logging


def init_logging(verbose: int = 0) -> None:
    """Configure the root logger once: INFO by default, DEBUG with ``-v``, WARNING with ``-q``."""
    level = logging.DEBUG if verbose > 0 else logging.WARNING if verbose < 0 else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
