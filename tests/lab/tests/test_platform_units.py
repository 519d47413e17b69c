"""Pure parts of the platform simulator: crypto, unit/drop-in parsing, heap flags, conf, masking, fidelity rules."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from ybalab.platform import api, crypto, fidelity, server, services, storage_check  # noqa: E402


def test_crypto_round_trip_and_opaque(tmp_path):
    state = {"dir": str(tmp_path)}
    data = {"AWS_SECRET_ACCESS_KEY": "verysecretvalue", "BACKUP_LOCATION": "s3://b/p"}
    text = crypto.encrypt(state, data)
    assert text.startswith("ybenc:v1:")
    assert "verysecret" not in text and "s3://" not in text
    assert crypto.decrypt(state, text) == data
    assert crypto.encrypt(state, data) != text  # random nonce
    assert oct(os.stat(crypto.secret_path(state)).st_mode & 0o777) == "0o600"


def test_crypto_rejects_tampering_and_foreign_labs(tmp_path):
    a, b = {"dir": str(tmp_path / "a")}, {"dir": str(tmp_path / "b")}
    text = crypto.encrypt(a, {"k": "v"})
    raw = bytearray(text.encode())
    raw[20] = ord("A") if raw[20] != ord("A") else ord("B")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(a, raw.decode())
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(b, text)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(a, '{"k": "v"}')


def test_unit_parsing_merges_dropins(tmp_path):
    root = tmp_path / "host"
    unit_dir = root / "etc/systemd/system"
    (unit_dir / "yb-platform.service.d").mkdir(parents=True)
    (unit_dir / "yb-platform.service").write_text(
        "[Unit]\nDescription=x\n[Service]\nEnvironment=\"A=1\" \"B=two words\"\n"
        "ExecStart=/opt/x/yugaware \\\n  -Dhttps.port=443\nRestart=always\n")
    (unit_dir / "yb-platform.service.d/10-heap.conf").write_text('[Service]\nEnvironment="JAVA_OPTS=-Xmx2g"\n')
    (unit_dir / "yb-platform.service.d/20-heap.conf").write_text('[Service]\nEnvironment="JAVA_OPTS=-Xmx4g"\n')
    spec = services.load_unit({"host": {"root": str(root)}}, "yb-platform")
    assert spec["ExecStart"].split() == ["/opt/x/yugaware", "-Dhttps.port=443"]
    assert spec["Environment"] == {"A": "1", "B": "two words", "JAVA_OPTS": "-Xmx4g"}
    assert spec["other"]["Restart"] == "always"


def test_host_argv_maps_paths_under_host_root(tmp_path):
    root = tmp_path / "host"
    (root / "opt/conf").mkdir(parents=True)
    state = {"host": {"root": str(root)}}
    argv = services.host_argv(state, ["/opt/bin/yugaware", "-Dconfig.file=/opt/conf/a.conf", "-Dhttp.port=disabled"])
    assert argv == [f"{root}/opt/bin/yugaware", f"-Dconfig.file={root}/opt/conf/a.conf", "-Dhttp.port=disabled"]


@pytest.mark.parametrize("opts,expected", [
    ("", 1 << 30), ("-Xmx4g", 4 << 30), ("-Xms1g -Xmx2048m", 2 << 30), ("-J-Xmx3G", 3 << 30),
    ("-Xmx1g -Xmx6g", 6 << 30), ("-XX:MaxRAMPercentage=50", 1 << 30),
])
def test_heap_max_from_java_opts(opts, expected):
    assert server.parse_heap_max(opts) == expected


def test_parse_conf_flat_hocon():
    conf = server.parse_conf('include classpath("x")\n# c\ndb.default.port = 5432\nyb.storage.path = "/opt/y"\n')
    assert conf == {"db.default.port": "5432", "yb.storage.path": "/opt/y"}


def test_masking_and_unmasking():
    data = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE12", "AWS_SECRET_ACCESS_KEY": "s3cr3tvalue!", "BACKUP_LOCATION": "s3://b",
            "IAM_INSTANCE_PROFILE": "false"}
    masked = api.mask_data(data)
    assert masked["AWS_SECRET_ACCESS_KEY"] == "s3********e!" and masked["BACKUP_LOCATION"] == "s3://b"
    assert masked["IAM_INSTANCE_PROFILE"] == "false"
    edited = dict(masked, BACKUP_LOCATION="s3://c")
    assert api.unmask_data(edited, data) == dict(data, BACKUP_LOCATION="s3://c")
    # CommonUtils: short values and PASSWORD fields fully, nested objects and non-strings as YBA does
    assert api.mask_data({"API_KEY": "abcd", "PROXY_PASSWORD": "longpassword", "IAM_CONFIGURATION": {"KEY": "v"},
                          "SAS_TOKEN": "tokenvalue", "POLICY_JSON": {"a": 1}}) == {
        "API_KEY": "********", "PROXY_PASSWORD": "********", "IAM_CONFIGURATION": {"KEY": "v"},
        "SAS_TOKEN": "tokenvalue", "POLICY_JSON": "********"}
    # a new secret is kept even if its mask matches the stored one's; a value that is its own mask is not
    assert api.unmask_data({"AWS_SECRET_ACCESS_KEY": "s3XXXXXXXXe!"}, data)["AWS_SECRET_ACCESS_KEY"] == "s3XXXXXXXXe!"
    assert api.unmask_data({"PROXY_PASSWORD": "********"}, {"PROXY_PASSWORD": "pw"}) == {"PROXY_PASSWORD": "pw"}


swagger = pytest.mark.skipif(not os.path.exists(fidelity.swagger_path()), reason="swagger.json not available")


@swagger
def test_fidelity_flags_wrong_bodies():
    ok = fidelity.validate_exchange("GET", "/api/v1/app_version", None, 200, {"version": "2.18.1.0-b84"})
    assert ok == []
    bad = fidelity.validate_exchange("POST", "/api/v1/customers/0b1f3c1e-6f0a-4a57-9a8e-4e2b5ad8b7a1/backups/page",
                                     {"filter": {"states": ["In Progress"]}, "sortBy": "createTime", "direction": "DESC",
                                      "offset": 0, "limit": 10, "needTotalCount": True},
                                     200, {"entities": [], "hasNext": False})
    assert any("'In Progress' is not one of" in p for p in bad), bad
    assert any("'hasPrev' is a required property" in p for p in bad), bad
    assert fidelity.validate_exchange("GET", "/api/v1/nope", None, 200, {}) == ["GET /api/v1/nope: no such operation in swagger"]
    err = fidelity.validate_exchange("GET", "/api/v1/customers", None, 401, {"success": False, "error": 5})
    assert err and "error response: error" in err[0]


@swagger
def test_fidelity_request_rules_accept_what_yba_accepts():
    body = {"storageConfigUUID": "0b1f3c1e-6f0a-4a57-9a8e-4e2b5ad8b7a1", "universeUUID": "0b1f3c1e-6f0a-4a57-9a8e-4e2b5ad8b7a2",
            "backupType": "PGSQL_TABLE_TYPE", "timeBeforeDelete": 86400000, "expiryTimeUnit": "DAYS"}
    assert fidelity.validate_exchange("POST", "/api/v1/customers/0b1f3c1e-6f0a-4a57-9a8e-4e2b5ad8b7a1/backups", body,
                                      200, {"taskUUID": "0b1f3c1e-6f0a-4a57-9a8e-4e2b5ad8b7a3",
                                            "resourceUUID": "0b1f3c1e-6f0a-4a57-9a8e-4e2b5ad8b7a2"}) == []
    wrong = dict(body, backupType="SQL", timeBeforeDelete="7d")
    probs = fidelity.validate_exchange("POST", "/api/v1/customers/0b1f3c1e-6f0a-4a57-9a8e-4e2b5ad8b7a1/backups", wrong,
                                       200, {})
    assert len([p for p in probs if p.startswith("request")]) == 2, probs


@swagger
def test_every_served_route_exists_in_swagger():
    """Every route is a swagger operation, except the few newer than the snapshot (api.NEWER_THAN_SWAGGER), which
    swagger must not have (else the entry is stale) and fidelity describes from YBA's source."""
    swagger_paths = fidelity.load_swagger()["paths"]
    for template in api.NEWER_THAN_SWAGGER:
        assert template not in swagger_paths and template in fidelity.NEWER_OPERATIONS, template
    paths = fidelity.operation_paths()
    for method, template, _name, _auth in api.ROUTES:
        assert template in paths, template
        assert method.lower() in paths[template], f"{method} {template}"
        found = fidelity.find_operation(method, template.replace("{", "").replace("}", ""))
        assert found and found[0] == template, (method, template, found)


