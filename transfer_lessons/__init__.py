"""Transfer Lessons: the helper package of a course on transfer learning for computer vision.

The public API is the short list in ``__all__``; everything else is an implementation detail.
Start with ``create_backbone``, ``load_classification`` and ``fit``; every lesson notebook
shows the plain-PyTorch steps before it calls a helper.
"""

from .assets import AssetSource, DatasetCard, list_datasets, resolve_dataset
from .backbones import BackboneCard, create_backbone, get_card, imagenet_labels, list_backbones
from .cli import doctor_report
from .datasets import load_classification
from .detection_data import load_detection
from .errors import (AssetError, BadImage, ChecksumMismatch, DataError, DatasetLayoutError,
                     NonFiniteLoss, OfflineAssetMissing, TransferLessonsError, UnknownName,
                     UnsafeArchive)
from .exercises import check_cat_classes, check_normalize, check_top1_label
from .metrics import History
from .photos import SAMPLE_PHOTOS, predict_topk, sample_photo
from .plots import plot_history, show_images
from .profiles import PROFILES, Profile, get_profile
from .params import count_parameters, freeze_backbone, unfreeze_backbone
from .report import read_records, record, run_lessons, say
from .runtime import pick_device, seed_everything
from .train import evaluate, fit, train_one_epoch
from .widgets import photo_picker

__version__ = "0.1.0"

__all__ = [
    # assets and data
    "AssetSource", "DatasetCard", "list_datasets", "resolve_dataset",
    "load_classification", "load_detection",
    # backbones
    "BackboneCard", "create_backbone", "get_card", "imagenet_labels", "list_backbones",
    "SAMPLE_PHOTOS", "predict_topk", "sample_photo",
    # training
    "History", "count_parameters", "evaluate", "fit", "freeze_backbone", "train_one_epoch",
    "unfreeze_backbone",
    # profiles and runtime
    "PROFILES", "Profile", "get_profile", "pick_device", "seed_everything",
    # reports, plots, widgets, exercises
    "doctor_report", "read_records", "record", "run_lessons", "say",
    "plot_history", "show_images", "photo_picker",
    "check_cat_classes", "check_normalize", "check_top1_label",
    # errors
    "TransferLessonsError", "AssetError", "ChecksumMismatch", "OfflineAssetMissing",
    "UnsafeArchive", "DataError", "BadImage", "DatasetLayoutError", "NonFiniteLoss",
    "UnknownName",
]
