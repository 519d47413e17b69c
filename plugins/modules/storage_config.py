#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: ensure a YBA backup storage config through the API, probed from the YBA host before and after.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: storage_config
short_description: Ensure a YugabyteDB Anywhere backup storage config, probed end to end before and after
version_added: 1.0.0
description:
  - Creates, edits or deletes a YBA storage config (C(type=STORAGE)) through C(GET/POST/PUT/DELETE
    /api/v1/customers/{c}/configs[/{uuid}]), selected by O(name) or O(uuid). S3 is supported; the options leave room
    for GCS, Azure and NFS.
  - O(data) holds the non-secret fields and O(credentials) the secret ones, both named as YBA names them
    (C(BACKUP_LOCATION), C(AWS_HOST_BASE), C(PATH_STYLE_ACCESS), C(SIGNING_REGION), C(IAM_INSTANCE_PROFILE),
    C(REGION_LOCATIONS), ...; C(AWS_ACCESS_KEY_ID), C(AWS_SECRET_ACCESS_KEY)). Fields the config has and the task does
    not name are kept.
  - YBA answers secrets masked (the first and last two characters kept; C(********) for passwords and values under 5
    characters) and keeps the stored secret when a masked value is sent back. The module therefore compares the
    non-secret fields by value (V(true) and V("true") are the same, as are V(3600) and V("3600")) and the secrets by
    their mask, and sends the secrets in clear only when they differ (O(update_secrets=always)) or on create.
  - C(BACKUP_LOCATION) is read-only once a config exists (YBA's C(CustomerConfigValidator), "Field is read-only.").
    A different location fails with a message saying so, unless O(new_name) is given; then a new config of that name
    is created with the desired data and the old one is left as it is and reported in RV(replaced_config).
  - Before a write the desired settings are probed from the machine the module runs on, with the client settings YBA
    uses (endpoint, path style, signing region, CA); DNS, TCP, TLS, then put, get and compare, list, delete and
    confirm-gone of a canary object under the location's prefix, the validation YBA runs itself. When the probe fails
    nothing is written unless O(force=true). After the write the config is read back, compared, and probed again.
  - Run it on the YBA host, where YBA calls the storage from, so the probe speaks for YBA; RV(probed_from) names the
    host.
  - Edits are allowed while the config is in use (YBA allows them); backups in progress on it are reported as a
    warning. After a fix, RV(next_steps) names the C(FailedToDelete) backups on the config and the Paused schedules
    that use it.
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.attributes
options:
  name:
    description:
      - The config's name in YBA (C(configName)). Selects the config, and names a new one.
      - Exactly one of O(name) and O(uuid) is required.
    type: str
  uuid:
    description:
      - The config's UUID (C(configUUID)). Selects an existing config; a config cannot be created by UUID.
    type: str
  state:
    description:
      - V(present) creates or edits the config, V(absent) deletes it.
      - V(absent) uses C(DELETE /configs/{uuid}) without C(isDeleteBackups); the backups stay in the catalog and in
        the bucket. YBA refuses while a backup on the config is in progress or an Active schedule uses it.
    type: str
    choices: [present, absent]
    default: present
  storage_type:
    description:
      - The kind of storage (YBA's C(name) of a STORAGE config). Only V(S3) (AWS S3 and S3-compatible stores) so
        far; GCS, AZ and NFS are for later.
      - The type of an existing config cannot change; a config of another type under O(name) or O(uuid) fails.
    type: str
    choices: [S3]
    default: S3
  data:
    description:
      - The non-secret fields of the config, as YBA names them, for example C(BACKUP_LOCATION) (V(s3://bucket/prefix)),
        C(AWS_HOST_BASE) (a host and optional port with a scheme V(http), V(https) or V(s3); no path, no explicit
        V(:80) or V(:443)), C(PATH_STYLE_ACCESS), C(SIGNING_REGION), C(IAM_INSTANCE_PROFILE), C(REGION_LOCATIONS).
      - A field set to V(null) is not managed; an empty string empties it.
      - A field YBA treats as secret (its name contains KEY, SECRET, CREDENTIALS, API, POLICY or PASSWORD) is refused
        here; give it in O(credentials).
      - C(BACKUP_LOCATION) is required to create a config.
    type: dict
    default: {}
  credentials:
    description:
      - The secret fields of the config, as YBA names them, for example C(AWS_ACCESS_KEY_ID) and
        C(AWS_SECRET_ACCESS_KEY). Never logged nor returned; YBA's masked form is what results show.
      - Required to create an S3 config unless C(IAM_INSTANCE_PROFILE) is V(true) in O(data).
      - The probe signs with them. For an existing config whose secrets are not given, the probe checks DNS, TCP and
        TLS only (YBA shows its stored secrets masked) and YBA's own validation on the write checks the rest.
    type: dict
    default: {}
  update_secrets:
    description:
      - V(always) sends a secret of O(credentials) when its mask differs from the one YBA shows.
      - V(on_create) sends the secrets only when the config is created; an existing config keeps its secrets.
      - YBA's mask of a password field or of a value under 5 characters is always C(********), and two secrets with
        the same length and first and last two characters have the same mask, so such a change is not detected.
    type: str
    choices: [always, on_create]
    default: always
  new_name:
    description:
      - When the desired C(BACKUP_LOCATION) differs from the one of the existing config, which YBA does not allow to
        change, create a new config of this name with the desired data (O(credentials) then needed, YBA does not show
        the old ones) and leave the old config as it is. Without it such a change fails.
      - Backups and schedules keep using the old config; move schedules to the new one separately.
      - Ignored (with a warning) when the location does not change.
    type: str
  probe:
    description:
      - Probe the desired settings end to end before writing, and the stored ones after. Needs boto3 where the module
        runs.
      - In check mode, or when nothing changes, the probe does not write (DNS, TCP, TLS and a listing only).
    type: bool
    default: true
  force:
    description:
      - Write even when the probe of the desired settings fails (YBA still validates on its side and may refuse).
      - With O(state=absent), delete a config YBA reports in use.
    type: bool
    default: false
  probe_timeout:
    description:
      - Seconds each network step of the probe may take.
    type: float
    default: 10
  probe_ca_path:
    description:
      - PEM file of the CA(s) the probe trusts for an HTTPS endpoint, on the machine the module runs on, the
        certificates added to YBA's custom CA trust store. Default, botocore's CA bundle.
    type: path
  probe_validate_certs:
    description:
      - Whether the probe verifies the endpoint's TLS certificate. YBA verifies it unless its runtime setting
        C(yb.certVerifyBackupRestore.is_enforced) is V(false).
    type: bool
    default: true
  sample_size:
    description:
      - How many backups and schedules RV(next_steps) names.
    type: int
    default: 5
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written; RV(diff) shows the change with the secrets masked and the probe does not write.
  diff_mode:
    support: full
  idempotent:
    support: full
    details:
      - Secrets compare by YBA's mask; see O(update_secrets).
requirements:
  - boto3 (on the host the module runs on, for the probe; not needed with O(probe=false))
notes:
  - The probe runs where the module runs, named in RV(probed_from). YBA reaches the bucket from the YBA host; every
    database node must reach it too, which a probe from one host does not prove.
  - YBA's error answers echo the request, secrets included (C(requestJson)); the module never returns or logs them.
seealso:
  - module: yba.remediation.backup_info
"""

EXAMPLES = r"""
- name: Point the backup storage config at the reachable endpoint (on the YBA host, where YBA calls S3 from)
  yba.remediation.storage_config:
    yba_url: https://yba.example.com
    yba_api_token: "{{ vault_yba_api_token }}"
    ca_content: "{{ lookup('ansible.builtin.file', 'files/yba-ca.pem') }}"
    name: s3-backups
    data:
      BACKUP_LOCATION: s3://yba-backups/prod
      AWS_HOST_BASE: https://minio.internal:9000
      PATH_STYLE_ACCESS: true
      SIGNING_REGION: us-east-1
    credentials:
      AWS_ACCESS_KEY_ID: "{{ vault_s3_access_key }}"
      AWS_SECRET_ACCESS_KEY: "{{ vault_s3_secret_key }}"
    update_secrets: on_create
  register: storage

- name: What to do next (re-queue FailedToDelete backups, resume Paused schedules)
  ansible.builtin.debug:
    var: storage.next_steps

- name: Move the backups to a new bucket (BACKUP_LOCATION cannot change in place)
  yba.remediation.storage_config:
    name: s3-backups
    new_name: s3-backups-2
    data:
      BACKUP_LOCATION: s3://yba-backups-2/prod
      AWS_HOST_BASE: https://minio.internal:9000
      PATH_STYLE_ACCESS: true
    credentials:
      AWS_ACCESS_KEY_ID: "{{ vault_s3_access_key }}"
      AWS_SECRET_ACCESS_KEY: "{{ vault_s3_secret_key }}"

- name: Delete a config nothing uses
  yba.remediation.storage_config:
    uuid: 0b6e3c4e-1a52-4f43-9a1c-3bb2b4e8d0a1
    state: absent
"""

RETURN = r"""
config:
  description:
    - The config as YBA answers it after the run (C(GET configs)), secrets masked; in check mode, as it is now.
      V(null) when there is none.
  returned: always
  type: dict
  sample:
    configUUID: 0b6e3c4e-1a52-4f43-9a1c-3bb2b4e8d0a1
    configName: s3-backups
    name: S3
    type: STORAGE
    state: Active
    inUse: true
    data:
      BACKUP_LOCATION: s3://yba-backups/prod
      AWS_HOST_BASE: https://minio.internal:9000
      AWS_ACCESS_KEY_ID: AK****************LE
      AWS_SECRET_ACCESS_KEY: wJ************************************EY
diff:
  description: The config before and after (C(configName), C(name), C(data)), secrets masked as YBA masks them.
  returned: always
  type: dict
  contains:
    before:
      description: The config before the run (empty when there was none).
      type: dict
      returned: always
    after:
      description: The config after the run, or as it would be in check mode (empty once deleted).
      type: dict
      returned: always
changed_fields:
  description: The data fields that differ (or differed) from the desired ones; every field given on create.
  returned: always
  type: list
  elements: str
  sample: [AWS_HOST_BASE]
credentials_changed:
  description: Whether secrets were (or in check mode would be) sent in clear to YBA.
  returned: always
  type: bool
  sample: false
created:
  description: Whether a new config was (or in check mode would be) created.
  returned: always
  type: bool
  sample: false
replaced_config:
  description:
    - With O(new_name), the config whose C(BACKUP_LOCATION) could not change, left as it is (C(configUUID),
      C(configName), C(BACKUP_LOCATION), C(inUse)).
  returned: when O(new_name) was used because the location changes
  type: dict
probe_before:
  description:
    - The probe of the desired settings before the write (read-only in check mode or when nothing changes). V(null)
      with O(probe=false) or O(state=absent).
    - C(ok), C(failed_step), C(error_class) (for example V(dns), V(refused), V(timeout), V(tls), V(signature),
      V(access_denied), V(no_such_bucket), V(wrong_region), V(no_credentials)), C(error), C(summary) (one line) and
      C(locations), per location its C(steps) with C(latency_ms). No secret.
  returned: always
  type: dict
probe_after:
  description: The probe (with writes) of the stored settings after a write, same keys as RV(probe_before); V(null)
    when nothing was written or with O(probe=false).
  returned: always
  type: dict
probed_from:
  description: The host name of the machine the module ran on, where the probes ran from.
  returned: always
  type: str
  sample: yba1.example.com
next_steps:
  description:
    - Lines for the follow-up work on the config, for the retention and backup tasks; empty when there is none. The
      count and a sample of its C(FailedToDelete) backups (their deletion can be re-queued once the storage works)
      and the Paused schedules that use it (to resume).
  returned: always
  type: list
  elements: str
  sample:
    - "12 backups on s3-backups are FailedToDelete (e.g. 5f0c..., 9a11...): re-queue their deletion"
    - "2 schedules using s3-backups are Paused (orders-daily, billing-daily): resume them"
requests:
  description: The API requests sent, as C(METHOD path status), in order; in check mode without the write.
  returned: always
  type: list
  elements: str
record:
  description:
    - The run record of this config, without secrets - C(name), C(uuid), C(state), C(changed), C(changed_fields),
      C(credentials_changed), C(created), C(probe) (the probe's one line), C(ok) (the config's storage works from
      where the module ran, or it was removed), C(next_steps) and C(summary) (one line).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupinfo as bi
from ansible_collections.yba.remediation.plugins.module_utils import _s3
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc

PLACEHOLDER_LOCATION = "s3://placeholder"  # lets an edit that leaves BACKUP_LOCATION out be checked field by field


class Runner:
    def __init__(self, module, client):
        self.module = module
        self.p = module.params
        self.client = client
        self.here = _api.this_host()
        self.wrote = False
        self.desired = {}
        self.result = dict(changed=False, config=None, diff=dict(before={}, after={}), changed_fields=[],
                           credentials_changed=False, created=False, probe_before=None, probe_after=None,
                           probed_from=self.here, next_steps=[], requests=[])

    # ------------------------------------------------------------------------------------------ helpers
    def clean(self, value):
        """Any value with every secret the run knows replaced by the mask (probe results, YBA's answers)."""
        if isinstance(value, dict):
            return {k: self.clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.clean(v) for v in value]
        if isinstance(value, str):
            return self.client.scrub(value)
        return value

    def shown(self, config):
        if not config:
            return None
        out = dict(config)
        out["data"] = sc.mask_data(config.get("data") or {})
        return self.clean(out)

    def fail(self, msg, **extra):
        self.finish()
        self.result.update(extra)
        self.module.fail_json(msg=self.client.scrub(_api.one_line(msg)), **self.result)

    def finish(self):
        self.result["requests"] = ["%s %s %s" % (m, p, s if s is not None else "-") for m, p, s in self.client.requests]
        self.result["record"] = self.record()

    def record(self):
        """The run record of this config: no secret, and ``ok`` (its storage works, or it is gone)."""
        r = self.result
        config = r.get("config") or {}
        probe = r.get("probe_after") or r.get("probe_before") or {}
        name = config.get("configName") or self.p["new_name"] or self.p["name"] or self.p["uuid"]
        ok = self.p["state"] == "absent" or not self.p["probe"] or bool(probe.get("ok"))
        what = ("%s %s" % ("would change" if self.module.check_mode else "changed", ", ".join(r["changed_fields"]))
                if r["changed_fields"] else ("deleted" if self.p["state"] == "absent" and r["changed"] else "unchanged"))
        summary = "%s: %s; %s%s" % (name, what, "probe: " + probe["summary"] if probe.get("summary") else "not probed",
                                    "; next: " + " ".join(r["next_steps"]) if r["next_steps"] else "")
        return {"name": name, "uuid": config.get("configUUID"), "state": self.p["state"], "changed": bool(r["changed"]),
                "changed_fields": r["changed_fields"], "credentials_changed": r["credentials_changed"],
                "created": r["created"], "probe": probe.get("summary"), "ok": ok, "next_steps": r["next_steps"],
                "summary": self.client.scrub(summary)}

    def configs(self):
        return self.client.get(self.client.cpath("configs")) or []

    def select(self, configs, uuid=None, name=None):
        config = sc.find_any(configs, uuid=uuid, name=name)
        what = "uuid %s" % uuid if uuid else "name %s" % name
        if config is not None and config.get("type") != "STORAGE":
            self.fail("config with %s is a %s config, not a storage config" % (what, config.get("type")))
        if config is not None and config.get("name") != self.p["storage_type"]:
            self.fail("storage config %s is of type %s, not %s; YBA cannot change a config's type: create a new "
                      "one" % (config.get("configName"), config.get("name"), self.p["storage_type"]))
        return config

    def probe(self, data, write):
        result = _s3.probe(data, mode="canary" if write else "read", timeout=self.p["probe_timeout"],
                           ca_path=self.p["probe_ca_path"],
                           validate_certs=self.p["probe_validate_certs"])
        result["probed_from"] = self.here
        return self.clean(result)

    def diff_side(self, config_name, data):
        return {"configName": config_name, "name": self.p["storage_type"], "type": "STORAGE",
                "data": self.clean(sc.mask_data(data))}

    def count_backups(self, config_uuid, states, limit):
        body = {"filter": dict(bi.BACKUP_FILTER, storageConfigUUIDList=[config_uuid], states=list(states)),
                "sortBy": "createTime", "direction": "DESC", "offset": 0, "limit": limit, "needTotalCount": True}
        page = self.client.post(self.client.cpath("backups/page"), body, idempotent=True) or {}
        entities = page.get("entities") or []
        uuids = [(e.get("commonBackupInfo") or {}).get("backupUUID") or e.get("backupUUID") for e in entities]
        return int(page.get("totalCount") or len(entities)), [u for u in uuids if u]

    def paused_schedules(self, config_uuid):
        query = {"filter": dict(bi.SCHEDULE_FILTER, status=["Paused"]), "sortBy": "scheduleName",
                 "direction": "ASC"}
        out = []
        for s in self.client.paged(self.client.cpath("schedules/page"), query, limit=200):
            info = s.get("backupInfo") or s.get("taskParams") or {}
            if str(info.get("storageConfigUUID") or "").lower() == config_uuid.lower():
                out.append(s.get("scheduleName") or s.get("scheduleUUID"))
        return out

    def next_steps(self, config):
        n = self.p["sample_size"]
        name = config.get("configName")
        lines = []
        count, sample = self.count_backups(config["configUUID"], ["FailedToDelete"], n)
        if count:
            lines.append("%d backup%s on %s %s FailedToDelete (e.g. %s): re-queue their deletion now that the "
                         "storage works" % (count, "" if count == 1 else "s", name, "is" if count == 1 else "are",
                                            ", ".join(sample)))
        paused = self.paused_schedules(config["configUUID"])
        if paused:
            lines.append("%d schedule%s using %s %s Paused (%s): resume %s" % (
                len(paused), "" if len(paused) == 1 else "s", name, "is" if len(paused) == 1 else "are",
                ", ".join(paused[:n]), "it" if len(paused) == 1 else "them"))
        return lines

    # --------------------------------------------------------------------------------------------- absent
    def absent(self):
        p = self.p
        config = self.select(self.configs(), uuid=p["uuid"], name=p["name"])
        if config is None:
            return
        self.result["diff"]["before"] = self.diff_side(config.get("configName"), config.get("data") or {})
        self.result["config"] = self.shown(config)
        if config.get("inUse") and not p["force"]:
            universes = ", ".join(u.get("name") or u.get("uuid") for u in config.get("universeDetails") or [])
            self.fail("storage config %s is in use (backups or Active schedules%s): nothing deleted; force=true "
                      "deletes it anyway (YBA still refuses while a backup on it is in progress or an Active "
                      "schedule uses it)" % (config.get("configName"), " of " + universes if universes else ""))
        self.result["changed"] = True
        if self.module.check_mode:
            return
        try:
            self.client.delete(self.client.cpath("configs/%s" % config["configUUID"]))
        except _api.YBAError as err:
            if err.status is None or err.status >= 500:
                self.fail("the delete of storage config %s got no clear answer (%s): YBA may have deleted it; run "
                          "again to compare" % (config.get("configName"), err), status=err.status)
            self.fail("YBA refused to delete storage config %s: %s" % (config.get("configName"), err.message),
                      status=err.status, changed=False)
        self.wrote = True
        self.result["config"] = None
        self.result["diff"]["after"] = {}

    # -------------------------------------------------------------------------------------------- present
    def present(self, desired):
        p = self.p
        configs = self.configs()
        config = self.select(configs, uuid=p["uuid"], name=p["name"])
        if config is None and p["uuid"]:
            self.fail("no storage config with uuid %s: nothing changed (a config is created by name)" % p["uuid"])
        current = (config or {}).get("data") or {}
        config_name = p["name"] if config is None else config.get("configName")

        moved = sc.location_change(desired, current) if config is not None else None
        if moved and not p["new_name"]:
            self.fail("BACKUP_LOCATION is read-only once a config exists in YBA (CustomerConfigValidator: \"Field is "
                      "read-only.\"): %s has %s, asked %s; nothing changed. Give new_name to create a new config with "
                      "the new location (the old one stays as it is)" % (config_name, moved[0], moved[1]))
        if moved:
            self.result["replaced_config"] = {"configUUID": config.get("configUUID"), "configName": config_name,
                                              "BACKUP_LOCATION": moved[0], "inUse": config.get("inUse")}
            config = self.select(configs, name=p["new_name"])
            config_name = p["new_name"]
            current = (config or {}).get("data") or {}
            again = sc.location_change(desired, current) if config is not None else None
            if again:
                self.fail("BACKUP_LOCATION is read-only once a config exists in YBA: new_name %s names a config with "
                          "%s, asked %s; nothing changed" % (config_name, again[0], again[1]))
        elif p["new_name"]:
            self.module.warn("new_name is used only when BACKUP_LOCATION changes; %s keeps its location and name"
                             % config_name)

        create = config is None
        send = create or p["update_secrets"] == "always"
        body_data = sc.body_data(desired, current, send)
        problems = _s3.data_problems(body_data, require_credentials=True) if p["storage_type"] == "S3" else []
        if problems:
            self.fail("invalid storage config %s: %s; nothing changed" % (config_name, "; ".join(problems)))

        fields = sorted(k for k in desired if desired[k] is not None) if create else \
            sc.changed_fields(desired, current, send)
        changed = create or bool(fields)
        self.result.update(changed=changed, changed_fields=fields, created=create,
                           credentials_changed=changed and send and any(sc.is_sensitive(f) for f in fields))
        self.result["config"] = self.shown(config)
        self.result["diff"] = {"before": self.diff_side(config_name, current) if config else {},
                               "after": self.diff_side(config_name, body_data)}
        for name in sorted(desired):
            if sc.is_sensitive(name) and send and desired[name] and not sc.secret_comparable(name, desired[name]) \
                    and not create:
                self.module.warn("YBA masks %s fully: a change of it cannot be detected (see update_secrets)" % name)

        probe_data, unknown = sc.probe_data(desired, current, send)
        if p["probe"]:
            before = self.probe(probe_data, write=changed and not self.module.check_mode)
            self.result["probe_before"] = before
            partial = unknown and before["error_class"] == "no_credentials"
            if partial:
                self.module.warn("the probe checked DNS, TCP and TLS only: YBA shows %s masked; give them in "
                                 "credentials for a full probe (YBA validates the bucket itself on the write)"
                                 % ", ".join(unknown))
            if changed and not before["ok"] and not partial and not p["force"]:
                self.fail("the probe of the desired settings from %s failed: %s; nothing was written (force=true "
                          "writes anyway)" % (self.here, before["summary"]), changed=False)
        if config is not None and changed:
            running, _sample = self.count_backups(config["configUUID"], ["InProgress"], 1)
            if running:
                self.module.warn("%d backup%s on %s %s in progress; YBA allows the edit, the running ones keep the "
                                 "settings they started with" % (running, "" if running == 1 else "s", config_name,
                                                                 "is" if running == 1 else "are"))
        if changed and not self.module.check_mode:
            config = self.write(config, config_name, body_data)
        if config is not None:
            self.result["next_steps"] = self.next_steps(config)

    def write(self, config, config_name, data):
        body = {"configName": config_name, "name": self.p["storage_type"], "type": "STORAGE",
                "customerUUID": self.client.customer_uuid(), "data": data}
        verb = "create" if config is None else "edit"
        try:
            if config is None:
                answer = self.client.post(self.client.cpath("configs"), body)
            else:
                answer = self.client.put(self.client.cpath("configs/%s" % config["configUUID"]), body)
        except _api.YBAError as err:
            # err.message holds YBA's error (field errors joined), never its requestJson; scrubbed by the client
            if err.status is None or err.status >= 500:
                self.fail("the %s of storage config %s got no clear answer (%s): YBA may have applied it; run again "
                          "to compare" % (verb, config_name, err), status=err.status)
            self.fail("YBA refused to %s storage config %s: %s; nothing changed" % (verb, config_name, err.message),
                      status=err.status, changed=False, field_errors=getattr(err, "field_errors", None) or {})
        self.wrote = True
        config_uuid = (answer or {}).get("configUUID") or (config or {}).get("configUUID")
        stored = sc.find_any(self.configs(), uuid=config_uuid) if config_uuid else None
        self.result["config"] = self.shown(stored)
        if stored is None:
            self.fail("YBA answered the %s of %s but GET configs does not show it" % (verb, config_name), changed=True)
        send = config is None or self.p["update_secrets"] == "always"
        left = sc.changed_fields(self.desired, stored.get("data") or {}, send)
        if left:
            self.fail("YBA stored %s with other values than sent for %s" % (config_name, ", ".join(left)),
                      changed=True)
        self.result["diff"]["after"] = self.diff_side(config_name, stored.get("data") or {})
        if self.p["probe"]:
            data, unknown = sc.probe_data(self.desired, stored.get("data") or {}, False)
            after = self.probe(data, write=True)
            self.result["probe_after"] = after
            if not after["ok"] and not (unknown and after["error_class"] == "no_credentials"):
                self.module.warn("the probe after the %s failed from %s: %s" % (verb, self.here, after["summary"]))
        return stored


def main():
    spec = _api.api_argument_spec()
    spec.update(
        name=dict(type="str"),
        uuid=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        storage_type=dict(type="str", choices=["S3"], default="S3"),
        data=dict(type="dict", default={}),
        credentials=dict(type="dict", default={}, no_log=True),
        update_secrets=dict(type="str", choices=["always", "on_create"], default="always", no_log=False),
        new_name=dict(type="str"),
        probe=dict(type="bool", default=True),
        force=dict(type="bool", default=False),
        probe_timeout=dict(type="float", default=10),
        probe_ca_path=dict(type="path"),
        probe_validate_certs=dict(type="bool", default=True),
        sample_size=dict(type="int", default=5),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, mutually_exclusive=[("name", "uuid")],
                           required_one_of=[("name", "uuid")])
    p = module.params
    if p["probe_timeout"] <= 0:
        module.fail_json(msg="probe_timeout must be more than 0, got %s" % p["probe_timeout"])
    if p["sample_size"] < 1:
        module.fail_json(msg="sample_size must be 1 or more, got %s" % p["sample_size"])
    try:
        desired = sc.merge_credentials(p["data"], p["credentials"])
    except ValueError as err:
        module.fail_json(msg="%s; nothing changed" % err)
    unknown = sorted(set(desired) - sc.FIELDS[p["storage_type"]])
    if unknown:
        module.warn("%s %s not a known %s field of YBA; sent as given" % (
            ", ".join(unknown), "is" if len(unknown) == 1 else "are", p["storage_type"]))
    if p["state"] == "present":
        problems = _s3.data_problems(dict(desired, BACKUP_LOCATION=desired.get("BACKUP_LOCATION", PLACEHOLDER_LOCATION)),
                                     require_credentials=False)
        if problems:
            module.fail_json(msg="invalid storage config %s: %s; nothing changed" % (
                p["name"] or p["uuid"], "; ".join(problems)))
        if p["probe"] and not _s3.HAS_BOTO3:
            module.fail_json(msg=missing_required_lib("boto3", reason="for the storage probe on %s (or probe=false)"
                                                      % _api.this_host()), exception=str(_s3.BOTO3_IMPORT_ERROR))
    client = _api.YBAClient.from_module(module)
    for value in (p["credentials"] or {}).values():
        if isinstance(value, str):
            client.add_secret(value)
    runner = Runner(module, client)
    runner.desired = desired
    try:
        if p["state"] == "absent":
            runner.absent()
        else:
            runner.present(desired)
    except _api.YBAError as err:
        runner.finish()
        result = dict(runner.result)
        result["changed"] = runner.wrote
        _api.fail_json_from_error(module, err, "storage config %s" % (p["name"] or p["uuid"]), **result)
    runner.finish()
    module.exit_json(**runner.result)


if __name__ == "__main__":
    main()
