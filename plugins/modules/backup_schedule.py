#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: resume or stop YBA backup schedules, version-aware, refusing to resume onto broken storage.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: backup_schedule
short_description: Resume or stop YugabyteDB Anywhere backup schedules, refusing to resume onto broken storage
version_added: 1.0.0
description:
  - Ensures YBA backup schedules (task type C(CreateBackup)) are C(Active) or C(Stopped). YBA pauses a schedule
    itself (C(Paused)) after 3 failed backups; a user may only send C(Active) or C(Stopped).
  - Selects the schedules by O(names) (schedule names or UUIDs), by O(universes) (every backup schedule of these
    universes), or takes every backup schedule of the customer.
  - Reads YBA's version (C(GET /api/v1/app_version)). Releases up to 2024.1 move a status with
    C(PUT /customers/{c}/schedules/{s}), a resume echoing the schedule's own C(frequency) and C(frequencyTimeUnit)
    or its C(cronExpression) (read with C(GET schedules/{s})). 2024.2 (2.23) and later use
    C(PUT /customers/{c}/universes/{u}/schedules/{s}/pause_resume) between C(Active) and C(Stopped); YBA's
    C(pause_resume) refuses any other move ("Invalid state transition from Paused to Active"), so a C(Paused)
    schedule is resumed or stopped with the classic C(PUT) there too. RV(schedules[].method) names the call used.
  - Every request body is built before the first change, so a schedule to resume with the classic C(PUT) that has
    neither a frequency nor a cron expression fails the run, naming it, with nothing changed.
  - YBA answers 409 "Cannot edit schedule as it is running." while the schedule runs (and C(pause_resume) a 500
    "Schedule is currently locked" to a stop); such a change is sent again with a jittered backoff until
    O(conflict_timeout).
  - Before a resume, the storage config of every schedule to resume is probed from where the module runs (the
    YBA host, where YBA calls the storage from), with YBA's client settings and the secrets of
    O(storage_credentials). When a probe fails nothing is changed and the module fails naming the config and the
    probe's error, unless O(force=true).
  - YBA does not reset a schedule's C(failureCount) on a resume; at 3 one more failure pauses it again. Each
    schedule's count is returned, and a warning says so when it is above 0.
  - With O(wait_for_backup), waits after the resume until every resumed schedule produced a C(Completed) backup
    newer than the resume; a C(Failed) one ends the wait with the error of its task's failed subtasks.
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.attributes
  - yba.remediation.storage
