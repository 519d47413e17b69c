"""A fake AWX controller (/api/v2 over http.server) for running the real awx.awx modules against in tests.

It implements what awx.awx 24.6.1's modules call for extensions/awx/apply.yml: list lookups with filters, GET/PATCH by
id, POST create, the association sub-lists, survey specs, approval templates and project updates. Where it models an
AWX behaviour the comment names the source it follows:
- the client side: ansible_collections/awx/awx/plugins/module_utils/controller_api.py (awx.awx 24.6.1, from the
  PyPI ansible 11.13.0 wheel) and the modules under plugins/modules/ that call it;
- the server side: ansible/awx awx/api/views/__init__.py, awx/api/serializers.py and awx/main/scheduler/
  dag_workflow.py (read via code search; cited per rule below).
Everything else (RBAC, activity stream, real job runs) is out of scope.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API = "/api/v2/"
PRODUCT_VERSION = "24.6.1"
EDGES = ("success_nodes", "failure_nodes", "always_nodes")

# endpoint -> the object's "type"
TYPES = {
    "organizations": "organization", "inventories": "inventory", "credentials": "credential",
    "credential_types": "credential_type", "execution_environments": "execution_environment",
    "projects": "project", "project_updates": "project_update", "job_templates": "job_template",
    "schedules": "schedule", "workflow_job_templates": "workflow_job_template",
    "workflow_job_template_nodes": "workflow_job_template_node",
    "workflow_approval_templates": "workflow_approval_template",
}
# The subclasses of UnifiedJobTemplate share one id sequence (Django multi-table inheritance) and are listed together
# under /unified_job_templates/, which awx.awx's schedule and workflow_job_template_node modules search by name.
UJT_ENDPOINTS = ("projects", "job_templates", "workflow_job_templates", "workflow_approval_templates")
CREATABLE = ("credential_types", "projects", "job_templates", "schedules", "workflow_job_templates",
             "workflow_job_template_nodes")
# Writable fields per endpoint (as AWX's serializers take them; unknown fields are ignored, as DRF does) and the
# model defaults a created object shows.
FIELDS = {
    "credential_types": {"name": None, "description": "", "kind": None, "managed": False, "inputs": {},
                         "injectors": {}},
    "projects": {"name": None, "description": "", "organization": None, "scm_type": "", "scm_url": "",
                 "scm_branch": "", "scm_refspec": "", "scm_clean": False, "scm_delete_on_update": False,
                 "scm_track_submodules": False, "scm_update_on_launch": False, "scm_update_cache_timeout": 0,
                 "allow_override": False, "timeout": 0, "default_environment": None, "credential": None,
                 "local_path": "", "custom_virtualenv": None, "signature_validation_credential": None},
    "job_templates": {"name": None, "description": "", "organization": None, "job_type": "run", "inventory": None,
                      "project": None, "playbook": "", "scm_branch": "", "forks": 0, "limit": "", "verbosity": 0,
                      "extra_vars": "", "job_tags": "", "force_handlers": False, "skip_tags": "", "start_at_task": "",
                      "timeout": 0, "use_fact_cache": False, "execution_environment": None, "host_config_key": "",
                      "ask_scm_branch_on_launch": False, "ask_diff_mode_on_launch": False,
                      "ask_variables_on_launch": False, "ask_limit_on_launch": False, "ask_tags_on_launch": False,
                      "ask_skip_tags_on_launch": False, "ask_job_type_on_launch": False,
                      "ask_verbosity_on_launch": False, "ask_inventory_on_launch": False,
                      "ask_credential_on_launch": False, "ask_execution_environment_on_launch": False,
                      "ask_forks_on_launch": False, "ask_instance_groups_on_launch": False,
                      "ask_job_slice_count_on_launch": False, "ask_labels_on_launch": False,
                      "ask_timeout_on_launch": False, "survey_enabled": False, "become_enabled": False,
                      "diff_mode": False, "allow_simultaneous": False, "custom_virtualenv": None, "job_slice_count": 1,
                      "webhook_service": "", "webhook_credential": None, "prevent_instance_group_fallback": False},
    "schedules": {"name": None, "description": "", "rrule": None, "unified_job_template": None, "enabled": True,
                  "extra_data": {}, "inventory": None, "scm_branch": None, "job_type": None, "job_tags": None,
                  "skip_tags": None, "limit": None, "diff_mode": None, "verbosity": None, "forks": None,
                  "job_slice_count": None, "timeout": None, "execution_environment": None},
    "workflow_job_templates": {"name": None, "description": "", "organization": None, "inventory": None, "limit": None,
                               "scm_branch": None, "extra_vars": "", "survey_enabled": False,
                               "allow_simultaneous": False, "ask_inventory_on_launch": False,
                               "ask_scm_branch_on_launch": False, "ask_limit_on_launch": False,
                               "ask_variables_on_launch": False, "ask_labels_on_launch": False,
                               "ask_tags_on_launch": False, "ask_skip_tags_on_launch": False, "webhook_service": "",
                               "webhook_credential": None, "job_tags": None, "skip_tags": None},
    "workflow_job_template_nodes": {"workflow_job_template": None, "unified_job_template": None, "identifier": None,
                                    "extra_data": {}, "inventory": None, "scm_branch": None, "job_type": None,
                                    "job_tags": None, "skip_tags": None, "limit": None, "diff_mode": None,
                                    "verbosity": None, "all_parents_must_converge": False, "forks": None,
                                    "job_slice_count": None, "timeout": None, "execution_environment": None},
    "workflow_approval_templates": {"name": None, "description": "", "timeout": 0},
}
REQUIRED = {
    "credential_types": ("name", "kind"), "projects": ("name", "organization"), "job_templates": ("name",),
    "schedules": ("name", "rrule", "unified_job_template"), "workflow_job_templates": ("name",),
    "workflow_job_template_nodes": ("workflow_job_template",), "workflow_approval_templates": ("name",),
}
FOREIGN_KEYS = {
    "organization": "organizations", "inventory": "inventories", "project": "projects",
    "default_environment": "execution_environments", "execution_environment": "execution_environments",
    "credential": "credentials", "webhook_credential": "credentials", "signature_validation_credential": "credentials",
    "workflow_job_template": "workflow_job_templates", "credential_type": "credential_types",
    "unified_job_template": "unified_job_templates",
}
# unique_together of the AWX models: a second create with the same values is a 400 (no silent duplicate)
UNIQUE = {
    "credential_types": ("name", "kind"), "projects": ("name", "organization"),
    "job_templates": ("name", "organization"), "workflow_job_templates": ("name", "organization"),
    "schedules": ("name", "unified_job_template"),
    "workflow_job_template_nodes": ("identifier", "workflow_job_template"),
}
# AWX JobTemplateSurveySpec.ALLOWED_TYPES (awx/api/views/__init__.py): a default must be an instance of the type
SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                "integer": int, "float": float}


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body


def _survey_errors(spec) -> str | None:
    """AWX's JobTemplateSurveySpec._validate_spec_data (awx/api/views/__init__.py), the checks that apply to JSON."""
    if not isinstance(spec, dict):
        return "Survey spec is not a json object."
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if field not in spec:
            return f"Field '{field}' is missing from survey spec."
        if not isinstance(spec[field], kind):
            return f"Expected {kind.__name__} for field '{field}', received {type(spec[field]).__name__} type."
    if not spec["spec"]:
        return "'spec' doesn't contain any items."
    variables = set()
    for idx, item in enumerate(spec["spec"]):
        if not isinstance(item, dict):
            return f"Survey question {idx} is not a json object."
        for field in ("type", "question_name", "variable", "required"):
            if field not in item:
                return f"'{field}' missing from survey question {idx}"
            if not isinstance(item[field], bool if field == "required" else str):
                label = "boolean" if field == "required" else "string"
                return f"'{field}' in survey question {idx} expected to be {label}."
        if item["variable"] in variables:
            return f"'variable' '{item['variable']}' duplicated in survey question {idx}."
        variables.add(item["variable"])
        qtype = item["type"]
        if qtype not in SURVEY_TYPES:
            allowed = ", ".join(SURVEY_TYPES)
            return f"'{qtype}' in survey question {idx} is not one of '{allowed}' allowed question types."
        # an int default of a float question is refused: isinstance(80, float) is False
        if "default" in item and item["default"] != "" and not isinstance(item["default"], SURVEY_TYPES[qtype]):
            label = qtype if qtype in ("integer", "float") else "string"
            return f"Default value {item['default']} in survey question {idx} expected to be {label}."
        for key in ("min", "max"):
            if item.get(key) is not None and not isinstance(item[key], int):
                return f"The {key} limit in survey question {idx} expected to be integer."
        if qtype in ("multiplechoice", "multiselect"):
            if "choices" not in item:
                return f"Survey question {idx} of type {qtype} must specify choices."
            defaults = item.get("default", "")
            defaults = defaults.splitlines() if isinstance(defaults, str) else defaults
            if qtype == "multiplechoice" and len(defaults) > 1:
                return "Multiple Choice (Single Select) can only have one default value."
            if any(choice not in item["choices"] for choice in defaults):
                return "Default choice must be answered from the choices listed."
    return None


