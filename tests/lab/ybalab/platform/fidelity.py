"""Check HTTP exchanges against YBA's published API description (swagger 2.0, shared/yba/swagger.json).

``validate_exchange(method, path, request_body, status, response_body) -> list[str]`` returns the
problems found (empty list = the exchange agrees with swagger). It is used by the fidelity test on the
simulator and can validate the requests the collection's API client sent (``YBA_LAB_RECORD`` files, see
``validate_record_file``).

Conversion rules (swagger 2.0 schema -> JSON Schema draft 4, $refs resolved against ``definitions``):
formats ``uuid``, ``date-time``, ``int32``, ``int64`` are checked; ``readOnly`` properties are never
required in requests; and the request-side ``required`` entries in ``SERVER_SET_REQUEST_FIELDS`` are
dropped, because YBA's swagger marks fields the server fills in (creatingUser, platformUrl, ...) or Java
collections that default to empty as required, while YBA itself accepts requests without them.
In responses, the definitions in ``CLOSED_DEFINITIONS`` are closed (``additionalProperties: false``): YBA's
source fixes their whole field list, so a property swagger does not declare there is a finding too.

Where YBA's source and swagger disagree, the source wins: ``DEVIATIONS`` is the one reviewed list of such
disagreements, each naming the YBA source file that decides it. ``check_exchange`` returns the problems no entry
explains and the entries it used; a test that drives every route then requires both "no unexplained problem" and
"every entry used" (an entry no exchange needs is stale and fails too).

The swagger file is found via ``$YBA_SWAGGER``, else at ``shared/yba/swagger.json`` beside the checkout
(where CI and every developer machine have it); it is not copied into the repository (its license is
YugabyteDB's). A missing file is an error, never a skipped check.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import re
from typing import Any, Iterable

_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
DEFAULT_SWAGGER = os.path.join(os.path.dirname(_REPO), "shared", "yba", "swagger.json")

# Request-side "required" entries YBA does not actually require from clients (filled by the server or
# defaulted by Jackson/Java); each is documented by the YBA source (forms/*.java, models/filters/*.java).
SERVER_SET_REQUEST_FIELDS: dict[str, set[str]] = {
    "BackupRequestParams": {"backupUUID", "creatingUser", "platformUrl", "platformVersion",
                            "sleepAfterMasterRestartMillis", "sleepAfterTServerRestartMillis"},
    "BackupTableParams": {"creatingUser", "platformUrl", "platformVersion", "sleepAfterMasterRestartMillis",
                          "sleepAfterTServerRestartMillis", "timeTakenPartial"},
    "CustomerConfig": {"customerUUID"},
    "BackupApiFilter": {"keyspaceList", "onlyShowDeletedConfigs", "onlyShowDeletedUniverses", "scheduleUUIDList",
                        "states", "storageConfigUUIDList", "universeNameList", "universeUUIDList"},
    "ScheduleApiFilter": {"status", "taskTypes", "universeUUIDList"},
    # forms/RestoreBackupParams.java: only universeUUID is @Constraints.Required; models/filters/RestoreApiFilter
    "RestoreBackupParams": {"creatingUser", "currentIdx", "currentYbcTaskId", "nodeIp", "platformUrl",
                            "platformVersion", "prefixUUID", "sleepAfterMasterRestartMillis",
                            "sleepAfterTServerRestartMillis"},
    "RestoreApiFilter": {"onlyShowDeletedSourceUniverses", "sourceUniverseNameList", "states",
                         "storageConfigUUIDList", "universeNameList", "universeUUIDList"},
}

# Response definitions whose complete property list YBA's source fixes (forms/PlatformResults.java: YBPError,
# YBPSuccess, YBPTask; models/Schedule.java; controllers/CustomerTaskController.java: FailedSubtasks/SubtaskData).
CLOSED_DEFINITIONS = frozenset(("YBPError", "YBPSuccess", "YBPTask", "Schedule", "SchedulePagedResponse",
                                "FailedSubtasks", "SubtaskData"))


@dataclasses.dataclass(frozen=True)
class Deviation:
    """One reviewed disagreement between swagger.json and YBA's source, where the simulator follows the source.

    ``method`` (``*`` = any) and ``templates`` (swagger path templates, empty = any) select the operations,
    ``status`` the answer class ("2xx" or "4xx"), ``match`` a regex over the problem text; ``source`` is the YBA file (under managed/src/main/java/
    com/yugabyte/yw/) that decides it."""

    id: str
    method: str
    templates: tuple[str, ...]
    status: str
    match: str
    source: str
    why: str

    def covers(self, method: str, template: str, status: int, problem: str) -> bool:
        return ((self.method == "*" or self.method == method.upper())
                and (not self.templates or template in self.templates)
                and f"{status // 100}xx" == self.status and re.search(self.match, problem) is not None)


C = "/api/v1/customers/{cUUID}"
DEVIATIONS: tuple[Deviation, ...] = (
    Deviation("schedule-page-schedule-resp", "POST", (C + "/schedules/page",), "2xx",
              r"^response: entities/\d+: Additional properties are not allowed \(",
              "models/ScheduleResp.java",
              "pageScheduleList answers PagedResponse<ScheduleResp> (Schedule.toScheduleResp: backupInfo, "
              "nextExpectedTask, prevCompletedTask, incrementalBackupFrequency), not the Schedule swagger names "
              "(controllers/ScheduleController.java, models/paging/SchedulePagedApiResponse.java)"),
    Deviation("schedule-entity-task-params", "*", (C + "/schedules", C + "/schedules/{sUUID}"), "2xx",
              r"Additional properties are not allowed \('taskParams' was unexpected\)$",
              "models/Schedule.java",
              "the Schedule entity serialises taskParams (a public getter, no @JsonIgnore) although swagger omits "
              "it; minNumBackupsToRetain is read from there"),
    Deviation("structured-field-error", "*", (), "4xx",
              r"^error response: error: \{.*\} is not of type 'string'$",
              "forms/PlatformResults.java",
              "bean-validation errors are YBPStructuredError{success, error: {field: [msgs]}}: error is an object "
              "(common/PlatformServiceException.java)"),
    Deviation("backup-create-null-resource", "POST", (C + "/backups",), "2xx",
              r"^response: resourceUUID: None is not of type 'string'$",
              "controllers/BackupsController.java",
              "createBackupYb answers new YBPTask(taskUUID): resourceUUID is null"),
    Deviation("config-delete-ybpsuccess", "DELETE", (C + "/configs/{configUUID}",), "2xx",
              r"^response: \(root\): Additional properties are not allowed \(",
              "controllers/CustomerConfigController.java",
              "delete without isDeleteBackups removes the config at once and answers YBPSuccess, not YBPTask"),
)

# Operations newer than the swagger snapshot (~2.21) that the simulator serves from a later version on
# (api.NEWER_THAN_SWAGGER): their swagger 2.0 description written from YBA's source, so exchanges with them are
# validated too instead of being "no such operation".
NEWER_OPERATIONS: dict[str, dict[str, Any]] = {
    C + "/universes/{uniUUID}/schedules/{sUUID}/pause_resume": {"put": {
        "operationId": "toggleBackupSchedule",
        "x-yba-source": "controllers/ScheduleController.java (toggleSchedule, sinceYBAVersion 2.23.0.0), "
                        "forms/backuprestore/BackupScheduleToggleParams.java",
        "parameters": [{"in": "body", "name": "BackupScheduleToggleParams", "required": True, "schema": {
            "type": "object", "required": ["status"], "additionalProperties": False,
            "properties": {"status": {"type": "string", "enum": ["Active", "Stopped"]},
                           "runImmediateBackupOnResume": {"type": "boolean"}}}}],
        "responses": {"200": {"description": "successful operation",
                              "schema": {"$ref": "#/definitions/YBPSuccess"}}}}},
}

# Operations YBA serves but leaves out of its published swagger (@YbaApi(visibility = INTERNAL) is filtered from
# it): described from YBA's source, so exchanges with them are validated too.
INTERNAL_OPERATIONS: dict[str, dict[str, Any]] = {
    C + "/universes/{uniUUID}/tables": {"get": {
        "operationId": "getAllTables",
        "x-yba-source": "controllers/TablesController.java (listTables, YbaApi INTERNAL since 2.8.0.0), "
                        "forms/TableInfoForm.java (TableInfoResp)",
        "parameters": [],
        "responses": {"200": {"description": "successful operation", "schema": {
            "type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["tableUUID", "keySpace", "tableType", "tableName", "relationType", "sizeBytes"],
                "properties": {
                    "tableUUID": {"type": "string", "format": "uuid"}, "tableID": {"type": "string"},
                    "keySpace": {"type": "string"}, "tableName": {"type": "string"},
                    "tableType": {"type": "string", "enum": [
                        "YQL_TABLE_TYPE", "REDIS_TABLE_TYPE", "PGSQL_TABLE_TYPE", "TRANSACTION_STATUS_TABLE_TYPE"]},
                    "relationType": {"type": "string", "enum": [
                        "SYSTEM_TABLE_RELATION", "USER_TABLE_RELATION", "INDEX_TABLE_RELATION",
                        "MATVIEW_TABLE_RELATION", "COLOCATED_PARENT_TABLE_RELATION"]},
                    "sizeBytes": {"type": "number"}, "walSizeBytes": {"type": "number"},
                    "isIndexTable": {"type": "boolean"}, "nameSpace": {"type": "string"},
                    "tableSpace": {"type": "string"}, "pgSchemaName": {"type": "string"},
                    "colocated": {"type": "boolean"}, "colocationParentId": {"type": "string"},
                    "parentTableUUID": {"type": "string", "format": "uuid"},
                    "mainTableUUID": {"type": "string", "format": "uuid"}}}}}}}},
}

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")


def swagger_path() -> str:
    path = os.environ.get("YBA_SWAGGER", DEFAULT_SWAGGER)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"YBA's swagger.json not found at {path}: set YBA_SWAGGER to its path")
    return path


@functools.lru_cache(maxsize=4)
def load_swagger(path: str | None = None) -> dict[str, Any]:
    with open(path or swagger_path(), encoding="utf-8") as fh:
        return json.load(fh)


def _convert(node: Any, mode: str, def_name: str | None = None) -> Any:
    """Swagger schema object -> JSON Schema draft 4 (recursively); mode is "request" or "response"."""
    if isinstance(node, list):
        return [_convert(n, mode) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("example", "readOnly", "xml", "externalDocs", "discriminator", "x-nullable", "title",
                   "description"):
            continue
        if key == "$ref":
            out["$ref"] = value.replace("#/definitions/", f"#/definitions/{mode}/")
        elif key == "properties":
            out["properties"] = {k: _convert(v, mode) for k, v in value.items()}
        else:
            out[key] = _convert(value, mode)
    if mode == "response" and def_name in CLOSED_DEFINITIONS and "properties" in out:
        out["additionalProperties"] = False
    if "required" in out and mode == "request":
        props = node.get("properties", {})
        drop = SERVER_SET_REQUEST_FIELDS.get(def_name or "", set())
        out["required"] = [r for r in out["required"]
                           if r not in drop and not props.get(r, {}).get("readOnly")]
        if not out["required"]:
            del out["required"]
    return out


@functools.lru_cache(maxsize=4)
def _root(path: str | None = None) -> dict[str, Any]:
    sw = load_swagger(path)
    defs = sw.get("definitions", {})
    return {"definitions": {mode: {name: _convert(d, mode, name) for name, d in defs.items()}
                            for mode in ("request", "response")}}


def _format_checker() -> Any:
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    checker.checks("uuid")(lambda v: not isinstance(v, str) or bool(_UUID.match(v)))
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(_DATE_TIME.match(v)))
    checker.checks("int32")(lambda v: not isinstance(v, int) or -(2 ** 31) <= v < 2 ** 31)
    checker.checks("int64")(lambda v: not isinstance(v, int) or -(2 ** 63) <= v < 2 ** 63)
    return checker


def _validate(schema: dict[str, Any], value: Any, mode: str, where: str, path: str | None) -> list[str]:
    import jsonschema

    root = copy.copy(_root(path))
    doc = dict(root)
    doc.update(_convert(schema, mode))
    validator = jsonschema.Draft4Validator(doc, format_checker=_format_checker())
    problems = []
    for err in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        loc = "/".join(str(p) for p in err.absolute_path) or "(root)"
        problems.append(f"{where}: {loc}: {err.message[:300]}")
    return problems


def operation_paths(path: str | None = None) -> dict[str, Any]:
    """swagger's paths plus NEWER_OPERATIONS (which swagger must not have yet) and INTERNAL_OPERATIONS."""
    return {**load_swagger(path)["paths"], **NEWER_OPERATIONS, **INTERNAL_OPERATIONS}


