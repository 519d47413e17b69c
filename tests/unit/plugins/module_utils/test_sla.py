# Unit tests of _sla: verdicts, RPO sources, redundancy (min_copies), and the renderings checked with real parsers
# (prometheus_client's text parser, xmlschema against Ant's JUnit.xsd) and the Nagios plugin format.
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import xmlschema
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _sla

NOW = 1_800_000_000.0
H = 3600.0
XSD = Path(__file__).parent / "fixtures" / "junit-windyroad.xsd"
CFG_A = "aaaaaaaa-0000-0000-0000-000000000001"
CFG_B = "bbbbbbbb-0000-0000-0000-000000000002"
CFG_A2 = "aaaaaaaa-0000-0000-0000-000000000003"  # another config on CFG_A's bucket


def universe(name, ysql=True, ycql=False, paused=False, take_backups=True):
    return {"universeUUID": "u-" + name, "name": name,
            "universeDetails": {"universePaused": paused, "clusters": [
                {"clusterType": "PRIMARY", "userIntent": {"enableYSQL": ysql, "enableYCQL": ycql}}]},
            "universeConfig": {"takeBackups": "true" if take_backups else "false"}}


def schedule(name, uni, hours=24.0, status="Active", failures=0, cfg=CFG_A, typ="PGSQL_TABLE_TYPE", backlog=False):
    return {"scheduleUUID": "s-" + name, "scheduleName": name, "status": status, "failureCount": failures,
            "taskType": "CreateBackup", "frequency": int(hours * H * 1000), "frequencyTimeUnit": "HOURS",
            "backlogStatus": backlog, "nextExpectedTask": int((NOW + H) * 1000) if status == "Active" else None,
            "backupInfo": {"universeUUID": "u-" + uni, "backupType": typ, "storageConfigUUID": cfg}}


def backup(uni, age_hours, state="Completed", cfg=CFG_A, sched=None, typ="PGSQL_TABLE_TYPE", uuid=None):
    when = bi.iso(NOW - age_hours * H)
    return {"commonBackupInfo": {"backupUUID": uuid or "b-%s-%s-%s" % (uni, age_hours, cfg[:1]), "state": state,
                                 "createTime": when, "updateTime": when,
                                 "completionTime": when if state == "Completed" else None,
                                 "storageConfigUUID": cfg, "taskUUID": "t-%s-%s" % (uni, age_hours),
                                 "responseList": [{"defaultLocation": "s3://bkt/p/univ-u-%s/x" % uni}]},
            "universeUUID": "u-" + uni, "universeName": uni, "backupType": typ, "lastBackupState": state,
            "scheduleUUID": ("s-" + sched) if sched else bi.NIL_UUID}


def config(uuid, name, bucket="bkt", host="http://s3.example:9000"):
    return {"configUUID": uuid, "configName": name, "name": "S3", "type": "STORAGE", "state": "Active",
            "data": {"BACKUP_LOCATION": "s3://%s/p" % bucket, "AWS_HOST_BASE": host,
                     "AWS_SECRET_ACCESS_KEY": "ab****yz"}}


CONFIGS = [config(CFG_A, "primary"), config(CFG_B, "second", bucket="other"), config(CFG_A2, "alias")]


def ok_probe():
    return {"ok": True, "mode": "reach", "failed_step": None, "error_class": None, "error": None,
            "summary": "reach ok"}


def bad_probe():
    return {"ok": False, "mode": "reach", "failed_step": "connect", "error_class": "refused",
            "error": "Connection refused", "summary": "connect failed (refused)"}


def run(universes, schedules, backups, configs=None, probes=None, verifications=None, **limits):
    return _sla.evaluate(universes, schedules, backups, CONFIGS if configs is None else configs, NOW,
                         _sla.thresholds(**limits),
                         probes={CFG_A: ok_probe(), CFG_B: ok_probe(), CFG_A2: ok_probe()} if probes is None
                         else probes, verifications=verifications,
                         yba={"url": "https://yba.example", "version": "2.18.1.0-b84", "customer_uuid": "c"})


