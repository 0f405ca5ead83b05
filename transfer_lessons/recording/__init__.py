"""Recording: a lesson's results kept in its own notebook (``record``), and sentences built from them
(``say``, ``claim``), so that no number in the prose is typed and no interpretation contradicts it.

Lesson support, with ``plots``, ``widgets`` and ``exercises``; the lowest of the four (checks record
their verdicts). ``course`` reads the records back into ``reports/``.
Lessons: all, 00 to 05 (``record``, ``say``, ``claim`` through each section, ``headline`` at the end).
"""

from ._record import METRIC_MIME, claim, headline, read_records, record, records, say

__all__ = ["METRIC_MIME", "claim", "headline", "read_records", "record", "records", "say"]
