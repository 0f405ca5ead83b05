"""Models: the backbone catalog and ``create_backbone``, which parameters train, fine-tuning strategies, detectors.

Weight files come through ``assets``; the data layer above reads the backbone cards to preprocess images.

Lessons: 00 and 01 (the catalog, ``create_backbone``), 02 (strategies, freezing, BatchNorm, ``param_groups``),
03 (``build_detector``, ``coco_detector``), 04 and 05 (``create_backbone``, strategies).
"""

from ._backbones import (CATALOG, IMAGENET_MEAN, IMAGENET_STD, BackboneCard, create_backbone, get_card, imagenet_labels,
                         list_backbones, weights_file)
from ._detectors import DETECTOR_KINDS, TimmFPN, build_detector, coco_detector
from ._params import (BN_MODES, backbone_parameters, backbone_stages, count_parameters, freeze_backbone,
                      head_parameters, param_groups, set_batchnorm_eval, train_mode, unfreeze_backbone,
                      unfreeze_for_epoch)
from ._strategies import STRATEGIES, Strategy, apply_strategy, get_strategy, list_strategies

__all__ = ["CATALOG", "IMAGENET_MEAN", "IMAGENET_STD", "BackboneCard", "create_backbone", "get_card", "imagenet_labels",
           "list_backbones", "weights_file", "DETECTOR_KINDS", "TimmFPN", "build_detector", "coco_detector",
           "BN_MODES", "backbone_parameters", "backbone_stages", "count_parameters", "freeze_backbone",
           "head_parameters", "param_groups", "set_batchnorm_eval", "train_mode", "unfreeze_backbone",
           "unfreeze_for_epoch", "STRATEGIES", "Strategy", "apply_strategy", "get_strategy", "list_strategies"]
