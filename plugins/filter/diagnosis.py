# -*- coding: utf-8 -*-
# Filter plugins of yba.remediation: turn gathered facts into diagnosis findings, and findings into a readable report.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.yba.remediation.plugins.module_utils import _diagnosis


def diagnose(platform: t.Any, backups: t.Any = None, metadb: t.Any = None, thresholds: t.Any = None,
             now: t.Any = None) -> list[dict[str, t.Any]]:
    if thresholds is not None and not isinstance(thresholds, dict):
        raise AnsibleFilterError("diagnose: thresholds must be a dict, got %s" % type(thresholds).__name__)
    try:
        return _diagnosis.diagnose(platform or None, backups or None, metadb or None, thresholds, now)
    except ValueError as err:
        raise AnsibleFilterError("diagnose: %s" % err) from None


def diagnosis_report(findings: t.Any, host: t.Any = None, platform: t.Any = None) -> str:
    if not isinstance(findings, list):
        raise AnsibleFilterError("diagnosis_report: expects the list the diagnose filter returns")
    if platform is not None and not isinstance(platform, dict):
        raise AnsibleFilterError("diagnosis_report: platform must be the platform dict platform_info returns")
    return _diagnosis.render(findings, host, platform)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"diagnose": diagnose, "diagnosis_report": diagnosis_report}
