#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: read-only facts about a YBA host (install, versions, services, disk, process, heap, API).
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: platform_info
short_description: Gather facts about a YugabyteDB Anywhere host and its platform service
version_added: 1.0.0
description:
  - Runs on the YBA host and reports, without changing anything, what a diagnosis needs.
  - The install type (yba-installer, detected by C(/opt/yba-ctl/yba-ctl.yml) and C(/etc/systemd/system/yb-platform.service);
    or Replicated, detected by C(replicatedctl) and its containers) and the install layout.
  - Versions from C(yba-ctl version) and from the API (C(GET /api/v1/app_version)).
  - Service states from C(yba-ctl status) (read loosely, as column sets differ across versions), or C(systemctl) where systemd runs.
  - Disk usage of the volumes holding the install (C(statvfs)), and of the install by category (logs, releases, Prometheus, ...).
  - The platform process (its command line contains C(yugaware/bin/yugaware)) with its resident memory,
    the JVM heap used and maximum from C(GET /api/v1/prometheus_metrics), and API liveness and latency probed with
    a short timeout. A process that is up but does not answer is reported as hung.
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.host
  - yba.remediation.attributes
  - yba.remediation.attributes.info_module
options:
  install_root:
    description:
      - The host path of the install root, when discovery should not be trusted (for a Replicated host, its storage path).
      - By default it is read from C(yba-ctl.yml), else C(/opt/yugabyte).
    type: str
  ca_content:
    description:
      - PEM text of the CA that signed the platform certificate (for example read on the controller with
        C(lookup('file', yba_ca_path))). The module writes it to a private temporary file on the host and
        verifies with it. A CA path that exists only on the controller does not exist where this module runs.
      - Mutually exclusive with O(ca_path).
    type: str
  probe_timeout:
    description:
      - Seconds the API liveness probe and the metrics request may take. A platform that does not answer
        within this time while its process is up is reported as hung.
    type: float
    default: 5
  usage_by_category:
    description:
      - Walk the install tree to report disk usage by category. Turn off on very large trees when only the volume figures are needed.
    type: bool
    default: true
