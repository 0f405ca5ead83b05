"""Data: images read safely and decoded once, preprocessed as a backbone's card says; classification and
detection datasets and their loaders; sample photos.

It sits above ``models`` because preprocessing is part of a model: ``transforms_for(backbone)`` reads
size, mean, std, interpolation and crop from the backbone's card, as timm's ``resolve_data_config``
does, and ``load_classification(data, backbone=...)`` uses it. Datasets themselves come from ``assets``.
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