CU = "0b1f3c1e-6f0a-4a57-9a8e-4e2b5ad8b7a1"


@swagger
def test_deviations_explain_only_their_own_problems():
    # A ScheduleResp entity on schedules/page: the closed Schedule definition flags its extra properties, and the
    # reviewed deviation (models/ScheduleResp.java) explains exactly those.
    resp = {"entities": [{"scheduleUUID": CU, "status": "Active", "backupInfo": {"universeUUID": CU},
                          "nextExpectedTask": 1796190254257}], "hasNext": False, "hasPrev": False, "totalCount": 1}
    path = f"/api/v1/customers/{CU}/schedules/page"
    query = {"filter": {}, "sortBy": "scheduleName", "direction": "ASC", "offset": 0, "limit": 5,
             "needTotalCount": True}
    raw = fidelity.validate_exchange("POST", path, query, 200, resp)
    assert raw and all("Additional properties are not allowed" in p for p in raw)
    assert fidelity.check_exchange("POST", path, query, 200, resp) == ([], {"schedule-page-schedule-resp"})
    # The same extra property elsewhere (a Schedule entity from GET schedules/{s}) is not explained.
    left, used = fidelity.check_exchange("GET", f"/api/v1/customers/{CU}/schedules/{CU}", None, 200,
                                         {"scheduleUUID": CU, "backupInfo": {}})
    assert left and used == set()
    # YBPStructuredError on any 4xx; a non-string plain error is still a finding.
    structured = {"success": False, "error": {"data.BACKUP_LOCATION": ["Read timed out"]}}
    assert fidelity.check_exchange("POST", f"/api/v1/customers/{CU}/configs", {}, 400, structured)[1] == {
        "structured-field-error"}
    assert fidelity.check_exchange("GET", "/api/v1/customers", None, 401, {"success": False, "error": 5})[0]
    # A 2xx YBPSuccess where swagger says YBPTask is explained only for DELETE configs/{id}.
    ok = {"success": True, "message": "Config x deleted"}
    assert fidelity.check_exchange("DELETE", f"/api/v1/customers/{CU}/configs/{CU}", None, 200, ok)[0] == []
    assert fidelity.check_exchange("POST", f"/api/v1/customers/{CU}/backups", {"universeUUID": CU}, 200, ok)[0]


