# Makes the collection importable as ansible_collections.yba.remediation when pytest runs from a checkout.
from __future__ import annotations

import os
import sys

import pytest

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_COLLECTIONS = os.path.join(_ROOT, ".build", "collections")
try:
    import importlib

    importlib.import_module("ansible_collections.yba.remediation")  # ansible-test units, or already on the path
except ImportError:
    if os.path.isdir(_COLLECTIONS) and _COLLECTIONS not in sys.path:
        sys.path.insert(0, _COLLECTIONS)


@pytest.fixture(autouse=True)
def _modules_run_on_the_host(monkeypatch):
    """Modules run on the YBA host, not in the controller: once a test imported a controller plugin (a filter),
    ansible-core would send module warnings to the controller's display instead of the module's result."""
    from ansible.module_utils import _internal

    monkeypatch.setattr(_internal, "is_controller", False)