@functools.lru_cache(maxsize=4)
def _operations(path: str | None = None) -> list[tuple[re.Pattern[str], str, str]]:
    ops = []
    for template in operation_paths(path):
        regex = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "/?$"
        ops.append((re.compile(regex), template, template.count("{")))
    # Literal segments win over parameters (/backups/page before /backups/{backupUUID}).
    ops.sort(key=lambda o: o[2])
    return [(r, t, str(n)) for r, t, n in ops]


def find_operation(method: str, path: str, swagger: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """(path template, operation) of swagger (or NEWER_OPERATIONS) matching method + concrete path, or None."""
    paths = operation_paths(swagger)
    path = path.split("?", 1)[0]
    for regex, template, _n in _operations(swagger):
        if regex.match(path):
            op = paths[template].get(method.lower())
            if op is not None:
                return template, op
    return None


def validate_exchange(method: str, path: str, request_body: Any, status: int, response_body: Any,
                      swagger: str | None = None) -> list[str]:
    """Problems with one exchange against swagger (empty list when it agrees)."""
    found = find_operation(method, path, swagger)
    if found is None:
        return [f"{method.upper()} {path}: no such operation in swagger"]
    template, op = found
    problems: list[str] = []
    body_params = [p for p in op.get("parameters", []) if p.get("in") == "body"]
    if body_params:
        param = body_params[0]
        if request_body is None:
            if param.get("required"):
                problems.append(f"request: body {param.get('name')} is required by {method.upper()} {template}")
        else:
            problems += _validate(param["schema"], request_body, "request", "request", swagger)
    elif request_body not in (None, "", {}):
        problems.append(f"request: {method.upper()} {template} takes no body")
    responses = op.get("responses", {})
    if 200 <= status < 300:
        resp = responses.get(str(status)) or responses.get("200") or responses.get("default")
        if resp is None:
            problems.append(f"response: status {status} not described for {method.upper()} {template}")
        elif "schema" in resp:
            schema = resp["schema"]
            if schema.get("type") == "string" and isinstance(response_body, str):
                pass
            else:
                problems += _validate(schema, response_body, "response", "response", swagger)
    elif status >= 400:
        problems += _validate({"$ref": "#/definitions/YBPError"}, response_body, "response", "error response",
                              swagger)
    return problems


def check_exchange(method: str, path: str, request_body: Any, status: int, response_body: Any,
                   swagger: str | None = None,
                   deviations: Iterable[Deviation] = DEVIATIONS) -> tuple[list[str], set[str]]:
    """(problems no deviation explains, ids of the deviations that explained one) for one exchange."""
    problems = validate_exchange(method, path, request_body, status, response_body, swagger)
    found = find_operation(method, path, swagger)
    template = found[0] if found else ""
    left, used = [], set()
    for p in problems:
        hit = next((d for d in deviations if d.covers(method, template, status, p)), None)
        if hit is None:
            left.append(p)
        else:
            used.add(hit.id)
    return left, used


def validate_record_file(record: str, swagger: str | None = None, used: set[str] | None = None) -> list[str]:
    """Validate every exchange of a YBA_LAB_RECORD JSON-lines file; problems (those DEVIATIONS do not explain)
    prefixed with the request line. ``used`` collects the ids of the deviations that explained a problem."""
    problems = []
    with open(record, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            ex = json.loads(line)
            left, hit = check_exchange(ex["method"], ex["path"].split("?", 1)[0], ex.get("request"), ex["status"],
                                       ex.get("response"), swagger)
            if used is not None:
                used |= hit
            for p in left:
                problems.append(f"line {n} {ex['method']} {ex['path']} -> {ex['status']}: {p}")
    return problems