def item(doc, name, typ="ysql"):
    return next(i for i in doc["universes"] if i["universe"] == name and i["backup_type"] == typ)


def sched(doc, name):
    return next(s for s in doc["schedules"] if s["schedule"] == name)


# ---------------------------------------------------------------------------------------------- verdicts

def test_fresh_universe_is_ok_with_the_rpo_of_its_schedule():
    doc = run([universe("orders")], [schedule("daily", "orders")], [backup("orders", 3, sched="daily")])
    i = item(doc, "orders")
    assert (i["status"], i["rpo_seconds"], i["rpo_source"]) == ("ok", 36 * H, "schedule daily")
    assert i["age_seconds"] == 3 * H and i["copies"] == 1 and i["last_success"] == bi.iso(NOW - 3 * H)
    assert sched(doc, "daily")["status"] == "ok" and doc["status"] == "ok"
    assert doc["nagios"]["status"] == "OK" and doc["nagios"]["exit_code"] == 0


def test_stale_is_critical_near_is_warning():
    scheds = [schedule("d1", "stale"), schedule("d2", "near")]
    doc = run([universe("stale"), universe("near")], scheds,
              [backup("stale", 73, sched="d1"), backup("near", 30, sched="d2")])
    assert item(doc, "stale")["status"] == "critical"
    assert item(doc, "stale")["reason"] == "newest backup 73h old > RPO 36h"
    assert item(doc, "near")["status"] == "warning"  # 30 h > 0.8 x 36 h
    assert "80% of RPO 36h" in item(doc, "near")["reason"]
    assert sched(doc, "d1")["status"] == "critical" and doc["status"] == "critical"


def test_no_backup_is_critical_a_failed_last_attempt_warns_and_older_failures_only_on_request():
    doc = run([universe("empty"), universe("flaky"), universe("recovered")], [],
              [backup("flaky", 2), backup("flaky", 1, state="Failed"), backup("flaky", 30, state="Failed"),
               backup("recovered", 1), backup("recovered", 2, state="Failed")])
    assert (item(doc, "empty")["status"], item(doc, "empty")["reason"]) == ("critical", "no Completed backup")
    flaky = item(doc, "flaky")
    assert flaky["rpo_source"] == "default" and flaky["failed_in_window"] == 1
    assert (flaky["status"], flaky["reason"]) == ("warning", "the last backup failed 60m ago")
    assert flaky["last_failure"] == bi.iso(NOW - H)
    # a failure followed by a Completed backup is history: reported, not a warning unless failures_warning says so
    recovered = item(doc, "recovered")
    assert (recovered["status"], recovered["failed_in_window"]) == ("ok", 1)
    again = item(run([universe("recovered")], [], [backup("recovered", 1), backup("recovered", 2, state="Failed")],
                     failures_warning=1), "recovered")
    assert (again["status"], again["reason"]) == ("warning", "1 failed in the last 24h")


def test_expired_backups_not_deleted_are_reported_without_changing_the_verdict():
    old = backup("orders", 400)
    old["expiryTime"] = bi.iso(NOW - 200 * H)
    doc = run([universe("orders")], [], [backup("orders", 2), old])
    assert item(doc, "orders")["expired_not_deleted"] == 1 and item(doc, "orders")["status"] == "ok"
    assert doc["expired_not_deleted"]["count"] == 1
    assert value(families(_sla.render_prometheus(doc)), "yba_backup_expired_not_deleted", universe="orders") == 1


