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


DEFAULT_STRATEGY = "full"  # measured on three datasets: see fine_tune's docstring


def fine_tune(data: Union[str, Path] = "hymenoptera", *, backbone: str = "efficientnet_lite0",
              strategy: Union[str, Strategy] = DEFAULT_STRATEGY, profile: Union[str, Profile] = "auto",
              epochs: Optional[int] = None, lr: Optional[float] = None, image_size: Optional[int] = None,
              val_fraction: float = 0.2, label_smoothing: float = 0.1, output: Union[str, Path, None] = None,
              seed: int = 0, progress: bool = True) -> FineTuneResult:
    """Fine-tune ``backbone`` on ``data`` with ``strategy``; optionally save a model file.

    The default recipe, ``full`` at the cpu profile's 192 px for 3 epochs, was chosen by measuring candidates on
    three datasets far apart, one call each (``scripts/measure_defaults.py``; cpu profile, 2 cores; validation
    accuracy of the kept epoch). On a quiet machine the one call took 213 s on the blood cells at 192 px for 3
    epochs and 268 s for 4, against the 4 minutes a practitioner should wait at most; hence 3:

        ===========================  ===========  ===========  ==================
        recipe                       hymenoptera  blood cells  glyphs (generated)
        ===========================  ===========  ===========  ==================
        discriminative, 224 px, 2    0.954        0.743        0.455
        full, 224 px, 3              0.941        0.912        not run
        full, 192 px, 3 (default)    0.941        0.905        not run
        full, 192 px, 4              0.941        0.932        0.885
        full, 160 px, 6              0.928        0.943        not run
        ===========================  ===========  ===========  ==================

    The old default (``discriminative``: gradual unfreezing with layer-wise rates) wins on ImageNet-like ants and
    bees but stalls far from ImageNet, where every layer must move; it stays a strategy (lesson 02 teaches it).
    Defaults this recipe hides (all come from the profile, the cards or the arguments):
        - images at the profile's ``finetune_image_size`` (None: the card's input size), within its
          ``train_images`` / ``val_images`` caps, with the card's preprocessing, decoded once;
        - a folder without a validation split: a seeded, stratified ``val_fraction`` of each class (``find_split``);
        - validation (and the saved model's predictions) at ``eval_size_for(size)``, about 1.15 times the training
          side, which offsets the zoom of random-resized-crop training;
        - augmentation: random resized crop of 35–100% of the image, horizontal flip; batch ``profile.batch_size``,
          shuffled in an order fixed by ``seed``;
        - the strategy's card: which stages train, BatchNorm mode, head ×10 rate, layer decay and gradual
          unfreezing (``list_strategies()``), and its suggested ``lr``;
        - ``fit``'s own defaults: AdamW, weight decay 0.05, one-cycle schedule, the best epoch kept; channels-last;
          cross-entropy with ``label_smoothing=0.1``;
        - with ``output``, a model file (weights, classes, backbone, image size, history, strategy, split and
          profile) written atomically, loadable with ``load_model``.
    Args:
        data: a dataset name (``list_datasets()``), your folder (``train/`` + ``val/``, ``valid/`` or ``test/``; or
            class folders alone) or a ``path,label[,split]`` CSV.
        profile: ``smoke``, ``cpu``, ``gpu``, ``auto`` or a ``Profile``.
        epochs, lr, image_size: override the profile's epochs and side and the strategy's learning rate.
        seed: seeds the subset, the shuffling and the initialisation. progress: print the plan and per-epoch lines.
    Raises:
        UnknownName: unknown backbone, strategy or profile.
        DatasetLayoutError, BadImage: problems with the images, naming the file and the fix.
        OfflineAssetMissing: the pretrained weights are neither on this machine nor downloadable.
    The CLI is ``python -m transfer_lessons finetune``.
    """
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    strategy = get_strategy(strategy)
    epochs, lr = epochs or profile.finetune_epochs, lr or strategy.lr
    size = image_size_for(backbone, image_size or profile.finetune_image_size)
    dataset = load_classification(data, backbone=backbone, image_size=size, eval_size=eval_size_for(size),
                                  train_images=profile.train_images, val_images=profile.val_images,
                                  val_fraction=val_fraction, seed=seed)
    train_loader, val_loader = make_loaders(dataset, profile.batch_size, num_workers=profile.num_workers)
    seed_everything(seed)  # a random-init (scratch) model is drawn here, before fit seeds again
    model = create_backbone(backbone, pretrained=strategy.pretrained, num_classes=len(dataset.classes),
                            progress=progress)
    if progress:
        print(f"fine_tune: {backbone} ({'ImageNet weights' if strategy.pretrained else 'random init'}) on "
              f"{dataset.source.name} ({dataset.source.source}): {len(dataset.train)} training / "
              f"{len(dataset.val)} validation images ({dataset.split['layout']}) of {len(dataset.classes)} classes "
              f"at {size} px; strategy {strategy.name!r} ({strategy.summary}); {epochs} epochs, "
              f"lr {lr:g}, batch {profile.batch_size}, profile {profile.name!r}")
    options = FitOptions(label_smoothing=label_smoothing, channels_last=True, profile=profile.as_dict())
    history = fit(model, train_loader, val_loader, epochs=epochs, lr=lr, strategy=strategy, options=options, seed=seed,
                  progress=progress)
    path = None
    if output is not None:
        path = save_model(output, model, backbone=backbone, classes=dataset.classes, image_size=eval_size_for(size),
                          extra={"history": history.to_dict(), "strategy": strategy.as_dict(), "split": dataset.split,
                                 "profile": profile.as_dict(), "data_source": dataset.source.source})
        if progress:
            print(f"fine_tune: saved {path}, the weights of epoch {history.kept_epoch} (load it with load_model, or: "
                  f"python -m transfer_lessons predict IMAGE --model {path})")
    return FineTuneResult(model, history, dataset, strategy, profile, path)
