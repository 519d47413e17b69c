#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: take on-demand (emergency) backups of the stale universes through the YBA API and verify
# them in the bucket.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: backup
short_description: Take on-demand backups of the YugabyteDB Anywhere universes whose backups are stale, verified in the bucket
version_added: 1.0.0
description:
  - Takes on-demand backups through C(POST /api/v1/customers/{c}/backups) for the selected universes, one backup per
    backup type the universe uses (YSQL and YCQL are separate backups in YBA), and waits for each.
  - Idempotent by intent. A universe and type whose newest C(Completed) backup on the storage config is younger than
    O(only_if_older_than) (default, the universe's RPO) is left alone (RV(backups[].action=fresh)); a second run
    takes no new backup.
  - Universes run in parallel, at most O(max_concurrent) at a time; the backups of one universe run one after the
    other, because YBA locks the universe for the whole backup. A 409 "currently in a locked state" (or "cannot be
    queued") is waited for with jittered backoff until the deadline, not failed.
  - Each backup has a deadline of O(wait_timeout) seconds from its first request. The task is polled with a delay
    that grows with the time waited (from O(poll_interval) up to O(max_poll_interval)); an API that does not answer
    (a platform restart) is polled through. After a restart, a task that is gone or ended C(Failure) "Platform
    restarted." is judged by its backup (C(GET backups/{b})); a resumed YB Controller backup is followed under its new
    task, a C(Failed) script backup is submitted again (O(restart_retries)), and so is a backup whose task is gone
    while its row is still C(InProgress) under it (RV(backups[].orphaned)).
  - The backup request is sent once, never re-sent by the client's retries. When its answer is lost (a timeout, a
    reset, a 5xx that is not YBA's own error answer) the C(InProgress) backup of the universe and type that YBA
    created since is looked for and followed; without one the entry fails and nothing is sent again.
  - On failure the errors of C(GET tasks/{t}/failed_subtasks) are returned. The module fails once every selected
    backup has ended, when any failed, with every result.
  - Each C(Completed) backup is then listed in its bucket with boto3 (the client settings YBA uses for the config)
    and must hold data objects and its writer's marker in every location (the C(success) object of YB Controller
    backups, C(SnapshotInfoPB) of script backups). A backup that cannot be verified is reported
    (RV(backups[].verified=false), C(record.ok=false)) and warned about; it does not fail the module.
  - Run it where the YBA API is reachable and, to verify, where the bucket is reachable as YBA reaches it (the YBA
    host).
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.attributes
  - yba.remediation.storage
options:
  universes:
    description:
      - The universes to back up, by name or UUID. Default, every universe of the customer.
      - An unknown name fails before anything is sent.
    type: list
    elements: str
    default: []
  backup_types:
    description:
      - V(auto) takes the types the universe's backup schedules take (any status), else those of the APIs enabled on
        it (YSQL when enabled, YCQL unless disabled).
      - Or a list of V(ysql) and V(ycql); a type whose API is not enabled on a universe is skipped with the reason.
    type: list
    elements: str
    default: [auto]
  storage_config:
    description:
      - The storage config to back up to, by name or UUID.
      - Default, the one of the universe's schedule for that backup type, else the only S3 storage config. With
        several and no schedule (or a schedule whose config is gone) that universe and type is RV(backups[].action=failed)
        with a reason that asks for this option; the others are still backed up, then the module fails.
      - Naming a second config takes a redundant copy there; freshness is then judged on that config only.
    type: str
  only_if_older_than:
    description:
      - Back up a universe and type only when its newest C(Completed) backup on the storage config is older than this
        many seconds (V(0) backs up every time).
      - Default, the universe's RPO - O(rpo_seconds) by universe name or UUID, else its schedule's interval x
        O(rpo_factor), else O(default_rpo_seconds).
    type: float
  rpo_factor:
    description: The RPO of a universe with a schedule is the schedule's interval times this.
    type: float
    default: 1.5
  rpo_seconds:
    description: RPO overrides in seconds, by universe name or UUID.
    type: dict
    default: {}
  default_rpo_seconds:
    description: The RPO of a universe without a schedule and without an override.
    type: float
    default: 86400
  retention:
    description:
      - How long YBA keeps each new backup, in O(retention_unit) (sent as C(timeBeforeDelete) in milliseconds with
        C(expiryTimeUnit)). Must be 1 or more.
    type: int
    default: 7
  retention_unit:
    description: The unit of O(retention).
    type: str
    choices: [MINUTES, HOURS, DAYS, MONTHS, YEARS]
    default: DAYS
  keep_forever:
    description:
      - Send C(timeBeforeDelete=0), YBA's "never expires". The only way to get it; O(retention) is then ignored.
    type: bool
    default: false
  backup_category:
    description:
      - The backup tool YBA uses (C(backupCategory)). Default, YBA's choice (YB Controller when the universe has it).
    type: str
    choices: [YB_CONTROLLER, YB_BACKUP_SCRIPT]
  max_concurrent:
    description: How many universes are backed up at the same time.
    type: int
    default: 2
  wait_timeout:
    description:
      - Seconds each backup may take, from its first request (409 waits and restarts included). A backup still
        running then is reported C(failed) with its UUID; it goes on in YBA.
    type: float
    default: 3600
  poll_interval:
    description: The first delay between two polls of a task, in seconds; later ones grow to a fifth of the time waited.
    type: float
    default: 2
  max_poll_interval:
    description: The longest delay between two polls of a task, in seconds.
    type: float
    default: 30
  conflict_max_delay:
    description: The longest delay between two requests while the universe is locked (409), in seconds.
    type: float
    default: 30
  restart_retries:
    description:
      - How many times a backup that ended C(Failed) because of a platform restart, or whose task YBA lost while its
        row stays C(InProgress) (RV(backups[].orphaned)), is submitted again.
    type: int
    default: 1
  verify:
    description: Verify each new backup in the bucket.
    type: bool
    default: true
  verify_timeout:
    description: Seconds each S3 request of the verification may take.
    type: float
    default: 10
  verify_ca_path:
    description: PEM file of the CA(s) trusted for an HTTPS storage endpoint, on the host the module runs on.
    type: path
  verify_validate_certs:
    description: Whether the verification checks the storage endpoint's TLS certificate.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details:
      - Plans only - reads the universes, schedules and newest backups, sends no backup request; the backups to take
        are RV(backups[].action=planned).
  diff_mode:
    support: full
  idempotent:
    support: full
    details:
      - By intent - a backup is taken only when the newest one is older than O(only_if_older_than) or the RPO.
requirements:
  - boto3 (on the host the module runs on, to verify; not needed with O(verify=false))
notes:
  - A schedule that fires while the universe is locked by one of these backups is backlogged by YBA and counted as a
    scheduled-backup failure; it runs at the next scheduler tick.
seealso:
  - module: yba.remediation.backup_info
  - module: yba.remediation.storage_probe
"""

EXAMPLES = r"""
- name: Back up every universe whose newest backup is older than its RPO, keep them 7 days, verify in the bucket
  yba.remediation.backup:
    yba_url: https://yba.example.com
    yba_api_token: "{{ vault_yba_api_token }}"
    storage_credentials:
      s3-backups:
        AWS_ACCESS_KEY_ID: "{{ vault_s3_access_key }}"
        AWS_SECRET_ACCESS_KEY: "{{ vault_s3_secret_key }}"
  register: emergency

- name: A redundant YSQL copy of two universes on a second bucket, unless one younger than 6 hours exists there
  yba.remediation.backup:
    universes: [orders, billing]
    backup_types: [ysql]
    storage_config: s3-backups-dr
    only_if_older_than: 21600
    retention: 14
    max_concurrent: 2
    wait_timeout: 7200
"""

RETURN = r"""
backups:
  description: One entry per selected universe and backup type.
  returned: always
  type: list
  elements: dict
  contains:
    universe:
      description: The universe's name.
      type: str
      returned: always
    universe_uuid:
      description: The universe's UUID.
      type: str
      returned: always
    backup_type:
      description: "V(ysql) or V(ycql)."
      type: str
      returned: always
    storage_config:
      description: The storage config's name.
      type: str
      returned: always
    storage_config_uuid:
      description: The storage config's UUID.
      type: str
      returned: always
    action:
      description:
        - V(created) a backup was taken and completed; V(failed) it failed or timed out, or no storage config could be
          chosen for it (see C(error)); V(planned)
          it would be taken (check mode); V(fresh) the newest one is young enough; V(skipped) it cannot be taken
          (paused universe, backups disabled, API not enabled; see C(reason)).
      type: str
      returned: always
    reason:
      description:
        - Why this action (ages and threshold, or why skipped or failed), and what happened on the way - a backup
          followed after the answer to its request was lost, an orphaned row left C(InProgress) in YBA.
      type: str
      returned: always
    threshold_seconds:
      description: The age over which a backup is taken.
      type: float
      returned: always
    threshold_source:
      description: Where the threshold comes from - V(only_if_older_than), V(override), V(schedule <name>), V(default).
      type: str
      returned: always
    last_backup_uuid:
      description: The newest Completed backup before the run on the config.
      type: str
      returned: always
    last_backup_age_seconds:
      description: Its age when planned.
      type: float
      returned: always
    backup_uuid:
      description: The new backup's UUID.
      type: str
      returned: always
    task_uuid:
      description: Its task (the resumed task after a platform restart).
      type: str
      returned: always
    state:
      description: The new backup's state in YBA (C(Completed), C(Failed), C(InProgress), ...).
      type: str
      returned: always
    category:
      description: "C(YB_CONTROLLER) or C(YB_BACKUP_SCRIPT)."
      type: str
      returned: always
    duration_seconds:
      description: From create to completion as YBA recorded them.
      type: float
      returned: always
    size_bytes:
      description: The backup's size as YBA reports it.
      type: int
      returned: always
    verified:
      description: Every location holds data and its marker in the bucket (V(null) when not verified).
      type: bool
      returned: always
    verified_objects:
      description: Objects found under the backup's locations.
      type: int
      returned: always
    verified_bytes:
      description: Their total size.
      type: int
      returned: always
    verify_problem:
      description: Why the verification failed, one line.
      type: str
      returned: always
    attempts:
      description:
        - Backup requests sent for it, 409 retries not counted (2 after a script backup failed by a platform restart
          or an orphaned row, RV(backups[].orphaned)).
      type: int
      returned: always
    conflicts:
      description: 409 answers waited for (the universe was locked).
      type: int
      returned: always
    resumed:
      description: The backup was followed under a new task after a platform restart.
      type: bool
      returned: always
    orphaned:
      description:
        - YBA lost the backup's task (C(GET tasks/{t}) answers it does not exist, for example after a metadata
          restore) while its backup row stayed C(InProgress) under that task for a minute, a row that never ends. The
          backup was then submitted again (O(restart_retries)) instead of waited for until O(wait_timeout). (A
          resumed YB Controller backup names its new task within that minute and is followed instead.)
      type: bool
      returned: always
    api_unreachable_polls:
      description: Polls the API did not answer (a platform restart).
      type: int
      returned: always
    error:
      description: Why it failed, one line with YBA's failed_subtasks errors.
      type: str
      returned: always
