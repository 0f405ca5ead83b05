"""The pip path (pyproject.toml) and the conda path (environment.yml) install the same things."""

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_side = {_name(r): r for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    lines = (REPO / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    conda_side = {_name(l.strip()[2:]): l.strip()[2:] for l in lines[start + 1:] if l.strip().startswith("- ")}
    assert sorted(pip_side) == sorted(conda_side), "environment.yml and pyproject.toml list different packages"
    assert pip_side == conda_side, "same packages, different version bounds"


def test_makefile_installs_dev_extras_and_the_ci_calls_make_test():
    makefile = (REPO / "Makefile").read_text()
    assert '-e ".[dev]"' in makefile and "pytest" in makefile
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
    assert "transfer_lessons/assets.py" in names
