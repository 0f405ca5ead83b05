"""Tests for transfer_lessons.interpret: hand-computed metrics, and Grad-CAM on tiny models."""

from __future__ import annotations

import re

import pytest
import timm
import torch
import torch.nn.functional as F
from torch import nn

from transfer_lessons.evaluation import confident_mistakes, confusion_matrix, grad_cam, per_class_report

# Five images, three classes; worked out by hand in the tests below.
PREDICTED = torch.tensor([0, 2, 2, 1, 0])
TARGETS = torch.tensor([0, 1, 2, 2, 1])


def test_confusion_matrix_rows_are_true_columns_predicted():
    matrix = confusion_matrix(PREDICTED, TARGETS)
    expected = torch.tensor([[1, 0, 0],   # true 0: predicted 0 once
                             [1, 0, 1],   # true 1: predicted 0 once, 2 once
                             [0, 1, 1]])  # true 2: predicted 1 once, 2 once
    assert matrix.dtype == torch.int64, f"dtype {matrix.dtype}, expected int64"
    assert torch.equal(matrix, expected), f"got\n{matrix}\nexpected\n{expected}"
    assert confusion_matrix(PREDICTED, TARGETS, num_classes=4).shape == (4, 4)


def test_confusion_matrix_same_from_logits_and_labels():
    logits = torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
    targets = torch.arange(40) % 4
    from_logits = confusion_matrix(logits, targets)
    from_labels = confusion_matrix(logits.argmax(1), targets, num_classes=4)
    assert torch.equal(from_logits, from_labels), f"{from_logits}\n!=\n{from_labels}"
    assert int(from_logits.sum()) == 40 and from_logits.sum(1).tolist() == [10, 10, 10, 10]


@pytest.mark.parametrize("call", [confusion_matrix, confident_mistakes,
                                  lambda logits, targets: per_class_report(logits, targets, "abc")])
def test_mismatched_lengths_name_both_shapes(call):
    with pytest.raises(ValueError, match=re.escape("logits (5, 3) and targets (4,)")):
        call(torch.zeros(5, 3), torch.zeros(4, dtype=torch.long))


