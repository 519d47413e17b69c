"""Unit tests: ansible-core's own argument validation messages -> one plain line naming the variable."""

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from yba_remediation_cli.argerrors import describe, describe_all, plain

SPEC = {
    "target_percent": {"type": "int"},
    "target_ratio": {"type": "float"},
    "stop_platform": {"type": "bool"},
    "mode": {"type": "str", "choices": ["safe", "aggressive"]},
    "categories": {"type": "list", "elements": "str", "choices": ["logs", "dumps"]},
    "ports": {"type": "list", "elements": "int"},
    "max_size": {"type": "bytes"},
    "settings": {"type": "dict"},
    "api": {"type": "dict", "options": {"timeout": {"type": "int"}, "url": {"type": "str", "required": True}}},
    "needed": {"type": "str", "required": True},
    "yba_api_token": {"type": "int", "no_log": True},
}


def ansible_errors(values):
    """The messages ansible-core itself produces for these values (what validate_argument_spec returns)."""
    params = {k: v for k, v in {"needed": "x", **values}.items() if v is not None}  # None: not given at all
    return ArgumentSpecValidator(SPEC).validate(params).error_messages


@pytest.mark.parametrize("values, line", [
    ({"target_percent": "abc"}, "target_percent must be an integer, got 'abc'"),
    ({"target_percent": "7.5"}, "target_percent must be an integer, got '7.5'"),
    ({"target_ratio": "abc"}, "target_ratio must be a number, got 'abc'"),
    ({"stop_platform": "maybe"}, "stop_platform must be a boolean (true or false), got 'maybe'"),
    ({"mode": "reckless"}, "mode must be one of: safe, aggressive, got 'reckless'"),
    ({"categories": ["logs", "config"]}, "categories must be a list of: logs, dumps, got 'config' which is not one of them"),
    ({"ports": ["22", "x"]}, "ports must be a list of integers, got [\"22\", \"x\"]"),
    ({"max_size": "lots"}, "max_size must be a byte size such as 10M or 2G, got 'lots'"),
    ({"settings": "not a mapping"}, "settings must be a mapping (YAML/JSON object), got 'not a mapping'"),
    ({"api": {"url": "u", "timeout": "soon"}}, "api.timeout must be an integer, got 'soon'"),
    ({"api": {"timeout": 3}}, "api.url is required"),
    ({"needed": None}, "needed is required"),
    ({"yba_api_token": "s3cr3t-value"}, "yba_api_token must be an integer"),
])
def test_each_kind_of_error_is_one_plain_line(values, line):
    errors = ansible_errors(values)
    assert errors, values
    described = describe_all(errors, values)
    assert described == [line]
    for text in described:
        assert "\n" not in text and "<class" not in text and "\x1b" not in text and "s3cr3t" not in text


def test_value_from_message_when_the_cli_does_not_know_it():
    # a variable from the inventory, not the command line: the int message carries the value itself
    (error,) = ansible_errors({"target_percent": "abc"})
    assert describe(error) == "target_percent must be an integer, got 'abc'"
    (error,) = ansible_errors({"target_ratio": "abc"})
    assert describe(error) == "target_ratio must be a number"  # the float message has only the class name


def test_several_errors_and_hosts_deduplicated():
    errors = ansible_errors({"target_percent": "abc", "mode": "x"})
    assert describe_all(errors * 2, {"target_percent": "abc", "mode": "x"}) == [
        "target_percent must be an integer, got 'abc'", "mode must be one of: safe, aggressive, got 'x'"]


def test_unknown_message_is_still_plain_and_one_line():
    text = "\x1b[0;31mweird <class 'str'> thing\x1b[0m\r\n  happened"
    assert describe(text) == "weird str thing happened"
    assert plain("\x1b[0;31mred\x1b[0m\r") == "red"
