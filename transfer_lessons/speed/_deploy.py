"""Deploying a fine-tuned model: ONNX export, int8 static quantization, and their size, latency, accuracy.

A deployed model seldom runs in eager PyTorch: it is exported to a portable graph (ONNX) and run by an inference
runtime, here ONNX Runtime on the CPU; everything is measured in that runtime. Static int8 quantization
(``onnxruntime.quantization.quantize_static``, QDQ format):

- weights become int8 with one scale per output channel (symmetric), read off the weights;
- activations become uint8 with one scale and zero point per tensor, fixed in advance from the ranges (min to
  max) that the fp32 model produces on calibration images (a few hundred training images with the evaluation
  transform): "static", as opposed to measuring ranges at every inference;
- each quantized Conv and Gemm is surrounded by QuantizeLinear/DequantizeLinear pairs, which ONNX Runtime
  fuses into integer kernels.

Two choices protect accuracy. On x86 CPUs without VNNI instructions (most AVX2 CPUs) the uint8 x int8 products
are added in pairs into int16, which can saturate; 7-bit weights (``reduce_range``) avoid it, as ONNX Runtime's
documentation advises, so it is on there by default. And the first convolution (the stem, a few percent of the
FLOPs) stays in float: it sees normalised pixels, and its output range is the widest of the network.
Files are written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import copy
import platform
import tempfile
import warnings
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

from ..runtime import atomic_path, require
from ._timing import time_call

INPUT, OUTPUT = "images", "logits"  # the graph's input and output names


def _onnx():
    return require("onnx", "deploy", "ONNX export"), require("onnxruntime", "deploy", "ONNX Runtime")


def export_onnx(model: nn.Module, path: Union[str, Path], image_size: int, *, opset: int = 17) -> Path:
    """Export ``model`` (eval mode, float32, on the CPU) to an ONNX file with a variable batch size.

    Uses the TorchScript-based exporter (``dynamo=False``): under a second for an EfficientNet-Lite, where the
    ``torch.export``-based one took over fifteen seconds (measured on two cores); it falls back to the latter
    where the former is gone. ``model`` (a classifier taking ``[N, 3, S, S]`` images) is copied, not changed;
    ``image_size`` is ``S``, the side of the example input.
    Raises: MissingExtra: onnx or onnxruntime are not installed (``pip install 'transfer-lessons[deploy]'``).
    """
    _onnx()
    model = copy.deepcopy(model).cpu().float().eval().to(memory_format=torch.contiguous_format)
    example = (torch.zeros(1, 3, image_size, image_size),)
    names = dict(input_names=[INPUT], output_names=[OUTPUT])
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notices
        try:
            torch.onnx.export(model, example, str(tmp), dynamo=False, opset_version=opset, **names,
                              dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}})
        except (TypeError, RuntimeError, NotImplementedError):  # no legacy exporter in this torch
            torch.onnx.export(model, example, str(tmp), dynamo=True, external_data=False, opset_version=opset,
                              dynamic_shapes=({0: torch.export.Dim("batch")},), **names)
    return Path(path)


def _has_vnni() -> Optional[bool]:
    """Whether this x86 CPU has VNNI (int8 dot products); None where that cannot be read (not Linux)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return "avx512_vnni" in flags or "avx_vnni" in flags


def _quantized_ops(path: Path) -> tuple[int, list]:
    """(Conv, Gemm and MatMul nodes whose weight is int8, the names of those left in float)."""
    onnx, _ = _onnx()
    graph = onnx.load(str(path)).graph
    dequantized = {out for node in graph.node if node.op_type == "DequantizeLinear" for out in node.output}
    ops = [node for node in graph.node if node.op_type in ("Conv", "Gemm", "MatMul")]
    kept = [node.name for node in ops if node.input[1] not in dequantized]
    return len(ops) - len(kept), kept


