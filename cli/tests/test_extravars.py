"""Unit tests: -e parsing."""

import pytest

from yba_remediation_cli.errors import UsageError
from yba_remediation_cli.extravars import parse_extra_vars


def test_key_value_pairs_and_precedence():
    assert parse_extra_vars(["a=1 b='two words'", "a=3"]) == {"a": "3", "b": "two words"}


def test_inline_json_and_yaml():
    assert parse_extra_vars(['{"n": 2, "l": [1]}', "{x: y}"]) == {"n": 2, "l": [1], "x": "y"}


def test_file(tmp_path):
    path = tmp_path / "vars.yml"
    path.write_text("k: v\nnested: {a: 1}\n")
    assert parse_extra_vars([f"@{path}"]) == {"k": "v", "nested": {"a": 1}}


@pytest.mark.parametrize("spec, message", [
    ("novalue", "expected key=value"),
    ("1bad=x", "expected key=value"),
    ("{broken", "malformed extra vars"),
    ("[1, 2]", "expected a mapping"),
    ("@/does/not/exist.yml", "extra vars file not found"),
    ("a='unterminated", "malformed extra vars"),
    ("  ", "empty -e value"),
])
def test_malformed(spec, message):
    with pytest.raises(UsageError, match=message):
        parse_extra_vars([spec])


def test_vault_file_refused(tmp_path):
    path = tmp_path / "vault.yml"
    path.write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(UsageError, match="vault-encrypted"):
        parse_extra_vars([f"@{path}"])
