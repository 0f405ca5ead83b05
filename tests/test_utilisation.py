"""Tests for transfer_lessons.utilisation: training FLOPs counted by hand, peaks, MFU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from transfer_lessons.speed import achieved_flops, count_flops, mfu, peak_flops, train_flops_per_image
from transfer_lessons.training import train_one_epoch

pytestmark = pytest.mark.usefixtures("one_thread")


def test_training_flops_of_linear_layers_match_a_hand_count():
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    # forward 2*5*7 + 2*7*3; backward: the weight gradients (2*5*7, 2*7*3) and the second
    # layer's input gradient (2*7*3); the first layer's input (the image) needs none.
    assert train_flops_per_image(model, (5,)) == 4 * 5 * 7 + 6 * 7 * 3
    model[0].requires_grad_(False)  # frozen: no weight gradient, and so no input gradient below it
    assert train_flops_per_image(model, (5,)) == 2 * 5 * 7 + 4 * 7 * 3


def test_training_flops_of_convolutions_match_a_hand_count_depthwise_too():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.Conv2d(8, 8, 3, padding=1, groups=8),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
    first, depthwise = 2 * 8 * 16 * 16 * 3 * 3 * 3, 2 * 8 * 16 * 16 * 3 * 3  # forward: 2 x outputs x MACs each
    counted = train_flops_per_image(model, 16)
    assert counted == 2 * first + 3 * depthwise, f"{counted} != {2 * first + 3 * depthwise}"
    assert counted < 3 * count_flops(model, 16), "counted, a training step is less than 3x the forward pass here"


def test_counting_leaves_the_model_alone():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 3, 8, 8))
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_flops_per_image(model, 8)
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "BN statistics moved"


def test_peak_on_the_cpu_is_measured_and_positive():
    peak, source = peak_flops("cpu")
    assert peak > 1e8 and "measured float32 matmul" in source, (peak, source)


@pytest.mark.parametrize("name, tflops", [("NVIDIA H100 80GB HBM3", 989), ("NVIDIA H100 PCIe", 756),
                                          ("NVIDIA H200", 989), ("NVIDIA A100-SXM4-80GB", 312)])
def test_known_gpus_take_the_datasheet_peak(monkeypatch, name, tflops):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    peak, source = peak_flops(torch.device("cuda"))
    assert peak == tflops * 1e12 and "datasheet" in source and name in source


@pytest.mark.timeout(60)
def test_mfu_of_a_measured_training_run_is_a_fraction():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2))
    batch = [(torch.randn(8, 3, 32, 32), torch.randint(0, 2, (8,)))] * 5
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    stats = train_one_epoch(model, batch, optimizer, nn.CrossEntropyLoss(), "cpu", progress=False)
    flops = train_flops_per_image(model, 32)
    peak, _ = peak_flops("cpu")
    utilisation_ = mfu(stats["images_per_s"], flops, peak)
    assert 0 < utilisation_ <= 1, f"mfu {utilisation_} from {stats['images_per_s']} img/s x {flops} FLOPs / {peak}"
    assert achieved_flops(stats["images_per_s"], flops) == pytest.approx(utilisation_ * peak)
    with pytest.raises(ValueError, match="peak_flops"):
        mfu(1.0, 1.0, 0.0)
