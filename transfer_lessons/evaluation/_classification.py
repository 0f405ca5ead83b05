"""A classifier's predictions, measured: accuracy, confusion matrix, per-class scores, confident mistakes.

Counting is torchmetrics'. Inputs are what ``evaluate(..., return_outputs=True)`` returns: ``logits``
``[N, C]`` and ``targets`` ``[N]``, on the CPU. ``predict_topk`` runs a 1000-class backbone on one photo,
preprocessed as its card says.
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

    Args:
        logits: ``(N, C)`` class scores. targets: ``(N,)`` class indices, or ``(N, C)`` class probabilities
            (mixup and cutmix mix two images' labels; the class with the larger share counts as right).
    Returns: The fraction of rows whose highest score is the target class.
    Raises: ValueError: logits and targets hold different numbers of rows.
    Example: ``accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))  # 0.5``
    Shown in plain PyTorch in lesson 02, *Fine-tuning*.
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
    """Checks shapes; returns (predicted labels [N], targets [N], number of classes)."""
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
    """How often each true class was predicted as each class.

    Args:
        logits: ``[N, C]`` scores (the arg-max is the prediction) or ``[N]`` predicted labels.
        targets: ``[N]`` true class indices. num_classes: C; default the width of ``logits``, or largest label + 1.
    Returns: An int64 ``[C, C]`` tensor: row = true class, column = predicted; the diagonal holds the correct ones.
    Raises:
        ValueError: shapes or lengths disagree (the message names both shapes), 1-D float logits, or a label
            outside ``0..C-1``.
    Example: ``confusion_matrix(out["logits"], out["targets"])  # out = evaluate(..., return_outputs=True)``
    Shown in lesson 02, *Evaluating the fine-tuned model*.
    """
    if torch.as_tensor(logits).shape == (0,) and num_classes is None:
        raise ValueError("confusion_matrix: no predictions; pass num_classes= for an empty matrix.")
    predicted, targets, num_classes = _predictions(logits, targets, num_classes, "confusion_matrix")
    return multiclass_confusion_matrix(predicted, targets, num_classes).long()


def per_class_report(logits, targets, classes: Sequence[str]) -> dict:
    """Precision, recall, F1 and support of every class, and their unweighted (macro) mean.

    A class never predicted gets precision 0 (torchmetrics' ``zero_division=0``), one with no images recall 0.
    F1 is computed per class, so the macro F1 is not the F1 of the macro precision and recall.
    Args:
        logits: ``[N, C]`` scores or ``[N]`` predicted labels. targets: ``[N]`` true class indices.
        classes: the C class names, indexed by label.
    Returns:
        ``{name: {"precision", "recall", "f1", "support"}}`` for every class, in order, then ``"macro"``: the
        plain mean over all C classes, support = N. Scores are floats in [0, 1]; support counts true images (int).
    Raises: ValueError: as for ``confusion_matrix``, or a class is named ``"macro"``.
    Example: ``per_class_report(out["logits"], out["targets"], data.classes)["bees"]["recall"]``
    Shown in lesson 02, *Evaluating the fine-tuned model*.
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

    Args:
        logits: ``[N, C]`` scores (probabilities from their softmax). targets: ``[N]`` true class indices.
        k: at most this many mistakes.
    Returns:
        A list of ``{"index", "true", "predicted", "confidence"}``: position in evaluation order, true and
        predicted class indices, softmax probability of the predicted class. Empty when nothing is wrong.
    Raises: ValueError: shapes disagree (``logits`` must be ``[N, C]`` here), or ``k < 0``.
    Example:
        >>> for m in confident_mistakes(out["logits"], out["targets"], k=4):
        ...     print(m["index"], data.classes[m["predicted"]], f"{m['confidence']:.0%}")
    Shown in lesson 02, *Evaluating the fine-tuned model*.
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
    """ImageNet top-k of one image: ``[(label, probability), ...]``, best first.

    Preprocessed exactly as the weights expect (size, crop, interpolation, mean/std from the model's
    ``pretrained_cfg``): preprocessing is part of the model.
    Args:
        model: a 1000-class backbone from ``create_backbone``. image: a PIL image, or an image file's path.
        k: how many classes to return. device: where to run (default: the model's device).
    Raises: BadImage: the file cannot be decoded (the message names it).
    Example:
        >>> predict_topk(create_backbone("efficientnet_lite0"), sample_photo("chelsea"))[0][0]  # 'tabby, tabby cat'
    Used in lesson 00, *A first taste*, and by ``python -m transfer_lessons predict``.
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

