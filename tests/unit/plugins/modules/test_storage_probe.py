# Unit tests of the storage_probe module: a config read through a routed fake of the YBA API (masked secrets, as
# YBA answers them), probed against a real moto S3 server that checks keys; secrets never in the output.
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc
from ansible_collections.yba.remediation.plugins.modules import storage_probe

C = "cccccccc-cccc-cccc-cccc-cccccccccccc"
CFG = "5f0c7e1e-2b4f-4d2c-9d8e-4c0a6b1d2e3f"
TOKEN = "secret-token-value"


@pytest.fixture
def api(monkeypatch, s3):
    """The YBA API's answer for configs: an S3 config on the live endpoint with its keys masked, and an NFS one."""
    keys = s3["keys"]["yba"]
    seen = []

    def send(self, method, url, path, data, headers, timeout, raw):
        seen.append((method, path))
        if path == "/api/v1/customers":
            return [{"uuid": C, "code": "admin", "name": "n"}]
        if path.endswith("/configs"):
            return [{"configUUID": CFG, "configName": "s3-prod", "name": "S3", "type": "STORAGE", "state": "Active",
                     "data": sc.mask_data({"BACKUP_LOCATION": "s3://yba-backups/northgate", "AWS_HOST_BASE": s3["url"],
                                           "PATH_STYLE_ACCESS": "true", "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
                                           "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"]})},
                    {"configUUID": "nfs-uuid", "configName": "nfs", "name": "NFS", "type": "STORAGE", "data": {}}]
        raise AssertionError(path)

    monkeypatch.setattr(_api.YBAClient, "_send_once", send)
    return seen


