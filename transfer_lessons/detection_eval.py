"""Detection metrics by hand: match predictions to objects, then precision, recall and AP.

Written out once so the lesson can show what mAP is made of; ``evaluate_detector`` (torchmetrics
with the pycocotools backend) stays the reference, and the lesson checks that the two agree.
The matching is COCO's: in each image, predictions are taken from the most confident down, and
each one claims the not-yet-claimed object it overlaps most, if that overlap reaches the IoU
threshold; otherwise it is a false positive. AP is the area under the precision-recall curve,
read at 101 recall levels after making precision non-increasing (COCO's interpolation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

__all__ = ["Matches", "match_detections", "precision_recall", "average_precision", "threshold_for_precision",
           "precision_at", "missed_objects"]


@dataclass
class Matches:
    """Every prediction of a test set, most confident first, and whether it found an object.

    ``scores`` and ``is_tp`` are aligned (one entry per prediction, sorted by score, highest first);
    ``ious`` holds each true positive's IoU with its object; ``num_objects`` counts the objects;
    ``best_iou`` has, per image, each object's best IoU with any prediction (0 if none).
    """

    scores: torch.Tensor
    is_tp: torch.Tensor
    ious: torch.Tensor
    num_objects: int
    best_iou: list
    iou_threshold: float


def match_detections(predictions: Sequence[dict], targets: Sequence[dict], iou_threshold: float = 0.5,
                     max_detections: int = 100) -> Matches:
    """Match each image's predictions to its objects, COCO's way (see the module docstring).

    Args:
        predictions: per image ``{"boxes", "scores"}`` (XYXY pixels), as a detector returns them.
        targets: per image ``{"boxes"}``, the same images in the same order.
        iou_threshold: the overlap a prediction needs to count as finding an object.
        max_detections: most confident predictions kept per image (COCO: 100).
    Returns:
        ``Matches``. One class only (all labels are treated alike, as in PennFudan).
    Raises:
        ValueError: different numbers of predictions and targets.
    Example:
        >>> m = match_detections(outputs["predictions"], outputs["targets"])
        >>> average_precision(*precision_recall(m)[:2])  # doctest: +SKIP
    Shown in lesson 03, *Precision, recall and AP by hand*.
    """
    from torchvision.ops import box_iou

    if len(predictions) != len(targets):
        raise ValueError(f"match_detections: {len(predictions)} predictions for {len(targets)} images.")
    scores, is_tp, ious, best_iou, num_objects = [], [], [], [], 0
    for prediction, target in zip(predictions, targets):
        order = prediction["scores"].argsort(descending=True)[:max_detections]
        boxes, conf = prediction["boxes"][order].float(), prediction["scores"][order].float()
        objects = target["boxes"].float()
        num_objects += len(objects)
        overlap = box_iou(boxes, objects) if len(boxes) and len(objects) else torch.zeros(len(boxes), len(objects))
        best_iou.append(overlap.max(0).values if len(boxes) else torch.zeros(len(objects)))
        claimed = torch.zeros(len(objects), dtype=torch.bool)
        for row in range(len(boxes)):
            candidates = overlap[row].masked_fill(claimed, -1.0)
            found = len(objects) > 0 and bool(candidates.max() >= iou_threshold)
            if found:
                claimed[candidates.argmax()] = True
                ious.append(candidates.max())
            is_tp.append(found)
        scores.append(conf)
    all_scores = torch.cat(scores) if scores else torch.zeros(0)
    order = all_scores.argsort(descending=True, stable=True)
    return Matches(scores=all_scores[order], is_tp=torch.tensor(is_tp, dtype=torch.bool)[order],
                   ious=torch.stack(ious) if ious else torch.zeros(0), num_objects=num_objects,
                   best_iou=best_iou, iou_threshold=iou_threshold)


def precision_recall(matches: Matches) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precision and recall after each prediction, most confident first, and its score.

    Keeping the predictions scored at least ``scores[k]`` gives ``precision[k]`` and ``recall[k]``.
    Returns:
        ``(precision, recall, scores)``, three equally long 1-D tensors.
    Example:
        >>> precision, recall, scores = precision_recall(matches)
    Shown in lesson 03, *Precision, recall and AP by hand*.
    """
    true_positives = matches.is_tp.double().cumsum(0)
    kept = torch.arange(1, len(matches.is_tp) + 1, dtype=torch.float64)
    recall = true_positives / max(matches.num_objects, 1)
    return true_positives / kept, recall, matches.scores


def average_precision(precision: torch.Tensor, recall: torch.Tensor, levels: int = 101) -> float:
    """Area under the precision-recall curve, COCO style: precision made non-increasing (each
    point takes the best precision at any higher recall), then read at ``levels`` recall values
    0, 0.01, ..., 1 (a level no prediction reaches counts as precision 0), and averaged.

    Example:
        >>> average_precision(*precision_recall(matches)[:2])  # doctest: +SKIP
    Shown in lesson 03, *Precision, recall and AP by hand*.
    """
    if len(precision) == 0:
        return 0.0
    envelope = precision.flip(0).cummax(0).values.flip(0)
    where = torch.searchsorted(recall.contiguous(), torch.linspace(0, 1, levels, dtype=recall.dtype), right=False)
    read = torch.where(where < len(envelope), envelope[where.clamp(max=len(envelope) - 1)], torch.zeros(()))
    return float(read.mean())


def precision_at(matches: Matches, score_threshold: float) -> tuple[float, float]:
    """(precision, recall) when only predictions scored at least ``score_threshold`` are kept.

    With no prediction kept, precision is 1 (nothing claimed, nothing wrong) and recall 0.
    """
    kept = matches.scores >= score_threshold
    found = int(matches.is_tp[kept].sum())
    return (found / int(kept.sum()) if kept.any() else 1.0), found / max(matches.num_objects, 1)


def threshold_for_precision(matches: Matches, target: float) -> Optional[float]:
    """The lowest score threshold whose kept predictions reach ``target`` precision (so the most
    recall at that precision), or None if no threshold does.

    Example:
        >>> threshold_for_precision(matches, 0.9)  # doctest: +SKIP
    Shown in lesson 03, *Choosing an operating point*.
    """
    precision, _, scores = precision_recall(matches)
    # a threshold must keep all predictions with the same score: look only at the last of each tie
    last_of_tie = torch.ones_like(scores, dtype=torch.bool)
    last_of_tie[:-1] = scores[1:] != scores[:-1]
    ok = ((precision >= target) & last_of_tie).nonzero()
    return float(scores[ok[-1, 0]]) if len(ok) else None


def missed_objects(predictions: Sequence[dict], targets: Sequence[dict], score_threshold: float = 0.5,
                   iou_threshold: float = 0.5) -> list[int]:
    """Per image, how many objects no kept prediction (score >= ``score_threshold``) found.

    Example:
        >>> worst = sorted(range(len(targets)), key=missed_objects(predictions, targets).__getitem__)[-3:]
    Shown in lesson 03, *The worst misses*.
    """
    kept = [{"boxes": p["boxes"][p["scores"] >= score_threshold], "scores": p["scores"][p["scores"] >= score_threshold]}
            for p in predictions]
    counts = []
    for prediction, target in zip(kept, targets):
        matches = match_detections([prediction], [target], iou_threshold=iou_threshold)
        counts.append(matches.num_objects - int(matches.is_tp.sum()))
    return counts
