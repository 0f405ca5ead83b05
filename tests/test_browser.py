"""The lessons in a real browser: JupyterLab on 127.0.0.1 (token, the course's kernel) driven by headless Chromium.

Lesson 00 (in ``make test``) and lessons 01–03 (the explorers; ``make test-classroom``) run whole in the smoke
profile, network blocked; each must show no error output, draw every live ipywidget as a widget (not "Error
displaying widget", not the model's text), redraw its widget's output when the widget's value changes; lessons 00
and 02 must show a tqdm bar while their one-call ``fine_tune`` trains (lesson 03 trains with ``progress=False``).
Then the reports page built from those runs is opened. Screenshots go to reports/browser/ (a failure names its own).
Chromium is Debian's (``apt-get install -y chromium``; .ci/run installs it), Playwright from PyPI (the dev extra);
outside CI the test skips when either is missing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO
from test_notebooks import _offline_env

SHOTS = REPO / "reports" / "browser"
CHROMIUM = os.environ.get("TRANSFER_LESSONS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# lesson -> (the code that makes its widget, how to change its value)
LESSONS = {"00_tour": ("photo_picker(", "select"), "01_backbone_selection": ("backbone_explorer(", "select"),
           "02_fine_tuning": ("upload_predictor(", "upload"), "03_detection": ("detection_explorer(", "slider")}
CLASSROOM = os.environ.get("TRANSFER_LESSONS_CLASSROOM") == "1"  # make test runs lesson 00, test-classroom all
TRAINING = {"00_tour", "02_fine_tuning"}  # their fine_tune shows tqdm bars (leave=False: seen while it runs)
# Counts every tqdm bar (an ipywidgets progress bar) added to the page, even one closed a moment later.
COUNT_BARS = """window.__bars = 0;
new MutationObserver(records => { for (const r of records) for (const n of r.addedNodes)
  if (n.nodeType === 1 && (n.matches('.widget-hprogress') || n.querySelector('.widget-hprogress'))) window.__bars++;
}).observe(document, {childList: true, subtree: true});"""
IDLE = """() => { const w = window.jupyterapp?.shell.currentWidget;
  return w?.sessionContext?.session?.kernel?.status === 'idle' && window.__ran !== null; }"""
# Every output of the notebook: errors, stderr, and for each widget output whether a widget is drawn in its place.
OUTPUTS = """() => { const found = {errors: [], stderr: [], widgets: []};
  window.jupyterapp.shell.currentWidget.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    for (let j = 0; j < cell.model.outputs.length; j++) {
      const out = cell.model.outputs.get(j).toJSON();
      if (out.output_type === 'error') found.errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
      if (out.output_type === 'stream' && out.name === 'stderr') found.stderr.push(`cell ${i}: ${out.text}`);
      if (out.data && out.data['application/vnd.jupyter.widget-view+json']) {
        const node = cell.outputArea.widgets[j]?.node;
        found.widgets.push({cell: i, drawn: !!node?.querySelector('.jupyter-widgets'),
                            text: (node?.innerText || '').trim().slice(0, 200)});
      }
    }
  });
  return found; }"""


def _missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what}, but CI must run this test: .ci/run installs it")
    pytest.skip(f"{what}: apt-get install -y chromium; pip install playwright (the dev extra)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free 127.0.0.1 port, serving a copy of lessons 00–03 (autosave must not touch notebooks/)."""
    if not CHROMIUM:
        _missing("Chromium not found")
    tmp = tmp_path_factory.mktemp("lab")
    (tmp / "nb").mkdir()
    for name in LESSONS:
        shutil.copy(REPO / "notebooks" / f"{name}.ipynb", tmp / "nb")
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)  # no news or update checks: no one to ask, no network
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                         "checkForUpdates": False}))
    # By default only cells scrolled to are drawn: a tqdm bar in a cell below the fold (created and closed while
    # it trains) would never reach the page. Every cell on the page, so every bar and widget can be seen.
    notebook_settings = settings.parent / "notebook-extension"
    notebook_settings.mkdir()
    (notebook_settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = {**_offline_env(tmp), "TRANSFER_LESSONS_PROFILE": "smoke", "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
    env.pop("TRANSFER_LESSONS_HEADLESS")  # widgets, not their printed state
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token, log = secrets.token_hex(16), open(tmp / "lab.log", "w")
    root = ["--allow-root"] if os.geteuid() == 0 else []  # as root (CI containers) Jupyter refuses to start without
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
                               f"--port={port}", f"--IdentityProvider.token={token}",
                               f"--ServerApp.root_dir={tmp / 'nb'}", "--LabApp.expose_app_in_browser=True", *root],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (tmp / "lab.log").read_text()[-3000:]
                time.sleep(1)
        yield {"url": url, "token": token, "dir": tmp / "nb", "tmp": tmp, "ran": {}}
    finally:
        server.terminate()
        server.wait(30)
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright not installed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _widget_cell(page, code: str) -> None:
    """Mark the cell whose source makes the widget (``data-probe``) and scroll it into view."""
    found = page.evaluate("""async code => { const notebook = window.jupyterapp.shell.currentWidget.content;
      const cell = notebook.widgets.find(c => c.model.type === 'code'
                                         && c.model.sharedModel.getSource().includes(code));
      if (!cell) return false;
      cell.node.dataset.probe = 'widget';  // windowed notebook: only its own scroll attaches the cell's node
      notebook.activeCellIndex = notebook.widgets.indexOf(cell);
      await notebook.scrollToCell(cell, 'start');
      return true; }""", code)
    assert found, f"no cell calls {code}"


def _change(page, how: str, tmp: Path) -> None:
    widget = page.locator("[data-probe=widget] .jupyter-widgets").first
    if how == "select":
        select = page.locator("[data-probe=widget] select").first
        options = select.locator("option").all_inner_texts()
        select.select_option(label=options[1])
    elif how == "upload":
        from transfer_lessons.data import sample_photo

        sample_photo("coffee").save(tmp / "coffee.jpg")
        with page.expect_file_chooser() as chooser:  # the widget's file input is not on the page: its button opens it
            page.locator("[data-probe=widget] .widget-upload").first.click()
        chooser.value.set_files(str(tmp / "coffee.jpg"))
    else:  # a slider: keyboard on its handle, as a person would without a mouse
        page.locator("[data-probe=widget] .noUi-handle").first.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
    assert widget.is_visible()


@pytest.mark.notebook
@pytest.mark.timeout(900)
@pytest.mark.parametrize("lesson", [pytest.param(name, marks=[] if name == "00_tour" or CLASSROOM else
                                                 pytest.mark.skip(reason="lessons 01-03: make test-classroom"))
                                    for name in LESSONS])
def test_lesson_runs_in_jupyterlab(lab, browser, lesson):
    code, how = LESSONS[lesson]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(COUNT_BARS)
    shot = SHOTS / f"{lesson}.png"
    try:
        start = time.perf_counter()
        page.goto(f"{lab['url']}/lab/workspaces/{lesson}/tree/{lesson}.ipynb?reset&token={lab['token']}")
        page.wait_for_function(IDLE, timeout=180_000)  # windowed notebook: the kernel says when, not the prompts
        page.evaluate("""() => { window.__ran = null; window.jupyterapp.commands.execute('notebook:run-all-cells')
                         .then(ok => window.__ran = String(ok), err => window.__ran = 'error: ' + err); }""")
        page.wait_for_function(IDLE, timeout=800_000, polling=500)
        seconds = time.perf_counter() - start
        outputs = page.evaluate(OUTPUTS)
        assert page.evaluate("window.__ran") == "true", f"run all stopped: {outputs['errors']}"
        assert not outputs["errors"], f"error outputs: {outputs['errors']}"
        for widget in outputs["widgets"]:  # a closed widget (a finished tqdm bar) leaves an empty output
            assert widget["drawn"] or not widget["text"], f"widget output not drawn as a widget: {widget}"
        assert any(w["drawn"] for w in outputs["widgets"]), f"no widget drawn: {outputs['widgets']}"
        if lesson in TRAINING:
            assert page.evaluate("window.__bars") > 0, "no tqdm bar was drawn while the lesson trained"
        _widget_cell(page, code)
        output = page.locator("[data-probe=widget] .widget-output").first
        before = output.inner_html()
        _change(page, how, lab["tmp"])
        # redrawn, and not empty: text (a table of classes) or a picture (lesson 03's boxes are all in the image)
        page.wait_for_function("""before => { const o = document.querySelector('[data-probe=widget] .widget-output');
                                  return o && o.innerHTML !== before && (o.innerText.trim() || o.querySelector('img'));
                                  }""",
                               arg=before, timeout=120_000)
        page.wait_for_function(IDLE, timeout=120_000)
        _widget_cell(page, code)  # new outputs can scroll the notebook away from the widget: bring it back
        page.wait_for_timeout(500)
        page.screenshot(path=str(shot))
        page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
        page.wait_for_timeout(1000)
        lab["ran"][lesson] = {"seconds": round(seconds, 1), "stderr": outputs["stderr"],
                              "widgets": len(outputs["widgets"]), "bars": page.evaluate("window.__bars")}
        print(f"{lesson}: {lab['ran'][lesson]}")
    except Exception as err:
        failed = SHOTS / f"{lesson}-failed.png"
        page.screenshot(path=str(failed))
        raise AssertionError(f"{err}\nscreenshot: {failed}\nJupyterLab log: {lab['tmp'] / 'lab.log'}") from err
    finally:
        page.close()


@pytest.mark.notebook
@pytest.mark.timeout(120)
def test_reports_page_of_those_runs(lab, browser):
    """The reports page built from the notebooks JupyterLab just ran and saved, opened in the browser."""
    from transfer_lessons.course import index_html
    from transfer_lessons.recording import read_records
    from transfer_lessons.runtime import pick_device, versions

    if not lab["ran"]:
        pytest.skip("no lesson ran in this session (run the whole module)")
    reports = lab["tmp"] / "reports"
    reports.mkdir(exist_ok=True)
    lessons = {}
    for name, ran in lab["ran"].items():
        shutil.copy(lab["dir"] / f"{name}.ipynb", reports)
        lessons[name] = {"status": "ok", "seconds": ran["seconds"], "metrics": read_records(reports / f"{name}.ipynb")}
    summary = {"profile": "smoke", "device": str(pick_device()), "versions": versions(), "lessons": lessons}
    (reports / "index.html").write_text(index_html(summary, reports), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.goto((reports / "index.html").as_uri())
        page.screenshot(path=str(SHOTS / "index.png"), full_page=True)
        assert page.locator("section").count() == len(lessons)
        assert page.locator("section figure img").count() >= 1, "no chart on the page"
        text = page.locator("body").inner_text()
        values = " ".join(page.locator("td.v, ul.headlines li").all_inner_texts())  # not the citations' DOIs
        assert not re.search(r"\d\.\d{5,}", values), f"a value with more than 4 decimals on the page: {values}"
        assert "{" not in text, "a raw dict on the page"
    finally:
        page.close()
