"""Tests for transfer_lessons.models' detectors (the builder, COCO transfer, proposal budgets) and
evaluation.evaluate_detector's mAP. The detection training loop is tested in test_training_detection.py."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from transfer_lessons.assets import WEIGHTS
from transfer_lessons.data import collate_detection, load_detection
from transfer_lessons.errors import ChecksumMismatch, OfflineAssetMissing, UnknownName
from transfer_lessons.evaluation import evaluate_detector
from transfer_lessons.models import build_detector, coco_detector

pytestmark = pytest.mark.usefixtures("one_thread")
IMAGE = [torch.rand(3, 96, 128, generator=torch.Generator().manual_seed(0))]
TARGET = [{"boxes": torch.tensor([[10.0, 20.0, 60.0, 90.0]]), "labels": torch.tensor([1])}]


@pytest.mark.timeout(60)
def test_faster_rcnn_on_pretrained_lite0_trains_and_predicts():
    model = build_detector("efficientnet_lite0", num_classes=2, min_size=96)
    assert model.backbone.strides == [8, 16, 32] and model.backbone.out_channels == 96
    assert isinstance(model.backbone.body.conv_head, nn.Identity), "the unused classifier head should be pruned"
    losses = model.train()(IMAGE, TARGET)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    sum(losses.values()).backward()
    assert all(math.isfinite(v.item()) for v in losses.values())
    assert model.backbone.body.blocks[0][0].conv_dw.weight.grad is not None, "a trainable backbone gets gradients"
    predictions = model.eval()(IMAGE)
    assert set(predictions[0]) == {"boxes", "labels", "scores"} and predictions[0]["boxes"].shape[1] == 4


@pytest.mark.timeout(60)
def test_frozen_and_partly_trainable_backbones():
    def trainable(model):
        return sum(p.numel() for p in model.backbone.body.parameters() if p.requires_grad)

    frozen = build_detector("efficientnet_lite0", 2, trainable_levels=0, min_size=96)
    last = build_detector("efficientnet_lite0", 2, trainable_levels=1, min_size=96)
    full = build_detector("efficientnet_lite0", 2, min_size=96)
    assert trainable(frozen) == 0 < trainable(last) < trainable(full)
    assert all(p.requires_grad for p in frozen.backbone.fpn.parameters()), "the pyramid always trains"
    sum(frozen.train()(IMAGE, TARGET).values()).backward()
    assert all(p.grad is None for p in frozen.backbone.body.parameters())


@pytest.mark.timeout(60)
def test_fcos_and_another_catalog_backbone_build_and_run():
    fcos = build_detector("efficientnet_lite0", 2, kind="fcos", pretrained=False, min_size=96)
    assert set(fcos.train()(IMAGE, TARGET)) == {"classification", "bbox_regression", "bbox_ctrness"}
    resnet = build_detector("resnet18", 3, pretrained=False, min_size=96)
    assert resnet.backbone.strides == [8, 16, 32]
    assert resnet.roi_heads.box_predictor.cls_score.out_features == 3
    assert len(resnet.eval()(IMAGE)) == 1
    with pytest.raises(UnknownName, match="detector kind 'yolo'.*DETECTOR_KINDS"):
        build_detector("efficientnet_lite0", kind="yolo")


def test_coco_detector_replaces_the_box_predictor():
    model = coco_detector(num_classes=2, pretrained=False, min_size=96)
    predictor = model.roi_heads.box_predictor
    assert predictor.cls_score.out_features == 2 and predictor.bbox_pred.out_features == 8
    assert set(model.train()(IMAGE, TARGET)) >= {"loss_classifier", "loss_box_reg"}


def test_coco_weights_offline_and_corrupt_give_clear_errors(isolated_assets, tmp_path, monkeypatch):
    with pytest.raises(OfflineAssetMissing, match=WEIGHTS["coco_detector"].file):
        coco_detector(progress=False)
    mirror = tmp_path / "mirror"
    (mirror / "weights").mkdir(parents=True)
    (mirror / "weights" / WEIGHTS["coco_detector"].file).write_bytes(b"not the published weights")
    monkeypatch.setenv("TRANSFER_LESSONS_DATA", str(mirror))
    with pytest.raises(ChecksumMismatch, match=WEIGHTS["coco_detector"].file):
        coco_detector(progress=False)


class _Oracle(nn.Module):
    """Predicts the targets it was given, with score 1: a perfect detector for the test images."""

    def __init__(self, targets):
        super().__init__()
        self.targets, self.calls = targets, 0

    def forward(self, images, targets=None):
        out = [{"boxes": t["boxes"], "labels": t["labels"], "scores": torch.ones(len(t["labels"]))}
               for t in self.targets[self.calls:self.calls + len(images)]]
        self.calls += len(images)
        return out


def _tiny_loaders():
    data = load_detection("synthetic_detection", min_size=64, train_images=4, test_images=4, progress=False)
    return (DataLoader(data.train, batch_size=2, shuffle=True, collate_fn=collate_detection),
            DataLoader(data.test, batch_size=2, collate_fn=collate_detection), data)


def test_evaluation_gives_perfect_scores_for_perfect_predictions(isolated_assets):
    _, test_loader, data = _tiny_loaders()
    targets = [target for _, target in data.test]
    scores = evaluate_detector(_Oracle(targets), test_loader, "cpu", return_outputs=True)
    assert scores["map_50"] == pytest.approx(1.0) and scores["map"] == pytest.approx(1.0)
    assert scores["mar_100"] == pytest.approx(1.0) and len(scores["predictions"]) == len(targets) == 4


def test_faster_rcnn_uses_the_smaller_proposal_and_sample_budgets():
    model = build_detector("efficientnet_lite0", 2, pretrained=False, min_size=96)
    assert model.rpn._pre_nms_top_n == {"training": 1000, "testing": 500}
    assert model.rpn._post_nms_top_n == {"training": 500, "testing": 300}
    assert model.roi_heads.fg_bg_sampler.batch_size_per_image == 128
