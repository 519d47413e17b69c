#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: probe S3 backup storage end to end, as YBA would, from where the module runs.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: storage_probe
short_description: Probe YugabyteDB Anywhere S3 backup storage end to end, as YBA itself would
version_added: 1.0.0
description:
  - Checks one YBA storage config, or explicit S3 settings, with the client settings YBA's own S3 client uses
    (C(AWSUtil.createS3Client)) - the endpoint C(AWS_HOST_BASE), path-style addressing iff C(PATH_STYLE_ACCESS), the
    signing region C(SIGNING_REGION) (else the region of a standard AWS host base, else C(us-east-1)), static keys
    or, with C(IAM_INSTANCE_PROFILE), the machine's own role.
  - 'Steps, each timed: C(dns), C(connect) (TCP), C(tls) (https endpoints), then in O(mode=canary) YBA''s own
    validation sequence (C(AWSUtil.validateOnBucket)): C(put) a canary object under the location''s prefix
    (C(<prefix>/.yba-remediation-canary/<uuid>.txt)), C(get) it and compare the bytes, C(list) it, C(delete) it and
    C(confirm_gone). Every C(REGION_LOCATIONS) entry is probed as well.'
  - A failure names its step and its error class - V(invalid_config), V(dns), V(refused), V(unreachable),
    V(timeout), V(tls), V(no_credentials), V(invalid_access_key), V(signature), V(access_denied), V(read_only),
    V(no_such_bucket), V(wrong_region), V(data_mismatch), V(not_listed), V(still_present) or V(http_error).
  - With O(config) and O(credentials), the keys given are also compared with the ones YBA holds, by YBA's mask of
    them (RV(storage.stored_credentials)). When they differ the probe fails at step C(stored_keys) with the class
    V(stored_keys_differ) - YBA signs with other keys than the ones given - whatever the given keys do.
  - Runs where you put it, and says where in RV(storage.probed_from). On the YBA host it speaks for YBA, which
    reaches the bucket from there; on the controller it tells whether the controller can. Every database node must
    reach the bucket as well, which neither proves.
  - Read-only apart from the canary, which is always removed (on a versioned bucket every version and delete
    marker of it). In check mode the canary is not written; O(mode=canary) then lists the prefix instead, and the
    result says so (RV(storage.mode) is V(read)).
  - YBA answers a config's secrets masked. With O(config), give the keys in O(credentials) (from a vault), unless
    the config uses C(IAM_INSTANCE_PROFILE); without them the probe stops at its C(credentials) step
    (V(no_credentials)) after the network steps, or use O(mode=reach).
author:
  - yba.remediation contributors (@yba-remediation)
requirements:
  - boto3 on the machine the module runs on, for O(mode=canary) and O(mode=read)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.attributes
  - yba.remediation.attributes.info_module
options:
  config:
    description:
      - The name (C(configName)) or UUID of a YBA storage config to probe, read through the API. O(data) and
        O(credentials) override its fields.
      - Without it, O(data) and O(credentials) are the whole settings and the API is not used.
    type: str
  data:
    description:
      - S3 settings as YBA names them in a storage config's C(data) - C(BACKUP_LOCATION), C(AWS_HOST_BASE),
        C(PATH_STYLE_ACCESS), C(SIGNING_REGION), C(IAM_INSTANCE_PROFILE), C(REGION_LOCATIONS).
      - Secret fields (any name YBA masks, such as C(AWS_SECRET_ACCESS_KEY)) are refused here; they belong in
        O(credentials).
    type: dict
    default: {}
  credentials:
    description:
      - The secret fields, C(AWS_ACCESS_KEY_ID) and C(AWS_SECRET_ACCESS_KEY), in YBA's names. Never logged.
    type: dict
    default: {}
  mode:
    description:
      - V(canary) runs YBA's whole validation with a canary object (a list in check mode).
      - V(read) lists the location's prefix only, writing nothing.
      - V(reach) stops after DNS, TCP, TLS and one unsigned HTTP request to the bucket; it needs neither
        credentials nor boto3. Any HTTP answer, even 403, proves an S3 server answers.
    type: str
    choices: [canary, read, reach]
    default: canary
  timeout:
    description:
      - Seconds each network step may take (connect and read timeouts of the S3 client).
    type: float
    default: 10
  attempts:
    description:
      - Attempts per S3 request (1 = no retry), as the client's C(total_max_attempts).
    type: int
    default: 1
  storage_ca_path:
    description:
      - A PEM bundle of the CAs to trust for an https endpoint, such as the CA certificates uploaded to YBA's
        custom CA trust store. Default - boto3's bundle.
    type: path
  storage_validate_certs:
    description:
      - Verify the endpoint's TLS certificate (YBA's C(yb.certVerifyBackupRestore.is_enforced)).
    type: bool
    default: true