summary:
  description: The count of entries per action, plus C(unverified) (created but not verified) and C(total).
  returned: always
  type: dict
  sample: {created: 4, failed: 0, planned: 0, fresh: 2, skipped: 0, unverified: 0, total: 6}
diff:
  description: The newest backup per C(universe/type@config) before and after (V((new backup)) in check mode).
  returned: always
  type: dict
requests:
  description: The API requests sent, as C(METHOD path status), in order.
  returned: always
  type: list
  elements: str
api_calls:
  description: How many API requests were sent, retries included.
  returned: always
  type: int
record:
  description:
    - The run record - C(summary) (one line), C(ok) (no failure, every new backup verified), C(check_mode),
      C(counts), C(failed) and C(unverified) (C(universe/type@config) keys), C(created) (universe, type, backup UUID,
      config, verified) and C(api_calls). No secret.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backup as bk
from ansible_collections.yba.remediation.plugins.module_utils import _freshness as fr
from ansible_collections.yba.remediation.plugins.module_utils import _s3
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc


def check_input(p):
    """The one-line problem with the options, or None."""
    positive = ("wait_timeout", "poll_interval", "max_poll_interval", "conflict_max_delay", "verify_timeout",
                "rpo_factor", "default_rpo_seconds")
    for name in positive:
        if p[name] is not None and p[name] <= 0:
            return "%s must be more than 0, got %s" % (name, p[name])
    if p["max_concurrent"] < 1:
        return "max_concurrent must be 1 or more, got %s" % p["max_concurrent"]
    if p["restart_retries"] < 0:
        return "restart_retries must be 0 or more, got %s" % p["restart_retries"]
    if p["only_if_older_than"] is not None and p["only_if_older_than"] < 0:
        return "only_if_older_than must be 0 or more seconds, got %s" % p["only_if_older_than"]
    for name, value in (p["rpo_seconds"] or {}).items():
        try:
            if float(value) <= 0:
                raise ValueError
        except (TypeError, ValueError):
            return "rpo_seconds[%s] must be a number of seconds more than 0, got %r" % (name, value)
    types = p["backup_types"] or ["auto"]
    if types != ["auto"]:
        for value in types:
            try:
                fr.backup_type_of(value)
            except ValueError:
                return "backup_types takes auto or a list of ysql and ycql, got %s" % value
    for name, creds in (p["storage_credentials"] or {}).items():
        if not isinstance(creds, dict):
            return "storage_credentials[%s] must be a dict of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" % name
        plain = sorted(k for k in creds if not sc.is_sensitive(k))
        if plain:
            return "storage_credentials[%s] takes secret fields only (YBA masks them), not %s" % (name, ", ".join(plain))
    try:
        bk.expiry(p["retention"], p["retention_unit"], p["keep_forever"])
    except bk.BackupInputError as err:
        return str(err)
    return None


