"""Dataset cards, and where each dataset comes from: mirror, cache, checksummed download, synthetic stand-in.

One order, so a classroom mirror, an offline laptop and a fresh online machine run the same code: 1. the mirror folder
(``TRANSFER_LESSONS_DATA``), verified against the manifest in ``data/``; 2. the cache (``TRANSFER_LESSONS_CACHE``),
verified once, then stamped ``.verified``; 3. a download (never when ``TRANSFER_LESSONS_OFFLINE=1``), checksummed, then
safely extracted; 4. a small generated dataset (``_synthetic.py``), with a warning saying how to get the real one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from ..errors import AssetError, DatasetLayoutError, OfflineAssetMissing, UnknownName
from ..runtime import cache_dir, is_offline, mirror_dir
from ._fetch import download, safe_extract, sha256_file, verify_manifest
from ._synthetic import write_synthetic


def _manifest_dir() -> Path:
    """The repo's data/ folder; a non-editable install ships it as ``transfer_lessons/manifests``."""
    installed = Path(__file__).resolve().parents[1] / "manifests"  # wheel install (e.g. on Colab)
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "data"


MANIFEST_DIR = _manifest_dir()


_STAMP = ".verified"


@dataclass(frozen=True)
class DatasetCard:
    """Everything known about one dataset: where it comes from, how to check it, its terms."""

    name: str  # the name learners type, e.g. "hymenoptera"
    folder: str  # top folder inside the mirror, the cache and the archive
    task: str  # "classification" or "detection"
    url: Optional[str] = None  # official archive (.zip, .tar, .tar.gz)
    archive_sha256: Optional[str] = None  # sha256 of the archive, when one is published
    manifest: Optional[str] = None  # per-file sha256 list under data/ (an absolute path works too)
    license: str = ""
    citation: str = ""
    description: str = ""
    synthetic_fallback: Optional[str] = None  # card used when the real data cannot be had
    synthetic: bool = False  # True: generated (``_synthetic.py``), never downloaded


@dataclass(frozen=True)
class AssetSource:
    """Where a resolved dataset lives and how it was found."""

    name: str
    root: Path  # the dataset's own folder, e.g. <mirror>/hymenoptera_data
    source: str  # "mirror", "cache", "download", "synthetic" or "user"

    @property
    def synthetic(self) -> bool:
        """True when this is a generated stand-in, not real photographs."""
        return self.source == "synthetic"


DATASETS: dict[str, DatasetCard] = {
    "hymenoptera": DatasetCard(
        name="hymenoptera", folder="hymenoptera_data", task="classification",
        url="https://download.pytorch.org/tutorial/hymenoptera_data.zip",
        archive_sha256="fbc41b31d544714d18dd1230b1e2b455e1557766e13e67f9f5a7a23af7c02209",
        manifest="hymenoptera.sha256",
        license="No license file; ImageNet-derived photos, non-commercial research and education only.",
        citation="S. Chilamkurthy, Transfer Learning for Computer Vision Tutorial, PyTorch Tutorials.",
        description="Ants vs. bees: 245 train and 153 val photos in ImageFolder layout.",
        synthetic_fallback="synthetic_classification",
    ),
    "pennfudan": DatasetCard(
        name="pennfudan", folder="PennFudanPed", task="detection",
        url="https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip",
        archive_sha256=None,  # none published: the extracted files are checked against the manifest
        manifest="pennfudan.sha256",
        license="All rights reserved by the authors; do not redistribute.",
        citation="L. Wang, J. Shi, G. Song, I. Shen, Object Detection Combining Recognition "
                 "and Segmentation, ACCV 2007.",
        description="170 street photos with 423 pedestrians: instance masks and boxes.",
        synthetic_fallback="synthetic_detection",
    ),
    "synthetic_classification": DatasetCard(
        name="synthetic_classification", folder="synthetic_classification", task="classification",
        license="Generated; public domain.", synthetic=True,
        description="Circles vs. squares on noisy backgrounds, 96 px, ImageFolder train/val."),
    "synthetic_detection": DatasetCard(
        name="synthetic_detection", folder="synthetic_detection", task="detection",
        license="Generated; public domain.", synthetic=True,
        description="Figures on noisy backgrounds with instance masks, PennFudanPed layout."),
}


