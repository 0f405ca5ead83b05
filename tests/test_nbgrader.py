"""The nbgrader edition, checked with nbgrader itself: the export's graded cells, ``generate_assignment`` for every
lesson (no solution line released), and ``autograde``: the instructor's solutions get every point, the untouched
release none. Lesson 00 is autograded in ``make test``; every lesson in ``make test-classroom``
(TRANSFER_LESSONS_CLASSROOM=1), each a smoke run of the lesson per submission, network blocked.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from test_classroom import SOLUTIONS, _solution_lines
from test_notebooks import _offline_env

from transfer_lessons.course import build_edition, build_nbgrader, exercise_names, main
from transfer_lessons.errors import DataError

LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BIN = Path(sys.executable).parent  # nbgrader, and the alembic it calls, are scripts beside this Python


def _graded(notebook: Path) -> list:
    return [c for c in nbformat.read(str(notebook), as_version=4).cells if c.metadata.get("nbgrader")]


def _nbgrader(course: Path, *args, env=None, timeout=300) -> subprocess.CompletedProcess:
    env = {**(env or os.environ), "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")])}
    return subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_export_makes_an_answer_and_a_one_point_test_per_exercise(tmp_path):
    written = build_nbgrader(tmp_path, REPO / "notebooks")
    assert [p.relative_to(tmp_path).as_posix() for p in written] == \
        [f"source/{nb.stem}/{nb.name}" for nb in LESSONS]
    assert "TRANSFER_LESSONS_PROFILE" in (tmp_path / "nbgrader_config.py").read_text()
    for lesson, notebook in zip(LESSONS, written):
        names, graded = exercise_names(lesson), _graded(notebook)
        assert [c.metadata.nbgrader["grade_id"] for c in graded] == \
            [f"{n}_{part}" for n in names for part in ("answer", "check")], notebook.name
        for answer, test in zip(graded[::2], graded[1::2]):
            assert answer.metadata.nbgrader["solution"] and not answer.metadata.nbgrader["locked"]
            assert "### BEGIN SOLUTION\n" in answer.source and answer.source.endswith("### END SOLUTION")
            assert answer.source.split("### BEGIN SOLUTION")[0].strip(), "the lesson's placeholder is kept"
            meta = test.metadata.nbgrader
            assert meta["grade"] and meta["locked"] and meta["points"] == 1 and not meta["solution"]
            assert "check_" in test.source and "assert verdict, verdict" in test.source
        # Every other cell is the lesson's, outputs cleared.
        plain = [c.source for c in nbformat.read(str(notebook), as_version=4).cells if not c.metadata.get("nbgrader")]
        lesson_cells = nbformat.read(str(lesson), as_version=4).cells
        assert plain == [c.source for c in lesson_cells if not any(f"check_{n}(" in c.source for n in names)]


def test_export_replaces_only_its_source_folder(tmp_path, capsys):
    assert main(["edition", "nbgrader", "--out", str(tmp_path), "--notebooks", str(REPO / "notebooks")]) == 0
    assert "generate_assignment" in capsys.readouterr().out
    (tmp_path / "nbgrader_config.py").write_text("# the instructor's own\n")
    (tmp_path / "release").mkdir()
    build_edition("nbgrader", tmp_path, REPO / "notebooks")
    assert (tmp_path / "release").is_dir(), "release/ (and the gradebook) survive a new export"
    assert (tmp_path / "nbgrader_config.py").read_text() == "# the instructor's own\n"
    foreign = tmp_path / "other"
    (foreign / "source").mkdir(parents=True)
    (foreign / "source" / "mine.ipynb").write_text("{}")
    with pytest.raises(DataError, match="refusing"):
        build_nbgrader(foreign, REPO / "notebooks")
    shutil.copytree(REPO / "notebooks", tmp_path / "nb", ignore=shutil.ignore_patterns("solutions"))
    with pytest.raises(DataError, match="no solutions notebook"):
        build_nbgrader(tmp_path / "c2", tmp_path / "nb")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """An nbgrader course folder with every lesson released (``generate_assignment`` for all at once)."""
    course = tmp_path_factory.mktemp("nbgrader")
    build_nbgrader(course, REPO / "notebooks")
    start = time.perf_counter()
    done = _nbgrader(course, "generate_assignment", "*", "--force")
    print(f"generate_assignment for {len(LESSONS)} lessons: {time.perf_counter() - start:.0f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return course


@pytest.mark.timeout(600)
def test_generate_assignment_releases_every_lesson_without_solutions(course):
    released = sorted((course / "release").glob("*/*.ipynb"))
    assert [p.stem for p in released] == [nb.stem for nb in LESSONS]
    text = "\n".join(c.source for nb in released for c in nbformat.read(str(nb), as_version=4).cells)
    assert "BEGIN SOLUTION" not in text and "# YOUR CODE HERE" in text
    leaked = [line for nb in SOLUTIONS for line in _solution_lines(nb) if line in text]
    assert not leaked, f"solution lines in release/: {leaked}"
    for notebook in released:  # the checks are there, locked
        tests = [c for c in _graded(notebook) if c.metadata.nbgrader["grade"]]
        assert len(tests) == len(exercise_names(REPO / "notebooks" / notebook.name))
        assert all(c.metadata.nbgrader["locked"] for c in tests)


def _scores(course: Path, lesson: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {student: (sub.score, sub.max_score, {g.name: g.score for nb in sub.notebooks for g in nb.grades})
                for student in ("instructor", "untouched")
                for sub in [gradebook.find_submission(lesson, student)]}


def _failures(course: Path, lesson: str) -> list[str]:
    """The test cells of the instructor's autograded copy that did not pass, with their error."""
    notebook = course / "autograded" / "instructor" / lesson / f"{lesson}.ipynb"
    if not notebook.exists():
        return ["no autograded copy"]
    return [f"{c.metadata.nbgrader['grade_id']}: {o.get('ename')}: {o.get('evalue', '')[:300]}"
            for c in _graded(notebook) for o in c.outputs if o.output_type == "error"]


CLASSROOM = os.environ.get("TRANSFER_LESSONS_CLASSROOM") == "1"


@pytest.mark.notebook
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("lesson", [pytest.param(nb.stem, marks=[] if nb.stem.startswith("00") or CLASSROOM else
                                                 pytest.mark.skip(reason="every lesson: make test-classroom"))
                                    for nb in LESSONS])
def test_autograde_gives_the_solutions_every_point_and_the_release_none(course, lesson, tmp_path):
    for student, origin in (("instructor", "source"), ("untouched", "release")):
        target = course / "submitted" / student / lesson
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(course / origin / lesson / f"{lesson}.ipynb", target)
    start = time.perf_counter()
    done = _nbgrader(course, "autograde", lesson, "--force", env=_offline_env(tmp_path), timeout=1700)
    print(f"autograde {lesson} (2 submissions): {time.perf_counter() - start:.0f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scores, points = _scores(course, lesson), len(exercise_names(REPO / "notebooks" / f"{lesson}.ipynb"))
    assert scores["instructor"][:2] == (points, points), (scores["instructor"], _failures(course, lesson))
    assert scores["untouched"][:2] == (0, points), scores["untouched"]
