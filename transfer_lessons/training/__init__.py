"""Training: the epoch loop, ``fit``, schedules, checkpoints, the learning-rate finder, ``fine_tune`` and model
files, detector training, and DDP (``training.distributed``, for scripts started by torchrun).

Above ``evaluation`` (every epoch is scored with it) and ``models`` (strategies say what trains).

Lessons: 00 (``fine_tune``), 02 (``fit``, the loop, ``lr_find``, schedules, model files), 03 (detector training),
04 (``fit``, ``distributed``), 05 (``fit``, ``evaluate``, ``save_model``).
"""

from ._checkpoint import load_checkpoint, restore_rng_states, rng_states, save_checkpoint
from ._detection import fit_detector, train_detector_one_epoch
from ._finetune import DEFAULT_STRATEGY, FineTuneResult, fine_tune
from ._fit import AMP_DTYPES, FitOptions, fit
from ._loop import evaluate, train_one_epoch
from ._lr_find import lr_find
from ._metrics import AverageMeter, History, MetricLogger, format_epoch
from ._model_file import MODEL_FORMAT, LoadedModel, load_model, save_model
from ._schedules import SCHEDULES, make_scheduler, preview_schedule

__all__ = ["load_checkpoint", "restore_rng_states", "rng_states", "save_checkpoint", "fit_detector",
           "train_detector_one_epoch", "DEFAULT_STRATEGY", "FineTuneResult", "fine_tune", "AMP_DTYPES", "FitOptions",
           "fit", "evaluate", "train_one_epoch", "lr_find", "AverageMeter", "History", "MetricLogger", "format_epoch",
           "MODEL_FORMAT", "LoadedModel", "load_model", "save_model", "SCHEDULES", "make_scheduler",
           "preview_schedule"]
