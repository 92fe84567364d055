"""Figures of a results folder: files written, deterministic bytes, graceful skips, exact statistics."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from reports import figures as F
from reports.results import load_results
from reports.style import MARKERS, OKABE_ITO, PALETTE, method_styles

ALL = [spec.name for spec in F.FIGURES]


def _png_std(path: Path) -> float:
    from lsvd.io.images import read_rgb

    return float(read_rgb(path).astype(np.float64).std())


@pytest.fixture(scope="module")
def built(tiny_results: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[F.FigureFile], Path, Path]:
    """Every figure of the fixture built twice, into two folders."""
    results = load_results(tiny_results)
    a, b = tmp_path_factory.mktemp("figs-a"), tmp_path_factory.mktemp("figs-b")
    first = F.build_figures(results, "test", a)
    F.build_figures(load_results(tiny_results), "test", b)
    return first, a, b


def test_every_figure_writes_a_non_blank_png_and_a_pdf(built: tuple[list[F.FigureFile], Path, Path]) -> None:
    figs, out, _ = built
    assert [f.name for f in figs] == ALL
    for f in figs:
        assert f.ok, (f.name, f.reason)
        assert f.title and f.caption and f.split == "test"
        assert [p.name for p in f.paths] == [f"{f.name}_test.png", f"{f.name}_test.pdf"]
        png, pdf = f.paths
        assert png.parent == out and png.stat().st_size > 2000
        assert _png_std(png) > 10, f"{png} looks blank"
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and len(data) > 2000
        assert b"CreationDate" not in data and b"Matplotlib" not in data, f"{pdf}: metadata not stripped"
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")], "temporary files left behind"


def test_building_twice_gives_byte_identical_files(built: tuple[list[F.FigureFile], Path, Path]) -> None:
    _, a, b = built
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and len(names) == 2 * len(ALL)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs between two builds"


def test_qualitative_grid_columns_and_auto_zoom(tiny_results: Path, tmp_path: Path) -> None:
    from lsvd.io.images import read_rgb

    results = load_results(tiny_results)
    fig = F.qualitative_grid(results, "test", tmp_path)
    media = results.clip_media("test")
    # identity (equal to the input) and the ablation are left out; table order is kept
    assert fig.stats["methods"] == ["clahe", "dcp", "selfsvd"]
    assert fig.stats["clips"] == sorted(media)[:3]
    for clip_id, region in fig.stats["zoom"].items():
        m = media[clip_id]
        # against the clean frame where the data has one (the smoke itself, not motion since the PS frame)
        expected = F.smokiest_region(read_rgb(m.input_frame(m.samples[0])), read_rgb(m.clean_frame(m.samples[0])))
        assert region == pytest.approx(expected, abs=1e-4)
    chosen = F.qualitative_grid(results, "test", tmp_path / "b", clips=["synth_test_001", "nope"],
                                methods=["selfsvd", "dcp"], zoom=(0.1, 0.2, 0.3, 0.3))
    assert chosen.stats["clips"] == ["synth_test_001"] and chosen.stats["methods"] == ["selfsvd", "dcp"]
    assert chosen.stats["zoom"]["synth_test_001"] == [0.1, 0.2, 0.3, 0.3]


def test_smokiest_region_finds_the_window_that_differs_most() -> None:
    rng = np.random.default_rng(1)
    ps = rng.integers(0, 50, size=(80, 120, 3)).astype(np.uint8)
    smoky = ps.copy()
    smoky[40:60, 60:90] = 250  # the smoke: exactly one window of 1/4 x 1/4
    smoky[0:10, 0:10] = np.clip(ps[0:10, 0:10].astype(int) + 30, 0, 255).astype(np.uint8)  # a weaker difference
    assert F.smokiest_region(smoky, ps) == pytest.approx((0.5, 0.5, 0.25, 0.25))
    # a PS frame of another size is resized first; gray frames work too
    half = ps[::2, ::2]
    x, y, w, h = F.smokiest_region(smoky.mean(axis=2), half.mean(axis=2))
    assert (w, h) == pytest.approx((0.25, 0.25)) and abs(x - 0.5) <= 0.05 and abs(y - 0.5) <= 0.05


def test_mask_overlay_upsamples_nearest_and_tints_only_the_mask() -> None:
    frame = np.full((8, 12, 3), 100, np.uint8)
    mask = np.zeros((2, 3), np.uint8)
    mask[1, 2] = 255
    out = F.mask_overlay(frame, mask, color="#FF0000", alpha=0.5)
    assert (out[4:, 8:] == [178, 50, 50]).all()  # 0.5 * 100 + 0.5 * (255, 0, 0), rounded
    untouched = np.ones((8, 12), bool)
    untouched[4:, 8:] = False
    assert (out[untouched] == 100).all()


def test_figures_skip_without_media_or_run_logs(tiny_results: Path, tmp_path: Path, caplog) -> None:
    root = tmp_path / "results"
    shutil.copytree(tiny_results, root, ignore=shutil.ignore_patterns("cache"))
    shutil.rmtree(root / "media")
    shutil.rmtree(root / "runs")
    out = tmp_path / "figs"
    with caplog.at_level("DEBUG", logger="reports.figures"):
        figs = {f.name: f for f in F.build_figures(load_results(root), "test", out)}
    for name in ("qualitative_grid", "mask_overlays", "training_curves"):
        assert not figs[name].ok and figs[name].paths == [] and figs[name].reason, name
        assert not list(out.glob(f"{name}_*")), name
        assert any(name in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records), name
    # the rest is made from the tables alone
    for name in ("clip_distributions", "quality_speed", "metric_over_time", "protocol_agreement"):
        assert figs[name].ok, (name, figs[name].reason)
    assert "smoke onset" not in figs["metric_over_time"].caption  # no clip sheet without media


def test_figures_without_clean_metrics(tiny_results: Path, tmp_path: Path) -> None:
    results = load_results(tiny_results)
    results.frames = results.frames[results.frames["metric"] != "psnr"]
    results.clips = results.clips[results.clips["metric"] != "psnr"]
    results.leaderboard = results.leaderboard[results.leaderboard["metric"] != "psnr"]
    assert F.protocol_agreement_stats(results, "test") is None
    agreement = F.protocol_agreement(results, "test", tmp_path)
    assert not agreement.ok and "psnr" in agreement.reason and not list(tmp_path.glob("protocol_*"))
    assert F.quality_speed(results, "test", tmp_path).stats["metric"] == "aligned_psnr"
    assert F.metric_over_time(results, "test", tmp_path).stats["metrics"] == ["aligned_psnr", "fade"]
    assert "psnr" not in F.clip_distributions(results, "test", tmp_path).stats["metrics"]


def test_no_reference_data_fall_back_to_no_reference_metrics(tiny_results: Path, tmp_path: Path) -> None:
    results = load_results(tiny_results)  # as on real clips: no clean frames, no PS-frame protocol
    keep = ["fade", "warp_error", "params", "gmacs"]
    results.frames = results.frames[results.frames["metric"].isin(keep)]
    results.leaderboard = results.leaderboard[results.leaderboard["metric"].isin(keep)]
    speed = F.quality_speed(results, "test", tmp_path)
    assert speed.stats["metric"] == "fade" and "Down and right is better" in speed.caption
    assert F.metric_over_time(results, "test", tmp_path).stats["metrics"] == ["fade"]


def test_kendall_tau_b_matches_scipy_and_a_hand_count() -> None:
    assert F.kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)  # 5 concordant, 1 discordant
    assert F.kendall_tau_b([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / np.sqrt(2 * 3))  # one tie in x
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 30).astype(float), rng.normal(size=30)
    assert F.kendall_tau_b(x, y) == pytest.approx(scipy_stats.kendalltau(x, y).statistic, abs=1e-12)
    assert np.isnan(F.kendall_tau_b([1, 1], [1, 2]))


def _average_ranks(v: np.ndarray) -> np.ndarray:
    """Ranks 1..n from numpy argsort, ties given their mean rank."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    for value in np.unique(v):
        tie = v == value
        ranks[tie] = ranks[tie].mean()
    return ranks


