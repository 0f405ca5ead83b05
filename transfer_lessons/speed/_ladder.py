"""Speed-ups of a real fine-tuning run, measured one change at a time on this machine.

``speed_ladder`` times the training loop (``train_one_epoch``) fed by a real ``DataLoader``, so data loading
counts, as images per second over ``steps`` batches after ``warmup`` untimed ones (the first steps pay for
memory allocation, kernel choice, worker start-up, compilation). Every rung is the cached-data setting plus one
change, so each speed-up is that change's alone. A last row, ``combined``, puts together every change that was
faster than the cached data. A rung that cannot run here, or would take minutes, is skipped with the reason:

==============  ====================================================================================
baseline        every image decoded from its JPEG at every access (``DecodingImageDataset``, what
                torchvision's ``ImageFolder`` does), no worker processes, NCHW layout, fp32, eager
cached_data     images decoded once and kept in memory (``data.DecodedImageCache``)
workers         ``workers`` DataLoader processes prepare batches while the model trains (pinned
                memory on CUDA, for asynchronous copies)
channels_last   NHWC memory layout for the model and its inputs
bf16            autocast to bfloat16 (skipped on CPUs without bf16 instructions: emulated, slower)
fp16            autocast to float16 with a GradScaler (CUDA only)
compile         ``torch.compile`` (only when asked: compiling takes minutes on a CPU)
batch_size      twice the images per step
==============  ====================================================================================

Where the time goes decides which rungs help: decoding a JPEG costs a few milliseconds of one CPU core, so
caching pays most when the model's step is cheap (a frozen backbone, a GPU).
"""

from __future__ import annotations

import itertools
import os
from typing import Callable, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..data import CachedImageDataset, DecodingImageDataset
from ..errors import UnknownName
from ..runtime import pick_device, seed_everything
from ..training import AMP_DTYPES, train_one_epoch
from ._timing import skip_reason

# rung -> (what it changes, the setting it changes from the cached data's); measured in this order.
LADDER = {
    "baseline": ("JPEG decoded at every access, 0 workers, NCHW, fp32, eager", {"cached": False}),
    "cached_data": ("decoded-image cache", {}),
    "workers": ("DataLoader worker processes", {"workers": None}),
    "channels_last": ("channels-last memory layout", {"channels_last": True}),
    "bf16": ("bfloat16 autocast", {"amp": "bf16"}),
    "fp16": ("float16 autocast + GradScaler", {"amp": "fp16"}),
    "compile": ("torch.compile", {"compile": True}),
    "batch_size": ("twice the batch", {"batch_factor": 2}),
}


_CACHED = {"cached": True, "workers": 0, "channels_last": False, "amp": None, "compile": False, "batch_factor": 1}


def measure_throughput(model: nn.Module, batches, optimizer, loss_fn, device, *, steps: int, warmup: int = 1,
                       **train_kwargs) -> float:
    """Training images per second of ``train_one_epoch`` over ``steps`` batches, after ``warmup`` untimed ones.

    ``batches``: an iterator of ``(images, targets)``, e.g. ``iter(loader)``; it is read on, not restarted, so the
    timed steps include loading their batches. The other arguments go to ``train_one_epoch`` (the model already on
    ``device``); the clock waits for the device at both ends. Raises ValueError: ``steps`` is below 1.
    """
    if steps < 1:
        raise ValueError(f"measure_throughput: steps must be at least 1, got {steps}.")
    run = dict(progress=False, **train_kwargs)
    if warmup > 0:
        train_one_epoch(model, itertools.islice(batches, warmup), optimizer, loss_fn, device, **run)
    return train_one_epoch(model, itertools.islice(batches, steps), optimizer, loss_fn, device, **run)["images_per_s"]


