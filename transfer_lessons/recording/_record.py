"""Recording a lesson's results inside its notebook, and saying what they mean.

``record`` stores a value silently in the cell's output under a custom MIME type: the executed notebook itself is
the record (the scrapbook idea, without the dependency), read back from the ``.ipynb`` by ``read_records``.
"""

from __future__ import annotations

import json
import math
from numbers import Number
from pathlib import Path
from typing import Optional

METRIC_MIME = "application/vnd.transfer-lessons.metric+json"
_RECORDS: dict = {}


def _ipython_display():
    try:  # IPython comes with the ``course`` extra; without it, or outside a kernel, sentences are printed
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        return None
    return (display, Markdown) if get_ipython() is not None else None


def _plain(value):
    """Turn numpy/torch scalars and tuples into JSON-ready Python values."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, Number):
        value = float(value)
        return value if math.isfinite(value) else None  # JSON has no NaN; a missing number is honest
    raise TypeError(f"record() takes numbers, strings, bools, lists or dicts, not {type(value).__name__}")


def record(key: str, value, show: bool = False) -> None:
    """Record one result of a lesson under ``key`` (e.g. ``"top1.chelsea"``), for ``reports/summary.json``.

    ``value``: a number, string, bool, or a list/dict of them (numpy/torch scalars too; else TypeError). ``show``:
    also show ``recorded key = value`` under the cell (default silent). Returns None: a trailing call echoes nothing.
    """
    value = _plain(value)
    _RECORDS[key] = value
    shown = _ipython_display()
    if shown is not None:
        bundle = {METRIC_MIME: {"key": key, "value": value}}
        if show:
            bundle["text/plain"] = f"recorded {key} = {f'{value:.4g}' if isinstance(value, float) else value}"
        shown[0](bundle, raw=True)


def records() -> dict:
    """Everything recorded so far in this process (a copy)."""
    return dict(_RECORDS)


def say(markdown: str) -> None:
    """Show a Markdown sentence built from live variables, so prose numbers are never typed."""
    shown = _ipython_display()
    if shown is None:
        print(markdown)
    else:
        shown[0](shown[1](markdown))


def claim(condition, if_true: str, if_false: str, *, key: Optional[str] = None) -> str:
    """Say and return the sentence the measurement makes true: ``if_true`` if ``condition`` holds, else ``if_false``.

    A lesson writes its interpretation both ways, so the text never contradicts this run's numbers, whatever the
    machine or seed. With ``key``, which one was said is recorded (``claim.<key>``: True or False) for tests to check.
    """
    sentence = if_true if bool(condition) else if_false
    if key is not None:
        record(f"claim.{key}", bool(condition))
    say(sentence)
    return sentence


def headline(key: str, markdown: str) -> str:
    """Say one of the lesson's headline results and record it (``headline.<key>``) for the reports page.

    Each lesson ends with three to six, built from its measured values, with units.
    """
    record(f"headline.{key}", markdown)
    say(markdown)
    return markdown


def read_records(notebook_path) -> dict:
    """The values ``record`` stored in an executed notebook, in order (later ones win)."""
    cells = json.loads(Path(notebook_path).read_text(encoding="utf-8")).get("cells", [])
    items = (output.get("data", {}).get(METRIC_MIME) for cell in cells for output in cell.get("outputs", []))
    return {item["key"]: item["value"] for item in items if item is not None}
