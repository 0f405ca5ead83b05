"""Assets: what the course uses that lives outside the repository — datasets and weight files.

Each has a card (``DatasetCard``, ``WeightsCard``: source, checksums, license) and one resolver: mirror, cache,
checksummed download, then (datasets only) a generated stand-in (``_datasets.py``, ``_weights.py``). Below it lie only
``runtime`` and ``errors``. Lessons: 01 (``DATASETS``, ``weights_status``), 02 (``DATASETS``),
05 (``safe_extract``, ``sha256_file``, ``verify_manifest``); every lesson's data comes through ``resolve_dataset``.
"""

from ._datasets import (DATASETS, MANIFEST_DIR, AssetSource, DatasetCard, dataset_status, get_dataset_card,
                        list_datasets, resolve_dataset)
from ._fetch import download, manifest_problems, read_manifest, safe_extract, sha256_file, verify_manifest
from ._mirror import build_mirror, check_mirror, format_mirror, mirror_summary
from ._synthetic import SHAPES, make_classification, make_detection, shape_image, write_synthetic
from ._weights import (HF_FILENAME, WEIGHTS, WeightsCard, get_weights_card, package_file, recorded_sha256,
                       resolve_weights_file, weights_status)

__all__ = ["DATASETS", "MANIFEST_DIR", "AssetSource", "DatasetCard", "dataset_status", "get_dataset_card",
           "list_datasets", "resolve_dataset", "download", "manifest_problems", "read_manifest", "safe_extract",
           "sha256_file", "verify_manifest", "build_mirror", "check_mirror", "format_mirror", "mirror_summary",
           "make_classification", "make_detection", "shape_image", "SHAPES", "write_synthetic", "WEIGHTS",
           "HF_FILENAME", "WeightsCard", "get_weights_card", "package_file", "recorded_sha256", "resolve_weights_file",
           "weights_status"]
