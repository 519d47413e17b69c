# Makes the collection importable as ansible_collections.yba.remediation when pytest runs from a checkout.
from __future__ import annotations

import os
import sys

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_COLLECTIONS = os.path.join(_ROOT, ".build", "collections")
try:
    import importlib

    importlib.import_module("ansible_collections.yba.remediation")  # ansible-test units, or already on the path
except ImportError:
    if os.path.isdir(_COLLECTIONS) and _COLLECTIONS not in sys.path:
        sys.path.insert(0, _COLLECTIONS)
