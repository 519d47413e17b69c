# Unit tests of _version: yugabyte's version order (CompareYbVersions, IsVersionStable), the lenient leading numbers
# of an API answer, the sort key of version directory names.
from __future__ import annotations

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _version


@pytest.mark.parametrize("first,second,want", [
    ("2.20.1.3-b3", "2.18.1.0-b84", 1),
    ("2.18.0.0-b1", "2.18.1.0-b84", -1),
    ("2.20.1.3-b3", "2.20.1.3-b3", 0),
    ("2.20.1.3-b4", "2.20.1.3-b3", 1),
    ("2.20.1.3", "2.20.1.3-b3", 0),  # no build on one side: equal, as CompareYbVersions
    ("2024.1.0.0-b129", "2.20.1.3-b3", 1),  # stable year scheme after the 2.x scheme
    ("2.20.10.0-b1", "2.20.9.0-b99", 1),  # numeric, not lexical
    ("2.20.1.3-b3-custom-suffix", "2.20.1.3-b3", 0),  # everything after a second dash is ignored
    ("2.20.1.3-customer", "2.20.1.3-b3", 0),
])
def test_compare_versions(first: str, second: str, want: int) -> None:
    assert _version.compare_versions(first, second) == want
    assert _version.compare_versions(second, first) == -want


@pytest.mark.parametrize("version,stable", [
    ("2.18.1.0-b84", True), ("2.20.1.3-b3", True), ("2024.1.0.0-b129", True), ("2025.2.1.0", True),
    ("2.19.0.0-b190", False), ("2.21.0.1-b1", False), ("2.23.1.0-b220", False), ("2.25.0.0-b489", False),
])
def test_is_stable_as_yugabytes_isversionstable(version: str, stable: bool) -> None:
    assert _version.is_stable(version) is stable


@pytest.mark.parametrize("bad", ["2.20", "v2.20.1.3", "2.20.1.3-b.1", "", "latest"])
def test_parse_version_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        _version.parse_version(bad)


def test_version_matches_any_build_when_none_given() -> None:
    assert _version.version_matches("2.20.1.3", "2.20.1.3-b3")
    assert _version.version_matches("2.20.1.3-b3", "2.20.1.3-b3")
    assert not _version.version_matches("2.20.1.3-b4", "2.20.1.3-b3")
    assert not _version.version_matches("2.20.1.4", "2.20.1.3-b3")


def test_numbers_reads_the_leading_numbers_or_none():
    assert _version.numbers("2.18.1.0-b84") == (2, 18, 1, 0)
    assert _version.numbers("2024.2") == (2024, 2)
    assert _version.numbers("b84") is None
    assert _version.numbers(None) is None


def test_sort_key_orders_numerically():
    names = ["2.20.0.0-b10", "2.18.10.0-b1", "2.18.2.0-b100", "2024.1.0.0-b3"]
    expected = ["2.18.2.0-b100", "2.18.10.0-b1", "2.20.0.0-b10", "2024.1.0.0-b3"]
    assert sorted(names, key=_version.sort_key) == expected