def test_rpo_sources_override_by_name_or_uuid_fixed_and_factor():
    u, s, b = [universe("orders")], [schedule("six", "orders", hours=6)], [backup("orders", 8, sched="six")]
    assert item(run(u, s, b), "orders")["rpo_seconds"] == 9 * H  # 6 h x 1.5
    assert item(run(u, s, b, rpo_factor=2), "orders")["rpo_seconds"] == 12 * H
    assert item(run(u, s, b, rpo_seconds={"orders": 60}), "orders")["rpo_source"] == "override"
    assert item(run(u, s, b, rpo_seconds={"u-orders": 60}), "orders")["status"] == "critical"
    fixed = item(run(u, s, b, rpo_from_schedules=False, default_rpo_seconds=7 * H), "orders")
    assert (fixed["rpo_source"], fixed["rpo_seconds"], fixed["status"]) == ("default", 7 * H, "critical")


def test_paused_universe_and_backups_disabled_are_skipped_with_the_reason():
    doc = run([universe("sleepy", paused=True), universe("off", take_backups=False)],
              [schedule("s", "sleepy", status="Paused", failures=3)], [])
    assert (item(doc, "sleepy")["status"], item(doc, "sleepy")["reason"]) == ("skipped", "paused")
    assert item(doc, "off")["reason"] == "backups disabled (takeBackups=false)"
    assert sched(doc, "s")["status"] == "skipped" and doc["status"] == "ok"


def test_schedules_paused_stopped_backlogged_and_failing():
    u = [universe("a"), universe("b"), universe("c"), universe("d")]
    s = [schedule("pa", "a", status="Paused", failures=3), schedule("st", "b", status="Stopped"),
         schedule("bl", "c", backlog=True), schedule("fc", "d", failures=2)]
    b = [backup(x, 1, sched=n) for x, n in (("a", "pa"), ("b", "st"), ("c", "bl"), ("d", "fc"))]
    doc = run(u, s, b)
    assert (sched(doc, "pa")["status"], sched(doc, "pa")["reason"]) == ("critical", "paused by YBA after 3 failures")
    assert sched(doc, "st")["status"] == "skipped" and sched(doc, "st")["reason"] == "stopped"
    assert sched(doc, "bl")["status"] == "warning" and "backlogged" in sched(doc, "bl")["reason"]
    # a failure count YBA keeps warns only until the schedule has a Completed backup within its interval again
    assert sched(doc, "fc")["status"] == "ok" and sched(doc, "fc")["reason"].endswith(
        "; failure count 2 kept by YBA from before")
    doc = run(u, s, [backup("d", 30, sched="fc")])
    assert sched(doc, "fc")["status"] == "warning" and "failure count 2" in sched(doc, "fc")["reason"]
    # the Stopped schedule gives no RPO: b falls back to the default
    assert item(doc, "b")["rpo_source"] == "default"


def test_broken_storage_of_a_schedule_is_critical_while_its_copies_still_count():
    doc = run([universe("orders")], [schedule("daily", "orders")], [backup("orders", 3, sched="daily")],
              probes={CFG_A: bad_probe(), CFG_B: ok_probe()})
    i = item(doc, "orders")
    assert i["status"] == "critical" and i["copies"] == 1 and i["copies_detail"][0]["storage_probe_ok"] is False
    assert "schedule daily writes to storage primary, which fails its probe" in i["reason"]
    store = {s["config"]: s for s in doc["storage"]}
    assert store["primary"]["status"] == "critical" and store["primary"]["reason"].startswith("connect (refused)")
    assert store["second"]["status"] == "ok" and store["alias"]["status"] == "skipped"  # not probed
    assert sched(doc, "daily")["status"] == "critical"


def test_unused_broken_storage_only_warns():
    doc = run([universe("orders")], [], [backup("orders", 3)], probes={CFG_A: ok_probe(), CFG_B: bad_probe()})
    assert {s["config"]: s["status"] for s in doc["storage"]}["second"] == "warning"
    assert item(doc, "orders")["status"] == "ok"


# ---------------------------------------------------------------------------------------------- redundancy