notes:
  - O(yba_url) and the other API options are used only with O(config).
seealso:
  - module: yba.remediation.storage_config
  - module: yba.remediation.backup_info
"""

EXAMPLES = r"""
- name: Probe the storage config YBA uses, from the YBA host, with its keys from a vault
  yba.remediation.storage_probe:
    yba_url: https://yba.example.com
    yba_api_token: "{{ vault_yba_api_token }}"
    config: s3-prod-backups
    credentials:
      AWS_ACCESS_KEY_ID: "{{ vault_s3_access_key }}"
      AWS_SECRET_ACCESS_KEY: "{{ vault_s3_secret_key }}"
  register: probe

- name: Say which step failed and why
  ansible.builtin.debug:
    msg: "{{ probe.storage.summary }}"

- name: Can the controller reach the endpoint at all (no keys, no boto3 needed)
  yba.remediation.storage_probe:
    data:
      BACKUP_LOCATION: s3://prod-backups/yba
      AWS_HOST_BASE: https://minio.example.com:9000
      PATH_STYLE_ACCESS: true
    mode: reach
  delegate_to: localhost
"""

RETURN = r"""
storage:
  description: The probe's account.
  returned: always
  type: dict
  contains:
    ok:
      description: Whether every location passed every step of the mode.
      type: bool
      sample: false
    mode:
      description: The mode that ran (V(read) when O(mode=canary) ran in check mode).
      type: str
      sample: canary
    probed_from:
      description: The host name of the machine the probe ran on.
      type: str
      sample: yba1.example.com
    config_uuid:
      description: The UUID of the probed config (with O(config)).
      type: str
      returned: with O(config)
    config_name:
      description: The name of the probed config (with O(config)).
      type: str
      returned: with O(config)
    failed_step:
      description: The step that failed first (V(settings) for bad settings), or null.
      type: str
      sample: connect
    error_class:
      description: The class of that failure (see the description), or null.
      type: str
      sample: refused
    error:
      description: The failure in one line, or null.
      type: str
    summary:
      description: One line - what passed, or which step failed how.
      type: str
      sample: "s3://prod/yba via https://s3.example.com: connect failed (refused): s3.example.com:443 refused the connection"
    stored_credentials:
      description:
        - With O(config) and O(credentials), per secret field given, whether YBA holds the same value - V(same),
          V(differs), or V(unknown) when YBA's mask tells nothing (a password, a value under 5 characters).
      type: dict
      returned: with O(config) and O(credentials)
      sample: {"AWS_ACCESS_KEY_ID": "same", "AWS_SECRET_ACCESS_KEY": "differs"}
    locations:
      description:
        - One entry per location (C(BACKUP_LOCATION), then each C(REGION_LOCATIONS) entry) with C(location),
          C(region), C(bucket), C(prefix), C(endpoint), C(addressing_style), C(signing_region), C(credentials)
          (V(keys) or V(iam)), C(ok), C(failed_step), C(error_class), C(error), C(steps) (each C(name), C(ok),
          C(latency_ms), C(error_class), C(error)), C(latency_ms), C(canary_key), C(canary_removed), C(versioned)
          and C(warnings).
      type: list
      elements: dict
requests:
  description: How many YBA API requests the module sent.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _s3
from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc


