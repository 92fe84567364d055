"""``python -m benchmarks.run``: tables, aggregation, cache, failures, shards, CLI errors, automatic training."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baselines.learned.selfsvd import SelfSVD
from benchmarks import methods as methods_mod
from benchmarks.leaderboard import DEFAULT_METRICS, EFFICIENCY_METRICS
from benchmarks.run import main
from lsvd.data.manifest import Manifest

FAST = "aligned_psnr,brisque"  # one reference metric (flow alignment) + one no-reference metric: fast


def _run(root: Path, results: Path, *extra: str, checkpoint: Path | None = None) -> int:
    args = ["--root", str(root), "--output", str(results), "--no-progress", *extra]
    if checkpoint is not None:
        args = ["--method", "selfsvd", "--checkpoint", str(checkpoint), *args]
    return main(args)


def _board(results: Path) -> pd.DataFrame:
    return pd.read_parquet(results / "leaderboard.parquet")


def _row(board: pd.DataFrame, method: str, metric: str) -> pd.Series:
    hit = board[(board["method"] == method) & (board["metric"] == metric)]
    assert len(hit) == 1, f"expected one {method}/{metric} row, found {len(hit)}"
    return hit.iloc[0]


@pytest.fixture(scope="module")
def full_run(bench_root: Path, bench_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """identity + selfsvd with every default metric on the tiny test split."""
    out = tmp_path_factory.mktemp("bench-full")
    assert _run(bench_root, out, checkpoint=bench_run) == 0
    return out


@pytest.fixture
def count_desmoke(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts ``desmoke`` calls of identity and selfsvd (the real method still runs)."""
    calls = {"identity": 0, "selfsvd": 0}

    def wrap(cls, name):
        original = cls.desmoke

        def desmoke(self, clip):
            calls[name] += 1
            return original(self, clip)

        monkeypatch.setattr(cls, "desmoke", desmoke)

    wrap(methods_mod.METHODS.get("identity"), "identity")
    wrap(SelfSVD, "selfsvd")
    return calls


# --- 1. the tables ---------------------------------------------------------------------------------------------


def test_full_run_writes_every_table(full_run: Path, bench_run: Path, bench_root: Path):
    for name in ("leaderboard.parquet", "LEADERBOARD.md", "frames.parquet", "clips.parquet", "timing.parquet"):
        assert (full_run / name).is_file(), name
    board = _board(full_run)
    expected = {(m, k) for m in ("identity", "selfsvd") for k in (*DEFAULT_METRICS, *EFFICIENCY_METRICS)}
    assert set(zip(board["method"], board["metric"], strict=True)) == expected
    assert len(board) == len(expected)
    assert set(board["split"]) == {"test"}
    assert set(board["status"]) <= {"ok", "missing"}

    # pi needs pyiqa (absent): missing with a reason, NaN -- never 0
    for method in ("identity", "selfsvd"):
        pi = _row(board, method, "pi")
        assert pi["status"] == "missing"
        assert "pyiqa" in pi["reason"]
        assert math.isnan(pi["value"])
    # NIQE needs a 96x96 block; the tiny 64x96 frames have none: missing with the metric's own reason
    niqe = _row(board, "identity", "niqe")
    assert niqe["status"] == "missing" and "96x96" in niqe["reason"] and math.isnan(niqe["value"])
    # everything else has a finite value
    for metric in ("aligned_psnr", "aligned_ssim", "brisque", "piqe", "fade", "psnr", "ssim", "ciede2000",
                   "warp_error"):
        for method in ("identity", "selfsvd"):
            row = _row(board, method, metric)
            assert row["status"] == "ok", (method, metric, row["reason"])
            assert np.isfinite(row["value"]), (method, metric)
            assert row["n_clips"] == 2

    # direction
    assert bool(_row(board, "identity", "aligned_psnr")["higher_is_better"]) is True
    assert bool(_row(board, "identity", "aligned_ssim")["higher_is_better"]) is True
    assert bool(_row(board, "identity", "niqe")["higher_is_better"]) is False
    assert bool(_row(board, "identity", "brisque")["higher_is_better"]) is False
    assert bool(_row(board, "identity", "warp_error")["higher_is_better"]) is False
    assert _row(board, "identity", "psnr")["requires_reference"] == "clean"
    assert _row(board, "identity", "aligned_psnr")["requires_reference"] == "ps_frame"

    # provenance
    import lsvd

    manifest_id = Manifest.load(bench_root).info["manifest_id"]
    assert set(board["toolkit_version"]) == {lsvd.__version__}
    assert set(board["data_manifest_id"]) == {manifest_id}
    assert board["git_commit"].map(lambda s: isinstance(s, str)).all()
    assert set(board["flow"]) == {"dis"}
    assert set(board["seed"]) == {0}
    assert set(board["device"]) == {"cpu"}
    sha = board[board["method"] == "selfsvd"]["checkpoint_sha256"]
    assert sha.nunique() == 1 and len(sha.iloc[0]) == 64
    assert set(board[board["method"] == "identity"]["checkpoint_sha256"]) == {""}
    versions = json.loads(board["versions"].iloc[0])
    assert isinstance(versions, dict) and versions
    params = json.loads(_row(board, "selfsvd", "niqe")["metric_params"])
    assert params and params[0]["name"] == "niqe_pris_params.npz" and len(params[0]["sha256"]) == 64

    # model size: the tiny generator's trainable parameters; identity has none
    from lsvd.train.checkpoint import load_generator

    net, _ = load_generator(str(bench_run))
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert _row(board, "selfsvd", "params")["value"] == trainable
    assert _row(board, "selfsvd", "gmacs")["value"] > 0
    assert _row(board, "identity", "params")["value"] == 0

    timing = pd.read_parquet(full_run / "timing.parquet")
    assert set(timing["method"]) == {"identity", "selfsvd"}
    assert (timing["frames"] == 22).all() and (timing["fps"] > 0).all()

    md = (full_run / "LEADERBOARD.md").read_text()
    assert "`identity`" in md and "`selfsvd`" in md
    assert "aligned_psnr ↑" in md and "niqe ↓" in md