options:
  names:
    description:
      - The schedules, by name (C(scheduleName)) or UUID. A name that matches no backup schedule, or two, fails
        before any change.
      - Mutually exclusive with O(universes). Without both, every backup schedule of the customer is selected.
    type: list
    elements: str
  universes:
    description:
      - Every backup schedule of these universes, by universe name or UUID. An unknown universe fails before any
        change; a universe without a backup schedule is a warning.
    type: list
    elements: str
  state:
    description:
      - V(active) resumes (C(Active)), V(stopped) stops (C(Stopped)). C(Paused) is YBA's own state and cannot be
        asked for.
    type: str
    choices: [active, stopped]
    default: active
  api:
    description:
      - V(auto) picks the call from YBA's version (see the description); V(classic) forces
        C(PUT schedules/{s}); V(pause_resume) forces C(pause_resume) for moves between C(Active) and C(Stopped).
    type: str
    choices: [auto, classic, pause_resume]
    default: auto
  run_immediate_backup:
    description:
      - Ask YBA to run the backup missed while the schedule was not Active at once (C(runImmediateBackupOnResume)).
      - YBA 2024.2 and later only (C(pause_resume), and the classic C(PUT) of those releases); older releases do not
        know it, so it is not sent there and a warning says so.
    type: bool
    default: false
  probe:
    description:
      - How far the storage probe before a resume goes. V(canary) puts, reads, lists and deletes a canary object
        under the location's prefix (YBA's own validation); V(read) lists only; V(reach) checks DNS, TCP and TLS
        only (no credentials, no boto3); V(none) does not probe.
      - In check mode V(canary) becomes V(read), so nothing is written to the bucket.
      - When YBA holds the config's keys and O(storage_credentials) does not give them, the probe cannot sign
        and checks DNS, TCP and TLS only, with a warning.
    type: str
    choices: [canary, read, reach, none]
    default: canary
  probe_timeout:
    description: Seconds each network step of the probe may take.
    type: float
    default: 10
  probe_ca_path:
    description: PEM file of the CA(s) the probe trusts for an HTTPS storage endpoint, where the module runs.
    type: path
  probe_validate_certs:
    description: Whether the probe verifies the storage endpoint's TLS certificate.
    type: bool
    default: true
  force:
    description:
      - Resume even when the probe of a schedule's storage fails (or its config is gone or being deleted). The
        refusal becomes a warning.
    type: bool
    default: false
  conflict_timeout:
    description:
      - Seconds to keep sending a change that YBA refuses because the schedule is running now.
    type: float
    default: 120
  wait_for_backup:
    description:
      - After resuming, wait until each resumed schedule produced a C(Completed) backup newer than the resume.
      - Only schedules this run resumed are waited for; with nothing resumed there is nothing to wait for.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds the wait of O(wait_for_backup) may take in all.
      - YBA starts a resumed schedule's backup at its next run time (at once when that time went by while it was
        not Active), then the backup itself takes its time.
    type: float
    default: 1800
  poll_interval:
    description: Seconds between two looks at the backups during the wait (grows by half up to 4 times as much).
    type: float
    default: 5
attributes:
  check_mode:
    support: full
    details:
      - Nothing is changed; the plan is returned and the probe does not write (V(canary) runs as V(read)).
  diff_mode:
    support: full
  idempotent:
    support: full
requirements:
  - boto3 where the module runs, for the probe (not with O(probe=reach) or O(probe=none))
notes:
  - Run it on the YBA host, so the probe speaks for YBA's own access to the storage; RV(probed_from) names the host.
  - A resumed schedule runs at its next run time; when that time went by while it was paused or stopped, YBA
    runs it at its next scheduler tick (every 2 minutes).
seealso:
  - module: yba.remediation.storage_config
  - module: yba.remediation.backup_info
"""

EXAMPLES = r"""
- name: Resume every backup schedule once the storage works again, and wait for the next backups
  yba.remediation.backup_schedule:
    yba_url: https://yba.example.com
    yba_api_token: "{{ vault_yba_api_token }}"
    ca_path: /opt/yugabyte/data/yba-installer/certs/ca.pem
    state: active
    storage_credentials:
      s3-prod:
        AWS_ACCESS_KEY_ID: "{{ vault_s3_access_key }}"
        AWS_SECRET_ACCESS_KEY: "{{ vault_s3_secret_key }}"
    wait_for_backup: true
    wait_timeout: 3600
  register: schedules

- name: Stop the schedules of one universe during maintenance
  yba.remediation.backup_schedule:
    universes: [orders-prod]
    state: stopped

- name: Resume one schedule even though the probe from here fails (the storage works from the DB nodes)
  yba.remediation.backup_schedule:
    names: [orders-daily]
    force: true
