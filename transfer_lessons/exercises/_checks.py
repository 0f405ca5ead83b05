"""Automatic checks for the lessons' exercises: each returns a verdict that reads "correct",
"not yet" (with a hint) or "not done yet", and never raises, so an unsolved exercise does
not stop a notebook. The verdict is true only when the answer is right.

Each check computes the expected answer itself from the same helpers the lesson used; no
answer is stored here. Solutions live apart, in ``notebooks/solutions/``.
"""

from __future__ import annotations

import re
from typing import Callable

import torch
from torchvision.ops import box_iou

from ..data import eval_transforms, sample_photo
from ..evaluation import expected_calibration_error, precision_at, predict_topk, threshold_for_precision
from ..models import (
    TimmFPN,
    backbone_stages,
    count_parameters,
    create_backbone,
    freeze_backbone,
    get_card,
    imagenet_labels,
    param_groups,
    unfreeze_backbone,
)
from ..recording import record
from ..speed import best_under_budget, count_flops

CHECKS: dict[str, Callable] = {}


def _exercise(func: Callable) -> Callable:
    CHECKS[func.__name__] = func
    return func


class Verdict:
    """The outcome of a check: true when passed; shown as one line with a hint when not."""
    def __init__(self, name: str, status: str, hint: str):
        self.name, self.status, self.hint = name, status, hint

    def __bool__(self) -> Verdict:
        return self.status == "passed"

    def __repr__(self) -> str:
        if self.status == "passed":
            return f"✓ {self.name}: correct."
        what = "not done yet" if self.status == "not attempted" else "not yet"
        return f"{'…' if what == 'not done yet' else '✗'} {self.name}: {what}. Hint: {self.hint}"


def _verdict(name: str, passed: bool, hint: str, answer) -> Verdict:
    """Record the outcome (``exercise.<name>``) and return it; the notebook shows it."""
    status = "not attempted" if answer is None or answer is Ellipsis else "passed" if passed else "failed"
    record(f"exercise.{name}", status, show=False)
    return Verdict(name, status, hint)


@_exercise
def check_top1_label(answer, photo: str = "coffee", backbone: str = "efficientnet_lite0") -> Verdict:
    """Exercise: the ImageNet label that ``backbone`` ranks first for sample ``photo``."""
    hint = f"call predict_topk(model, sample_photo({photo!r})) and take the first label"
    passed = False
    if isinstance(answer, str):
        expected = predict_topk(create_backbone(backbone, progress=False), sample_photo(photo), k=1)[0][0]
        passed = answer.strip().lower() == expected.lower()
    return _verdict("top1_label", passed, hint, answer)


@_exercise
def check_cat_classes(answer) -> Verdict:
    """Exercise: the indices of every ImageNet class whose label contains the word 'cat'."""


    hint = "loop over enumerate(imagenet_labels()) and test re.search(r'\\bcat\\b', label)"
    expected = {i for i, label in enumerate(imagenet_labels()) if re.search(r"\bcat\b", label)}
    try:
        passed = {int(i) for i in answer} == expected
    except TypeError:
        passed = False
    return _verdict("cat_classes", passed, hint, answer)


@_exercise
def check_normalize(answer) -> Verdict:
    """Exercise: a function ``f(x, mean, std)`` that normalises a CHW float image per channel."""
    hint = "subtract mean and divide by std, with both reshaped to (3, 1, 1) to broadcast"
    passed = False
    if callable(answer):
        x = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        expected = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
        try:
            passed = bool(torch.allclose(torch.as_tensor(answer(x, mean, std)), expected, atol=1e-5))
        except Exception:  # noqa: BLE001 - a learner's bug is a "not yet", not a crash
            passed = False
    return _verdict("normalize", passed, hint, answer)


@_exercise
def check_gflops(answer, backbone: str = "efficientnet_lite1") -> Verdict:
    """Exercise: GFLOPs of one forward pass of ``backbone`` on one image at its card's input size."""
    hint = ("wrap model(torch.zeros(1, 3, S, S)) in FlopCounterMode(display=False), S = the card's "
            "input_size, and divide get_total_flops() by 1e9")
    passed = False
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        card = get_card(backbone)
        expected = count_flops(create_backbone(backbone, pretrained=False), card.input_size) / 1e9
        passed = abs(answer - expected) <= 0.02 * expected
    return _verdict("gflops", passed, hint, answer)


