# Unit tests of the backup_schedule module over a routed fake of YBA's schedule API (controllers/ScheduleController
# .java: editBackupSchedule for every release, toggleSchedule = pause_resume from 2.23/2024.2 with
# BackupScheduleToggleParams.verifyScheduleToggle and Schedule.toggleBackupSchedule), configs answered masked, the
# paged backups, and a real S3 (moto's threaded server) for the storage probe.
from __future__ import annotations

import copy
import json

import pytest
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc
from ansible_collections.yba.remediation.plugins.modules import backup_schedule
from ansible_collections.yba.remediation.tests.unit.plugins.modules.module_results import Done, bucket_on, route_api

pytestmark = pytest.mark.usefixtures("raw_results")

C = "cccccccc-cccc-cccc-cccc-cccccccccccc"
TOKEN = "api-token-value-123"
KEY_ID = "AKIAUNITTESTKEY01"
SECRET = "unit-test-secret-key-0123456789"
BUCKET = "sched-bucket"
U_ORDERS, U_BILLING = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
S_ORDERS, S_BILLING, S_CRON = ("aaaaaaaa-0000-0000-0000-00000000000%d" % n for n in (1, 2, 3))
CFG_LIVE, CFG_DEAD = "c0000000-0000-0000-0000-000000000001", "c0000000-0000-0000-0000-000000000002"
CLASSIC_VERSION, TOGGLE_VERSION = "2.18.1.0-b84", "2024.2.1.0-b20"