def main():
    spec = _api.api_argument_spec()
    spec.update(
        universes=dict(type="list", elements="str", default=[]),
        backup_types=dict(type="list", elements="str", default=["auto"]),
        storage_config=dict(type="str"),
        storage_credentials=dict(type="dict", default={}, no_log=True),
        only_if_older_than=dict(type="float"),
        rpo_factor=dict(type="float", default=1.5),
        rpo_seconds=dict(type="dict", default={}),
        default_rpo_seconds=dict(type="float", default=86400),
        retention=dict(type="int", default=7),
        retention_unit=dict(type="str", choices=list(bk.RETENTION_UNITS), default="DAYS"),
        keep_forever=dict(type="bool", default=False),
        backup_category=dict(type="str", choices=["YB_CONTROLLER", "YB_BACKUP_SCRIPT"]),
        max_concurrent=dict(type="int", default=2),
        wait_timeout=dict(type="float", default=3600),
        poll_interval=dict(type="float", default=2),
        max_poll_interval=dict(type="float", default=30),
        conflict_max_delay=dict(type="float", default=30),
        restart_retries=dict(type="int", default=1),
        verify=dict(type="bool", default=True),
        verify_timeout=dict(type="float", default=10),
        verify_ca_path=dict(type="path"),
        verify_validate_certs=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    problem = check_input(p)
    if problem:
        module.fail_json(msg="%s; nothing was sent" % problem)
    if p["verify"] and not module.check_mode and not _s3.HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3", reason="to verify the backups in the bucket on %s (or "
                                                  "verify=false)" % _api.this_host()),
                         exception=str(_s3.BOTO3_IMPORT_ERROR))
    client = _api.YBAClient.from_module(module)
    for creds in (p["storage_credentials"] or {}).values():
        for value in creds.values():
            if isinstance(value, str):
                client.add_secret(value)
    params = dict(p, backup_types="auto" if (p["backup_types"] or ["auto"]) == ["auto"] else p["backup_types"])
    result = dict(changed=False, backups=[], summary=bk.summary([]), diff={"before": {}, "after": {}}, requests=[],
                  api_calls=0)

    def finish(items):
        result["backups"] = [bk.public(i) for i in items]
        result["summary"] = bk.summary(items)
        result["diff"] = bk.diff(items)
        result["requests"] = ["%s %s %s" % (m, pth, s if s is not None else "-") for m, pth, s in client.requests]
        result["api_calls"] = client.request_count
        result["record"] = bk.record(items, module.check_mode, client.request_count, bool(p["verify"]))
        # YBA started something for every request it answered with a task (or whose backup was found and followed)
        result["changed"] = any(i["action"] in ("created", "planned") for i in items) or any(
            i["attempts"] and (i["backup_uuid"] or i["task_uuid"]) for i in items)
        return client.scrub_obj(result)

    items = []
    try:
        inventory = bk.read_inventory(client)
        items = bk.plan(inventory, params,
                        lambda u, wanted: fr.read_latest(client, u, wanted))
        if not module.check_mode:
            configs = {c.get("configUUID"): c for c in inventory["configs"]}

            def settings_for(config_uuid):
                config = configs.get(config_uuid) or {}
                if config.get("name") != "S3":
                    return None
                return sc.probe_settings(config, sc.credentials_for(config, p["storage_credentials"]))[0]

            bk.Runner(client, params, settings_for).run(items)
    except bk.BackupInputError as err:
        module.fail_json(msg="%s; nothing was sent" % client.scrub(str(err)), **finish(items))
    except _api.YBAError as err:
        _api.fail_json_from_error(module, err, "backup", **finish(items))
    out = finish(items)
    failed = [i for i in items if i["action"] == "failed"]
    if failed:
        tried = sum(1 for i in items if i["action"] in ("created", "failed"))
        module.fail_json(msg=client.scrub("%d of %d backup%s failed: %s" % (
            len(failed), tried, "" if tried == 1 else "s",
            "; ".join("%s: %s" % (bk.key(i), i["error"]) for i in failed))), **out)
    for i in items:
        if i["action"] == "created" and p["verify"] and not i["verified"]:
            module.warn("backup %s of %s is not verified in the bucket: %s" % (
                i["backup_uuid"], bk.key(i), i["verify_problem"]))
    module.exit_json(**out)


if __name__ == "__main__":
    main()
