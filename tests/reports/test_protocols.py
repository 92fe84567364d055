"""Published numbers as data, and report tables kept apart per (split, evaluation protocol)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.published import PublishedError, load_published, read_published
from reports.build import build_report, main
from reports.results import DEFAULT_PROTOCOL, ResultsError, load_results, protocol_card
from reports.tables import PUBLISHED, main_table

LOHINET = "lsvd256-lohinet"
#: The LoHi-Net LSVD image table as printed: method -> (ssim, psnr, ciede2000, params (M), GMACs at 3x224x224).
LOHINET_TABLE = {"DehazeFormer-B": (0.796, 26.340, 4.330, 2.52, 19.76), "DEA-Net": (0.792, 26.022, 4.472, 3.65, 24.68),
                 "ConvIR-S": (0.789, 26.112, 4.512, 5.53, 42.23), "SVP-Net": (0.755, 25.186, 4.919, 17.46, 152.67),
                 "LGUTransformer": (0.792, 26.305, 4.285, 5.54, 32.45), "SGDN": (0.775, 25.727, 4.535, 11.09, 41.16),
                 "WDMamba": (0.787, 25.627, 4.688, 11.25, 29.74), "LoHi-Net": (0.798, 26.505, 4.164, 1.38, 14.07)}
GOOD = """format_version = 1
protocol = "lsvd256-lohinet"
citation = "A paper"
source = "A paper, Table 2"
macs_input = "3x224x224"

[[rows]]
method = "net"
values = { psnr = 25.0, ssim = 0.8, params_m = 1.5, gmacs = 10.0 }
"""


# ---------------------------------------------------------------- published numbers as data

def test_the_shipped_lohinet_table_loads_with_its_citation_and_protocol():
    tables = load_published(protocol=LOHINET)
    assert len(tables) == 1
    table = tables[0]
    assert table.source == "LoHi-Net, MICCAI 2026, LSVD image table" and "LoHi-Net" in table.citation
    assert table.macs_input == "3x224x224"
    got = {r.method: tuple(r.values[k] for k in ("ssim", "psnr", "ciede2000", "params_m", "gmacs")) for r in table.rows}
    assert got == LOHINET_TABLE
    assert load_published(protocol="no-such-protocol") == []


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace('citation = "A paper"\n', ""), r"missing required field\(s\) \['citation'\]"),
    (lambda t: t.replace("psnr = 25.0", "psnrr = 25.0"), r"rows\[0\] \(net\): unknown metric\(s\) \['psnrr'\]"),
    (lambda t: t.replace("psnr = 25.0", 'psnr = "25.0"'), r"psnr = '25.0' is not a finite number"),
    (lambda t: t.replace("psnr = 25.0", "psnr = nan"), r"psnr = nan is not a finite number"),
    (lambda t: t.replace('macs_input = "3x224x224"\n', ""), r"gmacs given without the file's 'macs_input'"),
    (lambda t: t.replace("format_version = 1", "format_version = 2"), r"format_version 2, expected 1"),
    (lambda t: t + '\n[[rows]]\nmethod = "net"\nvalues = { psnr = 1.0 }\n', r"'net' is listed twice"),
    (lambda t: t.replace("values = { psnr = 25.0, ssim = 0.8, params_m = 1.5, gmacs = 10.0 }", "values = {}"),
     r"expected 'values = \{metric = number"),
    (lambda t: "extra = 1\n" + t, r"unknown field\(s\) \['extra'\]"),
    (lambda t: t + "\nextra = 1\n", r"rows\[0\] \(net\): unknown field\(s\) \['extra'\]"),
    (lambda t: t.replace("[[rows]]", "[[rows"), r"not valid TOML"),
])
def test_a_broken_published_file_is_refused_with_a_clear_error(tmp_path: Path, change, message):
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    assert read_published(good).rows[0].values == {"psnr": 25.0, "ssim": 0.8, "params_m": 1.5, "gmacs": 10.0}
    bad = tmp_path / "bad.toml"
    bad.write_text(change(GOOD))
    with pytest.raises(PublishedError, match=message) as info:
        load_published(folder=tmp_path)
    assert "bad.toml" in str(info.value)


# ---------------------------------------------------------------- one table per (split, protocol)

@pytest.fixture(scope="module")
def two_protocols(tiny_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny results with every leaderboard row duplicated under lsvd256-lohinet (its values + 1000, so a
    mixed-up column shows), the originals marked selfsvd-eccv24."""
    results = tmp_path_factory.mktemp("two-protocols") / "results"
    shutil.copytree(tiny_results, results, ignore=shutil.ignore_patterns("report", "cache"))
    board = pd.read_parquet(results / "leaderboard.parquet")
    assert "protocol" not in board or set(board["protocol"]) == {DEFAULT_PROTOCOL}
    other = board.assign(protocol=LOHINET, protocol_version="2", value=board["value"] + 1000.0)
    pd.concat([board.assign(protocol=DEFAULT_PROTOCOL, protocol_version="1"), other],
              ignore_index=True).to_parquet(results / "leaderboard.parquet", index=False)
    return results


