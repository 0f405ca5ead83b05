"""Saving and loading training checkpoints: atomic writes, weights-only reads, RNG states.

A checkpoint holds only tensors, dicts, lists, tuples, numbers, strings and None, so it
loads with ``torch.load(weights_only=True)``: unpickling anything else can run code.
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Union

import numpy as np
import torch

from ..errors import TransferLessonsError
from ..runtime import atomic_path

_PLAIN = (str, int, float, bool, type(None), torch.Tensor)


def _check_plain(value, where: str = "state") -> None:
    """Raise TypeError naming the first value a weights-only load would refuse."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"save_checkpoint: key {key!r} in {where} is not a str or int.")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
    elif not isinstance(value, _PLAIN):
        raise TypeError(f"save_checkpoint: {where} holds a {type(value).__name__}; store only tensors, dicts, "
                        "lists, numbers and strings (e.g. history.to_dict(), profile.as_dict()).")


def save_checkpoint(path: Union[str, Path], **state) -> Path:
    """Write ``state`` to ``path`` atomically (fsync, then rename): a crash or a full disk leaves the old file whole.

    Raises TypeError (before writing) for a value ``weights_only=True`` would refuse; OSError if the write fails.
    """
    path = Path(path)
    _check_plain(state)
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        torch.save(state, file)
        file.flush()
        os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
    return path


def load_checkpoint(path: Union[str, Path], map_location="cpu") -> dict:
    """Load a ``save_checkpoint`` file, refusing anything but plain data (``"cpu"``: GPU checkpoints open anywhere).

    Raises TransferLessonsError: the file is corrupt, or holds Python objects (unpickling them could run code).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}: check the path, or train first "
                                "(fit(..., checkpoint_path=...)).")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, KeyError, IndexError) as exc:
        # torch.load on random bytes can fail in any of these ways; all mean "not a checkpoint"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TransferLessonsError(
            f"{path} is not a weights-only checkpoint ({reason[:200]}). It is corrupt, or holds "
            "Python objects, and unpickling those can run arbitrary code, so it is refused. "
            "Re-create it with save_checkpoint, which stores only tensors and plain data.") from exc


def rng_states() -> dict:
    """Python's, NumPy's, torch's and CUDA's random states as tensors and plain data (for ``save_checkpoint``)."""
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": {"version": version, "state": torch.tensor(words, dtype=torch.int64), "gauss": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_states(states: dict) -> None:
    """Set every random generator back to ``rng_states()``'s output."""
    py = states["python"]
    random.setstate((py["version"], tuple(int(w) for w in py["state"].tolist()), py["gauss"]))
    npy = states["numpy"]
    keys = npy["keys"].numpy().astype(np.uint32)
    np.random.set_state((npy["kind"], keys, npy["pos"], npy["has_gauss"], npy["cached"]))
    torch.set_rng_state(states["torch"].cpu())
    # Only as many CUDA devices as both the saving and the loading machine have.
    if states.get("cuda") and torch.cuda.is_available():
        for index, state in enumerate(states["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(state.cpu(), index)
