"""Unit tests: finding the collection, its playbooks and inventories."""

import pytest

from yba_remediation_cli.errors import UsageError
from yba_remediation_cli.locate import (describe_playbook, find_collection_root, list_playbooks,
                                        resolve_inventories, resolve_playbook)


@pytest.fixture
def collection(tmp_path, monkeypatch):
    root = tmp_path / "coll"
    (root / "playbooks").mkdir(parents=True)
    (root / "inventory" / "lab").mkdir(parents=True)
    (root / "galaxy.yml").write_text("namespace: yba\nname: remediation\nversion: 1.0.0\n")
    (root / "playbooks" / "diagnose.yml").write_text("---\n# Diagnose the incident, read-only.\n- hosts: yba\n")
    (root / "playbooks" / "step.yml").write_text("---\n- name: One step\n  hosts: yba\n")
    monkeypatch.setenv("YBA_REMEDIATION_ROOT", str(root))
    return root


def test_root_from_env(collection):
    assert find_collection_root() == collection.resolve()


def test_root_env_not_a_collection(tmp_path, monkeypatch):
    monkeypatch.setenv("YBA_REMEDIATION_ROOT", str(tmp_path))
    with pytest.raises(UsageError, match="is not the yba.remediation collection"):
        find_collection_root()


def test_root_found_from_start_dir(collection, monkeypatch):
    monkeypatch.delenv("YBA_REMEDIATION_ROOT")
    assert find_collection_root(collection / "playbooks") == collection.resolve()


@pytest.mark.parametrize("spec", ["diagnose", "yba.remediation.diagnose"])
def test_playbook_by_name(collection, spec):
    assert resolve_playbook(collection, spec) == collection / "playbooks" / "diagnose.yml"


def test_playbook_by_path(collection):
    path = collection / "playbooks" / "step.yml"
    assert resolve_playbook(collection, str(path)) == path.resolve()


def test_unknown_playbook_lists_known(collection):
    with pytest.raises(UsageError, match=r"unknown playbook 'nope' \(known: diagnose, step\)"):
        resolve_playbook(collection, "nope")


def test_missing_playbook_file(collection):
    with pytest.raises(UsageError, match="playbook file not found"):
        resolve_playbook(collection, "/no/such/book.yml")


def test_inventories(collection):
    assert resolve_inventories(collection, None) == [str((collection / "inventory" / "lab").resolve())]
    assert resolve_inventories(collection, ["localhost,"]) == ["localhost,"]
    with pytest.raises(UsageError, match="inventory not found: /nope"):
        resolve_inventories(collection, ["/nope"])


def test_list_and_describe(collection):
    assert list_playbooks(collection) == [("diagnose", "Diagnose the incident, read-only."), ("step", "One step")]
    assert describe_playbook(collection / "playbooks" / "step.yml") == "One step"
