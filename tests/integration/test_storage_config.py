"""playbooks/storage_config.yml through the CLI on the incident lab (issue 10's "done means"): --check --diff shows
the planned change with secrets masked and changes nothing; the run fixes the config (probe green from the YBA
host); a second run changes nothing; the diagnosis no longer reports storage_unreachable; the platform's next
backup writes to the repaired bucket; no secret in any output or run record."""
from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3

import test_integration as drv  # the integration driver: lab reset, commands, environment

PLAYBOOK = drv.REPO / "playbooks" / "storage_config.yml"
DIAGNOSE = drv.REPO / "playbooks" / "diagnose.yml"
CONFIG = "s3-northgate-backups"


def lab() -> dict[str, Any]:
    return json.loads((drv.LAB_DIR / "lab.json").read_text(encoding="utf-8"))


def api(method: str, path: str, body: Any = None) -> Any:
    platform = lab()["platform"]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(platform["url"] + path, data=data, method=method,
                                     headers={"X-AUTH-YW-API-TOKEN": platform["token"],
                                              "Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=platform["ca_cert"])
    with urllib.request.urlopen(request, context=context, timeout=60) as answer:  # noqa: S310 (the lab's URL)
        return json.loads(answer.read() or b"null")


def stored_config() -> dict[str, Any]:
    configs = api("GET", "/api/v1/customers/%s/configs" % lab()["platform"]["customer_uuid"])
    return next(c for c in configs if c["configName"] == CONFIG)


def run_cli(tmp_path: Path, name: str, playbook: Path, *extra: str) -> tuple[int, str, dict[str, Any]]:
    summary_file = tmp_path / f"{name}.json"
    proc = drv.run([str(drv.BIN / "yba-remediation"), "run", str(playbook), "-i", str(drv.INVENTORY),
                    "--summary", str(summary_file), *extra])
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else {}
    return proc.returncode, drv.explain(proc, limit=200000), summary


def secrets() -> list[str]:
    s3 = lab()["s3"]
    return [s3["secret_key"], s3["access_key"], lab()["platform"]["token"]]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in secrets():
            assert secret not in text, "a secret appears in the output"


def desired_vars(tmp_path: Path) -> Path:
    """The vars file an operator writes: the live endpoint, the keys as from a vault (the lab writes it)."""
    vars_file = tmp_path / "storage.json"
    made = drv.lab("storage-vars", "--out", str(vars_file))
    assert made.returncode == 0, drv.explain(made)
    return vars_file


def test_storage_config_playbook_repairs_the_incident_config(tmp_path: Path) -> None:
    drv.reset("incident")
    s3 = lab()["s3"]
    vars_file = desired_vars(tmp_path)
    before = stored_config()
    assert before["data"]["AWS_HOST_BASE"] == s3["dead_endpoint"]

    # --check --diff: the planned change, secrets masked, nothing written
    rc, output, summary = run_cli(tmp_path, "check", PLAYBOOK, "-e", f"@{vars_file}", "--check", "--diff")
    assert rc == 0, output
    assert s3["dead_endpoint"] in output and s3["endpoint"] in output  # the diff of AWS_HOST_BASE
    assert_no_secret(output, json.dumps(summary))
    record = summary["run_record"]["yba-lab"]["storage_config"]
    assert record["check_mode"] is True and record["changed"] is True
    assert stored_config() == before

    # the fix: written, read back, probed green from the YBA host
    rc, output, summary = run_cli(tmp_path, "apply", PLAYBOOK, "-e", f"@{vars_file}")
    assert rc == 0, output
    assert_no_secret(output, json.dumps(summary))
    record = summary["run_record"]["yba-lab"]["storage_config"]
    assert record["changed"] is True and record["configs"][0]["ok"] is True, record
    assert stored_config()["data"]["AWS_HOST_BASE"] == s3["endpoint"]
    assert stored_config()["data"]["AWS_SECRET_ACCESS_KEY"] != s3["secret_key"]  # YBA answers it masked

    # a second run has nothing to do
    rc, output, summary = run_cli(tmp_path, "again", PLAYBOOK, "-e", f"@{vars_file}")
    assert rc == 0, output
    assert summary["hosts"]["yba-lab"]["changed"] == 0, summary["hosts"]
    assert summary["run_record"]["yba-lab"]["storage_config"]["changed"] is False

    # the diagnosis no longer reports the storage
    rc, output, summary = run_cli(tmp_path, "diagnose", DIAGNOSE)
    assert rc == 0, output
    assert "storage_unreachable" not in summary["run_record"]["yba-lab"]["diagnosis"]["ids"]


def create_backup() -> dict[str, Any]:
    """POST /backups on the first universe that takes one (YBA validates the storage config first): the task's
    final status, or the HTTP error YBA answered."""
    customer = lab()["platform"]["customer_uuid"]
    config = stored_config()["configUUID"]
    for universe in lab()["platform"]["universes"].values():
        try:
            task = api("POST", f"/api/v1/customers/{customer}/backups",
                       {"universeUUID": universe, "storageConfigUUID": config, "backupType": "PGSQL_TABLE_TYPE",
                        "keyspaceTableList": [{"keyspace": "yugabyte"}]})
        except urllib.error.HTTPError as err:
            if err.code == 409:  # a universe locked by a backup of its own: take the next
                continue
            return {"status": "refused", "code": err.code, "body": err.read().decode()}
        deadline = time.monotonic() + 120
        while True:
            status = api("GET", f"/api/v1/customers/{customer}/tasks/{task['taskUUID']}")
            if status["status"] in ("Success", "Failure", "Aborted"):
                return status
            assert time.monotonic() < deadline, status
            time.sleep(1)
    raise AssertionError("no universe accepted a backup")


def test_next_backup_writes_to_the_repaired_bucket(tmp_path: Path) -> None:
    drv.reset("healthy")  # a sound metadata DB: only the storage is broken
    proc = drv.lab("storage", "refused")
    assert proc.returncode == 0, drv.explain(proc)
    s3 = lab()["s3"]
    refused = create_backup()
    assert refused["status"] == "refused" and refused["code"] == 400, refused  # YBA validates the config first

    rc, output, _summary = run_cli(tmp_path, "apply", PLAYBOOK, "-e", f"@{desired_vars(tmp_path)}", "--quiet")
    assert rc == 0, output

    client = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                          aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"])

    def objects() -> set[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=s3["bucket"], Prefix="northgate/")
        return {o["Key"] for page in pages for o in page.get("Contents", [])}

    existing = objects()
    status = create_backup()
    assert status["status"] == "Success", status
    assert objects() - existing, "the backup wrote nothing under the repaired BACKUP_LOCATION"


def test_diagnosis_with_the_vault_keys_names_what_is_wrong_in_the_config(tmp_path: Path) -> None:
    """An endpoint that answers can still not work: with the vault's keys (storage_config_credentials) the
    diagnosis checks from the YBA host that YBA holds them and that they list the bucket."""
    drv.reset("healthy")
    vars_file = desired_vars(tmp_path)  # the operator's vars: the keys YBA should hold
    # (the last variant only changes the secret: BACKUP_LOCATION is read-only in YBA, so only that one is
    # repaired in place below; the other two would need a new config)
    for variant, cause in (("no-bucket", "the bucket of BACKUP_LOCATION does not exist"),
                           ("wrong-region", "SIGNING_REGION is not the bucket's region"),
                           ("wrong-keys", "it holds other keys than the vault's")):
        proc = drv.lab("storage", variant)
        assert proc.returncode == 0, drv.explain(proc)
        rc, output, summary = run_cli(tmp_path, f"diagnose-{variant}", DIAGNOSE, "-e", f"@{vars_file}", "--quiet")
        assert rc == 0, output
        assert_no_secret(output, json.dumps(summary))
        findings = [f for f in summary["run_record"]["yba-lab"]["diagnosis"]["findings"]
                    if f["id"] == "storage_unreachable"]
        assert len(findings) == 1, (variant, findings)
        assert findings[0]["title"].endswith("does not work with YBA's config"), findings[0]
        assert findings[0]["evidence"].endswith("YBA's storage config is wrong: " + cause), findings[0]

    # the repair gives YBA the vault's keys and the right bucket and endpoint; the diagnosis is then clean
    rc, output, _summary = run_cli(tmp_path, "repair", PLAYBOOK, "-e", f"@{vars_file}", "--quiet")
    assert rc == 0, output
    rc, output, summary = run_cli(tmp_path, "diagnose-after", DIAGNOSE, "-e", f"@{vars_file}", "--quiet")
    assert rc == 0, output
    assert "storage_unreachable" not in summary["run_record"]["yba-lab"]["diagnosis"]["ids"]