def _rrule_errors(rrule: str) -> list[str]:
    """A subset of AWX's ScheduleSerializer.validate_rrule (awx/api/serializers.py)."""
    errors = []
    dtstarts = re.findall(r".*?(DTSTART(;[^:]+)?\:[0-9]+T[0-9]+Z?)", rrule)
    if not dtstarts:
        errors.append("Valid DTSTART required in rrule. Value should start with: DTSTART:YYYYMMDDTHHMMSSZ")
    if re.findall(r".*?(DTSTART:[0-9]+T[0-9]+) ", rrule):
        errors.append("DTSTART cannot be a naive datetime.  Specify ;TZINFO= or YYYYMMDDTHHMMSSZZ.")
    if len(dtstarts) > 1:
        errors.append("Multiple DTSTART is not supported.")
    if "rrule:" not in rrule.lower():
        errors.append("One or more rule required in rrule.")
    for rule in re.findall(r".*?(RULE\:[^\s]*)", rrule):
        if "interval" not in rule.lower():
            errors.append(f"INTERVAL required in rrule: {rule}")
        elif "secondly" in rule.lower():
            errors.append(f"SECONDLY is not supported: {rule}")
    return errors


def _template_names(template: str) -> set[str]:
    """The top-level variables a Jinja2 injector template reads ({{ x }}, {{ x | f }}, {% if x %}, tower.filename.y)."""
    return (set(re.findall(r"{{-?\s*(\w+)", template))
            | set(re.findall(r"{%-?\s*(?:el)?if\s+(?:not\s+)?(\w+)", template)))


