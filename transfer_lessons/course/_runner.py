"""Running the lessons: each executed with papermill into ``reports/`` (one failing lesson does not stop the
others), with an HTML copy of each, ``reports/summary.json`` (every recorded value) and ``reports/index.html``
(``_reports.py``). The kernel runs headless (widgets print their default state) and quiet: without the
"running over TCP without encryption" warning that jupyter_client logs for each lesson.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Iterable, Optional

from ..errors import DataError, UnknownName
from ..recording import read_records
from ..runtime import atomic_path, get_profile, pick_device, require, resolve_profile_name, versions
from ._reports import index_html


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def clear_folder(folder: Path, marker: str, keep_away_from: Path, example: str) -> None:
    """Empty ``folder`` for a new edition, but only if an edition wrote it (``marker`` inside) and it does not
    hold ``keep_away_from`` (the course's own notebooks)."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / marker).is_file() or keep_away_from.resolve().is_relative_to(folder.resolve()):
            raise DataError(f"{folder} is not empty and was not written by `edition`: refusing to replace it. "
                            f"Fix: choose a new or empty folder, e.g. {example}.")
        shutil.rmtree(folder)


def find_lessons(notebook_dir, names: Optional[Iterable[str]] = None) -> list[Path]:
    """Lesson notebooks ``NN_name.ipynb`` in order; ``names`` filters by number or stem (UnknownName: not there)."""
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
QUIET_KERNEL = ["--log-level=ERROR"]  # no TCP warning at every kernel start (module docstring); errors still show


def execute(notebook: Path, output: Path, profile: str, timeout: Optional[int]) -> tuple[str, str]:
    """Run one notebook with papermill, headless, relative mirror and cache paths made absolute: (status, error)."""
    papermill = require("papermill", "course", "running lessons")
    overrides = {_HEADLESS: "1"}  # the kernel papermill starts inherits these
    for name in ("TRANSFER_LESSONS_DATA", "TRANSFER_LESSONS_CACHE"):  # the kernel's cwd is the notebook's folder
        value = os.path.expanduser(os.environ.get(name, "").strip())
        if value and not os.path.isabs(value):
            overrides[name] = os.path.abspath(value)
    previous = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters={"PROFILE": profile},
                                   cwd=str(notebook.parent), progress_bar=False, execution_timeout=timeout,
                                   kernel_name="python3", extra_arguments=QUIET_KERNEL)
        return "ok", ""
    except Exception as err:  # noqa: BLE001 - any failure of one lesson must not stop the rest
        return "failed", f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    finally:  # this process's environment as it was
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _to_html(notebook: Path) -> str:
    """Write an HTML copy beside the notebook; return "" or why it could not be written."""
    try:
        from nbconvert import HTMLExporter  # the course extra

        with warnings.catch_warnings():  # silent records carry only METRIC_MIME: no HTML wanted
            warnings.filterwarnings("ignore", message=".*is not able to be represented")
            body, _ = HTMLExporter().from_filename(str(notebook))
    except Exception as err:  # noqa: BLE001 - a missing template must not lose the other reports
        return f"no HTML copy ({type(err).__name__}: {str(err).splitlines()[0]})"
    write_text(notebook.with_suffix(".html"), body)
    return ""


def run_lessons(profile: str = "auto", lessons: Optional[Iterable[str]] = None,
                notebook_dir="notebooks", out_dir="reports", timeout: Optional[int] = 1800) -> dict:
    """Execute lessons with papermill and write the reports; return the summary, also written to ``summary.json``.

    ``profile`` (``smoke``, ``cpu``, ``gpu`` or ``auto``) is injected as the notebooks' ``PROFILE``; ``lessons``:
    numbers or stems (default: all); ``timeout``: seconds one cell may run before the lesson counts as failed.
    """
    profile = resolve_profile_name(profile)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"profile": profile, "profile_settings": get_profile(profile).as_dict(),
               "device": str(pick_device()), "versions": versions(), "lessons": {}}
    for notebook in find_lessons(notebook_dir, lessons):
        target = out / notebook.name
        print(f"[{profile}] {notebook.stem} ...", flush=True)
        start = time.perf_counter()
        status, error = execute(notebook, target, profile, timeout)
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
        write_text(out / "summary.json", json.dumps(summary, indent=2))
    write_text(out / "summary.json", json.dumps(summary, indent=2))
    write_text(out / "index.html", index_html(summary, out))
    return summary
