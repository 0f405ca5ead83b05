"""Evaluating a classifier beyond accuracy: confusion matrix, per-class scores, confident mistakes, Grad-CAM.

The first three work on what ``evaluate(..., return_outputs=True)`` returns: ``logits``
``[N, C]`` and ``targets`` ``[N]``, on the CPU. The counting is torchmetrics'; only
Grad-CAM (Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391) is hand-written,
because lesson 02 builds it step by step.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.functional.classification import (multiclass_confusion_matrix, multiclass_f1_score,
                                                    multiclass_precision, multiclass_recall)

__all__ = ["confusion_matrix", "per_class_report", "confident_mistakes", "grad_cam"]


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
        targets: ``[N]`` true class indices.
        num_classes: C; by default the width of ``logits``, or the largest label + 1.

    Returns:
        An int64 tensor ``[C, C]``: row = true class, column = predicted class; the
        diagonal holds the correct predictions.

    Raises:
        ValueError: shapes or lengths disagree (the message names both shapes), 1-D float
            logits, or a label outside ``0..C-1``.

    Example:
        >>> out = evaluate(model, val_loader, nn.CrossEntropyLoss(), "cpu", return_outputs=True)
        >>> matrix = confusion_matrix(out["logits"], out["targets"])

    Shown in lesson 02, *Evaluating the fine-tuned model*.
    """
    if torch.as_tensor(logits).shape == (0,) and num_classes is None:
        raise ValueError("confusion_matrix: no predictions; pass num_classes= for an empty matrix.")
    predicted, targets, num_classes = _predictions(logits, targets, num_classes, "confusion_matrix")
    return multiclass_confusion_matrix(predicted, targets, num_classes).long()


def per_class_report(logits, targets, classes: Sequence[str]) -> dict:
    """Precision, recall, F1 and support of every class, and their unweighted (macro) mean.

    Precision of a class is the fraction of its predictions that are right; a class that
    is never predicted gets precision 0 (torchmetrics' ``zero_division=0``), and likewise
    recall 0 for a class with no images. F1 is computed per class, so the macro F1 is
    not the F1 of the macro precision and recall.

    Args:
        logits: ``[N, C]`` scores or ``[N]`` predicted labels.
        targets: ``[N]`` true class indices.
        classes: the C class names, indexed by label.

    Returns:
        ``{name: {"precision", "recall", "f1", "support"}}`` for every class, in order,
        then ``"macro"``: the plain mean over all C classes, with support = N.
        Scores are Python floats in [0, 1]; support is the number of true images (int).

    Raises:
        ValueError: as for ``confusion_matrix``, or a class is named ``"macro"``.

    Example:
        >>> report = per_class_report(out["logits"], out["targets"], data.classes)
        >>> report["bees"]["recall"]

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
    """The ``k`` wrong predictions the model was surest of, surest first.

    Args:
        logits: ``[N, C]`` scores (probabilities come from their softmax).
        targets: ``[N]`` true class indices.
        k: how many mistakes to return at most.

    Returns:
        A list of ``{"index", "true", "predicted", "confidence"}``: the position in the
        evaluation order, true and predicted class indices, and the softmax probability
        of the predicted class. Ties keep evaluation order. Empty when nothing is wrong.

    Raises:
        ValueError: shapes disagree (``logits`` must be ``[N, C]`` here), or ``k < 0``.

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


def _forward_keeping_activations(model, images, layer):
    """Runs ``model``; returns (logits, activation A of ``layer`` or of forward_features)."""
    if layer is None:
        if not (hasattr(model, "forward_features") and hasattr(model, "forward_head")):
            raise ValueError(f"grad_cam: {type(model).__name__} is not a timm model (no forward_features "
                             f"/ forward_head); pass layer=, the module whose output to explain.")
        with torch.no_grad():  # only the head's gradient is needed: no graph through the backbone
            fmap = model.forward_features(images)
        activation = fmap.detach().requires_grad_()
        return model.forward_head(activation.clone()), activation
    layer = model.get_submodule(layer) if isinstance(layer, str) else layer
    captured = []

    def keep(module, inputs, output):
        if not isinstance(output, torch.Tensor):
            raise ValueError(f"grad_cam: layer {type(module).__name__} returns {type(output).__name__}, "
                             f"not a tensor; pick a layer with a single [N, K, h, w] output.")
        # A fresh leaf makes the gradient w.r.t. A computable even when the layers before
        # are frozen; the clone keeps A intact if a later ReLU works in place.
        captured.append(output.detach().requires_grad_())
        return captured[-1].clone()

    handle = layer.register_forward_hook(keep)
    try:
        logits = model(images)
    finally:
        handle.remove()
    if len(captured) != 1:
        raise ValueError(f"grad_cam: layer {type(layer).__name__} ran {len(captured)} times in one "
                         f"forward pass; pick a layer that runs exactly once.")
    return logits, captured[0]