# --- 2. aggregation --------------------------------------------------------------------------------------------


def test_aggregation_clip_mean_frame_mean_and_clean_frames(full_run: Path, bench_root: Path):
    board = _board(full_run)
    frames = pd.read_parquet(full_run / "frames.parquet")
    clips = pd.read_parquet(full_run / "clips.parquet")
    for method in ("identity", "selfsvd"):
        f = frames[(frames["method"] == method)]
        # clip_mean: the mean of the per-clip means
        ap = f[f["metric"] == "aligned_psnr"]
        per_clip = ap.groupby("clip_id")["value"].mean()
        assert _row(board, method, "aligned_psnr")["value"] == pytest.approx(per_clip.mean(), rel=1e-12)
        assert _row(board, method, "aligned_psnr")["n_frames"] == len(ap) == 22
        c = clips[(clips["method"] == method) & (clips["metric"] == "aligned_psnr")]
        np.testing.assert_allclose(c.set_index("clip_id")["value"].sort_index(), per_clip.sort_index())
        # frame_mean (NIQE cannot score 64x96 frames; BRISQUE, PIQE and FADE aggregate the same way)
        for metric in ("brisque", "piqe", "fade"):
            values = f[f["metric"] == metric]["value"]
            assert _row(board, method, metric)["value"] == pytest.approx(values.mean(), rel=1e-12)

    # the two aggregations differ when the clips have different frame counts (psnr: 6 and 5 smoky frames)
    ps = frames[(frames["method"] == "identity") & (frames["metric"] == "psnr")]
    clip_mean, frame_mean = ps.groupby("clip_id")["value"].mean().mean(), ps["value"].mean()
    assert abs(clip_mean - frame_mean) > 1e-9
    assert _row(board, "identity", "psnr")["value"] == pytest.approx(clip_mean, rel=1e-12)
    # every no-reference metric has 11 frames per clip here, so check frame_mean on unequal clips directly
    from benchmarks.leaderboard import aggregate
    from benchmarks.metrics.base import get_metric

    info = {m: get_metric(m).describe() for m in ("niqe", "brisque", "aligned_psnr")}
    br = frames[(frames["method"] == "identity") & (frames["metric"] == "brisque")]
    uneven = br[(br["clip_id"] != br["clip_id"].iloc[0]) | (br["frame_number"] <= 3)]  # 3 + 11 frames
    for metric in ("niqe", "brisque", "aligned_psnr"):
        got = aggregate(uneven.assign(metric=metric), info).iloc[0]
        per_clip = uneven.groupby("clip_id")["value"].mean().mean()
        want = uneven["value"].mean() if metric != "aligned_psnr" else per_clip
        assert abs(uneven["value"].mean() - per_clip) > 1e-9
        assert got["value"] == pytest.approx(want, rel=1e-12), metric
        assert (got["n_clips"], got["n_frames"]) == (2, 14)

    # clean psnr scores only the frames from the smoke onset on
    manifest = Manifest.load(bench_root)
    expected = 0
    for clip_id in sorted(set(frames["clip_id"])):
        row = manifest.clip(clip_id)
        onset, ps_index, n = int(row["smoke_onset_index"]), int(row["ps_frame_index"]), int(row["n_frames"])
        smoky = [k for k in range(ps_index + 1, n) if k >= onset]
        assert 0 < len(smoky) < n - ps_index - 1
        numbers = ps[ps["clip_id"] == clip_id]["frame_number"]
        assert sorted(numbers) == smoky
        expected += len(smoky)
    psnr = _row(board, "identity", "psnr")
    assert psnr["n_frames"] == expected
    assert np.isfinite(psnr["value"]) and psnr["value"] > 0


