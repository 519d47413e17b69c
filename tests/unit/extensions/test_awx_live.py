"""extensions/awx/apply.yml run by ansible-playbook with the real awx.awx modules against a fake AWX controller.

awx.awx 24.6.1 comes from the PyPI `ansible` 11.13.0 wheel, extracted by scripts/bootstrap.sh into
.build/awx-collections (Galaxy is not needed). The fake controller (fake_controller.py) speaks enough of /api/v2 for
those modules and refuses what AWX refuses for them; the tests assert on what the controller received.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from ci_prerequisites import prerequisite_missing  # tests/unit/ci_prerequisites.py

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
AWX = REPO / "extensions" / "awx"
AWX_COLLECTIONS = REPO / ".build" / "awx-collections"
AWX_COLLECTION = AWX_COLLECTIONS / "ansible_collections" / "awx" / "awx"
AWX_VERSION = "24.6.1"
TOKEN = "fake-awx-token-4f1d2c9e8b7a"  # noqa: S105 - a test token the fake accepts; it must never be printed
WRONG_TOKEN = "some-revoked-token-0a9b8c7d"  # noqa: S105 - one the fake rejects (401)
SCM_URL = "https://git.example.com/yba-remediation.git"

sys.path.insert(0, str(HERE))
from fake_controller import ApiError, FakeController  # noqa: E402  pylint: disable=wrong-import-position


def _awx_collection_version() -> str | None:
    try:
        manifest = json.loads((AWX_COLLECTION / "MANIFEST.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest["collection_info"]["version"]


def require_awx_collection() -> None:
    """awx.awx as scripts/bootstrap.sh installs it, for every test that runs ansible-playbook."""
    version = _awx_collection_version()
    if version is None:
        prerequisite_missing(f"awx.awx is not installed in {AWX_COLLECTIONS} (scripts/bootstrap.sh extracts it from "
                             "the PyPI ansible 11.13.0 wheel)")
    if version != AWX_VERSION:
        prerequisite_missing(f"{AWX_COLLECTION} is awx.awx {version}, expected {AWX_VERSION}")


def _load(name: str) -> dict:
    return yaml.safe_load((AWX / name).read_text(encoding="utf-8"))


JOB_TEMPLATES = _load("job_templates.yml")["yba_awx_job_templates"]
WORKFLOW = _load("workflows.yml")["yba_awx_workflow"]
CREDENTIAL_TYPE = _load("credential_type.yml")
PLAYBOOKS = sorted(p.stem for p in (REPO / "playbooks").glob("*.yml"))


def _controller() -> FakeController:
    # the project update of the fake "clones" the repository: it finds the playbooks/ of this checkout
    return FakeController(TOKEN, playbooks={SCM_URL: [f"playbooks/{name}.yml" for name in PLAYBOOKS]}).start()


def run_apply(controller: FakeController, token: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """ansible-playbook extensions/awx/apply.yml against the controller, -vvv so every module result is printed."""
    (tmp_path / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CONTROLLER_", "TOWER_"))}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([str(AWX_COLLECTIONS), str(REPO / ".build" / "collections")]),
        "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0", "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "ANSIBLE_DEPRECATION_WARNINGS": "0", "ANSIBLE_PIPELINING": "1",
        # no ~/.tower_cli.cfg of the user running the tests (controller_api.py load_config_files reads it)
        "HOME": str(tmp_path),
        "CONTROLLER_HOST": controller.url, "CONTROLLER_OAUTH_TOKEN": token, "CONTROLLER_VERIFY_SSL": "false",
    })
    return subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-vvv", "-i", "localhost,",
                           str(AWX / "apply.yml"), "-e", f"yba_awx_scm_url={SCM_URL}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)


def recap(result: subprocess.CompletedProcess) -> dict[str, int]:
    match = re.search(r"^localhost\s+:\s+(.*)$", result.stdout, re.MULTILINE)
    assert match, f"no PLAY RECAP in the output:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def _output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def rejected(tmp_path_factory):
    """apply.yml with a token the controller rejects, run in the background while `applied` runs (2 cores, serial
    ansible-playbook runs): (controller, future of the run)."""
    require_awx_collection()
    controller = _controller()
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        yield controller, pool.submit(run_apply, controller, WRONG_TOKEN, tmp_path_factory.mktemp("rejected"))
    finally:
        pool.shutdown(wait=True)
        controller.stop()


@pytest.fixture(scope="module")
def applied(tmp_path_factory, rejected):  # pylint: disable=redefined-outer-name,unused-argument
    """apply.yml run twice against one fake controller: controller, first (run), counts (objects after it), second
    (run), second_requests."""
    require_awx_collection()
    controller = _controller()
    try:
        first = run_apply(controller, TOKEN, tmp_path_factory.mktemp("first"))
        assert first.returncode == 0, f"apply.yml failed against the fake AWX:\n{_output(first)[-6000:]}"
        after_first = controller.counts()
        seen = len(controller.requests)
        second = run_apply(controller, TOKEN, tmp_path_factory.mktemp("second"))
        assert second.returncode == 0, f"the second apply.yml run failed:\n{_output(second)[-6000:]}"
        yield SimpleNamespace(controller=controller, first=first, counts=after_first, second=second,
                              second_requests=controller.requests[seen:])
    finally:
        controller.stop()


def test_the_credential_type_is_what_credential_type_yml_says(applied):
    controller = applied.controller
    created = controller.one("credential_types", name=CREDENTIAL_TYPE["name"])
    assert created["kind"] == CREDENTIAL_TYPE["kind"] == "cloud" and created["managed"] is False
    assert created["description"] == CREDENTIAL_TYPE["description"]
    assert created["inputs"] == CREDENTIAL_TYPE["inputs"], "AWX received other inputs than credential_type.yml"
    assert created["injectors"] == CREDENTIAL_TYPE["injectors"], "AWX received other injectors than credential_type.yml"
    assert {"YBA_URL", "YBA_API_TOKEN", "YBA_CA_PATH"} <= set(created["injectors"]["env"])


def test_the_project_points_at_the_repository_and_was_synced(applied):
    controller = applied.controller
    org = controller.one("organizations", name="Default")
    ee = controller.one("execution_environments", name="yba-remediation-ee")
    project = controller.one("projects", name="yba.remediation")
    assert (project["organization"], project["scm_type"], project["scm_url"], project["scm_branch"]) == \
        (org["id"], "git", SCM_URL, "main")
    assert project["scm_update_on_launch"] is True and project["default_environment"] == ee["id"]
    update = controller.one("project_updates", project=project["id"])
    assert update["status"] == "successful", "project.py's wait: true waited for the project update"


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_every_playbook_has_a_run_and_a_check_template(applied, playbook):
    controller = applied.controller
    org = controller.one("organizations", name="Default")
    project = controller.one("projects", name="yba.remediation")
    inventory = controller.one("inventories", name="YBA fleet")
    credentials = {controller.one("credentials", name=name)["id"] for name in ("YBA hosts SSH", "YBA API")}
    settings = JOB_TEMPLATES.get(playbook, {})
    for job_type, name in (("run", f"YBA {playbook}"), ("check", f"YBA {playbook} (check)")):
        template = controller.one("job_templates", name=name)
        assert (template["organization"], template["project"], template["inventory"]) == \
            (org["id"], project["id"], inventory["id"]), name
        assert template["playbook"] == f"playbooks/{playbook}.yml", name
        assert template["job_type"] == job_type and template["diff_mode"] is (job_type == "check"), name
        assert template["ask_limit_on_launch"] is True and template["ask_variables_on_launch"] is True, name
        assert set(controller.linked("job_templates", template["id"], "credentials")) == credentials, \
            f"{name}: credentials {template['summary_fields']['credentials']}"
        assert template["description"] == settings.get("description", ""), name
        extra_vars = json.loads(template["extra_vars"]) if template["extra_vars"] else None
        assert extra_vars == settings.get("extra_vars"), name
        assert template["survey_enabled"] is ("survey" in settings), name
        assert controller.survey("job_templates", template["id"]) == settings.get("survey", {}), \
            f"{name}: the survey AWX stored differs from job_templates.yml"


def test_nothing_else_was_created(applied):
    controller, counts = applied.controller, applied.counts
    assert counts["job_templates"] == 2 * len(PLAYBOOKS)
    assert (counts["projects"], counts["schedules"], counts["workflow_job_templates"]) == (1, 1, 1)
    assert counts["workflow_job_template_nodes"] == len(WORKFLOW["nodes"])
    assert counts["workflow_approval_templates"] == 1
    assert counts["credential_types"] == 3, "the seeded Machine and YBA API types plus the one apply.yml creates"
    assert not controller.unauthorised


def test_the_sla_check_is_scheduled_on_its_run_template(applied):
    controller = applied.controller
    sla = JOB_TEMPLATES["backup_sla"]["schedule"]
    schedule = controller.one("schedules", name=sla["name"])
    assert schedule["rrule"] == sla["rrule"]
    assert schedule["unified_job_template"] == controller.one("job_templates", name="YBA backup_sla")["id"]
    assert schedule["enabled"] is True


def test_the_workflow_runs_diagnose_approval_remediate_then_the_sla(applied):
    controller = applied.controller
    workflow = controller.one("workflow_job_templates", name=WORKFLOW["name"])
    assert workflow["organization"] == controller.one("organizations", name="Default")["id"]
    assert workflow["inventory"] == controller.one("inventories", name="YBA fleet")["id"]
    assert workflow["ask_limit_on_launch"] is True and workflow["allow_simultaneous"] is False
    assert workflow["survey_enabled"] is True
    assert controller.survey("workflow_job_templates", workflow["id"]) == WORKFLOW["survey"]

    found = controller.find("workflow_job_template_nodes", workflow_job_template=workflow["id"])
    nodes = {node["identifier"]: node for node in found}
    assert set(nodes) == {"diagnose", "approve", "remediate", "backup_sla"}
    for identifier, template in (("diagnose", "YBA diagnose"), ("remediate", "YBA remediate"),
                                 ("backup_sla", "YBA backup_sla")):
        assert nodes[identifier]["unified_job_template"] == controller.one("job_templates", name=template)["id"]
    assert nodes["diagnose"]["extra_data"] == {"diagnose_fail_on": "none"}, "findings alone must not fail diagnose"

    approval = controller.one("workflow_approval_templates", id=nodes["approve"]["unified_job_template"])
    wanted = next(node for node in WORKFLOW["nodes"] if node["identifier"] == "approve")["approval"]
    assert (approval["name"], approval["description"], approval["timeout"]) == \
        (wanted["name"], wanted["description"], wanted["timeout"])
    assert 0 < approval["timeout"] <= 24 * 3600

    by_id = {node["id"]: identifier for identifier, node in nodes.items()}
    kinds = ("success_nodes", "failure_nodes", "always_nodes")
    edges = {identifier: {kind: sorted(by_id[i] for i in node[kind]) for kind in kinds if node[kind]}
             for identifier, node in nodes.items()}
    # backup_sla after remediate whatever its outcome: one always edge (AWX refuses a success AND a failure edge to
    # the same child, and counts an always edge as handling the failure)
    assert edges == {"diagnose": {"success_nodes": ["approve"]}, "approve": {"success_nodes": ["remediate"]},
                     "remediate": {"always_nodes": ["backup_sla"]}, "backup_sla": {}}
    assert edges == {node["identifier"]: {kind: sorted(node[kind]) for kind in kinds if node.get(kind)}
                     for node in WORKFLOW["nodes"]}, "AWX's edges differ from workflows.yml"


def test_a_second_run_changes_nothing_and_creates_no_duplicate(applied):
    controller, first, counts, second = applied.controller, applied.first, applied.counts, applied.second
    assert recap(first)["changed"] > 0
    assert recap(second)["changed"] == 0, "apply.yml is not idempotent: " + "; ".join(
        line for line in second.stdout.splitlines() if line.startswith("changed:"))
    assert controller.counts() == counts, "the second run created objects"
    writes = [f"{method} {path}" for method, path, _query in applied.second_requests if method != "GET"]
    assert not writes, f"the second run wrote to AWX: {writes}"


def test_the_token_never_appears_in_the_output(applied):
    controller, first, second = applied.controller, applied.first, applied.second
    assert controller.tokens_seen == {TOKEN}, "every request carried the token"
    for result in (first, second):
        assert TOKEN not in _output(result), "the controller token was printed"
    # -vvv prints every module invocation: the token is there, masked by the modules' no_log
    assert '"controller_oauthtoken": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in first.stdout
    assert "[WARNING]" not in _output(first), "controller_api.py warns on a product/version mismatch, among others"


def test_a_rejected_token_fails_the_play_with_a_clear_message(rejected):
    controller, future = rejected
    result = future.result(timeout=600)
    assert result.returncode != 0
    assert "Invalid authentication credentials for /api/v2/credential_types/ (HTTP 401)." in result.stdout, \
        result.stdout[-3000:]
    assert recap(result)["failed"] == 1 and recap(result)["ok"] == 0, "the play stops at its first task"
    assert controller.unauthorised and not controller.requests, "nothing was read or written without a valid token"
    assert controller.counts()["job_templates"] == 0
    assert WRONG_TOKEN not in _output(result)


def test_the_fake_refuses_what_awx_refuses():
    """The AWX rules fake_controller.py models (each cited there), which found apply.yml's bugs, keep refusing."""
    controller = FakeController(TOKEN, playbooks={SCM_URL: ["playbooks/diagnose.yml"]})  # no server: its methods
    org = controller.one("organizations", name="Default")["id"]
    project = controller.create("projects", {"name": "p", "organization": org, "scm_type": "git", "scm_url": SCM_URL})
    workflow = controller.create("workflow_job_templates", {"name": "w", "organization": org})["id"]
    parent, child = (controller.create("workflow_job_template_nodes",
                                       {"workflow_job_template": workflow, "identifier": name})["id"]
                     for name in ("parent", "child"))
    controller.associate("workflow_job_template_nodes", parent, "success_nodes", {"id": child})
    cases = [
        (lambda: controller.associate("workflow_job_template_nodes", parent, "failure_nodes", {"id": child}),
         "Relationship not allowed."),
        (lambda: controller.associate("workflow_job_template_nodes", child, "always_nodes", {"id": parent}),
         "Cycle detected."),
        (lambda: controller.set_survey("workflow_job_templates", workflow, {
            "name": "s", "description": "", "spec": [{"type": "float", "question_name": "q", "variable": "v",
                                                      "required": True, "default": 80}]}),
         "Default value 80 in survey question 0 expected to be float."),
        (lambda: controller.create("schedules", {"name": "s", "unified_job_template": workflow,
                                                 "rrule": "DTSTART:20260101T000000 RRULE:FREQ=MINUTELY;INTERVAL=5"}),
         "DTSTART cannot be a naive datetime"),
        (lambda: controller.create("credential_types", {"name": "c", "kind": "ssh"}), "Must be 'cloud' or 'net'"),
        (lambda: controller.create("job_templates", {"name": "j", "project": project["id"],
                                                     "playbook": "playbooks/gone.yml"}), "Playbook not found"),
        (lambda: controller.create("workflow_job_templates", {"name": "w", "organization": org}), "already exists"),
    ]
    for call, message in cases:
        with pytest.raises(ApiError) as refused:
            call()
        assert refused.value.status == 400 and message in json.dumps(refused.value.body), refused.value.body
    assert controller.linked("workflow_job_template_nodes", parent, "failure_nodes") == []
