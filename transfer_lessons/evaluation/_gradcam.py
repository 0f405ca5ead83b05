"""Grad-CAM (Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391): where in an image the evidence for a
class lies. Hand-written, because lesson 02 builds it step by step.
"""

from __future__ import annotations

from typing import Union

import torch
import torch.nn.functional as F
from torch import nn

from ._robustness import _eval_mode


def _forward_keeping_activations(model, images, layer):
    if layer is None:
        if not (hasattr(model, "forward_features") and hasattr(model, "forward_head")):
            raise ValueError(f"grad_cam: {type(model).__name__} is not a timm model (no forward_features "
                             f"/ forward_head); pass layer=, the module whose output to explain.")
        with torch.no_grad():  # only the head's gradient is needed: no graph through the backbone
            fmap = model.forward_features(images)
        activation = fmap.detach().requires_grad_()
        return model.forward_head(activation.clone()), activation
    layer = model.get_submodule(layer) if isinstance(layer, str) else layer
    captured = []

    def keep(module, inputs, output):
        if not isinstance(output, torch.Tensor):
            raise ValueError(f"grad_cam: layer {type(module).__name__} returns {type(output).__name__}, "
                             f"not a tensor; pick a layer with a single [N, K, h, w] output.")
        # A fresh leaf makes the gradient w.r.t. A computable even when the layers before
        # are frozen; the clone keeps A intact if a later ReLU works in place.
        captured.append(output.detach().requires_grad_())
        return captured[-1].clone()

    handle = layer.register_forward_hook(keep)
    try:
        logits = model(images)
    finally:
        handle.remove()
    if len(captured) != 1:
        raise ValueError(f"grad_cam: layer {type(layer).__name__} ran {len(captured)} times in one "
                         f"forward pass; pick a layer that runs exactly once.")
    return logits, captured[0]


def grad_cam(model: nn.Module, images: torch.Tensor, target: Union[None, int, torch.Tensor] = None,
             layer: Union[None, str, nn.Module] = None) -> torch.Tensor:
    """Grad-CAM: where in each image the evidence for a class lies, as a heat map.

    cam = relu(sum_k w_k A_k): A_k are the K maps (h × w) of ``layer``'s activations, w_k the spatial mean of the
    class score's gradient w.r.t. A_k; resized (bilinear) to the image and scaled to [0, 1] per image (a flat map
    becomes 0): a float32 CPU tensor ``[N, H, W]``. Runs in eval mode (BatchNorm running statistics, no dropout) and
    restores every module's train/eval flag; ``torch.autograd.grad`` touches no parameter's ``.grad``, and no hook
    is left. ``images``: ``[N, 3, H, W]``, normalised. ``target``: None = each image's predicted class, an int for
    all, or an ``[N]`` tensor. ``layer``: the module (or its dotted name, e.g. ``"layer4"``) whose ``[N, K, h, w]``
    output to explain; default for timm models: the output of ``forward_features``.
    Raises: RuntimeError: inside ``torch.inference_mode()`` (``torch.no_grad()`` is fine). ValueError:
    a bad shape or target, or no ``layer`` for a non-timm model.
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError("grad_cam needs gradients, which torch.inference_mode() disables; "
                           "call it outside that block (torch.no_grad() is fine).")
    if images.ndim != 4:
        raise ValueError(f"grad_cam: images {tuple(images.shape)} must be a batch [N, C, H, W]; "
                         f"use images.unsqueeze(0) for one image.")
    device = next(model.parameters(), torch.empty(0)).device
    images = images.to(device).clone()  # a plain copy: an inference-mode tensor cannot enter autograd
    if target is not None:
        target = torch.as_tensor(target).long()
        if target.ndim > 1 or target.numel() not in (1, len(images)):
            raise ValueError(f"grad_cam: target {tuple(target.shape)} does not fit {len(images)} images; "
                             f"give an int or one class index per image.")
    with _eval_mode(model), torch.enable_grad():  # per module: a BatchNorm kept in eval stays in eval
        logits, activation = _forward_keeping_activations(model, images, layer)
        target = logits.argmax(1) if target is None else target.to(logits.device).expand(len(images))
        if activation.ndim != 4 or not 0 <= int(target.min()) <= int(target.max()) < logits.shape[1]:
            raise ValueError(f"grad_cam: need an activation [N, K, h, w] (got {tuple(activation.shape)}; "
                             f"choose a conv layer) and targets in 0..{logits.shape[1] - 1}.")
        score = logits.gather(1, target[:, None]).sum()  # images are independent in eval mode
        (gradient,) = torch.autograd.grad(score, activation)
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activation.detach()).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    low = cam.amin(dim=(1, 2), keepdim=True)
    span = cam.amax(dim=(1, 2), keepdim=True) - low
    cam = torch.where(span > 0, (cam - low) / span.clamp_min(torch.finfo(cam.dtype).tiny), 0.0)
    return cam.float().cpu()

