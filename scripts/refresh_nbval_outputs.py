"""Store reference outputs for nbval in the lesson notebooks, and nothing else.

nbval (``--nbval-lax``) compares only cells whose source contains ``# NBVAL_CHECK_OUTPUT``.
This script executes each lesson in the smoke profile, copies the outputs of those cells into
the committed notebook, and clears every other output, so the repository holds no images or
timings but nbval still has something deterministic to compare.

    .venv/bin/python scripts/refresh_nbval_outputs.py [notebooks/00_tour.ipynb ...]
"""

import os
import sys
import tempfile
from pathlib import Path

import nbformat
import papermill

MARK = "# NBVAL_CHECK_OUTPUT"


def refresh(path: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        executed = Path(tmp) / path.name
        papermill.execute_notebook(str(path), str(executed), parameters={"PROFILE": "smoke"},
                                   cwd=str(path.parent), progress_bar=False, kernel_name="python3")
        ran = nbformat.read(executed, as_version=4)
    source = nbformat.read(path, as_version=4)
    by_source = {c.source: c for c in ran.cells if c.cell_type == "code"}
    kept = 0
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        cell.outputs = []
        if MARK in cell.source and cell.source in by_source:
            cell.outputs = by_source[cell.source].outputs
            kept += 1
            cell.execution_count = kept  # nbval refuses reference outputs of an "unrun" cell
    nbformat.write(source, path)
    return kept


if __name__ == "__main__":
    os.environ.setdefault("TRANSFER_LESSONS_HEADLESS", "1")
    targets = [Path(p) for p in sys.argv[1:]] or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    for target in targets:
        print(f"{target}: kept outputs of {refresh(target)} marked cells")