def config_settings(module, client):
    """The named config's data with its masked secrets dropped (a mask cannot sign), those masks, and its
    identity."""
    ident = module.params["config"]
    configs = client.get(client.cpath("configs")) or []
    config = sc.find_any(configs, uuid=ident) or sc.find_any(configs, name=ident)
    if config is None or config.get("type") != "STORAGE":
        module.fail_json(msg="no storage config named or with UUID %r in YBA" % ident, storage=None,
                         requests=client.request_count)
    if config.get("name") != "S3":
        module.fail_json(msg="storage config %r is of type %s; this probe speaks S3 only" % (
            ident, config.get("name")), storage=None, requests=client.request_count)
    data, stored = sc.probe_settings(config)
    return data, stored, {"config_uuid": config.get("configUUID"), "config_name": config.get("configName")}


def compare_stored(result, compared):
    """The keys given are probed; the config is only right if YBA holds the same ones (compared by YBA's mask)."""
    result["stored_credentials"] = compared
    differ = sorted(k for k, v in compared.items() if v == "differs")
    if not differ:
        return
    text = ("YBA's stored %s differ%s from the one%s given (compared by YBA's mask): YBA signs with other keys than "
            "these, which %s" % (" and ".join(differ), "s" if len(differ) == 1 else "", "" if len(differ) == 1 else "s",
                                 "work" if result["ok"] else "fail too"))
    result.update(ok=False, failed_step="stored_keys", error_class="stored_keys_differ", error=text,
                  summary="%s; with the keys given: %s" % (text, result["summary"]))


def main():
    spec = _api.api_argument_spec()
    spec.update(
        config=dict(type="str"),
        data=dict(type="dict", default={}),
        credentials=dict(type="dict", default={}, no_log=True),
        mode=dict(type="str", default="canary", choices=list(_s3.MODES)),
        timeout=dict(type="float", default=10),
        attempts=dict(type="int", default=1),
        storage_ca_path=dict(type="path"),
        storage_validate_certs=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    module.no_log_values.update(sc.secret_values(p["data"], p["credentials"]))
    mode = "read" if module.check_mode and p["mode"] == "canary" else p["mode"]
    if mode != "reach" and not _s3.HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3", reason="for mode %s on %s (mode reach needs none)" % (
            p["mode"], _api.this_host())), exception=str(_s3.BOTO3_IMPORT_ERROR), storage=None, requests=0)
    if p["timeout"] <= 0 or p["attempts"] < 1:
        module.fail_json(msg="timeout must be > 0 and attempts >= 1", storage=None, requests=0)
    ca_problem = _api.ca_file_problem(p["storage_ca_path"])
    if ca_problem:
        module.fail_json(msg="storage_ca_path %s %s on %s" % (p["storage_ca_path"], ca_problem, _api.this_host()),
                         storage=None, requests=0)
    try:
        sc.merge_credentials(p["data"], p["credentials"])
    except ValueError as err:
        module.fail_json(msg=str(err), storage=None, requests=0)

    identity = {}
    base = {}
    stored = None
    client = None
    if p["config"]:
        client = _api.YBAClient.from_module(module)
        try:
            base, stored, identity = config_settings(module, client)
        except _api.YBAError as err:
            _api.fail_json_from_error(module, err, "cannot read the storage configs from YBA", storage=None)
    base.update(p["data"])
    settings = sc.merge_credentials(base, p["credentials"])
    if not settings.get("BACKUP_LOCATION"):
        module.fail_json(msg="no BACKUP_LOCATION: give config, or data.BACKUP_LOCATION", storage=None,
                         requests=client.request_count if client else 0)
    result = _s3.probe(settings, mode=mode, timeout=p["timeout"], attempts=p["attempts"],
                       ca_path=p["storage_ca_path"], validate_certs=p["storage_validate_certs"])
    result["probed_from"] = _api.this_host()
    result.update(identity)
    if stored is not None and p["credentials"]:
        compare_stored(result, sc.stored_secrets(stored, p["credentials"]))
    module.exit_json(changed=False, storage=result, requests=client.request_count if client else 0)


if __name__ == "__main__":
    main()
