"""Detection metrics by hand: match predictions to objects, then precision, recall and AP.

Written out so the lesson can show what mAP is made of; ``evaluate_detector`` (torchmetrics, pycocotools
backend, the ``detection`` extra) stays the reference, and the lesson checks that the two agree.
Matching is COCO's: per image, predictions go from the most confident down, each claiming the unclaimed
object it overlaps most if that IoU reaches the threshold; otherwise it is a false positive. AP is the area under
the precision-recall curve, read at 101 recall levels after making precision non-increasing (each point takes
the best precision at any higher recall: COCO's interpolation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import torch
from torchvision.ops import box_iou, nms
from tqdm.auto import tqdm

from ..runtime import require


@dataclass
class Matches:
    """Every prediction of a test set, most confident first, and whether it found an object.

    ``scores`` and ``is_tp`` are aligned (one entry per prediction, highest score first); ``ious``: each true
    positive's IoU with its object; ``best_iou``: per image, each object's best IoU with any prediction (0 if none).
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

    ``predictions``: per image ``{"boxes", "scores"}`` (XYXY pixels), as a detector returns them; ``targets``: per
    image ``{"boxes"}``, same order; ``max_detections``: most confident predictions kept per image (COCO: 100).
    One class only (all labels are treated alike, as in PennFudan).
    """
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
    """Precision and recall after each prediction, most confident first, and its score (three 1-D tensors).

    Keeping the predictions scored at least ``scores[k]`` gives ``precision[k]`` and ``recall[k]``.
    """
    true_positives = matches.is_tp.double().cumsum(0)
    kept = torch.arange(1, len(matches.is_tp) + 1, dtype=torch.float64)
    recall = true_positives / max(matches.num_objects, 1)
    return true_positives / kept, recall, matches.scores


def average_precision(precision: torch.Tensor, recall: torch.Tensor, levels: int = 101) -> float:
    """Area under the precision-recall curve, COCO style (see the module docstring).

    Read at ``levels`` recall values 0, 0.01, ..., 1; a level no prediction reaches counts as precision 0.
    """
    if len(precision) == 0:
        return 0.0
    envelope = precision.flip(0).cummax(0).values.flip(0)
    where = torch.searchsorted(recall.contiguous(), torch.linspace(0, 1, levels, dtype=recall.dtype), right=False)
    read = torch.where(where < len(envelope), envelope[where.clamp(max=len(envelope) - 1)], torch.zeros(()))
    return float(read.mean())


def missed_objects(predictions: Sequence[dict], targets: Sequence[dict], score_threshold: float = 0.5,
                   iou_threshold: float = 0.5) -> list[int]:
    """Per image, how many objects no kept prediction (score >= ``score_threshold``) found."""
    kept = [{"boxes": p["boxes"][p["scores"] >= score_threshold], "scores": p["scores"][p["scores"] >= score_threshold]}
            for p in predictions]
    matches = [match_detections([p], [t], iou_threshold=iou_threshold) for p, t in zip(kept, targets)]
    return [m.num_objects - int(m.is_tp.sum()) for m in matches]


def to_device(device, images, targets=None):
    """Detection images (a list) and their targets (dicts), moved to ``device``."""
    images = [image.to(device) for image in images]
    if targets is None:
        return images
    return images, [{k: (v.to(device) if torch.is_tensor(v) else v) for k, v in t.items()} for t in targets]


@torch.inference_mode()
def evaluate_detector(model, loader, device, *, progress: bool = False, return_outputs: bool = False) -> dict:
    """COCO mAP of ``model`` over ``loader``: mAP@[.5:.95], AP50, AP75 and recall (100 detections).

    Returns ``{"map", "map_50", "map_75", "mar_100", "images", "seconds", "images_per_s"}`` (scores in [0, 1];
    -1 where COCO defines none), plus every prediction and target (CPU) as ``"predictions"``, ``"targets"`` when
    ``return_outputs``. Needs pycocotools (the ``detection`` extra).
    """
    require("pycocotools", "detection", "COCO mAP (evaluate_detector)")
    from torchmetrics.detection import MeanAveragePrecision  # needs pycocotools

    device = torch.device(device)
    model.eval()
    metric = MeanAveragePrecision(iou_type="bbox", backend="pycocotools")
    all_predictions, all_targets, seen, start = [], [], 0, time.perf_counter()
    for images, targets in tqdm(iter(loader), total=len(loader), disable=not progress, leave=False, desc="evaluate"):
        predictions = [{k: v.cpu() for k, v in p.items()} for p in model(to_device(device, images))]
        targets = [{"boxes": t["boxes"].cpu(), "labels": t["labels"].cpu()} for t in targets]
        metric.update(predictions, targets)
        seen += len(images)
        if return_outputs:
            all_predictions += predictions
            all_targets += targets
    seconds = time.perf_counter() - start
    scores = metric.compute()
    result = {k: float(scores[k]) for k in ("map", "map_50", "map_75", "mar_100")}
    result.update(images=seen, seconds=seconds, images_per_s=seen / seconds if seconds else 0.0)
    if return_outputs:
        result.update(predictions=all_predictions, targets=all_targets)
    return result


def filter_detections(raw: dict, score_threshold: float, nms_iou: float) -> dict:
    """A detector's two last steps by hand: drop boxes scored below ``score_threshold``, then NMS at ``nms_iou``."""
    keep = raw["scores"] >= score_threshold
    boxes, scores = raw["boxes"][keep], raw["scores"][keep]
    kept = nms(boxes.float(), scores.float(), nms_iou)
    return {"boxes": boxes[kept], "scores": scores[kept]}
