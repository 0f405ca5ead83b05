"""Lesson 04's exercise checks: the right answers pass, and each named wrong answer gets "not yet"."""

from __future__ import annotations

import pytest
import torch

import transfer_lessons as tl
from transfer_lessons.exercises import check_ensemble_accuracy, check_mfu, check_quantize_weight
from transfer_lessons.models import apply_strategy, create_backbone, get_strategy
from transfer_lessons.speed import count_flops, train_flops_per_image

pytestmark = pytest.mark.usefixtures("one_thread")


def _not_yet(verdict) -> bool:
    return verdict.status == "failed" and "not yet" in repr(verdict)


def test_mfu_check_needs_a_count_at_the_exercise_size_with_every_layer_training():
    scenario = dict(backbone="efficientnet_lite0", image_size=96, batch=64, step_seconds=0.12, peak=989e12)
    per_second = scenario["batch"] / scenario["step_seconds"]
    full = create_backbone("efficientnet_lite0", pretrained=False, num_classes=2)
    right = train_flops_per_image(full, 96) * per_second / scenario["peak"]
    assert check_mfu(right, **scenario)
    probe = create_backbone("efficientnet_lite0", pretrained=False, num_classes=2)
    apply_strategy(probe, get_strategy("linear_probe"))
    wrong = {"a percentage": 100 * right,
             "a step read as one image": right / scenario["batch"],
             "the lesson's linear-probe count": train_flops_per_image(probe, 96) * per_second / scenario["peak"],
             "the count at another size": train_flops_per_image(full, 64) * per_second / scenario["peak"],
             "the forward pass only": count_flops(full, 96) * per_second / scenario["peak"],
             "True": True}
    for name, answer in wrong.items():
        assert _not_yet(check_mfu(answer, **scenario)), name


def test_ensemble_check_averages_probabilities_not_votes():
    generator = torch.Generator().manual_seed(0)
    probs = [torch.rand(60, 3, generator=generator).softmax(1) for _ in range(2)]
    targets = torch.randint(0, 3, (60,), generator=generator)
    right = (torch.stack(probs).mean(0).argmax(1) == targets).float().mean().item()
    assert check_ensemble_accuracy(right, probs, targets)
    first_only = (probs[0].argmax(1) == targets).float().mean().item()
    products = (probs[0] * probs[1]).argmax(1)  # another rule than the average
    a, b = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55]]), torch.tensor([[0.6, 0.4], [0.8, 0.2], [0.7, 0.3]])
    # averaged probabilities [0.75, 0.25], [0.6, 0.4], [0.575, 0.425]: classes 0, 0, 0, so 2 of 3 right
    assert check_ensemble_accuracy(2 / 3, [a, b], torch.tensor([0, 0, 1]))
    assert _not_yet(check_ensemble_accuracy(1 / 3, [a, b], torch.tensor([0, 0, 1]))), "one of three"
    wrong = {"the first member alone": first_only, "a percentage": 100 * right,
             "the number right, not the share": right * 60}
    if (products == targets).float().mean().item() != right:
        wrong["the product of the probabilities"] = (products == targets).float().mean().item()
    for name, answer in wrong.items():
        assert _not_yet(check_ensemble_accuracy(answer, probs, targets)), name


def test_quantize_check_needs_one_scale_per_output_channel():
    def per_channel(w):
        scale = w.abs().amax(dim=(1, 2, 3), keepdim=True) / 127
        return (w / scale).round().clamp(-127, 127) * scale

    def per_tensor(w):
        scale = w.abs().max() / 127
        return (w / scale).round().clamp(-127, 127) * scale

    assert check_quantize_weight(per_channel)
    wrong = {"one scale for the whole tensor": per_tensor, "no rounding": lambda w: w.clone(),
             "the integers, not dequantized": lambda w: (w / (w.abs().amax(dim=(1, 2, 3), keepdim=True) / 127)).round(),
             "per input channel": lambda w: per_channel(w.transpose(0, 1)).transpose(0, 1),
             "a crash": lambda w: 1 / 0}
    for name, answer in wrong.items():
        assert _not_yet(check_quantize_weight(answer)), name
    assert tl.recording.records()["exercise.quantize_weight"] == "failed"
