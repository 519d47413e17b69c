# Fixtures of the module tests.
from __future__ import annotations

import pytest

from ansible_collections.yba.remediation.tests.unit.plugins.modules.module_results import capture


@pytest.fixture
def raw_results(monkeypatch):
    """exit_json and fail_json raise module_results.Done with the results as the module built them."""
    capture(monkeypatch)
