"""reports.perf_table: the README's performance table, rendered from the committed benchmarks/perf records."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reports.perf_table import render_perf_table

#: Frozen copies of the records (as of commit 5bfee70): the tests pin their rendering, so they must not follow
#: benchmarks/perf/results, which every perf run rewrites.
COMMITTED = Path(__file__).resolve().parent / "data" / "perf"
NAMES = ("prepare", "synthetic", "masks", "smoke_detection", "models", "metrics", "throughput")
MAIN = {"seconds": 472.4, "seed": 0, "identical": True}
#: Row prefixes (the "what" column), in order; the main command's row only with ``main_command``.
ROWS = [
    ("prepare", "index an LSVD tree"),
    ("prepare", "video ingest, 3 x 225 frames, 1920x1080"),
    ("prepare", "video ingest, 3 x 225 frames, 1280x720"),
    ("synthetic", "synthetic generation"),
    ("masks", "SelfSVD mask per frame"),
    ("masks", "masks for a 50-frame clip"),
    ("smoke_detection", "smoke-onset detection"),
    ("models", "SelfSVD inference on CPU"),
    ("models", "SelfSVD training on CPU"),
    ("models", "the same training iteration"),
    ("metrics", "no-reference metrics per frame"),
    ("throughput", "benchmark end to end at 1080x1920"),
    (None, "the README's main command"),
    ("gpu", "SelfSVD on GPU"),
]


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A copy of the frozen records (tests change them)."""
    out = tmp_path / "results"
    out.mkdir()
    for name in NAMES:
        shutil.copy(COMMITTED / f"{name}.json", out / f"{name}.json")
    return out


def _load(results: Path, name: str) -> dict[str, Any]:
    return json.loads((results / f"{name}.json").read_text())


def _save(results: Path, name: str, doc: Any) -> None:
    (results / f"{name}.json").write_text(json.dumps(doc))


