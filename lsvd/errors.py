"""The toolkit's error base: every error it raises on purpose derives from :class:`LsvdError`.

Each one's message says what was expected, what was found and what to do, so commands print it
as ``error: <message>`` and exit with 2 (:func:`lsvd.cli.run`), never a traceback. Subclasses also
derive from the built-in class that fits (``ValueError`` for bad input, ``RuntimeError`` for a
failed step), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = ["LsvdError"]


class LsvdError(Exception):
    """An error of the toolkit whose message tells the user what to do."""
