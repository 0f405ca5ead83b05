"""Recording results inside notebooks, and running the lessons into ``reports/``.

A notebook records each key result with one call, ``record("val_acc", acc)``. The value is
shown in the notebook and stored in its output under a custom MIME type, so the executed
notebook itself is the record: ``read_records`` gets the values back from the ``.ipynb``
(the scrapbook idea, without the dependency). ``run_lessons`` executes every lesson with
papermill, one failing lesson not stopping the others, and writes ``reports/NN_name.ipynb``,
an HTML copy, ``reports/summary.json`` and ``reports/index.html``.
"""

from __future__ import annotations

import html
import json
import math
import os
import time
from numbers import Number
from pathlib import Path
from typing import Iterable, Optional

from .runtime import atomic_path

__all__ = ["record", "records", "say", "read_records", "run_lessons", "find_lessons", "METRIC_MIME"]

METRIC_MIME = "application/vnd.transfer-lessons.metric+json"
_RECORDS: dict = {}


def _plain(value):
    """Turn numpy/torch scalars and tuples into JSON-ready Python values."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Number):
        value = float(value) if not isinstance(value, int) else value
        if isinstance(value, float) and not math.isfinite(value):
            return None  # JSON has no NaN; a missing number is honest
        return value
    raise TypeError(f"record() takes numbers, strings, bools, lists or dicts, not {type(value).__name__}")


def record(key: str, value, show: bool = True) -> None:
    """Record one result of a lesson under ``key`` (e.g. ``"top1.chelsea"``).

    Args:
        key: a dotted name; ``run_lessons`` copies it into ``reports/summary.json``.
        value: a number, string, bool, or a list/dict of them (numpy/torch scalars are fine).
        show: also print ``recorded key = value`` under the cell (the value is stored either way).

    Returns:
        None, so a trailing ``record(...)`` does not echo the value a second time.

    Example:
        >>> record("val_acc", 0.93)  # doctest: +SKIP
        recorded val_acc = 0.93

    Used at the end of every lesson section.
    """
    value = _plain(value)
    _RECORDS[key] = value
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        shown = f"{value:.4g}" if isinstance(value, float) else value
        bundle = {METRIC_MIME: {"key": key, "value": value}}
        if show:
            bundle["text/plain"] = f"recorded {key} = {shown}"
        display(bundle, raw=True)


def records() -> dict:
    """Everything recorded so far in this process (a copy)."""
    return dict(_RECORDS)


def say(markdown: str):
    """Show a Markdown sentence built from live variables, so prose numbers are never typed.

    Example:
        >>> say(f"The model is **{prob:.0%}** sure.")  # doctest: +SKIP
    """
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        print(markdown)
        return
    if get_ipython() is None:
        print(markdown)
    else:
        display(Markdown(markdown))


def read_records(notebook_path) -> dict:
    """The values ``record`` stored in an executed notebook, in order (later ones win)."""
    notebook = json.loads(Path(notebook_path).read_text(encoding="utf-8"))
    found = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            item = output.get("data", {}).get(METRIC_MIME)
            if item is not None:
                found[item["key"]] = item["value"]
    return found


def _atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename: readers never see half a file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def find_lessons(notebook_dir, names: Optional[Iterable[str]] = None) -> list[Path]:
    """Lesson notebooks ``NN_name.ipynb`` in order; ``names`` filters by number or stem.

    Raises:
        UnknownName: a requested lesson does not exist.
    """
    from .errors import UnknownName

    lessons = sorted(p for p in Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return lessons
    chosen = []
    for name in names:
        match = [p for p in lessons if p.stem == name or p.stem.split("_")[0] == name.zfill(2)]
        if not match:
            raise UnknownName("lesson", name, [p.stem for p in lessons], f"the notebooks in {notebook_dir}")
        chosen += [p for p in match if p not in chosen]
    return chosen


_HEADLESS = "TRANSFER_LESSONS_HEADLESS"  # see widgets.is_headless


def _execute(notebook: Path, output: Path, profile: str, timeout: Optional[int]) -> tuple[str, str]:
    """Run one notebook with papermill, headless (its widgets print plain output), with relative mirror and
    cache paths made absolute (the kernel runs in the notebook's folder); return (status, error message)."""
    import papermill

    overrides = {_HEADLESS: "1"}  # the kernel papermill starts inherits these
    for name in ("TRANSFER_LESSONS_DATA", "TRANSFER_LESSONS_CACHE"):  # the kernel's cwd is the notebook's folder
        value = os.path.expanduser(os.environ.get(name, "").strip())
        if value and not os.path.isabs(value):
            overrides[name] = os.path.abspath(value)
    previous = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters={"PROFILE": profile},
                                   cwd=str(notebook.parent), progress_bar=False,
                                   execution_timeout=timeout, kernel_name="python3")
        return "ok", ""
    except Exception as err:  # noqa: BLE001 - any failure of one lesson must not stop the rest
        return "failed", f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _to_html(notebook: Path) -> str:
    """Write an HTML copy beside the notebook; return "" or why it could not be written."""
    import warnings

    try:
        from nbconvert import HTMLExporter

        with warnings.catch_warnings():  # silent records carry only METRIC_MIME: no HTML wanted
            warnings.filterwarnings("ignore", message=".*is not able to be represented")
            body, _ = HTMLExporter().from_filename(str(notebook))
    except Exception as err:  # noqa: BLE001 - a missing template must not lose the other reports
        return f"no HTML copy ({type(err).__name__}: {str(err).splitlines()[0]})"
    _atomic_write(notebook.with_suffix(".html"), body)
    return ""


