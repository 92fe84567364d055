"""reports.tables: the paper tables of a results folder (real tiny results, and hand-built leaderboards)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from reports.results import Results, load_results
from reports.tables import (
    NA,
    NO_NETWORK,
    Table,
    ablation_table,
    build_tables,
    efficiency_table,
    format_delta,
    format_value,
    main_table,
    write_tables,
)

PI_REASON = "needs the NRQM model, which no registry package ships"


# ---------------------------------------------------------------- hand-built results (the real data structures)

def _results(rows: list[tuple], kinds: dict[str, str], *, ablations: dict[str, tuple[str, str]] | None = None,
             timing: list[tuple] | None = None, split: str = "test") -> Results:
    """rows: ``(method, metric, value, status, higher_is_better[, reason])``; kinds: method -> kind;
    ablations: method -> (ablation_of, ablation); timing: ``(method, device, fps)``."""
    board = pd.DataFrame([{"method": r[0], "split": split, "metric": r[1], "value": float(r[2]), "n_clips": 3,
                           "n_frames": 30, "status": r[3], "reason": r[5] if len(r) > 5 else "",
                           "higher_is_better": r[4],
                           "requires_reference": "model" if r[1] in ("params", "gmacs") else "none"}
                          for r in rows])
    ablations = ablations or {}
    methods = pd.DataFrame([{"method": m, "split": split, "kind": k, "citation": "",
                             "ablation_of": ablations.get(m, ("", ""))[0], "ablation": ablations.get(m, ("", ""))[1]}
                            for m, k in kinds.items()])
    times = pd.DataFrame([{"method": m, "split": split, "device": d, "frames": 30, "seconds": 30 / f, "fps": f}
                          for m, d, f in timing or []])
    return Results(root=Path("."), leaderboard=board, frames=pd.DataFrame(), clips=pd.DataFrame(), timing=times,
                   methods=methods)


def _col(table: Table, header_start: str) -> int:
    return next(j for j, h in enumerate(table.header) if h.startswith(header_start + " ") or h == header_start)


def _cell(table: Table, method: str, header_start: str) -> tuple[str, str | None]:
    i = next(i for i, r in enumerate(table.rows) if r[0] == method)
    j = _col(table, header_start)
    return table.rows[i][j], table.emphasis[i][j]


KINDS = {"identity": "reference", "a": "classical", "b": "learned", "c": "learned"}


def test_emphasis_follows_each_metrics_declared_direction_and_skips_identity():
    r = _results([("identity", "psnr", 14.0, "ok", True), ("a", "psnr", 20.0, "ok", True),
                  ("b", "psnr", 22.0, "ok", True), ("c", "psnr", 21.0, "ok", True),
                  ("identity", "fade", 0.9, "ok", False), ("a", "fade", 0.1, "ok", False),
                  ("b", "fade", 0.3, "ok", False), ("c", "fade", 0.2, "ok", False),
                  # not a default metric and declared "higher is better": the data decides, not the name
                  ("identity", "zz_error", 0.5, "ok", True), ("a", "zz_error", 1.0, "ok", True),
                  ("b", "zz_error", 3.0, "ok", True), ("c", "zz_error", 2.0, "ok", True)], KINDS)
    t = main_table(r, "test", deltas=False)
    assert t.header == ["Method", "fade ↓", "psnr ↑", "zz_error ↑"]  # DEFAULT_METRICS order, then the others
    assert [row[0] for row in t.rows] == ["identity", "a", "b", "c"]
    assert _cell(t, "b", "psnr") == ("22.00", "best")
    assert _cell(t, "c", "psnr") == ("21.00", "second")
    assert _cell(t, "a", "psnr") == ("20.00", None)
    assert _cell(t, "identity", "psnr") == ("14.00", None)  # the floor is shown, never ranked
    assert _cell(t, "a", "fade") == ("0.100", "best")
    assert _cell(t, "c", "fade") == ("0.200", "second")
    assert _cell(t, "identity", "fade")[1] is None
    assert _cell(t, "b", "zz_error")[1] == "best" and _cell(t, "c", "zz_error")[1] == "second"
    assert "Not ranked: identity" in t.caption and "↑" in t.caption
    md, tex, page = t.to_markdown(), t.to_latex(), t.to_html()
    assert "| **22.00** |" in md and "| <u>21.00</u> |" in md and "| 14.00 |" in md
    assert r"\textbf{22.00}" in tex and r"\underline{21.00}" in tex and r"\textbf{14.00}" not in tex
    assert r"fade $\downarrow$" in tex and r"psnr $\uparrow$" in tex
    assert "<strong>22.00</strong>" in page and "<u>21.00</u>" in page and "<strong>14.00</strong>" not in page


def test_ties_at_the_shown_precision_share_the_emphasis():
    r = _results([("a", "psnr", 22.001, "ok", True), ("b", "psnr", 21.999, "ok", True),
                  ("c", "psnr", 20.0, "ok", True), ("d", "psnr", 20.0, "ok", True), ("e", "psnr", 19.0, "ok", True)],
                 {"a": "classical", "b": "learned", "c": "learned", "d": "learned", "e": "learned"})
    t = main_table(r, "test", deltas=False)
    assert [_cell(t, m, "psnr") for m in "abcde"] == [("22.00", "best"), ("22.00", "best"), ("20.00", "second"),
                                                        ("20.00", "second"), ("19.00", None)]


def test_a_lone_method_is_not_ranked():
    r = _results([("identity", "ssim", 0.4, "ok", True), ("a", "ssim", 0.5, "ok", True),
                  ("b", "ssim", float("nan"), "missing", True, "no clean frames")], KINDS | {"b": "learned"})
    t = main_table(r, "test", deltas=False)
    assert _cell(t, "a", "ssim") == ("0.5000", None)  # no "best" of one, even when it beats the floor
    assert all(e is None for row in t.emphasis for e in row)


def test_values_that_do_not_beat_the_floor_are_never_best_or_second():
    # the reported case: NIQE / BRISQUE far worse than the smoky input were bold
    r = _results([("identity", "niqe", 8.7, "ok", False), ("a", "niqe", 16.5, "ok", False),
                  ("b", "niqe", 9.0, "ok", False), ("c", "niqe", 8.0, "ok", False),
                  ("identity", "psnr", 20.0, "ok", True), ("a", "psnr", 19.0, "ok", True),
                  ("b", "psnr", 20.0, "ok", True), ("c", "psnr", 24.0, "ok", True),
                  ("identity", "ssim", 0.9, "ok", True), ("a", "ssim", 0.8, "ok", True),
                  ("b", "ssim", 0.7, "ok", True)],
                 KINDS)
    t = main_table(r, "test", deltas=False)
    assert [_cell(t, m, "niqe")[1] for m in "abc"] == [None, None, "best"]  # 9.0 is no better than 8.7: not second
    assert [_cell(t, m, "psnr")[1] for m in "abc"] == [None, None, "best"]  # equal to the floor is not a win
    assert all(_cell(t, m, "ssim")[1] is None for m in "ab")  # nobody beats the input
    assert "beat identity" in t.caption


def test_cells_show_the_change_against_the_floor():
    r = _results([("identity", "psnr", 20.36, "ok", True), ("a", "psnr", 23.987, "ok", True),
                  ("b", "psnr", 20.355, "ok", True), ("identity", "niqe", 8.711, "ok", False),
                  ("a", "niqe", 16.525, "ok", False), ("b", "niqe", 8.306, "ok", False),
                  ("identity", "periodic_energy", 0.0, "ok", False), ("a", "periodic_energy", 2e-4, "ok", False),
                  ("b", "periodic_energy", 0.72, "ok", False), ("a", "ssim", 0.9, "ok", True)], KINDS)
    t = main_table(r, "test")
    assert _cell(t, "identity", "psnr") == ("20.36", None)  # the floor itself: no change shown
    assert _cell(t, "a", "psnr") == ("23.99 (+3.63)", "best")  # at the shown precision: 23.99 - 20.36
    assert _cell(t, "b", "psnr") == ("20.36 (±0)", None)
    assert _cell(t, "a", "niqe") == ("16.525 (+7.814)", None)  # a loss reads as one
    assert _cell(t, "b", "niqe") == ("8.306 (-0.405)", "best")
    assert _cell(t, "a", "periodic_energy")[0] == "2.000e-04 (+2.00e-04)"
    assert _cell(t, "b", "periodic_energy")[0] == "0.7200 (+0.7200)"
    assert _cell(t, "a", "ssim") == ("0.9000", None)  # no floor value: no change
    assert "change against identity" in t.caption
    assert r"23.99 (+3.63)" in t.to_latex() and "**23.99 (+3.63)**" in t.to_markdown()
    assert "change against identity" not in main_table(r, "test", deltas=False).caption


def test_failed_method_shows_failed_with_its_reason_once():
    r = _results([("a", "psnr", 20.0, "ok", True), ("b", "psnr", 21.0, "ok", True),
                  ("c", "psnr", float("nan"), "failed", True, "clip 3: CUDA out of memory"),
                  ("a", "ssim", 0.5, "ok", True), ("b", "ssim", 0.6, "ok", True),
                  ("c", "ssim", float("nan"), "failed", True, "clip 3: CUDA out of memory")], KINDS)
    t = main_table(r, "test", deltas=False)
    assert _cell(t, "c", "psnr") == ("failed", None) and _cell(t, "c", "ssim") == ("failed", None)
    assert _cell(t, "b", "psnr") == ("21.00", "best") and _cell(t, "a", "psnr") == ("20.00", "second")
    assert t.footnotes == ["c failed: clip 3: CUDA out of memory"]
    assert "c failed: clip 3: CUDA out of memory" in t.to_markdown()


def test_metric_missing_for_everyone_is_shown_with_one_note():
    rows = [(m, "pi", float("nan"), "missing", False, PI_REASON) for m in KINDS]
    rows += [("identity", "psnr", 35.0, "ok", True), ("a", "psnr", 29.0, "ok", True),
             ("b", "psnr", 30.0, "ok", True), ("c", "psnr", 31.0, "ok", True)]
    t = main_table(_results(rows, KINDS), "test", deltas=False)
    j = _col(t, "pi")
    assert t.header[j] == "pi ↓"
    assert [row[j] for row in t.rows] == [NA] * 4
    assert all(row[j] is None for row in t.emphasis)
    assert t.footnotes == [f"pi: {PI_REASON}"]
    assert "n/a" in t.caption
    tex = t.to_latex()
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    assert "identity & -- & " in body and "n/a" not in body and "--: not available" in tex
    assert f"<td>{NA}</td>" not in t.to_html()  # numeric cells carry class="num"
    assert f'<td class="num">{NA}</td>' in t.to_html()


def test_different_missing_reasons_name_their_methods():
    t = main_table(_results([("a", "niqe", float("nan"), "missing", False, "no weights"),
                             ("b", "niqe", float("nan"), "missing", False, "could not be computed on clip 1: x"),
                             ("c", "niqe", 4.0, "ok", False)], KINDS), "test")
    assert t.footnotes == ["niqe (a): no weights", "niqe (b): could not be computed on clip 1: x"]
    assert _cell(t, "c", "niqe") == ("4.000", None)  # the only value: not ranked


@pytest.mark.parametrize(("metric", "value", "shown"), [
    ("aligned_psnr", 23.176049, "23.18"), ("psnr", 9.999, "10.00"), ("psnr", math.inf, "inf"),
    ("aligned_ssim", 0.77110543, "0.7711"), ("ssim", 0.93327, "0.9333"),
    ("warp_error", 0.001079123, "0.001079"), ("warp_error", 0.01234567, "0.01235"), ("warp_error", 2.5, "2.500"),
    ("warp_error", 0.0099996, "0.01000"), ("warp_error", 1.5e-5, "1.500e-05"), ("warp_error", 0.0, "0"),
    ("periodic_energy", 0.0, "0"), ("periodic_energy", 0.01234567, "0.01235"), ("periodic_energy", 0.99991, "0.9999"),
    ("periodic_energy", 2.5e-4, "2.500e-04"),
    ("fade", 0.158975, "0.159"), ("niqe", 5.0, "5.000"), ("fade", math.nan, NA),
])
def test_number_formatting(metric, value, shown):
    assert format_value(value, metric) == shown


def test_latex_and_html_escape_names_and_text():
    odd = "my_net&co 50% #1 <b>"
    t = main_table(_results([(odd, "psnr", 20.0, "ok", True), ("b", "psnr", 19.0, "ok", True),
                             ("c", "psnr", float("nan"), "missing", True, "run `pip install x` & retry")],
                            {odd: "learned", "b": "learned", "c": "learned"}), "test")
    tex = t.to_latex()
    assert r"my\_net\&co 50\% \#1 \textless{}b\textgreater{} & \textbf{20.00} \\" in tex
    assert r"\texttt{pip install x} \& retry" in tex
    for line in ("\\begin{table}[t]", "\\begin{tabular}{lr}", "\\toprule", "\\midrule", "\\bottomrule",
                 "\\label{tab:main_test}", "\\end{table}"):
        assert line in tex.splitlines()
    assert tex.count(r"\caption{") == 1
    page = t.to_html()
    assert page.startswith('<table class="results">') and "<caption>" in page and "<tfoot>" in page
    assert "<b>" not in page and "&lt;b&gt;" in page and "<code>pip install x</code> &amp; retry" in page
    assert "<caption>" not in t.to_html(caption=False)
    assert "| my_net&co 50% #1 &lt;b> | **20.00** |" in t.to_markdown()


def test_efficiency_table_ranks_networks_and_speed():
    kinds = {"identity": "reference", "dcp": "classical", "net1": "learned", "net2": "learned", "ext": "external"}
    rows = [(m, "psnr", 20.0, "ok", True) for m in kinds]
    for m, params, gmacs in (("identity", 0, 0), ("dcp", 0, 0), ("net1", 2e6, 1.5), ("net2", 1e6, 3.0)):
        rows += [(m, "params", params, "ok", False), (m, "gmacs", gmacs, "ok", False)]
    rows += [("ext", "params", float("nan"), "missing", False, "not counted (unknown for outputs produced elsewhere)"),
             ("ext", "gmacs", float("nan"), "missing", False, "not counted (unknown for outputs produced elsewhere)")]
    timing = [("identity", "cuda", 9000.0), ("dcp", "cuda", 500.0), ("net1", "cuda", 10.04), ("net2", "cuda", 20.0),
              ("ext", "cuda", 100.0)]
    t = efficiency_table(_results(rows, kinds, timing=timing), "test")
    assert t.header == ["Method", "Params (M) ↓", "GMACs / frame ↓", "frames/s ↑", "device"]
    assert t.rows == [["identity", NO_NETWORK, NO_NETWORK, "9000.0", "cuda"],
                      ["dcp", NO_NETWORK, NO_NETWORK, "500.0", "cuda"],
                      ["ext", NA, NA, "100.0", "cuda"],
                      ["net1", "2.000", "1.500", "10.0", "cuda"],
                      ["net2", "1.000", "3.000", "20.0", "cuda"]]
    assert t.emphasis == [[None] * 5,
                          [None, None, None, "best", None],
                          [None, None, None, "second", None],
                          [None, "second", "best", None, None],
                          [None, "best", "second", None, None]]
    assert "cuda" in t.caption and "device" in t.caption
    assert t.footnotes == ["Params: not counted (unknown for outputs produced elsewhere)",
                           "GMACs: not counted (unknown for outputs produced elsewhere)"]
    tex = t.to_latex()
    assert "identity & --- & --- & 9000.0 & cuda" in tex and "ext & -- & -- & " in tex and r"\textbf{1.000}" in tex


def test_efficiency_of_external_outputs_is_unknown_not_timed():
    rows = [("ext", "params", float("nan"), "missing", False, "not counted (unknown for outputs produced elsewhere)"),
            ("dcp", "params", 0.0, "ok", False)]
    # the runner records external methods with no device and NaN frames/s: reading files is not desmoking
    t = efficiency_table(_results(rows, {"ext": "external", "dcp": "classical"},
                                  timing=[("ext", "", float("nan")), ("dcp", "cpu", 200.0)]), "test")
    assert t.rows[1][3:] == [NA, NA] and "frames/s: unknown for outputs produced elsewhere" in t.footnotes
    assert "run on cpu (" in t.caption  # no empty device in the caption


def test_efficiency_without_timing_shows_na():
    rows = [("net", "params", 5e4, "ok", False), ("net", "gmacs", 0.01, "ok", False)]
    t = efficiency_table(_results(rows, {"net": "learned"}), "test")
    assert t.rows == [["net", "0.050", "0.010", NA, NA]]
    assert any(n.startswith("frames/s") for n in t.footnotes)


def test_ablation_table_groups_by_base_and_none_without_ablations():
    kinds = {"identity": "reference", "x": "learned", "x_a": "learned", "x_b": "learned", "y": "learned",
             "y_a": "learned"}
    abl = {"x_a": ("x", "w/o A"), "x_b": ("x", "w/o B"), "y_a": ("y", "w/o A")}
    values = {"identity": 1.0, "x": 30.0, "x_a": 29.0, "x_b": 31.0, "y": 20.0, "y_a": 21.0}
    r = _results([(m, "psnr", v, "ok", True) for m, v in values.items()], kinds, ablations=abl)
    t = ablation_table(r, "test", deltas=False)
    assert t is not None
    assert [row[:3] for row in t.rows] == [["x", "full", "30.00"], ["x_a", "w/o A", "29.00"],
                                           ["x_b", "w/o B", "31.00"], ["y", "full", "20.00"], ["y_a", "w/o A", "21.00"]]
    assert [row[2] for row in t.emphasis] == ["second", None, "best", "second", "best"]  # ranked within a group
    assert t.rules_before == (0, 3)
    assert t.to_latex().count(r"\midrule") == 2
    assert [row[0] for row in main_table(r, "test", deltas=False).rows] == ["identity", "x", "y"]
    assert ablation_table(_results([("x", "psnr", 1.0, "ok", True)], {"x": "learned"}), "test") is None


# ---------------------------------------------------------------- end to end: the tiny benchmark results

@pytest.fixture(scope="module")
def tiny(tiny_results: Path) -> Results:
    return load_results(tiny_results)


def test_main_table_of_tiny_results(tiny: Results):
    t = main_table(tiny, "test")
    board = tiny.leaderboard
    assert [row[0] for row in t.rows] == ["identity", "clahe", "dcp", "selfsvd"]  # no ablation
    assert [h.split()[0] for h in t.header[1:]] == ["aligned_psnr", "aligned_ssim", "pi", "fade", "psnr", "ssim",
                                                  "warp_error"]
    for j, h in enumerate(t.header[1:], start=1):
        metric, arrow = h.split()
        hib = bool(board.loc[board["metric"] == metric, "higher_is_better"].iloc[0])
        assert arrow == ("↑" if hib else "↓")
        floor = t.rows[0][j]
        for i, row in enumerate(t.rows):
            hit = board[(board["method"] == row[0]) & (board["metric"] == metric)].iloc[0]
            shown, _, delta = row[j].partition(" (")
            assert shown == (format_value(hit["value"], metric) if hit["status"] == "ok" else NA)
            if row[0] == "identity" or shown == NA or floor == NA:
                assert not delta
            else:  # every method's change against the floor, at the value's precision
                assert delta == format_delta(float(shown) - float(floor), shown) + ")"
            if row[0] == "identity":
                assert t.emphasis[i][j] is None
    assert [row[_col(t, "pi")] for row in t.rows] == [NA] * 4
    pi_notes = [n for n in t.footnotes if n.startswith("pi: ")]
    assert len(pi_notes) == 1 and "NRQM" in pi_notes[0]
    assert "test split" in t.caption and "2 clips" in t.caption and "↑" in t.caption and "identity" in t.caption
    assert _cell(t, "selfsvd", "aligned_psnr")[1] is None  # equal to identity's value: no win, never bold
    tex = t.to_latex()
    assert all(rule in tex for rule in (r"\toprule", r"\midrule", r"\bottomrule"))
    assert r"aligned\_psnr $\uparrow$" in tex and r"\label{tab:main_test}" in tex


def test_ablation_table_of_tiny_results(tiny: Results):
    t = ablation_table(tiny, "test")
    assert t is not None
    assert [row[:2] for row in t.rows] == [["selfsvd", "full"], ["selfsvd_no_mask", "w/o mask"]]
    assert r"selfsvd\_no\_mask & w/o mask" in t.to_latex()
    assert "selfsvd_no_mask" in t.to_html()


def test_efficiency_table_of_tiny_results(tiny: Results):
    t = efficiency_table(tiny, "test")
    board, timing = tiny.leaderboard, tiny.timing
    assert [row[0] for row in t.rows] == ["identity", "clahe", "dcp", "selfsvd"]
    for row in t.rows:
        fps = timing.loc[timing["method"] == row[0], "fps"].iloc[0]
        assert row[3] == f"{fps:.1f}" and row[4] == "cpu"
    by = {row[0]: row for row in t.rows}
    assert by["identity"][1:3] == by["dcp"][1:3] == by["clahe"][1:3] == [NO_NETWORK, NO_NETWORK]
    params = board[(board["method"] == "selfsvd") & (board["metric"] == "params")]["value"].iloc[0]
    gmacs = board[(board["method"] == "selfsvd") & (board["metric"] == "gmacs")]["value"].iloc[0]
    assert by["selfsvd"][1] == f"{params / 1e6:.3f}" and by["selfsvd"][2] == f"{gmacs:.3f}"
    assert "cpu" in t.caption


def test_build_and_write_tables_are_byte_deterministic(tiny: Results, tiny_results: Path, tmp_path: Path):
    tables = build_tables(tiny)
    assert list(tables) == ["main_test", "efficiency_test", "ablation_test"]
    first = write_tables(tables, tmp_path / "a")
    assert sorted(p.name for p in first) == sorted(f"{k}{s}" for k in tables for s in (".md", ".tex"))
    snapshot = {p.name: p.read_bytes() for p in first}
    again = write_tables(build_tables(load_results(tiny_results)), tmp_path / "a")
    assert {p.name: p.read_bytes() for p in again} == snapshot
    other = write_tables(tables, tmp_path / "b")
    assert {p.name: p.read_bytes() for p in other} == snapshot
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".tmp-")]
    assert b"**" in snapshot["main_test.md"] and b"\\toprule" in snapshot["main_test.tex"]
