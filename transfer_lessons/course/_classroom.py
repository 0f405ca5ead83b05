"""The classroom kit: student and instructor editions of the course (the nbgrader one is in ``_nbgrader.py``), and a
learner's progress.

Solutions live only in ``notebooks/solutions/``; the lessons hold placeholders (``answer_1 = None``) and the
checks, so an edition is a copy: ``student``, the lessons with outputs cleared; ``instructor``, plus ``solutions/``.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Iterable, Optional

from ..errors import DataError, UnknownName
from ..exercises import CHECKS
from ..recording import read_records
from ..runtime import require
from ._nbgrader import build_nbgrader
from ._runner import clear_folder, find_lessons, write_text
from ._runner import execute as execute_notebook

EDITIONS = ("student", "instructor", "nbgrader")
_MARKER = ".transfer-lessons-edition"  # only a folder holding it is ever deleted and rewritten
_CHECK_CALL = re.compile(r"\bcheck_(\w+)\s*\(")


def _cleared(notebook_path: Path) -> str:
    nbformat = require("nbformat", "course", "writing editions")
    notebook = nbformat.read(str(notebook_path), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(notebook) + "\n"


def build_edition(kind: str, out_dir, notebooks_dir="notebooks") -> list[Path]:
    """Write the ``student``, ``instructor`` (see the module docstring) or ``nbgrader`` edition into ``out_dir``.

    ``nbgrader``: an nbgrader course folder (see ``build_nbgrader``). ``out_dir`` (e.g. ``build/student``) is
    replaced wholesale, but only if an edition wrote it (else DataError). Returns the notebooks written, lessons first.
    """
    if kind not in EDITIONS:
        raise UnknownName("edition", kind, list(EDITIONS), "EDITIONS")
    if kind == "nbgrader":
        return build_nbgrader(out_dir, notebooks_dir)
    source = Path(notebooks_dir)
    lessons = find_lessons(source)
    if not lessons:
        raise DataError(f"No lesson notebooks (NN_name.ipynb) in {source}: pass the course's notebooks/ folder.")
    out = Path(out_dir)
    clear_folder(out, _MARKER, source, f"build/{kind}")  # a stale solutions/ must not survive into a student edition
    sources = [(nb, out / nb.name) for nb in lessons]
    if kind == "instructor":
        sources += [(nb, out / "solutions" / nb.name) for nb in sorted((source / "solutions").glob("*.ipynb"))]
    for notebook, target in sources:
        write_text(target, _cleared(notebook))
    write_text(out / _MARKER, f"{kind} edition of {source.resolve()}; replaced by the next `edition` run\n")
    return [target for _, target in sources]


def exercise_names(notebook_path) -> list[str]:
    """The exercises a notebook checks, in order: ``check_iou(...)`` gives ``"iou"`` (it records ``exercise.iou``)."""
    nbformat = require("nbformat", "course", "reading notebooks")
    calls = [name for cell in nbformat.read(str(notebook_path), as_version=4).cells if cell.cell_type == "code"
             for name in _CHECK_CALL.findall(cell.source)]
    return list(dict.fromkeys(name for name in calls if f"check_{name}" in CHECKS))  # first call's order


def find_notebooks(directory, lessons: Optional[Iterable[str]] = None) -> list[Path]:
    """Lesson notebooks ``NN_*.ipynb`` in ``directory`` and in its ``solutions/``, lessons first.

    ``lessons``: numbers (``"00"``) or names (``"00_tour"``); default all.
    """
    directory = Path(directory)
    found = sorted(directory.glob("[0-9][0-9]_*.ipynb")) + sorted(directory.glob("solutions/[0-9][0-9]_*.ipynb"))
    if not lessons:
        return found
    wanted = [str(name) for name in lessons]
    return [nb for nb in found
            if any(nb.stem.split("_")[0] == w.zfill(2) or nb.stem.removesuffix("_solutions") == w for w in wanted)]


def progress(directory="notebooks", lessons: Optional[Iterable[str]] = None, execute: bool = False,
             profile: str = "smoke", timeout: Optional[int] = 1800) -> list[dict]:
    """Each exercise's status in a folder of notebooks: one row per notebook and exercise.

    In an instructor edition, a lesson with a solutions notebook is reported through it (the lesson holds the
    learners' blanks), so every row there should pass. ``execute``: run each notebook first (papermill, in the
    ``profile`` given as ``PROFILE``, into a temporary folder; the learner's files are untouched); otherwise read the
    outputs saved in the files. ``timeout``: seconds one cell may run.
    Returns rows ``{"notebook", "lesson", "exercise", "status"}``; status is ``passed``, ``failed``, ``not attempted``
    or ``not run`` (no verdict saved: the cell never ran); plus ``"error"`` when execution stopped early.
    """
    directory = Path(directory)
    notebooks = find_notebooks(directory, lessons)
    marker = directory / _MARKER
    if marker.is_file() and marker.read_text().startswith("instructor"):
        answered = {nb.stem.removesuffix("_solutions") for nb in notebooks if nb.parent.name == "solutions"}
        notebooks = [nb for nb in notebooks if nb.parent.name == "solutions" or nb.stem not in answered]
    rows = []
    with tempfile.TemporaryDirectory(prefix="progress-") as tmp:
        for notebook in notebooks:
            names = exercise_names(notebook)
            if not names:
                continue
            saved, error = notebook, ""
            if execute:  # a copy in tmp, run in the notebook's own folder
                saved = Path(tmp) / notebook.parent.name / notebook.name
                saved.parent.mkdir(parents=True, exist_ok=True)
                _, error = execute_notebook(notebook, saved, profile, timeout)
            verdicts = read_records(saved) if saved.exists() else {}
            rows += [{"notebook": notebook.relative_to(directory).as_posix(),
                      "lesson": notebook.stem.removesuffix("_solutions"), "exercise": name,
                      "status": verdicts.get(f"exercise.{name}", "not run"), **({"error": error} if error else {})}
                     for name in names]
    return rows


def format_progress(rows: list[dict]) -> str:
    """``progress`` rows as a text table with a summary line (counts per status)."""
    width = max([len(row["notebook"]) for row in rows] + [8])
    lines = [f"{'notebook':<{width}}  {'exercise':<20} status"]
    lines += [f"{row['notebook']:<{width}}  {row['exercise']:<20} {row['status']}" for row in rows]
    counts = Counter(row["status"] for row in rows)
    summary = ", ".join(f"{n} {status}" for status, n in counts.items()) or "no exercises found"
    lines.append(f"{len(rows)} exercises: {summary}")
    errors = sorted({f"{row['notebook']}: {row['error']}" for row in rows if row.get("error")})
    lines += [f"stopped early: {line}" for line in errors]
    return "\n".join(lines)
