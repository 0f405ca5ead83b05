"""Classifier calibration: expected calibration error, reliability bins, temperature scaling.

Calibrated means confidence matches accuracy: of the images labelled with 80 % confidence, 80 % are right.
Fine-tuned networks are usually over-confident; temperature scaling (Guo et al., ICML 2017) divides the
logits by one number fitted on held-out images.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import multiclass_calibration_error


def _checked(logits, targets, caller: str):
    logits, targets = torch.as_tensor(logits).detach().double(), torch.as_tensor(targets).detach().long()
    if logits.ndim != 2 or targets.ndim != 1 or len(logits) != len(targets) or not len(targets):
        raise ValueError(f"{caller}: logits {tuple(logits.shape)} and targets {tuple(targets.shape)}; "
                         "expected logits [N, C] and targets [N], N > 0.")
    return logits, targets


def expected_calibration_error(logits: torch.Tensor, targets: torch.Tensor, n_bins: int = 15) -> float:
    """Expected calibration error (Guo et al., ICML 2017): |confidence - accuracy| averaged over bins.

    ``n_bins`` equal-width confidence bins on [0, 1], weighted by count (torchmetrics, norm "l1"); the result is in
    [0, 1], 0 when perfectly calibrated. Raises: ValueError: logits not [N, C] raw scores, or targets not [N].
    """
    logits, targets = _checked(logits, targets, "expected_calibration_error")
    # softmax here: torchmetrics skips its own when raw logits happen to lie in [0, 1]
    return float(multiclass_calibration_error(logits.softmax(1).float(), targets, num_classes=logits.shape[1],
                                              n_bins=n_bins, norm="l1"))


def reliability_bins(logits: torch.Tensor, targets: torch.Tensor, n_bins: int = 10) -> dict:
    """Per-bin mean confidence, accuracy and count: the numbers behind a reliability diagram.

    Bins are equal-width [a, b) on [0, 1], as torchmetrics'; a confidence of exactly 1 goes in the last bin.
    An empty bin's confidence and accuracy are NaN, so a plot leaves it blank. Raises: ValueError: bad shapes.
    """
    logits, targets = _checked(logits, targets, "reliability_bins")
    confidence, predicted = logits.softmax(1).float().max(1)
    edges = torch.linspace(0, 1, n_bins + 1)
    index = (torch.bucketize(confidence, edges, right=True) - 1).clamp(0, n_bins - 1)
    count = torch.bincount(index, minlength=n_bins).double()
    confidence_sum = torch.zeros(n_bins, dtype=torch.double).index_add_(0, index, confidence.double())
    hits = torch.zeros(n_bins, dtype=torch.double).index_add_(0, index, (predicted == targets).double())
    return {"edges": edges.tolist(), "confidence": (confidence_sum / count).tolist(),
            "accuracy": (hits / count).tolist(), "count": count.long().tolist()}


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Temperature scaling (Guo et al. 2017): the T > 0 minimising the NLL of ``logits / T``.

    LBFGS fits log T, so T stays positive. Dividing all logits by one number keeps every argmax, so accuracy is
    untouched. Fit on validation logits, never on the test set; T above 1 means the model was over-confident.
    """
    logits, targets = _checked(logits, targets, "fit_temperature")
    log_t = torch.zeros(1, dtype=torch.double, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=1.0, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_t.detach().exp())
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"fit_temperature: the fit gave T={temperature}; check that the logits are finite.")
    return temperature


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature``: softer probabilities for T > 1, the same predicted classes."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"apply_temperature: temperature={temperature}; it must be a positive number.")
    return logits / temperature
