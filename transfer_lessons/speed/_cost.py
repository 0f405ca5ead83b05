"""Inference cost on this machine: FLOPs, latency, throughput, peak memory; the accuracy-cost Pareto front.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode``: a multiply-add is 2 FLOPs (papers quoting
"FLOPs" often mean multiply-adds, half as many). Timings are ``time_call``'s.
"""

from __future__ import annotations

import ctypes
import gc
import re
import resource
import statistics
import sys
from pathlib import Path
from typing import Mapping, Optional

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..assets import weights_status
from ..models import count_parameters, create_backbone, get_card
from ..runtime import pick_device, synchronize
from ._timing import time_call


def _input(model: nn.Module, input_size: int, batch_size: int) -> torch.Tensor:
    device = next(model.parameters()).device
    # channels-last: oneDNN's depthwise convolutions on CPUs run about twice as fast in this layout
    x = torch.randn(batch_size, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))
    return x.to(device).contiguous(memory_format=torch.channels_last)


def count_flops(model: nn.Module, input_size: int) -> int:
    """FLOPs of one forward pass on one ``input_size`` x ``input_size`` image (a multiply-add = 2).

    Example: ``count_flops(create_backbone("efficientnet_lite0", pretrained=False), 224) / 1e9  # 0.80...``
    """
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(_input(model, input_size, 1))
    return int(counter.get_total_flops())


def measure_latency(model: nn.Module, input_size: int, batch_size: int = 1, repeats: int = 10,
                    warmup: int = 2, max_seconds: float = 5.0) -> dict:
    """Median wall time of a forward pass in inference mode, after ``warmup`` untimed passes.

    The model must already be on its device. ``batch_size``: 1 measures latency, larger throughput.
    ``max_seconds``: stop timing early once this much time is spent (at least 2 passes are timed).
    """
    device = next(model.parameters()).device
    model.eval().to(memory_format=torch.channels_last)
    x = _input(model, input_size, batch_size)

    def forward():
        with torch.inference_mode():
            model(x)

    timed = time_call(forward, device=device, warmup=warmup, repeats=repeats, max_seconds=max_seconds)
    ms = 1000 * timed["median_s"]
    return {"batch_size": batch_size, "repeats": timed["repeats"], "ms_per_batch": ms,
            "ms_per_image": ms / batch_size, "images_per_s": 1000 * batch_size / ms}


def _proc_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+)", text, re.M).group(1))


def _release_freed_memory() -> None:
    """Hand freed heap memory back to the OS (glibc), so a later peak counts new memory only."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the measured rise may then be too small


@torch.inference_mode()
def peak_memory_mb(model: nn.Module, input_size: int, batch_size: int = 1) -> tuple[Optional[float], str]:
    """Extra memory at the peak of one forward pass (activations, workspace; not the weights), MiB.

    On CUDA: ``torch.cuda.max_memory_allocated`` minus what was allocated before. On Linux CPUs: the peak
    resident set (``VmHWM``, reset first) minus the resident set before. Elsewhere: the rise of ``ru_maxrss``,
    which stays 0 (reported as None) when the process already peaked higher earlier.
    Returns: ``(MiB or None, method)``, e.g. ``(212.4, 'peak RSS rise (Linux /proc)')``.
    """
    device = next(model.parameters()).device
    model.eval()
    x = _input(model, input_size, batch_size)
    if device.type == "cuda":
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        model(x)
        synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20, "torch.cuda.max_memory_allocated"
    _release_freed_memory()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        before = _proc_kib("VmRSS")
        model(x)
        return (_proc_kib("VmHWM") - before) / 1024, "peak RSS rise (Linux /proc)"
    except (OSError, AttributeError):
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model(x)
    rise = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * scale / 2**20
    return (rise, "ru_maxrss rise") if rise > 0 else (None, "not measurable: process peaked earlier")


def describe_backbone(name: str) -> dict:
    """A catalog row: parameters and GFLOPs counted on a randomly initialised copy, plus card facts.

    Counting needs no weights (random ones have the same shapes), so every catalog backbone gets a row, even offline.
    """
    card = get_card(name)
    model = create_backbone(name, pretrained=False)
    return {"name": name, "input_size": card.input_size, "params_m": count_parameters(model) / 1e6,
            "gflops": count_flops(model, card.input_size) / 1e9, "imagenet_top1": card.imagenet_top1,
            "license": card.license, "weights": weights_status(name)["available"]}


def benchmark_backbone(model: nn.Module, input_size: int, profile) -> dict:
    """Latency at batch 1, throughput at ``profile.batch_size`` (``profile.bench_repeats`` timed passes each) and
    peak memory of ``model`` on its device."""
    memory, method = peak_memory_mb(model, input_size, profile.batch_size)  # before timing's buffers
    single = measure_latency(model, input_size, 1, profile.bench_repeats)
    batch = measure_latency(model, input_size, profile.batch_size, profile.bench_repeats, warmup=1)
    return {"latency_ms": single["ms_per_batch"], "images_per_s": batch["images_per_s"],
            "peak_mem_mb": memory, "mem_method": method, "repeats": single["repeats"]}


def pareto_front(points: Mapping[str, tuple[float, float]]) -> list[str]:
    """Names of the points no other point beats on both cost (lower) and score (higher).

    ``points``: name → ``(cost, score)``, e.g. ``(latency_ms, accuracy)``; the names come cheapest first.
    Example: ``pareto_front({"a": (1, 0.8), "b": (2, 0.9), "c": (3, 0.85)})  # ['a', 'b']``
    """
    def dominated(name):
        cost, score = points[name]
        return any(c <= cost and s >= score and (c, s) != (cost, score) for c, s in points.values())

    return sorted((n for n in points if not dominated(n)), key=lambda n: points[n])


def best_under_budget(points: Mapping[str, tuple[float, float]], budget: float) -> Optional[str]:
    """The highest-scoring name whose cost is within ``budget`` (cheaper wins a tie), or None."""
    within = [n for n, (cost, _) in points.items() if cost <= budget]
    return max(within, key=lambda n: (points[n][1], -points[n][0]), default=None)


@torch.inference_mode()
def detector_latency(model, images, device=None, *, warmup: int = 2) -> float:
    """Median milliseconds to detect in one image (batch 1, eval mode), over ``images``.

    Each image (a CHW tensor) is timed on its own (``time_call``), after ``warmup`` untimed passes, so the number
    includes the detector's own resizing and box post-processing, as in deployment.
    """
    device = pick_device(device)
    model.eval().to(device)
    images = [image.to(device) for image in images]
    if not images:
        raise ValueError("detector_latency: no images given.")
    for image in images[:warmup]:
        model([image])
    times = [time_call(lambda i=image: model([i]), device=device, warmup=0, repeats=1)["median_s"]
             for image in images]
    return 1000 * statistics.median(times)