# --- 3. the cache ----------------------------------------------------------------------------------------------


def test_cache_second_run_computes_nothing_and_same_bytes(bench_root: Path, bench_run: Path, tmp_path: Path,
                                                            count_desmoke: dict[str, int]):
    out = tmp_path / "a"
    assert _run(bench_root, out, "--metrics", FAST, checkpoint=bench_run) == 0
    assert count_desmoke == {"identity": 2, "selfsvd": 2}
    board_bytes = (out / "leaderboard.parquet").read_bytes()
    md_bytes = (out / "LEADERBOARD.md").read_bytes()

    count_desmoke.update(identity=0, selfsvd=0)
    assert _run(bench_root, out, "--metrics", FAST, checkpoint=bench_run) == 0
    assert count_desmoke == {"identity": 0, "selfsvd": 0}
    assert (out / "leaderboard.parquet").read_bytes() == board_bytes
    assert (out / "LEADERBOARD.md").read_bytes() == md_bytes

    # same inputs, fresh results folder: the same bytes (nothing time-dependent in the leaderboard)
    fresh = tmp_path / "b"
    assert _run(bench_root, fresh, "--metrics", FAST, checkpoint=bench_run) == 0
    assert (fresh / "leaderboard.parquet").read_bytes() == board_bytes

    # one more metric: only it is computed; the cache gains its rows, the other values stay
    cache_file = out / "cache" / "identity" / "test" / "synth_test_000.parquet"
    before = pd.read_parquet(cache_file)
    old = _board(out).set_index(["method", "metric"])["value"]
    count_desmoke.update(identity=0, selfsvd=0)
    assert _run(bench_root, out, "--metrics", FAST + ",piqe", checkpoint=bench_run) == 0
    assert count_desmoke == {"identity": 2, "selfsvd": 2}  # outputs are needed again, once per clip
    after = pd.read_parquet(cache_file)
    assert set(after["metric"]) == set(before["metric"]) | {"piqe"}
    assert len(after) == len(before) + 11
    kept = after[after["metric"] != "piqe"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, before.reset_index(drop=True))
    new = _board(out).set_index(["method", "metric"])["value"]
    pd.testing.assert_series_equal(new.loc[old.index], old)
    assert np.isfinite(new.loc[("identity", "piqe")])


