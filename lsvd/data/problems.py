"""Bad-input bookkeeping: every skipped item is recorded with the reason and what to do.

Indexers add :class:`Problem` s to a :class:`ProblemLog` and keep going, so a user sees every
problem of a run at once. With ``strict=True`` the command fails after the scan, listing all
of them; otherwise the bad items are skipped and the log is written to ``meta/report.json``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Literal

from lsvd.errors import LsvdError

__all__ = ["BadInputError", "Problem", "ProblemLog"]

Skipped = Literal["file", "clip", "video", "masks", "clean", "nothing"]


@dataclass(frozen=True)
class Problem:
    """One bad input: ``kind`` (a stable slug), the offending ``item`` (a path), a message
    saying what was expected, what was found and what to do, and what was ``skipped``."""

    kind: str
    item: str
    message: str
    skipped: Skipped

    def __str__(self) -> str:
        return f"[{self.kind}] {self.item}: {self.message} (skipped: {self.skipped})"


class BadInputError(LsvdError, ValueError):
    """Raised in strict mode (or when nothing usable is left), listing every problem found."""

    def __init__(self, problems: list[Problem], header: str = "bad input"):
        self.problems = list(problems)
        lines = [f"{header}: {len(self.problems)} problem(s) found"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


@dataclass
class ProblemLog:
    """Collects problems during a scan; see the module docstring."""

    strict: bool = False
    problems: list[Problem] = field(default_factory=list)

    def add(self, kind: str, item: object, message: str, skipped: Skipped) -> None:
        """Record a problem (never raises; :meth:`check` does, in strict mode)."""
        self.problems.append(Problem(kind, str(item), message, skipped))

    def extend(self, problems: list[Problem]) -> None:
        self.problems.extend(problems)

    def check(self) -> None:
        """In strict mode, raise :class:`BadInputError` if anything was recorded."""
        if self.strict and self.problems:
            raise BadInputError(self.problems, header="--strict: the input has problems, nothing was written")

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(p.kind for p in self.problems).items()))

    def to_json(self) -> dict:
        return {"n_problems": len(self.problems), "by_kind": self.counts(),
                "problems": [asdict(p) for p in self.problems]}

    def __len__(self) -> int:
        return len(self.problems)
