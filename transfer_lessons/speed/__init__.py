"""Speed and deployment: timing, inference cost (FLOPs, latency, memory, Pareto front), training speed (against
a bare loop, and the speed ladder on real data), utilisation (MFU), ONNX export and int8 quantization.

Above ``training``: it times the same ``train_one_epoch`` that trains.

Lessons: 01 (inference cost, the Pareto front), 03 (``detector_latency``), 04 (timing, training throughput, the
speed ladder, MFU, ONNX and int8).
"""

from ._bench import VARIANTS, bare_train_loop, bench_training, format_bench
from ._cost import (benchmark_backbone, best_under_budget, count_flops, describe_backbone, detector_latency,
                    measure_latency, pareto_front, peak_memory_mb)
from ._deploy import export_onnx, file_size_mb, onnx_accuracy, onnx_latency, onnx_predict, quantize_onnx
from ._ladder import LADDER, measure_throughput, speed_ladder
from ._timing import device_name, fast_cpu_bf16, skip_reason, time_call
from ._utilisation import PEAK_BF16_TFLOPS, achieved_flops, mfu, peak_flops, train_flops_per_image

__all__ = ["VARIANTS", "bare_train_loop", "bench_training", "format_bench", "benchmark_backbone", "best_under_budget",
           "count_flops", "describe_backbone", "detector_latency", "measure_latency", "pareto_front", "peak_memory_mb",
           "export_onnx", "file_size_mb", "onnx_accuracy", "onnx_latency", "onnx_predict", "quantize_onnx", "LADDER",
           "measure_throughput", "speed_ladder", "device_name", "fast_cpu_bf16", "skip_reason", "time_call",
           "PEAK_BF16_TFLOPS", "achieved_flops", "mfu", "peak_flops", "train_flops_per_image"]
