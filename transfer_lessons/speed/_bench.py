"""Training speed: the package's loop against a bare hand-written loop, per speed-up, on this device.

Both loops train the same model with the same optimiser on the same in-memory batch (already on the device,
so data loading is not measured), after untimed warm-up steps. Each variant is measured ``repeats`` times per
loop, the loops taking turns (package, bare, bare, package, ...), and the medians are compared: a machine that
slows down for a while slows both alike. ``ratio`` = package images/s / bare images/s; the package's loop
should stay >= 0.95. ``python -m transfer_lessons bench`` prints the table (``format_bench``).
"""

from __future__ import annotations

import contextlib
import statistics
from typing import Callable, Optional, Union

import torch
from torch import nn

from ..errors import UnknownName
from ..models import create_backbone
from ..runtime import pick_device, seed_everything, versions
from ..training import AMP_DTYPES, train_one_epoch
from ._timing import device_name, skip_reason, time_call
from ._utilisation import achieved_flops, mfu, peak_flops, train_flops_per_image

# fp16 needs a GradScaler, which needs CUDA; a compiled variant is skipped, with the reason, where it fails.
VARIANTS = {
    "fp32": {},
    "channels_last": {"channels_last": True},
    "bf16": {"amp": "bf16"},
    "bf16_channels_last": {"amp": "bf16", "channels_last": True},
    "channels_last_compile": {"channels_last": True, "compile": True},
    "bf16_channels_last_compile": {"amp": "bf16", "channels_last": True, "compile": True},
    "fp16_channels_last": {"amp": "fp16", "channels_last": True},
}


def bare_train_loop(model: nn.Module, batches, optimizer, loss_fn, *, amp_dtype=None, scaler=None) -> None:
    """The shortest correct training loop: forward, loss, zero_grad, backward, step; nothing else.

    No metrics, progress bar, NaN check or ``.item()``: on a GPU nothing waits for the device, so the CPU can
    queue steps ahead. The yardstick for ``train_one_epoch``. ``batches`` yields ``(images, targets)`` already on
    the device; ``amp_dtype=None``: no autocast at all; ``scaler``: a ``torch.amp.GradScaler`` (fp16), or None.
    """
    model.train()
    for images, targets in batches:
        with torch.autocast(images.device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext():
            loss = loss_fn(model(images), targets)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()


def _measure(make_model, images, targets, options, device, steps, repeats, warmup) -> dict:
    seed_everything(0)
    model = make_model().to(device)
    if options.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    runner = torch.compile(model) if options.get("compile") else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    amp_dtype = AMP_DTYPES.get(options.get("amp"))
    scaler = torch.amp.GradScaler("cuda") if options.get("amp") == "fp16" else None
    batches = [(images, targets)] * steps

    def package(n=steps):
        train_one_epoch(runner, batches[:n], optimizer, loss_fn, device, scaler=scaler, amp_dtype=amp_dtype,
                        channels_last=bool(options.get("channels_last")), progress=False)

    def bare(n=steps):
        bare_train_loop(runner, batches[:n], optimizer, loss_fn, amp_dtype=amp_dtype, scaler=scaler)

    try:
        for loop in (package, bare):  # first calls pay for compilation, allocation, kernel choice
            time_call(lambda: loop(max(1, warmup)), device=device, warmup=0, repeats=1)
    except Exception as err:  # noqa: BLE001 (torch.compile fails in many ways: no compiler, no triton, ...)
        if not options.get("compile"):
            raise
        reason = (str(err).strip().splitlines() or [""])[0][:160]
        return {"note": f"skipped: torch.compile failed ({type(err).__name__}: {reason})"}
    seconds = {"package": [], "bare": []}
    for index in range(repeats):
        order = (("package", package), ("bare", bare)) if index % 2 == 0 else (("bare", bare), ("package", package))
        for name, loop in order:
            seconds[name].append(time_call(loop, device=device, warmup=0, repeats=1)["median_s"])
    images_per_step = steps * len(targets)
    return {name: images_per_step / statistics.median(times) for name, times in seconds.items()}


def bench_training(backbone: Union[str, Callable[[], nn.Module]] = "efficientnet_lite0", *, batch: Optional[int] = None,
                   size: int = 224, steps: Optional[int] = None, device=None, variants=None, repeats: int = 3,
                   warmup: int = 2, num_classes: int = 2) -> dict:
    """Training throughput of ``train_one_epoch`` and of ``bare_train_loop``, per variant, with MFU.

    Args:
        backbone: a catalog name (randomly initialised: speed does not depend on the weights), or a function
            returning a fresh model.
        batch, steps: images per step and steps per timed measurement (None: 128 and 20 on CUDA, else 32 and 3).
        variants: names from ``VARIANTS``. None: all, but off CUDA the compiled ones are skipped (compiling takes
            minutes on a CPU), and so is bf16 on CPUs without bf16 instructions (emulated: 10x slower than fp32
            on an AVX2 CPU, measured); a variant named here runs unless it cannot (fp16 needs CUDA). Skipped
            rows say why in ``note``.
        repeats: timed measurements per loop and variant (medians are reported). warmup: untimed steps per loop
            first (compilation happens here).
    Returns: The settings and one row per variant (None where skipped; ``speedup`` is over the package's fp32 row).
    Raises: UnknownName: an unknown variant or backbone.
    """
    device = pick_device(None if device in (None, "auto") else device)
    asked, variants = variants is not None, list(VARIANTS) if variants is None else list(variants)
    for name in variants:
        if name not in VARIANTS:
            raise UnknownName("bench variant", name, VARIANTS, "transfer_lessons.speed.VARIANTS")
    batch = batch or (128 if device.type == "cuda" else 32)
    steps = steps or (20 if device.type == "cuda" else 3)
    if isinstance(backbone, str):
        name = backbone
        make_model = lambda: create_backbone(name, pretrained=False, num_classes=num_classes)  # noqa: E731
    else:
        name, make_model = getattr(backbone, "__name__", "model"), backbone
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=generator).to(device)
    targets = torch.randint(0, num_classes, (batch,), generator=generator).to(device)
    flops = train_flops_per_image(make_model(), size)
    peak, peak_source = peak_flops(device)
    rows = []
    for variant in variants:
        options = VARIANTS[variant]
        measured = {"note": skip_reason(options.get("amp"), options.get("compile", False), device, allow_slow=asked)}
        if measured["note"] is None:
            measured = {"note": "", **_measure(make_model, images, targets, options, device, steps, repeats, warmup)}
        package, bare = measured.get("package"), measured.get("bare")
        rows.append({"variant": variant, "package_images_per_s": package, "bare_images_per_s": bare,
                     "ratio": package / bare if package and bare else None,
                     "achieved_tflops": achieved_flops(package, flops) / 1e12 if package else None,
                     "mfu": mfu(package, flops, peak) if package else None, "note": measured["note"]})
    base = next((r["package_images_per_s"] for r in rows if r["variant"] == "fp32"), None)
    for row in rows:
        row["speedup"] = row["package_images_per_s"] / base if base and row["package_images_per_s"] else None
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    return {"device": str(device), "device_name": device_name(device), "versions": versions(), "backbone": name,
            "batch": batch, "size": size, "steps": steps, "repeats": repeats, "train_flops_per_image": flops,
            "peak_flops": peak, "peak_source": peak_source, "rows": rows, "min_ratio": min(ratios, default=None)}