"""

RETURN = r"""
schedules:
  description: The selected schedules, in the order asked for (else by name).
  returned: always
  type: list
  elements: dict
  contains:
    uuid:
      description: C(scheduleUUID).
      type: str
      returned: always
    name:
      description: C(scheduleName).
      type: str
      returned: always
    universe:
      description: The name of the schedule's universe (its UUID when YBA does not list it).
      type: str
      returned: always
    universe_uuid:
      description: The UUID of the schedule's universe.
      type: str
      returned: always
    storage_config:
      description: The name of the schedule's storage config (its UUID when YBA does not list it).
      type: str
      returned: always
    before:
      description: The status before the run (V(Active), V(Paused) or V(Stopped)).
      type: str
      returned: always
    after:
      description: The status after the run as YBA reads it back; in check mode, the status it would have.
      type: str
      returned: always
    changed:
      description: Whether the status moved (would move, in check mode).
      type: bool
      returned: always
    failure_count:
      description: YBA's C(failureCount) of the schedule (not reset by a resume; at 3 YBA pauses it).
      type: int
      returned: always
    method:
      description: The call that moved (would move) the status, V(classic) or V(pause_resume); V(null) when unchanged.
      type: str
      returned: always
    next_run:
      description: YBA's C(nextScheduleTaskTime) after the run (UTC), when it has one.
      type: str
      returned: always
    backup:
      description:
        - With O(wait_for_backup), the backup waited for - C(uuid), C(state), C(create_time), C(completion_time),
          C(task_uuid) and, for a failure, C(error). V(null) otherwise.
      type: dict
      returned: always
diff:
  description: The status of each selected schedule before and after, by schedule name.
  returned: always
  type: dict
  contains:
    before:
      description: The statuses before the run.
      type: dict
      returned: always
    after:
      description: The statuses after the run (or as they would be in check mode).
      type: dict
      returned: always
probes:
  description:
    - The storage probes run before the resume, by config name - C(ok), C(mode), C(failed_step), C(error_class),
      C(error), C(summary) and C(refused) (the probe stopped the resume). No secret.
  returned: always
  type: dict
probed_from:
  description: The host the module (and the probes) ran on.
  returned: always
  type: str
yba_version:
  description: YBA's version from C(GET /api/v1/app_version).
  returned: always
  type: str
  sample: 2.18.1.0-b84
next_steps:
  description: What to do next (schedules with a failure count YBA kept, a schedule that will not run soon).
  returned: always
  type: list
  elements: str
requests:
  description: The API requests sent, as C(METHOD path status), in order.
  returned: always
  type: list
  elements: str
record:
  description:
    - The run record of the step, without secrets - C(state), C(check_mode), C(changed), C(schedules) (per schedule
      C(name), C(universe), C(before), C(after), C(changed), C(failure_count), C(method), C(backup)), C(ok) (every
      selected schedule has the asked status and, with O(wait_for_backup), a Completed backup followed each
      resume), C(next_steps) and C(summary) (one line).
  returned: always
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _freshness as fr
from ansible_collections.yba.remediation.plugins.module_utils import _s3
from ansible_collections.yba.remediation.plugins.module_utils import _schedule as sch
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc


