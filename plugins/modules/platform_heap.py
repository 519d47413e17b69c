#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: set the YBA platform's JVM heap with a systemd drop-in, idempotently; report heap use.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: platform_heap
short_description: Set the JVM heap of the YugabyteDB Anywhere platform with a systemd drop-in
version_added: 1.0.0
description:
  - Sets the maximum (and optionally the initial) JVM heap of the YBA platform C(yb-platform) on a
    yba-installer host. It writes a systemd drop-in next to the platform unit,
    C(/etc/systemd/system/yb-platform.service.d/99-yba-remediation-heap.conf), that sets
    C(Environment="JAVA_OPTS=... -Xmx<size>").
  - B(YBA has no official heap setting.) In YBA 2.18-2.20 C(yba-ctl.yml) has no heap key and the unit's
    C(ExecStart) has no C(-Xmx), so the JVM default applies (about a quarter of RAM). The platform's
    start script (Play / sbt-native-packager) honours C(JAVA_OPTS). A drop-in is not rewritten by
    C(yba-ctl reconfigure) or C(yba-ctl upgrade), which regenerate the unit file itself. Editing
    C(application.ini) in the versioned software directory would be lost at the next upgrade. Treat
    this as an unsupported tuning and tell Yugabyte support about it.
  - JAVA_OPTS already set by the unit or by drop-ins that sort before this one are kept, minus their heap
    flags, so proxy or other settings are not lost.
  - The module does not restart the platform. It returns RV(restart_required). That is true when the
    drop-in changed, or when the running platform's C(-Xmx) differs from the setting (for example after
    a failed restart). Use M(yba.remediation.platform_service) with O(yba.remediation.platform_service#module:state=restarted)
    only then.
  - On a host where systemd runs, the module runs C(systemctl daemon-reload) after changing the drop-in,
    otherwise a restart would still use the old environment.
  - O(state=raised) raises the heap from its current size instead of setting a fixed one. The new size is
    the current max heap times O(raise_factor), rounded up to O(round_to), capped by the host's memory minus
    O(memory_reserve), and never below the current size. The current size is the largest of the running
    process's C(-Xmx), the drop-in's C(-Xmx) and O(current_max_heap) (the max the JVM itself reports, needed when
    the JVM default applies). It never lowers the heap. When the cap leaves no room it changes nothing and
    reports RV(plan) C(capped).
  - With O(never_lower=true), O(state=present) keeps a larger current heap instead of lowering it to O(max_heap)
    (RV(kept)).
  - Also reports the platform's heap limit and process RSS as seen from its process.
  - Runs on the YBA host (with become).
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.host
  - yba.remediation.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports the change and RV(restart_required) without writing the drop-in.
  diff_mode:
    support: full
    details:
      - Shows the drop-in file before and after.
  idempotent:
    support: partial
    details:
      - O(state=present) and O(state=absent) are idempotent. O(state=raised) raises again on every run until the
        cap. Call it only when the heap is still under pressure after a restart, as the roles do.
options:
  state:
    description:
      - V(present) writes the drop-in with O(max_heap); V(absent) removes it (the JVM default applies after a
        restart); V(raised) raises the current max heap (see the description).
    type: str
    choices: [present, absent, raised]
    default: present
  max_heap:
    description:
      - Maximum heap, as the JVM reads it (V(4g), V(4096m)). It is written in its shortest exact form, so
        V(4096m) and V(4g) are the same setting.
      - Required when O(state=present). Must be at least V(256m) and less than the host's memory.
    type: str
  never_lower:
    description:
      - With O(state=present), keep the current max heap when it is larger than O(max_heap) instead of lowering it.
    type: bool
    default: false
  current_max_heap:
    description:
      - The max heap the running JVM reports (bytes, or a size such as V(1g)), for example
        C(heap.heap_max_bytes) of M(yba.remediation.platform_service). It is needed to size from when no
        C(-Xmx) is set and the JVM default applies.
      - Used by O(state=raised) and O(never_lower).
    type: str
  raise_factor:
    description: With O(state=raised), the factor the current max heap is multiplied by (V(1.5) = +50%). More than 1.
    type: float
    default: 1.5
  memory_reserve:
    description:
      - With O(state=raised), memory kept free for the OS, the metadata DB, Prometheus and the JVM's own
        non-heap memory. The heap never grows past the host's memory minus this.
    type: str
    default: 4g
  round_to:
    description: With O(state=raised), the new size is rounded up to a multiple of this (the cap down).
    type: str
    default: 256m
  initial_heap:
    description:
      - Initial heap C(-Xms). Omitted by default (the JVM sizes it). Must not exceed O(max_heap).
    type: str
  dropin_name:
    description:
      - File name of the drop-in in C(yb-platform.service.d/). It sorts late on purpose, so it wins over
        other drop-ins. A drop-in that sorts after it and also sets C(JAVA_OPTS) is reported in a
        warning because it overrides this one.
    type: str
    default: 99-yba-remediation-heap.conf
  daemon_reload:
    description:
      - Run C(systemctl daemon-reload) after changing the drop-in when systemd runs on the host.
    type: bool
    default: true
notes:
  - Verify the effect after the restart with RV(running) (the platform's C(-Xmx)) or C(ps -o args -C java).
seealso:
  - module: yba.remediation.platform_service
"""

EXAMPLES = r"""
- name: Give the platform a 4 GiB heap (once; later runs change nothing)
  yba.remediation.platform_heap:
    max_heap: 4g
  become: true
  register: heap

- name: Restart the platform only when the heap setting changed
  yba.remediation.platform_service:
    state: restarted
  become: true
  when: heap.restart_required

- name: Raise the heap by half (rounded up to 256m, at most the host memory minus 4g), never lowering it
  yba.remediation.platform_heap:
    state: raised
    current_max_heap: "{{ platform.heap.heap_max_bytes }}"  # what the JVM reports (platform_service's result)
  become: true
  register: heap

- name: Go back to the JVM default heap
  yba.remediation.platform_heap:
    state: absent
  become: true
"""

RETURN = r"""
path:
  description: The drop-in file (as the host names it).
  returned: always
  type: str
  sample: /etc/systemd/system/yb-platform.service.d/99-yba-remediation-heap.conf
java_opts:
  description:
    - The JAVA_OPTS the drop-in sets (null for O(state=absent)).
    - Secret values (C(-D*password*), C(-D*secret*), C(-D*token*), C(-Dhttp(s).proxyUser), credentials in URLs) are
      masked here, in RV(running) and in the diff; the drop-in on disk keeps them.
  returned: always
  type: str
  sample: -Xmx4g
max_heap_bytes:
  description: The configured maximum heap in bytes (null for O(state=absent)).
  returned: always
  type: int
  sample: 4294967296
restart_required:
  description: Whether the platform must be restarted for the setting to take effect. True when the
    drop-in changed or the running process's C(-Xmx) differs from the setting.
  returned: always
  type: bool
  sample: true
daemon_reloaded:
  description: Whether C(systemctl daemon-reload) ran.
  returned: always
  type: bool
  sample: false
plan:
  description:
    - With O(state=raised), the sizing in bytes. C(current) is the largest known max heap, C(target) the new size,
      C(cap) the host memory minus O(memory_reserve), C(raised) whether it grows, C(capped) whether the cap
      limited it. C(current_size) and C(target_size) give the same sizes in JVM form.
  returned: when O(state=raised)
  type: dict
  sample: {current: 1073741824, target: 1610612736, cap: 21474836480, raised: true, capped: false,
           current_size: 1g, target_size: 1536m}
kept:
  description: Whether O(never_lower) kept a larger current heap instead of setting O(max_heap).
  returned: always
  type: bool
  sample: false
running:
  description: The platform process as running now. Includes its pid, C(-Xmx) in bytes (null when the
    JVM default applies), RSS and JAVA_OPTS (secret values masked). Null when it is not running.
  returned: always
  type: dict
  sample: {pid: 4242, xmx_bytes: 2147483648, rss_bytes: 812000000, java_opts: "-Xmx2g"}
"""

import os
import re
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _heap, _layout, _service


def argument_spec() -> t.Dict[str, t.Any]:
    return dict(
        host_root=dict(type="path", default="/"),
        state=dict(type="str", default="present", choices=["present", "absent", "raised"]),
        max_heap=dict(type="str"),
        initial_heap=dict(type="str"),
        dropin_name=dict(type="str", default=_heap.DEFAULT_DROPIN),
        daemon_reload=dict(type="bool", default=True),
        never_lower=dict(type="bool", default=False),
        current_max_heap=dict(type="str"),
        raise_factor=dict(type="float", default=1.5),
        memory_reserve=dict(type="str", default="4g"),
        round_to=dict(type="str", default="256m"),
    )


def desired_sizes(params: t.Mapping[str, t.Any], mem_total: t.Optional[int]) -> t.Tuple[t.Optional[int], t.Optional[int]]:
    """(max, initial) heap bytes from the options; ValueError with the one message for bad input. Pure."""
    name = params.get("dropin_name") or ""
    if not name.endswith(".conf") or "/" in name or name.startswith("."):
        raise ValueError("dropin_name must be a plain file name ending in .conf, got %r" % name)
    if params["state"] in ("absent", "raised"):
        return None, None
    if not params.get("max_heap"):
        raise ValueError("max_heap is required when state=present (for example max_heap=4g)")
    max_heap = _heap.parse_size(params["max_heap"])
    if max_heap < _heap.MIN_HEAP_BYTES:
        raise ValueError("max_heap %s is below the 256m minimum the platform needs" % params["max_heap"])
    if mem_total and max_heap >= mem_total:
        raise ValueError("max_heap %s is not less than the host's memory (%s)" % (
            params["max_heap"], _heap.format_size(mem_total // (1024 ** 2) * 1024 ** 2)))
    initial = None
    if params.get("initial_heap"):
        initial = _heap.parse_size(params["initial_heap"])
        if initial > max_heap:
            raise ValueError("initial_heap %s exceeds max_heap %s" % (params["initial_heap"], params["max_heap"]))
    return max_heap, initial


def raise_options(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The sizing options of state=raised and never_lower, parsed; ValueError with the one message. Pure."""
    out: t.Dict[str, t.Any] = {"factor": params.get("raise_factor") or 1.5, "observed": None}
    if out["factor"] <= 1:
        raise ValueError("raise_factor must be more than 1 (1.5 raises by half), got %s" % out["factor"])
    for key, name in (("reserve", "memory_reserve"), ("round_to", "round_to"), ("observed", "current_max_heap")):
        if params.get(name) not in (None, ""):
            text = str(params[name])
            if re.fullmatch(r"\d+\.0*", text):  # bytes that went through a float (templating)
                text = text.split(".", maxsplit=1)[0]
            try:
                out[key] = _heap.parse_size(text)
            except ValueError as err:
                raise ValueError("%s: %s" % (name, err)) from None
    if out.get("round_to", 1) <= 0:
        raise ValueError("round_to must be a positive size, got %s" % params.get("round_to"))
    return out


def dropin_max_heap(text: t.Optional[str]) -> t.Optional[int]:
    """-Xmx the drop-in's JAVA_OPTS sets, or None."""
    opts = _heap.unit_environment(text or "").get("JAVA_OPTS", "")
    return _heap.heap_flags(_heap.strip_to_args(opts)).get("max")


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    mem_total = _heap.mem_total_bytes()
    try:
        max_heap, initial = desired_sizes(p, mem_total)
        sizing = raise_options(p)
        layout = _layout.detect(p["host_root"])
    except ValueError as err:
        module.fail_json(msg=str(err))
    if layout.install_type == "replicated":
        module.fail_json(msg="this is a Replicated install: its JAVA_OPTS are managed by Replicated and carry proxy "
                             "settings only; the heap drop-in applies to yba-installer hosts only")
    if layout.install_type != "yba-installer" or not layout.platform_unit or not os.path.isfile(layout.platform_unit):
        module.fail_json(msg="no yb-platform systemd unit found under host_root %s (install type %s): nothing to "
                             "attach a heap setting to" % (p["host_root"], layout.install_type))
    unit = t.cast(str, layout.platform_unit)
    directory = _heap.dropin_dir(unit)
    path = os.path.join(directory, p["dropin_name"])
    try:
        with open(path, encoding="utf-8") as handle:
            before: t.Optional[str] = handle.read()
    except FileNotFoundError:
        before = None
    except OSError as err:
        module.fail_json(msg="cannot read %s: %s" % (path, err))

    proc = _service.platform_process(layout)
    running = None
    if proc is not None:
        report = _heap.heap_report(proc)
        running = {k: report[k] for k in ("pid", "xmx_bytes", "rss_bytes", "java_opts")}
    current = _heap.current_max_heap(running["xmx_bytes"] if running else None, dropin_max_heap(before),
                                     sizing["observed"])
    plan = None
    kept = False
    if p["state"] == "raised":
        if current is None:
            module.fail_json(msg="cannot tell the platform's current max heap (no -Xmx on the running process or in "
                                 "the drop-in): pass current_max_heap, the max the JVM reports (platform_service "
                                 "returns it as heap.heap_max_bytes)")
        plan = _heap.raise_heap(t.cast(int, current), mem_total, sizing["factor"],
                                sizing.get("reserve", _heap.parse_size("4g")),
                                sizing.get("round_to", _heap.parse_size("256m")))
        plan.update(current_size=_heap.format_size(plan["current"]), target_size=_heap.format_size(plan["target"]))
        max_heap = plan["target"] if plan["raised"] else None
        if not plan["raised"]:
            module.warn("the heap cannot be raised from %s: the cap (host memory %s minus memory_reserve %s) leaves "
                        "no room" % (plan["current_size"], _heap.format_size(mem_total or 0), p["memory_reserve"]))
    elif p["state"] == "present" and p["never_lower"] and current and max_heap and current > max_heap:
        module.warn("keeping the current max heap %s: never_lower refuses to lower it to %s"
                    % (_heap.format_size(current), p["max_heap"]))
        max_heap, kept = None, True

    base_opts, later = _heap.inherited_java_opts(unit, p["dropin_name"])
    if max_heap:
        after = _heap.render_dropin(base_opts, max_heap, initial)
    else:
        after = before if p["state"] != "absent" else None  # raised at the cap, or kept: the drop-in stays as it is
    changed = before != after
    for other in later:
        module.warn("%s sorts after %s and also sets JAVA_OPTS: it overrides the heap setting"
                    % (layout.to_host(other), p["dropin_name"]))

    effective = max_heap or (dropin_max_heap(after) if after else None)
    mismatch = bool(proc and effective and running and running["xmx_bytes"] != effective)
    result: t.Dict[str, t.Any] = dict(
        changed=changed, path=layout.to_host(path), max_heap_bytes=effective,
        java_opts=_heap.redact(_heap.unit_environment(after).get("JAVA_OPTS")) if after else None,
        restart_required=bool(proc) and (changed or mismatch), daemon_reloaded=False, running=running, kept=kept)
    if plan is not None:
        result["plan"] = plan
    if module._diff:
        # what leaves the module is redacted (proxy credentials); the file written below keeps the real values
        result["diff"] = dict(before=_heap.redact(before) or "", after=_heap.redact(after) or "",
                              before_header=layout.to_host(path),
                              after_header=layout.to_host(path))
    if changed and not module.check_mode:
        try:
            if after is None:
                os.unlink(path)
            else:
                os.makedirs(directory, mode=0o755, exist_ok=True)
                tmp = path + ".tmp"
                with open(tmp, "w", encoding="utf-8") as handle:
                    handle.write(after)
                os.chmod(tmp, 0o644)
                module.atomic_move(tmp, path)
        except OSError as err:
            module.fail_json(msg="cannot write %s: %s" % (path, err))
        if p["daemon_reload"] and layout.host_root == "/" and _service.systemd_running():
            try:
                _service.SystemdBackend(_service.find_executable("systemctl") or "systemctl").daemon_reload()
            except _service.ServiceError as err:
                module.fail_json(msg="wrote %s but systemctl daemon-reload failed: %s" % (path, err), **result)
            result["daemon_reloaded"] = True
    module.exit_json(**result)


if __name__ == "__main__":
    main()
