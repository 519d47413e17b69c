# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: YugabyteDB and YBA version strings, the one place they are parsed.
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Three readings of a version string, for three kinds of input:

- ``parse_version`` / ``compare_versions`` / ``is_stable`` / ``version_matches``: a version an operator or YBA
  states (an upgrade target, ``yba-ctl version``, the API's app_version), strictly as yugabyte's own code reads it;
- ``numbers``: the leading numbers of whatever the API answers, None when there are none (a feature gate must not
  fail on an odd build string);
- ``sort_key``: any directory name (``2.18.1.0-b84``, ``2024.2.3.0-b116``, a PostgreSQL ``14``), in numeric order.
"""
from __future__ import annotations

import re
import typing as t

# yugabyte's CompareYbVersions (yba-cli cmd/util/util.go, terraform-provider-yba internal/utils/utils.go):
# "^(\d+.\d+.\d+.\d+)(-(b(\d+)|(\w+)))?$" after cutting everything from a second dash; the four numbers left to
# right, then the build numbers when both have one; anything else is equal.
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:-(?:b(\d+)|(\w+)))?$")
_NUMBERS_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version(text: str) -> t.Tuple[t.Tuple[int, int, int, int], t.Optional[int]]:
    """``(numbers, build)`` of a YB version (``2.20.1.3-b3``, ``2024.1.0.0``); ValueError when it is not one."""
    text = (text or "").strip()
    parts = text.split("-")
    if len(parts) > 2:
        text = parts[0] + "-" + parts[1]
    m = _VERSION_RE.match(text)
    if not m:
        raise ValueError("not a YugabyteDB version: %r (expected like 2.20.1.3-b3 or 2024.1.0.0-b129)" % text)
    nums = (int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)))
    return nums, int(m.group(5)) if m.group(5) is not None else None


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as CompareYbVersions(a, b)."""
    (na, ba), (nb, bb) = parse_version(a), parse_version(b)
    if na != nb:
        return -1 if na < nb else 1
    if ba is not None and bb is not None and ba != bb:
        return -1 if ba < bb else 1
    return 0


def is_stable(version: str) -> bool:
    """yugabyte's IsVersionStable (yba-cli cmd/util/util.go, yba-installer common/version.go): an even minor
    (2.18, 2.20) or a year as the major (2024.1, 2025.2) is a stable release; an odd minor (2.19, 2.21, 2.23, 2.25)
    is a preview release."""
    (major, minor, _m, _p), _build = parse_version(version)
    return minor % 2 == 0 or len(str(major)) == 4


def version_matches(wanted: str, actual: str) -> bool:
    """``actual`` is ``wanted``; a ``wanted`` without a build matches any build of its numbers."""
    (nw, bw), (na, ba) = parse_version(wanted), parse_version(actual)
    return nw == na and (bw is None or bw == ba)


def numbers(text: t.Any) -> t.Optional[t.Tuple[int, ...]]:
    """``2.18.1.0-b84`` -> (2, 18, 1, 0), ``2024.2`` -> (2024, 2); None when it starts with no ``N.N``."""
    match = _NUMBERS_RE.match(str(text or ""))
    if not match:
        return None
    return tuple(int(x) for x in match.groups() if x is not None)


def sort_key(name: str) -> t.Tuple[t.Any, ...]:
    """Sort key for version directory names such as ``2.18.1.0-b84`` or ``2024.2.3.0-b116``: every number in
    the name, left to right, then the name."""
    return (tuple(int(n) for n in re.findall(r"\d+", name)), name)