class Runner:
    def __init__(self, module, client):
        self.module = module
        self.p = module.params
        self.client = client
        self.here = _api.this_host()
        self.desired = sch.DESIRED[self.p["state"]]
        self.toggle = False
        self.configs = []
        self.error = None
        self.wrote = False
        self.items = []
        self.result = dict(changed=False, schedules=[], diff=dict(before={}, after={}), probes={},
                           probed_from=self.here, yba_version=None, next_steps=[], requests=[])

    # ------------------------------------------------------------------------------------------ helpers
    def fail(self, msg, **extra):
        self.error = _api.one_line(msg)
        self.finish()
        self.result.update(extra)
        self.result["changed"] = self.wrote
        self.module.fail_json(msg=self.client.scrub(_api.one_line(msg)), **self.result)

    def finish(self):
        self.result["schedules"] = [self.shown(i) for i in self.items]
        self.result["diff"] = {"before": {i["name"]: i["before"] for i in self.items},
                               "after": {i["name"]: i["after"] for i in self.items}}
        self.result["requests"] = ["%s %s %s" % (m, p, s if s is not None else "-") for m, p, s in self.client.requests]
        self.result["record"] = self.record()

    @staticmethod
    def shown(item):
        return {k: item[k] for k in ("uuid", "name", "universe", "universe_uuid", "storage_config", "before", "after",
                                     "changed", "failure_count", "method", "next_run", "backup")}

    def record(self):
        check = self.module.check_mode
        moved = [i for i in self.items if i["changed"]]
        ok = all(i["after"] == self.desired for i in self.items) and (
            not self.p["wait_for_backup"] or check
            or all((i["backup"] or {}).get("state") == bi.COMPLETED for i in moved if i["after"] == sch.ACTIVE))
        verb, done = {sch.ACTIVE: ("resume", "resumed"), sch.STOPPED: ("stop", "stopped")}[self.desired]
        if moved:
            what = "%s %d of %d schedule%s (%s)" % ("would " + verb if check else done,
                                                    len(moved), len(self.items), "" if len(self.items) == 1 else "s",
                                                    ", ".join("%s %s->%s" % (i["name"], i["before"], i["after"])
                                                              for i in moved))
        elif any(i["planned"] for i in self.items):
            left = [i for i in self.items if i["after"] != self.desired]
            plural = "" if len(self.items) == 1 else "s"
            states = ", ".join("%s %s" % (i["name"], i["after"]) for i in left)
            what = "%d of %d schedule%s not %s (%s)" % (len(left), len(self.items), plural, self.desired, states)
        else:
            what = "%d schedule%s already %s" % (len(self.items), "" if len(self.items) == 1 else "s", self.desired)
        waited = [i for i in moved if i["backup"]]
        if waited:
            what += "; backups: " + ", ".join("%s %s" % (i["name"], i["backup"]["state"]) for i in waited)
        failing = [i for i in self.items if i["failure_count"]]
        if failing:
            what += "; failure counts kept: " + ", ".join("%s %d" % (i["name"], i["failure_count"]) for i in failing)
        summary = "backup schedules: %s" % what
        if self.error:
            ok = False
            summary = "backup schedules: failed: %s%s" % (self.error, " (%s)" % what if self.items else "")
        return {"state": self.p["state"], "check_mode": check, "changed": bool(moved), "ok": ok,
                "yba_version": self.result["yba_version"],
                "schedules": [{k: i[k] for k in ("name", "universe", "before", "after", "changed", "failure_count",
                                                 "method", "backup")} for i in self.items],
                "next_steps": list(self.result["next_steps"]), "summary": self.client.scrub(summary)}

    # --------------------------------------------------------------------------------------------- read
    def read(self):
        p = self.p
        version = self.client.app_version(retries=self.client.retries).get("version")
        self.result["yba_version"] = version
        if p["api"] == "auto":
            toggle = sch.serves_toggle(version)
            if toggle is None:
                self.module.warn("YBA's version %r cannot be read: using the classic PUT schedules/{s}" % (version,))
                toggle = False
        else:
            toggle = p["api"] == sch.TOGGLE
        self.toggle = toggle
        query = {"filter": dict(sch.SCHEDULE_FILTER), "sortBy": "scheduleName", "direction": "ASC"}
        schedules = list(self.client.paged(self.client.cpath("schedules/page"), query, limit=200))
        universes = self.client.get(self.client.cpath("universes")) or []
        picked, problems = sch.select(schedules, universes, p["names"], p["universes"])
        if problems:
            self.fail("%s; nothing changed" % "; ".join(problems))
        for ref in p["universes"] or []:
            uni = next((u for u in universes if ref in (u.get("name"), u.get("universeUUID"))), None)
            if uni and not any(str(bi.schedule_universe(s)) == str(uni.get("universeUUID")) for s in picked):
                self.module.warn("universe %s has no backup schedule" % ref)
        if not picked:
            self.module.warn("no backup schedule selected: nothing to do")
        names = {str(u.get("universeUUID")): u.get("name") for u in universes}
        self.configs = [c for c in (self.client.get(self.client.cpath("configs")) or []) if c.get("type") == "STORAGE"]
        config_names = {str(c.get("configUUID")): c.get("configName") for c in self.configs}
        for s in picked:
            u_uuid = bi.schedule_universe(s)
            cfg = fr.schedule_info(s)["storage_config_uuid"]
            before = s.get("status")
            changed = before != self.desired
            self.items.append({
                "uuid": s.get("scheduleUUID"), "name": sch.name_of(s), "universe": names.get(str(u_uuid)) or u_uuid,
                "universe_uuid": u_uuid, "storage_config": config_names.get(str(cfg)) or cfg,
                "storage_config_uuid": cfg, "before": before, "after": before,
                "planned": changed, "changed": False, "failure_count": sch.failure_count(s),
                "method": sch.method_for(before, self.desired, toggle) if changed else None,
                "next_run": None, "backup": None, "entity": s})

    # -------------------------------------------------------------------------------------------- probe
    def probe_storage(self):
        """Probe the storage of every schedule to resume; refuse (fail before any change) unless force."""
        p = self.p
        resumes = [i for i in self.items if i["planned"] and self.desired == sch.ACTIVE]
        if not resumes or p["probe"] == "none":
            return
        mode = "read" if p["probe"] == "canary" and self.module.check_mode else p["probe"]
        refusals = []
        for cfg_uuid in sorted({str(i["storage_config_uuid"]) for i in resumes}):
            users = [i["name"] for i in resumes if str(i["storage_config_uuid"]) == cfg_uuid]
            config = sc.find_any(self.configs, uuid=cfg_uuid)
            if config is None:
                refusals.append("storage config %s of %s does not exist in YBA" % (cfg_uuid, ", ".join(users)))
                continue
            name = config.get("configName") or cfg_uuid
            if config.get("state") not in (None, "Active"):
                refusals.append("storage config %s of %s is %s" % (name, ", ".join(users), config.get("state")))
                continue
            if config.get("name") != "S3":
                self.module.warn("storage config %s is of type %s: only S3 is probed" % (name, config.get("name")))
                continue
            data, stored = sc.probe_settings(config, sc.credentials_for(config, p["storage_credentials"]))
            result = self.probe(data, mode)
            if result["error_class"] == "no_credentials" and stored and mode != "reach":
                self.module.warn("the probe of %s checked DNS, TCP and TLS only: YBA shows its keys masked; give "
                                 "them in storage_credentials for a full probe" % name)
                result = self.probe(data, "reach")
            result["refused"] = not result["ok"] and not p["force"]
            shown = ("ok", "mode", "failed_step", "error_class", "error", "summary", "refused")
            self.result["probes"][name] = {k: result.get(k) for k in shown}
            if not result["ok"]:
                refusals.append("storage config %s of %s fails from %s: %s" % (name, ", ".join(users), self.here,
                                                                               result["summary"]))
        if refusals and not p["force"]:
            self.fail("refusing to resume onto broken storage: %s; nothing changed (fix the storage first, e.g. with "
                      "yba.remediation.storage_config, or force=true)" % "; ".join(refusals))
        for line in refusals:
            self.module.warn("force=true: resuming although %s" % line)

    def probe(self, data, mode):
        result = _s3.probe(data, mode=mode, timeout=self.p["probe_timeout"], ca_path=self.p["probe_ca_path"],
                           validate_certs=self.p["probe_validate_certs"])
        return self.client.scrub_obj(result)

    # -------------------------------------------------------------------------------------------- apply
    def apply(self):
        p = self.p
        # editBackupSchedule reads runImmediateBackupOnResume on the releases that serve pause_resume; older ones
        # do not know it (controllers/ScheduleController.java)
        immediate = p["run_immediate_backup"] and self.toggle
        if p["run_immediate_backup"] and not self.toggle and self.desired == sch.ACTIVE and any(
                i["planned"] for i in self.items):
            self.module.warn("run_immediate_backup needs YBA 2024.2 or later (this is %s): %s resume%s at the next "
                             "run time" % (self.result["yba_version"], ", ".join(i["name"] for i in self.items
                                                                                 if i["planned"]),
                                           "s" if sum(1 for i in self.items if i["planned"]) == 1 else ""))
        planned = [i for i in self.items if i["planned"]]
        # Every body first (a resume through the classic PUT echoes the recurrence GET schedules/{s} answers), so a
        # schedule YBA would refuse stops the run before the first PUT, not after the others were changed.
        bodies, problems = {}, []
        for item in planned:
            if item["method"] == sch.TOGGLE:
                bodies[item["uuid"]] = sch.toggle_body(self.desired, p["run_immediate_backup"])
                continue
            if self.desired == sch.ACTIVE:
                item["entity"] = self.client.get(self.client.cpath("schedules/%s" % item["uuid"])) or {}
            try:
                bodies[item["uuid"]] = sch.classic_body(item["entity"], self.desired, immediate)
            except ValueError as err:
                problems.append(str(err))
        if problems:
            self.fail("%s; nothing changed" % "; ".join(problems))
        for item in planned:
            if self.module.check_mode:
                item["after"] = self.desired
                item["changed"] = True
                continue
            if p["wait_for_backup"] and self.desired == sch.ACTIVE:
                item["known_backups"] = self.backups_of(item["uuid"])
            self.send(item, bodies[item["uuid"]])

    def send(self, item, body):
        if item["method"] == sch.TOGGLE:
            path = self.client.cpath("universes/%s/schedules/%s/pause_resume" % (item["universe_uuid"], item["uuid"]))
        else:
            path = self.client.cpath("schedules/%s" % item["uuid"])
        deadline = self.client._clock() + self.p["conflict_timeout"]
        attempt = 0
        while True:
            try:
                self.client.put(path, body, retries=0 if item["method"] == sch.TOGGLE else None)
                break
            except _api.YBAError as err:
                if not sch.is_running_conflict(err.status, err.message):
                    if err.status is None or err.status >= 500:
                        self.fail("the change of schedule %s to %s got no clear answer (%s): YBA may have applied "
                                  "it; run again to compare" % (item["name"], self.desired, err), status=err.status)
                    self.fail("YBA refused to set schedule %s %s (%s): %s" % (
                        item["name"], self.desired, item["method"], err.message), status=err.status)
                delay = max(1.0, _api.backoff_delay(attempt, self.client.max_delay or 15, base=2.0))
                if self.client._clock() + delay > deadline:
                    self.fail("schedule %s is still running after %.0f s (YBA: %s): it was not set %s; run again "
                              "once its backup ended" % (item["name"], self.p["conflict_timeout"], err.message,
                                                         self.desired), status=err.status)
                self.client._sleep(delay)
                attempt += 1
        self.wrote = True
        item["changed"] = True
        stored = self.client.get(self.client.cpath("schedules/%s" % item["uuid"])) or {}
        item["entity"] = stored
        item["after"] = stored.get("status")
        item["failure_count"] = sch.failure_count(stored)
        item["next_run"] = stored.get("nextScheduleTaskTime")
        if item["after"] != self.desired:
            self.fail("YBA answered the change of schedule %s to %s but reads it back %s" % (
                item["name"], self.desired, item["after"]))

    # --------------------------------------------------------------------------------------------- wait
    def backups_of(self, schedule_uuid, limit=10):
        body = {"filter": dict(bi.BACKUP_FILTER, scheduleUUIDList=[schedule_uuid]), "sortBy": "createTime",
                "direction": "DESC", "offset": 0, "limit": limit, "needTotalCount": False}
        page = self.client.post(self.client.cpath("backups/page"), body, idempotent=True) or {}
        out = []
        for raw in page.get("entities") or []:
            f = bi._backup_fields(raw)
            out.append({"uuid": f["backup_uuid"], "state": f["state"], "create_time": bi.iso(f["create_time"]),
                        "completion_time": bi.iso(f["completion_time"]), "task_uuid": f["task_uuid"]})
        return out

    def wait(self):
        p = self.p
        waiting = [i for i in self.items if i["changed"] and i["after"] == sch.ACTIVE]
        if not p["wait_for_backup"] or self.module.check_mode or not waiting:
            return
        deadline = self.client._clock() + p["wait_timeout"]
        delay = p["poll_interval"]
        immediate = p["run_immediate_backup"] and self.toggle  # YBA sets the backlog: the next tick runs one
        for item in waiting:
            next_run = bi.parse_time(item["next_run"])
            if not immediate and next_run is not None and next_run > time.time() + p["wait_timeout"]:
                self.module.warn("schedule %s runs next at %s, after the wait ends (wait_timeout %.0f s): its backup "
                                 "will likely not be seen (run_immediate_backup asks YBA 2024.2 and later to run it "
                                 "at once)" % (item["name"], item["next_run"], p["wait_timeout"]))
        while True:
            for item in waiting:
                if item["backup"] and item["backup"]["state"] == bi.COMPLETED:
                    continue
                known = {b["uuid"] for b in item.get("known_backups") or []}
                newest_known = max((bi.parse_time(b["create_time"]) or 0 for b in item.get("known_backups") or []),
                                   default=0)
                new = [b for b in self.backups_of(item["uuid"]) if b["uuid"] not in known
                       and (bi.parse_time(b["create_time"]) or 0) >= newest_known]
                if not new:
                    continue
                # the oldest new one: the backup the resume produced
                backup = sorted(new, key=lambda b: bi.parse_time(b["create_time"]) or 0)[0]
                item["backup"] = dict(backup, error=None)
                if backup["state"] == bi.FAILED:
                    item["backup"]["error"] = self.task_error(backup["task_uuid"])
                    self.fail("the first backup of schedule %s after the resume failed (backup %s, task %s): %s" % (
                        item["name"], backup["uuid"], backup["task_uuid"], item["backup"]["error"] or "no error given"))
            if all(i["backup"] and i["backup"]["state"] == bi.COMPLETED for i in waiting):
                return
            for item in waiting:
                if item["backup"] and item["backup"]["state"] == bi.COMPLETED:
                    continue
                entity = self.client.get(self.client.cpath("schedules/%s" % item["uuid"])) or {}
                item["after"] = entity.get("status")
                item["failure_count"] = sch.failure_count(entity)
                item["next_run"] = entity.get("nextScheduleTaskTime")
                if item["after"] != sch.ACTIVE:
                    self.fail("schedule %s went %s again during the wait (failureCount %d)%s" % (
                        item["name"], item["after"], item["failure_count"],
                        "; its last backup: %s" % item["backup"]["state"] if item["backup"] else ""))
            remaining = deadline - self.client._clock()
            if remaining <= 0:
                late = [i for i in waiting if not (i["backup"] and i["backup"]["state"] == bi.COMPLETED)]
                self.fail("no Completed backup after the resume within %.0f s for %s" % (p["wait_timeout"], "; ".join(
                    "%s (%s%s)" % (i["name"], "backup %s %s" % (i["backup"]["uuid"], i["backup"]["state"])
                                   if i["backup"] else "no backup yet",
                                   ", next run %s" % i["next_run"] if i["next_run"] else "") for i in late)))
            self.client._sleep(min(delay, remaining))
            delay = min(p["poll_interval"] * 4, delay * 1.5)

    def task_error(self, task_uuid):
        if not task_uuid:
            return None
        try:
            answer = self.client.get(self.client.cpath("tasks/%s/failed_subtasks" % task_uuid)) or {}
        except _api.YBAError as err:
            return "its failed subtasks could not be read (%s)" % err
        # {"failedSubTasks": [...]} (CustomerTaskController.listFailedSubtasks), or the list itself in some releases
        # (read both ways as _backup.Runner.failure_text does)
        if isinstance(answer, list):
            answer = {"failedSubTasks": answer}
        return bi.task_error(answer) if isinstance(answer, dict) else None

    # ---------------------------------------------------------------------------------------- next steps
    def next_steps(self):
        lines = []
        for item in self.items:
            if item["failure_count"] and item["after"] == sch.ACTIVE:
                line = ("YBA kept the failureCount of schedule %s (%d): YBA does not reset it on a resume, %s" % (
                    item["name"], item["failure_count"],
                    "one more failed backup pauses it again" if item["failure_count"] >= sch.MAX_FAIL_COUNT - 1
                    else "at %d failures it pauses it again" % sch.MAX_FAIL_COUNT))
                lines.append(line)
                self.module.warn(line)
        self.result["next_steps"] = lines

    def run(self):
        self.read()
        self.probe_storage()
        self.apply()
        self.result["changed"] = any(i["changed"] for i in self.items)
        self.wait()
        self.next_steps()
        self.finish()