notes:
  - O(yba_url) defaults to C(https://localhost:<platform.port from yba-ctl.yml>) when it and E(YBA_URL) are unset.
    Without O(yba_api_token) the heap metrics and the authenticated API check are skipped.
  - A probe that fails on the client side (CA file missing or unreadable on the host, certificate not verified,
    TLS handshake failure, HTTP 401/403) is reported in RV(platform.api.client_error) and never read as a hung or
    down platform.
  - The module does not retry the API probe (a diagnosis wants the answer now); O(backoff_retries) is not used.
seealso:
  - module: yba.remediation.backup_info
  - module: yba.remediation.host_lock
"""

EXAMPLES = r"""
- name: Gather the platform facts of the YBA host
  yba.remediation.platform_info:
    yba_url: https://yba.example.com
    yba_api_token: "{{ vault_yba_api_token }}"
    ca_path: /etc/pki/yba-ca.pem
  become: true
  register: yba_platform

- name: Show how full the disk is
  ansible.builtin.debug:
    msg: "{{ yba_platform.platform.disk.max_used_percent }} % used"
"""

RETURN = r"""
platform:
  description: Everything the module found.
  returned: always
  type: dict
  contains:
    install_type:
      description: V(yba-installer), V(replicated) or V(unknown).
      type: str
      returned: always
      sample: yba-installer
    markers:
      description: Which install markers exist (host paths).
      type: dict
      returned: always
      sample: {"/opt/yba-ctl/yba-ctl.yml": true, "/etc/systemd/system/yb-platform.service": true}
    layout:
      description: The main paths of the install, as the host names them.
      type: dict
      returned: always
      sample: {"install_root": "/opt/yugabyte", "data_dir": "/opt/yugabyte/data", "active_version": "2.18.1.0-b84"}
    versions:
      description: Versions reported by C(yba-ctl version) (C(yba_ctl), C(yba)) and by the API (C(api)).
      type: dict
      returned: always
      sample: {"yba_ctl": "2.18.1.0-b84", "yba": "2.18.1.0-b84", "api": "2.18.1.0-b84"}
    services:
      description: State of each service (C(running), C(stopped), C(failed), C(not-installed), C(unmanaged), C(unknown)).
      type: dict
      returned: always
      sample: {"yb-platform": {"state": "running", "raw": "Running"}}
    service_backend:
      description: How the service states were read (V(yba-ctl), V(systemd), V(replicated)), or V(null).
      type: str
      returned: always
    service_error:
      description: Why the service states could not be read, or V(null).
      type: str
      returned: always
    disk:
      description: Volume figures of the install (df semantics) and usage by category in bytes.
      type: dict
      returned: always
      sample:
        volume: {"path": "/opt/yugabyte", "total_bytes": 1000, "used_bytes": 960, "avail_bytes": 40, "used_percent": 96.0}
        volumes: []
        max_used_percent: 96.0
        by_category: {"logs": 123, "releases": 456}
    process:
      description: The platform process (C(running), C(pid), C(state), C(stopped), C(rss_bytes), C(age_seconds)).
      type: dict
      returned: always
      sample: {"running": true, "pid": 4242, "state": "S", "stopped": false, "rss_bytes": 1073741824, "age_seconds": 3600}
    heap:
      description: JVM heap used and maximum (bytes) and the percentage used, from the platform metrics and the process.
      type: dict
      returned: always
      sample: {"heap_used_bytes": 900, "heap_max_bytes": 1000, "heap_used_percent": 90.0}
    api:
      description: Result of the API probe.
      type: dict
      returned: always
      sample: {"url": "https://127.0.0.1:443", "reachable": true, "healthy": true, "hung": false, "latency_ms": 12.5,
               "version": "2.18.1.0-b84", "message": "", "client_error": null}
      contains:
        client_error:
          description:
            - Set when the probe failed on the CLIENT side, so it says nothing about the platform. V(ca_file) means
              the CA file is missing, unreadable or not PEM on the host. V(tls_verify) means the certificate does
              not verify. V(tls_handshake) is a failed handshake. V(auth) is HTTP 401/403.
          type: str
          returned: always
          sample: ca_file
    state:
      description:
        - Summary of the platform. V(running) (answers), V(hung) (process up, API silent, or the process stopped by
          a signal), V(starting) (process younger than two minutes, API not answering yet), V(down) (no process, no
          answer), V(degraded) (answers but an authenticated call fails), V(unknown) (the process runs but the API
          could not be checked because of a client-side TLS or CA problem, see RV(platform.api.client_error)).
      type: str
      returned: always
      sample: running
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _diskscan
from ansible_collections.yba.remediation.plugins.module_utils import _heap
from ansible_collections.yba.remediation.plugins.module_utils import _layout
from ansible_collections.yba.remediation.plugins.module_utils import _service

STARTING_GRACE_SECONDS = 120
LAYOUT_KEYS = ("install_root", "data_dir", "logs_dir", "software_dir", "active_version", "rollback_version",
               "releases_dir", "prometheus_storage", "postgres_data", "yba_ctl_home", "yba_ctl_yml", "yba_ctl_bin",
               "platform_unit", "platform_port", "postgres_port", "prometheus_retention", "config_style")


def parse_ybactl_version(text):
    """``yba-ctl version`` prints ``YBA Installer: <v>`` and ``YugabyteDB Anywhere: <v>``."""
    out = {"yba_ctl": None, "yba": None}
    for line in (text or "").splitlines():
        m = re.match(r"\s*(YBA Installer|YugabyteDB Anywhere)\s*(?:version)?\s*:\s*(\S+)", line, re.I)
        if m:
            out["yba_ctl" if m.group(1).lower().startswith("yba inst") else "yba"] = m.group(2)
    return out


def classify(process, api):
    """Summary state from the process facts and the API probe (pure)."""
    running = bool(process.get("running"))
    if api.get("healthy"):
        return "running"
    client_error = api.get("client_error")
    if client_error and client_error != "auth":
        # the probe never judged the platform: only the process facts speak
        if running:
            return "hung" if process.get("stopped") else "unknown"
        return "down" if client_error == "ca_file" else "unknown"
    if api.get("reachable") and not api.get("hung"):
        return "degraded"  # app_version answers, an authenticated call does not
    if running:
        if process.get("stopped") or api.get("hung"):
            return "hung"
        age = process.get("age_seconds")
        if age is not None and age < STARTING_GRACE_SECONDS:
            return "starting"
        return "hung"
    if api.get("hung"):
        return "hung"  # something accepts connections and never answers (process not visible from here)
    return "down"


def _volumes(layout):
    out, seen = [], set()
    for path in (layout.install_root, layout.data_dir, layout.postgres_data, layout.yba_ctl_home, layout.tmp_dir):
        if not path or not os.path.exists(path):
            continue
        try:
            vol = _diskscan.volume(path)
        except OSError:
            continue
        if vol.dev in seen:
            continue
        seen.add(vol.dev)
        d = vol.as_dict()
        d["path"] = layout.to_host(path)
        out.append(d)
    return out


def _api_facts(module, layout, token):
    p = module.params
    url = p["yba_url"] or "https://localhost:%d" % (layout.platform_port or 443)
    api = {"url": url, "reachable": False, "healthy": False, "hung": False, "latency_ms": None,
           "version": None, "failed_check": None, "message": "", "client_error": None}
    metrics = None
    ca_path = _api.ca_file_from_content(p["ca_content"], module.tmpdir) if p["ca_content"] else p["ca_path"]
    try:
        client = _api.YBAClient(url, token=token, validate_certs=p["validate_certs"], ca_path=ca_path,
                                timeout=p["probe_timeout"], retries=0)
    except _api.YBAError as err:
        api["message"] = str(err)
        return api, metrics
    if token:
        health = _service.probe_health(client, p["probe_timeout"])
        api.update(health.as_dict())
        api["reachable"] = bool(health.version) or health.failed_check == "auth"
    else:
        try:
            answer = client.app_version(timeout=p["probe_timeout"])
            api.update(reachable=True, healthy=bool(answer["version"]), version=answer["version"],
                       latency_ms=answer["latency_ms"], message="no yba_api_token: authenticated checks skipped")
        except _api.YBATimeout as err:
            api.update(hung=True, failed_check="app_version", message=str(err))
        except _api.YBATLSError as err:
            api.update(failed_check="tls", client_error=err.kind, message=str(err))
        except _api.YBAError as err:
            api.update(failed_check="app_version", message=str(err))
    if token and api["reachable"]:
        try:
            metrics = client.get("/api/v1/prometheus_metrics", raw=True, timeout=p["probe_timeout"], retries=0)
        except _api.YBAError as err:
            api["metrics_error"] = str(err)
    if p["ca_content"]:  # name what the user gave, not the module's temporary copy of it
        api["message"] = api["message"].replace("ca_path " + ca_path, "ca_content")
    return api, metrics


def main():
    spec = _api.api_argument_spec()
    spec.update(
        host_root=dict(type="path", default="/"),
        install_root=dict(type="str"),
        probe_timeout=dict(type="float", default=5),
        usage_by_category=dict(type="bool", default=True),
        ca_content=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, mutually_exclusive=[("ca_path", "ca_content")])
    p = module.params
    if p["probe_timeout"] <= 0:
        module.fail_json(msg="probe_timeout must be more than 0 seconds, got %s" % p["probe_timeout"])
    if p["ca_content"] is not None and "CERTIFICATE-----" not in p["ca_content"]:
        module.fail_json(msg="ca_content holds no PEM certificate (pass the CA file's text, not its path)")
    try:
        layout = _layout.detect(p["host_root"], install_root=p["install_root"])
    except ValueError as err:
        module.fail_json(msg="cannot read the YBA install under host_root %s: %s" % (p["host_root"], err))

    facts = {"install_type": layout.install_type}
    facts["markers"] = {m: os.path.lexists(layout.host_path(m)) for m in (
        "/opt/yba-ctl/yba-ctl.yml", "/etc/systemd/system/yb-platform.service", "/usr/local/bin/replicatedctl",
        "/usr/bin/replicatedctl", "/etc/replicated.conf")}
    lay = layout.as_dict()
    facts["layout"] = {k: (layout.to_host(lay[k]) if isinstance(lay[k], str) and lay[k].startswith("/") else lay[k])
                       for k in LAYOUT_KEYS if k in lay}

    # versions and services
    versions = {"yba_ctl": None, "yba": None, "api": None}
    if layout.yba_ctl_bin and os.access(layout.yba_ctl_bin, os.X_OK):
        res = _service.run_command([layout.yba_ctl_bin, "version"], 30)
        if res.rc == 0:
            versions.update(parse_ybactl_version(res.stdout))
    facts["service_backend"], facts["service_error"], facts["services"] = None, None, {}
    hint_pids = []
    try:
        backend = _service.select_backend(layout.install_type, layout.yba_ctl_bin)
        if backend.name == "systemd" and not _service.systemd_running():
            raise _service.ServiceError("systemd is not running on this host: service states unknown")
        facts["service_backend"] = backend.name
        statuses = backend.status(list(_service.SERVICES))
        facts["services"] = {n: {"state": s.state, "raw": s.raw, "pid": s.pid} for n, s in statuses.items()}
        hint_pids = [s.pid for s in statuses.values() if s.name == _service.PLATFORM and s.pid]
    except _service.ServiceError as err:
        facts["service_error"] = str(err)

    # disk
    vols = _volumes(layout)
    disk = {"volume": vols[0] if vols else None, "volumes": vols,
            "max_used_percent": max([v["used_percent"] for v in vols]) if vols else None, "by_category": {}}
    if p["usage_by_category"] and layout.install_type != "unknown":
        disk["by_category"] = _diskscan.usage_by_category(layout)
    facts["disk"] = disk

    # process
    proc = _service.platform_process(layout, hint_pids)
    facts["process"] = {"running": proc is not None, "pid": None, "state": None, "stopped": False,
                        "rss_bytes": None, "age_seconds": None}
    if proc is not None:
        age = proc.age_seconds()
        facts["process"].update(pid=proc.pid, state=proc.state, stopped=proc.stopped, rss_bytes=proc.rss_bytes,
                                age_seconds=int(age) if age is not None else None)

    # API and heap
    token = p["yba_api_token"]
    api, metrics = _api_facts(module, layout, token)
    if token:
        api["message"] = api["message"].replace(token, _api.MASK)
    versions["api"] = api.get("version")
    facts["versions"] = versions
    facts["api"] = api
    heap = _heap.heap_report(proc, metrics)
    heap.pop("java_opts", None)  # may carry proxy credentials
    facts["heap"] = heap
    facts["state"] = classify(facts["process"], api)
    module.exit_json(changed=False, platform=facts)


if __name__ == "__main__":
    main()
