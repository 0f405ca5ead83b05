"""Transfer Lessons: the helper package of a course on transfer learning for computer vision.

The package is cut by concern into layers, each a subpackage; a layer imports only the ones below it
(an import-linter contract in ``pyproject.toml``, run by ``make test``), so each can be read and
tested on its own. From the bottom up:

    errors, runtime    one exception tree; environment, device, seeds, atomic writes, run profiles
    assets             datasets and weight files: cards, checksums, mirror -> cache -> download -> synthetic
    models             the backbone catalog and create_backbone, which parameters train, strategies, detectors
    data               images decoded once, preprocessed as a backbone's card says; datasets and loaders
    evaluation         predictions, metrics, frozen-feature probes, detection AP, calibration, robustness
    training           train_one_epoch, evaluate, fit, fine_tune, checkpoints, model files, DDP
    speed              timing, inference cost, training speed, utilisation (MFU), ONNX and int8
    recording, plots,  lesson support: results kept in the notebook and sentences built from them,
    widgets, exercises figures, interactive views with a headless fallback, automatic checks
    course             running lessons into reports, classroom editions, progress, doctor, the CLI

Why this order: ``data`` sits above ``models`` because preprocessing is part of a model (the data layer
reads each backbone's card, as timm's ``resolve_data_config`` does); ``evaluation`` sits below
``training`` because every epoch is scored with it; ``speed`` sits above ``training`` because it times
the same loop that trains. The whole API of each layer is its ``__all__``
(``tl.evaluation.pgd``, ``tl.plots.roc``, ``tl.exercises.check_iou``); modules named ``_like_this`` are
private. The names below are the ones a learner types in the first lessons and a practitioner needs for
their own data; everything else is one namespace away.
"""

from . import (assets, course, data, errors, evaluation, exercises, models, plots, recording, runtime, speed, training,
               widgets)
from .assets import list_datasets
from .course import doctor_report
from .data import load_classification, load_detection, make_detection_loaders, make_loaders, sample_photo
from .errors import TransferLessonsError
from .evaluation import evaluate_detector, predict_topk
from .models import (build_detector, count_parameters, create_backbone, get_card, get_strategy, imagenet_labels,
                     list_backbones, list_strategies)
from .recording import claim, headline, record, say
from .runtime import get_profile, pick_device, seed_everything
from .training import FitOptions, evaluate, fine_tune, fit, fit_detector, load_model, save_model, train_one_epoch

__version__ = "0.2.0"

__all__ = [
    # where and how a run happens
    "get_profile", "seed_everything", "pick_device",
    # data: yours, or the course's
    "list_datasets", "load_classification", "make_loaders", "load_detection", "make_detection_loaders",
    "sample_photo",
    # models
    "list_backbones", "get_card", "create_backbone", "imagenet_labels", "count_parameters", "list_strategies",
    "get_strategy", "build_detector",
    # using and measuring a model
    "predict_topk", "evaluate_detector",
    # training, and the one-call recipe
    "fit", "FitOptions", "train_one_epoch", "evaluate", "fine_tune", "save_model", "load_model", "fit_detector",
    # in a lesson
    "record", "say", "claim", "headline", "doctor_report",
    # errors (every one: tl.errors)
    "TransferLessonsError",
]