def test_two_protocols_give_separate_tables_each_with_its_card(two_protocols: Path, tmp_path: Path):
    out = build_report(two_protocols, tmp_path / "report")
    tables = out["tables"]
    assert {"main_test", "efficiency_test", f"main_test_{LOHINET}", f"efficiency_test_{LOHINET}"} <= set(tables)
    default, other = tables["main_test"], tables[f"main_test_{LOHINET}"]
    psnr = default.header.index("psnr ↑")
    measured = [r for r in default.rows if PUBLISHED not in r[0]]
    assert measured and all(float(r[psnr].split()[0]) < 1000 for r in measured if r[psnr] != "n/a")
    assert all(float(r[psnr].split()[0]) > 1000 for r in other.rows if PUBLISHED not in r[0] and r[psnr] != "n/a")
    assert default.protocol == f"{DEFAULT_PROTOCOL} v1" and other.protocol == f"{LOHINET} v2"
    md = (tmp_path / "report" / "REPORT.md").read_text()
    for table, name in ((default, DEFAULT_PROTOCOL), (other, LOHINET)):
        card = protocol_card(name).strip().splitlines()[0]
        assert card and f"> {card}" in table.to_markdown() and card in md
        assert f"Protocol: {name}" in table.to_latex()
        md_table = (tmp_path / "report" / "tables" / f"{table.label.removeprefix('tab:')}.md").read_text()
        assert md_table.index(f"> {card}") > md_table.index("| Method")  # under the table
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count('class="protocol-card"') == len(tables)


def test_published_rows_appear_only_in_their_protocols_table_marked_and_unranked(two_protocols: Path):
    results = load_results(two_protocols)
    from reports.tables import build_tables

    tables = build_tables(results)
    marked = {k: [r[0] for r in t.rows if PUBLISHED in r[0]] for k, t in tables.items()}
    assert marked[f"main_test_{LOHINET}"] == [f"{m} {PUBLISHED}" for m in LOHINET_TABLE]
    assert len(marked[f"efficiency_test_{LOHINET}"]) == len(LOHINET_TABLE)
    assert not marked["main_test"] and not marked["efficiency_test"]
    t = tables[f"main_test_{LOHINET}"]
    lohi = next(i for i, r in enumerate(t.rows) if r[0] == f"LoHi-Net {PUBLISHED}")
    assert [t.rows[lohi][t.header.index(h)] for h in ("psnr ↑", "ssim ↑", "ciede2000 ↓")] == ["26.505", "0.7980",
                                                                                             "4.164"]  # as printed
    assert not any(t._emph(i, j) for i, r in enumerate(t.rows) if PUBLISHED in r[0] for j in range(len(r)))
    assert any(t._emph(i, j) == "best" for i, r in enumerate(t.rows) if PUBLISHED not in r[0] for j in range(len(r)))
    assert any("LoHi-Net, MICCAI 2026, LSVD image table" in n for n in t.footnotes)
    first = t.rows.index(t.rows[lohi]) - (len(LOHINET_TABLE) - 1)
    assert t.rules_before == (first,) and "\\midrule" in t.to_latex()
    eff = tables[f"efficiency_test_{LOHINET}"]
    row = next(r for r in eff.rows if r[0] == f"LoHi-Net {PUBLISHED}")
    assert row[1:3] == ["1.380", "14.070"] and any("3x224x224" in n for n in eff.footnotes)
    assert not any(PUBLISHED in r[0] for r in build_tables(results, published=False)[f"main_test_{LOHINET}"].rows)


def test_a_table_of_a_mixed_split_needs_its_protocol(two_protocols: Path):
    results = load_results(two_protocols)
    with pytest.raises(ResultsError, match="several protocols"):
        main_table(results, "test")
    assert main_table(results, "test", protocol=LOHINET).title == f"Quality (test, {LOHINET})"


def test_results_without_protocol_columns_are_one_protocol(tiny_results: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]):
    results = tmp_path / "results"
    shutil.copytree(tiny_results, results, ignore=shutil.ignore_patterns("report", "cache"))
    board = pd.read_parquet(results / "leaderboard.parquet")
    board.drop(columns=[c for c in ("protocol", "protocol_version") if c in board]).to_parquet(
        results / "leaderboard.parquet", index=False)
    loaded = load_results(results)
    assert loaded.protocols("test") == [DEFAULT_PROTOCOL] and loaded.protocol_version("test", DEFAULT_PROTOCOL) == "1"
    assert main(["--results", str(results), "--no-published"]) == 0
    assert "main_test, efficiency_test, ablation_test" in capsys.readouterr().out
    md = (results / "report" / "tables" / "main_test.md").read_text()
    assert f"> {protocol_card(DEFAULT_PROTOCOL).strip().splitlines()[0]}" in md and PUBLISHED not in md
