"""Turn ansible-core's argument validation errors into one plain line per variable, and plain text out of coloured
output.

The messages mapped here are the ones ansible-core 2.19 builds in module_utils/common/parameters.py
(_validate_argument_types, _validate_elements, _validate_argument_values) and module_utils/common/validation.py
(check_required_arguments and the check_type_* converters). Anything not recognised is passed through with ANSI
colour codes and Python class names (``<class 'str'>``) replaced by plain words.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
PY_CLASS = re.compile(r"<class '(?:[\w.]+\.)?(\w+)'>")
SECRET_NAME = re.compile(r"(?i)(token|password|passwd|secret|access_key|private_key|api_key|credential)")

# what each argument_spec type means, as an operator reads it
TYPE_WORDS = {
    "str": "a string", "list": "a list", "dict": "a mapping (YAML/JSON object)",
    "bool": "a boolean (true or false)", "int": "an integer", "float": "a number", "path": "a path",
    "raw": "a value", "jsonarg": "JSON text", "json": "JSON text", "bytes": "a byte size such as 10M or 2G",
    "bits": "a bit size such as 10Mb", "NoneType": "null", "dict_or_list": "a mapping or a list of mappings",
}
PLURAL_WORDS = {
    "str": "strings", "list": "lists", "dict": "mappings", "bool": "booleans (true or false)", "int": "integers",
    "float": "numbers", "path": "paths", "raw": "values", "jsonarg": "JSON texts", "json": "JSON texts",
    "bytes": "byte sizes such as 10M", "bits": "bit sizes such as 10Mb",
}

_CONTEXT = r"(?: found in '(?P<ctx>[^']*)'\.?)?"
_TYPE = re.compile(r"^argument '(?P<name>[^']+)' is of type (?P<got>\w+)" + _CONTEXT
                   + r" and we were unable to convert to (?P<want>\w+): (?P<why>.*)$", re.S)
_ELEMENTS = re.compile(r"^Elements value for option '(?P<name>[^']+)'" + _CONTEXT
                       + r" is of type (?P<got>\w+) and we were unable to convert to (?P<want>\w+): (?P<why>.*)$", re.S)
_CHOICES_MANY = re.compile(r"^value of (?P<name>\S+) must be one or more of: (?P<choices>.*)\. "
                           r"Got no match for: (?P<bad>.*?)(?: found in (?P<ctx>.*))?$", re.S)
_CHOICE = re.compile(r"^value of (?P<name>\S+) must be one of: (?P<choices>.*), got: (?P<bad>.*?)"
                     r"(?: found in (?P<ctx>.*))?$", re.S)
_REQUIRED = re.compile(r"^missing required arguments: (?P<names>.*?)(?: found in (?P<ctx>.*))?$", re.S)
_SUBSPEC = re.compile(r"^value of '(?P<name>[^']+)' must be of type dict or list of dicts$")
# the value inside check_type_int's message: "'abc'" cannot be converted to an int
_INT_VALUE = re.compile(r"^\"(?P<value>.*)\" cannot be converted to an int$", re.S)


def plain(text: str) -> str:
    """Text without ANSI colour codes, carriage returns or Python class names."""
    text = ANSI.sub("", str(text)).replace("\r", "")
    return PY_CLASS.sub(lambda m: m.group(1), text)


def _qualified(name: str, ctx: str | None) -> str:
    # options_context is the chain of parent options ("a -> b"): name the option the way a var file nests it
    return ".".join([part.strip() for part in ctx.split("->")] + [name]) if ctx else name


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return plain(repr(value))


def _lookup(values: Mapping[str, Any], qualified: str) -> tuple[bool, Any]:
    """The value the user gave for a (possibly nested) variable, if the CLI knows it."""
    current: Any = values
    for part in qualified.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _got(values: Mapping[str, Any], qualified: str, fallback: str | None = None) -> str:
    if SECRET_NAME.search(qualified):
        return ""  # never echo what may be a secret
    known, value = _lookup(values, qualified)
    if known:
        return f", got {_shown(value)}"
    return f", got {fallback}" if fallback else ""


def describe(error: str, values: Mapping[str, Any] | None = None) -> str:
    """One ansible-core argument validation error -> one line naming the variable and what it must be.

    values: the variables the user gave (extra vars), to show the offending value when the message lacks it.
    """
    values = values or {}
    text = plain(error).strip()
    match = _TYPE.match(text)
    if match:
        name = _qualified(match["name"], match["ctx"])
        want = TYPE_WORDS.get(match["want"], f"of type {match['want']}")
        int_value = _INT_VALUE.match(match["why"].strip())
        return f"{name} must be {want}" + _got(values, name, int_value["value"] if int_value else None)
    match = _ELEMENTS.match(text)
    if match:
        name = _qualified(match["name"], match["ctx"])
        want = PLURAL_WORDS.get(match["want"], f"values of type {match['want']}")
        return f"{name} must be a list of {want}" + _got(values, name)
    match = _CHOICES_MANY.match(text)
    if match:
        name = _qualified(match["name"], match["ctx"])
        bad = "" if SECRET_NAME.search(name) else f", got {match['bad']!r} which is not one of them"
        return f"{name} must be a list of: {match['choices']}{bad}"
    match = _CHOICE.match(text)
    if match:
        name = _qualified(match["name"], match["ctx"])
        return f"{name} must be one of: {match['choices']}" + _got(values, name, repr(match["bad"]))
    match = _REQUIRED.match(text)
    if match:
        names = [_qualified(n.strip(), match["ctx"]) for n in match["names"].split(",") if n.strip()]
        return f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} required"
    match = _SUBSPEC.match(text)
    if match:
        return f"{match['name']} must be {TYPE_WORDS['dict_or_list']}" + _got(values, match["name"])
    return " ".join(text.split())  # unknown: still one line, no colour, no class name


def describe_all(errors: Iterable[str], values: Mapping[str, Any] | None = None) -> list[str]:
    """Each error described once, in order (several hosts fail the same validation with the same extra vars)."""
    seen: list[str] = []
    for error in errors:
        line = describe(error, values)
        if line and line not in seen:
            seen.append(line)
    return seen
