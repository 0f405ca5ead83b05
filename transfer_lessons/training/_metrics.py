"""Running averages, log lines and the per-epoch history, kept here so that the training loop, which only calls
``MetricLogger.update``, reads top to bottom without bookkeeping [torchvision ``references/detection/utils.py``].
"""

from __future__ import annotations

import math
from typing import Iterator, Optional

# Keys whose best value is the smallest one; every other key is "higher is better".
_LOWER_IS_BETTER = ("loss", "seconds")


class AverageMeter:
    """A weighted running average of one number (a loss, an accuracy)."""

    def __init__(self, name: str = ""):
        self.name = name
        self.val = 0.0  # the last value given
        self.sum = 0.0  # value × n summed, so batches of different sizes weigh right
        self.count = 0

    def update(self, value: float, n: int = 1) -> None:
        """Add ``value`` measured over ``n`` items (e.g. the mean loss of a batch of n images)."""
        self.val = float(value)
        self.sum += float(value) * n
        self.count += n

    @property
    def avg(self) -> float:
        """The average so far; NaN before the first update."""
        return self.sum / self.count if self.count else math.nan

    def __repr__(self) -> str:
        return f"AverageMeter({self.name!r}, avg={self.avg:.4f}, count={self.count})"


class MetricLogger:
    """A named set of ``AverageMeter``s, updated together once per batch."""

    def __init__(self):
        self.meters: dict[str, AverageMeter] = {}

    def update(self, n: int = 1, **values: float) -> None:
        """Add one batch's values, each measured over ``n`` items."""
        for name, value in values.items():
            self.meters.setdefault(name, AverageMeter(name)).update(value, n)

    def __getitem__(self, name: str) -> AverageMeter:
        return self.meters[name]

    def averages(self) -> dict:
        return {name: meter.avg for name, meter in self.meters.items()}

    def __str__(self) -> str:
        return "  ".join(f"{name} {meter.avg:.4f}" for name, meter in self.meters.items())


def format_epoch(row: dict, epochs: Optional[int] = None) -> str:
    """One log line for one epoch's row of a ``History``, e.g. ``'epoch 1/3  train loss 0.5000 acc 80.0%'``."""
    parts = [f"epoch {row['epoch']}" + (f"/{epochs}" if epochs else "")]
    for split in ("train", "val"):
        if row.get(f"{split}_loss") is not None:
            parts.append(f"{split} loss {row[f'{split}_loss']:.4f} acc {100 * row[f'{split}_acc']:.1f}%")
    formats = (("lr", "lr {:.2e}"), ("seconds", "{:.1f} s"), ("images_per_s", "{:.0f} img/s"))
    parts += [text.format(row[key]) for key, text in formats if row.get(key) is not None]
    return "  ".join(parts)


class History:
    """The per-epoch record of a run: a list of plain dicts, one per epoch.

    Rows look like ``{"epoch": 1, "train_loss": ..., "train_acc": ..., "val_loss": ..., "val_acc": ..., "lr": ...,
    "seconds": ..., "images_per_s": ...}``. Accuracies are fractions in [0, 1]; ``lr`` is the backbone's learning
    rate at the end of the epoch. ``kept_epoch`` names the epoch whose weights the model holds after ``fit`` (the
    best one on validation, unless ``FitOptions(keep_best=False)``); ``kept()`` is its row.
    """

    def __init__(self, rows: Optional[list] = None, kept_epoch: Optional[int] = None):
        self.rows: list[dict] = [dict(row) for row in rows or []]
        self.kept_epoch = kept_epoch  # the epoch whose weights the model holds now (fit keeps the best one)

    def append(self, row: dict) -> None:
        """Add one epoch's row (copied, so later edits to ``row`` do not leak in)."""
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.rows[index]

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs)"

    def column(self, key: str) -> list:
        """The values of ``key`` in every row (None where a row lacks it)."""
        return [row.get(key) for row in self.rows]

    def last(self) -> dict:
        """The latest row; IndexError when the history is empty."""
        if not self.rows:
            raise IndexError("History is empty: no epoch has finished yet.")
        return self.rows[-1]

    def best(self, key: str = "val_acc", mode: Optional[str] = None) -> dict:
        """The row with the best value of ``key`` (the earliest on ties); KeyError when no row has one.

        ``mode``: ``"max"`` or ``"min"`` (else ValueError); default ``"min"`` for losses and times, else ``"max"``.
        """
        mode = mode or ("min" if key.endswith(_LOWER_IS_BETTER) else "max")
        if mode not in ("max", "min"):
            raise ValueError(f"History.best: mode must be 'max' or 'min', got {mode!r}.")
        rows = [row for row in self.rows if row.get(key) is not None]
        if not rows:
            raise KeyError(f"History.best: no row has a value for {key!r}; columns are {self.keys()}.")
        sign = 1 if mode == "max" else -1
        return max(rows, key=lambda row: sign * row[key])

    def keys(self) -> list:
        """Every column name, in first-seen order."""
        return list(dict.fromkeys(key for row in self.rows for key in row))

    def kept(self) -> dict:
        """The row of ``kept_epoch`` (the last row when none is set)."""
        return next((row for row in self.rows if row["epoch"] == self.kept_epoch), None) or self.last()

    def to_dict(self) -> dict:
        """The history as plain lists and numbers, safe in a weights-only checkpoint."""
        return {"rows": [dict(row) for row in self.rows], "kept_epoch": self.kept_epoch}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Rebuild a history from ``to_dict``'s output."""
        return cls(data.get("rows", []), data.get("kept_epoch"))

