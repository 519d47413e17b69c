#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: the backup freshness SLA of one YBA (RPO, copies, schedules, storage) as JSON, a
# Prometheus textfile, JUnit XML and a Nagios line, from one read-only evaluation.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: backup_sla
short_description: Check the backup freshness (RPO) SLA of YugabyteDB Anywhere and render it for monitoring
version_added: 1.0.0
description:
  - Evaluates, through the YBA REST API and without changing anything in YBA, whether every universe has a recent
    enough backup, and renders that one evaluation four ways in the same run - a JSON document
    (O(json_path), RV(report)), a Prometheus textfile for node_exporter's textfile collector (O(prometheus_path),
    RV(prometheus)), JUnit XML (O(junit_path), RV(junit)) and a Nagios plugin line (RV(nagios)).
  - Per universe and backup type (V(ysql), V(ycql); those its schedules take, else the APIs it has enabled) - the
    newest Completed backup on each storage config (verified in the bucket with O(verify=true)), its age and the
    RPO it is held to (O(rpo_seconds) for the universe, else the shortest interval of its schedules of that type
    times O(rpo_factor), else O(default_rpo_seconds)), the copies on independent storage, the backups that failed
    within O(window_hours) and the backups past expiry that are still present (reported; retention does not change
    the verdict).
  - Per schedule - its state (Active, Paused by YBA after failures, Stopped), C(failureCount), backlog, the newest
    Completed backup it took against its own interval times O(rpo_factor).
  - Per storage config - a probe from where the module runs (O(probe)).
  - 'Verdicts: V(ok); V(warning) (age beyond O(warn_ratio) of the RPO, the newest backup attempt failed, a
    schedule with failures or a backlog); V(critical) (age beyond the RPO, no backup, fewer
    than O(min_copies) independent copies, a Paused schedule, the storage a schedule writes to fails its probe);
    V(unknown) (could not be evaluated); V(skipped) (a paused universe, C(takeBackups=false), a Stopped
    schedule), each with its reason.'
  - Redundancy - a universe and type is within its SLA only when O(min_copies) independent storage configs each
    hold a usable backup (verified with O(verify=true), else Completed) within the RPO. Storage configs on the same
    endpoint and bucket count as one. Only the newest backup on each config is considered.
  - An API that cannot be reached (no answer, timeout, HTTP 5xx) gives status V(unknown) with the error, and the
    module succeeds unless O(fail_on) says otherwise; a rejected token (HTTP 401/403) fails the module.
  - Output files are written atomically (a temporary file in the same directory, then renamed), as the textfile
    collector requires. Read-only in YBA and in the buckets; safe to run every few minutes.
author:
  - yba.remediation contributors (@yba-remediation)
requirements:
  - boto3 on the machine the module runs on, for O(verify=true) and for O(probe=read) or O(probe=canary)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.attributes
  - yba.remediation.storage
attributes:
  check_mode:
    support: full
    details:
      - In check mode no file is written; RV(outputs) says which files would change. O(probe=canary) lists the
        prefix instead of writing its canary (as O(probe=read)).
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - Nothing in YBA or in the buckets changes. The output files carry the evaluation time, so a second run
        rewrites them and reports a change; without output files it never does.