def test_every_deviation_names_a_yba_source_file():
    ids = [d.id for d in fidelity.DEVIATIONS]
    assert len(ids) == len(set(ids))
    for d in fidelity.DEVIATIONS:
        assert d.source.endswith(".java") and d.source.split("/")[0] in ("controllers", "models", "forms", "common")
        assert d.status in ("2xx", "4xx") and d.why


def test_api_error_bodies_as_platform_results():
    plain = api.ApiError(409, "Cannot edit schedule as it is running.").body("PUT", "/api/v1/x")
    assert plain == {"success": False, "httpMethod": "PUT", "requestUri": "/api/v1/x",
                     "error": "Cannot edit schedule as it is running."}
    structured = api.ApiError(400, {"configName": ["This field is required"]}, {"ignored": 1}).body("POST", "/p")
    assert structured == {"success": False, "error": {"configName": ["This field is required"]}}


def test_storage_timeouts_from_lab_json():
    assert storage_check.timeouts({}) == {"connect": 2.0, "read": 3.0, "attempts": 2}
    state = {"platform": {"s3_timeouts": {"connect": 10, "read": 50, "attempts": 4}}}
    assert storage_check.timeouts(state) == {"connect": 10.0, "read": 50.0, "attempts": 4}
    assert storage_check.timeouts({"platform": {"s3_timeouts": {"attempts": 0}}})["attempts"] == 1


@pytest.mark.parametrize("data,field,message", [
    ({}, "data.BACKUP_LOCATION", "may not be null"),
    ({"BACKUP_LOCATION": "gs://b/p"}, "data.BACKUP_LOCATION", "Invalid field value 'gs://b/p'."),
    ({"BACKUP_LOCATION": "s3://b/p", "AWS_HOST_BASE": "ftp://h"}, "data.AWS_HOST_BASE", "Invalid field value 'ftp://h'."),
    ({"BACKUP_LOCATION": "s3://b/p"}, "data.BACKUP_LOCATION", "Aws credentials are null and IAM profile is not used."),
])
def test_storage_field_checks(data, field, message):
    with pytest.raises(storage_check.StorageInvalid) as ei:
        storage_check.check_fields(data)
    assert ei.value.errors == {field: [message]}
    storage_check.check_fields({"BACKUP_LOCATION": "s3://b/p", "IAM_INSTANCE_PROFILE": "true"})


