"""Timing code on any device, one way: ``time_call``; and why a speed-up cannot or should not run here.

``time_call`` is ``torch.utils.benchmark.Timer`` with a clock that waits for the device (CUDA and MPS run
asynchronously: a clock read without waiting stops before the GPU is done) and with the threads torch uses
(``Timer`` pins one thread by default). Every timing in the package goes through it.
"""

from __future__ import annotations

import platform
import statistics
import time
from typing import Callable, Optional

import torch

from ..runtime import synchronize


def time_call(fn: Callable[[], object], *, device="cpu", warmup: int = 1, repeats: int = 5,
              max_seconds: Optional[float] = None) -> dict:
    """Median wall time of ``fn()`` over ``repeats`` timed calls, after ``warmup`` untimed ones.

    Warm-up calls pay one-off costs (memory allocation, kernel choice, lazy initialisation) that a served model
    pays once; the median ignores the odd hiccup of a busy machine.
    ``device``: where ``fn`` queues its work (the clock waits for it). At least one call is timed; ``max_seconds``
    stops timing early once this much time is spent (after at least 2 calls). Times are in seconds per call.
    """
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter()
    for _ in range(max(1, repeats)):
        synchronize(device)  # start on an idle device...
        begin = time.perf_counter()
        fn()
        synchronize(device)  # ...and stop when it is done
        times.append(time.perf_counter() - begin)
        if max_seconds is not None and len(times) >= 2 and time.perf_counter() - start > max_seconds:
            break
    return {"median_s": statistics.median(times), "times": times, "repeats": len(times)}


def fast_cpu_bf16() -> bool:
    """Whether oneDNN has bf16 kernels for this CPU (AVX-512 or AMX); without them bf16 is emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def skip_reason(amp: Optional[str], compile: bool, device, *, allow_slow: bool = False) -> Optional[str]:
    """Why a speed-up is not measured on ``device``, or None: it cannot run here, or (unless
    ``allow_slow``) it would take minutes or be slower than float32 here."""
    device = torch.device(device)
    if amp == "fp16" and device.type != "cuda":
        return "skipped: fp16 with a GradScaler needs CUDA"
    if allow_slow:
        return None
    if compile and device.type != "cuda":
        return "skipped by default off CUDA: compiling takes minutes on a CPU; ask for it by name"
    if amp == "bf16" and device.type == "cpu" and not fast_cpu_bf16():
        return "skipped by default: no bf16 instructions on this CPU (emulated: several times slower); ask by name"
    return None


def device_name(device) -> str:
    """A readable name of ``device``: the GPU's model, or the CPU and its threads."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    return device.type