@_exercise
def check_budget_pick(answer, table=None, budget_ms: float = None, key: str = "probe_acc") -> Verdict:
    """Exercise: the most accurate backbone of ``table`` whose ``latency_ms`` fits ``budget_ms``."""
    hint = ("keep the rows with latency_ms <= budget_ms, then take the one with the highest "
            f"{key} (the faster one if two tie)")
    passed = False
    if isinstance(answer, str) and table and budget_ms is not None:
        points = {name: (row["latency_ms"], row[key]) for name, row in table.items()}
        passed = answer == best_under_budget(points, budget_ms)
    return _verdict("budget_pick", passed, hint, answer)


def _test_image():
    """A smooth, seeded 3x300x400 uint8 image: small resize differences barely change it."""
    rows = torch.linspace(0, 1, 300)[:, None]
    cols = torch.linspace(0, 1, 400)[None, :]
    channels = [rows * cols, (rows + cols) / 2, (1 - cols).expand(300, 400)]
    return (torch.stack(channels) * 255).round().to(torch.uint8)


@_exercise
def check_preprocessing(answer, backbone: str = "vit_small_patch16_224") -> Verdict:
    """Exercise: an eval transform (uint8 CHW image -> float tensor) that matches ``backbone``'s card."""


    card = get_card(backbone)
    hint = (f"read size, mean, std and interpolation from get_card({backbone!r}): its mean/std are "
            f"{card.mean}/{card.std}, not ImageNet's")
    passed = False
    if callable(answer):
        image = _test_image()
        expected = eval_transforms(card.input_size, card.mean, card.std, card.interpolation, card.crop_pct)(image)
        try:
            got = torch.as_tensor(answer(image.clone()), dtype=torch.float32)
            passed = got.shape == expected.shape and (got - expected).abs().mean().item() < 0.05
        except Exception:  # noqa: BLE001 - a learner's bug is a "not yet", not a crash
            passed = False
    return _verdict("preprocessing", passed, hint, answer)


def _is_number(answer) -> bool:
    return isinstance(answer, (int, float)) and not isinstance(answer, bool)


@_exercise
def check_trainable_count(answer, backbone: str = "efficientnet_lite0", last_stages: int = 2,
                          num_classes: int = 2) -> Verdict:
    """Exercise: trainable values of ``backbone`` with a new head and only its last ``last_stages`` stages unfrozen."""
    hint = (f"freeze everything, then set requires_grad=True on the head and on the last {last_stages} "
            "stages (backbone_stages(model)[-k:]); count p.numel() of the trainable parameters")
    passed = False
    if _is_number(answer):
        model = create_backbone(backbone, pretrained=False, num_classes=num_classes)
        freeze_backbone(model)
        unfreeze_backbone(model, last_stages=last_stages)
        passed = int(answer) == count_parameters(model, trainable_only=True)
    return _verdict("trainable_count", passed, hint, answer)


@_exercise
def check_stem_lr(answer, lr: float = 3e-4, layer_decay: float = 0.5, backbone: str = "efficientnet_lite0") -> Verdict:
    """Exercise: the learning rate of ``backbone``'s first stage (its stem) under discriminative rates."""
    hint = ("with S stages, stage i learns at lr * layer_decay ** (S - 1 - i); the stem is stage 0 "
            "(count the stages with len(backbone_stages(model)))")
    passed = False
    if _is_number(answer):
        model = create_backbone(backbone, pretrained=False, num_classes=2)
        stem = backbone_stages(model)[0][0]
        expected = next(g["lr"] for g in param_groups(model, lr, layer_decay=layer_decay)
                        if any(p is stem for p in g["params"]))
        passed = abs(answer - expected) <= 1e-3 * expected
    return _verdict("stem_lr", passed, hint, answer)


@_exercise
def check_recall(answer, matrix=None, classes=None, class_name: str = "bees") -> Verdict:
    """Exercise: the recall of ``class_name``, read from a confusion matrix (rows: true class)."""
    hint = (f"recall = correctly predicted {class_name} / all true {class_name}: the diagonal cell "
            "of its row over the row's sum")
    passed = False
    if _is_number(answer) and matrix is not None and classes is not None and class_name in classes:
        row = matrix[list(classes).index(class_name)]
        total = float(sum(row))
        expected = float(row[list(classes).index(class_name)]) / total if total else 0.0
        passed = abs(answer - expected) <= 1e-6
    return _verdict("recall", passed, hint, answer)


