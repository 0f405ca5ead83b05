"""Tests for transfer_lessons.speed and ``python -m transfer_lessons bench``: rows, ratio, JSON, skips."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from transfer_lessons.course import main
from transfer_lessons.errors import UnknownName
from transfer_lessons.speed import VARIANTS, bare_train_loop, bench_training, format_bench
from transfer_lessons.training import train_one_epoch

pytestmark = pytest.mark.usefixtures("one_thread")
ROW_KEYS = {"variant", "package_images_per_s", "bare_images_per_s", "ratio", "speedup", "achieved_tflops", "mfu",
            "note"}


def tiny():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 2))


def test_bare_loop_trains_exactly_like_the_package_loop():
    def run(loop):
        torch.manual_seed(0)
        model = tiny()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        batches = [(torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(i)), torch.tensor([0, 1, 0, 1]))
                   for i in range(3)]
        loop(model, batches, optimizer, nn.CrossEntropyLoss())
        return model.state_dict()

    bare = run(bare_train_loop)
    package = run(lambda *args: train_one_epoch(*args, "cpu", progress=False))
    for name in bare:
        torch.testing.assert_close(package[name], bare[name], msg=lambda m: f"{name}: {m}")


def test_the_package_loop_reads_its_metrics_before_the_step(monkeypatch):
    """One wait for the GPU per step: the accuracy (and loss) are read right after the forward
    pass, so backward and step are queued without a second wait after them."""
    from transfer_lessons.evaluation import accuracy as real_accuracy
    from transfer_lessons.training import _loop

    events = []

    def accuracy(logits, targets):
        events.append("read")
        return real_accuracy(logits, targets)

    monkeypatch.setattr(_loop, "accuracy", accuracy)
    model = tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.register_step_post_hook(lambda *args: events.append("step"))
    train_one_epoch(model, [(torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 0, 1]))] * 3, optimizer,
                    nn.CrossEntropyLoss(), "cpu", progress=False)
    assert events == ["read", "step"] * 3, events


@pytest.mark.timeout(60)
def test_bench_rows_ratio_and_default_skips():
    result = bench_training(tiny, batch=4, size=16, steps=3, repeats=3, device="cpu")
    assert [row["variant"] for row in result["rows"]] == list(VARIANTS)
    assert all(set(row) == ROW_KEYS for row in result["rows"])
    rows = {row["variant"]: row for row in result["rows"]}
    for name in ("fp32", "channels_last"):
        row = rows[name]
        assert row["package_images_per_s"] > 0 and row["bare_images_per_s"] > 0 and row["note"] == ""
        assert row["ratio"] == pytest.approx(row["package_images_per_s"] / row["bare_images_per_s"])
        assert 0 < row["mfu"] <= 1 and row["achieved_tflops"] > 0
    assert rows["fp32"]["speedup"] == 1.0
    assert "needs CUDA" in rows["fp16_channels_last"]["note"] and rows["fp16_channels_last"]["ratio"] is None
    assert "ask for it by name" in rows["channels_last_compile"]["note"], "compiling on a CPU is opt-in"
    assert result["min_ratio"] == min(r["ratio"] for r in result["rows"] if r["ratio"] is not None)
    # no speed bound here: a 16-pixel conv net steps in microseconds, so fixed per-call costs and a busy machine
    # decide its ratio (0.66 to 0.91 while another process loaded both cores); the documented 0.95 bound is held on
    # a real backbone in test_the_package_loop_keeps_the_documented_speed
    assert result["train_flops_per_image"] > 0 and result["peak_flops"] > 0
    assert set(result["versions"]) >= {"python", "torch", "timm"}
    table = format_bench(result)
    for part in ("device: cpu", "torch", "package/bare", "mfu", "lowest package/bare ratio", *VARIANTS):
        assert part in table, f"{part!r} not in the table:\n{table}"


@pytest.mark.timing
@pytest.mark.timeout(180)
def test_the_package_loop_keeps_the_documented_speed():
    """README and speed/_bench.py: the package's loop stays at 0.95x the bare loop's throughput or better. Held on
    efficientnet_lite0 (randomly initialised), whose step is dominated by its ~200 layers' kernels as in a real run,
    at 48 px so it fits a test: one step per timed call, 7 calls per loop, the loops taking turns, medians compared.
    Timings on a shared 2-core machine are noisy (package/bare between 0.82 and 1.04 here while another process
    loaded both cores); a loop that is really slower fails both of two independent measurements, a hiccup one."""
    def measure():
        return bench_training("efficientnet_lite0", batch=8, size=48, steps=1, repeats=7, warmup=1, device="cpu",
                              variants=["fp32", "channels_last"])

    results = [measure()]
    if results[0]["min_ratio"] < 0.95:
        results.append(measure())
    for result in results:
        assert [row["variant"] for row in result["rows"]] == ["fp32", "channels_last"]
        assert all(row["note"] == "" and row["ratio"] > 0 for row in result["rows"]), result["rows"]
    ratios = [{row["variant"]: round(row["ratio"], 3) for row in result["rows"]} for result in results]
    assert results[-1]["min_ratio"] >= 0.95, f"package/bare throughput, per measurement: {ratios}"


def test_time_call_calls_fn_warmup_plus_repeats_times():
    from transfer_lessons.speed import time_call

    calls = []
    result = time_call(lambda: calls.append(1), warmup=1, repeats=3)
    assert result["repeats"] == len(result["times"]) == 3
    assert len(calls) == 1 + 3, f"{len(calls)} calls for 1 untimed and 3 timed ones"


@pytest.mark.timeout(60)
def test_named_variants_run_and_unknown_ones_are_refused():
    result = bench_training(tiny, batch=4, size=16, steps=1, repeats=1, device="cpu", variants=["bf16"])
    (row,) = result["rows"]
    assert row["variant"] == "bf16" and row["ratio"] > 0, "a variant asked for by name runs, even if slow here"
    assert row["speedup"] is None, "no fp32 row, no speed-up"
    with pytest.raises(UnknownName, match="Did you mean 'fp32'"):
        bench_training(tiny, variants=["fp23"])


@pytest.mark.timeout(60)
def test_a_failing_torch_compile_is_a_note_not_a_crash(monkeypatch):
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("Compiler: cc not found\nmore detail")

    monkeypatch.setattr(torch, "compile", lambda model: Broken())
    result = bench_training(tiny, batch=4, size=16, steps=1, repeats=1, device="cpu",
                            variants=["fp32", "channels_last_compile"])
    compiled = result["rows"][1]
    assert compiled["ratio"] is None and compiled["mfu"] is None
    assert compiled["note"] == "skipped: torch.compile failed (RuntimeError: Compiler: cc not found)"
    assert result["min_ratio"] == result["rows"][0]["ratio"]


@pytest.mark.timeout(120)
def test_bench_command_prints_the_table_and_writes_json(tmp_path, capsys, isolated_assets):
    out = tmp_path / "bench" / "result.json"
    code = main(["bench", "--size", "32", "--batch", "2", "--steps", "1", "--repeats", "1", "--variants", "fp32",
                 "channels_last", "--device", "cpu", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "efficientnet_lite0: batch 2, 32 px" in printed and "package/bare" in printed
    saved = json.loads(out.read_text())
    assert [row["variant"] for row in saved["rows"]] == ["fp32", "channels_last"]
    assert saved["rows"][1]["ratio"] > 0 and saved["backbone"] == "efficientnet_lite0" and saved["device"] == "cpu"
    assert main(["bench", "--backbone", "efficientnet_lite"]) == 2
    err = capsys.readouterr().err
    assert "Unknown backbone 'efficientnet_lite'" in err and len(err.strip().splitlines()) == 1, err
