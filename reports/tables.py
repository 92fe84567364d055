"""Paper-style tables from a benchmark results folder: quality, efficiency and ablations.

    from reports.results import load_results
    from reports.tables import build_tables, write_tables

    tables = build_tables(load_results("results"))   # {"main_test": Table, "efficiency_test": ..., ...}
    write_tables(tables, "paper/tables")             # main_test.md, main_test.tex, ...
    html = tables["main_test"].to_html()             # for the report page

Every number comes from ``leaderboard.parquet`` / ``timing.parquet``; nothing is recomputed.
Directions (higher or lower is better) are the ones each metric declared (``higher_is_better``).
Best values are bold, second ones underlined, only among values that beat the smoky input (the
``identity`` floor) and only with two or more of them; ranking is at the displayed precision (so equal
cells share the emphasis) and leaves out reference methods (identity: the smoky input, the floor).
LaTeX output needs ``\\usepackage{booktabs}``. Outputs contain no dates: same results, same bytes.

Tables are built per (split, evaluation protocol): numbers of two protocols never share a column, and
each table carries its protocol card (Markdown: under the table; LaTeX: its name and version, the card
as comments). Published numbers (:mod:`benchmarks.published`) of a table's protocol follow the
measured rows as a separate block marked ``(published)``, with their citation; they are neither
ranked nor averaged with the measured rows.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from benchmarks.leaderboard import DEFAULT_METRICS, EFFICIENCY_METRICS
from benchmarks.published import EFFICIENCY_FIELDS, PublishedTable
from reports.results import DEFAULT_PROTOCOL, Results, ResultsError, protocol_card

__all__ = ["FAILED", "NA", "NO_NETWORK", "NO_NETWORK_KINDS", "PUBLISHED", "UNRANKED_KINDS", "Emphasis", "Table",
           "ablation_table", "build_tables", "efficiency_table", "format_value", "latex_escape", "main_table",
           "quality_metrics", "rank", "write_tables"]

Emphasis = Literal["best", "second"] | None

#: A value that could not be computed (the notes say why); LaTeX shows ``--``.
NA = "n/a"
#: A method that failed (the notes give the reason).
FAILED = "failed"
#: Not applicable: a method without a network has nothing to count (en dash; ``---`` in LaTeX).
NO_NETWORK = "–"
#: Marks the rows copied from a paper (never ranked with measured rows).
PUBLISHED = "(published)"
#: Method kinds that are not ranked (the floor every method should beat).
UNRANKED_KINDS = ("reference",)
_DELTAS = " In brackets: the change against identity, the floor."
#: Method kinds without a network (params / GMACs are not applicable).
NO_NETWORK_KINDS = ("classical", "reference")

_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
          ">": r"\textgreater{}", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "–": "--", "—": "---",
          "×": r"$\times$", "…": r"\dots{}", "≥": r"$\geq$", "≤": r"$\leq$"}
_CODE = re.compile(r"`([^`]+)`")


@dataclass
class Table:
    """A rendered-format-independent table: plain-text cells plus per-cell emphasis.

    Attributes:
        title: short title (Markdown heading, start of the LaTeX caption).
        caption: plain text explaining the table (arrows, emphasis, what is not ranked).
        header: the column headings.
        rows: the body, plain text (renderers escape it); ``` `code` ``` spans become code.
        emphasis: per cell ``"best"``, ``"second"`` or None, same shape as ``rows`` (missing = None).
        footnotes: notes printed under the table (reasons for ``n/a`` / ``failed`` cells).
        label: LaTeX label suffix (``\\label{tab:<label>}``).
        label_columns: how many leading columns are text (left-aligned); the others are right-aligned.
        rules_before: body row indices preceded by a rule in LaTeX (groups of the ablation table).
        protocol: the evaluation protocol of every number in the table (``name vVERSION``).
        card: the protocol card (Markdown), printed under the table.
    """

    title: str
    caption: str
    header: list[str]
    rows: list[list[str]]
    emphasis: list[list[Emphasis]] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    label: str = ""
    label_columns: int = 1
    rules_before: tuple[int, ...] = ()
    protocol: str = ""
    card: str = ""

    def _emph(self, i: int, j: int) -> Emphasis:
        if i < len(self.emphasis) and j < len(self.emphasis[i]):
            return self.emphasis[i][j]
        return None

    def _align(self) -> str:
        n = len(self.header)
        return "l" * min(self.label_columns, n) + "r" * max(n - self.label_columns, 0)

    def to_markdown(self) -> str:
        """GitHub Markdown: a heading, the caption, the table (``**best**``, ``<u>second</u>``), notes."""
        def cell(text: str) -> str:
            return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("<", "&lt;")

        lines = [f"### {cell(self.title)}", ""] if self.title else []
        lines += [cell(self.caption), ""] if self.caption else []
        lines.append("| " + " | ".join(cell(h) for h in self.header) + " |")
        lines.append("|" + "|".join(":---" if a == "l" else "---:" for a in self._align()) + "|")
        for i, row in enumerate(self.rows):
            cells = []
            for j, text in enumerate(row):
                t, e = cell(text), self._emph(i, j)
                cells.append(f"**{t}**" if e == "best" else f"<u>{t}</u>" if e == "second" else t)
            lines.append("| " + " | ".join(cells) + " |")
        if self.footnotes:
            lines += ["", "Notes:", ""] + [f"- {cell(n)}" for n in self.footnotes]
        if self.card.strip():  # a block quote: the card's own headings stay inside it
            lines += ["", *(f"> {line}".rstrip() for line in self.card.strip().splitlines())]
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        """A booktabs ``table`` float (``\\textbf`` best, ``\\underline`` second; ``--`` n/a, ``---`` no network)."""
        def cell(text: str) -> str:
            if text in (NA, NO_NETWORK):
                return "--" if text == NA else "---"
            return _CODE.sub(r"\\texttt{\1}", latex_escape(text))

        caption = f"{self.title}. {self.caption}" if self.title and self.caption else self.title or self.caption
        # the legend of the caption names the cells as LaTeX shows them
        caption = caption.replace(f"{NO_NETWORK}: ", "\u2014: ").replace(f"{NA}: ", "\u2013: ")
        lines = ["% generated by reports.tables; needs \\usepackage{booktabs}", "\\begin{table}[t]", "\\centering",
                 "\\small", f"\\caption{{{cell(caption)}}}"]
        if self.label:
            lines.append(f"\\label{{tab:{self.label}}}")
        lines += [f"\\begin{{tabular}}{{{self._align()}}}", "\\toprule",
                  " & ".join(cell(h) for h in self.header) + " \\\\", "\\midrule"]
        for i, row in enumerate(self.rows):
            if i in self.rules_before and i > 0:
                lines.append("\\midrule")
            cells = []
            for j, text in enumerate(row):
                t, e = cell(text), self._emph(i, j)
                cells.append(f"\\textbf{{{t}}}" if e == "best" else f"\\underline{{{t}}}" if e == "second" else t)
            lines.append(" & ".join(cells) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        notes = self.footnotes + ([f"Protocol: {self.protocol}."] if self.protocol else [])
        if notes:
            lines += ["\\par\\smallskip", "{\\footnotesize"] + [f"{cell(n)}\\par" for n in notes] + ["}"]
        lines += [f"% {line}".rstrip() for line in self.card.strip().splitlines()]
        lines.append("\\end{table}")
        return "\n".join(lines) + "\n"

    def to_html(self, *, caption: bool = True) -> str:
        """``<table class="results">`` (``<strong>`` best, ``<u>`` second, notes in ``<tfoot>``); escaped.

        ``caption=False`` leaves the ``<caption>`` out (when the page prints title and caption itself).
        """
        def cell(text: str) -> str:
            return _CODE.sub(r"<code>\1</code>", html.escape(text, quote=True))

        align = self._align()
        parts = ['<table class="results">']
        if caption and (self.title or self.caption):
            title = f"<strong>{cell(self.title)}.</strong> " if self.title else ""
            parts.append(f"<caption>{title}{cell(self.caption)}</caption>")
        parts.append("<thead><tr>" + "".join(f'<th scope="col"{_num(a)}>{cell(h)}</th>'
                                             for h, a in zip(self.header, align, strict=False)) + "</tr></thead>")
        parts.append("<tbody>")
        for i, row in enumerate(self.rows):
            cells = []
            for j, text in enumerate(row):
                t, e = cell(text), self._emph(i, j)
                t = f"<strong>{t}</strong>" if e == "best" else f"<u>{t}</u>" if e == "second" else t
                tag = "th" if j == 0 else "td"
                scope = ' scope="row"' if j == 0 else ""
                cells.append(f"<{tag}{scope}{_num(align[j] if j < len(align) else 'r')}>{t}</{tag}>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody>")
        if self.footnotes:
            span = max(len(self.header), 1)
            parts.append("<tfoot>" + "".join(f'<tr><td colspan="{span}">{cell(n)}</td></tr>'
                                             for n in self.footnotes) + "</tfoot>")
        parts.append("</table>")
        return "\n".join(parts) + "\n"


def _num(align: str) -> str:
    return ' class="num"' if align == "r" else ""


def latex_escape(text: str) -> str:
    """Escape LaTeX specials (``_ % & # $ { } ~ ^ \\``) and map arrows / dashes to LaTeX."""
    return "".join(_LATEX.get(c, c) for c in str(text))


def format_value(value: float, metric: str) -> str:
    """A metric value as shown: PSNR-like 2 decimals, SSIM-like 4, ``warp_error`` and ``periodic_energy``
    (small values that differ far below 0.001) 4 significant digits (scientific below 1e-3), anything else
    3 decimals; ``inf`` / ``-inf`` as such, NaN as ``n/a``."""
    value = float(value)
    if math.isnan(value):
        return NA
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    name = metric.lower()
    if "psnr" in name:
        return f"{value:.2f}"
    if "ssim" in name:
        return f"{value:.4f}"
    if name in ("warp_error", "periodic_energy"):
        return _significant(value, 4)
    return f"{value:.3f}"


def _significant(value: float, digits: int) -> str:
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if abs(value) < 1e-3 or exponent >= digits + 2:
        return f"{value:.{digits - 1}e}"
    # rounding may carry into the next power of ten (9.9996 -> 10.00): format at the rounded exponent
    exponent = math.floor(math.log10(abs(float(f"{value:.{digits - 1}e}"))))
    return f"{value:.{max(digits - 1 - exponent, 0)}f}"


def _small(value: float) -> str:
    """3 decimals; 3 significant digits where that would show 0.000 for a non-zero value."""
    text = f"{value:.3f}"
    return text if value == 0 or float(text) != 0 else _significant(value, 3)


def rank(values: Sequence[tuple[int, float]], higher_is_better: bool,
         floor: float | None = None) -> dict[int, Emphasis]:
    """``{index: "best" | "second"}`` of ``(index, value)`` pairs; equal values share the emphasis.

    NaN values are not ranked. A value that does not beat ``floor`` (the smoky input's, when known)
    is never emphasised, and with fewer than two values there is no ranking at all (no "best" of one).
    """
    values = [(i, v) for i, v in values if not math.isnan(v)]
    if len(values) < 2:
        return {}
    if floor is not None and not math.isnan(floor):
        values = [(i, v) for i, v in values if (v > floor if higher_is_better else v < floor)]
    distinct = sorted({v for _, v in values}, reverse=higher_is_better)
    out: dict[int, Emphasis] = {}
    if distinct:
        out.update({i: "best" for i, v in values if v == distinct[0]})
    if len(values) >= 2 and len(distinct) >= 2:
        out.update({i: "second" for i, v in values if v == distinct[1]})
    return out


def _kind(results: Results, method: str, split: str) -> str:
    kind = results.method_info(method, split).get("kind")
    return str(kind) if kind else ("reference" if method == "identity" else "learned")


def _split_board(results: Results, split: str) -> pd.DataFrame:
    board = results.leaderboard
    return board[board["split"].astype(str) == split]


def quality_metrics(results: Results, split: str) -> list[str]:
    """Quality metrics of ``split`` (all but params / GMACs): :data:`DEFAULT_METRICS` order, then A-Z."""
    present = set(_split_board(results, split)["metric"].astype(str)) - set(EFFICIENCY_METRICS)
    order = {m: i for i, m in enumerate(DEFAULT_METRICS)}
    return sorted(present, key=lambda m: (order.get(m, len(order)), m))


def _direction(board: pd.DataFrame, metric: str) -> bool:
    """The direction the rows declared; for a column only published rows have, the registered metric's."""
    values = board.loc[board["metric"] == metric, "higher_is_better"]
    if len(values):
        return bool(values.iloc[0])
    from benchmarks.metrics.base import get_metric

    try:
        return bool(get_metric(metric).higher_is_better)
    except (KeyError, LookupError, ValueError):
        return True


def _arrow(higher_is_better: bool) -> str:
    return "↑" if higher_is_better else "↓"


def _reason(row: pd.Series | None) -> str:
    text = "" if row is None else str(row.get("reason") or "")
    return " ".join(text.split()) or "no reason recorded"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _Notes:
    """Footnotes collected while filling cells: one per (column, reason), one per failed method."""

    def __init__(self) -> None:
        self._missing: dict[str, dict[str, list[str]]] = {}
        self._failed: dict[str, str] = {}

    def missing(self, column: str, method: str, reason: str) -> None:
        self._missing.setdefault(column, {}).setdefault(reason, []).append(method)

    def failed(self, method: str, reason: str) -> None:
        self._failed.setdefault(method, reason)

    def lines(self) -> list[str]:
        out = []
        for column, reasons in self._missing.items():
            if len(reasons) == 1:
                out.append(f"{column}: {next(iter(reasons))}")
            else:
                out += [f"{column} ({', '.join(methods)}): {reason}" for reason, methods in reasons.items()]
        out += [f"{method} failed: {reason}" for method, reason in self._failed.items()]
        return out


def _quality_cells(results: Results, split: str, methods: Sequence[str], metrics: Sequence[str],
                   notes: _Notes, *, deltas: bool = True) -> tuple[list[list[str]], list[list[Emphasis]]]:
    """Metric cells (and their emphasis) of ``methods``; ranking per column over rankable methods.

    The floor is ``identity``'s value of the split (whether or not it is among ``methods``): nothing that does not
    beat it is emphasised, and with ``deltas`` every other method's cell ends in its change against it, ``(+1.23)``.
    """
    board = _split_board(results, split)
    cells = [[NA] * len(metrics) for _ in methods]
    emph: list[list[Emphasis]] = [[None] * len(metrics) for _ in methods]
    for j, metric in enumerate(metrics):
        part = board[board["metric"] == metric]
        ranked: list[tuple[int, float]] = []
        floor = _floor(part, metric)
        for i, method in enumerate(methods):
            hit = part[part["method"] == method]
            row = None if hit.empty else hit.iloc[0]
            status = "missing" if row is None else str(row["status"])
            if row is None:
                notes.missing(metric, method, "not in this method's results (scored in a run without this metric)")
            elif status == "failed":
                cells[i][j] = FAILED
                notes.failed(method, _reason(row))
            elif status != "ok" or pd.isna(row["value"]):
                notes.missing(metric, method, _reason(row) if status != "ok" else "no value recorded")
            else:
                cells[i][j] = format_value(row["value"], metric)
                if _kind(results, method, split) not in UNRANKED_KINDS:
                    ranked.append((i, float(cells[i][j])))
        for i, e in rank(ranked, _direction(board, metric), floor).items():
            emph[i][j] = e
        if deltas and not math.isnan(floor):
            for i, _ in ranked:
                cells[i][j] += f" ({format_delta(float(cells[i][j]) - floor, cells[i][j])})"
    return cells, emph


def _floor(part: pd.DataFrame, metric: str) -> float:
    """``identity``'s value of one metric's rows, as displayed (NaN when it has none)."""
    hit = part[(part["method"] == "identity") & (part["status"] == "ok")]
    if hit.empty or pd.isna(hit.iloc[0]["value"]):
        return float("nan")
    return float(format_value(hit.iloc[0]["value"], metric))


def format_delta(delta: float, shown: str) -> str:
    """A change against the floor at the precision of the value ``shown`` (``+1.23``, ``-0.0041``, ``±0``)."""
    decimals = len(shown.split(".")[1]) if "." in shown and "e" not in shown else 0
    text = f"{delta:+.{decimals}f}" if "e" not in shown else f"{delta:+.2e}"
    return "±0" if float(text) == 0 else text


def _clips_text(results: Results, split: str, methods: Iterable[str]) -> str:
    board = _split_board(results, split)
    if "n_clips" not in board:
        return "clips"
    ok = board[board["method"].isin(list(methods)) & (board["status"] == "ok")
               & ~board["metric"].isin(EFFICIENCY_METRICS)]
    counts = sorted({int(n) for n in ok["n_clips"].dropna() if int(n) > 0})
    if not counts:
        return "no scored clips"
    if len(counts) == 1:
        return _plural(counts[0], "clip")
    return f"{counts[0]}–{counts[-1]} clips (methods differ)"


def _unranked_text(results: Results, split: str, methods: Sequence[str]) -> str:
    refs = [m for m in methods if _kind(results, m, split) in UNRANKED_KINDS]
    if not refs:
        return ""
    return f" Not ranked: {', '.join(refs)} (the smoky input as it is, the floor every method should beat)."


def _metric_header(board: pd.DataFrame, metric: str) -> str:
    return f"{metric} {_arrow(_direction(board, metric))}"


def _protocol_view(results: Results, split: str, protocol: str | None) -> tuple[Results, str, dict[str, str]]:
    """``results`` with only ``protocol``'s rows (default: the split's only protocol), the protocol, and the
    table fields naming it (``protocol``, ``card``).

    Raises:
        ResultsError: ``protocol`` is None and ``split`` has rows of several protocols.
    """
    names = results.protocols(split)
    if protocol is None:
        if len(names) > 1:
            raise ResultsError(f"split {split!r} has rows of several protocols {names}; numbers of two protocols "
                               "never share a column: pass protocol=NAME, or use build_tables (one table each)")
        protocol = names[0] if names else DEFAULT_PROTOCOL
    fields = {"protocol": f"{protocol} v{results.protocol_version(split, protocol)}", "card": protocol_card(protocol)}
    return results.for_protocol(protocol), protocol, fields


def _title(kind: str, split: str, protocol: str) -> str:
    return f"{kind} ({split})" if protocol == DEFAULT_PROTOCOL else f"{kind} ({split}, {protocol})"


def _published_value(value: float, metric: str) -> str:
    """As :func:`format_value`, with at least the digits the paper printed (26.505 stays 26.505, not 26.50)."""
    text, shortest = format_value(value, metric), repr(float(value))
    if "e" in text or "e" in shortest or "." not in text or "." not in shortest:
        return text
    return f"{value:.{max(len(shortest.split('.')[1]), len(text.split('.')[1]))}f}"


def _published_label(method: str) -> str:
    return f"{method} {PUBLISHED}"


def _published_note(table: PublishedTable, what: str = "") -> str:
    return (f"{PUBLISHED}: {table.citation} ({table.source}), protocol {table.protocol}; copied as printed{what}, not "
            "measured here, and not ranked")


def main_table(results: Results, split: str, *, protocol: str | None = None,
               published: Sequence[PublishedTable] = (), deltas: bool = True) -> Table:
    """Quality of every non-ablation method of ``split`` under ``protocol`` on every quality metric it has.

    Args:
        protocol: the evaluation protocol of the rows shown (default: the split's only one).
        published: published tables; those of ``protocol`` follow the measured rows, marked ``(published)``
            (their metrics that no measured row has get a column of their own).
        deltas: end each ranked cell in its change against identity's value, ``24.21 (+2.07)``.

    Raises:
        ResultsError: ``protocol`` is None and the split has rows of several protocols.
    """
    results, protocol, fields = _protocol_view(results, split, protocol)
    board = _split_board(results, split)
    methods = [m for m in results.method_names(split) if not results.is_ablation(m, split)]
    published = [t for t in published if t.protocol == protocol]
    metrics = quality_metrics(results, split)
    extra = {k for t in published for r in t.rows for k in r.values} - set(metrics) - set(EFFICIENCY_FIELDS)
    order = {m: i for i, m in enumerate(DEFAULT_METRICS)}
    metrics += sorted(extra, key=lambda m: (order.get(m, len(order)), m))
    notes = _Notes()
    cells, emph = _quality_cells(results, split, methods, metrics, notes, deltas=deltas)
    rows = [[m, *row] for m, row in zip(methods, cells, strict=True)]
    emphasis: list[list[Emphasis]] = [[None, *row] for row in emph]
    for table in published:
        for r in table.rows:
            rows.append([_published_label(r.method), *(_published_value(r.values[m], m) if m in r.values else NA
                                                        for m in metrics)])
            for m in metrics:
                if m not in r.values:
                    notes.missing(m, _published_label(r.method), "not in the published table")
    caption = (f"Desmoking quality on the {split} split ({_clips_text(results, split, methods)}), protocol "
               f"{fields['protocol']}. ↑ / ↓: higher / lower is better, as declared by each metric. Best in bold, "
               "second underlined (ties share it), among the methods with results and only where they beat identity "
               "(the smoky input); a lone method is not ranked."
               + (_DELTAS if deltas else "")
               + _unranked_text(results, split, methods)
               + (f" Rows marked {PUBLISHED} are copied from the cited paper under the same protocol: not ranked."
                  if published else "")
               + (f" {NA}: not available (see the notes)." if any(NA in row for row in rows) else ""))
    return Table(title=_title("Quality", split, protocol), caption=caption,
                 header=["Method", *(_metric_header(board, m) for m in metrics)], rows=rows, emphasis=emphasis,
                 footnotes=notes.lines() + [_published_note(t) for t in published],
                 label=_key("main", split, protocol), rules_before=(len(methods),) if published else (), **fields)


def efficiency_table(results: Results, split: str, *, protocol: str | None = None,
                     published: Sequence[PublishedTable] = ()) -> Table:
    """Parameters, GMACs per frame and measured frames/s (with the device) of the non-ablation methods of
    ``split`` under ``protocol``, then the published sizes of ``protocol`` (see :func:`main_table`)."""
    results, protocol, fields = _protocol_view(results, split, protocol)
    published = [t for t in published if t.protocol == protocol and any(
        k in r.values for r in t.rows for k in EFFICIENCY_FIELDS)]
    board = _split_board(results, split)
    methods = [m for m in results.method_names(split) if not results.is_ablation(m, split)]
    timing = results.timing
    if not timing.empty and "split" in timing:
        timing = timing[timing["split"].astype(str) == split]
    notes = _Notes()
    rows: list[list[str]] = []
    emph: list[list[Emphasis]] = [[None] * 5 for _ in methods]
    ranked: dict[int, list[tuple[int, float]]] = {1: [], 2: [], 3: []}
    for i, method in enumerate(methods):
        kind = _kind(results, method, split)
        row = [method]
        for j, metric, scale in ((1, "params", 1e-6), (2, "gmacs", 1.0)):
            hit = board[(board["method"] == method) & (board["metric"] == metric)]
            r = None if hit.empty else hit.iloc[0]
            column = "Params" if metric == "params" else "GMACs"
            if r is not None and str(r["status"]) == "failed":
                row.append(FAILED)
                notes.failed(method, _reason(r))
            elif kind in NO_NETWORK_KINDS or (r is not None and str(r["status"]) == "ok" and r["value"] == 0):
                row.append(NO_NETWORK)
            elif r is None or str(r["status"]) != "ok" or pd.isna(r["value"]):
                row.append(NA)
                notes.missing(column, method, "not counted" if r is None else _reason(r))
            else:
                row.append(_small(float(r["value"]) * scale))
                ranked[j].append((i, float(row[-1])))
        hit = timing[timing["method"] == method] if not timing.empty else timing
        if hit.empty or pd.isna(hit.iloc[0]["fps"]):
            row += [NA, NA]
            reason = ("the method failed" if board[(board["method"] == method) & (board["status"] == "failed")].size
                      else "unknown for outputs produced elsewhere" if kind == "external"
                      else "not timed (e.g. results merged from a cache, or no frames desmoked)")
            notes.missing("frames/s", method, reason)
        else:
            t = hit.iloc[0]
            row += [f"{float(t['fps']):.1f}", str(t.get("device", NA))]
            if kind not in UNRANKED_KINDS:
                ranked[3].append((i, float(row[3])))
        rows.append(row)
    for j, values in ranked.items():
        for i, e in rank(values, higher_is_better=j == 3).items():
            emph[i][j] = e
    for table in published:
        for r in table.rows:
            label = _published_label(r.method)
            row = [label]
            for key, column in (("params_m", "Params"), ("gmacs", "GMACs")):
                row.append(_small(r.values[key]) if key in r.values else NA)
                if key not in r.values:
                    notes.missing(column, label, "not in the published table")
            rows.append([*row, NA, NA])
            notes.missing("frames/s", label, "not measured here (published sizes only)")
    devices = sorted({str(d) for d in timing["device"].dropna() if str(d)}) if "device" in timing else []
    device_text = f"on {', '.join(devices)}" if devices else "(no timings recorded)"
    caption = (f"Model size and speed on the {split} split. Params: trainable parameters in millions; GMACs: "
               "multiply-accumulates per frame at the clips' resolution (↓ lower is better); frames/s: desmoking "
               f"throughput measured during the benchmark run {device_text} (↑ higher is better; it depends on the "
               f"device and is comparable only on the same one). {NO_NETWORK}: no network (nothing to count; not "
               "ranked). Best in bold, second underlined." + _unranked_text(results, split, methods)
               + (f" Rows marked {PUBLISHED} are copied from the cited paper: GMACs at its input size (see the "
                  "notes), not at the clips' resolution; not ranked." if published else ""))
    notes_text = notes.lines() + [_published_note(t, f"; GMACs at {t.macs_input}" if t.macs_input else "")
                                  for t in published]
    return Table(title=_title("Efficiency", split, protocol), caption=caption,
                 header=["Method", "Params (M) ↓", "GMACs / frame ↓", "frames/s ↑", "device"],
                 rows=rows, emphasis=emph, footnotes=notes_text, label=_key("efficiency", split, protocol),
                 rules_before=(len(methods),) if published else (), **fields)


def ablation_table(results: Results, split: str, *, protocol: str | None = None,
                   deltas: bool = True) -> Table | None:
    """Each ablated method ("full") followed by its ablations (with the ``variant`` they change); ranked
    within each group. None when ``split`` has no ablations under ``protocol`` (see :func:`main_table`)."""
    results, protocol, fields = _protocol_view(results, split, protocol)
    board = _split_board(results, split)
    names = results.method_names(split)
    groups: dict[str, list[str]] = {}
    for m in names:
        base = results.method_info(m, split).get("ablation_of")
        if base:
            groups.setdefault(str(base), []).append(m)
    if not groups:
        return None
    order = {m: i for i, m in enumerate(names)}
    metrics = quality_metrics(results, split)
    notes = _Notes()
    rows: list[list[str]] = []
    emph: list[list[Emphasis]] = []
    starts: list[int] = []
    for base in sorted(groups, key=lambda b: (order.get(b, len(order)), b)):
        members = [base, *groups[base]]
        cells, e = _quality_cells(results, split, members, metrics, notes, deltas=deltas)
        starts.append(len(rows))
        for k, (m, row, erow) in enumerate(zip(members, cells, e, strict=True)):
            variant = "full" if k == 0 else str(results.method_info(m, split).get("ablation") or m)
            rows.append([m, variant, *row])
            emph.append([None, None, *erow])
    caption = (f"Ablations on the {split} split ({_clips_text(results, split, [r[0] for r in rows])}): each full "
               "method, then its variants. ↑ / ↓: higher / lower is better. Best in bold, second underlined, within "
               "each group, only where they beat identity (the smoky input)." + (_DELTAS if deltas else "")
               + (f" {NA}: not available (see the notes)." if any(NA in r for r in rows) else ""))
    return Table(title=_title("Ablations", split, protocol), caption=caption,
                 header=["Method", "Variant", *(_metric_header(board, m) for m in metrics)],
                 rows=rows, emphasis=emph, footnotes=notes.lines(), label=_key("ablation", split, protocol),
                 label_columns=2, rules_before=tuple(starts), **fields)


def _key(kind: str, split: str, protocol: str = DEFAULT_PROTOCOL) -> str:
    """``<kind>_<split>``, and ``_<protocol>`` for any protocol but the default one."""
    name = split if protocol == DEFAULT_PROTOCOL else f"{split}_{protocol}"
    return f"{kind}_{re.sub(r'[^A-Za-z0-9_.-]', '-', name)}"


def build_tables(results: Results, splits: Sequence[str] | None = None, *,
                 published: bool | Sequence[PublishedTable] = True, deltas: bool = True) -> dict[str, Table]:
    """Every table of ``splits`` (default: all), one per (split, protocol): ``main_<split>``,
    ``efficiency_<split>``, ``ablation_<split>`` (if any); ``_<protocol>`` is appended for protocols other than
    :data:`~reports.results.DEFAULT_PROTOCOL`.

    Args:
        published: True: the shipped published tables (:func:`benchmarks.published.load_published`) beside the
            measured rows of their protocol; False: none; or the published tables to show.

    Raises:
        benchmarks.published.PublishedError: a shipped published-numbers file does not pass its checks.
    """
    from benchmarks.published import load_published

    chosen = load_published() if published is True else list(published or ())
    out: dict[str, Table] = {}
    for split in splits if splits is not None else results.splits:
        for protocol in results.protocols(split):
            out[_key("main", split, protocol)] = main_table(results, split, protocol=protocol, published=chosen,
                                                                  deltas=deltas)
            out[_key("efficiency", split, protocol)] = efficiency_table(results, split, protocol=protocol,
                                                                        published=chosen)
            ablation = ablation_table(results, split, protocol=protocol, deltas=deltas)
            if ablation is not None:
                out[_key("ablation", split, protocol)] = ablation
    return out


def write_tables(tables: dict[str, Table], out_dir: str | Path) -> list[Path]:
    """Write ``<key>.md`` and ``<key>.tex`` of each table atomically; returns the paths written."""
    from lsvd.io.atomic import write_text

    out = Path(out_dir).expanduser()
    paths: list[Path] = []
    for key, table in tables.items():
        for suffix, text in ((".md", table.to_markdown()), (".tex", table.to_latex())):
            path = out / f"{key}{suffix}"
            write_text(path, text)
            paths.append(path)
    return paths

