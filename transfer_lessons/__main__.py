"""``python -m transfer_lessons``: see ``transfer_lessons.course``."""

import sys

from .course import main

if __name__ == "__main__":
    sys.exit(main())
