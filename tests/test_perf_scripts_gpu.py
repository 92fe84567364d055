"""The GPU measurement script runs in ``--quick`` (a smoke check of ``benchmarks/perf/gpu.py``; no timings checked).

Without CUDA it runs every section on the CPU; then every GPU-only figure must be ``null`` with the
reason "no CUDA device", and every ``null`` anywhere must be explained in its record's ``null_reasons``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch

from benchmarks.perf import gpu

SECTIONS = ("inference", "training", "correctness", "desmoke_video")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("perf-gpu") / "gpu.json"
    threads = torch.get_num_threads()
    figures = gpu.main(["--quick", "--out", str(out), "--threads", "1"])
    assert torch.get_num_threads() == threads  # restored
    doc = json.loads(out.read_text())
    assert doc["figures"] == json.loads(json.dumps(figures))  # what main returns is what it wrote
    return doc


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _walk(node: Any, path: str = "figures") -> list[str]:
    """Problems: a null without a reason in its record's ``null_reasons``, a skip without a reason."""
    problems = []
    if isinstance(node, dict):
        reasons = node.get("null_reasons", {})
        if "skipped" in node and not (isinstance(node["skipped"], str) and node["skipped"]):
            problems.append(f"{path}: 'skipped' without a reason")
        for key, value in node.items():
            if value is None and not (isinstance(reasons.get(key), str) and reasons[key]):
                problems.append(f"{path}.{key}: null without a reason")
            problems += _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for k, value in enumerate(node):
            problems += _walk(value, f"{path}[{k}]")
    return problems


def test_provenance_recorded(quick: dict[str, Any]) -> None:
    assert quick["name"] == "gpu"
    assert "benchmarks.perf.gpu" in quick["command"] and "--quick" in quick["command"]
    dev = quick["device"]
    assert dev["type"] in ("cpu", "cuda") and dev["name"] and dev["torch"] == torch.__version__
    assert "cuda" in dev and "cudnn" in dev  # None on a CPU-only build
    assert quick["versions"]["torch"] and quick["machine"]["cpu"] is not None and "git_commit" in quick
    assert quick["recorded_utc"] and quick["notes"]


def test_every_section_has_figures(quick: dict[str, Any]) -> None:
    fig = quick["figures"]
    assert set(SECTIONS) <= set(fig) and fig["quick"] is True
    assert _walk(fig) == []

    dis = fig["inference"]["dis"]["64x96"]
    assert set(dis) == {name for name, *_ in gpu.VARIANTS}
    for name, rec in dis.items():
        if "skipped" in rec:  # only a failed torch.compile may be skipped
            assert name.endswith("compiled")
            continue
        assert _number(rec["fps"]) and rec["fps"] > 0 and rec["calls"] >= 1, name
        assert "cuda_event_ms_per_call" in rec and "peak_memory_gib" in rec
    assert "pwcnet" in fig["inference"]  # measured, or skipped with the loader's message

    train = fig["training"]
    assert _number(train["it_per_s"]) and train["it_per_s"] > 0
    assert _number(train["flops_per_iteration"]) and train["flops_per_iteration"] > 0
    assert "mfu" in train and "peak_memory_gib" in train

    corr = fig["correctness"]
    assert corr["clip"]
    bf = corr["bf16_vs_fp32"]
    assert _number(bf["max_abs_diff"]) and (_number(bf["psnr_db"]) or bf["psnr_db"] is None)
    assert set(corr["cpu_vs_cuda_fp32"]) >= {"max_abs_diff", "psnr_db"}
    masks = corr["masks_dis"]
    assert masks["pairs"] == 3 and masks["all_identical"] is True and masks["compared"]
    assert "masks_pwcnet_cpu_vs_cuda" in corr

    video = fig["desmoke_video"]
    assert video["frames_out"] == 10 and _number(video["fps"]) and video["fps"] > 0
    assert set(video["stage_share"]) == {"decode", "model_build", "flows_masks", "model_network", "encode", "other"}
    assert all(_number(v) and v >= 0 for v in video["stage_share"].values())
    assert 0.98 <= sum(video["stage_share"].values()) <= 1.02


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only records")
def test_gpu_only_figures_null_without_cuda(quick: dict[str, Any]) -> None:
    fig = quick["figures"]
    for rec in fig["inference"]["dis"]["64x96"].values():
        if "skipped" not in rec:
            for key in ("cuda_event_ms_per_call", "peak_memory_gib"):
                assert rec[key] is None and rec["null_reasons"][key] == gpu.NO_CUDA
    for key in ("mfu", "peak_memory_gib"):
        assert fig["training"][key] is None and fig["training"]["null_reasons"][key] == gpu.NO_CUDA
    cpu_cuda = fig["correctness"]["cpu_vs_cuda_fp32"]
    assert cpu_cuda["psnr_db"] is None and cpu_cuda["null_reasons"]["psnr_db"] == gpu.NO_CUDA
    assert fig["correctness"]["masks_pwcnet_cpu_vs_cuda"]["skipped"]


def test_stage_hooks_restored(quick: dict[str, Any]) -> None:
    import lsvd.desmoke as ds
    import lsvd.inference as inf
    import lsvd.io.video as video
    from lsvd.models.selfsvd import SelfSVDNet

    assert ds._read_input.__name__ == "_read_input" and ds._masks.__name__ == "_masks"
    assert inf.desmoke_clip.__name__ == "desmoke_clip" and video.write_video.__name__ == "write_video"
    assert SelfSVDNet.compute_flows.__name__ == "compute_flows"