def test_storage_validation_of_a_refusing_endpoint_is_quick():
    import socket
    import time

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    data = {"BACKUP_LOCATION": "s3://b/p", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
            "AWS_HOST_BASE": f"http://127.0.0.1:{port}"}
    t0 = time.monotonic()
    with pytest.raises(storage_check.StorageInvalid) as ei:
        storage_check.validate_s3({"platform": {"s3_timeouts": {"attempts": 1}}}, data)
    assert time.monotonic() - t0 < 3
    assert ei.value.field == "data.BACKUP_LOCATION" and "Connection refused" in ei.value.message


def test_newer_routes_follow_the_version():
    assert not api.version_at_least("2.18.1.0-b84", (2024, 2))
    assert not api.version_at_least("2024.1.3.0-b1", (2024, 2))
    assert not api.version_at_least("2.21.0.0-b545", (2024, 2))
    assert api.version_at_least("2024.2.0.0-b145", (2024, 2))
    assert api.version_at_least("2.23.1.0-b1", (2024, 2))
    assert api.version_at_least("2025.1.0.0-b1", (2024, 2))


def test_backup_category_as_backup_helper_decides():
    from ybalab.platform import tasks

    ybc = {"ybcInstalled": True}
    assert tasks.backup_category(None, "PGSQL_TABLE_TYPE", ybc) == "YB_CONTROLLER"
    assert tasks.backup_category(None, "YQL_TABLE_TYPE", ybc) == "YB_CONTROLLER"
    assert tasks.backup_category(None, "REDIS_TABLE_TYPE", ybc) == "YB_BACKUP_SCRIPT"
    assert tasks.backup_category("YB_BACKUP_SCRIPT", "PGSQL_TABLE_TYPE", ybc) == "YB_BACKUP_SCRIPT"
    assert tasks.backup_category("YB_CONTROLLER", "PGSQL_TABLE_TYPE", {}) == "YB_BACKUP_SCRIPT"


def test_storage_location_v2_layout():
    from ybalab.platform import tasks

    u, b, p = "4bb2ddde-3412-5d2f-b8d5-e2e5ca4645cf", "0f0e0d0c-0b0a-4009-8807-060504030201", \
        "11111111-2222-4333-8444-555555555555"
    assert tasks.storage_location("s3://bkt/yba", u, b, "2026-12-01T10:00:00", "yugabyte", p, True) == (
        f"s3://bkt/yba/univ-{u}/ybc_backup-0f0e0d0c0b0a40098807060504030201/full/2026-12-01T10:00:00/"
        "keyspace-yugabyte_11111111222243338444555555555555")
    assert tasks.storage_location("s3://bkt/yba/", u, b, "T", "app", p, False, tables=True) == (
        f"s3://bkt/yba/univ-{u}/backup-0f0e0d0c0b0a40098807060504030201/full/T/"
        "multi-table-app_11111111222243338444555555555555")


def test_backup_knobs_from_lab_json_then_knobs_file(tmp_path):
    import json as _json

    from ybalab.platform import tasks

    state = {"dir": str(tmp_path), "platform": {"backup_seconds": 2, "backup_stage_bytes": 1 << 20}}
    knobs = tasks.backup_knobs(state)
    assert knobs == {"backup_seconds": 2.0, "backup_bytes_per_second": float(16 << 20),
                     "backup_stage_bytes": 1 << 20}
    assert tasks.backup_duration(knobs, 8 << 20) == 2.5
    (tmp_path / "knobs.json").write_text(_json.dumps({"backup_seconds": 8, "backup_bytes_per_second": 0,
                                                      "backup_stage_bytes": -1}))
    knobs = tasks.backup_knobs(state)
    assert knobs["backup_seconds"] == 8 and knobs["backup_bytes_per_second"] == 0
    assert knobs["backup_stage_bytes"] == 1 << 20  # a negative value is ignored
    assert tasks.backup_duration(knobs, 8 << 20) == 8.0


def test_deny_policy_targets_the_universe_prefix_only():
    from ybalab import storage

    pol = storage.deny_policy(["u2", "u1"])
    st = pol["Statement"][0]
    assert st["Effect"] == "Deny" and st["Action"] == ["s3:PutObject"]
    assert st["Resource"] == ["arn:aws:s3:::*/univ-u1/*", "arn:aws:s3:::*/univ-u2/*"]
