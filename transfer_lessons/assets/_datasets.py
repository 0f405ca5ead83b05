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
from ._fetch import download, read_manifest, safe_extract, sha256_file, verify_manifest
from ._synthetic import write_synthetic

_PACKAGE = Path(__file__).resolve().parents[1]
# The repo's data/ folder, which a non-editable install (a wheel, e.g. on Colab) ships as transfer_lessons/manifests.
MANIFEST_DIR = _PACKAGE / "manifests" if (_PACKAGE / "manifests").is_dir() else _PACKAGE.parent / "data"
_STAMP = ".verified"  # written into a cached copy once verified (see _verify_cache)


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
    page: Optional[str] = None  # where a person gets the data when no stable download address is known
    archive_name: Optional[str] = None  # a larger archive from ``page`` that holds this subset (see extract_subset)
    shareable: bool = False  # the license allows sharing a mirror of it (with the citation)

    def how_to_get(self, folder: Path) -> str:
        """The fix a person reads when the data is not here: where to get it and where to put it."""
        if self.archive_name:
            return (f"download {self.archive_name} from {self.page} and put it in {folder} (the {self.name} subset "
                    f"is taken from it, every file checked against data/{self.manifest})")
        return f"go online (unset TRANSFER_LESSONS_OFFLINE) so it can be downloaded from {self.url}"


