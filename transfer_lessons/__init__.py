"""Transfer Lessons: the helper package of a course on transfer learning for computer vision.

The public API is the short list in ``__all__``; everything else is an implementation detail.
Start with ``create_backbone``, ``load_classification`` and ``fit``; every lesson notebook
shows the plain-PyTorch steps before it calls a helper.
"""

from .assets import AssetSource, DatasetCard, list_datasets, resolve_dataset
from .backbones import BackboneCard, create_backbone, get_card, imagenet_labels, list_backbones
from .benchmark import benchmark_backbone, describe_backbone, pareto_front
from .cli import doctor_report
from .datasets import fraction_subset, load_classification, make_loaders, with_transform
from .detection import build_detector, coco_detector
from .detection_data import load_detection, make_detection_loaders
from .detection_eval import (average_precision, match_detections, missed_objects, precision_at, precision_recall,
                             threshold_for_precision)
from .detection_viz import draw_boxes, plot_iou_histogram, plot_pr_curves, show_detections
from .detection_train import detector_latency, evaluate_detector, fit_detector, train_detector_one_epoch
from .errors import (AssetError, BadImage, ChecksumMismatch, DataError, DatasetLayoutError,
                     NonFiniteLoss, OfflineAssetMissing, TransferLessonsError, UnknownName,
                     UnsafeArchive)
from .exercises import (check_budget_pick, check_cat_classes, check_detector_threshold, check_ece, check_pgd_step,
                        check_gflops, check_normalize, check_preprocessing, check_recall, check_stem_lr,
                        check_top1_label, check_trainable_count, check_iou, check_precision_threshold,
                        check_detector_backbone, check_ensemble_accuracy, check_mfu, check_quantize_weight)
from .deploy import export_onnx, onnx_accuracy, onnx_latency, quantize_onnx
from .finetune import FineTuneResult, fine_tune
from .interpret import confident_mistakes, confusion_matrix, grad_cam, per_class_report
from .lr_finder import lr_find
from .model_file import LoadedModel, load_model, save_model
from .features import backbone_features, fit_linear_probe, knn_accuracy, zero_shot_accuracy
from .metrics import History
from .photos import SAMPLE_PHOTOS, predict_topk, sample_photo
from .calibration import apply_temperature, expected_calibration_error, fit_temperature, reliability_bins
from .robustness import (CORRUPTIONS, accuracy_under_attack, corrupt, fgsm, noise_score, pgd, roc_auc, squeeze_score,
                         unsafe_pickle_demo)
from .galleries import show_cam, show_feature_map, show_images, show_retrieval
from .plots import (bar_chart, plot_confusion_matrix, plot_data_efficiency, plot_feature_pca, plot_histories, plot_history,
                    plot_attack_curves, plot_lr_find, plot_lr_schedule, plot_reliability, plot_roc, plot_tradeoff)
from .profiles import PROFILES, Profile, get_profile
from .params import count_parameters, freeze_backbone, param_groups, unfreeze_backbone
from .schedules import make_scheduler, preview_schedule
from .speedups import measure_throughput, speed_ladder
from .strategies import STRATEGIES, Strategy, apply_strategy, get_strategy, list_strategies
from .report import read_records, record, run_lessons, say
from .runtime import pick_device, seed_everything
from .train import evaluate, fit, train_one_epoch
from .widgets import backbone_explorer, detection_explorer, filter_detections, photo_picker, upload_predictor

__version__ = "0.1.0"

__all__ = [
    # assets and data
    "AssetSource", "DatasetCard", "list_datasets", "resolve_dataset",
    "load_classification", "load_detection", "make_loaders", "fraction_subset", "with_transform",
    # detection (lesson 03)
    "build_detector", "coco_detector", "fit_detector", "evaluate_detector",
    "train_detector_one_epoch", "detector_latency", "make_detection_loaders", "match_detections", "precision_recall", "average_precision",
    "precision_at", "threshold_for_precision", "missed_objects", "draw_boxes", "show_detections", "plot_pr_curves",
    "plot_iou_histogram", "detection_explorer", "filter_detections",
    # backbones
    "BackboneCard", "create_backbone", "get_card", "imagenet_labels", "list_backbones",
    "SAMPLE_PHOTOS", "predict_topk", "sample_photo",
    # comparing backbones: measured features and costs
    "backbone_features", "fit_linear_probe", "knn_accuracy", "zero_shot_accuracy",
    "benchmark_backbone", "describe_backbone", "pareto_front",
    # training
    "History", "count_parameters", "evaluate", "fit", "freeze_backbone", "train_one_epoch",
    "unfreeze_backbone", "param_groups", "make_scheduler", "preview_schedule", "lr_find",
    "Strategy", "STRATEGIES", "apply_strategy", "get_strategy", "list_strategies",
    "FineTuneResult", "fine_tune",
    # evaluating, saving and using a fine-tuned model
    "confusion_matrix", "per_class_report", "confident_mistakes", "grad_cam",
    "LoadedModel", "load_model", "save_model",
    # robustness, attacks and calibration (lesson 05)
    "fgsm", "pgd", "accuracy_under_attack", "squeeze_score", "noise_score", "roc_auc", "CORRUPTIONS", "corrupt",
    "unsafe_pickle_demo", "expected_calibration_error", "reliability_bins", "fit_temperature", "apply_temperature",
    # optimization: speed, deployment (lesson 04)
    "measure_throughput", "speed_ladder", "export_onnx", "quantize_onnx", "onnx_accuracy", "onnx_latency",
    # profiles and runtime
    "PROFILES", "Profile", "get_profile", "pick_device", "seed_everything",
    # reports, plots, widgets, exercises
    "doctor_report", "read_records", "record", "run_lessons", "say",
    "plot_history", "show_images", "plot_tradeoff", "plot_feature_pca", "show_retrieval",
    "show_feature_map", "photo_picker", "backbone_explorer", "upload_predictor",
    "bar_chart", "plot_histories", "plot_data_efficiency", "plot_lr_schedule", "plot_lr_find", "plot_confusion_matrix",
    "show_cam", "plot_attack_curves", "plot_roc", "plot_reliability",
    "check_cat_classes", "check_normalize", "check_top1_label",
    "check_gflops", "check_budget_pick", "check_preprocessing", "check_trainable_count", "check_stem_lr",
    "check_recall", "check_pgd_step", "check_ece", "check_detector_threshold",
    "check_iou", "check_precision_threshold", "check_detector_backbone",
    "check_mfu", "check_ensemble_accuracy", "check_quantize_weight",
    # errors
    "TransferLessonsError", "AssetError", "ChecksumMismatch", "OfflineAssetMissing",
    "UnsafeArchive", "DataError", "BadImage", "DatasetLayoutError", "NonFiniteLoss",
    "UnknownName",
]
