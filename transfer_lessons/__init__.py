"""Transfer Lessons: the helper package of a course on transfer learning for computer vision.

The public API is the short list in ``__all__``; everything else is an implementation detail.
Start with ``create_backbone``, ``load_classification`` and ``fit``; every lesson notebook
shows the plain-PyTorch steps before it calls a helper.
"""

from .assets import AssetSource, DatasetCard, list_datasets, resolve_dataset
from .backbones import BackboneCard, create_backbone, get_card, imagenet_labels, list_backbones
from .benchmark import benchmark_backbone, describe_backbone, pareto_front
from .cli import doctor_report
from .datasets import load_classification
from .detection_data import load_detection
from .errors import (AssetError, BadImage, ChecksumMismatch, DataError, DatasetLayoutError,
                     NonFiniteLoss, OfflineAssetMissing, TransferLessonsError, UnknownName,
                     UnsafeArchive)
from .exercises import (check_budget_pick, check_cat_classes, check_gflops, check_normalize,
                        check_preprocessing, check_top1_label)
from .features import backbone_features, fit_linear_probe, knn_accuracy, zero_shot_accuracy
from .metrics import History
from .photos import SAMPLE_PHOTOS, predict_topk, sample_photo
from .plots import plot_feature_pca, plot_history, plot_tradeoff, show_feature_map, show_images, show_retrieval
from .profiles import PROFILES, Profile, get_profile
from .params import count_parameters, freeze_backbone, unfreeze_backbone
from .report import read_records, record, run_lessons, say
from .runtime import pick_device, seed_everything
from .train import evaluate, fit, train_one_epoch
from .widgets import backbone_explorer, photo_picker

__version__ = "0.1.0"

__all__ = [
    # assets and data
    "AssetSource", "DatasetCard", "list_datasets", "resolve_dataset",
    "load_classification", "load_detection",
    # backbones
    "BackboneCard", "create_backbone", "get_card", "imagenet_labels", "list_backbones",
    "SAMPLE_PHOTOS", "predict_topk", "sample_photo",
    # comparing backbones: measured features and costs
    "backbone_features", "fit_linear_probe", "knn_accuracy", "zero_shot_accuracy",
    "benchmark_backbone", "describe_backbone", "pareto_front",
    # training
    "History", "count_parameters", "evaluate", "fit", "freeze_backbone", "train_one_epoch",
    "unfreeze_backbone",
    # profiles and runtime
    "PROFILES", "Profile", "get_profile", "pick_device", "seed_everything",
    # reports, plots, widgets, exercises
    "doctor_report", "read_records", "record", "run_lessons", "say",
    "plot_history", "show_images", "plot_tradeoff", "plot_feature_pca", "show_retrieval",
    "show_feature_map", "photo_picker", "backbone_explorer",
    "check_cat_classes", "check_normalize", "check_top1_label",
    "check_gflops", "check_budget_pick", "check_preprocessing",
    # errors
    "TransferLessonsError", "AssetError", "ChecksumMismatch", "OfflineAssetMissing",
    "UnsafeArchive", "DataError", "BadImage", "DatasetLayoutError", "NonFiniteLoss",
    "UnknownName",
]
