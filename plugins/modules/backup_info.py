#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: read-only state of YBA backups (RPO per universe, failures, schedules, retention, storage).
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: backup_info
short_description: Report the state of YugabyteDB Anywhere backups, schedules and backup storage
version_added: 1.0.0
description:
  - Reads, through the YBA REST API and without changing anything, what a backup diagnosis needs.
  - The universes, and per universe the last Completed backup and its age (the recovery point), the backups that
    failed in the last O(window_hours), the backups in progress, the schedules and the expired backups the garbage
    collector has not deleted.
  - The storage configs, with their secrets masked, and for S3 a reachability probe of every location (DNS, TCP, TLS
    and one unsigned HTTP request to the bucket at C(AWS_HOST_BASE) or AWS's endpoint, as
    M(yba.remediation.storage_probe) does with O(yba.remediation.storage_probe#module:mode=reach)), whose failure
    names its step and error class.
  - Backups and schedules are read with the paged queries C(backups/page) and C(schedules/page), a few hundred per
    request, never one request per backup.
  - C(schedules/page) answers C(ScheduleResp) entities (the universe under C(backupInfo.universeUUID), the next run
    as C(nextExpectedTask)), which lack C(minNumBackupsToRetain); it is read with C(GET schedules/{uuid}) for the
    schedules that own an expired Completed backup, and only for those.
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.attributes
  - yba.remediation.attributes.info_module
options:
  window_hours:
    description:
      - Failed backups newer than this many hours are reported in RV(backups.failed_24h).
    type: float
    default: 24
  sample_size:
    description:
      - How many examples each group (failed, in progress, expired, paused schedules) carries.
    type: int
    default: 5
  probe_storage:
    description:
      - Probe the endpoints of every S3 storage config from the machine the module runs on. Run the module on the YBA
        host (as the P(yba.remediation.diagnose#role) role does) so the probe speaks for where YBA runs.
    type: bool
    default: true
  probe_timeout:
    description:
      - Seconds each step of a storage probe may take.
    type: float
    default: 5
  page_size:
    description:
      - Entities per paged request.
    type: int
    default: 500
  max_backups:
    description:
      - Read at most this many backups (newest first); RV(backups.truncated) tells when there were more.
    type: int
    default: 100000
  allow_unreachable:
    description:
      - When the API cannot be reached (no answer, timeout, HTTP 5xx), return RV(backups.api_reachable=false) with the
        error instead of failing, so a diagnosis can go on with what the host tells.
      - A rejected token (HTTP 401/403) always fails; its result still carries RV(backups) with the error and its
        RV(backups.error_kind).
    type: bool
    default: false
notes:
  - The storage probe runs where the module runs, named in RV(backups.probed_from). YBA reaches the bucket from the
    YBA host; every database node must reach it too, which a probe from one host does not prove.
seealso:
  - module: yba.remediation.platform_info
"""

EXAMPLES = r"""
- name: Read the backup state of the YBA platform
  yba.remediation.backup_info:
    yba_url: https://yba.example.com
    yba_api_token: "{{ vault_yba_api_token }}"
    ca_content: "{{ lookup('ansible.builtin.file', 'files/yba-ca.pem') }}"  # the CA file is on the controller
  become: false
  register: yba_backups

- name: Universes without a Completed backup in the last day
  ansible.builtin.debug:
    msg: "{{ yba_backups.backups.universes | selectattr('last_completed_age_seconds', 'gt', 86400) | map(attribute='name') }}"
"""

RETURN = r"""
backups:
  description: The backup state.
  returned: always
  type: dict
  contains:
    api_reachable:
      description: Whether the API answered. When V(false) only RV(backups.error) is meaningful.
      type: bool
      returned: always
      sample: true
    error:
      description: Why the API could not be read (with O(allow_unreachable=true), or in a failed result).
      type: str
      returned: when the API could not be read
    error_kind:
      description:
        - What kind of failure RV(backups.error) is. A client-side cause, where the request's own configuration is at
          fault, is V(auth) (HTTP 401/403), V(ca_file), V(tls_verify) or V(tls_handshake); else V(timeout),
          V(unreachable), V(server) (HTTP 5xx) or V(other).
      type: str
      returned: when the API could not be read
      sample: auth
    status:
      description: The HTTP status of the failed request, when there was an answer.
      type: int
      returned: when the API could not be read and answered
    url:
      description: The URL of the failed request.
      type: str
      returned: when the API could not be read
    probed_from:
      description: The host name of the machine the module ran on, where the API was read and the storage probed from.
      type: str
      returned: always
      sample: yba1.example.com
    customer_uuid:
      description: The customer that was read.
      type: str
      returned: success
    universes:
      description:
        - Per universe C(universe_uuid), C(name), C(present), C(paused), C(backups_enabled), C(last_completed_time),
          C(last_completed_age_seconds), C(failed_24h), C(last_failed_time), C(in_progress), C(expired_not_deleted)
          and C(schedules) counts by status.
      type: list
      elements: dict
      returned: success
    storage_configs:
      description:
        - Storage configs (C(config_uuid), C(config_name), C(name), C(state), C(in_use), C(data) with secrets masked,
          C(probe) (the RV(yba.remediation.storage_probe#module:storage) account of a reach probe, null when not
          probed), C(reachable) (null when not probed) and C(probed_from), the host the probe ran on).
      type: list
      elements: dict
      returned: success
    failed_24h:
      description: Backups failed within the window (C(count), C(window_seconds), C(sample), C(error) of the newest one).
      type: dict
      returned: success
    in_progress:
      description: Backups in an in-progress state (C(count), C(oldest_age_seconds), C(sample)).
      type: dict
      returned: success
    expired_not_deleted:
      description:
        - Backups past their expiry by more than an hour and still not deleted, and every C(FailedToDelete) backup (YBA's
          GC never retries one) - C(count), C(failed_to_delete), C(oldest_expiry), C(sample).
      type: dict
      returned: success
    schedules:
      description:
        - Schedules (C(count), C(items), and C(paused), C(error), C(stopped) with C(count) and C(sample)).
        - Each item has C(schedule_uuid), C(name), C(universe_uuid), C(status), C(failure_count), C(task_type),
          C(next_time) (ISO 8601 UTC, set only while the schedule is Active), C(frequency) (ms),
          C(frequency_time_unit) and C(cron_expression).
      type: dict
      returned: success
    scanned_backups:
      description: How many backups were read.
      type: int
      returned: success
    truncated:
      description: Whether O(max_backups) stopped the reading early.
      type: bool
      returned: success
    requests:
      description: How many API requests the module sent.
      type: int
      returned: always
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _s3

ERROR_LOOKUPS = 3


def read_storage(client, probe, timeout):
    configs = []
    for cfg in client.get(client.cpath("configs")) or []:
        if cfg.get("type") != "STORAGE":
            continue
        data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
        item = {"config_uuid": cfg.get("configUUID"), "config_name": cfg.get("configName"), "name": cfg.get("name"),
                "state": cfg.get("state"), "in_use": cfg.get("inUse"), "data": _api.redact(data), "probe": None,
                "reachable": None, "probed_from": None}
        if probe and cfg.get("name") == "S3":
            # reach only: YBA answers the keys masked, and the host's python may lack boto3 (storage_probe does more)
            item["probe"] = _s3.probe(data, mode="reach", timeout=timeout)
            item["reachable"] = item["probe"]["ok"]
            item["probed_from"] = _api.this_host()
        configs.append(item)
    return configs


def read(module, client):
    p = module.params
    out = {"api_reachable": True, "customer_uuid": client.customer_uuid()}
    universes = client.get(client.cpath("universes")) or []
    out["storage_configs"] = read_storage(client, p["probe_storage"], p["probe_timeout"])
    max_backups = p["max_backups"]
    backups = list(client.paged(client.cpath("backups/page"),
                                {"filter": dict(bi.BACKUP_FILTER), "sortBy": "createTime", "direction": "DESC",
                                 "needTotalCount": False}, limit=p["page_size"], max_items=max_backups + 1))
    truncated = len(backups) > max_backups
    backups = backups[:max_backups]
    schedules = list(client.paged(client.cpath("schedules/page"),
                                  {"filter": dict(bi.SCHEDULE_FILTER), "sortBy": "scheduleName", "direction": "ASC",
                                   "needTotalCount": False}, limit=p["page_size"]))
    # schedules/page answers ScheduleResp entities, without taskParams: minNumBackupsToRetain is read from the
    # Schedule entity (GET schedules/{s}), only for the schedules whose expired backups it decides on.
    now = time.time()
    retain = {}
    for sched_uuid in bi.retain_lookups(backups, schedules, now):
        try:
            value = bi.schedule_min_retain(client.get(client.cpath("schedules/%s" % sched_uuid)) or {})
        except (_api.YBANotFound, _api.YBAValidationError):
            continue  # a schedule deleted meanwhile: YBA's GC uses the default for its backups too
        if value is not None:
            retain[sched_uuid] = value
    summary = bi.summarize(backups, universes, schedules, now, p["window_hours"] * 3600.0,
                           p["sample_size"], retain)
    out.update(summary)
    out["truncated"] = truncated
    # The error of the newest failures, a handful at most: YBA keeps a failed task's error on its failed
    # subtasks; the task's own status answer is the fallback.
    failed = out["failed_24h"]
    errors = []
    for task_uuid in failed.pop("task_uuids")[:ERROR_LOOKUPS]:
        text = None
        for path in ("tasks/%s/failed_subtasks" % task_uuid, "tasks/%s" % task_uuid):
            try:
                text = bi.task_error(client.get(client.cpath(path), retries=0) or {})
            except _api.YBAError:
                continue
            if text:
                errors.append(text)
                break
    failed["error"] = errors[0] if errors else None
    failed["errors"] = errors
    return out


def main():
    spec = _api.api_argument_spec()
    spec.update(
        window_hours=dict(type="float", default=24),
        sample_size=dict(type="int", default=5),
        probe_storage=dict(type="bool", default=True),
        probe_timeout=dict(type="float", default=5),
        page_size=dict(type="int", default=500),
        max_backups=dict(type="int", default=100000),
        allow_unreachable=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    for name in ("window_hours", "probe_timeout"):
        if p[name] <= 0:
            module.fail_json(msg="%s must be more than 0, got %s" % (name, p[name]))
    for name in ("sample_size", "page_size", "max_backups"):
        if p[name] < 1:
            module.fail_json(msg="%s must be 1 or more, got %s" % (name, p[name]))
    client = _api.YBAClient.from_module(module)
    here = _api.this_host()
    try:
        backups = read(module, client)
    except _api.YBAError as err:
        down = isinstance(err, (_api.YBAUnreachable, _api.YBATimeout)) or (err.status or 0) >= 500
        message = str(err)
        if p["yba_api_token"]:
            message = message.replace(p["yba_api_token"], _api.MASK)
        unread = {"api_reachable": False, "error": message, "error_kind": _api.error_kind(err),
                  "url": client.base_url + (err.path or ""), "probed_from": here,
                  "requests": client.request_count}
        if err.status is not None:
            unread["status"] = err.status
        if not (p["allow_unreachable"] and down):
            _api.fail_json_from_error(module, err, "cannot read the backup state from YBA", backups=unread)
        backups = unread
    backups["requests"] = client.request_count
    backups["probed_from"] = here
    module.exit_json(changed=False, backups=backups)


if __name__ == "__main__":
    main()