def run(capsys, check_mode=False, **args):
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            storage_probe.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def creds(s3, user="yba"):
    return {"AWS_ACCESS_KEY_ID": s3["keys"][user]["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": s3["keys"][user]["SecretAccessKey"]}


def test_config_by_name_with_credentials_runs_the_canary(api, s3, capsys):
    r, out = run(capsys, yba_url="https://yba.example", yba_api_token=TOKEN, config="s3-prod", credentials=creds(s3))
    st = r["storage"]
    assert r["changed"] is False and st["ok"] is True, st
    assert (st["config_uuid"], st["config_name"], st["mode"]) == (CFG, "s3-prod", "canary")
    assert [s["name"] for s in st["locations"][0]["steps"]][-1] == "confirm_gone"
    assert st["probed_from"] and r["requests"] == 2
    assert s3["keys"]["yba"]["SecretAccessKey"] not in out and TOKEN not in out


def test_config_by_uuid_without_keys_stops_at_credentials(api, s3, capsys):
    # YBA answers the keys masked: a mask cannot sign, so the probe says what it needs instead of a 403
    r, out = run(capsys, yba_url="https://yba.example", yba_api_token=TOKEN, config=CFG)
    st = r["storage"]
    assert (st["ok"], st["failed_step"], st["error_class"]) == (False, "credentials", "no_credentials")
    assert [s["name"] for s in st["locations"][0]["steps"]] == ["dns", "connect", "credentials"]


def test_data_overrides_the_config_fields(api, s3, capsys):
    r, _out = run(capsys, yba_url="https://yba.example", yba_api_token=TOKEN, config="s3-prod", credentials=creds(s3),
                  data={"AWS_HOST_BASE": "http://127.0.0.1:1"})
    assert r["storage"]["error_class"] == "refused"


def test_check_mode_lists_instead_of_writing(s3, capsys):
    before = s3["admin"].list_object_versions(Bucket="yba-backups").get("Versions", [])
    r, _out = run(capsys, check_mode=True, credentials=creds(s3),
                  data={"BACKUP_LOCATION": "s3://yba-backups/northgate", "AWS_HOST_BASE": s3["url"],
                        "PATH_STYLE_ACCESS": True})
    assert r["storage"]["ok"] and r["storage"]["mode"] == "read" and r["changed"] is False
    assert s3["admin"].list_object_versions(Bucket="yba-backups").get("Versions", []) == before


def test_wrong_secret_is_classified_and_never_shown(s3, capsys):
    bad = dict(creds(s3), AWS_SECRET_ACCESS_KEY="wrong-secret-value-1234")
    r, out = run(capsys, credentials=bad, data={"BACKUP_LOCATION": "s3://yba-backups/northgate",
                                                "AWS_HOST_BASE": s3["url"], "PATH_STYLE_ACCESS": True})
    assert r["storage"]["error_class"] == "signature"
    assert "wrong-secret-value-1234" not in out and s3["keys"]["yba"]["AccessKeyId"] not in out


@pytest.mark.parametrize("args, message", [
    ({"data": {"BACKUP_LOCATION": "s3://b/p", "AWS_SECRET_ACCESS_KEY": "leaky-secret-1"}},
     "AWS_SECRET_ACCESS_KEY belongs in credentials (no_log), not in data"),
    ({"data": {"BACKUP_LOCATION": "s3://b/p"}, "credentials": {"AWS_HOST_BASE": "h"}},
     "credentials takes secret fields only"),
    ({"data": {}}, "no BACKUP_LOCATION: give config, or data.BACKUP_LOCATION"),
    ({"data": {"BACKUP_LOCATION": "s3://b/p"}, "timeout": 0}, "timeout must be > 0"),
    ({"data": {"BACKUP_LOCATION": "s3://b/p"}, "storage_ca_path": "/nonexistent/ca.pem"},
     "storage_ca_path /nonexistent/ca.pem does not exist on"),
])
def test_bad_input_fails_in_one_line(capsys, args, message):
    r, out = run(capsys, **args)
    assert r["failed"] is True and message in r["msg"] and "\n" not in r["msg"]
    assert "leaky-secret-1" not in out


def test_unknown_or_non_s3_config(api, capsys):
    r, _out = run(capsys, yba_url="https://yba.example", yba_api_token=TOKEN, config="nope")
    assert r["failed"] and r["msg"] == "no storage config named or with UUID 'nope' in YBA"
    r, _out = run(capsys, yba_url="https://yba.example", yba_api_token=TOKEN, config="nfs")
    assert r["failed"] and "is of type NFS; this probe speaks S3 only" in r["msg"]


def test_bad_settings_are_a_result_not_a_failure(capsys):
    r, _out = run(capsys, data={"BACKUP_LOCATION": "s3://b/p", "AWS_HOST_BASE": "https://s3.example.com:443"},
                  mode="reach")
    assert "failed" not in r and r["storage"]["error_class"] == "invalid_config"
    assert "names port 443 explicitly" in r["storage"]["summary"]


def test_keys_that_differ_from_the_ones_yba_holds_fail_the_config(api, s3, capsys):
    # YBA answers the lab user's keys (masked); a vault holding the read-only user's keys differs from them
    r, out = run(capsys, yba_url="https://yba.example", yba_api_token=TOKEN, config="s3-prod", mode="read",
                 credentials=creds(s3, "reader"))
    st = r["storage"]
    assert st["stored_credentials"] == {"AWS_ACCESS_KEY_ID": "differs", "AWS_SECRET_ACCESS_KEY": "differs"}
    assert (st["ok"], st["failed_step"], st["error_class"]) == (False, "stored_keys", "stored_keys_differ")
    assert st["summary"].startswith("YBA's stored AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY differ from the ones "
                                    "given (compared by YBA's mask): YBA signs with other keys than these, which work")
    assert s3["keys"]["reader"]["SecretAccessKey"] not in out
    # the keys YBA holds: same, and the probe decides
    r, _out = run(capsys, yba_url="https://yba.example", yba_api_token=TOKEN, config="s3-prod", mode="read",
                  credentials=creds(s3))
    assert r["storage"]["ok"] and r["storage"]["stored_credentials"] == {"AWS_ACCESS_KEY_ID": "same",
                                                                         "AWS_SECRET_ACCESS_KEY": "same"}
