"""Exercises: the automatic checks at the end of every lesson. Each returns a verdict — "correct",
"not yet" with a hint, or "not done yet" — and records it; it never raises, so an unsolved exercise
does not stop a notebook. The solutions live apart, in ``notebooks/solutions/``.

Lesson support, the highest of its layer: checks compute the expected answers with the package itself.
"""

from ._checks import (CHECKS, Verdict, check_budget_pick, check_cat_classes, check_detector_backbone,
                      check_detector_threshold, check_ece, check_ensemble_accuracy, check_gflops, check_iou, check_mfu,
                      check_normalize, check_pgd_step, check_precision_threshold, check_preprocessing,
                      check_quantize_weight, check_recall, check_stem_lr, check_top1_label, check_trainable_count)

__all__ = ["CHECKS", "Verdict", "check_budget_pick", "check_cat_classes", "check_detector_backbone",
           "check_detector_threshold", "check_ece", "check_ensemble_accuracy", "check_gflops", "check_iou", "check_mfu",
           "check_normalize", "check_pgd_step", "check_precision_threshold", "check_preprocessing",
           "check_quantize_weight", "check_recall", "check_stem_lr", "check_top1_label", "check_trainable_count"]
