"""The nbgrader edition: an nbgrader course folder generated from the lessons and ``notebooks/solutions/``.

A lesson's exercise cell (placeholder lines, then ``check_…(answer)``) becomes two graded cells: an autograded
answer, the placeholder then the solution notebook's code for that exercise between ``### BEGIN SOLUTION`` and
``### END SOLUTION``; and a locked autograder test worth one point that asserts the check's verdict (a check never
raises, so the assert is what fails). Solution cells tagged ``stand-in`` (made-up copies of the lesson's objects, so
the solutions notebook runs alone) are left out: in the lesson the real objects are there.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ..errors import DataError
from ..exercises import CHECKS
from ..runtime import require
from ._runner import clear_folder, find_lessons, write_text

# nbgrader reads this from the course folder; written once, so an instructor's changes survive the next export.
CONFIG = '''\
"""nbgrader settings for Transfer Lessons (written by `python -m transfer_lessons edition nbgrader`)."""
import os

c = get_config()  # noqa: F821 - nbgrader provides it
c.CourseDirectory.course_id = "transfer-lessons"
# A released answer cell keeps the lesson's placeholder (answer = None): its check says what is expected.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
# Grading runs each lesson in the smoke profile (PROFILE = "auto" reads this), headless, cell by cell within
# the timeout. Set TRANSFER_LESSONS_DATA to a mirror (make mirror) where the graders have no internet.
os.environ.setdefault("TRANSFER_LESSONS_PROFILE", "smoke")
os.environ.setdefault("TRANSFER_LESSONS_HEADLESS", "1")
c.Execute.timeout = 300  # seconds per cell
'''
_MARKER = ".transfer-lessons-nbgrader"  # only a source/ folder holding it is replaced


def _check_statement(source: str):
    """Split a cell at its last top-level ``check_…(…)`` call: (exercise name, code before, the call, code after),
    or None when it has none."""
    if "check_" not in source:
        return None
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython syntax (magics): not an exercise cell
        return None
    for node in reversed(body):
        func = node.value.func if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) else None
        name = getattr(func, "attr", None) or getattr(func, "id", "")
        if name in CHECKS:
            lines = source.splitlines()
            return (name.removeprefix("check_"), "\n".join(lines[:node.lineno - 1]).strip(),
                    "\n".join(lines[node.lineno - 1:node.end_lineno]), "\n".join(lines[node.end_lineno:]).strip())
    return None


def _solutions(path: Path, lesson_lines: set) -> dict[str, str]:
    """Each exercise's solution code: the solution cells since the previous check, less the check call and the
    imports the lesson has already run."""
    nbformat = require("nbformat", "course", "writing the nbgrader edition")
    blocks, pending = {}, []
    for cell in nbformat.read(str(path), as_version=4).cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code" or "parameters" in tags or "stand-in" in tags:
            continue
        found = _check_statement(cell.source)
        lines = (f"{found[1]}\n{found[3]}" if found else cell.source).splitlines()
        code = "\n".join(ln for ln in lines if not (ln.startswith(("import ", "from ")) and ln in lesson_lines))
        pending.append(code.strip())
        if found:
            blocks[found[0]] = re.sub(r"\n{3,}", "\n\n", "\n\n".join(part for part in pending if part))
            pending = []
    return blocks


def _graded(cell_id: str, source: str, points: int = 0):
    nbformat = require("nbformat", "course", "writing the nbgrader edition")
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.nbgrader = {"schema_version": 3, "grade_id": cell_id, "grade": bool(points), "locked": bool(points),
                              "solution": not points, "task": False, **({"points": points} if points else {})}
    return cell


def nbgrader_notebook(lesson: Path, solutions: Path):
    """The nbgrader source notebook of one lesson (outputs cleared); see the module docstring."""
    nbformat = require("nbformat", "course", "writing the nbgrader edition")
    notebook, cells = nbformat.read(str(lesson), as_version=4), []
    answers = _solutions(solutions, {line for cell in notebook.cells for line in cell.source.splitlines()})
    for cell in notebook.cells:
        found = _check_statement(cell.source) if cell.cell_type == "code" else None
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if not found:
            cells.append(cell)
            continue
        name, placeholder, call, after = found
        if name not in answers:
            raise DataError(f"{solutions} has no solution for check_{name} (asked in {lesson.name}): add it there.")
        answer = f"{placeholder}\n### BEGIN SOLUTION\n{answers[name]}\n### END SOLUTION".strip()
        # nbgrader reads a test's result value as partial credit: the verdict is printed, not returned
        test = f"verdict = {call}\nassert verdict, verdict\nprint(verdict)\n{after}".strip()
        cells += [_graded(f"{name}_answer", answer), _graded(f"{name}_check", test, points=1)]
    notebook.cells = cells
    return notebook


def build_nbgrader(out_dir, notebooks_dir="notebooks") -> list[Path]:
    """Write an nbgrader course folder: ``nbgrader_config.py`` (if absent) and ``source/<lesson>/<lesson>.ipynb``.

    Only ``out_dir/source/`` is replaced, so ``release/``, submissions and the gradebook survive a new export.
    Then ``nbgrader generate_assignment 00_tour`` in that folder. Returns the source notebooks written.
    """
    nbformat = require("nbformat", "course", "writing the nbgrader edition")
    notebooks, out = Path(notebooks_dir), Path(out_dir)
    lessons, source = find_lessons(notebooks), out / "source"
    if not lessons:
        raise DataError(f"No lesson notebooks (NN_name.ipynb) in {notebooks}: pass the course's notebooks/ folder.")
    clear_folder(source, _MARKER, notebooks, "build/nbgrader")
    written = []
    for lesson in lessons:
        solutions = notebooks / "solutions" / f"{lesson.stem}_solutions.ipynb"
        if not solutions.is_file():
            raise DataError(f"{lesson.name} has no solutions notebook {solutions}: the answer cells need one.")
        written.append(source / lesson.stem / lesson.name)
        write_text(written[-1], nbformat.writes(nbgrader_notebook(lesson, solutions)) + "\n")
    write_text(source / _MARKER, f"generated from {notebooks.resolve()}; replaced by the next export\n")
    if not (out / "nbgrader_config.py").exists():
        write_text(out / "nbgrader_config.py", CONFIG)
    return written
