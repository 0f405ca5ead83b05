"""Tests for transfer_lessons.deploy: ONNX export, int8 static quantization, size, latency, accuracy."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from transfer_lessons.errors import MissingExtra
from transfer_lessons.speed import export_onnx, file_size_mb, onnx_accuracy, onnx_latency, onnx_predict, quantize_onnx

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnx onnxruntime)")
pytest.importorskip("onnx", reason="onnx is not installed")
pytestmark = pytest.mark.usefixtures("one_thread")


def small_net() -> nn.Module:
    """Three convolutions with BatchNorm (folded away on export) and a linear head; wide enough that
    int8 weights are clearly smaller than float ones."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU6(),
                         nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU6(),
                         nn.Conv2d(64, 64, 3, padding=1), nn.ReLU6(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 2)).eval()


def test_export_keeps_the_outputs_and_any_batch_size(tmp_path):
    model = small_net()
    path = export_onnx(model, tmp_path / "sub" / "model.onnx", 16)
    images = torch.randn(5, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(images)
    got = onnx_predict(path, images, batch_size=2)  # batches of 2, 2 and 1: the batch axis is free
    assert got.shape == (5, 2) and torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()
    assert not list(path.parent.glob(".*.tmp")), "the temporary file should be renamed away"
    targets = expected.argmax(1)
    assert onnx_accuracy(path, images, targets) == 1.0


def test_int8_is_smaller_close_and_covers_the_convolutions(tmp_path):
    model = small_net()
    fp32 = export_onnx(model, tmp_path / "model.onnx", 16)
    generator = torch.Generator().manual_seed(2)
    calibration = torch.randn(64, 3, 16, 16, generator=generator)
    images = torch.randn(32, 3, 16, 16, generator=generator)
    result = quantize_onnx(fp32, tmp_path / "int8.onnx", calibration, batch_size=16)
    assert result["path"].is_file() and isinstance(result["reduce_range"], bool)
    # 2 of 3 convs and the head; the stem stays float
    assert result["quantized"] == 3 and len(result["float"]) == 1, result
    every = quantize_onnx(fp32, tmp_path / "all.onnx", calibration, keep_first_conv=False)
    assert every["quantized"] == 4 and every["float"] == [], every
    assert file_size_mb(every["path"]) < 0.5 * file_size_mb(fp32), (file_size_mb(every["path"]), file_size_mb(fp32))
    reference, quantized = onnx_predict(fp32, images), onnx_predict(every["path"], images)
    scale = reference.abs().max()
    gap = (quantized - reference).abs().max()
    assert gap < 0.1 * scale, f"int8 logits off by {gap:.3f}"


def test_latency_reports_medians(tmp_path):
    path = export_onnx(small_net(), tmp_path / "model.onnx", 16)
    result = onnx_latency(path, 16, batch_size=2, repeats=3, warmup=1)
    assert result["repeats"] == 3 and result["batch_size"] == 2
    assert result["ms_per_image"] == pytest.approx(result["ms_per_batch"] / 2)
    assert result["images_per_s"] == pytest.approx(2000 / result["ms_per_batch"])


def test_a_missing_runtime_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # "import onnxruntime" now raises ImportError
    with pytest.raises(MissingExtra, match=r"transfer-lessons\[deploy\]"):
        export_onnx(small_net(), tmp_path / "model.onnx", 16)
    assert not (tmp_path / "model.onnx").exists()
