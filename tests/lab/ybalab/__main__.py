"""Entry point: ``python -m ybalab up|reset|status|down`` (PYTHONPATH=tests/lab)."""
from __future__ import annotations

import sys

from ybalab.cli import main

if __name__ == "__main__":
    sys.exit(main())
