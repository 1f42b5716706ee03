"""``python -m lossconform test|contract ...``: see ``lossconform.cli``."""
import sys

from lossconform.cli import main

if __name__ == "__main__":
    sys.exit(main())
