"""extensions/awx/apply.yml against the awx.awx modules' own argument specs (vendored by awx_specs.py).

There is no AWX server and no awx.awx here, so ansible-playbook runs apply.yml with a stand-in awx.awx collection
generated from the vendored specs: each module records the arguments Ansible rendered for it (loops, lookups, omit
and all, exactly as a real run would pass them) and each recorded call is validated with ansible-core's
ArgumentSpecValidator against the spec of the real module.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
AWX = REPO / "extensions" / "awx"
SPECS = HERE / "awx_specs"

sys.path.insert(0, str(HERE))
from awx_specs import used_modules  # noqa: E402  pylint: disable=wrong-import-position

STAND_IN = '''#!/usr/bin/python
# Stand-in for awx.awx.{name} in tests: records the arguments it was called with.
import json
from ansible.module_utils.basic import AnsibleModule, _load_params


def main():
    params = {{k: v for k, v in _load_params().items() if not k.startswith("_ansible_")}}
    module = AnsibleModule(argument_spec={{k: {{"type": "raw"}} for k in params}})
    with open({record!r}, "a", encoding="utf-8") as record:
        record.write(json.dumps({{"module": "{name}", "args": params}}) + "\\n")
    module.exit_json(changed=False)


if __name__ == "__main__":
    main()
'''


def _spec(name: str) -> dict:
    return json.loads((SPECS / f"{name}.json").read_text(encoding="utf-8"))


def _argument_spec(document: dict) -> dict:
    """The vendored spec as AnsibleModule takes it (env_fallback restored)."""
    spec = copy.deepcopy(document["argument_spec"])
    for option in spec.values():
        if option.get("fallback", [None])[0] == "env_fallback":
            option["fallback"] = (env_fallback, option["fallback"][1])
    return spec


def validate(name: str, params: dict):
    """The error messages ArgumentSpecValidator finds in params for awx.awx.<name> (empty: valid)."""
    document = _spec(name)
    kwargs = {key: document[key] for key in ("mutually_exclusive", "required_if", "required_one_of",
                                             "required_together", "required_by") if key in document}
    validator = ArgumentSpecValidator(_argument_spec(document), **kwargs)
    return validator.validate(copy.deepcopy(params)).error_messages


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Every awx.awx call of apply.yml, rendered by ansible-playbook: [{"module": ..., "args": {...}}]."""
    root = tmp_path_factory.mktemp("awx")
    record = root / "calls.jsonl"
    modules = root / "ansible_collections" / "awx" / "awx" / "plugins" / "modules"
    modules.mkdir(parents=True)
    for spec in SPECS.glob("*.json"):
        (modules / f"{spec.stem}.py").write_text(STAND_IN.format(name=spec.stem, record=str(record)), encoding="utf-8")
    (root / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(root), "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    result = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,",
                             str(AWX / "apply.yml")], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]


def test_every_awx_module_of_apply_yml_has_a_vendored_spec_with_its_source_commit():
    used = used_modules(AWX / "apply.yml")
    assert {"workflow_job_template", "workflow_job_template_node", "schedule"} <= set(used)
    for name in used:
        document = _spec(name)
        assert document["module"] == f"awx.awx.{name}"
        assert len(document["source"]["commit"]) == 40
        assert document["source"]["path"] == f"awx_collection/plugins/modules/{name}.py"
        assert "controller_host" in document["argument_spec"]


def test_the_ansible_lint_mock_modules_cover_every_awx_module():
    lint = yaml.safe_load((REPO / ".ansible-lint").read_text(encoding="utf-8"))
    assert {f"awx.awx.{name}" for name in used_modules(AWX / "apply.yml")} <= set(lint["mock_modules"])


def test_apply_yml_calls_every_awx_task_with_arguments_its_module_accepts(recorded):
    counts = {}
    for call in recorded:
        errors = validate(call["module"], call["args"])
        assert not errors, f"awx.awx.{call['module']} {call['args'].get('name') or call['args'].get('identifier')}: " \
                           + "; ".join(str(error) for error in errors)
        counts[call["module"]] = counts.get(call["module"], 0) + 1
    playbooks = len(list((REPO / "playbooks").glob("*.yml")))
    nodes = yaml.safe_load((AWX / "workflows.yml").read_text(encoding="utf-8"))["yba_awx_workflow"]["nodes"]
    assert counts == {"credential_type": 1, "project": 1, "job_template": 2 * playbooks, "schedule": 1,
                      "workflow_job_template": 1, "workflow_job_template_node": 2 * len(nodes)}


