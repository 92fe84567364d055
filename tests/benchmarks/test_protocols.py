"""Protocol cards (benchmarks.protocols): they load and validate, the LSVD-256 card matches a plain
implementation of it, protocols stay apart in one results folder, the default is the official protocol."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from benchmarks.leaderboard import render_markdown, update_table
from benchmarks.protocols import (
    DEFAULT_PROTOCOL,
    MetricSpec,
    Protocol,
    ProtocolError,
    _parse,
    list_protocols,
    load_protocol,
)
from benchmarks.results import LEGACY_PROTOCOL, RESULTS_FORMAT_VERSION, with_protocol
from benchmarks.run import BenchmarkConfig, BenchmarkError, main
from lsvd.flow.base import backward_warp, create_flow
from lsvd.io.images import read_rgb, write_png
from lsvd.prepare import prepare_lsvd
from tests.conftest import make_lsvd_tree

N_FRAMES = 10


@pytest.fixture(scope="module")
def lsvd_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny LSVD-layout root (one test clip of 10 frames, 40x48) whose LSVD_test_pro frame differs from the raw
    frame 0, so that the two references give different values."""
    base = tmp_path_factory.mktemp("protocols")
    src = make_lsvd_tree(base / "LSVD", {"train/clip_a": N_FRAMES, "test/clip_c": N_FRAMES}, size=(40, 48),
                         masks=True, test_pro=True)
    pro = src / "LSVD_test_pro" / "clip_c" / f"{0:08d}.png"
    write_png(pro, np.roll(read_rgb(pro), 2, axis=1))
    root = base / "root"
    prepare_lsvd(src, root, progress=False)
    return root


def _run(root: Path, out: Path, *extra: str) -> int:
    return main(["--method", "identity", "--no-identity", "--root", str(root), "--output", str(out), "--no-progress",
                 "--no-media", *extra])


def _values(out: Path, protocol: str) -> dict[str, float]:
    board = pd.read_parquet(out / "leaderboard.parquet")
    part = board[(board["protocol"] == protocol) & (board["status"] == "ok")]
    return dict(zip(part["metric"], part["value"], strict=True))


def _raw_frames(root: Path) -> np.ndarray:
    """The raw test clip of the LSVD tree behind ``root``, frame 0 (its PS frame) first."""
    return np.stack([read_rgb(p) for p in sorted((root.parent / "LSVD" / "LSVD_test" / "clip_c").glob("*.png"))])


# --- cards ---------------------------------------------------------------------------------------------------------


def test_cards_load_and_render_every_setting() -> None:
    assert {"selfsvd-eccv24", "lsvd256-lohinet", "paired-clean"} <= set(list_protocols())
    assert DEFAULT_PROTOCOL == "selfsvd-eccv24" == LEGACY_PROTOCOL[0] and RESULTS_FORMAT_VERSION == "1.1"
    for name in list_protocols():
        card = load_protocol(name)
        assert isinstance(card, Protocol) and card.name == name and card.version and card.title and card.citation
        with pytest.raises(dataclasses.FrozenInstanceError):
            card.version = "2"  # type: ignore[misc]
        text = card.to_markdown()
        for word in ("reference", "resolution", "flow", "blur", "validity mask", "aggregation", "complexity",
                     *card.metric_names):
            assert word in text, (name, word)
    lohi = load_protocol("lsvd256-lohinet")
    assert lohi.resize == (256, 256) and lohi.interpolation == "linear" and "assum" in lohi.to_markdown()
    assert lohi.blur_kernel == 0 and lohi.valid_mask and lohi.reference == "ps_frame"
    assert lohi.aggregation == "frame_mean" and lohi.complexity_input == (3, 224, 224)
    official = load_protocol(DEFAULT_PROTOCOL)
    assert (official.blur_kernel, official.blur_sigma, official.resize) == (5, 1.1, None)
    assert "0.999" in official.to_markdown() and "0.01" in official.to_markdown()  # warp_error's occlusion rule


def test_unknown_protocol_names_close_matches() -> None:
    with pytest.raises(KeyError, match="did you mean lsvd256-lohinet"):
        load_protocol("lsvd256-lohi")
    with pytest.raises(BenchmarkError, match="--protocol selfsvd-eccv: .*did you mean selfsvd-eccv24"):
        BenchmarkConfig(methods=["identity"], protocol="selfsvd-eccv").validate()


