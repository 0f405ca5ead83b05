"""One call to fine-tune a catalog backbone on an ImageFolder and save it: ``fine_tune``.

Lesson 02 builds every step by hand; this module strings them together for a practitioner and prints its plan.
Like fastai's ``fine_tune`` it hides choices, so its docstring lists each one; unlike it, each is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from torch import nn

from ..data import ClassificationData, eval_size_for, image_size_for, load_classification, make_loaders
from ..models import Strategy, create_backbone, get_strategy
from ..runtime import Profile, get_profile, seed_everything
from ._fit import FitOptions, fit
from ._metrics import History
from ._model_file import save_model


@dataclass
class FineTuneResult:
    """What ``fine_tune`` returns: the trained model, its history, the data and where it was saved."""

    model: nn.Module
    history: History
    data: ClassificationData
    strategy: Strategy
    profile: Profile
    path: Optional[Path]

    @property
    def val_acc(self) -> Optional[float]:
        """Validation accuracy of the kept epoch (the best one)."""
        return self.history.kept().get("val_acc") if len(self.history) else None


def fine_tune(data: Union[str, Path] = "hymenoptera", *, backbone: str = "efficientnet_lite0",
              strategy: Union[str, Strategy] = "discriminative", profile: Union[str, Profile] = "auto",
              epochs: Optional[int] = None, lr: Optional[float] = None, label_smoothing: float = 0.1,
              output: Union[str, Path, None] = None, seed: int = 0, progress: bool = True) -> FineTuneResult:
    """Fine-tune ``backbone`` on ``data`` with ``strategy``; optionally save a model file.

    Defaults this recipe hides (all come from the profile, the cards or the arguments):
        - images at the profile's ``image_size`` (None: the card's input size), within its ``train_images`` /
          ``val_images`` caps, with the card's preprocessing, decoded once;
        - validation (and the saved model's predictions) at ``eval_size_for(size)``, about 1.15 times the training
          side, which offsets the zoom of random-resized-crop training;
        - augmentation: random resized crop of 35–100% of the image, horizontal flip; batch ``profile.batch_size``,
          shuffled in an order fixed by ``seed``;
        - the strategy's card: which stages train, BatchNorm mode, head ×10 rate, layer decay and gradual
          unfreezing (``list_strategies()``), and its suggested ``lr``;
        - ``fit``'s own defaults: AdamW, weight decay 0.05, one-cycle schedule, the best epoch kept; channels-last;
          cross-entropy with ``label_smoothing=0.1``;
        - with ``output``, a model file (weights, classes, backbone, image size, history, strategy and profile)
          written atomically, loadable with ``load_model``.
    Args:
        data: a dataset name (``list_datasets()``) or your folder with ``train/<class>/`` and ``val/<class>/`` images.
        backbone: a name from ``list_backbones()``. strategy: a name from ``list_strategies()`` or a ``Strategy``.
        profile: ``smoke``, ``cpu``, ``gpu``, ``auto`` or a ``Profile``.
        epochs, lr: override the profile's epochs and the strategy's learning rate.
        label_smoothing: passed to the loss. output: where to save the model file, or None.
        seed: seeds the subset, the shuffling and the initialisation. progress: print the plan and per-epoch lines.
    Returns:
        A ``FineTuneResult`` (``model``, ``history``, ``data``, ``strategy``, ``profile``, ``path``).
    Raises:
        UnknownName: unknown backbone, strategy or profile.
        DatasetLayoutError, BadImage: problems with the images, naming the file and the fix.
        OfflineAssetMissing: the pretrained weights are neither on this machine nor downloadable.
    Example:
        >>> result = fine_tune("path/to/my_images", strategy="discriminative", output="my_model.pt")
        >>> load_model("my_model.pt").predict("new_photo.jpg")
    Shown in lesson 02, *One call*; the CLI is ``python -m transfer_lessons finetune``.
    """
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    strategy = get_strategy(strategy)
    epochs, lr, size = epochs or profile.epochs, lr or strategy.lr, image_size_for(backbone, profile.image_size)
    dataset = load_classification(data, backbone=backbone, image_size=size, eval_size=eval_size_for(size),
                                  train_images=profile.train_images, val_images=profile.val_images, seed=seed)
    train_loader, val_loader = make_loaders(dataset, profile.batch_size, num_workers=profile.num_workers)
    seed_everything(seed)  # a random-init (scratch) model is drawn here, before fit seeds again
    model = create_backbone(backbone, pretrained=strategy.pretrained, num_classes=len(dataset.classes),
                            progress=progress)
    if progress:
        print(f"fine_tune: {backbone} ({'ImageNet weights' if strategy.pretrained else 'random init'}) on "
              f"{dataset.source.name} ({dataset.source.source}): {len(dataset.train)} training / "
              f"{len(dataset.val)} validation images of {len(dataset.classes)} classes at "
              f"{size} px; strategy {strategy.name!r} ({strategy.summary}); {epochs} epochs, "
              f"lr {lr:g}, batch {profile.batch_size}, profile {profile.name!r}")
    options = FitOptions(label_smoothing=label_smoothing, channels_last=True, profile=profile.as_dict())
    history = fit(model, train_loader, val_loader, epochs=epochs, lr=lr, strategy=strategy, options=options, seed=seed,
                  progress=progress)
    path = None
    if output is not None:
        path = save_model(output, model, backbone=backbone, classes=dataset.classes, image_size=eval_size_for(size),
                          extra={"history": history.to_dict(), "strategy": strategy.as_dict(),
                                 "profile": profile.as_dict(), "data_source": dataset.source.source})
        if progress:
            print(f"fine_tune: saved {path} (load it with load_model, or: python -m transfer_lessons "
                  f"predict IMAGE --model {path})")
    return FineTuneResult(model, history, dataset, strategy, profile, path)