@pytest.mark.parametrize("module, change, message", [
    ("workflow_job_template", {"bogus_option": 1}, "bogus_option. Supported parameters include"),
    ("workflow_job_template_node", {"success_nodes": {"approve": 1}}, "success_nodes"),
    ("schedule", {"state": "enabled"}, "state"),
    ("workflow_job_template_node", {"approval_node": {"name": "x"}}, "mutually exclusive"),
    ("job_template", {"survey_enabled": "maybe"}, "survey_enabled"),
])
def test_a_wrong_option_type_or_choice_fails_the_validation(recorded, module, change, message):
    call = next(call for call in recorded if call["module"] == module)
    assert not validate(module, call["args"])
    errors = validate(module, {**call["args"], **change})
    assert errors and message in " ".join(str(error) for error in errors)


def _calls(recorded, module):
    return [call["args"] for call in recorded if call["module"] == module]


def test_the_workflow_runs_diagnose_approval_remediate_then_the_sla(recorded):
    workflow, = _calls(recorded, "workflow_job_template")
    assert workflow["name"] == "YBA incident runbook" and workflow["ask_limit_on_launch"] is True
    calls = _calls(recorded, "workflow_job_template_node")
    assert all(call["workflow_job_template"] == workflow["name"] for call in calls)
    edge_kinds = ("success_nodes", "failure_nodes", "always_nodes")
    # nodes first, then the edges: an approval node's edges must not go with its approval_node (ansible/awx#8777)
    nodes = {call["identifier"]: call for call in calls if not set(edge_kinds) & set(call)}
    edges = [call for call in calls if set(edge_kinds) & set(call)]
    assert calls[:len(nodes)] == list(nodes.values()) and len(edges) == len(nodes)
    assert all(set(edge) == {"workflow_job_template", "organization", "identifier", "state", *edge_kinds} for edge in edges)
    templates = {call["name"] for call in _calls(recorded, "job_template")}
    for identifier, node in nodes.items():
        if "approval_node" not in node:
            assert node["unified_job_template"] in templates, f"{identifier}: no job template {node['unified_job_template']}"
    assert nodes["diagnose"]["unified_job_template"] == "YBA diagnose"
    assert nodes["diagnose"]["extra_data"] == {"diagnose_fail_on": "none"}  # findings alone do not fail it
    assert nodes["remediate"]["unified_job_template"] == "YBA remediate"
    assert nodes["backup_sla"]["unified_job_template"] == "YBA backup_sla"
    assert {edge["identifier"]: {kind: edge[kind] for kind in edge_kinds} for edge in edges} == {
        "diagnose": {"success_nodes": ["approve"], "failure_nodes": [], "always_nodes": []},
        "approve": {"success_nodes": ["remediate"], "failure_nodes": [], "always_nodes": []},
        "remediate": {"success_nodes": [], "failure_nodes": [], "always_nodes": ["backup_sla"]},
        "backup_sla": {"success_nodes": [], "failure_nodes": [], "always_nodes": []},
    }


def test_the_approval_node_times_out_and_says_what_is_approved(recorded):
    approve = next(node for node in _calls(recorded, "workflow_job_template_node") if "approval_node" in node)
    assert approve["identifier"] == "approve"
    assert "unified_job_template" not in approve
    approval = approve["approval_node"]
    assert 0 < approval["timeout"] <= 24 * 3600
    for words in ("diagnose", "remediate", "never upgrades", "Deny"):
        assert words in approval["description"]


def test_the_workflow_survey_asks_for_remediate_variables_and_no_secret(recorded):
    workflow, = _calls(recorded, "workflow_job_template")
    assert workflow["survey_enabled"] is True
    options = yaml.safe_load((REPO / "roles" / "remediate" / "meta" / "argument_specs.yml").read_text(
        encoding="utf-8"))["argument_specs"]["main"]["options"]
    asked = {question["variable"]: question for question in workflow["survey_spec"]["spec"]}
    assert {"remediate_backups", "remediate_latest_version"} <= set(asked) <= set(options)
    for variable, question in asked.items():
        assert question["type"] != "password" and not options[variable].get("no_log")
        if options[variable]["type"] == "bool":
            assert question["type"] == "multiplechoice" and set(question["choices"]) == {"true", "false"}
            assert question["default"] == str(options[variable]["default"]).lower()


def test_the_sla_schedule_is_applied_to_the_run_template(recorded):
    schedule, = _calls(recorded, "schedule")
    sla = yaml.safe_load((AWX / "job_templates.yml").read_text(encoding="utf-8"))["yba_awx_job_templates"]["backup_sla"]
    assert schedule["name"] == sla["schedule"]["name"] == "YBA backup SLA every 5 minutes"
    assert schedule["rrule"] == sla["schedule"]["rrule"]
    assert schedule["unified_job_template"] == "YBA backup_sla"
    assert "YBA backup_sla" in {call["name"] for call in _calls(recorded, "job_template")}
