"""Entry point for `python -m yba_remediation_cli`."""

import sys

from yba_remediation_cli.main import main

sys.exit(main())
