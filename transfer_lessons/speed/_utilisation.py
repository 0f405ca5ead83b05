"""How much of the machine a training run uses: FLOPs per image, achieved FLOP/s, peak, MFU.

Model FLOPs utilisation (MFU, PaLM 2022) = the FLOP/s the model's own arithmetic needs at the measured
throughput, divided by the device's peak FLOP/s. FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode``
on a real training step (forward, loss, backward; a multiply-add = 2 FLOPs), not assumed to be 3x the forward
pass: the first layer needs no gradient for its input and frozen layers none for their weights, so the true
factor is lower. The optimiser's element-wise update is not counted (it is not matmul or convolution work).
One formula is replaced: torch 2.14's count of a convolution's backward pass ignores ``groups``, which counts a
depthwise layer's backward about ``channels`` times too high (efficientnet_lite0 at 224 px: 32 GFLOPs per
training image instead of 2.3); here each gradient a convolution's backward computes (input, weight) costs
exactly its forward pass's multiply-adds.

Peaks: on NVIDIA GPUs the datasheet's dense bf16 tensor-core rate (``PEAK_BF16_TFLOPS``), on unknown GPUs a
measured bf16 matmul, on CPUs a measured float32 matmul (the median of a few 2048 x 2048 products, with the
threads torch uses): no CPU datasheet knows how many cores this process really gets.
"""

from __future__ import annotations

import copy
from typing import Union

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from ..runtime import pick_device
from ._timing import time_call

# Dense (no 2:4 sparsity) bf16 tensor-core peaks from NVIDIA's datasheets, TFLOP/s; the first
# key contained in torch.cuda.get_device_name() wins, so more specific names come first.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0}


def _conv_backward_flop(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                        _output_padding, _groups, output_mask, out_shape=None, **kwargs) -> int:
    forward = conv_flop_count(x_shape, w_shape, grad_out_shape, transposed=transposed)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


def train_flops_per_image(model: nn.Module, input_size: Union[int, tuple], batch: int = 2) -> int:
    """FLOPs of one training step per image: forward, cross-entropy loss and backward, counted.

    Counted on a copy of ``model`` (its gradients and BatchNorm statistics stay as they are) on the CPU in float32
    (FLOPs do not depend on the device, dtype or memory layout), in training mode, with its parameters'
    ``requires_grad`` as they are: frozen layers need no weight gradients, and their FLOPs are not counted.
    Example: ``train_flops_per_image(nn.Linear(5, 3), (5,))  # 60: forward 2*5*3 + weight gradient 2*5*3``
    """
    copied = copy.deepcopy(model).cpu().float().train()
    shape = (3, input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(0))
    fixed = {torch.ops.aten.convolution_backward: _conv_backward_flop}
    with FlopCounterMode(display=False, custom_mapping=fixed) as counter:
        logits = copied(x)
        loss = nn.functional.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long))
        loss.backward()
    return round(counter.get_total_flops() / batch)


def achieved_flops(images_per_s: float, flops_per_image: float) -> float:
    """FLOP/s the model's arithmetic needs at a measured throughput: ``images_per_s * flops_per_image``."""
    return float(images_per_s) * float(flops_per_image)


def _matmul_flops(device: torch.device, dtype: torch.dtype, size: int, repeats: int) -> float:
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    return 2 * size ** 3 / time_call(lambda: a @ b, device=device, warmup=1, repeats=repeats)["median_s"]


def peak_flops(device=None, *, size: int = 2048, repeats: int = 3) -> tuple[float, str]:
    """The device's peak FLOP/s and where the number comes from.

    ``size``, ``repeats``: the matrix side and the timed products of a measurement (on unknown GPUs the side is at
    least 8192, so that the GPU is busy long enough to time).
    Returns: ``(flop_per_s, source)``, e.g. ``(9.89e14, "NVIDIA H100 80GB HBM3: datasheet, dense bf16")``.
    """
    device = pick_device(device) if device is None or isinstance(device, str) else torch.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, tflops in PEAK_BF16_TFLOPS.items():
            if key in name:
                return tflops * 1e12, f"{name}: datasheet, dense bf16"
        side = max(size, 8192)
        return _matmul_flops(device, torch.bfloat16, side, repeats), f"{name}: measured bf16 matmul, {side} x {side}"
    source = f"measured float32 matmul, {size} x {size}"
    if device.type == "cpu":
        source += f", {torch.get_num_threads()} threads"
    return _matmul_flops(device, torch.float32, size, repeats), source


def mfu(images_per_s: float, flops_per_image: float, peak: float) -> float:
    """Model FLOPs utilisation: ``achieved_flops(images_per_s, flops_per_image) / peak``; ValueError unless peak > 0."""
    if not peak > 0:
        raise ValueError(f"mfu: peak must be a positive FLOP/s, got {peak}; take it from peak_flops(device).")
    return achieved_flops(images_per_s, flops_per_image) / peak
