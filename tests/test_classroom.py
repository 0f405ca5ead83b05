"""The classroom kit: student and instructor editions, and the progress report run as an instructor would."""

import json
import subprocess
import sys

import nbformat
import pytest
from conftest import REPO
from test_notebooks import _offline_env

from transfer_lessons.course import build_edition, exercise_names, find_notebooks, format_progress, progress
from transfer_lessons.errors import UnknownName

SOLUTIONS = sorted((REPO / "notebooks" / "solutions").glob("*.ipynb"))
LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _code(notebook) -> list[str]:
    return [c.source for c in nbformat.read(str(notebook), as_version=4).cells if c.cell_type == "code"]


def _solution_lines(notebook) -> list[str]:
    """The lines of a solutions notebook that answer an exercise: its checked cells, less the check
    call itself, blank lines, comments, and lines the lesson also has (imports)."""
    lesson_text = "\n".join("\n".join(_code(nb)) for nb in LESSONS)
    lines = []
    for source in _code(notebook):
        if "check_" not in source:
            continue
        for line in source.splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "tl.check_")) and line not in lesson_text:
                lines.append(line)
    return lines


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("editions")
    return {kind: (tmp / kind, build_edition(kind, tmp / kind, REPO / "notebooks"))
            for kind in ("student", "instructor")}


def test_every_solution_has_answer_lines():
    for notebook in SOLUTIONS:
        assert len(_solution_lines(notebook)) >= 3, notebook.name


def test_student_edition_has_no_solution_code(editions):
    root, written = editions["student"]
    assert sorted(p.name for p in written) == [p.name for p in LESSONS]
    assert not (root / "solutions").exists()
    student_text = "\n".join("\n".join(_code(nb)) for nb in root.rglob("*.ipynb"))
    for notebook in SOLUTIONS:
        leaked = [line for line in _solution_lines(notebook) if line in student_text]
        assert not leaked, f"{notebook.name}: {leaked}"
    for notebook in written:  # outputs cleared, checks intact
        cells = nbformat.read(str(notebook), as_version=4).cells
        assert all(not c.outputs and c.execution_count is None for c in cells if c.cell_type == "code")
        assert len(exercise_names(notebook)) >= 3
        # The same code as the lesson, cell for cell: the smoke course's run of every lesson holds for it.
        assert _code(notebook) == _code(REPO / "notebooks" / notebook.name)


def test_instructor_edition_has_the_solutions(editions):
    root, written = editions["instructor"]
    assert len(written) == len(LESSONS) + len(SOLUTIONS)
    for notebook in SOLUTIONS:
        copy = root / "solutions" / notebook.name
        lesson = REPO / "notebooks" / f"{notebook.stem.removesuffix('_solutions')}.ipynb"
        assert exercise_names(copy) == exercise_names(lesson)
        text = "\n".join(_code(copy))
        assert all(line in text for line in _solution_lines(notebook))


def test_build_edition_rejects_unknown_kind_and_replaces_stale_files(tmp_path):
    with pytest.raises(UnknownName, match="Unknown edition 'teacher'"):
        build_edition("teacher", tmp_path / "out", REPO / "notebooks")
    build_edition("instructor", tmp_path / "out", REPO / "notebooks")
    build_edition("student", tmp_path / "out", REPO / "notebooks")
    assert not (tmp_path / "out" / "solutions").exists()


def test_progress_without_running_reads_saved_outputs(tmp_path):
    rows = progress(REPO / "notebooks", lessons=["03"])
    assert [r["exercise"] for r in rows if r["notebook"] == "03_detection.ipynb"] == \
        ["iou", "average_precision", "detector_backbone"]
    assert {r["status"] for r in rows} == {"not run"}  # lessons are committed without outputs
    assert {r["notebook"] for r in rows} == {"03_detection.ipynb", "solutions/03_detection_solutions.ipynb"}
    found = [p.name for p in find_notebooks(REPO / "notebooks", ["00_tour"])]
    assert found == ["00_tour.ipynb", "00_tour_solutions.ipynb"]
    table = format_progress(rows)
    assert "03_detection.ipynb" in table and table.endswith("6 exercises: 6 not run")


def _progress_cli(directory, tmp, name):
    out = tmp / f"{name}.json"
    result = subprocess.run([sys.executable, "-m", "transfer_lessons", "progress", str(directory), "--lessons", "00",
                             "--execute", "--profile", "smoke", "--json", str(out)],
                            cwd=REPO, env=_offline_env(tmp), capture_output=True, text=True, timeout=580)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, json.loads(out.read_text())


@pytest.mark.notebook
@pytest.mark.timeout(600)
def test_progress_on_editions(editions, tmp_path):
    # The student edition executes end to end, every exercise left for the learner.
    stdout, rows = _progress_cli(editions["student"][0], tmp_path, "student")
    assert [r["exercise"] for r in rows] == ["top1_label", "cat_classes", "normalize"]
    assert all(r["status"] == "not attempted" and "error" not in r for r in rows), rows
    assert "3 exercises: 3 not attempted" in stdout
    # The instructor edition passes every check: each lesson is reported through its solutions.
    stdout, rows = _progress_cli(editions["instructor"][0], tmp_path, "instructor")
    assert len(rows) == 3 and all(r["status"] == "passed" and "error" not in r for r in rows), rows
    assert rows[0] == {"notebook": "solutions/00_tour_solutions.ipynb", "lesson": "00_tour", "exercise": "top1_label",
                       "status": "passed"}
    assert "3 exercises: 3 passed" in stdout


def test_edition_cli(tmp_path, capsys):
    from transfer_lessons.course import main

    assert main(["edition", "student", "--out", str(tmp_path / "s"), "--notebooks", str(REPO / "notebooks")]) == 0
    assert f"{len(LESSONS)} notebooks written" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "s").glob("*.ipynb")) == [p.name for p in LESSONS]
    assert main(["edition", "student", "--out", str(tmp_path / "e"), "--notebooks", str(tmp_path)]) == 2
    assert "No lesson notebooks" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["edition", "teacher"])


def test_build_edition_never_deletes_a_folder_it_did_not_write(tmp_path):
    from transfer_lessons.errors import DataError

    precious = tmp_path / "my_work"
    precious.mkdir()
    (precious / "thesis.ipynb").write_text("{}")
    with pytest.raises(DataError, match="not written by `edition`"):
        build_edition("student", precious, REPO / "notebooks")
    assert (precious / "thesis.ipynb").is_file()
    with pytest.raises(DataError, match="refusing"):
        build_edition("student", REPO, REPO / "notebooks")  # --out . from the repo root
    assert (REPO / "notebooks").is_dir()