def test_confusion_matrix_rejects_bad_labels():
    with pytest.raises(ValueError, match="target label 3 is outside 0..2"):
        confusion_matrix(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="integer class labels"):
        confusion_matrix(torch.tensor([0.0, 1.0]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="4 columns for 3 classes"):
        confusion_matrix(torch.zeros(2, 4), torch.tensor([0, 1]), num_classes=3)


def test_per_class_report_matches_hand_computation():
    report = per_class_report(PREDICTED, TARGETS, ["ants", "bees", "wasps", "hornets"])
    # ants: predicted twice, right once; 1 true ant found. bees: predicted once, wrongly.
    # wasps: predicted twice, right once; 2 true wasps, 1 found. hornets: never predicted, never true.
    expected = {"ants": (1 / 2, 1.0, 2 / 3, 1), "bees": (0.0, 0.0, 0.0, 2),
                "wasps": (1 / 2, 1 / 2, 1 / 2, 2), "hornets": (0.0, 0.0, 0.0, 0),
                "macro": (1 / 4, 3 / 8, 7 / 24, 5)}
    assert list(report) == list(expected), f"keys {list(report)}, expected {list(expected)}"
    for name, (precision, recall, f1, support) in expected.items():
        row = report[name]
        got = (row["precision"], row["recall"], row["f1"], row["support"])
        assert got == pytest.approx((precision, recall, f1, support)), f"{name}: got {got}"
        assert all(type(row[k]) is float for k in ("precision", "recall", "f1")) and type(row["support"]) is int
    with pytest.raises(ValueError, match="'macro'"):
        per_class_report(PREDICTED, TARGETS, ["a", "macro", "c"])


def test_confident_mistakes_surest_first():
    logits = torch.tensor([[5.0, 0.0],   # right
                           [0.0, 1.0],   # wrong, p = 0.731
                           [3.0, 0.0],   # wrong, p = 0.953
                           [0.0, 4.0],   # right
                           [0.0, 2.0]])  # wrong, p = 0.881
    targets = torch.tensor([0, 0, 1, 1, 0])
    mistakes = confident_mistakes(logits, targets)
    assert [m["index"] for m in mistakes] == [2, 4, 1], f"order {[m['index'] for m in mistakes]}"
    assert mistakes[0] == {"index": 2, "true": 1, "predicted": 0,
                           "confidence": pytest.approx(torch.tensor([3.0, 0.0]).softmax(0)[0].item())}
    assert [m["confidence"] for m in mistakes] == pytest.approx([0.9526, 0.8808, 0.7311], abs=1e-4)
    assert [m["index"] for m in confident_mistakes(logits, targets, k=2)] == [2, 4]
    assert confident_mistakes(logits, logits.argmax(1)) == [], "no mistakes should give an empty list"
    with pytest.raises(ValueError, match=r"k >= 0 \(got -1\)"):
        confident_mistakes(logits, targets, k=-1)


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return timm.create_model("resnet18", pretrained=False, num_classes=2)


@pytest.mark.timeout(60)
def test_grad_cam_shape_range_and_no_side_effects(resnet):
    resnet.train()
    resnet.bn1.eval()  # a frozen BatchNorm must stay frozen, not be switched back to training
    images = torch.randn(3, 3, 64, 48)
    for target in (None, 1, torch.tensor([0, 1, 0])):
        cams = grad_cam(resnet, images, target=target)
        assert cams.shape == (3, 64, 48), f"shape {tuple(cams.shape)} for target {target}"
        assert not cams.isnan().any() and cams.min() >= 0 and cams.max() <= 1, f"range {cams.aminmax()}"
    assert resnet.training and not resnet.bn1.training, "train/eval flags were not restored per module"
    assert all(p.grad is None for p in resnet.parameters()), "grad_cam left gradients on parameters"
    cams = grad_cam(resnet, images, layer="layer3")
    assert cams.shape == (3, 64, 48) and not resnet.layer3._forward_hooks, "a forward hook was left behind"


@pytest.mark.timeout(60)
def test_grad_cam_equals_plain_torch(resnet):
    images = torch.randn(2, 3, 64, 64)
    resnet.eval()
    fmap = resnet.forward_features(images)
    fmap.retain_grad()
    logits = resnet.forward_head(fmap)
    logits[torch.arange(2), logits.argmax(1)].sum().backward()
    cam = torch.relu((fmap.grad.mean((2, 3), keepdim=True) * fmap).sum(1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=(64, 64), mode="bilinear", align_corners=False)[:, 0]
    low, high = cam.amin((1, 2), keepdim=True), cam.amax((1, 2), keepdim=True)
    expected = (cam - low) / (high - low)
    resnet.zero_grad(set_to_none=True)
    got = grad_cam(resnet, images)
    assert torch.allclose(got, expected, atol=1e-5), f"max difference {(got - expected).abs().max():.2e}"


def two_detector_net() -> nn.Sequential:
    """Channel 0 of the conv sees red, channel 1 sees green; class 0 reads red, class 1 green."""
    net = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(2, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2, 3).view(2, 3, 1, 1))
        net[0].bias.zero_()
        net[4].weight.copy_(torch.eye(2))
        net[4].bias.zero_()
    return net.requires_grad_(False)  # a frozen model must work too


@pytest.mark.timeout(60)
def test_grad_cam_highlights_the_informative_region():
    images = torch.zeros(2, 3, 8, 8)
    images[:, 0, :, :4] = 1.0  # red left half
    images[:, 1, :, 4:] = 1.0  # green right half
    net = two_detector_net()
    cams = grad_cam(net, images, target=torch.tensor([0, 1]), layer=net[0])
    left, right = cams[:, :, :4].mean((1, 2)), cams[:, :, 4:].mean((1, 2))
    assert left[0] > right[0] + 0.5, f"class red: left {left[0]:.2f}, right {right[0]:.2f}"
    assert right[1] > left[1] + 0.5, f"class green: left {left[1]:.2f}, right {right[1]:.2f}"
    flat = grad_cam(net, torch.zeros(1, 3, 8, 8), layer="0")  # no evidence anywhere
    assert torch.equal(flat, torch.zeros(1, 8, 8)), f"a flat map should be zeros, got {flat.unique()}"


def test_grad_cam_refuses_inference_mode_and_bad_arguments():
    net, images = two_detector_net(), torch.rand(2, 3, 8, 8)
    with torch.inference_mode():
        inference_images = torch.rand(2, 3, 8, 8)
        with pytest.raises(RuntimeError, match="inference_mode"):
            grad_cam(net, images, layer=net[0])
    trainable = two_detector_net().requires_grad_(True)  # its conv would save an inference tensor
    assert grad_cam(trainable, inference_images, layer=trainable[1]).shape == (2, 8, 8)
    with torch.no_grad():
        assert grad_cam(net, images, layer=net[0]).shape == (2, 8, 8), "should work inside no_grad"
    with pytest.raises(ValueError, match="not a timm model"):
        grad_cam(net, images)
    with pytest.raises(ValueError, match=re.escape("target (3,) does not fit 2 images")):
        grad_cam(net, images, target=torch.tensor([0, 1, 1]), layer=net[0])
    with pytest.raises(ValueError, match=re.escape("targets in 0..1")):
        grad_cam(net, images, target=2, layer=net[0])
    with pytest.raises(ValueError, match=re.escape("images (3, 8, 8) must be a batch")):
        grad_cam(net, images[0], layer=net[0])
