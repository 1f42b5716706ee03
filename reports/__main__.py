"""``python -m lossconform.reports build|merge RESULTS.json [MORE.json ...] -o OUT.html``."""
from __future__ import annotations

import sys

from lossconform.reports.build import main

if __name__ == "__main__":
    sys.exit(main())
