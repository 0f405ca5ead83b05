"""What every check shares: the verdict, progressive hints, and never raising on a learner's answer.

A check is a plain function ``answer -> bool`` (it may take the lesson's own objects as extra arguments)
wrapped by ``@exercise``. The wrapper records the outcome (``exercise.<name>``) and shows one line:
"not done yet" with what is expected while the answer is the placeholder ``None``; "not yet" when it is
wrong, with a nudge the first time and the method from the second time on (never the answer); "correct"
when it is right. An answer of the wrong type or shape, or a function that raises, is a "not yet" that
says what was expected, never an exception that stops the notebook.
"""

from __future__ import annotations

import functools
import numbers
from typing import Callable

from ..recording import record

CHECKS: dict[str, Callable] = {}
_FAILED_ATTEMPTS: dict[str, int] = {}


class Verdict:
    """The outcome of a check: true when passed; shown as one line."""

    def __init__(self, name: str, status: str, message: str):
        self.name, self.status, self.message = name, status, message

    def __bool__(self) -> bool:
        return self.status == "passed"

    def __repr__(self) -> str:
        if self.status == "passed":
            return f"✓ {self.name}: correct."
        if self.status == "not attempted":
            return f"… {self.name}: not done yet. Expected: {self.message}"
        return f"✗ {self.name}: not yet. {self.message}"


def is_number(answer) -> bool:
    """A real number, not a bool (``True == 1`` would pass a count)."""
    return isinstance(answer, numbers.Real) and not isinstance(answer, bool)


def exercise(name: str, expects: str, nudge: str, method: str) -> Callable:
    """Make ``fn(answer, ...) -> bool`` a check recorded as ``exercise.<name>`` (registered in ``CHECKS``).

    ``expects``: what a valid answer is (type and meaning); ``nudge``: the hint after the first wrong answer;
    ``method``: the hint after that (how, never the answer).
    """
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def check(answer, *args, **kwargs) -> Verdict:
            if answer is None or answer is Ellipsis:
                status, message = "not attempted", expects
            else:
                try:
                    passed, problem = bool(fn(answer, *args, **kwargs)), ""
                except Exception as exc:  # noqa: BLE001 - a learner's bug is a "not yet", not a crash
                    passed, problem = False, f"Your answer raised {type(exc).__name__}: {str(exc)[:160]}. "
                status = "passed" if passed else "failed"
                tries = _FAILED_ATTEMPTS[name] = _FAILED_ATTEMPTS.get(name, 0) + (not passed)
                message = f"{problem}Expected {expects}. Hint: {nudge if tries <= 1 else method}"
            record(f"exercise.{name}", status)
            return Verdict(name, status, message)

        CHECKS[fn.__name__] = check
        return check
    return wrap
