"""The lesson runner (course layer): reports, summary and index, headless and quiet kernels."""

import json
import os

import nbformat
import pytest

from transfer_lessons import course
from transfer_lessons.course import _runner
from transfer_lessons.recording import read_records


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.notebook  # it starts Jupyter kernels: make test runs it, make test-fast does not
@pytest.mark.timeout(240)
def test_run_lessons_writes_reports(tmp_path):
    """Two lessons (each kernel start costs seconds): a broken one first, then one that must still run."""
    lessons = tmp_path / "nb"
    lessons.mkdir()
    _notebook(lessons / "00_broken.ipynb", ['PROFILE = "auto"', "1 / 0"])
    _notebook(lessons / "01_after.ipynb", ['PROFILE = "auto"', "import transfer_lessons as tl\n"
              "tl.record('profile_seen', PROFILE)\ntl.record('run', {'data_source': 'mirror'})\n"
              "tl.record('x.y', 2 * 21)"])
    out = tmp_path / "reports"
    summary = course.run_lessons("smoke", notebook_dir=lessons, out_dir=out)
    entries = summary["lessons"]
    assert entries["00_broken"]["status"] == "failed" and "ZeroDivisionError" in entries["00_broken"]["error"]
    assert entries["01_after"]["status"] == "ok", "one failing lesson must not stop the others"
    assert entries["01_after"]["data_source"] == "mirror", "data_source is read from the 'run' record"
    assert entries["01_after"]["metrics"] == {"profile_seen": "smoke", "run": {"data_source": "mirror"}, "x.y": 42}
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["profile"] == "smoke" and "torch" in summary["versions"]
    assert summary["profile_settings"]["image_size"] == 64, "the resolved profile is part of the report"
    for name in ("00_broken", "01_after"):
        assert (out / f"{name}.ipynb").exists() and (out / f"{name}.html").exists()
    index = (out / "index.html").read_text()
    assert "00_broken" in index and "failed" in index and "<td>x.y</td><td class='v'>42</td>" in index
    assert read_records(out / "01_after.ipynb")["x.y"] == 42
    assert not list(out.glob("*.part")), "no temporary files are left behind"


def test_html_failure_is_reported_not_fatal(tmp_path, monkeypatch):
    import nbconvert

    class Broken:
        def from_filename(self, name):
            raise ValueError("No template sub-directory with name 'lab' found")

    monkeypatch.setattr(nbconvert, "HTMLExporter", Broken)
    notebook = tmp_path / "00_x.ipynb"
    notebook.write_text("{}")
    assert _runner._to_html(notebook).startswith("no HTML copy (ValueError: No template")
    assert not notebook.with_suffix(".html").exists()


def test_find_lessons_filters(tmp_path):
    from transfer_lessons.errors import UnknownName

    for name in ("00_a", "01_b", "02_c"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    assert [p.stem for p in course.find_lessons(tmp_path, ["2", "00_a"])] == ["02_c", "00_a"]
    with pytest.raises(UnknownName, match="lesson '07'"):
        course.find_lessons(tmp_path, ["07"])


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        _runner.write_text(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_execute_runs_headless_and_restores_the_environment(tmp_path, monkeypatch):
    import papermill

    seen = {}

    def fake_execute(*args, **kwargs):
        seen.update({name: os.environ.get(f"TRANSFER_LESSONS_{name}") for name in ("HEADLESS", "DATA", "CACHE")})
        seen["kernel_arguments"] = kwargs.get("extra_arguments")

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.delenv("TRANSFER_LESSONS_HEADLESS", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRANSFER_LESSONS_DATA", "build/mirror")  # relative: the kernel's cwd is notebooks/
    monkeypatch.setenv("TRANSFER_LESSONS_CACHE", "/abs/cache")
    assert course.execute(tmp_path / "00_a.ipynb", tmp_path / "out.ipynb", "smoke", None) == ("ok", "")
    assert seen == {"HEADLESS": "1", "DATA": str(tmp_path / "build" / "mirror"), "CACHE": "/abs/cache",
                    "kernel_arguments": ["--log-level=ERROR"]}
    assert "TRANSFER_LESSONS_HEADLESS" not in os.environ and os.environ["TRANSFER_LESSONS_DATA"] == "build/mirror"


@pytest.mark.notebook
@pytest.mark.timeout(120)
def test_course_output_shows_no_kernel_warning(tmp_path, capfd):
    lessons = tmp_path / "nb"
    lessons.mkdir()
    _notebook(lessons / "00_quiet.ipynb", ['PROFILE = "auto"', "print('lesson output')"])
    assert course.run_lessons("smoke", notebook_dir=lessons, out_dir=tmp_path / "reports")["lessons"]["00_quiet"][
        "status"] == "ok"
    printed = capfd.readouterr()
    assert "without encryption" not in printed.out + printed.err, "the kernel's TCP warning reached the learner"