def format_bench(result: dict) -> str:
    """``bench_training``'s result as a text table with a header naming the device and versions."""
    def cell(value, spec, width):
        return f"{'-' if value is None else format(value, spec):>{width}}"

    found = ", ".join(f"{k} {v}" for k, v in result["versions"].items() if v)
    lines = [f"device: {result['device']} ({result['device_name']}); {found}",
             f"{result['backbone']}: batch {result['batch']}, {result['size']} px, {result['steps']} steps per "
             f"measurement, median of {result['repeats']} (package and bare loop taking turns)",
             f"training FLOPs per image {result['train_flops_per_image'] / 1e9:.3g} G (counted); peak "
             f"{result['peak_flops'] / 1e12:.3g} TFLOP/s ({result['peak_source']})",
             "",
             f"{'variant':<28}{'package img/s':>14}{'bare img/s':>12}{'package/bare':>14}{'speed-up':>10}"
             f"{'TFLOP/s':>10}{'mfu':>9}  note"]
    for row in result["rows"]:
        lines.append(f"{row['variant']:<28}{cell(row['package_images_per_s'], '.1f', 14)}"
                     f"{cell(row['bare_images_per_s'], '.1f', 12)}{cell(row['ratio'], '.3f', 14)}"
                     f"{cell(row['speedup'], '.2f', 9)}{'x' if row['speedup'] else ' '}"
                     f"{cell(row['achieved_tflops'], '.3g', 10)}{cell(row['mfu'], '.2%', 9)}  {row['note']}".rstrip())
    if result["min_ratio"] is not None:
        lines.append(f"\nlowest package/bare ratio: {result['min_ratio']:.3f} (the bound is 0.95)")
    return "\n".join(lines)

