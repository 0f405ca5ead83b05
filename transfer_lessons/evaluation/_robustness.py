"""Robustness of a classifier: adversarial attacks, attack detectors, corruptions.

Models take images normalised with their card's mean/std; attacks work in pixel space: de-normalise,
perturb, clamp to [0, 1], re-normalise, so ``eps`` is in pixel units (``4/255``: four grey levels).
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.functional.classification import binary_auroc
from torchvision.io import decode_jpeg, encode_jpeg
from torchvision.transforms.v2 import functional as TF

from ..errors import UnknownName


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """Eval mode inside, then each module's own mode back (``model.train()`` would undo set_batchnorm_eval)."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def _stats(mean: Sequence[float], std: Sequence[float], like: torch.Tensor):
    kwargs = {"dtype": like.dtype, "device": like.device}
    return torch.as_tensor(mean, **kwargs).view(1, -1, 1, 1), torch.as_tensor(std, **kwargs).view(1, -1, 1, 1)


def fgsm(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, eps: float, *,
         mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Fast Gradient Sign Method (Goodfellow et al., ICLR 2015): one ``eps`` step up the gradient's sign.

    ``images``: [N, 3, H, W], normalised with ``mean`` and ``std`` (the model's card); ``eps``: largest change per
    pixel, in pixel units (4/255). Returns adversarial images, normalised; ``eps=0`` gives an exact copy.
    """
    # FGSM is PGD's first step without the random start: one step of size eps from the clean image
    return pgd(model, images, targets, eps, mean=mean, std=std, steps=1, step_size=eps, random_start=False)


def pgd(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, eps: float, *,
        mean: Sequence[float], std: Sequence[float], steps: int = 10, step_size: Optional[float] = None,
        random_start: bool = True, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Projected Gradient Descent, L∞ (Madry et al., ICLR 2018): FGSM steps kept inside the eps-ball.

    As ``fgsm``, plus ``step_size``: pixel change per step (default ``2.5 * eps / steps``, Madry et al.'s rule);
    ``random_start``: begin at a uniform random point of the ball, drawn with ``generator`` for repeatability.
    The result is within ``eps`` of ``images`` and in [0, 1] in pixel space.
    """
    step_size = 2.5 * eps / max(steps, 1) if step_size is None else step_size
    if not 0 <= eps <= 1 or steps < 1 or (eps > 0 and step_size <= 0):
        raise ValueError(f"eps={eps}, steps={steps}, step_size={step_size}: eps must be in [0, 1], in pixel "
                         "units (write 4/255, not 4), steps >= 1 and step_size > 0.")
    if eps == 0:  # de- and re-normalising would move values by float rounding
        return images.detach().clone()
    mean_t, std_t = _stats(mean, std, images)
    start = pixels = images.detach() * std_t + mean_t
    if random_start:
        device = generator.device if generator is not None else start.device
        noise = torch.rand(start.shape, generator=generator, device=device).to(start.device, start.dtype)
        pixels = (start + (2 * noise - 1) * eps).clamp(0, 1)
    with _eval_mode(model):
        for _ in range(steps):
            pixels = pixels.detach().requires_grad_(True)
            loss = F.cross_entropy(model((pixels - mean_t) / std_t), targets)
            grad = torch.autograd.grad(loss, pixels)[0]  # unlike backward(), leaves parameters' .grad alone
            pixels = pixels.detach() + step_size * grad.sign()
            pixels = torch.maximum(torch.minimum(pixels, start + eps), start - eps).clamp(0, 1)
    return (pixels - mean_t) / std_t


def accuracy_under_attack(model: nn.Module, loader: Iterable, attack: Callable, eps_values: Sequence[float], *,
                          mean: Sequence[float], std: Sequence[float], device="cpu", **attack_kwargs) -> dict:
    """Accuracy on attacked images for each ``eps`` (pixel units, 0 for clean), in one pass over ``loader``.

    ``loader`` yields normalised ``(images, targets)`` batches, moved to ``device``; ``attack``: ``fgsm``, ``pgd``
    or alike, called with ``mean``, ``std`` and ``attack_kwargs`` (e.g. ``steps=20``). Raises: ValueError: no batch.
    """
    correct, seen = {eps: 0 for eps in eps_values}, 0
    for batch in loader:
        images, targets = batch[0].to(device), batch[1].to(device)
        seen += len(targets)
        for eps in eps_values:
            adversarial = attack(model, images, targets, eps, mean=mean, std=std, **attack_kwargs)
            with _eval_mode(model), torch.no_grad():
                correct[eps] += int((model(adversarial).argmax(1) == targets).sum())
    if seen == 0:
        raise ValueError("accuracy_under_attack: the loader gave no batch; check the dataset split.")
    return {eps: count / seen for eps, count in correct.items()}


def _median_filter(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """size x size median per channel; an even window takes the upper middle, as scipy's median_filter."""
    n, c, h, w = pixels.shape
    padded = F.pad(pixels, ((size - 1) // 2, size // 2, (size - 1) // 2, size // 2), mode="replicate")
    patches = F.unfold(padded, size).view(n, c, size * size, h * w)
    return patches.sort(dim=2).values[:, :, size * size // 2].view(n, c, h, w)


def squeeze_score(model: nn.Module, images: torch.Tensor, *, mean: Sequence[float], std: Sequence[float],
                  bits: Optional[int] = 4, median: Optional[int] = 2) -> torch.Tensor:
    """Feature-squeezing detector (Xu et al., NDSS 2018): how far the softmax moves on simpler inputs.

    A natural image's prediction barely changes when colours are cut to ``bits`` per channel (1..8) or it is
    median-filtered (a window of side ``median`` >= 2; None skips either squeezer); an adversarial one, tuned to
    tiny pixel changes, often does. Returns [N] L1 distances of the softmaxes, max over squeezers, in [0, 2];
    higher is more suspicious. Raises: ValueError: ``bits`` or ``median`` out of range, or both None.
    """
    if bits not in (None, *range(1, 9)) or not (median is None or median >= 2) or (bits, median) == (None, None):
        raise ValueError(f"squeeze_score: bits={bits}, median={median}; want bits in 1..8 and median >= 2 "
                         "(None skips that squeezer, but keep at least one squeezer).")
    mean_t, std_t = _stats(mean, std, images)
    pixels = (images.detach() * std_t + mean_t).clamp(0, 1)
    squeezed = [] if bits is None else [torch.round(pixels * (2 ** bits - 1)) / (2 ** bits - 1)]
    squeezed += [] if median is None else [_median_filter(pixels, median)]
    with _eval_mode(model), torch.no_grad():
        reference = model(images).softmax(1)
        distances = [(model((s - mean_t) / std_t).softmax(1) - reference).abs().sum(1) for s in squeezed]
    return torch.stack(distances).amax(0)


def noise_score(images: torch.Tensor, *, mean: Sequence[float], std: Sequence[float],
                quantile: float = 0.1) -> torch.Tensor:
    """Flat-region detector: the ``quantile`` of |Laplacian| over an image's pixels and channels.

    In a photo's flat regions (sky, a blurred background) the Laplacian, a pixel minus its four neighbours' mean,
    is nearly zero. An L∞ attack such as FGSM moves *every* pixel by up to eps, filling them with noise and raising
    the low quantiles (``quantile`` in (0, 1): low ones look at flat regions); edges and textures, which set the
    mean, hide it. Unlike ``squeeze_score`` it never runs the model: it detects the perturbation's fingerprint, so
    same-size random noise trips it too and a smooth perturbation evades it (lesson 05 measures both). Unusual
    pixel statistics of adversarial images: Hendrycks & Gimpel, *Early Methods for Detecting Adversarial Images*,
    ICLR workshop 2017. Returns [N] scores, in pixel units; higher is more suspicious.
    """
    if not 0 < quantile < 1:
        raise ValueError(f"noise_score: quantile={quantile}; use a number strictly between 0 and 1, e.g. 0.1.")
    if images.ndim != 4 or min(images.shape[-2:]) < 3:
        raise ValueError(f"noise_score: images of shape {tuple(images.shape)}; expected [N, C, H, W], H and W >= 3.")
    mean_t, std_t = _stats(mean, std, images)
    pixels = (images.detach().float() * std_t.float() + mean_t.float()).clamp(0, 1)
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], device=pixels.device) / 4
    channels = pixels.shape[1]
    laplacian = F.conv2d(F.pad(pixels, (1, 1, 1, 1), mode="replicate"),
                         kernel.view(1, 1, 3, 3).repeat(channels, 1, 1, 1), groups=channels)
    return laplacian.abs().flatten(1).quantile(quantile, dim=1)


def detector_scores(scores_clean, scores_attacked) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sets of detector scores as one [N + M] CPU tensor rescaled to [0, 1], and labels (1 = attacked).

    torchmetrics squashes scores outside [0, 1] with a sigmoid, which can tie large ones; a min-max rescale keeps
    the order, all that ROC curves and their area depend on. Used by ``roc_auc`` and ``plots.roc``.
    """
    clean, attacked = (torch.as_tensor(s).detach().cpu().double() for s in (scores_clean, scores_attacked))
    if clean.ndim != 1 or attacked.ndim != 1 or not len(clean) or not len(attacked):
        raise ValueError(f"detector scores of shape {tuple(clean.shape)} and {tuple(attacked.shape)}; "
                         "expected two non-empty 1-D tensors.")
    scores = torch.cat([clean, attacked])
    scores = (scores - scores.min()) / (scores.max() - scores.min()).clamp_min(1e-300)
    return scores, torch.cat([torch.zeros(len(clean)), torch.ones(len(attacked))]).long()


def roc_auc(scores_clean: torch.Tensor, scores_attacked: torch.Tensor) -> float:
    """Area under the ROC curve of a detector: P(attacked score > clean score), ties counting half.

    1.0 for perfect separation, 0.5 for chance, 0.0 when the detector is exactly backwards.
    Raises: ValueError: a set of scores is empty or not 1-D.
    """
    scores, labels = detector_scores(scores_clean, scores_attacked)
    return float(binary_auroc(scores, labels))


def _as_pixels(image: torch.Tensor, severity: int, caller: str) -> torch.Tensor:
    if isinstance(severity, bool) or not isinstance(severity, int) or not 1 <= severity <= 5:
        raise ValueError(f"{caller}: severity={severity!r}; use an integer from 1 (mild) to 5 (strong).")
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"{caller}: expected a [3, H, W] image tensor, got {getattr(image, 'shape', type(image))}.")
    if image.dtype == torch.uint8:
        return image.float() / 255
    if not image.is_floating_point() or image.min() < 0 or image.max() > 1:
        raise ValueError(f"{caller}: a {image.dtype} image with values in [{image.min()}, {image.max()}]; "
                         "pass uint8 or float pixels in [0, 1] (denormalize a normalised image first).")
    return image.float()


def _like(pixels: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    pixels = pixels.clamp(0, 1)
    return (pixels * 255).round().to(torch.uint8) if image.dtype == torch.uint8 else pixels.to(image.dtype)


# Severities 1..5 follow ImageNet-C (Hendrycks and Dietterich, ICLR 2019).
def _gaussian_noise(image, severity, generator=None):
    pixels, sigma = _as_pixels(image, severity, "gaussian_noise"), (0.08, 0.12, 0.18, 0.26, 0.38)[severity - 1]
    device = generator.device if generator is not None else pixels.device
    noise = torch.randn(pixels.shape, generator=generator, device=device).to(pixels.device)
    return _like(pixels + sigma * noise, image)


def _gaussian_blur(image, severity, generator=None):
    pixels, sigma = _as_pixels(image, severity, "gaussian_blur"), (1.0, 2.0, 3.0, 4.0, 6.0)[severity - 1]
    half = min(math.ceil(3 * sigma), min(pixels.shape[1:]) - 1)  # reflect padding must stay inside the image
    return _like(TF.gaussian_blur(pixels, [2 * half + 1] * 2, [sigma, sigma]), image)


def _jpeg(image, severity, generator=None):
    pixels, quality = _as_pixels(image, severity, "jpeg"), (25, 18, 15, 10, 7)[severity - 1]
    encoded = encode_jpeg((pixels * 255).round().to(torch.uint8).cpu(), quality=quality)
    return _like(decode_jpeg(encoded).float().to(pixels.device) / 255, image)


def _brightness(image, severity, generator=None):
    # ImageNet-C raises the HSV value; the same shift added to R, G and B is the simple version
    return _like(_as_pixels(image, severity, "brightness") + (0.1, 0.2, 0.3, 0.4, 0.5)[severity - 1], image)


# name -> function(image [3, H, W] uint8 or float in [0, 1], severity 1..5, generator=None) giving the
# same shape and dtype; only gaussian_noise draws random numbers (from ``generator``).
CORRUPTIONS = {"gaussian_noise": _gaussian_noise, "gaussian_blur": _gaussian_blur, "jpeg": _jpeg,
               "brightness": _brightness}


def corrupt(image: torch.Tensor, name: str, severity: int, generator: Optional[torch.Generator] = None):
    """Apply the common corruption ``name`` (a key of ``CORRUPTIONS``) at ``severity`` 1 (mild) .. 5 (strong).

    ``image``: one [3, H, W] image, uint8 or float pixels in [0, 1], not normalised; the result has its shape and
    dtype. ``generator`` makes the noise repeatable.
    Raises: UnknownName: an unknown ``name``. ValueError: a severity outside 1..5, or not a [3, H, W] pixel tensor.
    """
    if name not in CORRUPTIONS:
        raise UnknownName("corruption", name, CORRUPTIONS, f"CORRUPTIONS: {', '.join(sorted(CORRUPTIONS))}")
    return CORRUPTIONS[name](image, severity, generator=generator)