def _rows(text: str) -> list[list[str]]:
    """The table's body rows as cells (header and rule left out)."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0] == "| what | figure | target | script |" and lines[1] == "| --- | --- | --- | --- |"
    rows = [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[2:]]
    assert all(len(r) == 4 for r in rows), rows
    return rows


def _row(text: str, prefix: str) -> list[str]:
    found = [r for r in _rows(text) if r[0].startswith(prefix)]
    assert len(found) == 1, (prefix, text)
    return found[0]


def test_every_row_present_in_order(results: Path) -> None:
    rows = _rows(render_perf_table(results, main_command=MAIN))
    assert len(rows) == len(ROWS)
    for row, (src, prefix) in zip(rows, ROWS, strict=True):
        assert row[0].startswith(prefix), (row, prefix)
        assert src == "gpu" or row[1] and "not measured" not in row[1] and "not recorded" not in row[1], row
    assert rows[-1][1] == "not measured: no GPU was available to this run"
    assert rows[0][3] == "`python -m benchmarks.perf.prepare`"


def test_figures_are_the_json_values(results: Path) -> None:
    text = render_perf_table(results)
    prep = _load(results, "prepare")["figures"]
    index = _row(text, "index an LSVD tree")
    assert index[0].startswith(f"index an LSVD tree of {prep['indexing']['frames']:,} frames")
    assert f"{prep['indexing']['index_frames_per_s']:,} frames/s" in index[1]
    assert f"{prep['indexing']['rerun_frames_per_s']:,} frames/s" in index[1]
    assert f"{prep['indexing']['reference_decode_every_frame_frames_per_s']} frames/s" in index[1]
    assert index[2] == ">= 5,000 frames/s: met"

    ingest = prep["video_ingest_1080p_h264"]
    assert ingest["meets_target"] is False
    row = _row(text, "video ingest, 3 x 225 frames, 1920x1080")
    assert f"{ingest['ingest_s']:.2f} s vs {ingest['bare_decode_s']:.2f} s bare decode" in row[1]
    assert f"({ingest['ingest_over_bare_decode']:.1f}x; {ingest['ingest_over_decode_to_rgb']:.2f}x" in row[1]
    assert row[2] == "<= 1.5x a bare decode: **not met**"

    synth = _load(results, "synthetic")["figures"]
    assert f"{synth['generate_s']:.2f} s, {synth['generate_fps']:.1f} frames/s written" in _row(text, "synthetic")[1]

    masks = _load(results, "masks")["figures"]["1080p"]
    row = _row(text, "SelfSVD mask per frame")
    assert (f"1080p: {masks['ours_frame_cached_reference_ms']:.1f} vs {masks['reference_pair_ms']:.0f} ms = "
            f"{masks['speedup_frame_cached_reference']:.1f}x") in row[1]
    assert f"{masks['speedup_pair_incl_reference_dehaze']:.1f}x" in row[1] and row[2] == ">= 50x: met"
    row = _row(text, "masks for a 50-frame clip")
    assert f"official mode {masks['clip50_official_mode_with_dis_ms']:.1f} ms with DIS" in row[1]
    assert f"ps mode {masks['clip50_ps_mode_with_dis_ms'] / 1000:.2f} s with DIS (49 masks)" in row[1]

    smoke = _load(results, "smoke_detection")["figures"]
    row = _row(text, "smoke-onset detection")
    assert f"{smoke['true_onsets']}/{smoke['true_onsets']} onsets within ±1 frame" in row[1]
    assert f"{smoke['false_events']} false events" in row[1] and row[2].endswith(": met")

    models = _load(results, "models")["figures"]
    row = _row(text, "SelfSVD inference on CPU")
    inf = models["inference_cpu"]
    assert f"small {inf['small']['256x256']['fps']:.1f} / {inf['small']['480x640']['fps']:.2f}" in row[1]
    assert f"paper {inf['paper']['256x256']['fps']:.2f}" in row[1]
    row = _row(text, "SelfSVD training on CPU")
    assert f"{models['training_cpu']['it_per_s']:.2f} it/s" in row[1]
    breakdown = models["training_cpu"]["breakdown_median_ms"]
    assert f"generator {breakdown['generator_fwd_bwd_incl_its_flows']:.0f}" in row[1]
    ba = models["training_cpu_before_after"]
    row = _row(text, "the same training iteration")
    assert f"{ba['before_it_per_s']:.2f} vs {ba['after_it_per_s']:.2f} it/s: {ba['speedup']:.2f}x" in row[1]
    assert row[2] == ">= 2x: **not met**"

    niqe = _load(results, "metrics")["figures"]["metrics"]["niqe"]["1080x1920"]
    row = _row(text, "no-reference metrics")
    ratio = niqe["ratio_reference_over_ours"]
    assert f"{niqe['ours_best_ms']:.0f} vs {niqe['reference_best_ms']:,.0f} ms ({ratio:.1f}x)" in row[1]
    assert "BRISQUE" in row[1] and "FADE" in row[1] and "PIQE" in row[1]


def test_provenance_lines(results: Path) -> None:
    text = render_perf_table(results)
    prov = [line for line in text.splitlines() if line.startswith("- ")]
    assert [line.split(".json")[0][2:] for line in prov] == list(NAMES)
    doc = _load(results, "prepare")
    assert prov[0] == (f"- prepare.json: {doc['recorded_utc'][:10]}, commit {doc['git_commit'][:7]}-dirty, AMD EPYC, "
                       f"2 cores, torch {doc['versions']['torch']}, OpenCV {doc['versions']['opencv-python-headless']}")
    assert "commit cb6ea87," in prov[2]  # a clean commit: no -dirty


def test_a_changed_value_changes_the_table(results: Path) -> None:
    before = render_perf_table(results)
    doc = _load(results, "prepare")
    doc["figures"]["indexing"]["index_frames_per_s"] = 12345
    doc["figures"]["indexing"]["meets_target"] = False
    doc["figures"]["video_ingest_1080p_h264"].update(ingest_over_bare_decode=1.37, meets_target=True)
    _save(results, "prepare", doc)
    after = render_perf_table(results)
    index = _row(after, "index an LSVD tree")
    assert "12,345 frames/s" in index[1] and "13,224" not in after and index[2].endswith("**not met**")
    ingest = _row(after, "video ingest, 3 x 225 frames, 1920x1080")
    assert "(1.37x;" in ingest[1] and ingest[2] == "<= 1.5x a bare decode: met"
    assert before != after

    doc["figures"]["video_ingest_1080p_h264"].update(ingest_over_bare_decode=1.2, meets_target=False)
    _save(results, "prepare", doc)  # the record's own verdict wins
    ingest = _row(render_perf_table(results), "video ingest, 3 x 225 frames, 1920x1080")
    assert "(1.20x;" in ingest[1] and ingest[2] == "<= 1.5x a bare decode: **not met**"
    del doc["figures"]["video_ingest_1080p_h264"]["meets_target"]
    _save(results, "prepare", doc)  # none recorded: judged against the target
    assert _row(render_perf_table(results), "video ingest, 3 x 225 frames, 1920x1080")[2].endswith(": met")


def _perturb(node: Any) -> Any:
    """Every number changed, in strings too (bools and keys kept)."""
    if isinstance(node, dict):
        return {k: _perturb(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_perturb(v) for v in node]
    if isinstance(node, bool):
        return node
    if isinstance(node, int):
        return node * 3 + 7
    if isinstance(node, float):
        return node * 1.37 + 0.11
    if isinstance(node, str):
        return re.sub(r"\d+", lambda m: str(int(m.group()) * 3 + 7), node)
    return node


def _numbers(figure: str) -> list[str]:
    """The numbers of a figure, less those named by JSON keys (sizes, 1080p, ±1 frame, a clip's 49 masks)."""
    figure = re.sub(r"\d+x\d+|\b\d+p\b|±\d+|\(\d+ masks\)|commit [0-9a-f]{7}", "", figure)
    return re.findall(r"\d[\d,]*(?:\.\d+)?", figure)


@pytest.mark.parametrize("name", NAMES)
def test_every_number_of_a_file_follows_the_json(results: Path, name: str) -> None:
    """Every number of the file's rows changes when all of its numbers do: none is typed into the code."""
    before = _rows(render_perf_table(results))
    doc = _load(results, name)
    _save(results, name, {**doc, "figures": _perturb(doc["figures"])})
    after = _rows(render_perf_table(results))
    sources = [src for src, _ in ROWS if src is not None]
    assert len(before) == len(after) == len(sources)
    for src, old, new in zip(sources, before, after, strict=True):
        if src != name:
            assert old == new
            continue
        old_numbers, new_numbers = _numbers(old[1]), _numbers(new[1])
        assert old_numbers and len(old_numbers) == len(new_numbers), (old[1], new[1])
        same = [(a, b) for a, b in zip(old_numbers, new_numbers, strict=True) if a == b]
        assert not same, (same, old[1], new[1])


def test_missing_file(results: Path) -> None:
    (results / "masks.json").unlink()
    text = render_perf_table(results)
    for prefix in ("SelfSVD mask per frame", "masks for a"):
        assert _row(text, prefix)[1] == "not measured (benchmarks/perf/results/masks.json absent)"
    assert "masks.json:" not in text and "- prepare.json:" in text
    assert len(_rows(text)) == len(ROWS) - 1

    for name in NAMES:
        (results / f"{name}.json").unlink(missing_ok=True)
    rows = _rows(render_perf_table(results, main_command=MAIN))
    assert len(rows) == len(ROWS)
    for (src, _), row in zip(ROWS, rows, strict=True):
        if src in NAMES:
            assert row[1] == f"not measured (benchmarks/perf/results/{src}.json absent)", row
    assert not [line for line in render_perf_table(results).splitlines() if line.startswith("- ")]


def _paths(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from _paths(value, (*path, key))


def _without(doc: dict[str, Any], path: tuple[str, ...], replace: Any = None, *, delete: bool) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = replace
    return doc


@pytest.mark.parametrize("name", NAMES)
def test_missing_or_odd_keys_never_raise(results: Path, name: str) -> None:
    doc = _load(results, name)
    for path in _paths(doc):
        for delete, replace in ((True, None), (False, "x"), (False, None), (False, [])):
            _save(results, name, _without(doc, path, replace, delete=delete))
            text = render_perf_table(results)
            assert len(_rows(text)) == len(ROWS) - 1, path
    _save(results, name, {"figures": {}})
    assert "not recorded" in render_perf_table(results)
    (results / f"{name}.json").write_text("{ not json")
    assert f"{name}.json unreadable" in render_perf_table(results)
    _save(results, name, [1, 2])
    assert f"{name}.json is not a JSON object" in render_perf_table(results)


def test_main_command_row(results: Path) -> None:
    row = _row(render_perf_table(results, main_command=MAIN), "the README's main command")
    assert row[1] == "7 min 52 s (seed 0); leaderboard identical to the cached run: yes"
    assert row[2] == "<= 10 min: met" and row[3] == "`time python -m benchmarks.run --method selfsvd`"
    row = _row(render_perf_table(results, main_command={"seconds": 661.0, "seed": 2, "identical": False}),
               "the README's main command")
    assert row[1] == "11 min 1 s (seed 2); leaderboard identical to the cached run: no"
    assert row[2] == "<= 10 min: **not met**"
    assert _row(render_perf_table(results, main_command={}), "the README's main command")[1].startswith("not recorded")
    assert "main command" not in render_perf_table(results, main_command=None)


def test_unavailable_metric_reference(tmp_path: Path) -> None:
    _save(tmp_path, "metrics", {"figures": {"sizes_hxw": ["1080x1920"], "metrics": {
        "niqe": {"1080x1920": {"ours_best_ms": 26.23, "reference": "unavailable: no pyiqa venv at /tmp/pyiqa-venv"}},
        "piqe": {"1080x1920": {"ours_best_ms": 11.26, "reference_best_ms": 69.6, "ratio_reference_over_ours": 6.18,
                               "rel_diff": 3.31e-06, "within_1pct": True}},
    }}})
    row = _row(render_perf_table(tmp_path), "no-reference metrics")
    assert "NIQE 26.2 ms, reference unavailable: no pyiqa venv at /tmp/pyiqa-venv" in row[1]
    assert "PIQE 11.3 vs 69.6 ms (6.2x)" in row[1]
    assert row[2].endswith(": met where measured")


def test_metrics_target_only_at_720p_and_1080p(tmp_path: Path) -> None:
    """A ratio under the target at a size the target does not name gives no verdict; at 1080p it fails it."""
    def record(ratio_1080: float) -> dict[str, Any]:
        return {"figures": {"sizes_hxw": ["480x640", "1080x1920"], "metrics": {"fade": {
            "480x640": {"ours_best_ms": 40.0, "reference_best_ms": 80.0, "ratio_reference_over_ours": 2.0,
                        "rel_diff": 1e-6, "within_1pct": True},
            "1080x1920": {"ours_best_ms": 100.0, "reference_best_ms": 100.0 * ratio_1080,
                          "ratio_reference_over_ours": ratio_1080, "rel_diff": 1e-6, "within_1pct": True}}}}}

    _save(tmp_path, "metrics", record(5.5))
    assert _row(render_perf_table(tmp_path), "no-reference metrics")[2].endswith("1080p: met")
    _save(tmp_path, "metrics", record(4.5))
    assert _row(render_perf_table(tmp_path), "no-reference metrics")[2].endswith("**not met**")


def test_throughput_row(results: Path) -> None:
    fig = _load(results, "throughput")["figures"]
    row = _row(render_perf_table(results), "benchmark end to end at 1080x1920")
    ident = fig["results"]["1080x1920"]["identity"]
    before, after = ident["baseline"]["fps"], ident["ours"]["fps"]
    assert row[1].startswith(f"identity {before:.2f} -> {after:.2f} ({after / before:.1f}x) [flows 1,404 ms")
    assert row[1].index("identity") < row[1].index("dcp") < row[1].index("selfsvd")  # the workload's order
    assert "before: commit 0bf84ca, in the same run" in row[1] and row[2] == "figures only"
    doc = _load(results, "throughput")
    doc["figures"]["baseline"] = None
    for rec in doc["figures"]["results"]["1080x1920"].values():
        rec.pop("baseline")
    _save(results, "throughput", doc)
    row = _row(render_perf_table(results), "benchmark end to end at 1080x1920")
    assert row[1].startswith(f"identity {after:.2f} [") and "->" not in row[1] and "before" not in row[1]


def test_gpu_row(results: Path) -> None:
    _save(results, "gpu", {
        "device": {"name": "NVIDIA H100 80GB HBM3", "type": "cuda"},
        "git_commit": "0123456789abcdef", "recorded_utc": "2027-01-02T03:04:05+00:00",
        "figures": {"preset": "paper", "quick": False,
                    "inference": {"dis": {"1080x1920": {"fp32": {"fps": 12.5}, "bf16_channels_last": {"fps": 31.25},
                                                        "bf16_channels_last_compiled": {"skipped": "budget"}},
                                          "720x1280": {"fp32": {"fps": 27.0}}},
                                  "pwcnet": {"1080x1920": {"fp32": {"skipped": "no weights"}}}},
                    "training": {"it_per_s": 3.21, "mfu": 0.123},
                    "desmoke_video": {"fps": 18.4}},
    })
    text = render_perf_table(results)
    row = _row(text, "SelfSVD on GPU")
    assert row[0] == "SelfSVD on GPU, paper preset"
    assert "inference (dis) 1080x1920: 31.2 fps (bf16_channels_last)" in row[1]
    assert "720x1280: 27.0 fps (fp32)" in row[1] and "training 3.21 it/s (MFU 12.3%)" in row[1]
    assert "18.4 fps" in row[1] and "pwcnet" not in row[1]
    assert row[2] == ">= 30 fps at 1080x1920: met"
    assert "- gpu.json: 2027-01-02, commit 0123456, device NVIDIA H100 80GB HBM3" in text


def test_the_committed_records_render_whole() -> None:
    """Whatever the last perf run recorded renders every row from its file (no file missing or unreadable)."""
    text = render_perf_table(Path(__file__).resolve().parents[2] / "benchmarks" / "perf" / "results")
    assert "not measured (" not in text
    assert [line.split(".json")[0][2:] for line in text.splitlines() if line.startswith("- ")] == list(NAMES)