def grad_cam(model: nn.Module, images: torch.Tensor, target: Union[None, int, torch.Tensor] = None,
             layer: Union[None, str, nn.Module] = None) -> torch.Tensor:
    """Grad-CAM: where in each image the evidence for a class lies, as a heat map.

    The activations A of ``layer`` (K maps of h × w) are weighted by the spatial mean
    of the class score's gradient w.r.t. each map: cam = relu(sum_k w_k A_k). The map is
    resized (bilinear) to the image and scaled to [0, 1] per image; a flat map becomes 0.
    The model runs in eval mode (BatchNorm running statistics, no dropout); every
    module's train/eval flag is restored afterwards. Gradients are taken with
    ``torch.autograd.grad``, so no parameter's ``.grad`` is touched, and no hook is left.

    Args:
        model: a classifier returning ``[N, C]`` logits.
        images: ``[N, 3, H, W]`` normalised images; moved to the model's device.
        target: the class to explain: None = each image's predicted class, an int for
            all images, or a tensor ``[N]`` of class indices.
        layer: the module (or its dotted name, e.g. ``"layer4"``) whose ``[N, K, h, w]``
            output to explain. Default for timm models: the output of ``forward_features``.

    Returns:
        A float32 CPU tensor ``[N, H, W]`` with values in [0, 1].

    Raises:
        RuntimeError: called inside ``torch.inference_mode()`` (``torch.no_grad()`` is fine).
        ValueError: images not ``[N, C, H, W]``, no ``layer`` for a non-timm model, a layer
            output that is not ``[N, K, h, w]``, or a ``target`` of the wrong length.

    Example:
        >>> cams = grad_cam(model, images[:4])
        >>> fig = show_cam(images[:4], cams, mean=card.mean, std=card.std)

    Shown in lesson 02, *Evaluating the fine-tuned model*.
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError("grad_cam needs gradients, which torch.inference_mode() disables; "
                           "call it outside that block (torch.no_grad() is fine).")
    if images.ndim != 4:
        raise ValueError(f"grad_cam: images {tuple(images.shape)} must be a batch [N, C, H, W]; "
                         f"use images.unsqueeze(0) for one image.")
    device = next(model.parameters(), torch.empty(0)).device
    images = images.to(device).clone()  # a plain copy: an inference-mode tensor cannot enter autograd
    if target is not None:
        target = torch.as_tensor(target).long()
        if target.ndim > 1 or target.numel() not in (1, len(images)):
            raise ValueError(f"grad_cam: target {tuple(target.shape)} does not fit {len(images)} images; "
                             f"give an int or one class index per image.")
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.enable_grad():
            logits, activation = _forward_keeping_activations(model, images, layer)
            target = logits.argmax(1) if target is None else target.to(logits.device).expand(len(images))
            if activation.ndim != 4 or not 0 <= int(target.min()) <= int(target.max()) < logits.shape[1]:
                raise ValueError(f"grad_cam: need an activation [N, K, h, w] (got {tuple(activation.shape)}; "
                                 f"choose a conv layer) and targets in 0..{logits.shape[1] - 1}.")
            score = logits.gather(1, target[:, None]).sum()  # images are independent in eval mode
            (gradient,) = torch.autograd.grad(score, activation)
    finally:
        for module, training in modes.items():
            module.training = training  # per module: a BatchNorm kept in eval stays in eval
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activation.detach()).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    low = cam.amin(dim=(1, 2), keepdim=True)
    span = cam.amax(dim=(1, 2), keepdim=True) - low
    cam = torch.where(span > 0, (cam - low) / span.clamp_min(torch.finfo(cam.dtype).tiny), 0.0)
    return cam.float().cpu()