options:
  backup_types:
    description:
      - The backup types every universe must keep fresh (V(ysql), V(ycql)), among those it has enabled.
      - Empty - those its backup schedules take, else every API it has enabled.
    type: list
    elements: str
    default: []
  rpo_seconds:
    description:
      - The RPO of a universe in seconds, by universe name or UUID; wins over its schedules and the default.
    type: dict
    default: {}
  rpo_factor:
    description:
      - The RPO of a universe without an O(rpo_seconds) entry is the shortest interval of its (not Stopped) schedules
        of that backup type times this factor (the increment interval of an incremental schedule when shorter).
    type: float
    default: 1.5
  rpo_from_schedules:
    description:
      - Derive the RPO from the schedules. V(false) holds every universe without an O(rpo_seconds) entry to the fixed
        O(default_rpo_seconds).
    type: bool
    default: true
  default_rpo_seconds:
    description:
      - The RPO of a universe without an O(rpo_seconds) entry and without a schedule of that type.
    type: float
    default: 86400
  warn_ratio:
    description:
      - An age beyond this fraction of the RPO is a V(warning).
    type: float
    default: 0.8
  min_copies:
    description:
      - Independent storage configs that must each hold a usable backup within the RPO.
    type: int
    default: 1
  window_hours:
    description:
      - Failed backups newer than this many hours are counted (C(failed_in_window) of RV(universes)).
    type: float
    default: 24
  failures_warning:
    description:
      - A universe and type whose newest backup attempt failed (no Completed backup since) is always a V(warning).
      - This many failed backups of a universe within O(window_hours) make it a V(warning) even when a later backup
        succeeded; V(0) never.
    type: int
    default: 0
  verify:
    description:
      - Check the newest Completed backup on each storage config in its bucket (its data objects and the C(success)
        marker of a YBC backup, or the snapshot metadata of a script backup) with boto3. A backup that does not
        verify does not count as a copy.
      - Needs the keys in O(storage_credentials), unless the config uses C(IAM_INSTANCE_PROFILE).
    type: bool
    default: false
  verify_timeout:
    description:
      - Seconds each S3 request of a verification may take.
    type: float
    default: 10
  probe:
    description:
      - How far to probe each S3 storage config from where the module runs, as M(yba.remediation.storage_probe) -
        V(reach) (DNS, TCP, TLS and one unsigned request; no keys, no boto3), V(read) (list the prefix), V(canary)
        (YBA's own validation with a canary object, removed again), V(none).
    type: str
    choices: [reach, read, canary, none]
    default: reach
  probe_timeout:
    description:
      - Seconds each network step of a probe may take.
    type: float
    default: 5
  storage_ca_path:
    description:
      - A PEM bundle of the CAs to trust for an https S3 endpoint (probe and verification). Default - boto3's bundle.
    type: path
  storage_validate_certs:
    description:
      - Verify the S3 endpoint's TLS certificate.
    type: bool
    default: true
  json_path:
    description:
      - Write the JSON document (RV(report)) to this file where the module runs.
    type: path
  prometheus_path:
    description:
      - Write the Prometheus textfile (RV(prometheus)) to this file where the module runs; it must end with C(.prom)
        and normally lies in node_exporter's C(--collector.textfile.directory).
    type: path
  junit_path:
    description:
      - Write the JUnit XML (RV(junit)) to this file where the module runs.
    type: path
  fail_on:
    description:
      - V(never) - the module succeeds whatever the verdict (read RV(nagios)).
      - V(critical) - fail with the Nagios line when the status is CRITICAL or UNKNOWN.
      - V(warning) - fail when it is WARNING, CRITICAL or UNKNOWN.
      - Output files are written before the module fails.
    type: str
    choices: [never, critical, warning]
    default: never
  page_size:
    description:
      - Entities per paged request.
    type: int
    default: 500
  max_backups:
    description:
      - Read at most this many backups (newest first) for the failures and the expired backups; the JSON document's
        C(truncated) tells when there were more. Beyond it, the newest Completed backup of each universe and type the
        scan did not reach is read for that universe alone.
    type: int
    default: 20000
notes:
  - Run it on the YBA host (as the P(yba.remediation.backup_sla#role) role does) so the storage probe speaks for where
    YBA reaches the buckets from, and so the textfile lands beside node_exporter.
  - 'JSON document (C(schema_version) 1): C(schema_version), C(generated_at), C(generated_at_timestamp), C(yba)
    (C(url), C(version), C(customer_uuid), C(evaluated_from), C(api_reachable), C(error), C(error_kind)),
    C(thresholds), C(status), C(summary), C(nagios), C(universes), C(schedules), C(storage), C(failed),
    C(expired_not_deleted), C(scanned_backups), C(truncated); the items as in RV(universes), RV(schedules) and
    RV(storage). Keys are only ever added within a schema version.'
  - 'Metrics (all gauges, no sample timestamps): C(yba_backup_sla_evaluation_timestamp_seconds),
    C(yba_backup_sla_api_up), C(yba_backup_sla_status) (0-3 as Nagios), C(yba_backup_sla_min_copies),
    C(yba_backup_last_success_timestamp_seconds{universe,backup_type,schedule}), C(yba_backup_rpo_seconds{...}),
    C(yba_backup_sla_ok{...}), C(yba_backup_sla_item_status{...,status}) (C(schedule) is empty for the universe x
    backup type verdict), C(yba_backup_copies{universe,backup_type}), C(yba_backup_failed_backups{universe}),
    C(yba_backup_expired_not_deleted{universe}), C(yba_schedule_paused{schedule,universe}),
    C(yba_schedule_failure_count{...}), C(yba_schedule_backlog{...}), C(yba_schedule_expected_interval_seconds{...}),
    C(yba_storage_probe_success{config}). Alert on C(time() - yba_backup_last_success_timestamp_seconds >
    yba_backup_rpo_seconds) or C(yba_backup_sla_ok == 0), and on the file''s staleness with node_exporter''s
    C(node_textfile_mtime_seconds).'
seealso:
  - module: yba.remediation.backup_info
  - module: yba.remediation.storage_probe
"""

EXAMPLES = r"""
- name: Check the backup SLA from the YBA host, write the textfile, fail like a Nagios CRITICAL
  yba.remediation.backup_sla:
    yba_url: https://yba.example.com
    yba_api_token: "{{ vault_yba_api_token }}"
    ca_content: "{{ lookup('ansible.builtin.file', 'files/yba-ca.pem') }}"
    rpo_seconds:
      orders: 3600  # tighter than its daily schedule
    min_copies: 2
    prometheus_path: /var/lib/node_exporter/textfile/yba_backup.prom
    fail_on: critical
  register: sla

- name: Say the verdict
  ansible.builtin.debug:
    msg: "{{ sla.nagios.line }}"
"""

RETURN = r"""
status:
  description: The overall verdict (V(ok), V(warning), V(critical), V(unknown)).
  returned: always
  type: str
  sample: critical
nagios:
  description:
    - The Nagios plugin view - C(status) (V(OK), V(WARNING), V(CRITICAL), V(UNKNOWN)), C(exit_code) (0-3), C(line)
      (C(YBA BACKUP CRITICAL - 4 of 4 universes beyond RPO ...|perfdata), the perfdata being each universe and
      type's age in seconds with its warn and crit thresholds) and C(text) (the line without status and perfdata).
  returned: always
  type: dict
universes:
  description:
    - One item per universe and backup type - C(universe), C(universe_uuid), C(backup_type), C(status), C(reason),
      C(rpo_seconds), C(rpo_source) (V(override), V(schedule <name>) or V(default)), C(warn_seconds),
      C(last_success) (ISO 8601 UTC of the newest usable copy), C(last_success_timestamp), C(age_seconds), C(copies)
      (independent copies within the RPO), C(min_copies), C(copies_detail) (per storage config C(config),
      C(config_uuid), C(backup_uuid), C(completed_at), C(age_seconds), C(within_rpo), C(verified), C(problem),
      C(counted), C(storage_probe_ok)), C(failed_in_window), C(last_failure), C(expired_not_deleted), C(schedules).
  returned: always
  type: list
  elements: dict
schedules:
  description:
    - One item per backup schedule - C(schedule), C(schedule_uuid), C(universe), C(universe_uuid), C(backup_type),
      C(state) (YBA's Active, Paused, Stopped), C(status), C(reason), C(failure_count), C(backlog),
      C(expected_interval_seconds), C(rpo_seconds), C(last_success), C(last_success_timestamp), C(age_seconds),
      C(next_expected), C(storage_config), C(storage_config_uuid).
  returned: always
  type: list
  elements: dict
storage:
  description:
    - One item per storage config - C(config), C(config_uuid), C(type), C(location), C(in_use), C(status),
      C(reason), C(probe_mode), C(probe_ok) (null when not probed), C(failed_step), C(error_class),
      C(probe_summary).
  returned: always
  type: list
  elements: dict
summary:
  description: Counts per verdict of C(universes), C(schedules) and C(storage) (each with C(total)), and C(status).
  returned: always
  type: dict
report:
  description: The whole JSON document (see the notes for its schema); what O(json_path) holds.
  returned: always
  type: dict
prometheus:
  description: The Prometheus textfile (what O(prometheus_path) holds).
  returned: always
  type: str
junit:
  description: The JUnit XML (what O(junit_path) holds).
  returned: always
  type: str
outputs:
  description:
    - Per output file given - C(kind) (V(json), V(prometheus), V(junit)), C(path) and C(changed) (its content
      changed; in check mode, would change, and nothing is written).
  returned: always
  type: list
  elements: dict
record:
  description:
    - The run record - C(status), C(exit_code), C(nagios) (C(exit_code) and C(line), what
      C(yba-remediation run --nagios) prints), C(summary) (one line), C(counts), C(generated_at), C(check_mode),
      C(outputs).
  returned: always
  type: dict
requests:
  description: How many API requests the module sent.
  returned: always
  type: int
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _backupverify as bv
from ansible_collections.yba.remediation.plugins.module_utils import _freshness as fr
from ansible_collections.yba.remediation.plugins.module_utils import _s3
from ansible_collections.yba.remediation.plugins.module_utils import _sla
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc

OUTPUTS = (("json", "json_path"), ("prometheus", "prometheus_path"), ("junit", "junit_path"))


def read_catalog(client, p):
    """Universes, schedules, backups (newest first) and storage configs, as the API answers them."""
    universes = client.get(client.cpath("universes")) or []
    schedules = list(client.paged(client.cpath("schedules/page"),
                                  {"filter": dict(bi.SCHEDULE_FILTER), "sortBy": "scheduleName", "direction": "ASC"},
                                  limit=p["page_size"]))
    backups = list(client.paged(client.cpath("backups/page"),
                                {"filter": dict(bi.BACKUP_FILTER), "sortBy": "createTime", "direction": "DESC"},
                                limit=p["page_size"], max_items=p["max_backups"] + 1))
    truncated = len(backups) > p["max_backups"]
    configs = [c for c in client.get(client.cpath("configs")) or [] if c.get("type") == "STORAGE"]
    # schedules/page lacks minNumBackupsToRetain, which decides which expired backups are kept on purpose
    retain = {}
    for sched_uuid in bi.retain_lookups(backups, schedules, time.time()):
        try:
            value = bi.schedule_min_retain(client.get(client.cpath("schedules/%s" % sched_uuid)) or {})
        except (_api.YBANotFound, _api.YBAValidationError):
            continue
        if value is not None:
            retain[sched_uuid] = value
    backups = backups[:p["max_backups"]]
    if truncated:
        backups += newest_beyond(client, universes, schedules, backups)
    return universes, schedules, backups, configs, retain, truncated


def newest_beyond(client, universes, schedules, backups):
    """When the scan stopped at max_backups: the newest Completed backup of each universe and type it did not reach,
    read for that universe alone (a few requests), so an old backup reads as old rather than as none."""
    found = fr.latest(backups)
    extra = []
    for u in universes:
        u_uuid = str(u.get("universeUUID") or "")
        missing = [(typ, None) for typ in fr.targets(u, schedules) if fr.newest_for(found, u_uuid, typ) is None]
        if missing:
            extra += list(fr.read_latest(client, u_uuid, missing).values())
    return extra


def settings_of(config, p):
    data, _stored = sc.probe_settings(config, sc.credentials_for(config, p["storage_credentials"]))
    return data


def probe_storage(configs, p, mode):
    out = {}
    for cfg in configs:
        if mode == "none" or cfg.get("name") != "S3":
            continue
        out[str(cfg.get("configUUID"))] = _s3.probe(settings_of(cfg, p), mode=mode, timeout=p["probe_timeout"],
                                                    ca_path=p["storage_ca_path"],
                                                    validate_certs=p["storage_validate_certs"])
    return out


def verify_newest(backups, configs, p):
    """The newest Completed backup per universe, type and storage config, checked in its bucket."""
    by_cfg = {str(c.get("configUUID")): c for c in configs}
    out = {}
    for (_u, _typ, cfg), backup in fr.latest(backups).items():
        uuid = str(bi._backup_fields(backup)["backup_uuid"])
        config = by_cfg.get(cfg)
        if config is None:
            out[uuid] = {"verified": False, "problem": "its storage config %s is gone" % cfg}
        elif config.get("name") != "S3":
            out[uuid] = {"verified": False, "problem": "only S3 backups are verified (%s)" % config.get("name")}
        else:
            out[uuid] = bv.verify_backup(settings_of(config, p), backup, timeout=p["verify_timeout"],
                                         ca_path=p["storage_ca_path"], validate_certs=p["storage_validate_certs"])
    return out


def main():
    spec = _api.api_argument_spec()
    spec.update(
        backup_types=dict(type="list", elements="str", default=[]),
        rpo_seconds=dict(type="dict", default={}),
        rpo_factor=dict(type="float", default=fr.DEFAULT_FACTOR),
        rpo_from_schedules=dict(type="bool", default=True),
        default_rpo_seconds=dict(type="float", default=fr.DEFAULT_RPO_SECONDS),
        warn_ratio=dict(type="float", default=_sla.DEFAULT_WARN_RATIO),
        min_copies=dict(type="int", default=1),
        window_hours=dict(type="float", default=24),
        failures_warning=dict(type="int", default=0),
        verify=dict(type="bool", default=False),
        verify_timeout=dict(type="float", default=10),
        storage_credentials=dict(type="dict", default={}, no_log=True),
        probe=dict(type="str", default="reach", choices=list(_sla.PROBE_MODES)),
        probe_timeout=dict(type="float", default=5),
        storage_ca_path=dict(type="path"),
        storage_validate_certs=dict(type="bool", default=True),
        json_path=dict(type="path"),
        prometheus_path=dict(type="path"),
        junit_path=dict(type="path"),
        fail_on=dict(type="str", default="never", choices=list(_sla.FAIL_ON)),
        page_size=dict(type="int", default=500),
        max_backups=dict(type="int", default=20000),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    for creds in p["storage_credentials"].values():
        module.no_log_values.update(sc.secret_values(None, creds if isinstance(creds, dict) else {}))
    problems = []
    for name in ("rpo_factor", "default_rpo_seconds", "window_hours", "probe_timeout", "verify_timeout"):
        if p[name] <= 0:
            problems.append("%s must be more than 0, got %s" % (name, p[name]))
    if not 0 < p["warn_ratio"] <= 1:
        problems.append("warn_ratio must be more than 0 and at most 1, got %s" % p["warn_ratio"])
    for name in ("min_copies", "page_size", "max_backups"):
        if p[name] < 1:
            problems.append("%s must be 1 or more, got %s" % (name, p[name]))
    if p["failures_warning"] < 0:
        problems.append("failures_warning must be 0 or more, got %s" % p["failures_warning"])
    for key, value in p["rpo_seconds"].items():
        try:
            if float(value) <= 0:
                raise ValueError
        except (TypeError, ValueError):
            problems.append("rpo_seconds.%s must be a number of seconds more than 0, got %r" % (key, value))
    if any(not isinstance(v, dict) for v in p["storage_credentials"].values()):
        problems.append("storage_credentials maps a config name to its secret fields (a dict)")
    try:
        types = [fr.api_name(fr.backup_type_of(b)) for b in p["backup_types"]] or "auto"
    except ValueError as err:
        problems.append(str(err))
        types = "auto"
    for kind, option in OUTPUTS:
        if p[option]:
            problem = _sla.path_problem(p[option], kind)
            if problem:
                problems.append(problem)
    probe_mode = "read" if module.check_mode and p["probe"] == "canary" else p["probe"]
    if (p["verify"] or probe_mode in ("read", "canary")) and not _s3.HAS_BOTO3:
        problems.append(missing_required_lib("boto3", reason="for verify or probe %s on %s (probe reach needs none)"
                                             % (p["probe"], _api.this_host())))
    ca_problem = _api.ca_file_problem(p["storage_ca_path"])
    if ca_problem:
        problems.append("storage_ca_path %s %s on %s" % (p["storage_ca_path"], ca_problem, _api.this_host()))
    if problems:
        module.fail_json(msg="; ".join(problems), requests=0)

    limits = _sla.thresholds(
        rpo_factor=p["rpo_factor"], default_rpo_seconds=p["default_rpo_seconds"],
        rpo_seconds={k: float(v) for k, v in p["rpo_seconds"].items()}, rpo_from_schedules=p["rpo_from_schedules"],
        warn_ratio=p["warn_ratio"], min_copies=p["min_copies"], window_hours=p["window_hours"],
        failures_warning=p["failures_warning"], verify=p["verify"], probe=probe_mode, backup_types=types)
    client = _api.YBAClient.from_module(module)
    yba = {"url": client.base_url, "version": None, "customer_uuid": None, "evaluated_from": _api.this_host()}
    try:
        yba["version"] = client.app_version(retries=client.retries).get("version")
        yba["customer_uuid"] = client.customer_uuid()
        universes, schedules, backups, configs, retain, truncated = read_catalog(client, p)
    except _api.YBAError as err:
        down = isinstance(err, (_api.YBAUnreachable, _api.YBATimeout)) or (err.status or 0) >= 500
        if not down:  # a rejected token, a refused request: the run itself is wrong
            _api.fail_json_from_error(module, err, "cannot read the backup state from YBA",
                                      requests=client.request_count)
        doc = _sla.unreachable(client.scrub(str(err)), _api.error_kind(err), time.time(), limits, yba)
    else:
        probes = probe_storage(configs, p, probe_mode)
        verifications = verify_newest(backups, configs, p) if p["verify"] else {}
        doc = _sla.evaluate(universes, schedules, backups, configs, time.time(), limits, probes=probes,
                            verifications=verifications, min_retain=retain, yba=yba, truncated=truncated)

    texts = {"json": _sla.render_json(doc), "prometheus": _sla.render_prometheus(doc),
             "junit": _sla.render_junit(doc, _api.this_host())}
    outputs = []
    for kind, option in OUTPUTS:
        path = p[option]
        if not path:
            continue
        if module.check_mode:
            changed = _sla.read_text(path) != texts[kind]
        else:
            try:
                changed = _sla.write_atomic(path, texts[kind])
            except OSError as err:
                module.fail_json(msg="cannot write %s: %s" % (path, err), requests=client.request_count)
        outputs.append({"kind": kind, "path": path, "changed": changed})
    result = dict(changed=any(o["changed"] for o in outputs), status=doc["status"], nagios=doc["nagios"],
                  universes=doc["universes"], schedules=doc["schedules"], storage=doc["storage"],
                  summary=doc["summary"], report=doc, prometheus=texts["prometheus"], junit=texts["junit"],
                  outputs=outputs, record=_sla.record(doc, outputs, module.check_mode),
                  requests=client.request_count)
    if doc["status"] in _sla.FAIL_ON[p["fail_on"]]:
        module.fail_json(msg=doc["nagios"]["line"], **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