def test_protocol_agreement_stats_match_an_independent_computation(tiny_results: Path, tmp_path: Path) -> None:
    results = load_results(tiny_results)
    f = results.frames[results.frames["split"] == "test"]
    key = ["method", "clip_id", "frame_number"]
    a = f[f["metric"] == "aligned_psnr"][[*key, "value"]].rename(columns={"value": "x"})
    b = f[f["metric"] == "psnr"][[*key, "value"]].rename(columns={"value": "y"})
    joined = a.merge(b, on=key)
    joined = joined[np.isfinite(joined["x"]) & np.isfinite(joined["y"])]
    x, y = joined["x"].to_numpy(float), joined["y"].to_numpy(float)
    means = joined.groupby(["method", "clip_id"])[["x", "y"]].mean()
    mx, my = means["x"].to_numpy(), means["y"].to_numpy()

    stats = F.protocol_agreement_stats(results, "test")
    assert stats["n_frames"] == len(joined) > 3 and stats["n_clip_means"] == len(means)
    assert stats["pearson_frames"] == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-9)
    assert stats["spearman_frames"] == pytest.approx(np.corrcoef(_average_ranks(x), _average_ranks(y))[0, 1],
                                                     abs=1e-9)
    assert stats["pearson_clips"] == pytest.approx(np.corrcoef(mx, my)[0, 1], abs=1e-9)
    assert stats["spearman_clips"] == pytest.approx(np.corrcoef(_average_ranks(mx), _average_ranks(my))[0, 1],
                                                    abs=1e-9)
    slope, intercept = np.polyfit(x, y, 1)
    assert (stats["slope"], stats["intercept"]) == pytest.approx((slope, intercept), abs=1e-9)
    within = [np.corrcoef(g["x"], g["y"])[0, 1] for _, g in joined.groupby("method") if g["x"].std() > 0]
    assert stats["pearson_within_methods"] == pytest.approx(np.mean(within), abs=1e-9)
    board = results.leaderboard[results.leaderboard["status"] == "ok"].pivot(index="method", columns="metric",
                                                                              values="value")
    assert stats["n_ranked_methods"] == len(board) == 5
    assert stats["kendall_methods"] == pytest.approx(scipy_stats.kendalltau(board["aligned_psnr"],
                                                                            board["psnr"]).statistic, abs=1e-12)
    fig = F.protocol_agreement(results, "test", tmp_path)
    assert fig.stats == stats and f"{stats['pearson_frames']:.3f}" in fig.caption