def test_min_copies_counts_independent_storage_only():
    u = [universe("orders")]
    one = [backup("orders", 3, cfg=CFG_A)]
    same_bucket = one + [backup("orders", 2, cfg=CFG_A2)]
    two = one + [backup("orders", 5, cfg=CFG_B)]
    assert item(run(u, [], one, min_copies=2), "orders")["reason"] == "1 of 2 independent copies"
    i = item(run(u, [], same_bucket, min_copies=2), "orders")
    assert i["status"] == "critical" and len(i["copies_detail"]) == 2 and i["copies"] == 1
    i = item(run(u, [], two, min_copies=2), "orders")
    assert (i["status"], i["copies"]) == ("ok", 2)
    assert item(run(u, [], two), "orders")["copies"] == 2  # reported even when one is enough
    # the second copy too old: the second-freshest copy decides
    old = one + [backup("orders", 30, cfg=CFG_B)]
    i = item(run(u, [], old, min_copies=2), "orders")
    assert i["status"] == "critical" and i["reason"] == "copy 2 of 2 30h old > RPO 24h" and i["copies"] == 1


def test_verify_unverified_copies_do_not_count():
    u = [universe("orders")]
    b = [backup("orders", 1, cfg=CFG_A, uuid="new"), backup("orders", 4, cfg=CFG_B, uuid="older")]
    ver = {"new": {"verified": False, "problem": "no success marker"}, "older": {"verified": True, "problem": None}}
    i = item(run(u, [], b, verifications=ver, verify=True), "orders")
    assert i["status"] == "warning" and i["copies"] == 1 and i["age_seconds"] == 4 * H
    assert "the newest backup, on primary, does not count: no success marker" in i["reason"]
    i = item(run(u, [], b, verifications=ver, verify=True, min_copies=2), "orders")
    assert i["status"] == "critical"
    # without verify the catalog's word is enough
    assert item(run(u, [], b, verifications=ver), "orders")["copies"] == 2
    i = item(run(u, [], b[:1], verifications=ver, verify=True), "orders")
    assert i["status"] == "critical" and i["reason"] == "no usable backup: primary no success marker"


def test_types_from_schedules_else_apis_and_explicit():
    u = [universe("both", ysql=True, ycql=True)]
    assert [i["backup_type"] for i in run(u, [], [])["universes"]] == ["ysql", "ycql"]
    only = run(u, [schedule("c", "both", typ="YQL_TABLE_TYPE")], [])
    assert [i["backup_type"] for i in only["universes"]] == ["ycql"]
    assert [i["backup_type"] for i in run(u, [], [], backup_types=["YCQL"])["universes"]] == ["ycql"]


def test_unreachable_is_unknown_everywhere():
    doc = _sla.unreachable("GET /api/v1/app_version: cannot reach", "unreachable", NOW, _sla.thresholds(),
                           {"url": "https://yba.example"})
    assert doc["status"] == "unknown" and doc["nagios"]["exit_code"] == 3
    assert doc["nagios"]["line"] == "YBA BACKUP UNKNOWN - cannot read YBA at https://yba.example: " \
                                    "GET /api/v1/app_version: cannot reach"
    fams = families(_sla.render_prometheus(doc))
    assert value(fams, "yba_backup_sla_api_up") == 0 and value(fams, "yba_backup_sla_status") == 3
    assert_junit(_sla.render_junit(doc), errors=1)


# ---------------------------------------------------------------------------------------------- renderings

