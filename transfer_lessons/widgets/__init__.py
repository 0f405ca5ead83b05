"""Widgets: small interactive views for the lessons, each printing or drawing its default state when ``is_headless()``.

Lesson support; above ``plots``, whose figures they show.
Lessons: 00 photo_picker, 01 backbone_explorer, 02 upload_predictor, 03 detection_explorer.
"""

from ._widgets import backbone_explorer, detection_explorer, is_headless, photo_picker, upload_predictor

__all__ = ["backbone_explorer", "detection_explorer", "is_headless", "photo_picker", "upload_predictor"]
