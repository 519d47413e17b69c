"""extensions/awx/apply.yml run with the REAL awx.awx modules against fake_controller.py, twice: what AWX ends up
holding (the workflow's nodes, edges and approval, the SLA schedule) and an idempotent second run.

The modules are installed at test time from an ansible/awx git dir at the commit the vendored specs record
(awx_specs/*.json): $YBA_AWX_GIT_DIR, or the snapshot at /work/.mirror/ansible+awx/repo. Elsewhere (CI):
git clone --filter=blob:none https://github.com/ansible/awx /tmp/awx && export YBA_AWX_GIT_DIR=/tmp/awx/.git
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
AWX = REPO / "extensions" / "awx"
TOKEN = "fake-controller-token"
AWX_GIT_DIR = os.environ.get("YBA_AWX_GIT_DIR", "/work/.mirror/ansible+awx/repo")

sys.path.insert(0, str(HERE))
from awx_specs import install_collection, used_modules  # noqa: E402  pylint: disable=wrong-import-position
from fake_controller import Controller  # noqa: E402  pylint: disable=wrong-import-position


def _spec_commit() -> str:
    commits = {json.loads(path.read_text(encoding="utf-8"))["source"]["commit"] for path in (HERE / "awx_specs").glob("*.json")}
    assert len(commits) == 1, f"the vendored specs come from several commits: {commits}"
    return commits.pop()


def _run(root: Path, url: str):
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(root), "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "CONTROLLER_HOST": url, "CONTROLLER_OAUTH_TOKEN": TOKEN}
    for key in ("CONTROLLER_USERNAME", "CONTROLLER_PASSWORD", "TOWER_HOST", "TOWER_OAUTH_TOKEN"):
        env.pop(key, None)
    result = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,",
                             str(AWX / "apply.yml")], env=env, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)", result.stdout).groups()


@pytest.fixture(scope="module")
def controller(tmp_path_factory):
    commit = _spec_commit()
    found = subprocess.run(["git", "--git-dir", AWX_GIT_DIR, "cat-file", "-e", f"{commit}^{{commit}}"],
                           capture_output=True, check=False)
    assert found.returncode == 0, f"needs the ansible/awx source at {commit}: set YBA_AWX_GIT_DIR (see this file's doc)"
    root = install_collection(AWX_GIT_DIR, commit, used_modules(AWX / "apply.yml"), tmp_path_factory.mktemp("awx"))
    (root / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    fake = Controller(TOKEN)
    server = fake.serve()
    try:
        url = "http://%s:%d" % server.server_address
        fake.first = _run(root, url)
        fake.first_requests = len(fake.requests)
        fake.second = _run(root, url)
        yield fake
    finally:
        server.shutdown()


def _by_name(fake, collection):
    return {item["name"]: item for item in fake.objects.get(collection, {}).values()}


def test_apply_yml_configures_the_controller_and_a_second_run_changes_nothing(controller):
    assert int(controller.first[1]) > 0
    assert controller.second[1] == "0", "apply.yml is not idempotent against the controller"
    writes = [r for r in controller.requests[controller.first_requests:] if r["method"] != "GET"]
    assert not writes, f"the second run wrote {writes[:3]}"


def test_the_workflow_graph_on_the_controller(controller):
    workflow = _by_name(controller, "workflow_job_templates")["YBA incident runbook"]
    templates = {item["id"]: item["name"] for item in controller.objects["job_templates"].values()}
    approvals = controller.objects["workflow_approval_templates"]
    nodes = {node["id"]: node for node in controller.objects["workflow_job_template_nodes"].values()}
    assert all(node["workflow_job_template"] == workflow["id"] for node in nodes.values())

    def label(node_id):
        ujt = nodes[node_id]["unified_job_template"]
        return templates.get(ujt) or "approval: " + approvals[ujt]["name"]

    graph = {}
    for (collection, node_id, kind), children in controller.links.items():
        if collection == "workflow_job_template_nodes" and children:
            graph[(label(node_id), kind)] = sorted(label(child) for child in children)
    assert graph == {
        ("YBA diagnose", "success_nodes"): ["approval: Approve the YBA remediation"],
        ("approval: Approve the YBA remediation", "success_nodes"): ["YBA remediate"],
        ("YBA remediate", "success_nodes"): ["YBA backup_sla"],
        ("YBA remediate", "failure_nodes"): ["YBA backup_sla"],
    }
    diagnose = next(node for node in nodes.values() if label(node["id"]) == "YBA diagnose")
    assert diagnose["extra_data"] == {"diagnose_fail_on": "none"}


def test_the_approval_template_has_its_timeout_and_description(controller):
    approval, = controller.objects["workflow_approval_templates"].values()
    expected = yaml.safe_load((AWX / "workflows.yml").read_text(encoding="utf-8"))["yba_awx_workflow"]["nodes"][1]
    assert {key: approval[key] for key in ("name", "description", "timeout")} == expected["approval"]
    assert approval["timeout"] == 14400


def test_the_workflow_survey_and_limit_prompt_on_the_controller(controller):
    workflow = _by_name(controller, "workflow_job_templates")["YBA incident runbook"]
    assert workflow["survey_enabled"] is True and workflow["ask_limit_on_launch"] is True
    survey = controller.surveys[("workflow_job_templates", workflow["id"])]
    assert [question["variable"] for question in survey["spec"]] == [
        "remediate_backups", "remediate_wait_for_scheduled_backups", "remediate_latest_version"]


def test_the_sla_schedule_runs_the_sla_template_every_five_minutes(controller):
    schedule = _by_name(controller, "schedules")["YBA backup SLA every 5 minutes"]
    sla = _by_name(controller, "job_templates")["YBA backup_sla"]
    assert schedule["unified_job_template"] == sla["id"]
    assert schedule["rrule"].endswith("RRULE:FREQ=MINUTELY;INTERVAL=5")
    assert sla["job_type"] == "run" and '"backup_sla_fail_on": "critical"' in sla["extra_vars"]


def test_every_request_carried_the_token(controller):
    assert controller.requests and all(r["path"].startswith("/api/v2/") for r in controller.requests)
    # the fake answers 401 without "Bearer <token>"; a 401 would have failed the run (make_request fails on it)
