"""Data: images read safely and decoded once, preprocessed as a backbone's card says; classification and
detection datasets and their loaders; sample photos.

``transforms_for(backbone)`` reads the backbone's card (why ``data`` sits above ``models``: see the
package docstring); datasets themselves come from ``assets``. Lessons: 00 (sample photos),
01 (``load_classification``, transforms), 02 (loaders, ``with_transform``, ``fraction_subset``,
``eval_size_for``), 03 (detection data), 04 (``with_transform``, ``DecodingImageDataset``), 05 (loaders).
"""

from ._classification import ClassificationData, fraction_subset, load_classification, make_loaders, with_transform
from ._detection import DetectionData, DetectionDataset, collate_detection, load_detection, make_detection_loaders
from ._images import (IMAGE_EXTENSIONS, CachedImageDataset, DecodedImageCache, DecodingImageDataset, balanced_subset,
                      open_rgb, scan_image_folder)
from ._photos import SAMPLE_PHOTOS, sample_photo
from ._transforms import (CROP_PCT, denormalize, eval_size_for, eval_transforms, image_size_for, preprocessing,
                          train_transforms, transforms_for)

__all__ = ["ClassificationData", "fraction_subset", "load_classification", "make_loaders", "with_transform",
           "DetectionData", "DetectionDataset", "collate_detection", "load_detection", "make_detection_loaders",
           "IMAGE_EXTENSIONS", "CachedImageDataset", "DecodedImageCache", "DecodingImageDataset", "balanced_subset",
           "open_rgb", "scan_image_folder", "SAMPLE_PHOTOS", "sample_photo", "CROP_PCT", "denormalize",
           "eval_size_for", "eval_transforms", "image_size_for", "preprocessing", "train_transforms", "transforms_for"]
