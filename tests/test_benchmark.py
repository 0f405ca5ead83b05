"""Tests for transfer_lessons.benchmark: FLOPs, latency, memory, catalog rows, the Pareto front."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import tiny_net
from torch import nn

import transfer_lessons as tl
from transfer_lessons.speed import best_under_budget, count_flops, measure_latency, pareto_front, peak_memory_mb


def test_count_flops_counts_a_multiply_add_as_two():
    conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False))
    expected = 2 * 8 * 16 * 16 * 3 * 3 * 3  # 2 x (outputs x multiply-adds per output)
    assert count_flops(conv, 16) == expected, f"{count_flops(conv, 16)} != {expected}"


@pytest.mark.timeout(60)
def test_measure_latency_reports_consistent_numbers():
    row = measure_latency(tiny_net(), 16, batch_size=4, repeats=3)
    assert row["batch_size"] == 4 and row["repeats"] == 3
    assert row["ms_per_batch"] > 0 and row["ms_per_image"] == pytest.approx(row["ms_per_batch"] / 4)
    assert row["images_per_s"] == pytest.approx(1000 / row["ms_per_image"])


def test_measure_latency_stops_at_max_seconds():
    row = measure_latency(tiny_net(), 16, repeats=10_000, warmup=0, max_seconds=0.0)
    assert row["repeats"] == 2, f"{row['repeats']} timed runs, expected 2 (the minimum)"


def test_peak_memory_is_a_size_or_an_honest_none():
    memory, method = peak_memory_mb(tiny_net(), 64, batch_size=8)
    assert isinstance(method, str) and method
    assert memory is None or memory >= 0, memory
    assert (memory is None) == method.startswith("not measurable"), (memory, method)
    if not os.access("/proc/self/clear_refs", os.W_OK) or not Path("/proc/self/status").exists():
        pytest.skip(f"no Linux /proc peak-RSS reset here: measured by {method!r}, which may honestly read 0 or None")
    assert method == "peak RSS rise (Linux /proc)", method
    # the first convolution's output alone is 8 x 8 x 64 x 64 float32 = 1 MiB of new memory, written during the pass
    activation_mib = 8 * 8 * 64 * 64 * 4 / 2**20
    assert memory >= activation_mib / 2, f"{memory} MiB: a forward pass must raise the peak resident set"


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", tl.list_backbones())
def test_describe_backbone_agrees_with_its_card(name, isolated_assets):
    row = tl.speed.describe_backbone(name)
    card = tl.get_card(name)
    assert row["params_m"] == pytest.approx(card.params_m, rel=0.02), f"{row['params_m']} M != card {card.params_m} M"
    assert row["gflops"] > 0 and row["input_size"] == card.input_size
    assert row["weights"] is (card.offline), f"offline, {name} weights available: {row['weights']}"


@pytest.mark.timeout(120)
def test_benchmark_backbone_row(isolated_assets):
    row = tl.speed.benchmark_backbone(tl.create_backbone("efficientnet_lite0", pretrained=False), 64,
                                tl.get_profile("smoke"))
    assert set(row) == {"latency_ms", "images_per_s", "peak_mem_mb", "mem_method", "repeats"}
    assert row["latency_ms"] > 0 and row["images_per_s"] > 0 and row["repeats"] == 2


def test_pareto_front_drops_dominated_points():
    points = {"a": (1, 0.8), "b": (2, 0.9), "c": (3, 0.85), "d": (2, 0.9), "e": (0.5, 0.5)}
    assert pareto_front(points) == ["e", "a", "b", "d"], pareto_front(points)  # equal points both survive
    assert pareto_front({}) == []


def test_best_under_budget():
    points = {"a": (1, 0.8), "b": (2, 0.9), "c": (1.5, 0.9)}
    assert best_under_budget(points, 1.0) == "a"
    assert best_under_budget(points, 5.0) == "c", "a tie in score goes to the cheaper one"
    assert best_under_budget(points, 0.1) is None
