"""Packaging: the pip and conda paths install the same, the wheel ships every subpackage and the manifests,
and the base install works without any extra (a missing extra is named in the error)."""

import os
import re
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = re.search(r"EXTRAS\s*:=\s*(\S+)", (REPO / "Makefile").read_text()).group(1).split(",")
    wanted = project["dependencies"] + [r for extra in extras for r in project["optional-dependencies"][extra]]
    pip_side = {_name(r): r for r in wanted}
    lines = (REPO / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    listed = [line.strip()[2:] for line in lines[start + 1:] if line.strip().startswith("- ")]
    conda_side = {_name(requirement): requirement for requirement in listed}
    assert sorted(pip_side) == sorted(conda_side), "environment.yml and pyproject.toml list different packages"
    assert pip_side == conda_side, "same packages, different version bounds"


def test_makefile_installs_dev_extras_and_the_ci_calls_make_test():
    makefile = (REPO / "Makefile").read_text()
    assert '-e ".[$(EXTRAS)]"' in makefile and "pytest" in makefile and "dev" in makefile
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_wheel_ships_the_manifests(tmp_path):
    """A plain `pip install` (Colab, no checkout) still finds the checksum manifests."""
    import subprocess
    import sys
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=300)
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    for manifest in ("hymenoptera.sha256", "pennfudan.sha256"):
        assert f"transfer_lessons/manifests/{manifest}" in names, names
    for package in ("assets", "course", "data", "evaluation", "exercises", "models", "plots", "recording", "runtime",
                    "speed", "training", "widgets"):
        assert f"transfer_lessons/{package}/__init__.py" in names, f"the wheel lacks transfer_lessons.{package}"


EXTRA_MODULES = {"course": ["IPython", "ipykernel", "ipywidgets", "nbformat", "nbconvert", "papermill", "skimage",
                            "nbval", "jupyterlab"],
                 "detection": ["pycocotools"], "deploy": ["onnx", "onnxruntime", "onnxscript"]}


def test_the_base_install_fine_tunes_without_extras_and_names_a_missing_one(tmp_path):
    """fine_tune, save and load a model with every extra made unimportable; then ask for an extra."""
    import subprocess
    import sys

    blocked = [m for modules in EXTRA_MODULES.values() for m in modules]
    code = f"""
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # import raises ImportError, as if not installed
import transfer_lessons as tl
result = tl.fine_tune("synthetic_classification", strategy="linear_probe", profile="smoke", output="m.pt",
                      progress=False)
print("predicted", tl.load_model("m.pt").predict(tl.data.sample_photo("grace_hopper"), k=1)[0][0])
for needs_an_extra in (lambda: tl.data.sample_photo("chelsea"),
                       lambda: tl.speed.export_onnx(result.model, "m.onnx", 64)):
    try:
        needs_an_extra()
    except tl.errors.MissingExtra as err:
        print("missing:", err)
"""
    env = {**os.environ, "TRANSFER_LESSONS_CACHE": str(tmp_path / "cache"), "TRANSFER_LESSONS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "predicted" in done.stdout and (tmp_path / "m.pt").is_file(), done.stdout
    assert "transfer-lessons[course]" in done.stdout and "transfer-lessons[deploy]" in done.stdout, done.stdout


def test_console_script_names_a_function_that_exists():
    """`transfer-lessons ...` after pip install: the entry point must import (it once named a removed module)."""
    import importlib

    for name, target in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"].items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function, None)), f"{name} = {target!r}"