def list_datasets() -> list[str]:
    """Names of the datasets the package knows, sorted.

    Example:
        >>> "hymenoptera" in list_datasets()
        True
    """
    return sorted(DATASETS)


def get_dataset_card(name: str) -> DatasetCard:
    """Return the card of a known dataset.

    Raises:
        UnknownName: the name is not in ``list_datasets()`` (the message suggests a close one).
    Example:
        >>> get_dataset_card("pennfudan").folder
        'PennFudanPed'
    """
    if name not in DATASETS:
        raise UnknownName("dataset", name, DATASETS, "transfer_lessons.list_datasets()")
    return DATASETS[name]


def _card(name_or_card: Union[str, DatasetCard]) -> DatasetCard:
    return name_or_card if isinstance(name_or_card, DatasetCard) else get_dataset_card(name_or_card)


def _verify_cache(card: DatasetCard, root: Path) -> None:
    """Hash a cached copy once; a stamp holding the manifest's own hash skips later checks."""
    manifest = MANIFEST_DIR / card.manifest
    stamp, key = root / _STAMP, sha256_file(manifest)
    if stamp.is_file() and stamp.read_text().strip() == key:
        return
    verify_manifest(root, manifest, fix=f"delete the folder {root} and run again")
    stamp.write_text(key + "\n")


def extract_checked(card: DatasetCard, archive: Path, staging: Path, url: str, fix: str) -> Path:
    """Extract a dataset's archive into ``staging``; return its top folder, every manifest file checked.

    Raises:
        UnsafeArchive: a member would land outside ``staging``.
        AssetError: no top folder named ``card.folder``, or a listed file is missing.
        ChecksumMismatch: a file differs from the manifest (``fix`` is what the message advises).
    """
    safe_extract(archive, staging)
    extracted = staging / card.folder
    if not extracted.is_dir():
        raise AssetError(f"{url} has no top folder {card.folder}/. "
                         f"Fix: check that it is the original archive of {card.name}, or report it.")
    if card.manifest:
        verify_manifest(extracted, MANIFEST_DIR / card.manifest, fix=fix)
    return extracted