def run_lessons(profile: str = "auto", lessons: Optional[Iterable[str]] = None,
                notebook_dir="notebooks", out_dir="reports", timeout: Optional[int] = 1800) -> dict:
    """Execute lessons with papermill and write the reports; return the summary.

    Args:
        profile: ``smoke``, ``cpu``, ``gpu`` or ``auto``; injected as the notebooks' ``PROFILE``.
        lessons: numbers or stems to run (default: all).
        notebook_dir: where the lesson notebooks are.
        out_dir: where ``NN_name.ipynb``, ``.html``, ``summary.json`` and ``index.html`` go.
        timeout: seconds one cell may run before the lesson counts as failed.

    Returns:
        The summary dict also written to ``summary.json``; ``all(status == "ok")`` is success.

    Used by ``make course`` through ``python -m transfer_lessons run``.
    """
    from .profiles import get_profile, resolve_profile_name
    from .runtime import pick_device, versions

    profile = resolve_profile_name(profile)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"profile": profile, "profile_settings": get_profile(profile).as_dict(),
               "device": str(pick_device()), "versions": versions(), "lessons": {}}
    for notebook in find_lessons(notebook_dir, lessons):
        target = out / notebook.name
        print(f"[{profile}] {notebook.stem} ...", flush=True)
        start = time.perf_counter()
        status, error = _execute(notebook, target, profile, timeout)
        seconds = round(time.perf_counter() - start, 1)
        metrics = read_records(target) if target.exists() else {}
        run = metrics.get("run") if isinstance(metrics.get("run"), dict) else {}
        entry = {"status": status, "seconds": seconds,  # where the lesson's data came from, for the index
                 "data_source": metrics.pop("data_source", None) or run.get("data_source"), "metrics": metrics}
        if error:
            entry["error"] = error
        if target.exists() and (problem := _to_html(target)):
            entry["html"] = problem
        summary["lessons"][notebook.stem] = entry
        print(f"[{profile}] {notebook.stem}: {status} in {seconds} s {error}", flush=True)
        _atomic_write(out / "summary.json", json.dumps(summary, indent=2))
    _atomic_write(out / "summary.json", json.dumps(summary, indent=2))
    _atomic_write(out / "index.html", _index_html(summary))
    return summary


def _index_html(summary: dict) -> str:
    """A one-page view of summary.json for instructors."""
    rows = []
    for name, entry in summary["lessons"].items():
        metrics = "<br>".join(f"{html.escape(k)} = {html.escape(str(v))}" for k, v in entry["metrics"].items())
        colour = "#2e7d32" if entry["status"] == "ok" else "#c62828"
        rows.append(
            f"<tr><td><a href='{html.escape(name)}.html'>{html.escape(name)}</a></td>"
            f"<td style='color:{colour}'>{entry['status']}</td><td>{entry['seconds']}</td>"
            f"<td>{html.escape(str(entry['data_source']))}</td><td>{metrics}"
            f"{'<br><b>' + html.escape(entry['error']) + '</b>' if entry.get('error') else ''}</td></tr>")
    versions = ", ".join(f"{k} {v}" for k, v in summary["versions"].items())
    return (
        "<!doctype html><meta charset='utf-8'><title>Transfer Lessons report</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px 8px;"
        "vertical-align:top}table{border-collapse:collapse}</style>"
        f"<h1>Transfer Lessons — profile {html.escape(summary['profile'])}</h1>"
        f"<p>Device: {html.escape(summary['device'])}. Versions: {html.escape(versions)}.</p>"
        "<table><tr><th>lesson</th><th>status</th><th>seconds</th><th>data</th><th>metrics</th></tr>"
        + "".join(rows) + "</table>"
    )
