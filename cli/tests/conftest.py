"""Test this checkout's CLI, whichever copy of it the venv has installed (an editable install may point elsewhere)."""

import sys
from pathlib import Path

CLI = str(Path(__file__).resolve().parents[1])
if sys.path[:1] != [CLI]:
    sys.path.insert(0, CLI)
for name in [m for m in sys.modules if m == "yba_remediation_cli" or m.startswith("yba_remediation_cli.")]:
    del sys.modules[name]