def test_bad_card_is_refused(tmp_path: Path) -> None:
    text = (Path(load_protocol("paired-clean").path)).read_text()
    bad = tmp_path / "broken.toml"
    bad.write_text(text.replace('name = "paired-clean"', 'name = "broken"').replace("blur_kernel = 0",
                                                                                    "blur_kernel = 4"))
    with pytest.raises(ProtocolError, match="blur_kernel"):
        _parse(bad)
    bad.write_text(text)
    with pytest.raises(ProtocolError, match="must be the file name"):
        _parse(bad)


# --- values --------------------------------------------------------------------------------------------------------


def _plain_lsvd256(frames: np.ndarray) -> dict[str, float]:
    """The LSVD-256 card written plainly: frame 0 is the reference of frames 1.., both resized to 256x256
    (bilinear), DIS flow from the reference to the prediction, backward warp, validity mask on both, uint8,
    PSNR / SSIM (skimage, Gaussian 11x11 sigma 1.5) / CIEDE2000, plain mean over all frames."""
    flow = create_flow("dis")
    ref = cv2.resize(frames[0], (256, 256), interpolation=cv2.INTER_LINEAR)
    ref_t = torch.from_numpy(ref).permute(2, 0, 1)[None].float() / 255
    out: dict[str, list[float]] = {"aligned_psnr": [], "aligned_ssim": [], "aligned_ciede2000": []}
    for frame in frames[1:]:
        pred = cv2.resize(frame, (256, 256), interpolation=cv2.INTER_LINEAR)
        pred_t = torch.from_numpy(pred).permute(2, 0, 1)[None].float() / 255
        warped, valid = backward_warp(pred_t, flow.estimate(source=pred_t, target=ref_t))
        a = (warped * valid)[0].permute(1, 2, 0).clamp(0, 1).mul(255).round().numpy().astype(np.uint8)
        b = (ref_t * valid)[0].permute(1, 2, 0).clamp(0, 1).mul(255).round().numpy().astype(np.uint8)
        out["aligned_psnr"].append(peak_signal_noise_ratio(b, a, data_range=255))
        out["aligned_ssim"].append(structural_similarity(b.astype(np.float64), a.astype(np.float64), data_range=255,
                                                         channel_axis=2, gaussian_weights=True, sigma=1.5,
                                                         use_sample_covariance=False))
        out["aligned_ciede2000"].append(float(np.mean(deltaE_ciede2000(rgb2lab(a / 255.0), rgb2lab(b / 255.0)))))
    return {k: float(np.mean(v)) for k, v in out.items()}


def test_lsvd256_card_matches_a_plain_implementation(lsvd_root: Path, tmp_path: Path) -> None:
    assert _run(lsvd_root, tmp_path / "r", "--protocol", "lsvd256-lohinet") == 0
    got = _values(tmp_path / "r", "lsvd256-lohinet")
    want = _plain_lsvd256(_raw_frames(lsvd_root))
    for metric in want:
        assert got[metric] == pytest.approx(want[metric], rel=1e-6), metric
    board = pd.read_parquet(tmp_path / "r" / "leaderboard.parquet")
    assert set(board["protocol_version"]) == {"1"} and set(board["flow"]) == {"dis"}
    assert int(board.loc[board["metric"] == "aligned_psnr", "n_frames"].iloc[0]) == N_FRAMES - 1


def test_default_protocol_is_the_official_one(lsvd_root: Path, tmp_path: Path) -> None:
    """No --protocol, and --protocol selfsvd-eccv24: the same values, those of the official aligned PSNR against
    the LSVD_test_pro frame (blurred, aligned, masked; mean per clip)."""
    from benchmarks.metrics.reference import aligned_psnr

    metrics = ["--metrics", "aligned_psnr,aligned_ssim"]
    assert _run(lsvd_root, tmp_path / "a", *metrics) == 0
    assert _run(lsvd_root, tmp_path / "b", *metrics, "--protocol", DEFAULT_PROTOCOL) == 0
    a, b = _values(tmp_path / "a", DEFAULT_PROTOCOL), _values(tmp_path / "b", DEFAULT_PROTOCOL)
    assert a == b and set(a) == {"aligned_psnr", "aligned_ssim", "params", "gmacs"}
    frames = _raw_frames(lsvd_root)
    pro = read_rgb(next((lsvd_root.parent / "LSVD" / "LSVD_test_pro" / "clip_c").glob("*.png")))
    flow = create_flow("dis")
    want = float(np.mean([aligned_psnr(f, pro, flow) for f in frames[1:]]))
    assert a["aligned_psnr"] == pytest.approx(want, rel=1e-12)


