"""Tests for transfer_lessons.plots' detection pictures: ``draw_boxes`` (objects green, kept predictions orange,
checked pixel by pixel), ``detections``, ``pr_curves`` and ``iou_histogram``."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_labelled, box, detection_scene
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from transfer_lessons.evaluation import match_detections, precision_recall
from transfer_lessons.plots import detections, draw_boxes, iou_histogram, pr_curves

LIME, ORANGE, BLACK = [0, 255, 0], [255, 165, 0], [0, 0, 0]
OBJECT = [5.0, 5.0, 25.0, 45.0]  # x1, y1, x2, y2
KEPT, DROPPED = [50.0, 20.0, 90.0, 70.0], [10.0, 55.0, 40.0, 75.0]


def _pixel(drawn, x, y):
    return drawn[:, y, x].tolist()


def test_pictures():
    """Moved from test_detection_eval.py."""
    image = torch.rand(3, 80, 100)
    drawn = draw_boxes(image, torch.tensor([box(5, 5)]), {"boxes": torch.tensor([box(50, 20)]),
                                                          "scores": torch.tensor([0.9])})
    assert drawn.dtype == torch.uint8 and drawn.shape == (3, 80, 100)
    assert not torch.equal(drawn, draw_boxes(image)), "boxes should change pixels"
    assert torch.equal(draw_boxes(image), (image * 255).round().to(torch.uint8))
    predictions, targets = detection_scene(0, images=2)
    assert isinstance(detections([image, image], targets, predictions), Figure)
    m = match_detections(predictions, targets)
    assert isinstance(pr_curves({"x": precision_recall(m)[:2]}), Figure)
    assert isinstance(iou_histogram(torch.cat(m.best_iou)), Figure)
    with pytest.raises(ValueError):
        pr_curves({})


def test_draw_boxes_draws_objects_green_and_only_the_kept_predictions_orange():
    image = torch.zeros(3, 80, 100)
    predictions = {"boxes": torch.tensor([KEPT, DROPPED]), "scores": torch.tensor([0.9, 0.3])}
    drawn = draw_boxes(image, torch.tensor([OBJECT]), predictions, score_threshold=0.5)
    assert drawn.dtype == torch.uint8 and drawn.shape == (3, 80, 100)
    assert torch.equal(image, torch.zeros(3, 80, 100)), "the input image is left as it was"
    # the object's four edges, green
    for x, y in ((15, 5), (15, 45), (5, 25), (25, 25)):
        assert _pixel(drawn, x, y) == LIME, (x, y, _pixel(drawn, x, y))
    assert _pixel(drawn, 15, 25) == BLACK, "a box is an outline: its inside is not painted"
    # the kept prediction's right and bottom edges (its score is written at the top left), orange
    for x, y in ((90, 45), (70, 70)):
        assert _pixel(drawn, x, y) == ORANGE, (x, y, _pixel(drawn, x, y))
    # the prediction under the threshold: not drawn at all
    dropped = drawn[:, 55:76, 10:41]
    assert dropped.sum() == 0, "a prediction scored under score_threshold is drawn"
    everything = draw_boxes(image, None, predictions, score_threshold=0.2)
    assert _pixel(everything, 25, 75) == ORANGE and _pixel(everything, 15, 25) == BLACK
    nothing = draw_boxes(image, None, predictions, score_threshold=0.95)
    assert nothing.sum() == 0, "no prediction reaches the threshold: nothing drawn"


def test_draw_boxes_width_and_image_types():
    image = torch.zeros(3, 80, 100)
    thin = draw_boxes(image, torch.tensor([OBJECT]), width=1)
    thick = draw_boxes(image, torch.tensor([OBJECT]), width=4)
    assert _pixel(thin, 15, 5) == LIME and _pixel(thin, 15, 6) == BLACK, "width 1: one pixel thick"
    assert _pixel(thick, 15, 8) == LIME and _pixel(thick, 15, 9) == BLACK, "width 4: four pixels thick"
    as_uint8 = torch.randint(0, 256, (3, 80, 100), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(draw_boxes(as_uint8), as_uint8), "uint8 images are used as they are"
    over = torch.full((3, 8, 8), 2.0)
    assert torch.equal(draw_boxes(over), torch.full((3, 8, 8), 255, dtype=torch.uint8)), "floats are clamped to [0, 1]"
    assert torch.equal(draw_boxes(image, torch.zeros(0, 4)), draw_boxes(image)), "no objects: nothing drawn"


def test_detections_draws_each_image_with_its_own_boxes():
    images = [torch.zeros(3, 60, 80) for _ in range(4)]
    targets = [{"boxes": torch.tensor([[5.0 + 10 * i, 5.0, 30.0 + 10 * i, 40.0]])} for i in range(4)]
    predictions = [{"boxes": torch.tensor([[40.0, 10.0, 70.0, 50.0]]), "scores": torch.tensor([0.9 if i % 2 else 0.1])}
                   for i in range(4)]
    titles = [f"image {i}" for i in range(4)]
    fig = detections(images, targets, predictions, titles=titles, ncols=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == len(fig.axes) == 4, "one axes per image"
    assert [ax.get_title() for ax in shown] == titles
    assert fig.get_suptitle() == "Objects (green) and predictions (orange)"
    for i, ax in enumerate(shown):
        pixels = ax.images[0].get_array()  # HWC floats in [0, 1]
        green = [x for x in range(80) if list(pixels[5, x]) == pytest.approx(to_rgb("lime"))]
        assert green == list(range(5 + 10 * i, 31 + 10 * i)), f"image {i}: its own object's top edge, green"
        found = list(pixels[30, 70])
        assert found == pytest.approx(to_rgb("orange") if i % 2 else [0, 0, 0], abs=1 / 255), \
            f"image {i}: its prediction is drawn only when scored over the threshold"
    three = detections(images[:3])
    assert len([ax for ax in three.axes if ax.images]) == 3 and len(three.axes) == 3, "default: 3 per row"


def test_pr_curves_are_titled_labelled_and_plot_recall_against_precision():
    precision, recall = torch.tensor([1.0, 0.5, 2 / 3]), torch.tensor([0.5, 0.5, 1.0])
    fig = pr_curves({"model A": (precision, recall), "model B": (precision / 2, recall)}, title="Two detectors")
    assert_labelled(fig, 1)
    (ax,) = fig.axes
    assert ax.get_title() == "Two detectors" and "recall" in ax.get_xlabel() and "precision" in ax.get_ylabel()
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["model A", "model B"]
    assert list(lines[0].get_xdata()) == pytest.approx(recall.tolist()), "recall on x"
    assert list(lines[0].get_ydata()) == pytest.approx(precision.tolist()), "precision on y"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["model A", "model B"]
    with pytest.raises(ValueError, match="no curves"):
        pr_curves({})


def test_iou_histogram_counts_every_object_and_marks_the_threshold():
    ious = torch.tensor([0.02, 0.3, 0.57, 0.62, 0.92, 1.0])
    fig = iou_histogram(ious, threshold=0.6)
    assert_labelled(fig, 1)
    (ax,) = fig.axes
    assert ax.get_title() == "How well objects are found" and "IoU" in ax.get_xlabel()
    assert ax.get_ylabel() == "objects"
    heights = [patch.get_height() for patch in ax.patches]
    assert len(heights) == 20 and sum(heights) == len(ious), "every IoU counted once, 1.0 included"
    assert heights[11] == heights[12] == heights[18] == heights[19] == 1, "bins of width 0.05, 1.0 in the last"
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [0.6, 0.6], "the threshold is marked where it was asked for"


def test_iou_histogram_rejects_empty_input():
    with pytest.raises(ValueError):
        iou_histogram(torch.tensor([]))
