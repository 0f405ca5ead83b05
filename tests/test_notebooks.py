"""The lessons, executed: the smoke course runs offline with the network blocked, every recorded
metric is asserted, solutions pass their checks, and nbval re-checks deterministic outputs."""

import importlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Optional, Union

import nbformat
import pytest
from conftest import REPO, SHARED_DATA, http_server

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((REPO / "notebooks" / "solutions").glob("*.ipynb"))
NETBLOCK = REPO / "tests" / "netblock"
SMOKE_SECONDS = 90  # the budget for one lesson in the smoke profile




















# Every lesson must say how its recorded metrics are checked (see test_every_lesson_is_checked): a module
# tests/lesson_NN_name.py per lesson, whose check(metrics) asserts them per profile.
CHECKS = {nb.stem: importlib.import_module(f"lesson_{nb.stem}").check for nb in NOTEBOOKS
          if importlib.util.find_spec(f"lesson_{nb.stem}")}
# Whole-lesson time budgets per profile (the issues' bounds), for reports of `make course`; "course" is the sum.
BUDGET_SECONDS = {"cpu": {"00_tour": 60, "02_fine_tuning": 360, "03_detection": 480, "04_optimization": 240,
                          "05_robustness": 180, "course": 24 * 60}}


def _offline_env(tmp: Path, mirror: Union[bool, Path] = True) -> dict:
    """Fresh cache, network refused inside the kernels (tests/netblock) but for 127.0.0.1, and as the
    mirror: the folder given, ../shared/data (True, when present) or none (False)."""
    env = {**os.environ, "TRANSFER_LESSONS_CACHE": str(tmp / "cache"), "TRANSFER_LESSONS_HEADLESS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(NETBLOCK), os.environ.get("PYTHONPATH")]))}
    env.pop("TRANSFER_LESSONS_OFFLINE", None)  # refused sockets alone must be enough
    env.pop("TRANSFER_LESSONS_DATA", None)
    if isinstance(mirror, Path):
        env["TRANSFER_LESSONS_DATA"] = str(mirror)
    elif mirror and (SHARED_DATA / "hymenoptera_data").is_dir():
        env["TRANSFER_LESSONS_DATA"] = str(SHARED_DATA)
    return env


def _zip_folder(folder: Path) -> bytes:
    """``folder`` as a zip archive in memory, with ``folder.name/`` as its top folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


def _zip_release(folder: Path, archive_name: str) -> bytes:
    """``folder``'s ``<split>/<class>/<image>`` files laid out as in their release: ``<release>/<class>/<image>``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.glob("*/*/*")):
            zf.write(path, f"{Path(archive_name).stem}/{path.parent.name}/{path.name}")
    return buffer.getvalue()


def _mirror_from_archives(tmp: Path) -> Optional[Path]:
    """The classroom round trip on the real data: ../shared/data's datasets zipped, served on
    127.0.0.1, and fetched with ``python -m transfer_lessons mirror`` (with the offline backbones'
    weights) into a new mirror, which the smoke course then uses alone. None without the real data."""
    if not (SHARED_DATA / "hymenoptera_data").is_dir():
        return None
    from transfer_lessons.assets import DATASETS
    from transfer_lessons.models import list_backbones

    present = [card for card in DATASETS.values() if (card.url or card.archive_name)
               and (SHARED_DATA / card.folder).is_dir()]
    with http_server() as server:  # the COCO detector's weights are not on this machine: no --detectors
        for card in present:
            if card.url:
                server.files["/" + card.url.rsplit("/", 1)[-1]] = _zip_folder(SHARED_DATA / card.folder)
            else:  # a subset drawn from a larger release (blood cells): the mirror cuts it out of the release
                server.files["/" + card.archive_name] = _zip_release(SHARED_DATA / card.folder, card.archive_name)
        result = subprocess.run([sys.executable, "-m", "transfer_lessons", "mirror", str(tmp / "mirror"),
                                 "--base-url", server.url, "--datasets", *[card.name for card in present],
                                 "--backbones", *list_backbones(offline_only=True), "--detectors"],
                                cwd=REPO, env=_offline_env(tmp, mirror=False), capture_output=True, text=True,
                                timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fetched" in result.stdout and "failed" not in result.stdout, result.stdout
    return tmp / "mirror"


@pytest.fixture(scope="module")
def smoke_course(tmp_path_factory):
    """The whole course in the smoke profile, network blocked, on a mirror built by the mirror command."""
    tmp = tmp_path_factory.mktemp("course")
    mirror = _mirror_from_archives(tmp)
    result = subprocess.run([sys.executable, "-m", "transfer_lessons", "run", "--profile", "smoke",
                             "--out", str(tmp / "reports")], cwd=REPO, env=_offline_env(tmp, mirror or False),
                            capture_output=True, text=True, timeout=1500)
    summary_path = tmp / "reports" / "summary.json"
    assert summary_path.exists(), result.stdout + result.stderr
    return result, json.loads(summary_path.read_text()), tmp / "reports", mirror


def test_netblock_really_blocks(tmp_path):
    code = "import urllib.request\ntry:\n urllib.request.urlopen('https://download.pytorch.org/', timeout=5)\n" \
           "except OSError as e:\n print('refused:', e)\n"
    out = subprocess.run([sys.executable, "-c", code], env=_offline_env(tmp_path), capture_output=True,
                         text=True, timeout=60).stdout
    assert "network blocked by tests/netblock" in out


@pytest.mark.notebook
@pytest.mark.timeout(1600)
def test_smoke_course_all_ok(smoke_course):
    result, summary, reports, _ = smoke_course
    assert summary["profile"] == "smoke"
    statuses = {name: entry["status"] for name, entry in summary["lessons"].items()}
    assert statuses == {nb.stem: "ok" for nb in NOTEBOOKS}, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0
    assert (reports / "index.html").exists()
    for name, entry in summary["lessons"].items():
        assert entry["seconds"] <= SMOKE_SECONDS, f"{name} took {entry['seconds']} s in smoke (> {SMOKE_SECONDS})"


@pytest.mark.notebook
@pytest.mark.parametrize("lesson", [nb.stem for nb in NOTEBOOKS])
def test_lesson_metrics(smoke_course, lesson):
    entry = smoke_course[1]["lessons"][lesson]
    assert entry["status"] == "ok", entry.get("error")
    CHECKS[lesson](entry["metrics"])
    expected_source = {"mirror", "package"} if (SHARED_DATA / "hymenoptera_data").is_dir() else {"synthetic", "package"}
    assert entry["data_source"] in expected_source, entry["data_source"]
    attempts = {k: v for k, v in entry["metrics"].items() if k.startswith("exercise.")}
    assert len(attempts) >= 3 and set(attempts.values()) == {"not attempted"}, attempts


@pytest.mark.notebook
@pytest.mark.timeout(300)
def test_corrupt_mirror_file_stops_a_lesson_with_its_name(smoke_course, tmp_path):
    mirror = smoke_course[3]
    if mirror is None:
        pytest.skip(f"real-data mirror not found at {SHARED_DATA}: no mirror was built")
    victim = sorted((mirror / "hymenoptera_data" / "val" / "bees").glob("*.jpg"))[0]
    original = victim.read_bytes()
    victim.write_bytes(original[:-10])
    try:
        check = subprocess.run([sys.executable, "-m", "transfer_lessons", "mirror", str(mirror), "--check"],
                               cwd=REPO, capture_output=True, text=True, timeout=120)
        assert check.returncode == 1 and f"hymenoptera_data/val/bees/{victim.name}: corrupt" in check.stdout
        subprocess.run([sys.executable, "-m", "transfer_lessons", "run", "--profile", "smoke", "--lessons", "01",
                        "--out", str(tmp_path / "reports")], cwd=REPO, env=_offline_env(tmp_path, mirror),
                       capture_output=True, text=True, timeout=280)
        entry = json.loads((tmp_path / "reports" / "summary.json").read_text())["lessons"]["01_backbone_selection"]
        assert entry["status"] == "failed", entry
        assert "ChecksumMismatch" in entry["error"] and victim.name in entry["error"], entry["error"]
        assert f"transfer_lessons mirror {mirror}" in entry["error"], entry["error"]
    finally:
        victim.write_bytes(original)


@pytest.mark.notebook
@pytest.mark.parametrize("lesson", [nb.stem for nb in NOTEBOOKS])
def test_lesson_shows_figures(smoke_course, lesson):
    executed = nbformat.read(smoke_course[2] / f"{lesson}.ipynb", as_version=4)
    images = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, f"{lesson} displayed no figure"


def test_course_reports_meet_their_bounds():
    """`make course PROFILE=cpu` (or gpu) writes reports/summary.json; its metrics must meet the bounds."""
    path = REPO / "reports" / "summary.json"
    if not path.is_file():
        pytest.skip("no reports/summary.json: run `make course PROFILE=cpu` to check the cpu bounds")
    summary = json.loads(path.read_text())
    if summary["profile"] == "smoke":
        pytest.skip("reports/ holds a smoke run; the smoke bounds are checked by test_lesson_metrics")
    checked = [name for name, entry in summary["lessons"].items() if entry["status"] == "ok" and name in CHECKS]
    assert checked, f"no lesson ran ok in {path}"
    for name in checked:
        entry = summary["lessons"][name]
        CHECKS[name]({**entry["metrics"], "run": {**entry["metrics"].get("run", {}), "profile": summary["profile"]}})
        budget = BUDGET_SECONDS.get(summary["profile"], {}).get(name)
        assert budget is None or entry["seconds"] <= budget, f"{name}: {entry['seconds']:.0f} s > {budget} s"
    budget = BUDGET_SECONDS.get(summary["profile"], {}).get("course")
    if budget and len(checked) == len(CHECKS):
        total = sum(summary["lessons"][name]["seconds"] for name in checked)
        assert total <= budget, f"the whole course took {total / 60:.1f} min > {budget / 60:.0f} min"


def test_every_lesson_is_checked():
    assert sorted(CHECKS) == [nb.stem for nb in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_notebook_structure(notebook):
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []) and "PROFILE" in code[0].source
    for cell in code:
        assert len(cell.source.splitlines()) <= 15, f"code cell over 15 lines:\n{cell.source}"
        assert not re.search(r"^\s*[!%](pip|wget|curl|git)\b|git clone|urlretrieve|requests\.get",
                             cell.source, re.M), cell.source
        assert not re.search(r"['\"](/home|/work|/Users|[A-Z]:\\\\)", cell.source), f"hard-coded path: {cell.source}"
    if notebook in NOTEBOOKS:
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        for heading in ("Objectives", "Time", "Prerequisites", "## Summary", "## Exercises", "## References"):
            assert heading in text, f"{notebook.name} lacks {heading!r}"
        assert (REPO / "notebooks" / "solutions" / f"{notebook.stem}_solutions.ipynb").exists()


@pytest.mark.notebook
@pytest.mark.timeout(600)
@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_pass_their_checks(notebook, tmp_path):
    import papermill

    from transfer_lessons.recording import read_records

    env = _offline_env(tmp_path)
    out = tmp_path / notebook.name
    old = dict(os.environ)
    os.environ.update(env)
    try:
        papermill.execute_notebook(str(notebook), str(out), parameters={"PROFILE": "smoke"},
                                   cwd=str(notebook.parent), progress_bar=False, kernel_name="python3")
    finally:
        os.environ.clear()
        os.environ.update(old)
    results = {k: v for k, v in read_records(out).items() if k.startswith("exercise.")}
    assert len(results) >= 3 and set(results.values()) == {"passed"}, results


@pytest.mark.notebook
@pytest.mark.timeout(600)
def test_nbval_deterministic_outputs(tmp_path):
    env = {**_offline_env(tmp_path), "TRANSFER_LESSONS_PROFILE": "smoke"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-sanitize-with", str(REPO / "tests" / "nbval_sanitize.cfg"), *map(str, NOTEBOOKS)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=580)
    assert result.returncode == 0, result.stdout[-4000:]
    assert re.search(r"\d+ passed", result.stdout)
