"""The model speed script runs (a smoke check of ``benchmarks/perf/models.py``; no timings are checked)."""

from __future__ import annotations

import torch

from benchmarks.perf import models


def test_models_quick_runs() -> None:
    threads = torch.get_num_threads()
    figures = models.main(["--quick", "--presets", "tiny", "--no-record", "--threads", "1"])
    assert torch.get_num_threads() == threads  # restored
    tiny = figures["inference_cpu"]["tiny"]["256x256"]
    assert tiny["fps"] > 0 and tiny["calls"] >= 1 and 0 <= tiny["flow_share"] <= 1
    train = figures["training_cpu"]
    assert train["it_per_s"] > 0 and train["samples_per_s"] > 0
    assert set(train["breakdown_median_ms"]) >= {"generator_fwd_bwd_incl_its_flows", "alignment_flow"}
    if not torch.cuda.is_available():
        assert isinstance(figures["gpu"], str) and "no GPU figure" in figures["gpu"]


def test_peak_table() -> None:
    assert models.peak_bf16("NVIDIA H100 80GB HBM3") == 989e12
    assert models.peak_bf16("NVIDIA H100 PCIe") == 756e12
    assert models.peak_bf16("NVIDIA H200") == 989e12
    assert models.peak_bf16("NVIDIA A100-SXM4-80GB") == 312e12
    assert models.peak_bf16("NVIDIA GeForce RTX 4090") is None


def test_gpu_section_logic_on_cpu() -> None:
    """The GPU section's code path, run on the CPU at a toy size (float32; no CUDA calls)."""
    out = models.bench_gpu(torch.device("cpu"), preset="tiny", batch_size=1, crop=32, iters=1,
                           infer_hw=(32, 64), infer_s=0.0, amp_dtype=None)
    assert out["training"]["it_per_s"] > 0 and out["training"]["flops_per_iteration"] > 0
    assert out["training"]["mfu"] is None and out["inference"]["fps"] > 0