@_exercise
def check_pgd_step(answer, eps: float = 4 / 255, step_size: float = 1 / 255) -> Verdict:
    """Exercise: ``answer(pixels, start, grad, eps, step_size)`` is one PGD step in pixel space: a step
    along the gradient's sign, then back into the eps-ball around ``start`` and into [0, 1]."""
    hint = ("step: pixels + step_size * grad.sign(); project: clamp to [start - eps, start + eps] "
            "(torch.minimum / torch.maximum), then clamp to [0, 1]")
    passed = False
    if callable(answer):
        generator = torch.Generator().manual_seed(0)
        start = torch.rand(2, 3, 8, 8, generator=generator)
        start[0, 0, 0] = torch.tensor([0.0, 1.0, 0.5, 0.999, 0.001, 0.3, 0.7, 0.2])  # edges of [0, 1]
        pixels = (start + (2 * torch.rand(start.shape, generator=generator) - 1) * eps).clamp(0, 1)
        grad = torch.randn(start.shape, generator=generator)
        expected = torch.maximum(torch.minimum(pixels + step_size * grad.sign(), start + eps), start - eps).clamp(0, 1)
        try:
            mine = torch.as_tensor(answer(pixels.clone(), start.clone(), grad.clone(), eps, step_size))
            passed = mine.shape == expected.shape and bool(torch.allclose(mine.float(), expected, atol=1e-6))
        except Exception as exc:  # noqa: BLE001 - a learner's bug is a "not yet", not a crash
            hint = f"it raised {type(exc).__name__}: {exc}. Then: {hint}"
    return _verdict("pgd_step", passed, hint, answer)


@_exercise
def check_ece(answer, logits=None, targets=None, n_bins: int = 10) -> Verdict:
    """Exercise: the expected calibration error of ``logits`` with ``n_bins`` equal-width bins."""
    hint = (f"softmax, take each image's top probability (confidence) and whether it is right; put the "
            f"confidences in {n_bins} equal bins of [0, 1]; ECE = sum over bins of (images in bin / all) "
            "* |mean confidence - accuracy| in the bin")
    passed = False
    if _is_number(answer) and logits is not None and targets is not None:
        passed = abs(answer - expected_calibration_error(logits, targets, n_bins=n_bins)) <= 1e-4
    return _verdict("ece", passed, hint, answer)


@_exercise
def check_detector_threshold(answer, clean_scores=None, attacked_scores=None, max_fpr: float = 0.05) -> Verdict:
    """Exercise: the threshold (flag when score > threshold) that catches the most attacked images
    while flagging at most ``max_fpr`` of the clean ones."""
    hint = (f"sort the clean scores; flagging 'score > t' must flag at most {max_fpr:.0%} of them, so t is "
            "the clean score at that rank (or above); among such thresholds the lowest catches the most")
    passed = False
    if _is_number(answer) and clean_scores is not None and attacked_scores is not None:
        clean, attacked = (torch.as_tensor(s).detach().cpu().double() for s in (clean_scores, attacked_scores))
        allowed = int(max_fpr * len(clean))  # clean images that may be flagged
        # the best threshold is the (allowed+1)-th largest clean score: every score above it is flagged
        best = torch.sort(clean, descending=True).values[min(allowed, len(clean) - 1)]
        fpr = float((clean > answer).double().mean())
        caught, most = int((attacked > answer).sum()), int((attacked > best).sum())
        passed = fpr <= max_fpr and caught >= most
    return _verdict("detector_threshold", passed, hint, answer)


@_exercise
def check_iou(answer) -> Verdict:
    """Exercise: ``answer(boxes_a, boxes_b)`` is the N x M matrix of IoUs of XYXY boxes."""
    hint = ("broadcast: corners of the intersections are max of the top-lefts and min of the bottom-rights "
            "(a[:, None, :2] against b[None, :, :2]); clamp widths and heights at 0; "
            "IoU = inter / (area_a + area_b - inter)")
    passed = False
    if callable(answer):
        generator = torch.Generator().manual_seed(0)
        corners = torch.rand(7, 2, 2, generator=generator) * 100
        a = torch.cat([corners.min(1).values, corners.max(1).values + 1], 1)
        b = torch.cat([a[:3], torch.tensor([[200.0, 200, 210, 210], [0, 0, 50, 50], [50, 0, 100, 50]])])
        a = torch.cat([a, torch.tensor([[0.0, 0, 50, 50]])])  # touches b's last box: IoU 0
        try:
            mine = torch.as_tensor(answer(a.clone(), b.clone()))
            passed = mine.shape == (len(a), len(b)) and bool(torch.allclose(mine.float(), box_iou(a, b), atol=1e-5))
        except Exception as exc:  # noqa: BLE001 - a learner's bug is a "not yet", not a crash
            hint = f"it raised {type(exc).__name__}: {exc}. Then: {hint}"
    return _verdict("iou", passed, hint, answer)