# --- 4. failing methods ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["raises", "shape", "nan"])
def test_failing_method_is_recorded_not_cached(kind: str, bench_root: Path, tmp_path: Path):
    name = f"test_failing_{kind}"

    class Failing(methods_mod.Method):
        def __init__(self, **_):
            pass

        def desmoke(self, clip):
            if kind == "raises":
                raise RuntimeError("boom in desmoke")
            if kind == "shape":
                return clip.lqs[:, :32]
            return np.full(clip.lqs.shape, np.nan, np.float32)

    Failing.name = name
    methods_mod.METHODS.register(name)(Failing)
    try:
        out = tmp_path / "out"
        assert _run(bench_root, out, "--method", name, "--metrics", FAST) == 1
        board = _board(out)
        rows = board[board["method"] == name]
        assert set(rows["metric"]) == {"aligned_psnr", "brisque", *EFFICIENCY_METRICS}
        assert (rows["status"] == "failed").all()
        assert rows["value"].isna().all()
        why = {"raises": "boom in desmoke", "shape": "shape", "nan": "NaN"}[kind]
        assert rows["reason"].str.contains(why).all(), rows["reason"].tolist()
        for metric in ("aligned_psnr", "brisque"):
            row = _row(board, "identity", metric)
            assert row["status"] == "ok" and np.isfinite(row["value"])
        assert not (out / "cache" / name).exists()
        assert (out / "cache" / "identity").is_dir()
        md = (out / "LEADERBOARD.md").read_text()
        assert f"`{name}`" in md and "failed" in md
    finally:
        methods_mod.METHODS._entries.pop(name, None)


# --- 5. shards -------------------------------------------------------------------------------------------------


