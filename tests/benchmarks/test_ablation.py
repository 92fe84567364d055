"""benchmarks.ablation: mean ± std over seeds, floor counts, ranking, and the command's checks."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.ablation import main, render, summarise


def _table() -> pd.DataFrame:
    rows = []
    values = {"identity": ([20.0, 20.0, 20.0], [5.0, 5.0, 5.0]),
              "selfsvd": ([23.0, 24.0, 25.0], [4.0, 4.5, 5.5]),
              "selfsvd_no_gan": ([22.0, 22.0, 19.0], [4.0, 4.0, 4.0])}
    for method, (psnr, ciede) in values.items():
        for seed in range(3):
            rows.append({"method": method, "seed": seed, "metric": "psnr", "value": psnr[seed],
                         "higher_is_better": True})
            rows.append({"method": method, "seed": seed, "metric": "ciede2000", "value": ciede[seed],
                         "higher_is_better": False})
    return pd.DataFrame(rows)


def test_summary_mean_std_and_floor_counts() -> None:
    s = summarise(_table()).set_index(["method", "metric"])
    assert s.loc[("selfsvd", "psnr"), "mean"] == pytest.approx(24.0)
    assert s.loc[("selfsvd", "psnr"), "std"] == pytest.approx(1.0)  # sample std
    assert s.loc[("selfsvd", "psnr"), "beats_floor"] == 3
    assert s.loc[("selfsvd", "ciede2000"), "beats_floor"] == 2  # lower is better; 5.5 > 5.0 does not beat it
    assert s.loc[("selfsvd_no_gan", "psnr"), "beats_floor"] == 2
    assert s.loc[("identity", "psnr"), "n"] == 3


def test_render_ranks_by_first_metric_and_keeps_the_floor_last() -> None:
    text = render(_table(), ("psnr", "ciede2000"), "cpu")
    lines = [line for line in text.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in lines] == ["selfsvd", "selfsvd_no_gan", "identity"]
    assert "24 ± 1 (3/3)" in lines[0] and "psnr ↑" in text and "ciede2000 ↓" in text
    assert "(floor)" in lines[-1] and "/3)" not in lines[-1]
    assert "Preset `cpu`, 3 seed(s) (0, 1, 2)" in text


def test_bad_arguments_are_errors(capsys: pytest.CaptureFixture) -> None:
    assert main(["--seeds", "a,b"]) == 2
    assert "comma-separated integers" in capsys.readouterr().err
    assert main(["--methods", "selfsvd,nonsense", "--seeds", "0"]) == 2
    assert "nonsense" in capsys.readouterr().err


def test_ablation_end_to_end_on_the_tiny_root(tiny_synthetic_root, tmp_path, monkeypatch) -> None:
    """Two methods x two seeds with the tiny preset: one tidy row per (method, seed, metric), and a report."""
    from benchmarks.ablation import REPORT, TABLE, run_ablation

    monkeypatch.setenv("LSVD_HOME", str(tmp_path / "home"))
    out = tmp_path / "ablation"
    table = run_ablation(data=str(tiny_synthetic_root), methods=("selfsvd", "selfsvd_no_gan"), seeds=(0, 1),
                         preset="tiny", metrics=("psnr", "periodic_energy"), results=str(out), progress=False)
    assert len(table) == 3 * 2 * 2 and table["value"].notna().all()
    assert set(table["method"]) == {"identity", "selfsvd", "selfsvd_no_gan"}
    runs = sorted(p.name.split("-tiny-")[0] for p in (tmp_path / "home" / "runs").iterdir())
    assert runs == ["selfsvd", "selfsvd-seed1", "selfsvd_no_gan", "selfsvd_no_gan-seed1"]  # one run per seed
    home = tmp_path / "home" / "runs"
    from lsvd.train.checkpoint import last_checkpoint

    gens = [(last_checkpoint(next(home.glob(f"{label}-tiny-*"))) / "generator.safetensors").read_bytes()
            for label in ("selfsvd", "selfsvd-seed1")]
    assert gens[0] != gens[1]  # the seed reached the training (4 tiny iterations change no uint8 output)
    assert pd.read_parquet(out / TABLE).equals(table)
    assert "selfsvd_no_gan" in (out / REPORT).read_text() and (out / "seed1" / "LEADERBOARD.md").is_file()
