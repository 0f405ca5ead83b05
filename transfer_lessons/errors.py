"""The one exception tree of the package: every error a learner can trigger.

Catch ``TransferLessonsError`` to catch them all. Each message names the file or value that is wrong and says how
to fix it, in one line. Several classes also derive from the built-in exception a Python user would expect
(``UnknownName`` is a ``KeyError`` too, ``DataError`` a ``ValueError``, ``MissingExtra`` an ``ImportError``), so
code written against the built-ins keeps working.

    TransferLessonsError
    ├── AssetError                 a dataset or weight file could not be had
    │   ├── ChecksumMismatch       a file's sha256 differs from the manifest
    │   ├── OfflineAssetMissing    needed the network, but offline (or no network)
    │   └── UnsafeArchive          an archive member would land outside its folder
    ├── DataError                  the data itself is wrong
    │   ├── BadImage               an image cannot be decoded, or is degenerate
    │   └── DatasetLayoutError     folders are not laid out as expected
    ├── NonFiniteLoss              a loss became NaN or inf during training
    ├── UnknownName                a backbone, dataset or profile name is not known
    └── MissingExtra               an optional dependency is not installed (names the pip extra)
"""

from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["TransferLessonsError", "AssetError", "ChecksumMismatch", "OfflineAssetMissing", "UnsafeArchive",
           "DataError", "BadImage", "DatasetLayoutError", "NonFiniteLoss", "UnknownName", "MissingExtra"]


class TransferLessonsError(Exception):
    """Base of every error raised on purpose by ``transfer_lessons``."""


class AssetError(TransferLessonsError):
    """A dataset or weight file could not be found, fetched or trusted."""


class ChecksumMismatch(AssetError):
    """A file's sha256 differs from the one recorded for it."""

    def __init__(self, path, expected: str, actual: str, fix: str = "delete it and run again"):
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(f"Checksum mismatch for {path}: expected sha256 {expected[:12]}…, got {actual[:12]}…; "
                         f"the file is corrupt or was changed: {fix}.")


class OfflineAssetMissing(AssetError):
    """An asset is not in the mirror or cache, and the network may not be used."""


class UnsafeArchive(AssetError):
    """An archive member has an absolute path, a '..' part, or a link out of the target."""


class DataError(TransferLessonsError, ValueError):
    """The data given is not usable as it is."""


class BadImage(DataError):
    """An image file cannot be decoded, or decodes to something degenerate."""


class DatasetLayoutError(DataError):
    """A dataset folder is not laid out as expected (missing split, empty class, ...)."""


class NonFiniteLoss(TransferLessonsError, FloatingPointError):
    """The training loss became NaN or infinite."""


class UnknownName(TransferLessonsError, KeyError):
    """A name (backbone, dataset, profile) that the package does not know."""

    def __init__(self, kind: str, name: str, known: Iterable[str], see: str):
        known = sorted(known)
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        self.kind, self.name, self.known = kind, name, known
        super().__init__(f"Unknown {kind} {name!r}.{hint} See {see}.")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class MissingExtra(TransferLessonsError, ImportError):
    """An optional dependency is missing; the message names the pip extra that installs it."""
