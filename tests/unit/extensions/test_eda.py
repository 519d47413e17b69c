"""The EDA rulebook: valid against ansible-rulebook's own JSON schema (vendored, see eda_schema/SOURCE), an
authenticated webhook whose secret comes from outside the file, a throttle per host, and actions limited to the
host that alerted, launching job templates apply.yml creates."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
RULEBOOK = REPO / "extensions" / "eda" / "rulebooks" / "backup_failures.yml"
SCHEMA = json.loads((HERE / "eda_schema" / "ruleset_schema.json").read_text(encoding="utf-8"))
JINJA_VAR = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


def _rulebook():
    return yaml.safe_load(RULEBOOK.read_text(encoding="utf-8"))


def _errors(rulebook):
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(rulebook)]


def test_the_vendored_schema_records_its_source_commit():
    source = (HERE / "eda_schema" / "SOURCE").read_text(encoding="utf-8")
    assert re.search(r"commit [0-9a-f]{40}", source) and "ansible/ansible-rulebook" in source


def test_the_rulebook_is_valid_against_ansible_rulebooks_schema():
    assert not _errors(_rulebook())


@pytest.mark.parametrize("path, value, message", [
    (("rules", 0, "throttle", "once_within"), "10 minuts", "does not match"),
    (("rules", 0, "action", "run_job_template", "limit"), "x", "is not valid under any of the given schemas"),
    (("rules", 0, "bogus"), True, "Additional properties"),
    (("rules", 0, "throttle", "group_by_attributes"), "event.payload.host", "is not of type 'array'"),
])
def test_the_schema_check_fails_on_a_wrong_rulebook(path, value, message):
    rulebook = copy.deepcopy(_rulebook())
    target = rulebook[0]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    errors = _errors(rulebook)
    assert errors and message in " ".join(errors)


def _rules():
    ruleset, = _rulebook()
    return ruleset["rules"]


def test_the_webhook_requires_a_bearer_token_from_a_variable_never_a_literal():
    ruleset, = _rulebook()
    source, = ruleset["sources"]
    webhook = source["ansible.eda.webhook"]
    variable = JINJA_VAR.match(webhook["token"])
    assert variable, "token must be a variable ({{ NAME }}) set from the environment or an EDA credential"
    assert variable.group(1) in RULEBOOK.read_text(encoding="utf-8").split("--env-vars", 1)[1].split("\n", 1)[0]
    for key in ("hmac_secret", "password"):
        assert key not in webhook or JINJA_VAR.match(webhook[key])


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["name"])
def test_each_rule_is_throttled_per_host_and_acts_on_that_host_only(rule):
    throttle = rule["throttle"]
    assert "event.payload.host" in throttle["group_by_attributes"]
    assert re.fullmatch(r"\d+ minutes", throttle["once_within"]) and 1 <= int(throttle["once_within"].split()[0]) <= 60
    actions = rule.get("actions") or [rule["action"]]
    for action in actions:
        assert "run_playbook" not in action, "run_playbook runs on the ruleset's whole hosts group"
        launch = action.get("run_job_template") or action["run_workflow_template"]
        assert launch["job_args"]["limit"] == "{{ event.payload.host }}"
    # a pattern in the host would widen the limit: the condition admits one plain hostname
    assert 'event.payload.host is regex("^[A-Za-z0-9][A-Za-z0-9._-]*$")' in rule["condition"]
    assert 'event.payload.host != "all"' in rule["condition"]


def test_the_actions_launch_templates_apply_yml_creates():
    apply, = yaml.safe_load((REPO / "extensions" / "awx" / "apply.yml").read_text(encoding="utf-8"))
    prefix, organization = apply["vars"]["yba_awx_template_prefix"], apply["vars"]["yba_awx_organization"]
    playbooks = {path.stem for path in (REPO / "playbooks").glob("*.yml")}
    for rule in _rules():
        launch = rule["action"]["run_job_template"]
        assert launch["organization"] == organization
        assert launch["name"].startswith(prefix) and launch["name"][len(prefix):] in playbooks
