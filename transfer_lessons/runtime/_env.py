"""Where things run and how repeatably: settings from the environment, device, seeds, versions.

Settings are environment variables, read at call time so tests and notebooks can change them: ``TRANSFER_LESSONS_DATA``,
a mirror folder holding datasets and weights (classrooms, offline); ``TRANSFER_LESSONS_CACHE``, the cache folder
(default ``~/.cache/transfer_lessons``); ``TRANSFER_LESSONS_OFFLINE=1``, never use the network.
"""

from __future__ import annotations

import importlib
import os
import platform
import random
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np
import torch

from ..errors import MissingExtra


def mirror_dir() -> Optional[Path]:
    """The mirror folder from ``TRANSFER_LESSONS_DATA``, or None when unset."""
    value = os.environ.get("TRANSFER_LESSONS_DATA", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The cache folder (``TRANSFER_LESSONS_CACHE`` or ``~/.cache/transfer_lessons``)."""
    value = os.environ.get("TRANSFER_LESSONS_CACHE", "").strip()
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "transfer_lessons"


def is_offline() -> bool:
    """True when ``TRANSFER_LESSONS_OFFLINE`` is set to 1/true/yes."""
    return os.environ.get("TRANSFER_LESSONS_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def pick_device(preferred: Optional[str] = None):
    """Return a ``torch.device``: the one asked for, else cuda, then mps, then cpu."""
    if preferred:
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def synchronize(device) -> None:
    """Wait until ``device`` has finished the work queued on it (CUDA and MPS run asynchronously).

    A timer read without it stops before the GPU is done; on a CPU it does nothing.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def seed_everything(seed: int = 0, deterministic: bool = False) -> int:
    """Seed Python, NumPy and torch (all devices); optionally ask for deterministic kernels. Returns the seed."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA too
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return seed


def versions() -> dict:
    """Versions of Python and the libraries the course leans on (None where not installed)."""
    out = {"python": platform.python_version()}
    for name in ("torch", "torchvision", "timm", "torchmetrics", "numpy", "huggingface_hub", "transfer_lessons"):
        try:
            out[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@contextmanager
def atomic_path(path: Union[str, Path]) -> Iterator[Path]:
    """Write a file so that a reader sees the old one or the whole new one, never half.

    Yields a temporary path in the same folder (``os.replace`` is atomic only within one file system), renamed over
    ``path`` when the block ends without an error; the temporary file is removed in every case.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency, or raise ``MissingExtra`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtra(f"{purpose} needs {module.split('.')[0]} ({err}). Fix: pip install "
                           f"'transfer-lessons[{extra}]' (from a checkout: pip install -e '.[{extra}]').") from err
