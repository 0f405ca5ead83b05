"""Evaluation: measuring a model (classification, frozen features, detection, calibration, robustness).

Below ``training``, which scores every epoch with it; above ``data`` and ``models``. Lessons:
    00  predict_topk
    01  frozen features, linear probe, k-NN, PCA, zero-shot
    02  confusion matrix, per-class report, confident mistakes, Grad-CAM
    03  matching, precision-recall, AP, NMS, evaluate_detector
    05  attacks, attack detectors, corruptions, calibration
"""

from ._calibration import apply_temperature, expected_calibration_error, fit_temperature, reliability_bins
from ._classification import accuracy, confident_mistakes, confusion_matrix, per_class_report, predict_topk
from ._detection import (Matches, average_precision, evaluate_detector, filter_detections, match_detections,
                         missed_objects, precision_recall, to_device)
from ._features import (FeatureSet, LinearProbe, backbone_features, clear_feature_cache, extract_features,
                        fit_linear_probe, imagenet_class_map, knn_accuracy, knn_predict, pca, zero_shot_accuracy,
                        zero_shot_predict)
from ._gradcam import grad_cam
from ._robustness import (CORRUPTIONS, accuracy_under_attack, corrupt, detector_scores, fgsm, noise_score, pgd, roc_auc,
                          squeeze_score)

__all__ = ["apply_temperature", "expected_calibration_error", "fit_temperature", "reliability_bins", "accuracy",
           "confident_mistakes", "confusion_matrix", "per_class_report", "predict_topk", "Matches", "average_precision",
           "evaluate_detector", "match_detections", "missed_objects", "precision_recall", "to_device", "FeatureSet",
           "LinearProbe", "backbone_features", "clear_feature_cache", "extract_features", "fit_linear_probe",
           "imagenet_class_map", "knn_accuracy", "knn_predict", "pca", "zero_shot_accuracy", "zero_shot_predict",
           "grad_cam", "filter_detections", "CORRUPTIONS", "accuracy_under_attack", "corrupt", "detector_scores",
           "fgsm", "noise_score", "pgd", "roc_auc", "squeeze_score"]
