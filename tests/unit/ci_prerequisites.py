"""A test whose prerequisite is missing: skipped on a workstation, FAILED in CI, where a skip would hide it.

CI=true (scripts/test.sh sets it for every `make test`, hence .ci/run) means every test must run. Importable from
every test under tests/unit: pytest puts tests/unit on sys.path for its conftest.py."""
from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def prerequisite_missing(reason: str, fix: str = "scripts/bootstrap.sh installs it") -> None:
    """Skip (also at module level) or, in CI, fail with the reason and what installs the prerequisite."""
    if in_ci():
        pytest.fail(f"prerequisite missing in CI: {reason} ({fix}; CI={os.environ['CI']} turns this skip into a "
                    "failure)", pytrace=False)
    pytest.skip(f"{reason} ({fix})", allow_module_level=True)
