"""Detectors built on a catalog backbone: a timm backbone under a feature pyramid and torchvision's heads.

``"fasterrcnn"`` (default) has two stages — a region proposal network, then RoI-aligned box classification and
regression; it is the head of torchvision's detection tutorial and of the course's reference numbers, and it transfers
well from few images, because its second stage sees a fixed-size crop of features per proposal whatever the object's
size. ``"fcos"`` is one stage, anchor-free — every feature-map location predicts a box directly: simpler, with no
anchor sizes to choose, but it needs more training to match Faster R-CNN on small sets. A third level of transfer, the
whole COCO-pretrained detector with a new box predictor, is ``coco_detector``; its weights come through the asset layer
like every other download.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Sequence

import torch
from torch import nn
from torchvision.models.detection import FCOS, FasterRCNN, fasterrcnn_mobilenet_v3_large_fpn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from ..assets import resolve_weights_file
from ..errors import UnknownName
from ._backbones import create_backbone, get_card

DETECTOR_KINDS = ("fasterrcnn", "fcos")


class TimmFPN(nn.Module):
    """A catalog backbone's intermediate feature maps, through a feature pyramid network.

    ``forward(images)`` returns an ``OrderedDict`` of maps with ``out_channels`` channels each: ``"0"``, ``"1"``, ...
    from fine to coarse, then ``"pool"`` (a max-pooled coarsest level), as torchvision's detection heads expect.
    Args:
        levels: timm's ``feature_info`` levels to use (default: the last three, strides 8, 16, 32 for most backbones).
        trainable_levels: how many backbone levels, counted from the coarsest, keep ``requires_grad``; None trains all,
            0 freezes the backbone (the FPN always trains).
    """

    def __init__(self, name: str, pretrained: bool = True, levels: Optional[Sequence[int]] = None,
                 out_channels: int = 96, trainable_levels: Optional[int] = None):
        super().__init__()
        self.name = name
        self.body = create_backbone(name, pretrained=pretrained, num_classes=0, progress=False)
        info = self.body.feature_info  # timm: one dict per level (channels, reduction, module)
        self.levels = list(levels) if levels is not None else list(range(len(info)))[-3:]
        # drop what the pyramid never reads (classifier head, blocks after the last level)
        self.body.prune_intermediate_layers(self.levels, prune_norm=True, prune_head=True)
        channels = [info[i]["num_chs"] for i in self.levels]
        self.fpn = FeaturePyramidNetwork(channels, out_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = out_channels
        self.strides = [info[i]["reduction"] for i in self.levels]
        if trainable_levels is not None:
            self._freeze(info, trainable_levels)

    def _freeze(self, info, trainable_levels: int) -> None:
        self.body.requires_grad_(False)
        if trainable_levels <= 0:
            return
        first = info[max(len(info) - trainable_levels, 0)]["module"]  # e.g. "blocks.3"
        modules = list(self.body.named_modules())  # parents before their children
        start = next((i for i, (name, _) in enumerate(modules) if name == first), 0)
        for _, module in modules[start:]:
            module.requires_grad_(True)

    def forward(self, images: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        maps = self.body.forward_intermediates(images, indices=self.levels, intermediates_only=True)
        return self.fpn(OrderedDict((str(i), m) for i, m in enumerate(maps)))


def build_detector(backbone: str = "efficientnet_lite0", num_classes: int = 2, *, kind: str = "fasterrcnn",
                   pretrained: bool = True, trainable_levels: Optional[int] = None, min_size: int = 320,
                   max_size: Optional[int] = None, fpn_channels: int = 96, test_proposals: int = 300) -> nn.Module:
    """A torchvision detector whose backbone is a catalog backbone under a feature pyramid.

    Args:
        num_classes: including the background (PennFudan: 2). kind: see the module docstring for which and why.
        trainable_levels: backbone levels that train, from the coarsest; 0 = frozen backbone (as in ``TimmFPN``).
        min_size, max_size: each image's shorter side is resized to ``min_size``, its longer side at most ``max_size``
            (default ``2 * min_size``). fpn_channels: pyramid channels (small keeps it fast on a CPU).
        test_proposals: regions the RPN passes to the second stage per image at inference (Faster R-CNN only). The
            second stage runs once per region, so this is a speed knob that needs no retraining: load a trained
            detector's weights into one built with fewer.
    Returns: ``model(images, targets)`` gives losses in training mode, ``model(images)`` a list of ``{"boxes",
        "labels", "scores"}`` in eval mode.
    Raises: UnknownName: ``kind`` or ``backbone`` is unknown. OfflineAssetMissing: weights offline.
    """
    if kind not in DETECTOR_KINDS:
        raise UnknownName("detector kind", kind, DETECTOR_KINDS, "transfer_lessons.models.DETECTOR_KINDS")
    card = get_card(backbone)
    body = TimmFPN(backbone, pretrained=pretrained, out_channels=fpn_channels, trainable_levels=trainable_levels)
    # one anchor size per pyramid level (+ the pooled one): 4 times its stride, i.e. 32..256 pixels
    # for strides 8..64 — torchvision's 32..512 scaled to images of ~320 rather than 800 pixels
    sizes = tuple((4 * s,) for s in (*body.strides, 2 * body.strides[-1]))
    common = dict(min_size=min_size, max_size=max_size or 2 * min_size, image_mean=list(card.mean),
                  image_std=list(card.std))
    if kind == "fcos":
        anchors = AnchorGenerator(sizes, ((1.0,),) * len(sizes))  # FCOS: one "anchor" = one location
        return FCOS(body, num_classes=num_classes, anchor_generator=anchors, **common)
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    pooler = MultiScaleRoIAlign(featmap_names=[str(i) for i in range(len(body.levels))], output_size=7,
                                sampling_ratio=2)
    # Fewer proposals and RoI samples than torchvision's defaults (2000 proposals, 512 RoIs per
    # image), which are sized for COCO's 80 classes at 800 px. Measured on PennFudan (lite0, 256 px,
    # batch 4, 2 CPU cores): with these, ~48 s per epoch and AP50 0.46 / 0.78 / 0.82 after epochs
    # 1-3 (0.87 after 5); with torchvision's, ~94 s per epoch and AP50 0.38 / 0.64 / 0.69.
    return FasterRCNN(body, num_classes=num_classes, rpn_anchor_generator=anchors, box_roi_pool=pooler,
                      rpn_pre_nms_top_n_train=1000, rpn_post_nms_top_n_train=500, rpn_pre_nms_top_n_test=500,
                      rpn_post_nms_top_n_test=test_proposals, box_batch_size_per_image=128, **common)


def coco_detector(num_classes: int = 2, *, pretrained: bool = True, min_size: int = 320,
                  progress: bool = True) -> nn.Module:
    """Whole-detector transfer: torchvision's COCO-trained Faster R-CNN with a new box predictor.

    All but the last layer (the 91-class box predictor) keep their COCO training; the new predictor has ``num_classes``
    outputs. The weights come through the asset layer (mirror ``weights/``, then the cache, then a checked download), so
    a classroom mirror serves them too. ``pretrained=False`` builds the same model untrained (tests, offline machines).
    Raises: OfflineAssetMissing: weights neither local nor downloadable. ChecksumMismatch: not torchvision's file.
    """
    model = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=91,
                                              min_size=min_size, max_size=2 * min_size)
    if pretrained:  # checked against torchvision's sha256 prefix (the COCO weights card)
        path, _ = resolve_weights_file("coco_detector", progress=progress)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    features = model.roi_heads.box_predictor.cls_score.in_features
    model.roi_heads.box_predictor = FastRCNNPredictor(features, num_classes)
    return model