class FakeController:
    """State of the fake AWX plus the HTTP server. `requests` logs (method, path, query) of every authorised call."""

    def __init__(self, token: str, playbooks: dict[str, list[str]] | None = None):
        self.accepted_token = token  # the only token this controller accepts
        self.playbooks = playbooks or {}  # scm_url -> the playbook paths a project update finds in that repository
        self.store: dict[str, dict[int, dict]] = {endpoint: {} for endpoint in TYPES}
        self.links: dict[tuple[str, int, str], list[int]] = {}
        self.surveys: dict[tuple[str, int], dict] = {}
        self.requests: list[tuple[str, str, str]] = []
        self.unauthorised: list[str] = []
        self.tokens_seen: set[str] = set()
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.seed()

    # ---------------------------------------------------------------- state
    def _next_id(self, endpoint: str) -> int:
        key = "unified_job_templates" if endpoint in UJT_ENDPOINTS else endpoint
        self._ids[key] = self._ids.get(key, 0) + 1
        return self._ids[key]

    def _insert(self, endpoint: str, fields: dict) -> dict:
        obj = {**copy.deepcopy(FIELDS.get(endpoint, {})), **fields, "id": self._next_id(endpoint)}
        self.store[endpoint][obj["id"]] = obj
        return obj

    def seed(self) -> None:
        """What apply.yml expects to exist already (it references these by name and never creates them)."""
        org = self._insert("organizations", {"name": "Default"})
        ssh = self._insert("credential_types", {"name": "Machine", "kind": "ssh", "managed": True})
        api = self._insert("credential_types", {"name": "YBA API (pre-existing)", "kind": "cloud", "managed": False})
        self._insert("inventories", {"name": "YBA fleet", "organization": org["id"]})
        self._insert("credentials", {"name": "YBA hosts SSH", "credential_type": ssh["id"], "organization": org["id"]})
        self._insert("credentials", {"name": "YBA API", "credential_type": api["id"], "organization": org["id"]})
        self._insert("execution_environments", {"name": "yba-remediation-ee", "image": "quay.io/example/yba-ee:1",
                                                "organization": None})

    def find(self, endpoint: str, **match) -> list[dict]:
        """Objects of an endpoint whose fields equal match (for the tests' assertions)."""
        return [self.render(endpoint, obj) for obj in self.store[endpoint].values()
                if all(obj.get(key) == value for key, value in match.items())]

    def one(self, endpoint: str, **match) -> dict:
        found = self.find(endpoint, **match)
        assert len(found) == 1, f"expected exactly one {endpoint} with {match}, found {len(found)}: {found}"
        return found[0]

    def linked(self, endpoint: str, obj_id: int, relation: str) -> list[int]:
        return list(self.links.get((endpoint, obj_id, relation), []))

    def survey(self, endpoint: str, obj_id: int) -> dict:
        return copy.deepcopy(self.surveys.get((endpoint, obj_id), {}))

    def counts(self) -> dict[str, int]:
        return {endpoint: len(objects) for endpoint, objects in self.store.items()}

    def _ujt(self, ujt_id) -> tuple[str, dict] | None:
        for endpoint in UJT_ENDPOINTS:
            if ujt_id in self.store[endpoint]:
                return endpoint, self.store[endpoint][ujt_id]
        return None

    def render(self, endpoint: str, obj: dict) -> dict:
        """The object as the API shows it: its fields plus type, url, related and summary_fields."""
        url = f"{API}{endpoint}/{obj['id']}/"
        data = {**copy.deepcopy(obj), "type": TYPES[endpoint], "url": url, "created": "2026-01-01T00:00:00Z",
                "modified": "2026-01-01T00:00:00Z"}
        related: dict[str, str] = {}
        summary: dict = {}
        if endpoint in ("job_templates", "workflow_job_templates"):
            related["survey_spec"] = url + "survey_spec/"
        if endpoint == "job_templates":
            related["credentials"] = url + "credentials/"
            summary["credentials"] = [{"id": i, "name": self.store["credentials"][i]["name"]}
                                      for i in self.linked(endpoint, obj["id"], "credentials")]
        if endpoint == "workflow_job_templates":
            related["workflow_nodes"] = url + "workflow_nodes/"
        if endpoint == "projects":
            related["update"] = url + "update/"
            if obj.get("_current_update"):
                summary["current_update"] = {"id": obj["_current_update"], "status": "pending"}
        if endpoint == "workflow_job_template_nodes":
            for edge in EDGES:
                related[edge] = url + edge + "/"
                data[edge] = self.linked(endpoint, obj["id"], edge)
            related["credentials"] = url + "credentials/"
            related["create_approval_template"] = url + "create_approval_template/"
            related["workflow_job_template"] = f"{API}workflow_job_templates/{obj['workflow_job_template']}/"
            found = self._ujt(obj.get("unified_job_template"))
            if found:
                related["unified_job_template"] = f"{API}{found[0]}/{obj['unified_job_template']}/"
                summary["unified_job_template"] = {"id": obj["unified_job_template"], "name": found[1]["name"],
                                                   "unified_job_type": TYPES[found[0]]}
        data["related"] = related
        data["summary_fields"] = summary
        return {key: value for key, value in data.items() if not key.startswith("_")}

    # ---------------------------------------------------------------- API
    def list(self, endpoint: str, query: dict[str, str]) -> dict:
        if endpoint == "unified_job_templates":
            objects = [(e, o) for e in UJT_ENDPOINTS for o in self.store[e].values()]
        elif endpoint in self.store:
            objects = [(endpoint, o) for o in self.store[endpoint].values()]
        else:
            raise ApiError(404, {"detail": "Not found."})
        filters = {k: v for k, v in query.items() if k not in ("page", "page_size", "order_by")}
        ors = {k[4:]: v for k, v in filters.items() if k.startswith("or__")}
        ands = {k: v for k, v in filters.items() if not k.startswith("or__")}

        def matches(rendered: dict) -> bool:
            # controller_api.py get_one: a name_or_id that is an int searches or__id=<n>&or__name=<n>
            if ors and not any(str(rendered.get(k)) == v for k, v in ors.items()):
                return False
            return all(str(rendered.get(k)) == v if rendered.get(k) is not None else v in ("", "None")
                       for k, v in ands.items())

        results = sorted((r for r in (self.render(e, o) for e, o in objects) if matches(r)), key=lambda r: r["id"])
        # AWX pages by 25 (page_size up to 200); controller_api.py get_all_endpoint follows "next"
        size = min(int(query.get("page_size", 25)), 200)
        page = int(query.get("page", 1))
        chunk = results[(page - 1) * size:page * size]
        following = None
        if page * size < len(results):
            following = f"{API}{endpoint}/?" + "&".join(
                f"{k}={v}" for k, v in {**query, "page": str(page + 1)}.items())
        return {"count": len(results), "next": following, "previous": None, "results": chunk}

    def _check_fields(self, endpoint: str, data: dict, existing: dict | None) -> dict:
        writable = FIELDS[endpoint]
        fields = {k: v for k, v in data.items() if k in writable}  # unknown and read-only fields are ignored
        merged = {**(existing or copy.deepcopy(writable)), **fields}
        errors: dict[str, list[str]] = {}
        for name in REQUIRED.get(endpoint, ()):
            if merged.get(name) in (None, ""):
                errors.setdefault(name, []).append("This field is required.")
        for name, value in fields.items():
            target = FOREIGN_KEYS.get(name)
            if target and value not in (None, ""):
                known = self._ujt(value) if target == "unified_job_templates" else value in self.store[target]
                if not known:
                    errors.setdefault(name, []).append(f'Invalid pk "{value}" - object does not exist.')
        if endpoint == "credential_types":
            self._check_credential_type(merged, errors)
        if endpoint == "job_templates":
            # JobOptionsSerializer.validate (awx/api/serializers.py): the playbook of an SCM project that does not
            # allow overriding the branch must be one its last project update found
            project = self.store["projects"].get(merged.get("project"))
            if project and not merged.get("playbook"):
                errors.setdefault("playbook", []).append("Must select playbook for project.")
            elif (project and project.get("scm_type") and not project.get("allow_override")
                  and merged["playbook"] not in project.get("_playbook_files", [])):
                errors.setdefault("playbook", []).append("Playbook not found for project.")
        if endpoint == "schedules" and merged.get("rrule") and _rrule_errors(merged["rrule"]):
            errors["rrule"] = _rrule_errors(merged["rrule"])
        unique = UNIQUE.get(endpoint)
        if unique and not errors:
            for other in self.store[endpoint].values():
                if other is not existing and all(other.get(k) == merged.get(k) for k in unique):
                    errors["__all__"] = [f"{TYPES[endpoint]} with this {' and '.join(unique)} already exists."]
        if errors:
            raise ApiError(400, errors)
        return fields

    @staticmethod
    def _check_credential_type(merged: dict, errors: dict) -> None:
        # CredentialTypeSerializer: a custom type's kind is cloud or net; its injector templates may only use its
        # inputs and tower.filename.<file template> (CredentialTypeInjectorField renders them against the inputs)
        if not merged.get("managed") and merged.get("kind") not in ("cloud", "net"):
            errors.setdefault("kind", []).append(f"Must be 'cloud' or 'net', not {merged.get('kind')}")
        inputs = {field.get("id") for field in (merged.get("inputs") or {}).get("fields", [])}
        injectors = merged.get("injectors") or {}
        files = {key.split(".", 1)[1] for key in injectors.get("file", {}) if key.startswith("template")}
        for section in ("file", "env", "extra_vars"):
            for key, template in (injectors.get(section) or {}).items():
                unknown = _template_names(str(template)) - inputs - {"tower"}
                if unknown:
                    errors.setdefault("injectors", []).append(f"{section}.{key} uses an undefined field ({unknown})")
                for name in re.findall(r"tower\.filename\.(\w+)", str(template)):
                    if name not in files:
                        errors.setdefault("injectors", []).append(f"{section}.{key} uses an undefined file ({name})")

    def create(self, endpoint: str, data: dict) -> dict:
        fields = self._check_fields(endpoint, data, None)
        obj = self._insert(endpoint, fields)
        if endpoint == "projects" and obj.get("scm_type"):
            self._update_project(obj)
        return self.render(endpoint, obj)

    def _update_project(self, project: dict) -> None:
        # A new SCM project starts a project update (its POST answer carries summary_fields.current_update, which
        # project.py's wait_for_project_update polls at /project_updates/<id>/); the update finds the playbooks.
        update = self._insert("project_updates", {
            "project": project["id"], "status": "successful", "failed": False, "finished": "2026-01-01T00:00:01Z",
            "scm_revision": "0" * 40})
        project["_current_update"] = update["id"]
        project["scm_revision"] = update["scm_revision"]
        project["_playbook_files"] = sorted(self.playbooks.get(project.get("scm_url"), []))

    def update(self, endpoint: str, obj_id: int, data: dict) -> dict:
        existing = self.store[endpoint][obj_id]
        existing.update(self._check_fields(endpoint, data, existing))
        return self.render(endpoint, existing)

    def associate(self, endpoint: str, obj_id: int, relation: str, data: dict) -> None:
        sub_id = int(data["id"])
        links = self.links.setdefault((endpoint, obj_id, relation), [])
        target = "credentials" if relation == "credentials" else endpoint
        if sub_id not in self.store[target]:
            raise ApiError(400, {"msg": f"Object with id {sub_id} not found."})
        if data.get("disassociate"):
            if sub_id in links:
                links.remove(sub_id)
            return
        if relation == "credentials" and endpoint == "job_templates":
            # JobTemplateCredentialsList.is_valid_relation (awx/api/views/__init__.py): one credential per type
            kind = self.store["credentials"][sub_id]["credential_type"]
            if any(self.store["credentials"][i]["credential_type"] == kind for i in links if i != sub_id):
                name = self.store["credential_types"][kind]["name"]
                raise ApiError(400, {"error": f"Cannot assign multiple {name} credentials."})
        if relation in EDGES:
            self._check_edge(obj_id, relation, sub_id)
        if sub_id not in links:
            links.append(sub_id)

    def _check_edge(self, parent: int, relation: str, child: int) -> None:
        # WorkflowJobTemplateNodeChildrenBaseList.is_valid_relation (awx/api/views/__init__.py): no self-link, a
        # parent -> child pair in one relationship only ("Relationship not allowed."), and no cycle.
        if parent == child:
            raise ApiError(400, {"Error": "Cycle detected."})
        nodes = self.store["workflow_job_template_nodes"]
        if nodes[parent]["workflow_job_template"] != nodes[child]["workflow_job_template"]:
            raise ApiError(400, {"Error": "Nodes of another workflow."})
        for other in EDGES:
            if other != relation and child in self.linked("workflow_job_template_nodes", parent, other):
                raise ApiError(400, {"Error": "Relationship not allowed."})
        seen, todo = set(), [child]
        while todo:
            node = todo.pop()
            if node == parent:
                raise ApiError(400, {"Error": "Cycle detected."})
            if node not in seen:
                seen.add(node)
                todo.extend(i for edge in EDGES for i in self.linked("workflow_job_template_nodes", node, edge))

    def create_approval_template(self, node_id: int, data: dict) -> dict:
        # WorkflowJobTemplateNodeCreateApproval: creates the approval template and sets it as the node's
        # unified_job_template; workflow_job_template_node.py then reads it back through related.unified_job_template
        fields = self._check_fields("workflow_approval_templates", data, None)
        approval = self._insert("workflow_approval_templates", fields)
        self.store["workflow_job_template_nodes"][node_id]["unified_job_template"] = approval["id"]
        return self.render("workflow_approval_templates", approval)

    def set_survey(self, endpoint: str, obj_id: int, spec: dict) -> None:
        error = _survey_errors(spec)
        if error:
            raise ApiError(400, {"error": error})
        self.surveys[(endpoint, obj_id)] = copy.deepcopy(spec)

    # ---------------------------------------------------------------- HTTP
    def dispatch(self, method: str, path: str, query: dict[str, str], body) -> tuple[int, dict | None]:
        if not path.startswith(API):
            raise ApiError(404, {"detail": "Not found."})
        parts = [p for p in path[len(API):].split("/") if p]
        if not parts:
            return 200, {endpoint: f"{API}{endpoint}/" for endpoint in TYPES}
        endpoint = parts[0]
        if len(parts) == 1:
            if method == "GET":
                return 200, self.list(endpoint, query)
            if method == "POST" and endpoint in CREATABLE:
                return 201, self.create(endpoint, body or {})
            raise ApiError(405, {"detail": f'Method "{method}" not allowed.'})
        if endpoint not in self.store or not parts[1].isdigit() or int(parts[1]) not in self.store[endpoint]:
            raise ApiError(404, {"detail": "Not found."})
        obj_id = int(parts[1])
        if len(parts) == 2:
            if method == "GET":
                return 200, self.render(endpoint, self.store[endpoint][obj_id])
            if method == "PATCH" and endpoint in CREATABLE + ("workflow_approval_templates",):
                return 200, self.update(endpoint, obj_id, body or {})
            raise ApiError(405, {"detail": f'Method "{method}" not allowed.'})
        sub = parts[2]
        if sub == "survey_spec" and endpoint in ("job_templates", "workflow_job_templates"):
            if method == "GET":
                return 200, self.survey(endpoint, obj_id)
            if method == "POST":
                self.set_survey(endpoint, obj_id, body)
                return 200, None  # JobTemplateSurveySpec.post answers an empty 200
        if sub == "create_approval_template" and endpoint == "workflow_job_template_nodes" and method == "POST":
            return 201, self.create_approval_template(obj_id, body or {})
        relations = {"job_templates": ("credentials",), "workflow_job_template_nodes": EDGES + ("credentials",)}
        if sub in relations.get(endpoint, ()):
            target = "credentials" if sub == "credentials" else endpoint
            if method == "GET":
                ids = self.linked(endpoint, obj_id, sub)
                results = [self.render(target, self.store[target][i]) for i in ids]
                return 200, {"count": len(results), "next": None, "previous": None, "results": results}
            if method == "POST":
                # SubListCreateAttachDetachAPIView: {"id": n} attaches, {"id": n, "disassociate": true} detaches: 204
                self.associate(endpoint, obj_id, sub, body or {})
                return 204, None
        raise ApiError(404, {"detail": "Not found."})

    def start(self) -> "FakeController":
        controller = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body) -> None:
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                # controller_api.py make_request compares these with the collection version (warns on a mismatch)
                self.send_header("X-API-Product-Name", "AWX")
                self.send_header("X-API-Product-Version", PRODUCT_VERSION)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _handle(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                auth = self.headers.get("Authorization", "")
                # controller_api.py sends "Authorization: Bearer <controller_oauthtoken>" on every request
                token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
                with controller._lock:
                    controller.tokens_seen.add(token)
                    if token != controller.accepted_token:
                        controller.unauthorised.append(f"{self.command} {split.path}")
                        self._answer(401, {"detail": "Authentication credentials were not provided."})
                        return
                    controller.requests.append((self.command, split.path, split.query))
                    try:
                        body = json.loads(raw) if raw else None
                        status, answer = controller.dispatch(self.command, split.path, dict(parse_qsl(split.query)),
                                                             body)
                    except ApiError as error:
                        status, answer = error.status, error.body
                    except (ValueError, KeyError, TypeError) as error:
                        status, answer = 400, {"detail": f"{type(error).__name__}: {error}"}
                self._answer(status, answer)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-awx", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
