"""Parse -e options the way ansible-playbook accepts them: key=value pairs, @file, or inline JSON/YAML."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from yba_remediation_cli.errors import UsageError


def _load_mapping(text: str, origin: str) -> dict[str, Any]:
    if text.lstrip().startswith("$ANSIBLE_VAULT"):
        raise UsageError(f"extra vars {origin}: vault-encrypted files are not supported here; use ansible-playbook")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML/JSON"
        raise UsageError(f"malformed extra vars {origin}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"malformed extra vars {origin}: expected a mapping, got {type(data).__name__}")
    return data


def parse_one(spec: str) -> dict[str, Any]:
    """One -e value -> a dict of variables."""
    spec = spec.strip()
    if not spec:
        raise UsageError("malformed extra vars: empty -e value")
    if spec.startswith("@"):
        path = Path(spec[1:]).expanduser()
        if not path.is_file():
            raise UsageError(f"extra vars file not found: {spec[1:]}")
        return _load_mapping(path.read_text(encoding="utf-8"), spec)
    if spec[0] in "{[":
        return _load_mapping(spec, repr(spec))
    try:
        words = shlex.split(spec)
    except ValueError as exc:
        raise UsageError(f"malformed extra vars {spec!r}: {exc}") from None
    result: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"malformed extra vars {spec!r}: expected key=value, @file or JSON")
        result[key] = value
    return result


def parse_extra_vars(specs: list[str] | None) -> dict[str, Any]:
    """Merge every -e value, later ones winning, as ansible-playbook does."""
    merged: dict[str, Any] = {}
    for spec in specs or []:
        merged.update(parse_one(spec))
    return merged
