"""HuggingFace ``datasets`` views of a dataset root, its dataset card, and a push-ready Hub folder.

One module per job:

- :mod:`lsvd.hf.tables`: the ``frames`` and ``clips`` tables of a root and :func:`load`;
- :mod:`lsvd.hf.card`: the dataset card (``README.md``) and the Parquet files its ``configs``
  point to, so that ``datasets.load_dataset(root)`` gives the rows :func:`load` gives, offline;
- :mod:`lsvd.hf.hub`: :func:`write_hub_folder`, a self-contained copy with every pixel embedded;
- :mod:`lsvd.hf.public`: what such a copy leaves out (:data:`HUB_DROPPED_COLUMNS`, :func:`public_text`);
- :mod:`lsvd.hf.cli`: ``python -m lsvd.hf`` / ``lsvd-hf``.
"""

from __future__ import annotations

from lsvd.hf.card import CARD_DATA_DIR, card_is_current, render_card, write_dataset_card
from lsvd.hf.cli import main
from lsvd.hf.hub import HUB_DATA_DIR, write_hub_folder
from lsvd.hf.public import HUB_BOOKKEEPING_COLUMNS, HUB_DROPPED_COLUMNS, HUB_PATH_COLUMNS, public_text
from lsvd.hf.tables import CLIPS, CONFIGS, FRAMES, Config, build_tables, load, split_name

__all__ = [
    "CARD_DATA_DIR", "CLIPS", "CONFIGS", "FRAMES", "HUB_BOOKKEEPING_COLUMNS", "HUB_DATA_DIR", "HUB_DROPPED_COLUMNS",
    "HUB_PATH_COLUMNS", "Config", "build_tables", "card_is_current", "load", "main", "public_text", "render_card",
    "split_name", "write_dataset_card", "write_hub_folder",
]
