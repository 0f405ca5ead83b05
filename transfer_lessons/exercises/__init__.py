"""Exercises: the automatic checks at the end of every lesson. Each returns a verdict — "correct", "not yet" with
a hint (a nudge first, the method from the second try), or "not done yet" with what is expected — and records it;
it never raises, so an unsolved exercise does not stop a notebook. The solutions live in ``notebooks/solutions/``.

Lesson support, the highest of its layer: checks compute the expected answers with the package itself.
Lessons: all, 00 to 05, each checked by its own module ``_lessonNN.py``.
"""

from ._lesson00 import check_cat_classes, check_normalize, check_top1_label
from ._lesson01 import check_budget_pick, check_gflops, check_preprocessing
from ._lesson02 import check_recall, check_stem_lr, check_trainable_count
from ._lesson03 import check_average_precision, check_detector_backbone, check_iou
from ._lesson04 import check_ensemble_accuracy, check_mfu, check_quantize_weight
from ._lesson05 import check_detector_threshold, check_ece, check_pgd_step
from ._verdict import CHECKS, Verdict, exercise, is_number

__all__ = ["check_cat_classes", "check_normalize", "check_top1_label", "check_budget_pick", "check_gflops",
           "check_preprocessing", "check_recall", "check_stem_lr", "check_trainable_count", "check_detector_backbone",
           "check_iou", "check_average_precision", "check_ensemble_accuracy", "check_mfu", "check_quantize_weight",
           "check_detector_threshold", "check_ece", "check_pgd_step", "CHECKS", "Verdict", "exercise", "is_number"]
