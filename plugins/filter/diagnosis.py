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


def _facts(name: str, value: t.Any) -> t.Any:
    if value is not None and not isinstance(value, dict):
        raise AnsibleFilterError("%s: facts must be dicts (or null), got %s" % (name, type(value).__name__))
    return value or None


def diagnosis_measured(platform: t.Any, backups: t.Any = None, metadb: t.Any = None) -> list[str]:
    return _diagnosis.measured(_facts("diagnosis_measured", platform), _facts("diagnosis_measured", backups),
                               _facts("diagnosis_measured", metadb))


def diagnosis_probes(platform: t.Any, backups: t.Any = None, metadb: t.Any = None,
                     ran_on: t.Any = None) -> list[dict[str, t.Any]]:
    return _diagnosis.probes(_facts("diagnosis_probes", platform), _facts("diagnosis_probes", backups),
                             _facts("diagnosis_probes", metadb), None if ran_on is None else str(ran_on))


def diagnosis_incomplete(platform: t.Any, backups: t.Any = None, host: t.Any = None) -> str | None:
    return _diagnosis.incomplete(_facts("diagnosis_incomplete", platform), _facts("diagnosis_incomplete", backups),
                                 None if host is None else str(host))


def diagnosis_fixed(before: t.Any, after: t.Any, after_measured: t.Any) -> list[str]:
    if not isinstance(before, list) or not isinstance(after, list) or not isinstance(after_measured, list):
        raise AnsibleFilterError("diagnosis_fixed: expects the findings before, the findings after and the after"
                                 " diagnosis' measured list (diagnose_result.findings / .measured)")
    return _diagnosis.fixed(before, after, after_measured)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"diagnose": diagnose, "diagnosis_report": diagnosis_report, "diagnosis_measured": diagnosis_measured,
                "diagnosis_probes": diagnosis_probes, "diagnosis_incomplete": diagnosis_incomplete,
                "diagnosis_fixed": diagnosis_fixed}
