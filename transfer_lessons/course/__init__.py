"""Course tooling: running the lessons into ``reports/`` and its page, classroom editions (student, instructor,
nbgrader) and progress, ``doctor``, and the command line (``python -m transfer_lessons ...``).

The top layer: it may use every other one, and none uses it. Its optional dependencies (papermill,
nbconvert, nbformat) come with the ``course`` extra and are imported only when a command needs them.
Lessons: 00 calls ``doctor_report`` (as ``tl.doctor_report``); the rest serves ``make`` and the CLI.
"""

from ._classroom import EDITIONS, build_edition, exercise_names, find_notebooks, format_progress, progress
from ._cli import main, main_exit
from ._doctor import doctor_report, print_doctor
from ._nbgrader import build_nbgrader
from ._reports import format_value, index_html
from ._runner import execute, find_lessons, run_lessons

__all__ = ["EDITIONS", "build_edition", "exercise_names", "find_notebooks", "format_progress", "progress", "main",
           "main_exit", "doctor_report", "print_doctor", "build_nbgrader", "format_value", "index_html", "execute",
           "find_lessons", "run_lessons"]
