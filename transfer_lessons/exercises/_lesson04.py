from __future__ import annotations

import torch

from ..models import create_backbone
from ..speed import train_flops_per_image
from ._verdict import exercise, is_number


@exercise("mfu", "a number: the model FLOPs utilisation, a fraction (0.05 for 5 %)",
          nudge="count the FLOPs of one training image yourself, at the exercise's image size and with every layer "
                "training (the lesson's count is a linear probe at another size); a step is a whole batch",
          method="flops = tl.speed.train_flops_per_image(model, size) on a model whose layers all train; images per "
                 "second = batch / seconds per step; MFU = flops x images per second / peak FLOP/s")
def check_mfu(answer, backbone=None, image_size=None, batch=None, step_seconds=None, peak=None) -> bool:
    """Exercise: the MFU of a full fine-tune of ``backbone`` at ``image_size``, ``batch`` images per
    ``step_seconds`` on a device of ``peak`` FLOP/s, from a FLOP count the learner makes."""
    model = create_backbone(backbone, pretrained=False, num_classes=2)
    expected = train_flops_per_image(model, image_size) * batch / step_seconds / peak
    return is_number(answer) and abs(answer - expected) <= 0.01 * expected


@exercise("ensemble_accuracy", "a number in [0, 1]: the ensemble's accuracy on the targets",
          nudge="average the probabilities, not the predicted classes (votes)",
          method="stack the models' probabilities, average over the models (dim 0), take argmax over the classes, "
                 "and compare with the targets")
def check_ensemble_accuracy(answer, probs=None, targets=None) -> bool:
    """Exercise: the accuracy of the ensemble averaging the class probabilities ``probs`` ([N, C] per model)."""
    mean = torch.stack([torch.as_tensor(p).float().cpu() for p in probs]).mean(0)
    expected = (mean.argmax(1) == torch.as_tensor(targets).cpu()).float().mean().item()
    return is_number(answer) and abs(answer - expected) <= 1e-6


@exercise("quantize_weight", "a function quantize(weight) returning the dequantized float weight, same shape",
          nudge="one loud output channel must not crush the others: one scale per output channel",
          method="scale = max |w| / 127 over dims 1, 2, 3 (keepdim=True); q = round(w / scale) clamped to "
                 "[-127, 127]; return q * scale")
def check_quantize_weight(answer) -> bool:
    """Exercise: ``answer(weight)`` quantizes a conv weight to symmetric per-output-channel int8, dequantized."""
    weight = torch.randn(8, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    weight[0] *= 100  # one loud channel: a single scale for the whole tensor would crush the others
    scale = weight.abs().amax(dim=(1, 2, 3), keepdim=True) / 127
    expected = (weight / scale).round().clamp(-127, 127) * scale
    mine = torch.as_tensor(answer(weight.clone())).float()
    return mine.shape == expected.shape and bool(torch.allclose(mine, expected, atol=1e-5, rtol=1e-5))