def quantize_onnx(fp32_path: Union[str, Path], int8_path: Union[str, Path], calibration_images: torch.Tensor, *,
                  per_channel: bool = True, reduce_range: Optional[bool] = None, keep_first_conv: bool = True,
                  batch_size: int = 32) -> dict:
    """Static int8 quantization of an ONNX model, calibrated on ``calibration_images`` (see the module docstring).

    ``calibration_images``: ``[N, 3, S, S]``, preprocessed as for evaluation; training images, never the validation
    images the result is measured on. ``reduce_range`` (7-bit weights) None: on for x86 CPUs without VNNI.
    Raises: MissingExtra: onnx or onnxruntime are not installed (``pip install 'transfer-lessons[deploy]'``).
    Example: ``quantize_onnx("lite2.onnx", "lite2_int8.onnx", calibration_images)["quantized"]  # 64: all but the stem``
    """
    onnx, _ = _onnx()
    q = require("onnxruntime.quantization", "deploy", "int8 quantization")

    if reduce_range is None:
        reduce_range = platform.machine().lower() in ("x86_64", "amd64", "i686") and _has_vnni() is False

    batches = ({INPUT: b.numpy()} for b in calibration_images.detach().cpu().float().split(batch_size))

    class Reader(q.CalibrationDataReader):
        def get_next(self):
            return next(batches, None)

    first_conv = next((n.name for n in onnx.load(str(fp32_path)).graph.node if n.op_type == "Conv"), None)
    with tempfile.TemporaryDirectory() as work, atomic_path(int8_path) as tmp:
        prepared = Path(work) / "prepared.onnx"
        q.quant_pre_process(str(fp32_path), str(prepared))  # shape inference and graph clean-up first
        q.quantize_static(str(prepared), str(tmp), Reader(), quant_format=q.QuantFormat.QDQ, per_channel=per_channel,
                          activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8, reduce_range=reduce_range,
                          nodes_to_exclude=[first_conv] if keep_first_conv and first_conv else [])
        quantized, kept = _quantized_ops(tmp)
    return {"path": Path(int8_path), "quantized": quantized, "float": kept, "reduce_range": reduce_range}


def _session(path, threads: Optional[int]):
    _, ort = _onnx()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()  # the same cores as PyTorch uses
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_predict(path: Union[str, Path], images: torch.Tensor, *, batch_size: int = 64,
                 threads: Optional[int] = None) -> torch.Tensor:
    """Logits of an ONNX classifier for ``images`` (``[N, 3, S, S]``), run by ONNX Runtime on the CPU."""
    session = _session(path, threads)
    chunks = images.detach().cpu().float().split(batch_size)
    return torch.cat([torch.from_numpy(session.run([OUTPUT], {INPUT: c.numpy()})[0]) for c in chunks])


def onnx_accuracy(path: Union[str, Path], images: torch.Tensor, targets: torch.Tensor, **kwargs) -> float:
    """Top-1 accuracy of an ONNX classifier on ``images`` and integer ``targets`` (``onnx_predict``'s kwargs)."""
    return (onnx_predict(path, images, **kwargs).argmax(1) == targets.cpu()).float().mean().item()


def onnx_latency(path: Union[str, Path], image_size: int, *, batch_size: int = 1, repeats: int = 10,
                 warmup: int = 2, threads: Optional[int] = None) -> dict:
    """Median wall time of one ONNX Runtime inference, after ``warmup`` untimed ones.

    ``batch_size=1``: the latency a single request sees. ``threads``: intra-op threads (None: as many as PyTorch
    uses). Returns the keys of ``measure_latency``.
    """
    session = _session(path, threads)
    generator = torch.Generator().manual_seed(0)
    feed = {INPUT: torch.randn(batch_size, 3, image_size, image_size, generator=generator).numpy()}
    timed = time_call(lambda: session.run([OUTPUT], feed), warmup=warmup, repeats=repeats)
    ms = 1000 * timed["median_s"]
    return {"batch_size": batch_size, "repeats": timed["repeats"], "ms_per_batch": ms, "ms_per_image": ms / batch_size,
            "images_per_s": 1000 * batch_size / ms}


def file_size_mb(path: Union[str, Path]) -> float:
    """Size of a file in megabytes (10^6 bytes)."""
    return Path(path).stat().st_size / 1e6
