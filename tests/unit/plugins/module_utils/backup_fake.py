# A routed fake of YBA's backup API for the unit tests of _backup and the backup module: universes, storage configs,
# schedules/page, backups/page, POST backups (409 while the universe is locked, as BackupHelper.createBackupTask),
# tasks/{t}, tasks/{t}/failed_subtasks, backups/{b}, universes/{u}/backups/tasks/{t}. A backup writes its objects to
# the real moto S3 of the unit conftest when its task completes (the YBC layout with the `success` marker, or the
# script layout with SnapshotInfoPB). Hooks make a task fail, never end, vanish in a restart (a YBC backup resumes
# under a new task), end "Platform restarted." (a script backup ends Failed), be lost with its row left InProgress
# forever (orphan), fail before writing a row (no_row), or lose the answer of a POST (lost_answers).
from __future__ import annotations

import copy
import datetime
import json
import threading
import uuid as uuidlib

from ansible_collections.yba.remediation.plugins.module_utils import _api

C = "cccccccc-cccc-cccc-cccc-cccccccccccc"
CFG = "5f000000-0000-0000-0000-000000000001"
CFG2 = "5f000000-0000-0000-0000-000000000002"
BUCKET = "yba-backups"


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def universe(name, ysql=True, ycql=True, paused=False, take_backups=True):
    return {"universeUUID": str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, name)), "name": name,
            "universeDetails": {"universePaused": paused, "clusters": [
                {"clusterType": "PRIMARY", "userIntent": {"enableYSQL": ysql, "enableYCQL": ycql}}]},
            "universeConfig": {"takeBackups": "true" if take_backups else "false"}}


