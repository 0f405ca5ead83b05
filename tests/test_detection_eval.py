"""Tests for detection metrics by hand (transfer_lessons.evaluation), the detection widget, the detection
loaders and README's own-data detection recipe. Lesson 03's exercise checks are tested in
test_exercises_lesson03.py, detection pictures in test_plots_detection.py, the detection training loop in
test_training_detection.py."""

from __future__ import annotations

import pytest
import torch
from helpers import box, detection_scene

from transfer_lessons.data import load_detection, make_detection_loaders
from transfer_lessons.evaluation import (
    average_precision,
    filter_detections,
    match_detections,
    missed_objects,
    precision_recall,
)
from transfer_lessons.models import build_detector
from transfer_lessons.widgets import detection_explorer

pytestmark = pytest.mark.usefixtures("one_thread")


def test_matching_counts_duplicates_and_misses():
    target = {"boxes": torch.tensor([box(0, 0), box(100, 100)])}
    prediction = {"boxes": torch.tensor([box(1, 1), box(0, 0), box(300, 300)]),
                  "scores": torch.tensor([0.9, 0.8, 0.7])}
    m = match_detections([prediction], [target])
    assert m.is_tp.tolist() == [True, False, False], "a second box on a found object is a false positive"
    assert m.num_objects == 2 and len(m.ious) == 1 and 0.5 < float(m.ious[0]) < 1
    precision, recall, scores = precision_recall(m)
    assert precision.tolist() == pytest.approx([1.0, 0.5, 1 / 3]) and recall.tolist() == pytest.approx([0.5] * 3)
    assert average_precision(precision, recall) == pytest.approx(51 / 101), "recall 0.5 at precision 1: 51/101 levels"
    assert missed_objects([prediction], [target]) == [1]
    assert [float(b) for b in m.best_iou[0]] == pytest.approx([1.0, 0.0])
    with pytest.raises(ValueError, match="2 predictions for 1 images"):
        match_detections([prediction, prediction], [target])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap_by_hand_equals_pycocotools(seed):
    from torchmetrics.detection import MeanAveragePrecision

    predictions, targets = detection_scene(seed)
    metric = MeanAveragePrecision(iou_type="bbox", backend="pycocotools")
    metric.update(predictions, targets)
    reference = metric.compute()
    for iou, key in ((0.5, "map_50"), (0.75, "map_75")):
        precision, recall, _ = precision_recall(match_detections(predictions, targets, iou_threshold=iou))
        assert average_precision(precision, recall) == pytest.approx(float(reference[key]), abs=1e-6), (seed, key)


def test_filter_detections_and_headless_explorer(monkeypatch):
    raw = {"boxes": torch.tensor([box(0, 0), box(2, 2), box(100, 100), box(200, 0)]),
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
    scores = evaluate_detector(model, test_loader, "cpu")
    assert set(scores) >= {"map", "map_50", "map_75", "mar_100"}
    assert scores["images"] == 2
    # evaluation runs in eval mode, without randomness: measuring again gives the history's numbers
    for key in ("map", "map_50", "map_75", "mar_100"):
        assert scores[key] == pytest.approx(history.last()[key], abs=1e-9), (key, scores[key], history.last()[key])
        assert 0 <= scores[key] <= 1, "every test image holds an object, so COCO's -1 (no objects) cannot appear"


def test_fewer_test_proposals_is_an_inference_setting_only():
    trained = build_detector("efficientnet_lite0", 2, pretrained=False, min_size=64)
    fast = build_detector("efficientnet_lite0", 2, pretrained=False, min_size=64, test_proposals=50)
    fast.load_state_dict(trained.state_dict())  # same parameters: no retraining needed
    assert fast.rpn._post_nms_top_n == {"training": 500, "testing": 50}
