"""``python -m lsvd.hf``: see :mod:`lsvd.hf.cli`."""

import sys

from lsvd.hf.cli import main

sys.exit(main())
