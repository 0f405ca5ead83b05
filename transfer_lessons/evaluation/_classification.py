"""A classifier's predictions, counted by torchmetrics. Inputs are what ``evaluate(..., return_outputs=True)``
returns: ``logits`` ``[N, C]`` and ``targets`` ``[N]``, on the CPU; ``predict_topk`` takes one photo instead.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
from PIL import Image
from torchmetrics.functional.classification import (
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

from ..data import open_rgb, transforms_for
from ..models import imagenet_labels


def accuracy(logits, targets) -> float:
    """Top-1 accuracy of a batch, as a fraction in [0, 1].

    ``targets``: ``(N,)`` class indices, or ``(N, C)`` class probabilities (mixup and cutmix mix two images' labels;
    the class with the larger share counts as right). Raises: ValueError: different numbers of rows.
    """
    if logits.shape[0] != targets.shape[0]:
        raise ValueError(f"accuracy: {logits.shape[0]} rows of logits but {targets.shape[0]} targets.")
    if targets.numel() == 0:
        return math.nan
    if targets.ndim == 2:
        targets = targets.argmax(dim=1)
    # .item() is a CPU-GPU sync point: one per batch is the price of a live progress bar.
    return (logits.argmax(dim=1) == targets).float().mean().item()


def _predictions(logits, targets, num_classes: Optional[int], caller: str):
    logits, targets = torch.as_tensor(logits), torch.as_tensor(targets)
    shapes = f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)}"
    if logits.ndim not in (1, 2) or targets.ndim != 1 or len(logits) != len(targets):
        raise ValueError(f"{caller}: {shapes} do not match; expected logits [N, C] scores or [N] "
                         f"predicted labels, and targets [N] class indices.")
    if logits.ndim == 1 and logits.is_floating_point():
        raise ValueError(f"{caller}: 1-D logits {tuple(logits.shape)} must be integer class labels; "
                         f"pass the [N, C] scores or logits.argmax(1).")
    if logits.ndim == 2 and num_classes is not None and logits.shape[1] != num_classes:
        raise ValueError(f"{caller}: logits {tuple(logits.shape)} have {logits.shape[1]} columns "
                         f"for {num_classes} classes.")
    predicted = logits.argmax(1) if logits.ndim == 2 else logits.long()
    targets = targets.long().to(predicted.device)
    if num_classes is None:
        num_classes = logits.shape[1] if logits.ndim == 2 else int(torch.cat([predicted, targets]).max()) + 1
    for name, labels in (("predicted", predicted), ("target", targets)):
        bad = labels[(labels < 0) | (labels >= num_classes)]
        if len(bad):
            raise ValueError(f"{caller}: {name} label {int(bad[0])} is outside 0..{num_classes - 1}.")
    return predicted, targets, num_classes


def confusion_matrix(logits, targets, num_classes: Optional[int] = None) -> torch.Tensor:
    """How often each true class was predicted as each class: int64 ``[C, C]``, row = true class, column = predicted.

    ``logits``: ``[N, C]`` scores (the arg-max is the prediction) or ``[N]`` predicted labels; ``num_classes``
    defaults to the width of ``logits``, or the largest label + 1.
    Raises: ValueError: shapes or lengths disagree, 1-D float logits, or a label outside ``0..C-1``.
    """
    if torch.as_tensor(logits).shape == (0,) and num_classes is None:
        raise ValueError("confusion_matrix: no predictions; pass num_classes= for an empty matrix.")
    predicted, targets, num_classes = _predictions(logits, targets, num_classes, "confusion_matrix")
    return multiclass_confusion_matrix(predicted, targets, num_classes).long()


def per_class_report(logits, targets, classes: Sequence[str]) -> dict:
    """Precision, recall, F1 and support of every class, and their unweighted (macro) mean.

    A class never predicted gets precision 0 (torchmetrics' ``zero_division=0``), one with no images recall 0.
    F1 is computed per class, so the macro F1 is not the F1 of the macro precision and recall.
    Raises: ValueError: as for ``confusion_matrix``, or a class is named ``"macro"``.
    """
    classes = [str(name) for name in classes]
    if "macro" in classes:
        raise ValueError("per_class_report: a class is named 'macro', which is the key of the average.")
    predicted, targets, num_classes = _predictions(logits, targets, len(classes), "per_class_report")
    scores = {name: fn(predicted, targets, num_classes, average=None, zero_division=0)
              for name, fn in (("precision", multiclass_precision), ("recall", multiclass_recall),
                               ("f1", multiclass_f1_score))}
    support = torch.bincount(targets, minlength=num_classes)
    report = {name: {**{key: float(values[index]) for key, values in scores.items()},
                     "support": int(support[index])} for index, name in enumerate(classes)}
    report["macro"] = {**{key: float(values.mean()) for key, values in scores.items()},
                       "support": len(targets)}
    return report


def confident_mistakes(logits, targets, k: int = 6) -> list:
    """The ``k`` wrong predictions the model was surest of, surest first (ties keep evaluation order).

    Each a dict: ``"index"`` (evaluation order), ``"true"``, ``"predicted"``, ``"confidence"`` (softmax probability).
    """
    logits = torch.as_tensor(logits)
    if logits.ndim != 2 or k < 0:
        raise ValueError(f"confident_mistakes: need logits [N, C] scores (got {tuple(logits.shape)}) "
                         f"and k >= 0 (got {k}).")
    predicted, targets, _ = _predictions(logits, targets, None, "confident_mistakes")
    confidence = logits.float().softmax(1).gather(1, predicted[:, None]).squeeze(1)
    wrong = torch.nonzero(predicted != targets).squeeze(1)
    order = wrong[torch.sort(confidence[wrong], descending=True, stable=True).indices][:k]
    return [{"index": int(i), "true": int(targets[i]), "predicted": int(predicted[i]),
             "confidence": float(confidence[i])} for i in order]


def predict_topk(model, image: Union[Image.Image, str, Path], k: int = 5, device=None) -> list[tuple[str, float]]:
    """ImageNet top-k of one image (PIL, or a file's path): ``[(label, probability), ...]``, best first.

    Preprocessed exactly as the weights expect (size, crop, interpolation, mean/std from the model's
    ``pretrained_cfg``): preprocessing is part of the model. ``device`` defaults to the model's.
    Raises: BadImage: the file cannot be decoded (the message names it).
    """
    if not hasattr(image, "convert"):
        image = open_rgb(Path(image))
    batch = transforms_for(model)(image.convert("RGB")).unsqueeze(0)  # the card's preprocessing
    device = device or next(model.parameters()).device
    model.eval()
    with torch.inference_mode():
        probs = model(batch.to(device)).float().softmax(dim=-1)[0].cpu()
    top = probs.topk(k)
    labels = imagenet_labels()
    return [(labels[int(i)], float(p)) for p, i in zip(top.values, top.indices)]