@_exercise
def check_precision_threshold(answer, matches=None, target: float = 0.9) -> Verdict:
    """Exercise: the score threshold that keeps the most objects found while the kept predictions
    reach ``target`` precision (a prediction is kept when its score is at least the threshold)."""
    hint = (f"walk down the predictions from the most confident; after each, precision = true positives / kept; "
            f"the answer is the score of the last prediction at which precision is still >= {target}")
    passed = False
    if _is_number(answer) and matches is not None:
        best = threshold_for_precision(matches, target)
        precision, recall = precision_at(matches, float(answer))
        passed = best is not None and precision >= target and recall >= precision_at(matches, best)[1]
    return _verdict("precision_threshold", passed, hint, answer)


@_exercise
def check_detector_backbone(answer, lesson_backbone: str = "efficientnet_lite0", image_size: int = 128) -> Verdict:
    """Exercise: ``answer`` is a detector from ``build_detector`` on another catalog backbone than the
    lesson's, and it detects (in eval mode it returns boxes, labels and scores for an image)."""


    hint = ("tl.build_detector(<another name from tl.list_backbones()>, num_classes=2, min_size=...); "
            f"any backbone but {lesson_backbone}")
    passed = False
    if answer is not None:
        body = getattr(answer, "backbone", None)
        if not isinstance(body, TimmFPN):
            hint = f"that is not a detector from tl.build_detector (its .backbone is not a TimmFPN). {hint}"
        elif body.name == lesson_backbone:
            hint = f"it still uses {lesson_backbone}. {hint}"
        else:
            try:
                answer.eval()
                with torch.no_grad():
                    output = answer([torch.rand(3, image_size, image_size)])
                passed = isinstance(output, list) and {"boxes", "labels", "scores"} <= set(output[0])
            except Exception as exc:  # noqa: BLE001
                hint = f"running it on an image raised {type(exc).__name__}: {exc}"
    return _verdict("detector_backbone", passed, hint, answer)


@_exercise
def check_mfu(answer, images_per_s=None, flops_per_image=None, peak_flops=None) -> Verdict:
    """Exercise: the model FLOPs utilisation of a run: ``images_per_s`` training images per second,
    ``flops_per_image`` FLOPs per training image, on a device of ``peak_flops`` FLOP/s."""
    hint = ("achieved FLOP/s = images per second x FLOPs per image; MFU = achieved / peak, a fraction "
            "(0.05 for 5 %), not a percentage")
    passed = False
    if _is_number(answer) and None not in (images_per_s, flops_per_image, peak_flops):
        expected = float(images_per_s) * float(flops_per_image) / float(peak_flops)
        passed = abs(answer - expected) <= 1e-3 * abs(expected)
    return _verdict("mfu", passed, hint, answer)


@_exercise
def check_ensemble_accuracy(answer, probs=None, targets=None) -> Verdict:
    """Exercise: the accuracy of the ensemble that averages the class probabilities ``probs``
    (one ``[N, C]`` tensor per model) and predicts the most probable class."""
    hint = ("stack the models' probabilities, average them over the models (dim 0), take argmax over "
            "the classes, and compare with the targets; average the probabilities, not the votes")
    passed = False
    if _is_number(answer) and probs is not None and targets is not None:
        mean = torch.stack([torch.as_tensor(p).float().cpu() for p in probs]).mean(0)
        expected = (mean.argmax(1) == torch.as_tensor(targets).cpu()).float().mean().item()
        passed = abs(answer - expected) <= 1e-6
    return _verdict("ensemble_accuracy", passed, hint, answer)


@_exercise
def check_quantize_weight(answer) -> Verdict:
    """Exercise: ``answer(weight)`` quantizes a conv weight ``[out, in, k, k]`` to int8 with one
    symmetric scale per output channel and returns the dequantized float weight."""
    hint = ("per output channel: scale = max |w| / 127 (amax over dims 1, 2, 3, keepdim=True); "
            "q = round(w / scale) clamped to [-127, 127]; return q * scale")
    passed = False
    if callable(answer):
        weight = torch.randn(8, 4, 3, 3, generator=torch.Generator().manual_seed(0))
        weight[0] *= 100  # one loud channel: a single scale for the whole tensor would crush the others
        scale = weight.abs().amax(dim=(1, 2, 3), keepdim=True) / 127
        expected = (weight / scale).round().clamp(-127, 127) * scale
        try:
            mine = torch.as_tensor(answer(weight.clone())).float()
            passed = mine.shape == expected.shape and bool(torch.allclose(mine, expected, atol=1e-5, rtol=1e-5))
        except Exception as exc:  # noqa: BLE001 - a learner's bug is a "not yet", not a crash
            hint = f"it raised {type(exc).__name__}: {exc}. Then: {hint}"
    return _verdict("quantize_weight", passed, hint, answer)
