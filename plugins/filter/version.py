# -*- coding: utf-8 -*-
# Filter plugins of yba.remediation on YugabyteDB versions (the comparison of module_utils/_version.py, which follows
# YBA's CompareYbVersions).
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.yba.remediation.plugins.module_utils import _version


def version_behind(installed: t.Any, latest: t.Any) -> bool:
    """True when ``latest`` is a newer YugabyteDB version than ``installed``."""
    try:
        return _version.compare_versions(str(installed), str(latest)) < 0
    except ValueError as exc:
        raise AnsibleFilterError("version_behind: %s" % exc) from None


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"version_behind": version_behind}