class FakeYBA:
    def __init__(self, s3, universes=None, polls=2, category="YB_CONTROLLER"):
        self.s3 = s3
        self.lock = threading.Lock()
        self.universes = universes or [universe("orders"), universe("billing", ycql=False)]
        key = s3["keys"]["yba"]
        self.configs = {CFG: {"configUUID": CFG, "configName": "s3-main", "name": "S3", "type": "STORAGE",
                              "state": "Active", "data": {"BACKUP_LOCATION": "s3://%s/main" % BUCKET,
                                                          "AWS_HOST_BASE": s3["url"], "PATH_STYLE_ACCESS": True,
                                                          "SIGNING_REGION": "us-east-1",
                                                          "AWS_ACCESS_KEY_ID": mask(key["AccessKeyId"]),
                                                          "AWS_SECRET_ACCESS_KEY": mask(key["SecretAccessKey"])}}}
        self.schedules = []
        self.backups = {}  # uuid -> Backup
        self.tasks = {}  # uuid -> {status, backup, polls, error}
        self.polls = polls
        self.category = category
        self.task_route = True
        self.seen = []
        # hooks
        self.conflicts = {}  # universe uuid -> number of 409 answers before accepting
        self.fail_task = {}  # universe uuid -> error text of the task's subtask
        self.hang = set()  # universe uuids whose tasks never end
        self.restart_ybc = set()  # universe uuids whose first task vanishes; the backup resumes under a new task
        self.restart_script = set()  # universe uuids whose first task ends "Platform restarted.", backup Failed
        self.unreachable_polls = 0  # the next task polls that get no answer
        self.unavailable_polls = 0  # the next task polls answered 503 (the platform starting)
        self.vanish = set()  # universe uuids whose first task and backup row disappear (a metadata restore)
        self.post_error = None  # (status, message) for every POST backups
        # the answers of the next POSTs that are lost: ("timeout" | status, started); a status answers a proxy's page
        # (no YBA error body); started: YBA created the backup before the answer was lost
        self.lost_answers = []
        self.orphan = set()  # universe uuids whose first task is lost while its row stays InProgress under it forever
        self.no_row = set()  # universe uuids whose tasks fail before they create the backup row
        # reads of a resumed backup's row that still show the old task (CustomerTaskManager moves the customer task
        # at once; the resumed CreateBackup writes the new task into the row when it runs)
        self.resume_lag = 0
        self.lagging = {}  # backup uuid -> [new task uuid, reads left]
        self.running = {}  # universe uuid -> backups running now
        self.max_running = 0
        self.max_per_universe = 0

    # -------------------------------------------------------------------------------------- helpers
    def add_config(self, uuid, name, prefix):
        cfg = copy.deepcopy(self.configs[CFG])
        cfg.update(configUUID=uuid, configName=name)
        cfg["data"]["BACKUP_LOCATION"] = "s3://%s/%s" % (BUCKET, prefix)
        self.configs[uuid] = cfg

    def add_schedule(self, u, backup_type="PGSQL_TABLE_TYPE", frequency_hours=24, status="Active", cfg=CFG):
        self.schedules.append({"scheduleUUID": str(uuidlib.uuid4()), "scheduleName": "%s-%s" % (u["name"], backup_type),
                               "status": status, "taskType": "CreateBackup", "frequency": frequency_hours * 3600000,
                               "frequencyTimeUnit": "HOURS",
                               "backupInfo": {"universeUUID": u["universeUUID"], "backupType": backup_type,
                                              "storageConfigUUID": cfg}})

    def add_backup(self, u, backup_type, age_seconds, cfg=CFG, state="Completed", now=None):
        import time
        now = time.time() if now is None else now
        b_uuid = str(uuidlib.uuid4())
        self.backups[b_uuid] = {
            "backupUUID": b_uuid, "universeUUID": u["universeUUID"], "universeName": u["name"], "storageConfigUUID": cfg,
            "state": state, "category": self.category, "taskUUID": str(uuidlib.uuid4()),
            "createTime": iso(now - age_seconds - 5), "completionTime": iso(now - age_seconds),
            "backupInfo": {"backupType": backup_type, "universeUUID": u["universeUUID"], "storageConfigUUID": cfg,
                           "backupList": []}}
        return b_uuid

    def posts(self):
        return [(m, p, b) for m, p, b in self.seen if m == "POST" and p.endswith("/backups")]

    def error(self, client, method, path, status, message):
        return client._http_error(method, path, status, json.dumps({"success": False, "error": message}).encode(),
                                  None)

    def lost(self, client, method, path, kind):
        if kind == "timeout":
            return _api.YBATimeout("no answer within 30.0 s (timed out)", method=method, path=path)
        return client._http_error(method, path, kind, b"<html><body><h1>Gateway Time-out</h1></body></html>", None)

    def resp(self, b):
        """A BackupResp of backups/page."""
        info = b["backupInfo"]
        return {"commonBackupInfo": {"backupUUID": b["backupUUID"], "taskUUID": b["taskUUID"], "state": b["state"],
                                     "storageConfigUUID": b["storageConfigUUID"], "createTime": b["createTime"],
                                     "completionTime": b.get("completionTime"),
                                     "responseList": [{"keyspace": s["keyspace"], "defaultLocation": s["storageLocation"]}
                                                      for s in info["backupList"]]},
                "universeUUID": b["universeUUID"], "universeName": b["universeName"], "backupType": info["backupType"],
                "category": b["category"]}

    # ------------------------------------------------------------------------------------------ routes
    def send(self, client, method, path, body):
        with self.lock:
            self.seen.append((method, path, copy.deepcopy(body)))
            return self._send(client, method, path, body)

    def _send(self, client, method, path, body):
        import time
        base = "/api/v1/customers/%s/" % C
        if path == "/api/v1/customers":
            return [{"uuid": C}]
        rest = path[len(base):]
        parts = rest.split("/")
        if rest == "universes":
            return copy.deepcopy(self.universes)
        if rest == "configs":
            return copy.deepcopy(list(self.configs.values()))
        if rest == "schedules/page":
            return {"entities": copy.deepcopy(self.schedules), "hasNext": False, "hasPrev": False}
        if rest == "backups/page":
            f = body["filter"]
            hits = [b for b in self.backups.values()
                    if (not f["universeUUIDList"] or b["universeUUID"] in f["universeUUIDList"])
                    and (not f["states"] or b["state"] in f["states"])
                    and (not f["storageConfigUUIDList"] or b["storageConfigUUID"] in f["storageConfigUUIDList"])]
            hits.sort(key=lambda b: b["createTime"], reverse=True)
            page = hits[body["offset"]:body["offset"] + body["limit"]]
            return {"entities": [self.resp(b) for b in page], "hasNext": body["offset"] + len(page) < len(hits),
                    "hasPrev": False}
        if rest == "backups" and method == "POST":
            if self.post_error:
                raise self.error(client, method, path, *self.post_error)
            if self.lost_answers:
                kind, started = self.lost_answers.pop(0)
                if started:
                    self.lost_answers.insert(0, None)  # create it below, then lose the answer
                    self.lost_kind = kind
                else:
                    raise self.lost(client, method, path, kind)
            u = body["universeUUID"]
            if self.conflicts.get(u):
                self.conflicts[u] -= 1
                raise self.error(client, method, path, 409, "Cannot run Backup task since the universe %s is currently "
                                 "in a locked state." % u)
            if self.running.get(u):
                raise self.error(client, method, path, 409, "Cannot run Backup task since the universe %s is currently "
                                 "in a locked state." % u)
            if body.get("timeBeforeDelete", 0) != 0 and not body.get("expiryTimeUnit"):
                raise self.error(client, method, path, 400, "Please provide time unit for backup expiry")
            uni = next(x for x in self.universes if x["universeUUID"] == u)
            b_uuid, t_uuid = str(uuidlib.uuid4()), str(uuidlib.uuid4())
            category = body.get("backupCategory") or self.category
            folder = ("ybc_backup" if category == "YB_CONTROLLER" else "backup") + "-" + b_uuid.replace("-", "")
            loc = self.configs[body["storageConfigUUID"]]["data"]["BACKUP_LOCATION"]
            location = "%s/univ-%s/%s/full/%s/keyspace-yugabyte_%s" % (
                loc, u, folder, iso(time.time())[:-1], uuidlib.uuid4().hex)
            self.backups[b_uuid] = {
                "backupUUID": b_uuid, "universeUUID": u, "universeName": uni["name"],
                "storageConfigUUID": body["storageConfigUUID"], "state": "InProgress", "category": category,
                "taskUUID": t_uuid, "createTime": iso(time.time()), "body": copy.deepcopy(body),
                "backupInfo": {"backupType": body["backupType"], "universeUUID": u,
                               "storageConfigUUID": body["storageConfigUUID"], "backupSizeInBytes": 0,
                               "backupList": [{"keyspace": "yugabyte", "storageLocation": location}]}}
            self.tasks[t_uuid] = {"status": "Running", "backup": b_uuid, "polls": self.polls, "error": None,
                                  "universe": u}
            self.running[u] = self.running.get(u, 0) + 1
            self.max_per_universe = max(self.max_per_universe, self.running[u])
            self.max_running = max(self.max_running, sum(1 for v in self.running.values() if v))
            if u in self.no_row:
                del self.backups[b_uuid]
                self.tasks[t_uuid].update(status="Failure", error="Failed to execute task CreateBackup: no keyspace")
                self.running[u] -= 1
            if self.lost_answers and self.lost_answers[0] is None:
                self.lost_answers.pop(0)
                raise self.lost(client, method, path, self.lost_kind)
            return {"taskUUID": t_uuid, "resourceUUID": None}
        if parts[0] == "tasks" and len(parts) == 3 and parts[2] == "failed_subtasks":
            task = self.tasks.get(parts[1])
            if task is None:
                raise self.error(client, method, path, 400, "Invalid Customer Task UUID: %s" % parts[1])
            if task["status"] != "Failure":
                return {"failedSubTasks": []}
            return {"failedSubTasks": [{"subTaskUUID": str(uuidlib.uuid4()), "subTaskType": "BackupTableYbc",
                                        "subTaskState": "Failure", "errorString": task["error"]}]}
        if parts[0] == "tasks" and len(parts) == 2:
            if self.unreachable_polls:
                self.unreachable_polls -= 1
                raise _api.YBAUnreachable("cannot reach https://yba.example: [Errno 111] Connection refused",
                                          method=method, path=path)
            if self.unavailable_polls:
                self.unavailable_polls -= 1
                raise self.error(client, method, path, 503, "Service Unavailable")
            task = self.tasks.get(parts[1])
            if task is None:
                raise self.error(client, method, path, 400, "Invalid Customer Task UUID: %s" % parts[1])
            self.advance(parts[1], task)
            if parts[1] not in self.tasks:
                raise self.error(client, method, path, 400, "Invalid Customer Task UUID: %s" % parts[1])
            return {"title": "Created Backup", "status": task["status"], "percent": 100.0 if task["status"] ==
                    "Success" else 50.0, "type": "Create", "target": "Backup"}
        if parts[0] == "backups" and len(parts) == 2 and method == "GET":
            b = self.backups.get(parts[1])
            if b is None:
                raise self.error(client, method, path, 400, "Invalid customer or backup UUID")
            if parts[1] in self.lagging:
                lag = self.lagging[parts[1]]
                lag[1] -= 1
                if lag[1] <= 0:
                    b["taskUUID"] = self.lagging.pop(parts[1])[0]
            return {k: v for k, v in copy.deepcopy(b).items() if k != "body"}
        if parts[0] == "universes" and len(parts) == 5 and parts[2:4] == ["backups", "tasks"]:
            if not self.task_route:
                raise self.error(client, method, path, 404, "Not found")
            return [{k: v for k, v in copy.deepcopy(b).items() if k != "body"} for b in self.backups.values()
                    if b["taskUUID"] == parts[4] and b["universeUUID"] == parts[1]]
        raise AssertionError((method, path))

    def advance(self, t_uuid, task):
        import time
        if task["status"] != "Running":
            return
        u = task["universe"]
        b = self.backups[task["backup"]]
        if u in self.orphan:
            # YBA lost the task (a metadata restore); nothing will ever end its row, which keeps the task UUID
            self.orphan.discard(u)
            del self.tasks[t_uuid]
            self.running[u] -= 1
            return
        if u in self.vanish:
            self.vanish.discard(u)
            del self.tasks[t_uuid], self.backups[task["backup"]]
            self.running[u] -= 1
            return
        if u in self.restart_ybc:
            # the platform restarted: this task is gone, the YBC backup resumes under a new task
            self.restart_ybc.discard(u)
            del self.tasks[t_uuid]
            new = str(uuidlib.uuid4())
            self.tasks[new] = dict(task, polls=self.polls)
            if self.resume_lag:
                self.lagging[task["backup"]] = [new, self.resume_lag]
            else:
                b["taskUUID"] = new
            # the caller sees "task gone" on its next poll
            raise_gone = True
        else:
            raise_gone = False
        if raise_gone:
            return
        if u in self.restart_script:
            self.restart_script.discard(u)
            task.update(status="Failure", error="Platform restarted.")
            b["state"] = "Failed"
            self.running[u] -= 1
            return
        if u in self.hang:
            return
        task["polls"] -= 1
        if task["polls"] > 0:
            return
        if u in self.fail_task:
            task.update(status="Failure", error=self.fail_task[u])
            b["state"] = "Failed"
            self.running[u] -= 1
            return
        marker = "success" if b["category"] == "YB_CONTROLLER" else "SnapshotInfoPB"
        for sub in b["backupInfo"]["backupList"]:
            key = sub["storageLocation"][len("s3://%s/" % BUCKET):]
            for name, body in ((marker, b"m"), ("tablet-1/data.sst", b"d" * 100)):
                self.s3["admin"].put_object(Bucket=BUCKET, Key="%s/%s" % (key, name), Body=body)
        b["backupInfo"]["backupSizeInBytes"] = 101
        b.update(state="Completed", completionTime=iso(time.time()))
        task["status"] = "Success"
        self.running[u] -= 1


def mask(value):
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def install(monkeypatch, fake):
    def send(self, method, url, path, data, headers, timeout, raw):
        self.requests.append((method, path, 200))
        return fake.send(self, method, path, json.loads(data) if data else None)

    monkeypatch.setattr(_api.YBAClient, "_send_once", send)
    return fake
