from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.yba.remediation.plugins.filter import version


def test_version_behind_follows_yba_comparison():
    behind = version.FilterModule().filters()["version_behind"]
    assert behind("2.18.1.0-b84", "2.20.1.3-b3") is True
    assert behind("2.20.1.3-b3", "2.20.1.3-b3") is False
    assert behind("2.20.1.3-b3", "2.18.1.0-b84") is False
    assert behind("2.20.1.3-b3", "2.20.1.3-b5") is True  # the build decides between equal numbers
    assert behind("2.20.1.3", "2.20.1.3-b5") is False  # no build on one side: equal, as CompareYbVersions
    assert behind("2.20.2.0-b1", "2024.1.0.0-b129") is True


def test_version_behind_refuses_what_is_not_a_version():
    with pytest.raises(AnsibleFilterError, match="version_behind: not a YugabyteDB version"):
        version.version_behind("2.20.1.3-b3", "latest")
