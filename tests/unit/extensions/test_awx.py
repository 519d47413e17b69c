"""The AWX configuration as code agrees with the collection: env vars, playbooks, role variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
AWX = REPO / "extensions" / "awx"


def _load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_credential_type_injects_every_documented_api_env_var():
    fragment = (REPO / "plugins" / "doc_fragments" / "api.py").read_text(encoding="utf-8")
    documented = set(re.findall(r"E\((YBA_[A-Z_]+)\)", fragment))
    credential = _load(AWX / "credential_type.yml")
    injected = set(credential["injectors"]["env"])
    assert {"YBA_URL", "YBA_API_TOKEN", "YBA_CA_PATH"} <= documented <= injected
    fields = {field["id"]: field for field in credential["inputs"]["fields"]}
    assert fields["yba_api_token"].get("secret") is True
    for template in credential["injectors"]["env"].values():
        for name in re.findall(r"{{\s*(\w+)", template):
            assert name in fields or name == "tower", f"injector uses unknown input {name}"


def test_credential_type_injects_the_s3_keys_as_secret_extra_vars_the_role_reads():
    credential = _load(AWX / "credential_type.yml")
    fields = {field["id"]: field for field in credential["inputs"]["fields"]}
    extra = credential["injectors"]["extra_vars"]
    for template in extra.values():
        for name in re.findall(r"{{\s*(\w+)", template):
            assert fields[name].get("secret") is True, f"{name} is a secret input"
    defaults = (REPO / "roles" / "storage_config" / "defaults" / "main.yml").read_text(encoding="utf-8")
    assert set(extra) == {"yba_s3_access_key_id", "yba_s3_secret_access_key"}
    assert all(name in defaults for name in extra)


def _job_templates():
    return _load(AWX / "job_templates.yml")["yba_awx_job_templates"]


@pytest.mark.parametrize("name", sorted(_job_templates()))
def test_job_template_matches_a_playbook_and_its_role(name):
    assert (REPO / "playbooks" / f"{name}.yml").is_file(), f"extensions/awx/job_templates.yml: no playbooks/{name}.yml"
    survey = _job_templates()[name].get("survey")
    specs = REPO / "roles" / name / "meta" / "argument_specs.yml"
    if not survey or not specs.is_file():
        return
    options = _load(specs)["argument_specs"]["main"]["options"]
    for question in survey["spec"]:
        variable = question["variable"]
        assert variable in options, f"survey of {name} asks for {variable}, which role {name} does not take"
        choices = options[variable].get("choices")
        if choices and question["type"] == "multiplechoice":
            assert set(question["choices"]) <= {str(c) for c in choices}


def test_the_sla_check_is_scheduled_every_five_minutes_and_fails_on_critical():
    sla = _job_templates()["backup_sla"]
    assert sla["extra_vars"] == {"backup_sla_fail_on": "critical"}
    assert re.fullmatch(r"DTSTART:\d{8}T\d{6}Z RRULE:FREQ=MINUTELY;INTERVAL=5", sla["schedule"]["rrule"])
    options = _load(REPO / "roles" / "backup_sla" / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert "critical" in options["backup_sla_fail_on"]["choices"]
    # that apply.yml applies it to "YBA backup_sla": test_awx_specs.py::test_the_sla_schedule_is_applied_to_the_run_template


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "playbooks").glob("*.yml")))
def test_every_required_role_option_is_asked_or_explained(name):
    specs = REPO / "roles" / name / "meta" / "argument_specs.yml"
    if not specs.is_file():
        return
    options = _load(specs)["argument_specs"]["main"]["options"]
    required = {variable for variable, spec in options.items() if spec.get("required")}
    template = _job_templates().get(name) or {}
    survey = template.get("survey") or {"spec": []}
    asked = {question["variable"] for question in survey["spec"] if question.get("required")}
    # a value AWX cannot ask for (a list of dicts) comes from the template's extra vars, and its description says so
    given = set(template.get("extra_vars") or {}) | {v for v in required if v in template.get("description", "")}
    missing = required - asked - given
    assert not missing, f"the AWX template of {name} neither asks for nor explains {sorted(missing)}"


def test_the_destructive_switches_stay_off_in_the_templates():
    templates = _job_templates()
    reconcile = templates["backup_reconcile"]
    switches = {"backup_reconcile_delete_dangling", "backup_reconcile_delete_orphans"}
    assert not switches & set(reconcile.get("extra_vars") or {})
    assert not switches & {question["variable"] for question in reconcile["survey"]["spec"]}
    floor = next(q for q in templates["backup_retention"]["survey"]["spec"]
                 if q["variable"] == "backup_retention_min_redundancy")
    assert floor["min"] >= 1 and floor["default"] >= 1, "the survey must not switch the retention floor off"
