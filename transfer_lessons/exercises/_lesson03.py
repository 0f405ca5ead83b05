from __future__ import annotations

import torch
from torchvision.ops import box_iou

from ..evaluation import average_precision
from ..models import TimmFPN
from ._verdict import exercise


@exercise("iou", "a function iou(boxes_a, boxes_b) returning the N x M IoU matrix of XYXY boxes",
          nudge="check the shape (N, M) and two boxes that only touch: their IoU is 0",
          method="corners of the intersections: max of the top-lefts and min of the bottom-rights, broadcast as "
                 "a[:, None, :2] against b[None, :, :2]; clamp widths and heights at 0; IoU = inter / (area_a + "
                 "area_b - inter)")
def check_iou(answer) -> bool:
    """Exercise: ``answer(boxes_a, boxes_b)`` is the N x M matrix of IoUs of XYXY boxes."""
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(7, 2, 2, generator=generator) * 100
    a = torch.cat([corners.min(1).values, corners.max(1).values + 1], 1)
    b = torch.cat([a[:3], torch.tensor([[200.0, 200, 210, 210], [0, 0, 50, 50], [50, 0, 100, 50]])])
    a = torch.cat([a, torch.tensor([[0.0, 0, 50, 50]])])  # touches b's last box: IoU 0
    mine = torch.as_tensor(answer(a.clone(), b.clone()))
    return mine.shape == (len(a), len(b)) and bool(torch.allclose(mine.float(), box_iou(a, b), atol=1e-5))


def _ap_cases(matches=None) -> list[tuple]:
    """``(scores, is_tp, num_objects)`` cases in no particular order: a dip in precision, misses, no hit at all,
    and the lesson's own predictions when given."""
    generator = torch.Generator().manual_seed(3)
    cases = []
    for n, objects in ((12, 10), (30, 18), (7, 9)):
        is_tp = torch.rand(n, generator=generator) < 0.6
        cases.append((torch.rand(n, generator=generator), is_tp, max(objects, int(is_tp.sum()))))
    cases.append((torch.tensor([0.9, 0.2, 0.6, 0.4]), torch.tensor([False, True, False, True]), 3))
    if matches is not None and len(matches.scores):
        order = torch.randperm(len(matches.scores), generator=generator)
        cases.append((matches.scores[order], matches.is_tp[order], matches.num_objects))
    return cases


@exercise("average_precision", "a function average_precision(scores, is_tp, num_objects) returning COCO's AP, "
          "a number between 0 and 1", nudge="sort the predictions by score first, and divide the true positives by "
          "the number of objects (recall) and by the number of predictions kept so far (precision)",
          method="after sorting: precision and recall after each prediction from cumsum(is_tp); make precision "
                 "non-increasing from the right (flip, cummax, flip); for each of the 101 recall levels 0, 0.01, ..., "
                 "1 read it at the first prediction whose recall reaches the level (0 where none does); average")
def check_average_precision(answer, matches=None) -> bool:
    """Exercise: ``answer(scores, is_tp, num_objects)`` is COCO's 101-point AP of predictions in any order."""
    for scores, is_tp, num_objects in _ap_cases(matches):
        order = scores.argsort(descending=True, stable=True)
        found = is_tp[order].double().cumsum(0)
        precision = found / torch.arange(1, len(found) + 1, dtype=torch.float64)
        expected = average_precision(precision, found / num_objects)
        mine = answer(scores.clone(), is_tp.clone(), num_objects)
        if isinstance(mine, bool) or abs(float(mine) - expected) > 1e-4:  # float(): a number or a 0-d tensor
            return False
    return True


@exercise("detector_backbone", "a detector from tl.build_detector on another catalog backbone, with that backbone "
          "frozen", nudge="check three things: it comes from tl.build_detector, its backbone is not the lesson's, "
                          "and no backbone parameter has requires_grad",
          method="section 6 froze the backbone with one argument of tl.build_detector; pass it with another name "
                 "from tl.list_backbones()")
def check_detector_backbone(answer, lesson_backbone: str = "efficientnet_lite0", image_size: int = 128) -> bool:
    """Exercise: a detector on another backbone than the lesson's, backbone frozen, that detects in eval mode."""
    body = answer.backbone
    if not isinstance(body, TimmFPN) or body.name == lesson_backbone:
        return False
    if any(p.requires_grad for p in body.body.parameters()):  # the exercise asks for a frozen backbone
        return False
    answer.eval()
    with torch.no_grad():
        output = answer([torch.rand(3, image_size, image_size)])
    return isinstance(output, list) and {"boxes", "labels", "scores"} <= set(output[0])
