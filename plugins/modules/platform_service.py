#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: bring the YBA platform (and postgres, prometheus) to a state; restart only when needed.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: platform_service
short_description: Start, stop, restart or heal the YugabyteDB Anywhere platform services
version_added: 1.0.0
description:
  - Brings the YBA platform service C(yb-platform) and, where asked, C(postgres) and C(prometheus) to a
    desired state on the YBA host.
  - O(state=healthy) restarts the platform ONLY when it is down, hung (the API accepts connections but
    does not answer within O(probe_timeout)), its process is stopped by a signal, or it fails its health
    probe; otherwise it changes nothing. Restarting C(yb-platform) is also YBA's supported way to
    reconcile stuck tasks and C(In Progress) backups.
  - The health probe is C(GET /api/v1/app_version) answering 200 with a version, then an authenticated
    call (C(GET /api/v1/customers)) with O(yba_api_token). The wait for health is bounded by O(wait_timeout)
    and probes back off up to O(backoff_max_delay).
  - The backend follows the detected install type. yba-installer hosts use C(yba-ctl start|stop|restart
    <service>) from the installed path, plain systemd hosts use C(systemctl), Replicated hosts use
    C(replicatedctl app stop|start) (the whole application).
  - Order matters after a disk-full crash. Services start C(postgres) first and C(yb-platform) last, and
    stop in reverse. When the platform must be started or restarted and its bundled metadata DB
    C(postgres) is down, postgres is started first even when O(services) does not name it.
  - Runs on the YBA host (with become). The API probe goes from the host to O(yba_url), so the CA that verifies
    the platform must be readable ON THE HOST. Give it as O(ca_content) (the PEM text, for example read on the
    controller with C(lookup('file', yba_ca_path)), which the roles of this collection do) or as a host path in O(ca_path).
  - A probe that fails on the CLIENT side, that is a CA file missing or unreadable where the module runs, a
    certificate that does not verify, a TLS handshake failure, or HTTP 401/403, says nothing about the platform.
    The module never restarts for it. It fails at once with the cause and the fix (RV(client_error)), unless
    the process itself shows it is hung (stopped by a signal) or down, which is acted on as usual.
  - With O(heap_pressure_percent), heap pressure (heap used at or above that percent of the max heap, from the
    platform's own C(/api/v1/prometheus_metrics)) is a reason to restart in O(state=healthy), because a restart
    frees what a thrashing collector cannot. Heap is measured only once the process is O(heap_settle_seconds) old. A
    process younger than that counts as just restarted, so it is measured once settled and not restarted again.
    RV(heap_pressure_persists) tells the caller that pressure remains after a restart, the signal to raise the
    heap with M(yba.remediation.platform_heap) (O(yba.remediation.platform_heap#module:state=raised)).
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.host
  - yba.remediation.attributes
attributes:
  check_mode:
    support: full
    details:
      - Observes the services and probes the API, then reports whether a start, stop or restart would
        happen (RV(actions)) without running it.
  diff_mode:
    support: full
    details:
      - Shows the state of each service before and after.
  idempotent:
    support: full
    details:
      - O(state=restarted) always restarts and reports a change, like M(ansible.builtin.service).
options:
  state:
    description:
      - V(healthy) restarts the platform only when it is down, hung or failing the health probe, and starts
        other listed services that are down.
      - V(started) starts what is not running and waits for the platform's health. It does not restart a
        running but unhealthy platform.
      - V(restarted) always restarts the listed services.
      - V(stopped) stops the listed services (yb-platform first).
    type: str
    choices: [healthy, started, restarted, stopped]
    default: healthy
  services:
    description:
      - Services to act on.
      - On Replicated installs, any start or restart acts on the whole application.
    type: list
    elements: str
    choices: [yb-platform, postgres, prometheus]
    default: [yb-platform]
  backend:
    description:
      - How to control the services. V(auto) picks it from the detected install type (C(yba-ctl) when
        it is installed, else C(systemctl); C(replicatedctl) on Replicated installs).
    type: str
    choices: [auto, yba-ctl, systemd, replicated]
    default: auto
  wait:
    description:
      - Wait for the platform to pass its health probe after starting or restarting it (and check it
        before reporting success).
      - Always true for O(state=healthy).
    type: bool
    default: true
  wait_timeout:
    description:
      - Upper bound in seconds of the whole operation. This covers the service commands and the wait for
        health.
      - YBA itself waits up to 300 s for the platform after a restart (Replicated 900 s).
    type: float
    default: 300
  probe_timeout:
    description:
      - Seconds one health request may take before the platform counts as hung.
    type: float
    default: 10
  reason:
    description:
      - Why the caller asks for O(state=restarted) (for example stuck backups to reconcile, or a changed heap
        setting). Shown as the reason of the restart in RV(actions) and so in the run record.
    type: str
  startup_grace:
    description:
      - A platform process younger than this many seconds whose API port refuses connections is taken as
        still starting (for example just restarted by systemd's C(Restart=always)). The module waits for it
        (within O(wait_timeout)) instead of restarting it.
      - V(0) disables the grace.
    type: float
    default: 120
  ca_content:
    description:
      - PEM text of the CA that signed the platform certificate. The module writes it to a private temporary
        file on the host and verifies with it, so a CA file kept on the controller works for a probe that runs
        on the host.
      - Mutually exclusive with O(ca_path).
    type: str
  heap_pressure_percent:
    description:
      - Heap use, in percent of the max heap, at or above which the platform counts as under heap pressure.
      - Unset (the default) leaves heap out of the decision; RV(heap) is still reported.
    type: float
  heap_settle_seconds:
    description:
      - Age in seconds a platform process must reach before its heap use is measured (only with
        O(heap_pressure_percent)). Right after a start the heap has not reached its working size. YBA runs its
        JVM with C(-XX:G1PeriodicGCInterval=120000) (C(managed/build.sbt)), so after 120 s a collection has
        shown the live set.
      - The wait counts against O(wait_timeout).
    type: float
    default: 120
  stay_down_seconds:
    description:
      - With O(state=stopped), how long to verify that the platform STAYS down after stopping it. With
        C(Restart=always) (yba-installer's unit) something may start it again; the module fails, naming what shows
        it up, if the platform is back within this time.
      - Unset (the default) is the unit's C(RestartSec) plus 5 seconds, at most 60 (5 seconds without a unit).
        V(0) checks once, right after the stop.
      - A platform that was already down is checked once.
    type: float
notes:
  - O(state=stopped) stops through the service manager (C(yba-ctl), C(systemctl), C(replicatedctl)), never by
    killing the process, which C(Restart=always) would undo. C(yba-ctl stop) leaves a crash-looping (Errored) unit
    to systemd, so such a unit is stopped with C(systemctl stop), or, without systemd, stopped with C(yba-ctl stop)
    once its pending restart has run.
  - The API options O(yba_url) and O(yba_api_token) are required for every state but V(stopped). The
    platform is probed from the YBA host, so O(yba_url) must be reachable from it (for example
    V(https://localhost)).
  - A wrong token, CA or TLS setting fails the module at once without a restart, because restarting does not fix
    the probe's own configuration.
  - O(customer_uuid) is accepted for symmetry with the other API modules and is not used.
seealso:
  - module: yba.remediation.platform_heap
"""

EXAMPLES = r"""
- name: Restart the platform only if it is down, hung or unhealthy (postgres first if it crashed)
  yba.remediation.platform_service:
    state: healthy
    services: [postgres, yb-platform]
    yba_url: https://localhost
    yba_api_token: "{{ yba_api_token }}"
    ca_content: "{{ lookup('ansible.builtin.file', yba_ca_path) }}"  # the CA file is on the controller
  become: true

- name: Restart the platform if it is hung or under heap pressure; tell whether pressure outlives the restart
  yba.remediation.platform_service:
    state: healthy
    yba_url: https://localhost
    yba_api_token: "{{ yba_api_token }}"
    ca_path: /opt/yugabyte/data/yba-installer/certs/ca.pem  # a CA file on the YBA host
    heap_pressure_percent: 80
  become: true
  register: platform

- name: Restart the platform to reconcile stuck tasks and In Progress backups
  yba.remediation.platform_service:
    state: restarted
    wait_timeout: 600
  become: true

- name: Stop the platform
  yba.remediation.platform_service:
    state: stopped
  become: true
"""

RETURN = r"""
actions:
  description: Service actions taken (or, in check mode, that would be taken), in order, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{action: restart, service: yb-platform, reason: "hung: no answer within 10.0 s"}]
commands:
  description: Commands run (or, in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample: ["/usr/bin/yba-ctl restart yb-platform"]
check_mode:
  description: Whether the module ran in check mode (so a role can tell, whichever way check mode was set).
  returned: always
  type: bool
  sample: false
backend:
  description: The backend used (C(yba-ctl), C(systemd) or C(replicated)).
  returned: always
  type: str
  sample: yba-ctl
services:
  description: State of each observed service after the run (before it, in check mode).
  returned: always
  type: dict
  sample: {yb-platform: {name: yb-platform, state: running, raw: Running, pid: 4242}}
platform:
  description: The platform process before and after (pid, whether it was stopped by a signal, RSS).
  returned: always
  type: dict
  sample: {pid_before: 4100, pid_after: 4242, stopped_before: true, rss_bytes: 812000000}
health_before:
  description: The health probe before any action (not run when the platform was not running).
  returned: when the platform is observed
  type: dict
  sample: {healthy: false, failed_check: app_version, message: "no answer within 10.0 s (hung)", hung: true}
health:
  description: The health probe at the end (the failing check when the platform did not become healthy).
  returned: when the platform is observed
  type: dict
  sample: {healthy: true, failed_check: null, version: 2.18.1.0-b84, latency_ms: 12.5}
failed_check:
  description: Which check failed at the end (V(app_version), V(auth), V(tls), V(process), V(stay_down)), or null.
  returned: always
  type: str
  sample: app_version
version_before:
  description: Platform version reported by the API before the run (null when it did not answer).
  returned: always
  type: str
  sample: 2.18.1.0-b84
version_after:
  description: Platform version reported by the API after the run.
  returned: always
  type: str
  sample: 2.18.1.0-b84
downtime_seconds:
  description: Seconds from the first platform stop/start/restart command until it passed the health probe
    (0 when the platform was not touched).
  returned: always
  type: float
  sample: 7.4
heap:
  description:
    - JVM heap and memory of the platform process at the end. Includes the C(-Xmx) and RSS from the
      process, and heap used, committed and max (bytes and percent) from the platform's own
      C(/api/v1/prometheus_metrics) when it is healthy and serves them.
  returned: when the platform process runs at the end
  type: dict
  sample: {pid: 4242, xmx_bytes: 2147483648, rss_bytes: 2400000000, heap_used_bytes: 1932735283,
           heap_max_bytes: 2147483648, heap_used_percent: 90.0, source: [process, metrics]}
client_error:
  description:
    - Set when the health probe failed on the client side. V(ca_file) means the CA file is missing, unreadable
      or not PEM where the module runs. V(tls_verify) means the certificate does not verify against the CA.
      V(tls_handshake) is a failed handshake. V(auth) is HTTP 401/403.
    - The platform was not judged, and not restarted, for it.
  returned: when the module fails for it
  type: str
  sample: tls_verify
heap_before:
  description: The heap as measured before any action (same keys as RV(heap)), once the process had settled.
  returned: with O(heap_pressure_percent) and O(state=healthy), when the platform was healthy
  type: dict
  sample: {xmx_bytes: null, heap_used_bytes: 975000000, heap_max_bytes: 1073741824, heap_used_percent: 90.8}
heap_pressure:
  description: Whether heap use at the end is at or above O(heap_pressure_percent) (null when not measured).
  returned: with O(heap_pressure_percent)
  type: bool
  sample: true
heap_pressure_persists:
  description:
    - True when the heap is still under pressure after a restart, either by this run or because the process was
      younger than O(heap_settle_seconds) when first seen. A restart did not help; raise the heap.
  returned: with O(heap_pressure_percent)
  type: bool
  sample: true
startup_wait_seconds:
  description: Seconds spent waiting for a platform that was still starting (see O(startup_grace)).
  returned: when the platform was found starting
  type: float
  sample: 42.5
stayed_down_seconds:
  description:
    - With O(state=stopped), the seconds the module watched the stopped platform and found it down (no platform
      process, not Running for the service manager). The module fails if it came back.
  returned: with O(state=stopped) and yb-platform in O(services), not in check mode
  type: float
  sample: 15.0
stay_down:
  description:
    - What the stay-down verification checked. C(required_seconds) is the watch asked for (see O(stay_down_seconds)),
      C(restart) and C(restart_sec) are the unit's C(Restart=) and C(RestartSec=) (null without a unit),
      C(observations) is how often the platform was checked, C(evidence) what showed it up (null when it stayed
      down).
  returned: with O(state=stopped) and yb-platform in O(services), not in check mode
  type: dict
  sample: {required_seconds: 15.0, watched_seconds: 15.0, restart: always, restart_sec: 10.0, observations: 16,
           evidence: null}
elapsed_seconds:
  description: Duration of the whole run.
  returned: always
  type: float
  sample: 9.1
"""

import time
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _api, _heap, _layout, _service

STATES = ("healthy", "started", "restarted", "stopped")


def argument_spec() -> t.Dict[str, t.Any]:
    spec = _api.api_argument_spec()
    spec.update(
        host_root=dict(type="path", default="/"),
        state=dict(type="str", default="healthy", choices=list(STATES)),
        services=dict(type="list", elements="str", default=[_service.PLATFORM], choices=list(_service.SERVICES)),
        backend=dict(type="str", default="auto", choices=["auto", "yba-ctl", "systemd", "replicated"]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="float", default=300),
        probe_timeout=dict(type="float", default=10),
        startup_grace=dict(type="float", default=120),
        reason=dict(type="str"),
        ca_content=dict(type="str"),
        heap_pressure_percent=dict(type="float"),
        heap_settle_seconds=dict(type="float", default=120),
        stay_down_seconds=dict(type="float"),
    )
    return spec


def validate(params: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """The one message for bad input, or None. Pure."""
    for name in ("wait_timeout", "probe_timeout", "request_timeout"):
        if params.get(name) is not None and params[name] <= 0:
            return "%s must be a positive number of seconds, got %s" % (name, params[name])
    if params.get("stay_down_seconds") is not None and params["stay_down_seconds"] < 0:
        return "stay_down_seconds must not be negative, got %s" % params["stay_down_seconds"]
    if params.get("startup_grace") is not None and params["startup_grace"] < 0:
        return "startup_grace must not be negative, got %s" % params["startup_grace"]
    if params.get("backoff_max_delay") is not None and params["backoff_max_delay"] < 0:
        return "backoff_max_delay must not be negative, got %s" % params["backoff_max_delay"]
    threshold = params.get("heap_pressure_percent")
    if threshold is not None and not 0 < threshold <= 100:
        return "heap_pressure_percent must be more than 0 and at most 100, got %s" % threshold
    if params.get("heap_settle_seconds") is not None and params["heap_settle_seconds"] < 0:
        return "heap_settle_seconds must not be negative, got %s" % params["heap_settle_seconds"]
    if params.get("ca_content") is not None and "CERTIFICATE-----" not in params["ca_content"]:
        return "ca_content holds no PEM certificate (pass the CA file's text, not its path)"
    if not params.get("services"):
        return "services must name at least one of: %s" % ", ".join(_service.SERVICES)
    if params["state"] != "stopped" and _service.PLATFORM in params["services"]:
        if not params.get("yba_url"):
            return "yba_url is required to probe the platform's health (or set YBA_URL)"
        if not params.get("yba_api_token"):
            return "yba_api_token is required for the authenticated health check (or set YBA_API_TOKEN)"
    return None


class PlatformService:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.p = module.params
        self.start = time.monotonic()
        self.deadline = self.start + float(self.p["wait_timeout"])
        self.result: t.Dict[str, t.Any] = dict(changed=False, check_mode=module.check_mode, actions=[], commands=[],
                                               failed_check=None,
                                               version_before=None, version_after=None, downtime_seconds=0.0)
        try:
            self.layout = _layout.detect(self.p["host_root"])
        except ValueError as err:
            module.fail_json(msg=str(err))
        try:
            self.backend = _service.select_backend(self.layout.install_type, self.layout.yba_ctl_bin,
                                                   self.p["backend"], command_timeout=float(self.p["wait_timeout"]))
        except _service.ServiceError as err:
            module.fail_json(msg=str(err))
        self.result["backend"] = self.backend.name
        self.client = None
        self.ca_file: t.Optional[str] = None
        if self.p["state"] != "stopped" and _service.PLATFORM in self.p["services"]:
            ca = _api.ca_file_from_content(self.p["ca_content"], module.tmpdir) if self.p["ca_content"] else None
            self.ca_file = ca
            self.client = _api.YBAClient.from_module(module, retries=0, **({"ca_path": ca} if ca else {}))
        self.services = list(self.p["services"])
        self.observed = list(self.services)
        if _service.PLATFORM in self.services and self.p["state"] != "stopped" and \
                _service.POSTGRES not in self.observed and not self.layout.postgres_external:
            self.observed.append(_service.POSTGRES)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def fail(self, msg: str, **extra: t.Any) -> None:
        self.result.update(extra)
        self.result["elapsed_seconds"] = round(time.monotonic() - self.start, 2)
        self.module.fail_json(msg=msg, **self.result)

    def statuses(self) -> t.Dict[str, _service.ServiceStatus]:
        try:
            return self.backend.status(self.observed)
        except _service.ServiceError as err:
            self.fail("cannot read the state of the YBA services with %s: %s" % (self.backend.name, err))
            raise  # unreachable

    def process(self, statuses: t.Mapping[str, _service.ServiceStatus]) -> t.Optional[_service.ProcessInfo]:
        st = statuses.get(_service.PLATFORM)
        return _service.platform_process(self.layout, [st.pid] if st and st.pid else [])

    def probe(self, timeout: float) -> _service.Health:
        health = _service.probe_health(self.client, timeout)
        if self.ca_file:  # name what the user gave, not the module's temporary copy of it
            health.message = health.message.replace("ca_path " + self.ca_file, "ca_content")
        return health

    def run(self) -> None:
        state = self.p["state"]
        before = self.statuses()
        proc_before = self.process(before) if _service.PLATFORM in self.services else None
        health_before = None
        problem = None
        platform_up = _service.PLATFORM in before and before[_service.PLATFORM].running
        if self.client is not None and platform_up:
            health_before = self.probe(min(float(self.p["probe_timeout"]), max(self.remaining(), 0.5)))
            self.result["health_before"] = health_before.as_dict()
            self.result["version_before"] = health_before.version
            if health_before.client_error and not (proc_before is not None and proc_before.stopped):
                self.fail(_service.client_config_message(health_before), failed_check=health_before.failed_check,
                          client_error=health_before.client_error)
            if not health_before.healthy and health_before.refused and proc_before is not None:
                health_before = self.wait_for_startup(proc_before, health_before)
                self.result["health_before"] = health_before.as_dict()
                self.result["version_before"] = health_before.version
            if not health_before.healthy:
                problem = ("API %s" % health_before.message) if health_before.hung else \
                    "failing its health probe (%s): %s" % (health_before.failed_check, health_before.message)
        if proc_before is not None and proc_before.stopped and platform_up:
            problem = "hung: process %d is stopped by a signal (state %s)%s" % (
                proc_before.pid, proc_before.state, ("; " + problem) if problem else "")
        recently_restarted = False
        # only state=healthy decides on heap pressure (restarted restarts anyway: no need to wait for it to settle)
        if self.heap_threshold is not None and state == "healthy" and health_before is not None \
                and health_before.healthy and proc_before is not None:
            recently_restarted = self.settle(proc_before)
            heap_before = _heap.heap_report(proc_before, self.metrics())
            heap_before.pop("java_opts", None)  # may carry proxy credentials
            self.result["heap_before"] = heap_before
            if _heap.under_pressure(heap_before, self.heap_threshold) and not recently_restarted:
                problem = "heap pressure: %s%% of the max heap used (threshold %s%%); a restart frees what the " \
                          "collector cannot" % (heap_before["heap_used_percent"], self.heap_threshold)
        actions = _service.plan_actions(state, self.services, before, problem)
        if self.p["reason"] and state == "restarted":
            for action in actions:
                action.reason = self.p["reason"]
        actions = self.with_postgres_first(actions, before)
        if not self.backend.per_service:
            actions = _service.collapse_app_actions(actions)
        self.result["actions"] = [a.as_dict() for a in actions]
        self.result["commands"] = [self.backend.describe(a.action, a.service) for a in actions]
        self.result["changed"] = bool(actions)
        platform_info: t.Dict[str, t.Any] = {
            "pid_before": proc_before.pid if proc_before else None,
            "stopped_before": bool(proc_before and proc_before.stopped),
        }
        self.result["platform"] = platform_info
        self.result["diff"] = {"before": {s: before[s].state for s in self.services}}
        if self.module.check_mode:
            self.result["services"] = {s: st.as_dict() for s, st in before.items()}
            after_guess = {s: (_service.STOPPED if state == "stopped" else _service.RUNNING)
                           if any(a.service == s for a in actions) else before[s].state for s in self.services}
            self.result["diff"]["after"] = after_guess
            self.result["health"] = self.result.get("health_before")
            if self.heap_threshold is not None:
                self.result["heap_pressure"] = self.result["heap_pressure_persists"] = None
            self.finish()
        downtime_start = None
        for action in actions:
            if self.remaining() <= 0:
                self.fail("wait_timeout (%ss) ran out before '%s %s'" % (self.p["wait_timeout"], action.action,
                                                                         action.service), failed_check="timeout")
            if action.service in (_service.PLATFORM, "application") and downtime_start is None:
                downtime_start = time.monotonic()
            try:
                self.backend.act(action.action, action.service, timeout=self.remaining())
            except _service.ServiceError as err:
                self.result["commands_run"] = [r.summary() for r in self.backend.history]
                self.fail("'%s %s' failed: %s" % (action.action, action.service, err), failed_check="process")
        if state == "stopped" and _service.PLATFORM in self.services:
            self.keep_down(actions)
        health = health_before
        needs_wait = self.client is not None and (state == "healthy" or (self.p["wait"] and state != "stopped"))
        if needs_wait and (actions or health is None or not health.healthy):
            health, probes, _waited = _service.wait_healthy(
                self.probe, max(self.remaining(), 0.5), float(self.p["probe_timeout"]),
                float(self.p["backoff_max_delay"]))
            self.result["probes"] = probes
        after = self.statuses() if actions else before
        proc_after = self.process(after) if _service.PLATFORM in self.services else None
        platform_info.update(pid_after=proc_after.pid if proc_after else None,
                             rss_bytes=proc_after.rss_bytes if proc_after else None,
                             stopped_after=bool(proc_after and proc_after.stopped))
        self.result["services"] = {s: st.as_dict() for s, st in after.items()}
        self.result["diff"]["after"] = {s: after[s].state for s in self.services}
        if health is not None:
            self.result["health"] = health.as_dict()
            self.result["version_after"] = health.version
        if downtime_start is not None and health is not None and health.healthy:
            self.result["downtime_seconds"] = round(time.monotonic() - downtime_start, 2)
        started = any(a.service in (_service.PLATFORM, "application") and a.action in ("start", "restart")
                      for a in actions)
        if proc_after is not None:
            healthy = bool(health and health.healthy)
            if self.heap_threshold is not None and healthy and started:
                self.settle(proc_after)
            self.result["heap"] = _heap.heap_report(proc_after, self.metrics() if healthy else None)
            self.result["heap"].pop("java_opts", None)
        if self.heap_threshold is not None:
            pressure = _heap.under_pressure(self.result.get("heap") or {}, self.heap_threshold)
            self.result["heap_pressure"] = pressure
            self.result["heap_pressure_persists"] = bool(pressure and (started or recently_restarted))
        self.check_post(state, actions, after, proc_before, proc_after, health)
        self.finish()

    def keep_down(self, actions: t.List[_service.Action]) -> None:
        """After stopping the platform: cancel a restart the stop left pending, then verify it stays down for
        stay_down_seconds (once when it was already down). Fails naming what shows it up."""
        touched = any(a.service in (_service.PLATFORM, "application") for a in actions)
        restart, restart_sec = _service.unit_restart(self.layout.platform_unit)
        if touched and isinstance(self.backend, _service.YbaCtlBackend):
            systemctl = _service.find_executable("systemctl") \
                if self.layout.host_root == "/" and _service.systemd_running() else None
            try:
                done = self.backend.stop_pending_restart(
                    _service.PLATFORM, min((restart_sec or 0.0) + _service.STAY_DOWN_MARGIN, max(self.remaining(), 0.0)),
                    systemctl)
            except _service.ServiceError as err:
                self.fail("'stop yb-platform' left a restart pending and stopping it failed: %s" % err,
                          failed_check="process")
                raise  # unreachable
            self.result["commands"].extend(done)
            if done:
                self.result["changed"] = True
        wanted = self.p["stay_down_seconds"]
        required = (float(wanted) if wanted is not None else _service.stay_down_default(self.layout)) if touched else 0.0
        required = min(required, max(self.remaining(), 0.0))
        watched, evidence, count = _service.watch_stays_down(
            lambda: _service.platform_up_evidence(self.layout, self.backend), required)
        self.result["stayed_down_seconds"] = round(watched, 2) if not evidence else 0.0
        self.result["stay_down"] = dict(required_seconds=round(required, 2), watched_seconds=round(watched, 2),
                                        restart=restart, restart_sec=restart_sec, observations=count,
                                        evidence=evidence)
        if evidence and touched:
            self.fail("yb-platform came back %.1f s after it was stopped: %s. Something starts it again (systemd "
                      "Restart=%s, RestartSec=%s; a watchdog; another run): it is not safe to work on it as stopped"
                      % (watched, evidence, restart, restart_sec), failed_check="stay_down")
        if evidence:
            self.fail("yb-platform is not down: %s, though %s does not report it running. It is not stopped by "
                      "killing it (a service manager would undo that): stop it with what started it"
                      % (evidence, self.backend.name), failed_check="stay_down")

    @property
    def heap_threshold(self) -> t.Optional[float]:
        return self.p["heap_pressure_percent"]

    def settle(self, proc: _service.ProcessInfo) -> bool:
        """Wait until ``proc`` is heap_settle_seconds old (within wait_timeout). True when it was younger: it has
        just been (re)started, so what its heap shows once settled is what a restart leaves."""
        age = proc.age_seconds()
        wait = float(self.p["heap_settle_seconds"]) - age if age is not None else 0.0
        if wait <= 0:
            return False
        wait = min(wait, max(self.remaining() - float(self.p["probe_timeout"]), 0.0))
        time.sleep(wait)
        self.result["heap_settle_wait_seconds"] = round(self.result.get("heap_settle_wait_seconds", 0.0) + wait, 2)
        return True

    def metrics(self) -> t.Optional[str]:
        """The platform's own metrics (heap figures), when it serves them; never fails the module."""
        if self.client is None or self.remaining() <= 1:
            return None
        try:
            return self.client.get("/api/v1/prometheus_metrics", auth=False, raw=True, retries=0,
                                   timeout=min(float(self.p["probe_timeout"]), self.remaining()))
        except _api.YBAError:
            return None

    def wait_for_startup(self, proc: _service.ProcessInfo, health: _service.Health) -> _service.Health:
        """A young process whose port refuses connections is still starting: give it until startup_grace."""
        age = proc.age_seconds()
        grace = float(self.p["startup_grace"])
        if age is None or age >= grace:
            return health
        budget = min(grace - age, self.remaining())
        if budget <= 0:
            return health
        waited, _probes, seconds = _service.wait_healthy(self.probe, budget, float(self.p["probe_timeout"]),
                                                         float(self.p["backoff_max_delay"]))
        self.result["startup_wait_seconds"] = round(seconds, 2)
        return waited

    def with_postgres_first(self, actions: t.List[_service.Action],
                            before: t.Mapping[str, _service.ServiceStatus]) -> t.List[_service.Action]:
        """The platform cannot start without its metadata DB: start a bundled postgres that is down first."""
        touches_platform = any(a.service == _service.PLATFORM and a.action in ("start", "restart") for a in actions)
        pg = before.get(_service.POSTGRES)
        if not touches_platform or pg is None or pg.running or pg.state in (_service.NOT_INSTALLED, _service.UNMANAGED):
            return actions
        if any(a.service == _service.POSTGRES for a in actions):
            return actions
        return [_service.Action("start", _service.POSTGRES, "is %s and yb-platform needs its metadata DB" % pg.raw)] \
            + actions

    def check_post(self, state: str, actions: t.List[_service.Action], after: t.Mapping[str, _service.ServiceStatus],
                   proc_before: t.Optional[_service.ProcessInfo], proc_after: t.Optional[_service.ProcessInfo],
                   health: t.Optional[_service.Health]) -> None:
        if state == "stopped":
            running = [s for s in self.services if after[s].running]
            if running:
                self.fail("still running after stop: %s" % ", ".join(running), failed_check="process")
            return
        restarted = any(a.service in (_service.PLATFORM, "application") and a.action == "restart" for a in actions)
        if restarted and proc_before and _service.process_alive(proc_before.pid):
            survivor = _service.read_process(proc_before.pid)
            self.fail("the platform process %d survived the restart (state %s)" % (
                proc_before.pid, survivor.state if survivor else "?"), failed_check="process")
        fine = (_service.RUNNING, _service.NOT_INSTALLED, _service.UNMANAGED)
        down = [s for s in self.services if after[s].state not in fine]
        if down:
            self.fail("not running after %s: %s" % (state, ", ".join("%s (%s)" % (s, after[s].raw) for s in down)),
                      failed_check="process")
        if health is not None and not health.healthy and (state == "healthy" or self.p["wait"]):
            self.fail("yb-platform is not healthy after %.0f s: %s check failed: %s" % (
                time.monotonic() - self.start, health.failed_check, health.message), failed_check=health.failed_check)

    def finish(self) -> None:
        self.result["elapsed_seconds"] = round(time.monotonic() - self.start, 2)
        if not self.module._diff:
            self.result.pop("diff", None)
        self.module.exit_json(**self.result)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("ca_path", "ca_content")])
    error = validate(module.params)
    if error:
        module.fail_json(msg=error)
    PlatformService(module).run()


if __name__ == "__main__":
    main()