def main():
    spec = _api.api_argument_spec()
    spec.update(
        names=dict(type="list", elements="str"),
        universes=dict(type="list", elements="str"),
        state=dict(type="str", choices=["active", "stopped"], default="active"),
        api=dict(type="str", choices=["auto", "classic", "pause_resume"], default="auto"),
        run_immediate_backup=dict(type="bool", default=False),
        probe=dict(type="str", choices=["canary", "read", "reach", "none"], default="canary"),
        storage_credentials=dict(type="dict", default={}, no_log=True),
        probe_timeout=dict(type="float", default=10),
        probe_ca_path=dict(type="path"),
        probe_validate_certs=dict(type="bool", default=True),
        force=dict(type="bool", default=False),
        conflict_timeout=dict(type="float", default=120),
        wait_for_backup=dict(type="bool", default=False),
        wait_timeout=dict(type="float", default=1800),
        poll_interval=dict(type="float", default=5),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, mutually_exclusive=[("names", "universes")])
    p = module.params
    for name in ("probe_timeout", "wait_timeout", "poll_interval"):
        if p[name] <= 0:
            module.fail_json(msg="%s must be more than 0, got %s" % (name, p[name]))
    if p["conflict_timeout"] < 0:
        module.fail_json(msg="conflict_timeout must be 0 or more, got %s" % p["conflict_timeout"])
    for name in ("names", "universes"):
        if p[name] is not None and (not p[name] or any(not str(x).strip() for x in p[name])):
            module.fail_json(msg="%s must list at least one non-empty name or UUID, got %s" % (name, p[name]))
    creds = p["storage_credentials"] or {}
    bad = sorted(str(k) for k, v in creds.items() if not isinstance(v, dict))
    if bad:
        module.fail_json(msg="storage_credentials maps a config name to a dict of its secrets "
                             "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); not a dict for: %s" % ", ".join(bad))
    if p["state"] == "active" and p["probe"] in ("canary", "read") and not _s3.HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3", reason="for the storage probe on %s (or probe=reach)"
                                                  % _api.this_host()), exception=str(_s3.BOTO3_IMPORT_ERROR))
    client = _api.YBAClient.from_module(module)
    for secrets in creds.values():
        for value in secrets.values():
            if isinstance(value, str):
                client.add_secret(value)
    runner = Runner(module, client)
    try:
        runner.run()
    except _api.YBAError as err:
        runner.error = _api.one_line(err)  # the record says the run failed, and why
        runner.finish()
        result = dict(runner.result)
        result["changed"] = runner.wrote
        _api.fail_json_from_error(module, err, "backup schedules", **result)
    module.exit_json(**runner.result)


if __name__ == "__main__":
    main()