def _measure(make_model, dataset, setting, device, batch_size, steps, warmup, lr, bn_mode) -> float:
    seed_everything(0)
    layout = torch.channels_last if setting["channels_last"] else torch.preserve_format
    model = make_model().to(device, memory_format=layout)
    runner = torch.compile(model) if setting["compile"] else model
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    source = dataset if setting["cached"] else DecodingImageDataset(dataset)
    workers = setting["workers"]
    loader = DataLoader(source, batch_size=batch_size * setting["batch_factor"], shuffle=True, drop_last=True,
                        num_workers=workers, persistent_workers=workers > 0, pin_memory=device.type == "cuda",
                        generator=torch.Generator().manual_seed(0))
    scaler = torch.amp.GradScaler("cuda") if setting["amp"] == "fp16" else None
    batches = (batch for _epoch in itertools.count() for batch in loader)  # one epoch after another, without end
    try:
        return measure_throughput(runner, batches, optimizer, nn.CrossEntropyLoss(), device, steps=steps,
                                  warmup=warmup, channels_last=setting["channels_last"],
                                  amp_dtype=AMP_DTYPES.get(setting["amp"]), scaler=scaler, bn_mode=bn_mode)
    finally:
        batches.close()  # ends the loader's pass: its worker processes exit now, not at garbage collection


def _combined(rows: list[dict]) -> Optional[dict]:
    """The cached-data setting with every change that was faster than it (the faster of bf16 and fp16), or None
    when fewer than two changes helped (nothing to combine)."""
    helped = sorted((r for r in rows if r["helped"]), key=lambda r: r["images_per_s"])  # the faster one wins
    if len(helped) < 2:
        return None
    setting = dict(_CACHED)
    for row in helped:
        setting.update({k: v for k, v in row["setting"].items() if v != _CACHED[k]})
    return setting


def speed_ladder(make_model: Callable[[], nn.Module], dataset: CachedImageDataset, *, batch_size: int, steps: int,
                 warmup: int = 1, device=None, workers: Optional[int] = None, compile: bool = False,
                 lr: float = 1e-3, bn_mode: str = "frozen", rungs=None, progress: bool = True) -> list[dict]:
    """Training throughput on real data, one change at a time, then every change that helped, together.

    Args:
        make_model: returns a fresh model whose trainable parameters are set (e.g. a linear probe:
            ``apply_strategy(model, get_strategy("linear_probe"))``); called once per rung.
        dataset: the training images, from ``load_classification``. batch_size: the ``batch_size`` rung doubles it.
        steps, warmup: timed and untimed steps per rung (see ``measure_throughput``).
        workers: DataLoader processes of the ``workers`` rung (None: the CPU count, at most 4).
        compile: measure the ``compile`` rung (minutes of compiling on a CPU). progress: print one line per rung.
        lr: AdamW learning rate of the timed steps (speed does not depend on it). bn_mode: ``"frozen"`` for a probe.
        rungs: names from ``LADDER`` to run, in its order (None: all); ``baseline`` and ``cached_data`` always run.
    Returns: One dict per rung, then ``combined`` when two or more changes helped; ``speedup`` is over the
        baseline, ``helped`` says whether the change was faster than the cached data alone, ``images_per_s`` is
        None where skipped.
    """
    device = pick_device(device)
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    for name in rungs or ():  # before minutes of timing, not after
        if name not in LADDER:
            raise UnknownName("speed rung", name, LADDER, "transfer_lessons.speed.LADDER")
    chosen = [name for name in LADDER if name in ("baseline", "cached_data") or rungs is None or name in rungs]
    rows = []

    def run(name, change, setting):
        note = ("skipped: not asked for (compile=False); compiling takes minutes on a CPU"
                if setting["compile"] and not compile else skip_reason(setting["amp"], False, device))
        speed = None if note else _measure(make_model, dataset, setting, device, batch_size, steps, warmup, lr, bn_mode)
        base = rows[0]["images_per_s"] if rows else speed
        cached = rows[1]["images_per_s"] if len(rows) > 1 else speed
        helped = name not in ("baseline", "cached_data", "combined") and speed is not None and speed > cached
        rows.append({"variant": name, "change": change, "images_per_s": speed, "helped": helped,
                     "speedup": speed / base if speed else None, "note": note or "", "setting": setting})
        if progress:
            print(f"{name:<14} " + (f"{speed:8.1f} img/s  {speed / base:5.2f}x" if speed else note))

    for name in chosen:
        change, update = LADDER[name]
        run(name, change, {**_CACHED, **{k: (workers if k == "workers" else v) for k, v in update.items()}})
    combined = _combined(rows)
    if combined is not None:
        run("combined", "every change that helped: " + ", ".join(r["variant"] for r in rows if r["helped"]), combined)
    return rows