def _fetch(card: DatasetCard, cache: Path, progress: bool) -> Path:
    """Download the card's archive into the cache and extract it; atomic at every step."""
    suffix = ".zip" if card.url.endswith(".zip") else ".tar.gz"  # safe_extract sniffs the real type
    archive = download(card.url, cache / f"{card.name}{suffix}", sha256=card.archive_sha256, progress=progress)
    staging = Path(tempfile.mkdtemp(prefix=f".{card.name}-", dir=cache))
    try:
        extracted = extract_checked(card, archive, staging, card.url, fix="the download is corrupt; run again")
        if card.manifest:
            (extracted / _STAMP).write_text(sha256_file(MANIFEST_DIR / card.manifest) + "\n")
        final = cache / card.folder
        if not final.exists():  # another process may have finished first: keep theirs
            os.replace(extracted, final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        archive.unlink(missing_ok=True)  # extracted and verified (or bad): the archive is not needed


def _fallback(card: DatasetCard, reason: str, allow_synthetic: bool, progress: bool) -> AssetSource:
    """Use the synthetic stand-in with a warning, or raise OfflineAssetMissing."""
    mirror, cache = mirror_dir(), cache_dir()
    where = f"mirror {mirror / card.folder}" if mirror else "mirror: TRANSFER_LESSONS_DATA not set"
    how = (f"set TRANSFER_LESSONS_DATA to a folder holding {card.folder}/, or go online "
           f"(unset TRANSFER_LESSONS_OFFLINE) so it can be downloaded from {card.url}")
    if not allow_synthetic or card.synthetic_fallback is None:
        raise OfflineAssetMissing(f"Dataset {card.name!r} is not available ({reason}); looked in {where} "
                                  f"and cache {cache / card.folder}. Fix: {how}.")
    warnings.warn(f"Dataset {card.name!r} is not available ({reason}); using the generated stand-in "
                  f"{card.synthetic_fallback!r}, so results will not match the lesson's. "
                  f"To get the real data, {how}.", UserWarning, stacklevel=3)
    return resolve_dataset(card.synthetic_fallback, progress=progress)


def resolve_dataset(name_or_path: Union[str, Path, DatasetCard], *, allow_synthetic: bool = True,
                    progress: bool = True) -> AssetSource:
    """Find a dataset's folder: your own folder, mirror, cache, download, then a synthetic stand-in.

    Args:
        name_or_path: a name from ``list_datasets()``, a ``DatasetCard``, or a path to your own folder.
        allow_synthetic: fall back to the card's generated stand-in (with a warning) instead of raising when the real
            data cannot be had. progress: show a progress bar while downloading.
    Returns:
        An ``AssetSource``: ``root`` is the dataset folder, ``source`` where it came from.
    Raises:
        UnknownName: not a known name and not an existing folder.
        ChecksumMismatch: a mirror or cache file differs from the manifest (the message names it).
        AssetError: a file listed in the manifest is missing, or a download stopped part-way.
        OfflineAssetMissing: nothing local, no network, and ``allow_synthetic=False``.
    Example:
        >>> resolve_dataset("hymenoptera").source  # doctest: +SKIP
        'mirror'
    Used in every lesson through ``load_classification`` and ``load_detection``.
    """
    if not isinstance(name_or_path, DatasetCard) and name_or_path not in DATASETS:
        path = Path(name_or_path).expanduser()
        if path.is_dir():
            return AssetSource(name=path.name, root=path, source="user")
        if isinstance(name_or_path, Path) or os.sep in str(name_or_path) or "/" in str(name_or_path):
            raise DatasetLayoutError(f"Dataset folder {path} does not exist. Fix: check the path, "
                                     f"or use a name from transfer_lessons.list_datasets().")
    card = _card(name_or_path)
    cache = cache_dir()
    if card.synthetic:
        return AssetSource(card.name, write_synthetic(card.name, cache / card.folder), "synthetic")
    mirror = mirror_dir()
    if mirror is not None and (mirror / card.folder).is_dir():
        verify_manifest(mirror / card.folder, MANIFEST_DIR / card.manifest,
                        fix=f"restore it from the original archive (`python -m transfer_lessons mirror {mirror}` "
                            "repairs a mirror), or unset TRANSFER_LESSONS_DATA")
        return AssetSource(card.name, mirror / card.folder, "mirror")
    if (cache / card.folder).is_dir():
        _verify_cache(card, cache / card.folder)
        return AssetSource(card.name, cache / card.folder, "cache")
    if is_offline() or not card.url:
        return _fallback(card, "offline and not in the mirror or cache", allow_synthetic, progress)
    cache.mkdir(parents=True, exist_ok=True)
    try:
        root = _fetch(card, cache, progress)
    except OfflineAssetMissing as err:  # no network is a normal state for a learner, not a crash
        return _fallback(card, f"download failed: {err}", allow_synthetic, progress)
    return AssetSource(card.name, root, "download")


def dataset_status(name: Union[str, DatasetCard]) -> dict:
    """Say where a dataset would come from now, without downloading, generating or hashing.

    Returns:
        ``{"available": bool, "source": "mirror" | "cache" | "download" | "synthetic"}``; ``"download"``: it would be
        downloaded; ``"synthetic"`` with available False: only the generated stand-in can be had now.
    Raises:
        UnknownName: unknown dataset name.
    Example:
        >>> dataset_status("hymenoptera")  # doctest: +SKIP
        {'available': True, 'source': 'mirror'}
    """
    card = _card(name)
    mirror, cache = mirror_dir(), cache_dir()
    if card.synthetic:
        return {"available": True, "source": "synthetic"}
    if mirror is not None and (mirror / card.folder).is_dir():
        return {"available": True, "source": "mirror"}
    if (cache / card.folder).is_dir():
        return {"available": True, "source": "cache"}
    if card.url and not is_offline():
        return {"available": True, "source": "download"}
    return {"available": False, "source": "synthetic"}

