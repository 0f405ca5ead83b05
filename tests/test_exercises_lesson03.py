"""Lesson 03's exercise checks: the right answers pass, and each named wrong answer gets "not yet"."""

from __future__ import annotations

import pytest
import torch
from helpers import detection_scene
from torchvision.ops import box_iou

from transfer_lessons.evaluation import average_precision, match_detections
from transfer_lessons.exercises import check_average_precision, check_detector_backbone, check_iou
from transfer_lessons.models import build_detector

pytestmark = pytest.mark.usefixtures("one_thread")


def _not_yet(verdict) -> bool:
    return verdict.status == "failed" and "not yet" in repr(verdict)


def _iou_without_overlap_clamp(a, b):
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).prod(2)  # no clamp: disjoint boxes give a positive "intersection"
    area_a, area_b = (a[:, 2:] - a[:, :2]).prod(1), (b[:, 2:] - b[:, :2]).prod(1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def test_iou_check():
    assert check_iou(box_iou)
    wrong = {"half the IoU": lambda a, b: box_iou(a, b) * 0.5,
             "no clamp of disjoint overlaps": _iou_without_overlap_clamp,
             "union without subtracting the intersection": lambda a, b: 1 / (1 / box_iou(a, b).clamp(min=1e-9) + 1),
             "only the diagonal (N, not N x M)": lambda a, b: box_iou(a, b).diagonal(),
             "a crash": lambda a, b: 1 / 0}
    for name, answer in wrong.items():
        assert _not_yet(check_iou(answer)), name


def _ap(scores, is_tp, num_objects, *, sort=True, envelope=True, by_predictions=False):
    """COCO's AP, or one of the usual mistakes."""
    order = scores.argsort(descending=True, stable=True) if sort else torch.arange(len(scores))
    found = is_tp[order].double().cumsum(0)
    kept = torch.arange(1, len(found) + 1, dtype=torch.float64)
    precision, recall = found / kept, found / (len(found) if by_predictions else num_objects)
    if envelope:
        return average_precision(precision, recall)
    where = torch.searchsorted(recall.contiguous(), torch.linspace(0, 1, 101, dtype=recall.dtype))
    return float(torch.where(where < len(precision), precision[where.clamp(max=len(precision) - 1)], 0.0).mean())


def test_average_precision_check():
    predictions, targets = detection_scene(1)
    matches = match_detections(predictions, targets)
    assert check_average_precision(_ap) and check_average_precision(_ap, matches)
    wrong = {"not sorted by score": lambda s, t, n: _ap(s, t, n, sort=False),
             "precision not made non-increasing": lambda s, t, n: _ap(s, t, n, envelope=False),
             "recall over the predictions, not the objects": lambda s, t, n: _ap(s, t, n, by_predictions=True),
             "the share of true positives": lambda s, t, n: float(t.float().mean()),
             "a constant": lambda s, t, n: 0.5,
             "True": lambda s, t, n: True}
    for name, answer in wrong.items():
        assert _not_yet(check_average_precision(answer, matches)), name


def test_detector_backbone_check():
    assert not check_detector_backbone(build_detector("efficientnet_lite0", 2, pretrained=False, min_size=64,
                                                      trainable_levels=0)), "the lesson's own backbone"
    assert _not_yet(check_detector_backbone(build_detector("mobilenetv3_large_100", 2, pretrained=False, min_size=64),
                                            image_size=64)), "the exercise asks for a frozen backbone"
    assert _not_yet(check_detector_backbone(torch.nn.Linear(2, 2))), "not a detector"
    assert check_detector_backbone(build_detector("mobilenetv3_large_100", 2, pretrained=False, min_size=64,
                                                  trainable_levels=0), image_size=64)
