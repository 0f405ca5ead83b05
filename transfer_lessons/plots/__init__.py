"""Plots: every figure a lesson shows, each a titled ``LessonFigure`` with labelled axes and units.

Lesson support: one function per figure, so a lesson cell holds the idea, not twenty lines of matplotlib. Lessons:
    00  images
    01  tradeoffs, feature_pca, retrieval, feature_map, images
    02  histories, lr_schedule, lr_find, data_efficiency, bars, confusion_matrix, cam, images
    03  detections, pr_curves, iou_histogram, histories, tradeoff, block_diagram
    04  bars, block_diagram, images
    05  attack_curves, roc, score_histograms, reliability, bars, block_diagram, images
"""

from ._charts import (attack_curves, bars, confusion_matrix, feature_pca, reliability, roc, score_histograms,
                      tradeoff, tradeoffs)
from ._curves import data_efficiency, histories, history, lr_find, lr_schedule
from ._detection import detections, draw_boxes, iou_histogram, pr_curves
from ._diagrams import block_diagram
from ._figure import LessonFigure, figure
from ._images import cam, feature_map, images, retrieval

__all__ = ["attack_curves", "bars", "confusion_matrix", "feature_pca", "reliability", "roc", "score_histograms",
           "tradeoff", "tradeoffs", "data_efficiency", "histories", "history", "lr_find", "lr_schedule", "detections",
           "draw_boxes", "iou_histogram", "pr_curves", "block_diagram", "LessonFigure", "figure", "cam", "feature_map",
           "images", "retrieval"]