def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams, name, **labels):
    hits = [s.value for s in fams[name].samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, (name, labels, fams[name].samples)
    return hits[0]


def incident():
    u = [universe(n) for n in ("alpha", "beta", "gamma", "delta")] + [universe('we"ird\\na\nme', paused=True)]
    s = [schedule("sched-" + n, n, hours=6, status="Paused", failures=3) for n in ("alpha", "beta", "gamma", "delta")]
    b = [backup(n, 73, sched="sched-" + n) for n in ("alpha", "beta", "gamma", "delta")]
    b += [backup("alpha", 5, state="Failed")]
    return run(u, s, b, probes={CFG_A: bad_probe(), CFG_B: ok_probe()})


def test_prometheus_textfile_parses_with_help_type_and_escaped_labels():
    doc = incident()
    text = _sla.render_prometheus(doc)
    fams = families(text)
    assert set(fams) >= {"yba_backup_last_success_timestamp_seconds", "yba_backup_rpo_seconds", "yba_backup_sla_ok",
                         "yba_backup_copies", "yba_schedule_paused", "yba_schedule_failure_count",
                         "yba_storage_probe_success", "yba_backup_sla_evaluation_timestamp_seconds"}
    assert all(f.type == "gauge" and f.documentation for f in fams.values())
    assert all(name.startswith("yba_") for name in fams)
    assert value(fams, "yba_backup_sla_evaluation_timestamp_seconds") == NOW
    assert value(fams, "yba_backup_last_success_timestamp_seconds", universe="alpha", backup_type="ysql",
                 schedule="") == NOW - 73 * H
    assert value(fams, "yba_backup_last_success_timestamp_seconds", universe="alpha",
                 schedule="sched-alpha") == NOW - 73 * H
    assert value(fams, "yba_backup_rpo_seconds", universe="alpha", schedule="") == 9 * H
    assert value(fams, "yba_backup_sla_ok", universe="beta", schedule="") == 0
    assert value(fams, "yba_backup_sla_item_status", universe="beta", schedule="", status="critical") == 1
    assert value(fams, "yba_schedule_paused", schedule="sched-gamma", universe="gamma") == 1
    assert value(fams, "yba_schedule_failure_count", schedule="sched-gamma") == 3
    assert value(fams, "yba_storage_probe_success", config="primary") == 0
    assert value(fams, "yba_storage_probe_success", config="second") == 1
    assert value(fams, "yba_backup_failed_backups", universe="alpha") == 1
    # the odd universe name survives the escaping unchanged
    assert value(fams, "yba_backup_sla_ok", universe='we"ird\\na\nme', schedule="") == 1
    for line in text.splitlines():  # no sample timestamps: a sample line is `name{labels} value`
        if not line.startswith("#"):
            assert len(line.rsplit("} ", 1)[-1].split()) == 1 if "}" in line else len(line.split()) == 2
    assert text.count("# HELP yba_backup_sla_ok ") == 1 and text.count("# TYPE yba_backup_sla_ok gauge") == 1
    assert text.endswith("\n")


def test_prometheus_has_no_duplicate_series_for_schedules_of_deleted_universes():
    """Two schedules of the same name whose universes are gone: named by the universes' UUIDs, one series each."""
    s = [schedule("nightly", "gone1", status="Paused", failures=3), schedule("nightly", "gone2", status="Paused")]
    s[1]["scheduleUUID"] = "s-nightly-2"
    fams = families(_sla.render_prometheus(run([universe("alpha")], s, [])))
    assert value(fams, "yba_schedule_paused", schedule="nightly", universe="u-gone1") == 1
    assert value(fams, "yba_schedule_paused", schedule="nightly", universe="u-gone2") == 1


def assert_junit(text, **counts):
    schema = xmlschema.XMLSchema(str(XSD))
    schema.validate(text)
    tree = schema.to_dict(text)
    suite = tree["testsuite"][0]
    for key, want in counts.items():
        assert suite["@" + key] == want, (key, suite)
    return suite


def test_junit_validates_against_the_xsd_with_failures_errors_and_skips():
    doc = incident()
    suite = assert_junit(_sla.render_junit(doc, "yba1"), failures=9, errors=0, skipped=2, tests=12)
    assert suite["@hostname"] == "yba1" and suite["@timestamp"].startswith("2027-01-15T")
    props = {p["@name"]: p["@value"] for p in suite["properties"]["property"]}
    assert props["yba_version"] == "2.18.1.0-b84" and props["threshold.rpo_factor"] == "1.5"
    assert props["threshold.min_copies"] == "1" and props["status"] == "CRITICAL"
    cases = {c["@name"]: c for c in suite["testcase"]}
    assert cases["alpha/ysql"]["failure"]["@type"] == "SLAViolated"
    assert "73h old > RPO 9h" in cases["alpha/ysql"]["failure"]["@message"]
    weird = next(c for c in suite["testcase"] if c["@name"].startswith("we"))
    assert weird["@name"] == 'we"ird\\na me/ysql'  # xs:token collapses the line feed, the rest survives
    assert "skipped" in weird
    assert cases["sched-beta (beta)"]["failure"]["@message"].startswith("paused by YBA after 3 failures")
    assert cases["primary"]["failure"]["@message"].startswith("connect (refused)")
    assert "YBA BACKUP CRITICAL" in suite["system-out"]
    # a broken document must not validate: the XSD really checks
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        xmlschema.XMLSchema(str(XSD)).validate(_sla.render_junit(doc).replace('time="0">', '>', 1))


def test_nagios_line_exit_code_and_perfdata():
    doc = incident()
    nag = doc["nagios"]
    assert (nag["status"], nag["exit_code"]) == ("CRITICAL", 2)
    line, perf = nag["line"].split("|", 1)
    assert line.startswith("YBA BACKUP CRITICAL - 4 of 4 universes beyond RPO or without enough copies: alpha/ysql (")
    assert "4 schedule critical: sched-alpha (paused by YBA after 3 failures" in line
    assert "1 storage critical: primary (connect (refused)" in line
    assert "'alpha/ysql'=262800s;25920;32400;0" in perf.split() and "universes_critical=4;;;0" in perf.split()
    warn = run([universe("near")], [], [backup("near", 20)])["nagios"]
    assert (warn["status"], warn["exit_code"]) == ("WARNING", 1)
    assert warn["line"].startswith("YBA BACKUP WARNING - 1 of 1 universes near RPO or with warnings: near/ysql (")
    ok = run([universe("fine")], [], [backup("fine", 1)])["nagios"]
    assert ok["line"].startswith("YBA BACKUP OK - 1 of 1 universes within RPO with >= 1 copy; 0 schedules, "
                                 "3 storage configs ok|'fine/ysql'=3600s;69120;86400;0 universes_critical=0;;;0")


def test_json_rendering_is_the_document_with_a_schema_version():
    doc = incident()
    back = json.loads(_sla.render_json(doc))
    assert back["schema_version"] == _sla.SCHEMA_VERSION == 1
    assert set(back) >= {"generated_at", "yba", "thresholds", "status", "summary", "nagios", "universes", "schedules",
                         "storage", "failed", "expired_not_deleted"}
    assert back["summary"]["universes"] == {"ok": 0, "warning": 0, "critical": 4, "unknown": 0, "skipped": 1,
                                            "total": 5}
    assert back["thresholds"]["warn_ratio"] == 0.8


# ---------------------------------------------------------------------------------------------- writing

def test_write_atomic_replaces_in_place_and_says_when_nothing_changed(tmp_path):
    target = tmp_path / "yba_backup.prom"
    assert _sla.write_atomic(str(target), "a 1\n") is True
    inode = os.stat(target).st_ino
    assert _sla.write_atomic(str(target), "a 1\n") is False and os.stat(target).st_ino == inode
    assert _sla.write_atomic(str(target), "a 2\n") is True and target.read_text() == "a 2\n"
    assert os.stat(target).st_ino != inode  # renamed over, not rewritten in place
    assert oct(os.stat(target).st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["yba_backup.prom"]  # no temporary file left


def test_path_problems():
    assert "must end with .prom" in _sla.path_problem("/tmp/x.txt", "prometheus")
    assert _sla.path_problem("/nonexistent-dir/x.json", "json") == \
        "json_path's directory /nonexistent-dir does not exist"
    assert _sla.path_problem("/tmp/x.prom", "prometheus") is None