def test_two_protocols_stay_apart(lsvd_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert _run(lsvd_root, out, "--metrics", "aligned_psnr") == 0
    first = pd.read_parquet(out / "leaderboard.parquet")
    assert _run(lsvd_root, out, "--protocol", "lsvd256-lohinet") == 0
    assert _run(lsvd_root, out, "--protocol", "lsvd256-lohinet") == 0  # replaces its own rows only
    board = pd.read_parquet(out / "leaderboard.parquet")
    assert set(board["protocol"]) == {DEFAULT_PROTOCOL, "lsvd256-lohinet"}
    assert not board.duplicated(["method", "split", "protocol", "metric"]).any()
    kept = board[board["protocol"] == DEFAULT_PROTOCOL].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept[first.columns], first)
    official = _values(out, DEFAULT_PROTOCOL)["aligned_psnr"]
    assert official != _values(out, "lsvd256-lohinet")["aligned_psnr"]
    for table in ("frames", "clips"):
        assert set(pd.read_parquet(out / f"{table}.parquet")["protocol"]) == {DEFAULT_PROTOCOL, "lsvd256-lohinet"}
    assert "protocol `lsvd256-lohinet` (version 1)" in (out / "LEADERBOARD.md").read_text()


def test_results_without_protocol_columns_are_the_official_protocol(tmp_path: Path) -> None:
    old = pd.DataFrame({"method": ["identity"], "split": ["test"], "metric": ["aligned_psnr"], "value": [20.0],
                        "n_clips": [1], "n_frames": [5], "higher_is_better": [True], "status": ["ok"],
                        "reason": [""], "data_manifest_id": ["m"], "flow": ["dis"], "toolkit_version": ["0"],
                        "git_commit": [""]})
    path = tmp_path / "leaderboard.parquet"
    old.to_parquet(path, index=False)
    read = with_protocol(pd.read_parquet(path))
    assert (read["protocol"].iloc[0], read["protocol_version"].iloc[0]) == LEGACY_PROTOCOL
    new = old.assign(value=30.0, protocol="lsvd256-lohinet", protocol_version="1")
    table = update_table(path, new, ["method", "split", "protocol", "metric"])
    assert sorted(zip(table["protocol"], table["value"], strict=True)) == [("lsvd256-lohinet", 30.0),
                                                                           (DEFAULT_PROTOCOL, 20.0)]
    again = update_table(path, old.assign(value=21.0, protocol=DEFAULT_PROTOCOL, protocol_version="1"),
                         ["method", "split", "protocol", "metric"])
    assert sorted(again["value"]) == [21.0, 30.0]  # the legacy row is the default protocol's: replaced
    assert "## split `test`" in render_markdown(old)


def test_frame_stride_scores_every_sth_frame() -> None:
    from benchmarks.evaluate import References, _frame_values
    from benchmarks.methods import Clip

    card = dataclasses.replace(load_protocol("paired-clean"),
                               metrics=(MetricSpec("ssim", "ssim", frame_stride=3),))
    metric = card.create_metric("ssim")
    frames = np.random.default_rng(0).integers(0, 255, (7, 16, 16, 3), dtype=np.uint8)
    clip = Clip(clip_id="c", lqs=frames, ps=frames[0], frame_numbers=np.arange(1, 8))
    values = _frame_values(metric, frames, clip, References(ps=frames[0], clean=frames[::-1]), None, None)
    assert [n for n, _ in values] == [1, 4, 7]
    assert card.value_key("ssim") != load_protocol("paired-clean").value_key("ssim")  # cache keys differ


def test_two_flows_never_share_a_column(lsvd_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["--method", "dcp", "--no-identity", "--root", str(lsvd_root), "--output", str(out), "--no-progress",
                 "--no-media", "--metrics", "aligned_psnr", "--flow", "dis"]) == 0
    before = (out / "leaderboard.parquet").read_bytes()
    capsys.readouterr()
    assert main(["--method", "clahe", "--no-identity", "--root", str(lsvd_root), "--output", str(out),
                 "--no-progress", "--no-media", "--metrics", "aligned_psnr", "--flow", "pwcnet"]) == 2
    err = capsys.readouterr().err
    assert "scored with flow dis (dcp)" in err and "--drop" in err
    assert (out / "leaderboard.parquet").read_bytes() == before  # refused before any work
    assert _run(lsvd_root, out, "--metrics", "aligned_psnr", "--protocol", "lsvd256-lohinet", "--flow", "dis") == 0