@dataclass(frozen=True)
class AssetSource:
    """Where a resolved dataset lives and how it was found."""

    name: str
    root: Path  # the dataset's own folder, e.g. <mirror>/hymenoptera_data
    source: str  # "mirror", "cache", "download", "synthetic" or "user"

    @property
    def synthetic(self) -> bool:
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
    "pbc_blood_cells": DatasetCard(
        name="pbc_blood_cells", folder="pbc_blood_cells", task="classification", manifest="pbc_blood_cells.sha256",
        license="CC BY 4.0: share and adapt with attribution (cite the article).", shareable=True,
        citation="A. Acevedo, A. Merino, S. Alférez, Á. Molina, L. Boldú, J. Rodellar, A dataset of microscopic "
                 "peripheral blood cell images for development of automatic recognition systems, Data in Brief 30 "
                 "(2020) 105474, doi:10.1016/j.dib.2020.105474; data: Mendeley Data, doi:10.17632/snkd93bnjr.1.",
        description="Peripheral blood cells under a microscope, 8 types: 100 train and 50 val images each, a fixed "
                    "subset of the 17,092 images of the PBC dataset, 360x363 JPEG.",
        page="https://data.mendeley.com/datasets/snkd93bnjr/1", archive_name="PBC_dataset_normal_DIB.zip",
        synthetic_fallback="synthetic_classification",
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
    """Names of the datasets the package knows, sorted."""
    return sorted(DATASETS)


def get_dataset_card(name: str) -> DatasetCard:
    """The card of a known dataset (else UnknownName, suggesting a close name)."""
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
    """Extract a dataset's archive into ``staging``; return its top folder, every manifest file checked."""
    safe_extract(archive, staging)
    extracted = staging / card.folder
    if not extracted.is_dir():
        raise AssetError(f"{url} has no top folder {card.folder}/. "
                         f"Fix: check that it is the original archive of {card.name}, or report it.")
    if card.manifest:
        verify_manifest(extracted, MANIFEST_DIR / card.manifest, fix=fix)
    return extracted


def extract_subset(card: DatasetCard, archive: Path, staging: Path, source: str, fix: str) -> Path:
    """Take the card's files out of a larger archive (the full release it was drawn from); return their folder.

    Each manifest entry ``<split>/<class>/<name>`` is looked up as ``.../<class>/<name>`` anywhere in the archive and
    accepted only with the manifest's sha256, so a re-packed or renamed archive works and a different one cannot.
    """
    safe_extract(archive, staging / "archive")
    found: dict = {}
    for path in (staging / "archive").rglob("*"):
        if path.is_file():
            found.setdefault((path.parent.name.lower(), path.name), []).append(path)
    wanted, missing = read_manifest(MANIFEST_DIR / card.manifest), []
    for rel, digest in wanted.items():
        parts = Path(rel).parts
        match = next((p for p in found.get((parts[-2].lower(), parts[-1]), []) if sha256_file(p) == digest), None)
        if match is None:
            missing.append(rel)
            continue
        (staging / card.folder / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(match, staging / card.folder / rel)
    shutil.rmtree(staging / "archive", ignore_errors=True)
    if missing:
        raise AssetError(f"{source} lacks {len(missing)} of the {len(wanted)} files of {card.name} (or holds other "
                         f"versions of them), e.g. {', '.join(missing[:3])}. Fix: {fix}.")
    return staging / card.folder


def _fetch(card: DatasetCard, cache: Path, progress: bool) -> Path:
    """Download the card's archive into the cache (or take the one a person put there) and extract it; atomic."""
    local = cache / card.archive_name if card.archive_name else None
    if local is not None and local.is_file():
        archive, source = local, str(local)
    else:
        suffix = ".zip" if card.url.endswith(".zip") else ".tar.gz"  # safe_extract sniffs the real type
        archive = download(card.url, cache / f"{card.name}{suffix}", sha256=card.archive_sha256, progress=progress)
        source = card.url
    staging = Path(tempfile.mkdtemp(prefix=f".{card.name}-", dir=cache))
    try:
        if card.archive_name:
            extracted = extract_subset(card, archive, staging, source, fix=card.how_to_get(cache))
        else:
            extracted = extract_checked(card, archive, staging, source, fix="the download is corrupt; run again")
        if card.manifest:
            (extracted / _STAMP).write_text(sha256_file(MANIFEST_DIR / card.manifest) + "\n")
        final = cache / card.folder
        if not final.exists():  # another process may have finished first: keep theirs
            os.replace(extracted, final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if archive != local:
            archive.unlink(missing_ok=True)  # extracted and verified (or bad): the download is not needed


def _fallback(card: DatasetCard, reason: str, allow_synthetic: bool, progress: bool) -> AssetSource:
    mirror, cache = mirror_dir(), cache_dir()
    where = f"mirror {mirror / card.folder}" if mirror else "mirror: TRANSFER_LESSONS_DATA not set"
    how = f"set TRANSFER_LESSONS_DATA to a folder holding {card.folder}/, or {card.how_to_get(cache)}"
    if not allow_synthetic or card.synthetic_fallback is None:
        raise OfflineAssetMissing(f"Dataset {card.name!r} is not available ({reason}); looked in {where} "
                                  f"and cache {cache / card.folder}. Fix: {how}.")
    warnings.warn(f"Dataset {card.name!r} is not available ({reason}); using the generated stand-in "
                  f"{card.synthetic_fallback!r}, so results will not match the lesson's. "
                  f"To get the real data, {how}.", UserWarning, stacklevel=3)
    return resolve_dataset(card.synthetic_fallback, progress=progress)


def resolve_dataset(name_or_path: Union[str, Path, DatasetCard], *, allow_synthetic: bool = True,
                    progress: bool = True) -> AssetSource:
    """Find a dataset's folder: your own folder, then the module docstring's order (mirror ... synthetic stand-in).

    ``allow_synthetic``: fall back to the card's generated stand-in (with a warning) instead of raising when the real
    data cannot be had.
    Raises:
        ChecksumMismatch, AssetError: a mirror or cache file differs or is missing, or a download stopped part-way.
        OfflineAssetMissing: nothing local, no network, and ``allow_synthetic=False``.
    """
    if not isinstance(name_or_path, DatasetCard) and name_or_path not in DATASETS:
        path = Path(name_or_path).expanduser()
        if path.is_dir():
            return AssetSource(name=path.name, root=path, source="user")
        if isinstance(name_or_path, Path) or os.sep in str(name_or_path) or "/" in str(name_or_path):
            raise DatasetLayoutError(f"Dataset folder {path} does not exist. Fix: check the path, "
                                     f"or use a name from transfer_lessons.list_datasets().")
    card = _card(name_or_path)
    mirror, cache = mirror_dir(), cache_dir()
    if card.synthetic:
        return AssetSource(card.name, write_synthetic(card.name, cache / card.folder), "synthetic")
    if mirror is not None and (mirror / card.folder).is_dir():
        verify_manifest(mirror / card.folder, MANIFEST_DIR / card.manifest,
                        fix=f"restore it from the original archive (`python -m transfer_lessons mirror {mirror}` "
                            "repairs a mirror), or unset TRANSFER_LESSONS_DATA")
        return AssetSource(card.name, mirror / card.folder, "mirror")
    if (cache / card.folder).is_dir():
        _verify_cache(card, cache / card.folder)
        return AssetSource(card.name, cache / card.folder, "cache")
    has_archive = card.archive_name is not None and (cache / card.archive_name).is_file()
    if not has_archive and (is_offline() or not card.url):
        reason = "offline and not in the mirror or cache" if card.url else "no download address is known"
        return _fallback(card, reason, allow_synthetic, progress)
    cache.mkdir(parents=True, exist_ok=True)
    try:
        root = _fetch(card, cache, progress)
    except OfflineAssetMissing as err:  # no network is a normal state for a learner, not a crash
        return _fallback(card, f"download failed: {err}", allow_synthetic, progress)
    return AssetSource(card.name, root, "cache" if has_archive else "download")


def dataset_status(name: Union[str, DatasetCard]) -> dict:
    """``{"available", "source"}``: where a dataset would come from now, without downloading, generating or hashing;
    ``synthetic`` with ``available`` False: only the generated stand-in can be had now."""
    card = _card(name)
    mirror, cache = mirror_dir(), cache_dir()
    if card.synthetic:
        return {"available": True, "source": "synthetic"}
    if mirror is not None and (mirror / card.folder).is_dir():
        return {"available": True, "source": "mirror"}
    if (cache / card.folder).is_dir() or (card.archive_name and (cache / card.archive_name).is_file()):
        return {"available": True, "source": "cache"}
    if card.url and not is_offline():
        return {"available": True, "source": "download"}
    return {"available": False, "source": "synthetic"}