def test_training_curves_add_an_eval_panel_when_the_run_evaluated(tiny_results: Path, tmp_path: Path) -> None:
    root = tmp_path / "results"
    shutil.copytree(tiny_results, root, ignore=shutil.ignore_patterns("cache", "media"))
    plain = F.training_curves(load_results(root), "test", tmp_path / "a")
    assert plain.stats["panels"] == ["loss_rec", "loss_g", "loss_d"]
    assert plain.stats["methods"] == ["selfsvd_no_mask", "selfsvd"]  # table order
    log = root / "runs" / "selfsvd" / "log.jsonl"
    evals = [{"iter": i, "eval": {"psnr_clean_in": 20.0, "psnr_clean_out": 20.0 + i}} for i in (2, 4)]
    log.write_text(log.read_text() + "".join(json.dumps(e) + "\n" for e in evals))
    with_eval = F.training_curves(load_results(root), "test", tmp_path / "b")
    assert with_eval.stats["panels"] == ["loss_rec", "loss_g", "loss_d", "eval"] and with_eval.ok
    assert _png_std(with_eval.paths[0]) > 10


def test_method_styles_are_stable_okabe_ito_and_distinct() -> None:
    assert OKABE_ITO["orange"] == "#E69F00" and OKABE_ITO["sky_blue"] == "#56B4E9"
    assert OKABE_ITO["bluish_green"] == "#009E73" and OKABE_ITO["yellow"] == "#F0E442"
    assert OKABE_ITO["blue"] == "#0072B2" and OKABE_ITO["vermillion"] == "#D55E00"
    assert OKABE_ITO["reddish_purple"] == "#CC79A7" and OKABE_ITO["black"] == "#000000"
    names = [f"m{i}" for i in range(40)]
    styles = method_styles(names)
    assert styles == method_styles(list(names))  # stable
    assert {s.color for s in styles.values()} == set(PALETTE)
    assert len({styles[m].color for m in names[:8]}) == 8  # the first 8 methods: 8 colours
    assert len({(s.color, s.marker) for s in styles.values()}) == 40  # colour + marker tell 40 apart
    assert all(s.marker in MARKERS for s in styles.values())
    # a method keeps its look given the same ordered list; duplicates keep their first position
    assert method_styles(["identity", "dcp", "identity", "selfsvd"])["selfsvd"] == styles["m2"]


def test_importing_reports_does_not_import_matplotlib() -> None:
    code = "import sys, reports.figures, reports.style; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"


def test_build_figures_rejects_unknown_names(tiny_results: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown figure"):
        F.build_figures(load_results(tiny_results), "test", tmp_path, names=["nope"])
    assert F.TITLES["protocol_agreement"] and len(F.TITLES) == len(ALL)
