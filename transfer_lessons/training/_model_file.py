"""A fine-tuned model as one file: weights plus everything needed to use it again (classes, preprocessing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Union

import torch
from torch import nn

from ..data import open_rgb, transforms_for
from ..errors import BadImage, TransferLessonsError
from ..models import create_backbone, get_card
from ._checkpoint import load_checkpoint, save_checkpoint

MODEL_FORMAT = "transfer_lessons.model/1"  # the number changes when the file's keys do


def _as_image(image):
    """A PIL image or uint8 [3, H, W] tensor, from a PIL image, an image file's path or a tensor."""
    if isinstance(image, (str, Path)):
        return open_rgb(image)
    if isinstance(image, torch.Tensor):
        if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] not in (1, 3):
            raise BadImage(f"predict: expected a uint8 tensor [3, H, W], got {image.dtype} {list(image.shape)}.")
        return image.expand(3, -1, -1)  # grey [1, H, W] becomes three equal channels
    if hasattr(image, "convert"):
        return image.convert("RGB")
    raise TypeError(f"predict: expected a PIL image, a path or a uint8 tensor, got {type(image).__name__}.")


@dataclass
class LoadedModel:
    """A model read by ``load_model``, with its class names and its preprocessing."""

    model: nn.Module  # in eval mode, on the device given to load_model
    classes: list  # class names, in the order of the model's outputs
    backbone: str  # catalog name the model was built from
    image_size: int  # square input side, pixels
    transform: Callable  # PIL image or uint8 tensor -> normalised float32 [3, size, size]
    extra: dict = field(default_factory=dict)  # what save_model was given as extra

    def predict(self, image, k: Optional[int] = None) -> list[tuple[str, float]]:
        """``[(class name, probability), ...]`` of one image, best first; the top ``k`` (None: all).

        ``image``: a PIL image, the path of an image file, or a uint8 [3, H, W] tensor (else TypeError).
        Raises BadImage: the file cannot be decoded, or the tensor is not uint8 [3, H, W].
        """
        batch = self.transform(_as_image(image)).unsqueeze(0)
        self.model.eval()
        with torch.inference_mode():
            logits = self.model(batch.to(next(self.model.parameters()).device))
        probs = logits.float().softmax(dim=-1)[0].cpu()
        top = probs.topk(len(self.classes) if k is None else max(0, min(k, len(self.classes))))
        return [(self.classes[int(i)], float(p)) for p, i in zip(top.values, top.indices)]


def save_model(path: Union[str, Path], model: nn.Module, *, backbone: str, classes, image_size: int,
               extra: Optional[Mapping] = None) -> Path:
    """Write a model, its backbone name, class names and input size to one file, atomically.

    ``model``: built with ``create_backbone(backbone, ...)``, then fine-tuned (compiled is fine); ``classes`` in the
    order of its outputs; ``extra``: plain data to keep, e.g. ``{"val_acc": 0.95}``.
    Raises: UnknownName: unknown ``backbone``. TypeError: ``extra`` holds more than plain data.
    """
    get_card(backbone)  # an unknown name fails now, not when someone loads the file
    model = getattr(model, "_orig_mod", model)  # torch.compile's wrapper prefixes every key
    classes, image_size, outputs = [str(name) for name in classes], int(image_size), getattr(model, "num_classes", None)
    if not classes or image_size < 1 or outputs not in (None, len(classes)):
        raise ValueError(f"save_model: need at least one class, one per model output, and image_size >= 1; got "
                         f"{len(classes)} classes for {outputs} outputs, image_size={image_size}.")
    weights = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    return save_checkpoint(path, format=MODEL_FORMAT, backbone=backbone, classes=classes, image_size=image_size,
                           state_dict=weights, extra=dict(extra or {}))


def load_model(path: Union[str, Path], device="cpu") -> LoadedModel:
    """Read a file written by ``save_model``: the model (eval mode), its classes and preprocessing.

    Its ``transform`` is ``eval_transforms`` from the card, at the saved size.
    Raises: TransferLessonsError: not a model file, or weights unfit for its backbone. UnknownName: an unknown backbone.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}: check the path, or write one with save_model(...).")
    state = load_checkpoint(path)  # weights_only=True: a file holding Python objects is refused, never run
    if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
        found = (f"format {state.get('format')!r}, keys {sorted(map(str, state))[:8]}" if isinstance(state, dict)
                 else f"a {type(state).__name__}")
        raise TransferLessonsError(f"{path} is not a transfer_lessons model file ({MODEL_FORMAT!r}): found {found}. "
                                   "Write one with save_model(...); a fit() checkpoint has its weights under 'model'.")
    backbone, classes, size = state["backbone"], list(state["classes"]), int(state["image_size"])
    model = create_backbone(backbone, pretrained=False, num_classes=len(classes), progress=False)
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise TransferLessonsError(f"{path}: its weights do not fit {backbone} with {len(classes)} classes "
                                   f"({str(exc).splitlines()[0][:200]}). Save the model again.") from exc
    transform = transforms_for(backbone, size)
    return LoadedModel(model.to(device).eval(), classes, backbone, size, transform, dict(state.get("extra", {})))