@pytest.fixture(scope="module")
def s3(plain_s3):
    """A real S3 (moto) with the bucket, and an endpoint where nothing listens."""
    pytest.importorskip("boto3")
    return bucket_on(plain_s3, KEY_ID, SECRET, BUCKET)


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class FakeYBA:
    """YBA's schedule routes as ScheduleController answers them (the checks in the source's order)."""

    def __init__(self, s3):
        self.version = CLASSIC_VERSION
        self.universes = [{"universeUUID": U_ORDERS, "name": "orders"}, {"universeUUID": U_BILLING, "name": "billing"}]
        self.configs = {
            CFG_LIVE: {"configUUID": CFG_LIVE, "configName": "s3-live", "name": "S3", "type": "STORAGE",
                       "state": "Active", "data": {"BACKUP_LOCATION": "s3://%s/yba" % BUCKET,
                                                   "AWS_HOST_BASE": s3["live"], "PATH_STYLE_ACCESS": True,
                                                   "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}},
            CFG_DEAD: {"configUUID": CFG_DEAD, "configName": "s3-dead", "name": "S3", "type": "STORAGE",
                       "state": "Active", "data": {"BACKUP_LOCATION": "s3://%s/yba" % BUCKET,
                                                   "AWS_HOST_BASE": s3["dead"], "PATH_STYLE_ACCESS": True,
                                                   "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}},
        }
        self.schedules = {}
        self.add(S_ORDERS, "orders-daily", U_ORDERS, CFG_LIVE, "Paused", failures=3)
        self.add(S_BILLING, "billing-daily", U_BILLING, CFG_LIVE, "Active")
        self.add(S_CRON, "orders-cron", U_ORDERS, CFG_LIVE, "Stopped", cron="0 2 * * *")
        self.backups = []
        self.produce = {}  # schedule uuid -> states its next backup goes through, one per backups/page read
        self.running_for = {}  # schedule uuid -> how many more writes find it running
        self.seen = []
        self.subtasks_as_list = False  # some releases answer failed_subtasks as the bare list
        self.configs_status = None  # an error GET configs answers

    def add(self, uuid, name, universe, config, status, failures=0, cron=None):
        self.schedules[uuid] = {
            "scheduleUUID": uuid, "customerUUID": C, "ownerUUID": universe, "scheduleName": name,
            "taskType": "CreateBackup", "status": status, "failureCount": failures,
            "frequency": 0 if cron else 86400000, "frequencyTimeUnit": "HOURS", "cronExpression": cron,
            "runningState": False, "nextScheduleTaskTime": "2026-12-01T00:00:00Z",
            "taskParams": {"universeUUID": universe, "storageConfigUUID": config, "minNumBackupsToRetain": 3}}

    def resp(self, s):
        """Schedule.toScheduleResp: no ownerUUID nor taskParams, the universe under backupInfo."""
        out = {k: v for k, v in s.items() if k not in ("ownerUUID", "taskParams", "nextScheduleTaskTime")}
        out["backupInfo"] = {"universeUUID": s["taskParams"]["universeUUID"],
                             "storageConfigUUID": s["taskParams"]["storageConfigUUID"]}
        return out

    def error(self, client, method, path, status, message):
        return client._http_error(method, path, status, json.dumps(
            {"success": False, "error": message, "httpMethod": method, "requestUri": path}).encode(), None)

    def running(self, s):
        left = self.running_for.get(s["scheduleUUID"], 0)
        if left:
            self.running_for[s["scheduleUUID"]] = left - 1
        return left > 0

    def send(self, client, method, path, body):
        self.seen.append((method, path, copy.deepcopy(body)))
        if path == "/api/v1/app_version":
            return {"version": self.version}
        base = "/api/v1/customers/%s/" % C
        rest = path[len(base):]
        if rest == "universes" and method == "GET":
            return copy.deepcopy(self.universes)
        if rest == "configs" and method == "GET" and self.configs_status:
            raise self.error(client, method, path, self.configs_status, "User does not have access")
        if rest == "configs" and method == "GET":
            return [dict(c, data=sc.mask_data(c["data"])) for c in self.configs.values()]
        if rest == "schedules/page":
            f = body["filter"]
            hits = [self.resp(s) for s in sorted(self.schedules.values(), key=lambda s: s["scheduleName"])
                    if (not f["taskTypes"] or s["taskType"] in f["taskTypes"])]
            return {"entities": hits, "hasNext": False, "hasPrev": False, "totalCount": len(hits)}
        if rest.startswith("schedules/") and method == "GET":
            return copy.deepcopy(self.schedules[rest.split("/")[1]])
        if rest.startswith("schedules/") and method == "PUT":
            return self.edit(client, method, path, self.schedules[rest.split("/")[1]], body)
        if rest.endswith("/pause_resume") and method == "PUT":
            parts = rest.split("/")
            return self.toggle(client, method, path, parts[1], self.schedules[parts[3]], body)
        if rest == "backups/page":
            return self.page_backups(body)
        if rest.startswith("tasks/") and rest.endswith("/failed_subtasks"):
            subtasks = [{"subTaskType": "BackupTableYbc", "subTaskState": "Failure",
                         "errorString": "Failed to upload to s3://%s: access denied" % BUCKET}]
            return subtasks if self.subtasks_as_list else {"failedSubTasks": subtasks}
        raise AssertionError((method, path))

    def edit(self, client, method, path, s, body):
        """ScheduleController.editBackupSchedule."""
        status = body.get("status") or "Active"
        if status == "Paused":
            raise self.error(client, method, path, 400, "State paused is an internal state and cannot be specified "
                                                        "by the user")
        if status == "Stopped":
            s["status"] = "Stopped"
            return copy.deepcopy(s)
        if body.get("frequency") is None and body.get("cronExpression") is None:
            raise self.error(client, method, path, 400, "Both schedule frequency and cron expression cannot be null")
        if body.get("frequency") is not None and body.get("cronExpression") is not None:
            raise self.error(client, method, path, 400, "Both schedule frequency and cron expression cannot be "
                                                        "provided")
        if self.running(s):
            s["status"] = "Active"  # someone else resumed it and it runs now
            raise self.error(client, method, path, 409, "Cannot edit schedule as it is running.")
        if body.get("frequency") is not None:
            if body.get("frequencyTimeUnit") is None:
                raise self.error(client, method, path, 400, "Please provide time unit for frequency")
            s.update(frequency=body["frequency"], frequencyTimeUnit=body["frequencyTimeUnit"], cronExpression=None)
        else:
            s.update(cronExpression=body["cronExpression"], frequency=0)
        s["status"] = "Active"  # resetSchedule; failureCount stays
        return copy.deepcopy(s)

    def toggle(self, client, method, path, universe, s, body):
        """ScheduleController.toggleSchedule (2.23+): owner check, verifyScheduleToggle, toggleBackupSchedule."""
        if self.version == CLASSIC_VERSION:
            raise self.error(client, method, path, 404, "Not found")
        if s["ownerUUID"] != universe:
            raise self.error(client, method, path, 400, "Schedule not owned by Universe.")
        new, cur = body["status"], s["status"]
        if cur == new:
            raise self.error(client, method, path, 400, "Schedule is already in %s state." % cur)
        if (new == "Stopped" and cur != "Active") or (new == "Active" and cur != "Stopped"):
            raise self.error(client, method, path, 400, "Invalid state transition from %s to %s" % (cur, new))
        if new == "Stopped" and self.running(s):
            raise self.error(client, method, path, 500, "Schedule is currently locked")
        s["status"] = new
        return {"success": True}

    def page_backups(self, body):
        wanted = body["filter"]["scheduleUUIDList"]
        for s_uuid in wanted:
            states = self.produce.get(s_uuid)
            if states and self.schedules[s_uuid]["status"] == "Active":
                state = states.pop(0)
                mine = [b for b in self.backups if b["scheduleUUID"] == s_uuid and b.get("new")]
                if not mine:
                    n = len(self.backups)
                    self.backups.append({"scheduleUUID": s_uuid, "new": True, "commonBackupInfo": {
                        "backupUUID": "bbbbbbbb-0000-0000-0000-%012d" % n, "taskUUID": "dddddddd-0000-0000-0000-%012d" % n,
                        "state": state, "createTime": "2026-12-01T10:00:%02dZ" % n}})
                else:
                    mine[0]["commonBackupInfo"]["state"] = state
        hits = [b for b in self.backups if b["scheduleUUID"] in wanted]
        hits.sort(key=lambda b: b["commonBackupInfo"]["createTime"], reverse=True)
        return {"entities": copy.deepcopy(hits[:body["limit"]]), "hasNext": False, "hasPrev": False}

    def writes(self):
        return [(m, p, b) for m, p, b in self.seen if m == "PUT"]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def yba(monkeypatch, s3, clock):
    fake = route_api(monkeypatch, FakeYBA(s3))
    original = _api.YBAClient.from_module.__func__

    def from_module(cls, module, **kw):
        return original(cls, module, sleep=clock.sleep, clock=clock, **kw)

    monkeypatch.setattr(_api.YBAClient, "from_module", classmethod(from_module))
    return fake


def creds():
    return {"s3-live": {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET},
            "s3-dead": {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}}


def run(check=False, diff=False, **args):
    base = dict(yba_url="https://yba.example", yba_api_token=TOKEN, customer_uuid=C, probe_timeout=2,
                storage_credentials=creds(), _ansible_check_mode=check, _ansible_diff=diff)
    base.update(args)
    warnings._global_warnings.clear()
    with patch_module_args(base):
        with pytest.raises(Done) as info:
            backup_schedule.main()
    result = info.value.result
    text = json.dumps(result)
    for secret in (SECRET, TOKEN, KEY_ID):
        assert secret not in text, "a secret leaked into %s" % text
    if result["failed"]:
        assert "\n" not in result["msg"]
    return result


def by_name(result):
    return {s["name"]: s for s in result["schedules"]}


# ------------------------------------------------------------------------------------------- 2.18: classic PUT

def test_resume_classic_check_then_apply_then_idempotent(yba):
    r = run(check=True, diff=True)
    assert r["changed"] and not r["failed"] and yba.writes() == []
    assert r["yba_version"] == CLASSIC_VERSION
    assert r["diff"] == {"before": {"billing-daily": "Active", "orders-cron": "Stopped", "orders-daily": "Paused"},
                         "after": {"billing-daily": "Active", "orders-cron": "Active", "orders-daily": "Active"}}
    assert r["probes"]["s3-live"]["ok"] and r["probes"]["s3-live"]["mode"] == "read"  # no canary in check mode
    assert r["record"]["summary"].startswith("backup schedules: would resume 2 of 3 schedules")
    assert yba.schedules[S_ORDERS]["status"] == "Paused"

    r = run()
    assert r["changed"] and r["probes"]["s3-live"]["mode"] == "canary" and r["probes"]["s3-live"]["ok"]
    puts = {p.rsplit("/", 1)[1]: b for _m, p, b in yba.writes()}
    # each resume echoes the schedule's own recurrence: frequency + unit, or the cron expression only
    assert puts == {S_ORDERS: {"status": "Active", "frequency": 86400000, "frequencyTimeUnit": "HOURS"},
                    S_CRON: {"status": "Active", "cronExpression": "0 2 * * *"}}
    s = by_name(r)
    assert s["orders-daily"]["before"] == "Paused" and s["orders-daily"]["after"] == "Active"
    assert s["orders-daily"]["method"] == "classic" and s["orders-daily"]["changed"]
    assert not s["billing-daily"]["changed"] and s["billing-daily"]["method"] is None
    assert s["orders-daily"]["universe"] == "orders" and s["orders-daily"]["storage_config"] == "s3-live"
    assert all(x["status"] == "Active" for x in yba.schedules.values())
    assert r["record"]["ok"] and r["record"]["changed"]
    assert "PUT /api/v1/customers/%s/schedules/%s 200" % (C, S_ORDERS) in r["requests"]

    yba.seen.clear()
    r = run()
    assert not r["changed"] and yba.writes() == [] and r["probes"] == {}
    assert r["record"]["summary"].startswith("backup schedules: 3 schedules already Active")


def test_failure_count_is_reported_and_warned(yba):
    r = run(names=["orders-daily"])
    assert by_name(r)["orders-daily"]["failure_count"] == 3
    assert any("does not reset it on a resume, one more failed backup pauses it again" in w for w in r["warnings"])
    assert r["next_steps"] and "orders-daily (3)" in r["next_steps"][0]
    assert "failure counts kept: orders-daily 3" in r["record"]["summary"]


def test_stop_by_universe_then_idempotent(yba):
    r = run(state="stopped", universes=["orders"], diff=True)
    assert r["changed"] and [s["name"] for s in r["schedules"]] == ["orders-cron", "orders-daily"]
    assert yba.writes() == [("PUT", "/api/v1/customers/%s/schedules/%s" % (C, S_ORDERS), {"status": "Stopped"})]
    assert r["probes"] == {}  # a stop probes nothing
    assert r["diff"]["after"] == {"orders-cron": "Stopped", "orders-daily": "Stopped"}
    assert yba.schedules[S_BILLING]["status"] == "Active"
    assert not run(state="stopped", universes=[U_ORDERS])["changed"]


def test_classic_conflict_is_retried_until_the_schedule_ends_its_run(yba, clock):
    yba.running_for[S_CRON] = 2
    r = run(names=["orders-cron"])
    assert r["changed"] and not r["failed"]
    assert [m for m, _p, _b in yba.writes()] == ["PUT"] * 3
    assert len(clock.slept) == 2 and all(1 <= d <= 15 for d in clock.slept)
    assert "PUT /api/v1/customers/%s/schedules/%s 409" % (C, S_CRON) in r["requests"]


def test_conflict_past_the_deadline_fails_clearly(yba, clock):
    yba.running_for[S_CRON] = 1000
    r = run(names=["orders-cron"], conflict_timeout=30)
    assert r["failed"] and not r["changed"]
    assert r["msg"].startswith("schedule orders-cron is still running after 30 s (YBA: Cannot edit schedule as it is "
                               "running.)")
    assert clock.now - 1000 <= 30


# ------------------------------------------------------------------------------------ 2024.2+: pause_resume

def test_toggle_release_uses_pause_resume_but_classic_for_paused(yba):
    yba.version = TOGGLE_VERSION
    r = run(run_immediate_backup=True)
    assert r["changed"] and not r["failed"]
    writes = {p: b for _m, p, b in yba.writes()}
    assert writes == {
        "/api/v1/customers/%s/universes/%s/schedules/%s/pause_resume" % (C, U_ORDERS, S_CRON):
            {"status": "Active", "runImmediateBackupOnResume": True},
        # pause_resume refuses Paused -> Active (verifyScheduleToggle): the classic PUT resumes it
        "/api/v1/customers/%s/schedules/%s" % (C, S_ORDERS):
            {"status": "Active", "frequency": 86400000, "frequencyTimeUnit": "HOURS",
             "runImmediateBackupOnResume": True}}
    s = by_name(r)
    assert s["orders-cron"]["method"] == "pause_resume" and s["orders-daily"]["method"] == "classic"
    assert not any("run_immediate_backup" in w for w in r["warnings"])
    assert not run()["changed"]


def test_run_immediate_is_not_sent_to_an_older_release(yba):
    r = run(names=["orders-daily"], run_immediate_backup=True)
    assert r["changed"] and "runImmediateBackupOnResume" not in yba.writes()[0][2]
    assert any(w.startswith("run_immediate_backup needs YBA 2024.2 or later (this is 2.18.1.0-b84): orders-daily "
                            "resumes at the next run time") for w in r["warnings"])


def test_toggle_stop_while_running_is_retried(yba, clock):
    yba.version = TOGGLE_VERSION
    yba.running_for[S_BILLING] = 1
    r = run(state="stopped", names=["billing-daily"])
    assert r["changed"] and yba.schedules[S_BILLING]["status"] == "Stopped"
    assert "PUT /api/v1/customers/%s/universes/%s/schedules/%s/pause_resume 500" % (C, U_BILLING, S_BILLING) \
        in r["requests"]
    assert by_name(r)["billing-daily"]["method"] == "pause_resume"


def test_api_option_forces_a_call(yba):
    yba.version = TOGGLE_VERSION
    r = run(names=["orders-cron"], api="classic")
    assert by_name(r)["orders-cron"]["method"] == "classic"
    yba.version = CLASSIC_VERSION
    r = run(names=["orders-cron"], state="stopped", api="pause_resume")
    # this release has no pause_resume: YBA's 404 is one clear line, nothing changed
    assert r["failed"] and not r["changed"] and "YBA refused to set schedule orders-cron Stopped (pause_resume)" \
        in r["msg"]


# ------------------------------------------------------------------------------------------------ refusals

def test_refuses_to_resume_onto_broken_storage(yba):
    yba.schedules[S_CRON]["taskParams"]["storageConfigUUID"] = CFG_DEAD
    r = run()
    assert r["failed"] and not r["changed"] and yba.writes() == []
    assert r["msg"].startswith("refusing to resume onto broken storage: storage config s3-dead of orders-cron fails "
                               "from ")
    assert "connect failed (refused)" in r["msg"] and r["msg"].endswith("or force=true)")
    assert r["probes"]["s3-dead"]["refused"] and r["probes"]["s3-live"]["ok"]
    assert not r["record"]["ok"] and r["record"]["summary"].startswith("backup schedules: failed: refusing")
    assert yba.schedules[S_ORDERS]["status"] == "Paused"  # nothing moved, not even the schedule on good storage
    # check mode refuses the same way
    assert run(check=True)["failed"]

    r = run(force=True)
    assert r["changed"] and not r["failed"] and yba.schedules[S_CRON]["status"] == "Active"
    assert any(w.startswith("force=true: resuming although storage config s3-dead") for w in r["warnings"])


def test_stop_is_never_refused_for_storage(yba):
    yba.schedules[S_BILLING]["taskParams"]["storageConfigUUID"] = CFG_DEAD
    assert run(state="stopped", names=["billing-daily"])["changed"]


def test_refuses_a_missing_or_deleted_config(yba):
    yba.schedules[S_CRON]["taskParams"]["storageConfigUUID"] = "c0000000-0000-0000-0000-00000000dead"
    r = run(names=["orders-cron"])
    assert r["failed"] and yba.writes() == []
    assert "storage config c0000000-0000-0000-0000-00000000dead of orders-cron does not exist in YBA" in r["msg"]
    yba.schedules[S_CRON]["taskParams"]["storageConfigUUID"] = CFG_LIVE
    yba.configs[CFG_LIVE]["state"] = "QueuedForDeletion"
    r = run(names=["orders-cron"])
    assert r["failed"] and "storage config s3-live of orders-cron is QueuedForDeletion" in r["msg"]


def test_without_credentials_the_probe_checks_reach_and_says_so(yba):
    r = run(names=["orders-cron"], storage_credentials={})
    assert r["changed"] and r["probes"]["s3-live"]["mode"] == "reach" and r["probes"]["s3-live"]["ok"]
    assert any("checked DNS, TCP and TLS only" in w for w in r["warnings"])
    r = run(names=["orders-cron"], state="stopped")
    r = run(names=["orders-cron"], storage_credentials={"*": creds()["s3-live"]})  # the entry for every config
    assert r["changed"] and r["probes"]["s3-live"]["mode"] == "canary" and r["probes"]["s3-live"]["ok"]
    yba.schedules[S_ORDERS]["taskParams"]["storageConfigUUID"] = CFG_DEAD
    r = run(names=["orders-daily"], storage_credentials={})
    assert r["failed"] and "storage config s3-dead" in r["msg"] and yba.schedules[S_ORDERS]["status"] == "Paused"


def test_probe_none_and_reach(yba):
    yba.schedules[S_CRON]["taskParams"]["storageConfigUUID"] = CFG_DEAD
    r = run(names=["orders-cron"], probe="none")
    assert r["changed"] and r["probes"] == {}
    yba.schedules[S_ORDERS]["taskParams"]["storageConfigUUID"] = CFG_DEAD
    r = run(names=["orders-daily"], probe="reach")
    assert r["failed"] and r["probes"]["s3-dead"]["mode"] == "reach"


@pytest.mark.parametrize("args,message", [
    (dict(names=["orders-daily"], universes=["orders"]), "parameters are mutually exclusive: names|universes"),
    (dict(names=["nope", "orders-daily"]), "no backup schedule named nope; nothing changed"),
    (dict(universes=["gone"]), "no universe named gone; nothing changed"),
    (dict(names=[]), "names must list at least one non-empty name or UUID, got []"),
    (dict(universes=[" "]), "universes must list at least one non-empty name or UUID"),
    (dict(state="paused"), "value of state must be one of: active, stopped, got: paused"),
    (dict(wait_timeout=0), "wait_timeout must be more than 0, got 0"),
    (dict(conflict_timeout=-1), "conflict_timeout must be 0 or more, got -1"),
    (dict(storage_credentials={"s3-live": "secret"}), "storage_credentials maps a config name to a dict"),
])
def test_bad_input_is_one_line_and_changes_nothing(yba, args, message):
    r = run(**args)
    assert r["failed"] and message in r["msg"] and yba.writes() == []


def test_schedule_without_recurrence_is_refused(yba):
    yba.schedules[S_CRON].update(cronExpression=None, frequency=0)
    r = run(names=["orders-cron"])
    assert r["failed"] and r["msg"] == ("schedule orders-cron has neither a frequency nor a cron expression to resume "
                                        "with; nothing changed") and yba.writes() == []


def test_an_unusable_later_schedule_stops_the_run_before_the_first_put(yba):
    # every body is built before the first PUT: the first schedule is not resumed when the second cannot be
    yba.schedules[S_CRON].update(cronExpression=None, frequency=0)
    for check in (True, False):
        r = run(check=check, names=["orders-daily", "orders-cron"])
        assert r["failed"] and not r["changed"] and yba.writes() == []
        assert r["msg"] == ("schedule orders-cron has neither a frequency nor a cron expression to resume with; "
                            "nothing changed")
        assert yba.schedules[S_ORDERS]["status"] == "Paused" and not r["record"]["ok"]
        assert [s["after"] for s in r["schedules"]] == ["Paused", "Stopped"]


def test_an_api_error_fails_the_record_too(yba):
    yba.configs_status = 403
    r = run()
    assert r["failed"] and not r["changed"] and yba.writes() == []
    assert "User does not have access" in r["msg"]
    assert not r["record"]["ok"] and r["record"]["summary"].startswith("backup schedules: failed: ")
    assert "User does not have access" in r["record"]["summary"]


# ------------------------------------------------------------------------------------------------ the wait

def test_wait_for_backup_completed(yba, clock):
    yba.backups.append({"scheduleUUID": S_ORDERS, "commonBackupInfo": {
        "backupUUID": "bbbbbbbb-1111-0000-0000-000000000000", "taskUUID": "dddddddd-1111-0000-0000-000000000000",
        "state": "Failed", "createTime": "2026-11-28T10:00:00Z"}})
    yba.produce[S_ORDERS] = ["InProgress", "InProgress", "Completed"]
    r = run(names=["orders-daily"], wait_for_backup=True, wait_timeout=600, poll_interval=5)
    assert not r["failed"] and r["changed"]
    backup = by_name(r)["orders-daily"]["backup"]
    assert backup["state"] == "Completed" and backup["uuid"].startswith("bbbbbbbb-0000")  # the new one, not the old
    assert r["record"]["ok"] and "backups: orders-daily Completed" in r["record"]["summary"]
    assert clock.slept and clock.slept[0] == 5


@pytest.mark.parametrize("as_list", [False, True])
def test_wait_for_backup_failed_names_the_task_error(yba, as_list):
    yba.subtasks_as_list = as_list  # {"failedSubTasks": [...]} or the bare list: both read
    yba.produce[S_ORDERS] = ["InProgress", "Failed"]
    r = run(names=["orders-daily"], wait_for_backup=True, wait_timeout=600)
    assert r["failed"] and r["changed"]  # the resume happened
    assert r["msg"].startswith("the first backup of schedule orders-daily after the resume failed (backup ")
    assert r["msg"].endswith("Failed to upload to s3://%s: access denied" % BUCKET)
    assert by_name(r)["orders-daily"]["backup"]["state"] == "Failed" and not r["record"]["ok"]
    assert by_name(r)["orders-daily"]["backup"]["create_time"] == "2026-12-01T10:00:00Z"


def test_wait_for_backup_times_out_with_the_next_run(yba, clock):
    r = run(names=["orders-daily"], wait_for_backup=True, wait_timeout=60, poll_interval=10)
    assert r["failed"] and r["changed"]
    assert r["msg"] == ("no Completed backup after the resume within 60 s for orders-daily (no backup yet, next run "
                        "2026-12-01T00:00:00Z)")
    assert 60 <= clock.now - 1000 <= 61


def test_wait_warns_when_the_next_run_is_after_the_wait(yba, clock):
    yba.schedules[S_ORDERS]["nextScheduleTaskTime"] = "2999-01-01T00:00:00Z"
    r = run(names=["orders-daily"], wait_for_backup=True, wait_timeout=30)
    assert r["failed"] and "next run 2999-01-01T00:00:00Z" in r["msg"]
    assert any(w.startswith("schedule orders-daily runs next at 2999-01-01T00:00:00Z, after the wait ends") for w in
               r["warnings"])


def test_wait_ends_when_yba_pauses_the_schedule_again(yba):
    def pause_on_read(original=yba.page_backups):
        def page(body):
            yba.schedules[S_ORDERS]["status"] = "Paused"
            return original(body)
        return page

    yba.page_backups = pause_on_read()
    r = run(names=["orders-daily"], wait_for_backup=True, wait_timeout=600)
    assert r["failed"] and r["msg"] == "schedule orders-daily went Paused again during the wait (failureCount 3)"


def test_check_mode_never_waits_nor_writes(yba, clock):
    yba.produce[S_ORDERS] = ["Completed"]
    r = run(check=True, names=["orders-daily"], wait_for_backup=True)
    assert r["changed"] and yba.writes() == [] and clock.slept == []
    assert not any(p.endswith("backups/page") for _m, p, _b in yba.seen)