def test_shards_then_merge_equal_unsharded(bench_root: Path, bench_run: Path, tmp_path: Path,
                                          count_desmoke: dict[str, int]):
    metrics = ("--metrics", "aligned_psnr,brisque,warp_error")
    whole = tmp_path / "whole"
    assert _run(bench_root, whole, *metrics, checkpoint=bench_run) == 0
    sharded = tmp_path / "sharded"
    for index in (0, 1):
        assert _run(bench_root, sharded, *metrics, "--num-shards", "2", "--shard-index", str(index),
                    checkpoint=bench_run) == 0
        for method in ("identity", "selfsvd"):  # each shard scores its own clip only
            cached = sorted(p.stem for p in (sharded / "cache" / method / "test").glob("*.parquet"))
            assert cached == ["synth_test_000", "synth_test_001"][: index + 1]
    assert not (sharded / "leaderboard.parquet").exists()  # shards only fill the cache
    count_desmoke.update(identity=0, selfsvd=0)
    assert _run(bench_root, sharded, *metrics, "--merge", checkpoint=bench_run) == 0
    assert count_desmoke == {"identity": 0, "selfsvd": 0}  # merge computes nothing
    a, b = _board(whole), _board(sharded)
    cols = ["method", "split", "metric", "value", "n_clips", "n_frames", "status"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_merge_without_cache_fails_the_methods(bench_root: Path, bench_run: Path, tmp_path: Path):
    out = tmp_path / "empty"
    assert _run(bench_root, out, "--metrics", FAST, "--merge", checkpoint=bench_run) == 1
    board = _board(out)
    assert (board["status"] == "failed").all()
    assert board["reason"].str.contains("not in the cache").all()


def test_shard_index_out_of_range(bench_root: Path, tmp_path: Path, capsys):
    assert _run(bench_root, tmp_path, "--method", "identity", "--num-shards", "2", "--shard-index", "2") == 2
    assert "--shard-index" in capsys.readouterr().err


# --- 6. CLI errors and listings --------------------------------------------------------------------------------


def test_unknown_metric(bench_root: Path, tmp_path: Path, capsys):
    assert _run(bench_root, tmp_path, "--method", "identity", "--metrics", "foo") == 2
    err = capsys.readouterr().err
    assert "unknown metric 'foo'" in err and "niqe" in err  # the known names are listed
    assert _run(bench_root, tmp_path, "--method", "identity", "--metrics", "aligned_psnr,niq") == 2
    assert "did you mean niqe" in capsys.readouterr().err
    assert not (tmp_path / "leaderboard.parquet").exists()


def test_unprepared_data(tmp_path: Path, capsys):
    folder = tmp_path / "not-prepared"
    folder.mkdir()
    assert main(["--method", "identity", "--root", str(folder), "--output", str(tmp_path / "r"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "python -m lsvd.prepare" in err and str(folder) in err


def test_missing_checkpoint(bench_root: Path, tmp_path: Path, capsys):
    missing = tmp_path / "nope.safetensors"
    assert _run(bench_root, tmp_path / "r", checkpoint=missing) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and str(missing) in err


def test_no_method(capsys):
    assert main(["--no-progress"]) == 2
    assert "--method" in capsys.readouterr().err


def test_list_methods_and_metrics(capsys):
    assert main(["--list-methods"]) == 0
    out = capsys.readouterr().out
    names = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert {"identity", "selfsvd", "selfsvd_star"} <= names
    assert main(["--list-metrics"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert set(DEFAULT_METRICS) <= set(lines)
    assert "lower" in lines["niqe"] and "available" in lines["niqe"]
    assert "higher" in lines["aligned_psnr"]
    assert "missing" in lines["pi"]


# --- 7. automatic training -------------------------------------------------------------------------------------


def test_ensure_run_trains_once(bench_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import lsvd.train.loop as loop
    from lsvd.train.runs import default_run_dir, ensure_run

    monkeypatch.setenv("LSVD_HOME", str(tmp_path / "home"))
    real_train = loop.train
    calls = []

    def train(*args, **kwargs):
        if any(args[1] == c[1] for c in calls):
            raise AssertionError(f"{args[1]} trained twice")
        calls.append(args)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(loop, "train", train)
    manifest_id = Manifest.load(bench_root).info["manifest_id"]
    run = ensure_run("tiny", bench_root, label="selfsvd")
    assert run == tmp_path / "home" / "runs" / f"selfsvd-tiny-{manifest_id[:12]}"
    assert run == default_run_dir("selfsvd", "tiny", bench_root)
    assert len(calls) == 1 and (run / "config.toml").is_file()
    assert ensure_run("tiny", bench_root, label="selfsvd") == run
    assert len(calls) == 1
    # another label (an ablation) is another run
    other = ensure_run("tiny", bench_root, label="selfsvd_no_gan", overrides={"w_gan": 0.0})
    assert other != run and len(calls) == 2


# --- 8. the real clips -----------------------------------------------------------------------------------------


def test_real_clips_no_reference_metrics(real_clips: Path, tmp_path: Path):
    """Every real clip (7 videos, 350 frames at their own size): the four native no-reference metrics."""
    from lsvd.prepare import main as prepare

    root = tmp_path / "real"
    assert prepare(["--videos", str(real_clips / "Input"), "--root", str(root), "--no-progress",
                    "--split", "test"]) == 0
    n_clips = len(Manifest.load(root).clips)
    assert n_clips >= 1
    out = tmp_path / "out"
    assert main(["--method", "identity", "--metrics", "niqe,brisque,piqe,fade", "--root", str(root),
                 "--split", "all", "--output", str(out), "--no-progress"]) == 0
    board = _board(out)
    for metric in ("niqe", "brisque", "piqe", "fade"):
        row = _row(board, "identity", metric)
        assert row["status"] == "ok", row["reason"]
        assert np.isfinite(row["value"]) and row["value"] >= 0
        assert row["n_clips"] == n_clips
    frames = pd.read_parquet(out / "frames.parquet")
    assert np.isfinite(frames["value"]).all()
    assert frames["clip_id"].nunique() == n_clips


# --- 9. SelfSVD masks ------------------------------------------------------------------------------------------


@pytest.fixture
def root_without_masks(tmp_path: Path) -> Path:
    """The tiny synthetic root of :func:`bench_root`, prepared without ``--masks``."""
    from lsvd.prepare import prepare_synthetic

    root = tmp_path / "no-masks"
    prepare_synthetic(root, preset="tiny", progress=False)
    assert all(Manifest.load(root).frames["mask_path"].isna())
    return root


@pytest.fixture
def seen_masks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Per desmoke_clip call (selfsvd): whether it got a mask (None: PS features kept everywhere)."""
    import lsvd.inference

    seen: list[bool] = []
    original = lsvd.inference.desmoke_clip

    def desmoke_clip(model, lqs, ps, mask, **kw):
        seen.append(mask is not None)
        return original(model, lqs, ps, mask, **kw)

    monkeypatch.setattr(lsvd.inference, "desmoke_clip", desmoke_clip)
    return seen


def _methods_table(results: Path) -> pd.DataFrame:
    return pd.read_parquet(results / "methods.parquet").set_index("method")


def test_missing_masks_are_computed_first(root_without_masks: Path, bench_run: Path, tmp_path: Path,
                                          seen_masks: list[bool], capsys):
    out = tmp_path / "r"
    assert _run(root_without_masks, out, "--metrics", "brisque", "--no-media", checkpoint=bench_run) == 0
    err = capsys.readouterr().err  # the log (main() sets it up on stderr)
    assert "WARNING benchmarks.run" in err and "no SelfSVD masks" in err and "computing them into the dataset " \
        "root" in err and f"python -m lsvd.masks {root_without_masks}" in err
    manifest = Manifest.load(root_without_masks)
    clips = manifest.clips
    assert set(clips[clips["split"] == "test"]["mask_mode"]) == {"official"}  # the scored split (no training)
    assert all(manifest.resolve(p).is_file() for p in manifest.frames["mask_path"].dropna())
    assert seen_masks and all(seen_masks)
    assert _methods_table(out).loc["selfsvd", "masks"] == "used"
    board = _board(out)
    assert set(board["note"]) == {""}
    assert "Notes:" not in (out / "LEADERBOARD.md").read_text()


def test_no_masks_runs_without_them_and_says_so(root_without_masks: Path, bench_run: Path, tmp_path: Path,
                                                seen_masks: list[bool], capsys):
    out = tmp_path / "r"
    assert _run(root_without_masks, out, "--metrics", "brisque", "--no-media", "--no-masks",
                checkpoint=bench_run) == 0
    captured = capsys.readouterr()
    assert "WARNING benchmarks.run: --no-masks: selfsvd run(s) WITHOUT SelfSVD masks" in captured.err
    assert "note     selfsvd: ran WITHOUT SelfSVD masks" in captured.out  # the command's summary
    assert all(Manifest.load(root_without_masks).frames["mask_path"].isna())  # nothing computed
    assert seen_masks and not any(seen_masks)
    board = _board(out)
    assert board[board["method"] == "selfsvd"]["note"].str.contains("WITHOUT SelfSVD masks").all()
    assert set(board[board["method"] == "identity"]["note"]) == {""}
    md = (out / "LEADERBOARD.md").read_text()
    assert "Notes:" in md and "- `selfsvd`: ran WITHOUT SelfSVD masks" in md
    assert _methods_table(out).loc["selfsvd", "masks"].startswith("none")


def test_masks_that_cannot_be_computed_fail_clearly(root_without_masks: Path, bench_run: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch, capsys):
    import os

    import lsvd.masks.pipeline

    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) == root_without_masks
                        else real_access(p, mode, *a, **k))
    assert _run(root_without_masks, tmp_path / "r", "--metrics", "brisque", checkpoint=bench_run) == 2
    err = capsys.readouterr().err
    assert "not writable" in err and f"python -m lsvd.masks {root_without_masks}" in err and "--no-masks" in err
    monkeypatch.setattr(os, "access", real_access)

    def broken(*_, **__):
        raise OSError("No space left on device")

    monkeypatch.setattr(lsvd.masks.pipeline, "generate_masks", broken)
    assert _run(root_without_masks, tmp_path / "r", "--metrics", "brisque", checkpoint=bench_run) == 2
    err = capsys.readouterr().err
    assert "No space left" in err and "python -m lsvd.masks" in err and "--no-masks" in err
    assert not (tmp_path / "r" / "leaderboard.parquet").exists()
    # --no-masks cannot train SelfSVD here: its training hides the PS features under masks
    assert main(["--method", "selfsvd", "--root", str(root_without_masks), "--output", str(tmp_path / "r"),
                 "--no-masks", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--no-masks: selfsvd would train here" in err and "python -m lsvd.masks" in err and "--checkpoint" in err
    # methods that read no masks need none
    assert main(["--method", "dcp", "--root", str(root_without_masks), "--output", str(tmp_path / "r"),
                 "--metrics", "brisque", "--no-media", "--no-progress"]) == 0


# --- 10. the config: one path for the command line and Python, validated first, saved with the results ---------


def test_config_validation_names_every_problem_at_once(bench_root: Path, tmp_path: Path):
    from benchmarks.run import BenchmarkConfig, BenchmarkError

    good = BenchmarkConfig(methods=["dcp"], data=str(bench_root), results=str(tmp_path / "r"))
    assert good.validate() is good and good.method_specs == ["identity", "dcp"]
    bad = BenchmarkConfig(methods=["selfsv", f"external:{tmp_path / 'nowhere'}"], data=str(tmp_path),
                          metrics=["aligned_psnr", "niq"], split="a/b", device="gpu", flow="raft", num_shards=2,
                          shard_index=2, checkpoints={"dcp": str(tmp_path / "w.safetensors")},
                          results=str(tmp_path / "r"))
    with pytest.raises(BenchmarkError) as err:
        bad.validate()
    message = str(err.value)
    for expected in ("10 problems", "unknown method 'selfsv'; did you mean selfsvd", f"{tmp_path / 'nowhere'} is not "
                     "a folder", "did you mean niqe", "--split 'a/b'", "--device gpu", "--flow raft: expected one of",
                     "--shard-index 2", "--checkpoint dcp=", "dcp is not a method of this run", "does not exist",
                     f"--root {tmp_path}: not a prepared dataset root", "python -m lsvd.prepare"):
        assert expected in message, expected
    for config in (BenchmarkConfig(methods="dcp"), BenchmarkConfig(methods=[], identity=False),
                   BenchmarkConfig(methods=["dcp"], metrics=[]), BenchmarkConfig(methods=["dcp"], merge=True,
                                                                               num_shards=2)):
        with pytest.raises(BenchmarkError):
            config.validate()
    with pytest.raises(BenchmarkError, match="unknown benchmark option.*'metric' \\(did you mean metrics"):
        BenchmarkConfig.from_dict({"methods": ["dcp"], "metric": ["niqe"]})


def test_mistyped_method_exits_2_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    """The reported bug: ``--method selfsvd`` mistyped ran identity for minutes, then exited 1 with a failed row."""
    import benchmarks.run as run_mod

    def no_work(*_, **__):
        raise AssertionError("work started before the options were checked")

    for name in ("ensure_default_data", "_resolve", "_score"):  # no --data: the default data would be prepared
        monkeypatch.setattr(run_mod, name, no_work)
    monkeypatch.setattr(methods_mod, "create_method", no_work)
    fresh = tmp_path / "fresh"
    assert main(["--method", "selfsv", "--output", str(fresh), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'selfsv'" in err and "did you mean selfsvd" in err
    assert not fresh.exists()  # nothing written
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "leaderboard.parquet").write_bytes(b"kept as it is")
    assert main(["--method", "identity", "--method", f"external:{tmp_path / 'CycleGAN'}", "--output", str(earlier),
                 "--no-progress"]) == 2
    assert f"external:{tmp_path / 'CycleGAN'}: {tmp_path / 'CycleGAN'} is not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in earlier.iterdir()) == ["leaderboard.parquet"]
    assert (earlier / "leaderboard.parquet").read_bytes() == b"kept as it is"


def test_python_api_scores_the_identity_floor_as_the_command_does(bench_root: Path, tmp_path: Path):
    from benchmarks.run import BenchmarkConfig, build_parser, config_from_args, run_benchmark

    out = run_benchmark(["dcp"], data=str(bench_root), metrics=["brisque"], results=str(tmp_path / "api"),
                        media=False, progress=False)
    assert list(dict.fromkeys(out["board"]["method"])) == ["identity", "dcp"]
    assert set(_board(tmp_path / "api")["method"]) == {"identity", "dcp"}
    assert out["config"].method_specs == ["identity", "dcp"] and out["config"].data == str(bench_root)
    without = run_benchmark(BenchmarkConfig(methods=["dcp"], identity=False, data=str(bench_root), metrics=["brisque"],
                                            results=str(tmp_path / "bare"), media=False), progress=False)
    assert set(without["board"]["method"]) == {"dcp"}
    # the command line builds the same config: --no-identity is its identity field
    args = build_parser().parse_args(["--method", "dcp", "--no-identity", "--metrics", "brisque"])
    assert config_from_args(args) == BenchmarkConfig(methods=["dcp"], identity=False, metrics=["brisque"])
    assert config_from_args(build_parser().parse_args(["--method", "dcp"])) == BenchmarkConfig(methods=["dcp"])


def test_resolved_config_and_readme_are_saved_with_the_results(full_run: Path, bench_root: Path, bench_run: Path):
    import shlex

    from benchmarks.results import RESULTS_FORMAT_VERSION, TABLES
    from benchmarks.run import BenchmarkConfig, build_parser, config_from_args

    info = json.loads((full_run / "benchmark.json").read_text())
    assert info["format_version"] == RESULTS_FORMAT_VERSION
    run_id = info["rows"]["test"]["selfsvd"]
    assert info["rows"] == {"test": {"identity": run_id, "selfsvd": run_id}} and list(info["runs"]) == [run_id]
    config = BenchmarkConfig.from_dict(info["runs"][run_id]["config"])
    assert config == BenchmarkConfig(methods=["selfsvd"], data=str(bench_root), checkpoints={"selfsvd": str(bench_run)},
                                     results=str(full_run), device="cpu")  # --device auto, recorded as resolved
    assert config.metrics == list(DEFAULT_METRICS)  # resolved: the names scored, not None
    command = shlex.split(info["runs"][run_id]["command"])
    assert command[:3] == ["python", "-m", "benchmarks.run"]
    assert config_from_args(build_parser().parse_args(command[3:])) == config  # the command runs it again
    readme = (full_run / "README.md").read_text()
    for name in [spec.file for spec in TABLES.values()] + ["LEADERBOARD.md", "benchmark.json", "media/", "runs/",
                                                           "cache/", "report/", "--drop"]:
        assert f"`{name}" in readme or name in readme, name
    assert info["runs"][run_id]["command"] in readme and f"results format {RESULTS_FORMAT_VERSION}" in readme


def test_the_trained_weights_are_found_from_the_results(full_run: Path, bench_run: Path, tmp_path: Path, capsys,
                                                       monkeypatch):
    from benchmarks.results import CHECKPOINT_POINTER
    from lsvd.desmoke import main as desmoke_main
    from lsvd.io.hashing import file_sha256
    from lsvd.train.checkpoint import POINTER_FILE, resolve_generator_file
    from tests.conftest import make_video

    assert CHECKPOINT_POINTER == POINTER_FILE
    pointer = full_run / "runs" / "selfsvd" / CHECKPOINT_POINTER
    data = json.loads(pointer.read_text())
    weights = resolve_generator_file(bench_run)
    assert Path(data["checkpoint"]) == weights.resolve() and data["sha256"] == file_sha256(weights)
    assert resolve_generator_file(pointer.parent) == weights.resolve()  # the folder works as --checkpoint
    video = make_video(tmp_path / "v.mp4", n=12, size=(64, 96))
    args = [str(video), "-o", str(tmp_path / "out"), "--no-progress", "--mask", "none", "--device", "cpu"]
    assert desmoke_main([*args, "--checkpoint", str(pointer.parent)]) == 0
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps({**data, "sha256": "0" * 64}))
    assert desmoke_main([*args, "--checkpoint", str(tampered)]) == 2
    assert "has changed since it was scored" in capsys.readouterr().err
    # the method's name, from the folder a benchmark wrote ./results in; a name with no such run is refused
    (tmp_path / "results" / "runs").mkdir(parents=True)
    shutil.copytree(pointer.parent, tmp_path / "results" / "runs" / "selfsvd")
    monkeypatch.chdir(tmp_path)
    assert desmoke_main([*args, "-o", str(tmp_path / "by-name"), "--checkpoint", "selfsvd", "-v"]) == 0
    assert (tmp_path / "by-name").is_dir()
    assert desmoke_main([*args, "-o", str(tmp_path / "none"), "--checkpoint", "unet"]) == 2
    err = capsys.readouterr().err
    assert "--checkpoint unet" in err and "benchmarked there: selfsvd" in err and "benchmarks.run --method unet" in err
