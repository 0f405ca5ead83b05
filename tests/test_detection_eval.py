"""Tests for detection metrics by hand (detection_eval), detection pictures (detection_viz), the
detection widget, the detection loaders and lesson 03's exercise checks."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from transfer_lessons.data import load_detection, make_detection_loaders
from transfer_lessons.evaluation import (
    average_precision,
    filter_detections,
    match_detections,
    missed_objects,
    precision_at,
    precision_recall,
    threshold_for_precision,
)
from transfer_lessons.exercises import check_detector_backbone, check_iou, check_precision_threshold
from transfer_lessons.models import build_detector
from transfer_lessons.plots import detections as show_detections
from transfer_lessons.plots import draw_boxes
from transfer_lessons.plots import iou_histogram as plot_iou_histogram
from transfer_lessons.plots import pr_curves as plot_pr_curves
from transfer_lessons.widgets import detection_explorer

pytestmark = pytest.mark.usefixtures("one_thread")


def _box(x, y, w=20.0, h=40.0):
    return [x, y, x + w, y + h]


def _scene(seed: int, images: int = 12):
    """Objects, and predictions that find most of them (jittered), miss some, and add false ones."""
    g = torch.Generator().manual_seed(seed)
    predictions, targets = [], []
    for _ in range(images):
        n = int(torch.randint(1, 5, (1,), generator=g))
        corners = torch.rand(n, 2, generator=g) * 150
        objects = torch.cat([corners, corners + 20 + torch.rand(n, 2, generator=g) * 40], 1)
        found = objects[torch.rand(n, generator=g) < 0.8]  # some missed
        jitter = found + torch.randn(found.shape, generator=g) * 6
        false = torch.rand(int(torch.randint(0, 3, (1,), generator=g)), 2, generator=g) * 150
        false = torch.cat([false, false + 30], 1)
        boxes = torch.cat([jitter, false])
        boxes = torch.cat([boxes[:, :2], torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)], 1)
        scores = torch.cat([0.3 + 0.7 * torch.rand(len(jitter), generator=g),
                            0.6 * torch.rand(len(false), generator=g)])
        predictions.append({"boxes": boxes, "scores": scores, "labels": torch.ones(len(boxes), dtype=torch.int64)})
        targets.append({"boxes": objects, "labels": torch.ones(n, dtype=torch.int64)})
    return predictions, targets


def test_matching_counts_duplicates_and_misses():
    target = {"boxes": torch.tensor([_box(0, 0), _box(100, 100)])}
    prediction = {"boxes": torch.tensor([_box(1, 1), _box(0, 0), _box(300, 300)]),
                  "scores": torch.tensor([0.9, 0.8, 0.7])}
    m = match_detections([prediction], [target])
    assert m.is_tp.tolist() == [True, False, False], "a second box on a found object is a false positive"
    assert m.num_objects == 2 and len(m.ious) == 1 and 0.5 < float(m.ious[0]) < 1
    precision, recall, scores = precision_recall(m)
    assert precision.tolist() == pytest.approx([1.0, 0.5, 1 / 3]) and recall.tolist() == pytest.approx([0.5] * 3)
    assert average_precision(precision, recall) == pytest.approx(51 / 101), "recall 0.5 at precision 1: 51/101 levels"
    assert precision_at(m, 0.85) == (1.0, 0.5) and precision_at(m, 0.95) == (1.0, 0.0)
    assert missed_objects([prediction], [target]) == [1]
    assert [float(b) for b in m.best_iou[0]] == pytest.approx([1.0, 0.0])
    with pytest.raises(ValueError, match="2 predictions for 1 images"):
        match_detections([prediction, prediction], [target])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap_by_hand_equals_pycocotools(seed):
    from torchmetrics.detection import MeanAveragePrecision

    predictions, targets = _scene(seed)
    metric = MeanAveragePrecision(iou_type="bbox", backend="pycocotools")
    metric.update(predictions, targets)
    reference = metric.compute()
    for iou, key in ((0.5, "map_50"), (0.75, "map_75")):
        precision, recall, _ = precision_recall(match_detections(predictions, targets, iou_threshold=iou))
        assert average_precision(precision, recall) == pytest.approx(float(reference[key]), abs=1e-6), (seed, key)


def test_threshold_for_precision_is_the_lowest_that_reaches_it():
    predictions, targets = _scene(0)
    m = match_detections(predictions, targets)
    threshold = threshold_for_precision(m, 0.8)
    precision, recall = precision_at(m, threshold)
    assert precision >= 0.8
    lower = m.scores[m.scores < threshold]
    assert all(precision_at(m, float(t))[0] < 0.8 for t in lower), "a lower threshold also reaches the precision"
    assert threshold_for_precision(m, 1.01) is None


def test_pictures():
    image = torch.rand(3, 80, 100)
    drawn = draw_boxes(image, torch.tensor([_box(5, 5)]), {"boxes": torch.tensor([_box(50, 20)]),
                                                          "scores": torch.tensor([0.9])})
    assert drawn.dtype == torch.uint8 and drawn.shape == (3, 80, 100)
    assert not torch.equal(drawn, draw_boxes(image)), "boxes should change pixels"
    assert torch.equal(draw_boxes(image), (image * 255).round().to(torch.uint8))
    predictions, targets = _scene(0, images=2)
    assert isinstance(show_detections([image, image], targets, predictions), Figure)
    m = match_detections(predictions, targets)
    assert isinstance(plot_pr_curves({"x": precision_recall(m)[:2]}), Figure)
    assert isinstance(plot_iou_histogram(torch.cat(m.best_iou)), Figure)
    with pytest.raises(ValueError):
        plot_pr_curves({})


def test_filter_detections_and_headless_explorer(monkeypatch):
    raw = {"boxes": torch.tensor([_box(0, 0), _box(2, 2), _box(100, 100), _box(200, 0)]),
           "scores": torch.tensor([0.9, 0.8, 0.6, 0.1])}
    assert filter_detections(raw, 0.5, 0.5)["scores"].tolist() == pytest.approx([0.9, 0.6]), "overlap suppressed"
    assert len(filter_detections(raw, 0.5, 1.0)["boxes"]) == 3, "IoU 1.0 suppresses nothing"
    assert len(filter_detections(raw, 0.05, 0.5)["boxes"]) == 3
    monkeypatch.setenv("TRANSFER_LESSONS_HEADLESS", "1")
    assert detection_explorer(torch.rand(3, 64, 64), raw, raw["boxes"][:1]) is None


def test_detection_loaders(isolated_assets):
    data = load_detection("synthetic_detection", min_size=64, test_images=4)
    train_loader, test_loader = make_detection_loaders(data, batch_size=3)
    images, targets = next(iter(train_loader))
    assert len(images) == 3 and "boxes" in targets[0]
    assert sum(len(i) for i, _ in test_loader) == len(data.test)
    first = [t["image_id"] for _, ts in make_detection_loaders(data, 3, seed=5)[0] for t in ts]
    again = [t["image_id"] for _, ts in make_detection_loaders(data, 3, seed=5)[0] for t in ts]
    assert first == again, "the shuffle is seeded"
    state = torch.get_rng_state()
    list(make_detection_loaders(data, 3)[1])
    assert torch.equal(state, torch.get_rng_state()), "evaluating must not move the global RNG (training would change)"


def test_exercise_checks(isolated_assets):
    from torchvision.ops import box_iou

    assert check_iou(box_iou) and not check_iou(lambda a, b: box_iou(a, b) * 0.5)
    assert check_iou(None).status == "not attempted"
    assert not check_iou(lambda a, b: 1 / 0), "a crash is a 'not yet'"
    predictions, targets = _scene(0)
    m = match_detections(predictions, targets)
    best = threshold_for_precision(m, 0.8)
    assert check_precision_threshold(best, m, 0.8)
    assert not check_precision_threshold(float(m.scores.max()) + 1, m, 0.8), "keeping nothing finds nothing"
    assert not check_precision_threshold(0.0, m, 0.8)
    assert not check_detector_backbone(build_detector("efficientnet_lite0", 2, pretrained=False, min_size=64))
    assert check_detector_backbone(build_detector("mobilenetv3_large_100", 2, pretrained=False, min_size=64),
                                   image_size=64)
    assert not check_detector_backbone(torch.nn.Linear(2, 2))


def test_detector_latency_times_batch_one():
    from transfer_lessons.speed import detector_latency

    model = build_detector("efficientnet_lite0", 2, pretrained=False, min_size=64)
    images = [torch.rand(3, 64, 80) for _ in range(3)]
    assert detector_latency(model, images, "cpu", warmup=1) > 0
    assert not model.training
    with pytest.raises(ValueError, match="no images"):
        detector_latency(model, [], "cpu")


@pytest.mark.timeout(120)
def test_own_boxes_csv_folder_trains_through_the_documented_calls(tmp_path, isolated_assets):
    """README's "Your own data" for detection, call for call, on a generated boxes.csv folder."""
    from PIL import Image, ImageDraw

    from transfer_lessons.evaluation import evaluate_detector
    from transfer_lessons.training import fit_detector

    (tmp_path / "images").mkdir()
    rows = ["image,x1,y1,x2,y2,label"]
    g = torch.Generator().manual_seed(0)
    for i in range(6):
        picture = Image.new("RGB", (96, 80), (90, 110, 90))
        x, y = (int(v) for v in torch.randint(5, 40, (2,), generator=g))
        ImageDraw.Draw(picture).rectangle([x, y, x + 30, y + 35], fill=(220, 40, 40))
        picture.save(tmp_path / "images" / f"p{i}.png")
        rows.append(f"p{i}.png,{x},{y},{x + 30},{y + 35},{'cart' if i % 2 else 'box'}")
    (tmp_path / "boxes.csv").write_text("\n".join(rows) + "\n")
    data = load_detection(tmp_path, min_size=64, test_images=2)
    assert data.classes == ["__background__", "box", "cart"] and len(data.train) == 4
    train_loader, test_loader = make_detection_loaders(data, batch_size=2)
    model = build_detector("efficientnet_lite0", num_classes=len(data.classes), min_size=64, trainable_levels=0)
    history = fit_detector(model, train_loader, test_loader, epochs=1, device="cpu", progress=False)
    assert history.last()["train_seconds"] > 0 and 0 <= history.last()["map_50"] <= 1
    assert set(evaluate_detector(model, test_loader, "cpu")) >= {"map", "map_50", "map_75", "mar_100"}


@pytest.mark.timeout(120)
def test_fit_detector_evaluates_every_n_epochs_and_after_the_last(isolated_assets):
    from transfer_lessons.training import fit_detector

    data = load_detection("synthetic_detection", min_size=64, train_images=4, test_images=2)
    train_loader, test_loader = make_detection_loaders(data, batch_size=4)
    model = build_detector("efficientnet_lite0", len(data.classes), min_size=64, trainable_levels=0)
    history = fit_detector(model, train_loader, test_loader, epochs=3, eval_every=2, device="cpu", progress=False)
    assert [row["map_50"] is None for row in history] == [True, False, False]


def test_fewer_test_proposals_is_an_inference_setting_only():
    trained = build_detector("efficientnet_lite0", 2, pretrained=False, min_size=64)
    fast = build_detector("efficientnet_lite0", 2, pretrained=False, min_size=64, test_proposals=50)
    fast.load_state_dict(trained.state_dict())  # same parameters: no retraining needed
    assert fast.rpn._post_nms_top_n == {"training": 500, "testing": 50}
