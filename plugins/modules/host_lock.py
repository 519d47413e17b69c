#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: take or release the lock that keeps two destructive runs apart on one YBA host.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: host_lock
short_description: Take or release the remediation lock of a YBA host
version_added: 1.0.0
description:
  - Creates or removes the lock file C(/run/lock/yba-remediation.lock) (under O(host_root)) that every
    destructive step of the C(yba.remediation) collection holds while it works, so two runs cannot overlap on one host.
    C(/run) is a tmpfs on every systemd host, so a data volume with zero free bytes does not stop the lock.
    C(/run/lock) is created (mode C(1777), as systemd lays it out) when it is missing.
  - The lock file holds JSON with the C(owner), the C(pid) and C(host) of its holder process, the C(time) it was
    taken, the C(renewed) time of its last renewal, its lease O(stale_after) and a random C(token).
    It is written complete to a temp file and then linked or renamed into place, so it is never empty or half written,
    and a failed attempt (for example C(ENOSPC)) leaves nothing behind.
  - Taking the lock starts a small detached holder process that holds C(flock(LOCK_EX)) on the lock file. It ends
    when the lock file is removed or replaced, or when its lease ends (O(stale_after) seconds after the last
    renewal). A lock file that no process holds (holder killed, host rebooted, an empty file left by an older
    version) is dead and is taken over at once.
  - A live lock of another owner is refused (or waited for, see O(wait_timeout)) unless it was last renewed more
    than O(stale_after) seconds ago or O(force) is set. Taking the lock again for the same owner renews it.
  - Only the owner releases its lock (or O(force), or anyone when the lock is dead or stale).
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.host
  - yba.remediation.attributes
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written and no holder is started. A live lock of another owner is reported as a warning, not a
        failure, and is not waited for (that run may end before the real one).
  diff_mode:
    support: full
  idempotent:
    support: full
    details:
      - Taking a lock already held by O(owner) renews its lease (the C(renewed) time) and reports no change.
options:
  state:
    description:
      - V(present) takes the lock for O(owner), or renews it when O(owner) already holds it.
      - V(absent) releases the lock of O(owner); nothing changes when there is no lock.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description:
      - Who takes or releases the lock, the id of the run. Use the same value for the whole run.
    type: str
    required: true
  stale_after:
    description:
      - The lease in seconds. The holder process of a lock taken or renewed with it lets go after that long
        without a renewal.
      - A live lock of another owner last renewed more than this many seconds ago may be taken over or released.
    type: int
    default: 3600
  wait_timeout:
    description:
      - Seconds to wait for a live lock of another owner to be released before failing (with V(state=present)).
      - V(0) fails at once. The failure names the holder and how long the module waited.
    type: int
    default: 0
  force:
    description:
      - Take over or release the lock even when another owner holds it and it is not stale.
      - Only for an operator who has checked that the other run is gone.
    type: bool
    default: false
seealso:
  - module: yba.remediation.platform_info
notes:
  - The C(yba.remediation.run_lock) role takes and releases this lock once per run, with the run's id as owner.
  - The holder process is detached from the SSH session (double fork, new session, no open descriptors of the
    task). On a host whose systemd-logind sets C(KillUserProcesses=yes) (not the default of EL or Debian), logind
    ends it with the login session, which makes the lock look dead between tasks.
"""

EXAMPLES = r"""
- name: Take the host lock for this run, waiting up to 2 minutes for another run to finish
  yba.remediation.host_lock:
    owner: "{{ yba_run_id }}"
    wait_timeout: 120
    state: present
  become: true

- name: Release it at the end
  yba.remediation.host_lock:
    owner: "{{ yba_run_id }}"
    state: absent
  become: true

- name: Release a lock an operator knows to be abandoned
  yba.remediation.host_lock:
    owner: operator
    state: absent
    force: true
  become: true
"""

RETURN = r"""
path:
  description: Path of the lock file on the host (under O(host_root)).
  returned: always
  type: str
  sample: /run/lock/yba-remediation.lock
lock:
  description: The lock after the module ran (in check mode, as it would be); V(null) when there is none.
  returned: always
  type: dict
  contains:
    owner:
      description: Who holds the lock.
      type: str
      returned: when a lock is held
    pid:
      description: Process id of the holder process (V(null) in check mode, where none is started).
      type: int
      returned: when a lock is held
    host:
      description: Host name of the holder.
      type: str
      returned: when a lock is held
    time:
      description: When the lock was taken (UTC, ISO 8601).
      type: str
      returned: when a lock is held
    renewed:
      description: When the lock was last taken or renewed (UTC, ISO 8601).
      type: str
      returned: when a lock is held
    stale_after:
      description: The lease of the holder, in seconds after RV(lock.renewed).
      type: int
      returned: when a lock is held
  sample: {"owner": "awx-job-42", "pid": 4242, "host": "yba1", "time": "2026-11-28T10:00:00Z",
           "renewed": "2026-11-28T10:05:00Z", "stale_after": 3600}
previous:
  description:
    - The lock before the module ran (V(null) when there was none), as RV(lock) plus C(age_seconds) (since its
      last renewal), C(held_seconds) (since it was taken), C(valid) (false for an empty or unreadable file),
      C(alive) (a holder process holds it) and C(reason), why a lock of another owner was taken over or removed
      (V(holder gone), V(unreadable lock file, no holder), V(lease expired), V(forced)), else V(null).
  returned: always
  type: dict
  sample: {"owner": "old-run", "pid": 17, "host": "yba1", "time": "2026-11-27T08:00:00Z",
           "renewed": "2026-11-27T08:00:00Z", "stale_after": 3600, "age_seconds": 93600,
           "held_seconds": 93600, "valid": true, "alive": false, "reason": "holder gone"}
holder:
  description:
    - The live lock of another owner that refused the module (on failure), or that check mode warned about.
  returned: when another owner holds the lock
  type: dict
  sample: {"owner": "cli-20261201T120000-4242", "pid": 1234, "host": "yba1", "time": "2026-12-01T12:00:00Z",
           "renewed": "2026-12-01T12:00:00Z", "stale_after": 3600, "age_seconds": 35, "held_seconds": 35,
           "valid": true, "alive": true}
action:
  description: What the module did, or would do in check mode.
  returned: always
  type: str
  choices: [none, create, renew, takeover, remove]
  sample: create
waited_seconds:
  description: Seconds the module waited for another owner's lock (0 when it did not wait).
  returned: always
  type: float
  sample: 0.0
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _lock


def _state(holder, reason=None):
    """A lock as returned in ``previous``/``holder``: the public fields plus its age and liveness."""
    if not holder:
        return None
    out = _lock.public(holder)
    out.update({k: holder.get(k) for k in ("age_seconds", "held_seconds", "valid", "alive")})
    if reason is not None:
        out["reason"] = reason
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            owner=dict(type="str", required=True),
            stale_after=dict(type="int", default=3600),
            wait_timeout=dict(type="int", default=0),
            force=dict(type="bool", default=False),
            host_root=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    owner = (p["owner"] or "").strip()
    if not owner:
        module.fail_json(msg="owner must not be empty")
    if p["stale_after"] < 1:
        module.fail_json(msg="stale_after must be 1 or more seconds, got %d" % p["stale_after"])
    if p["wait_timeout"] < 0:
        module.fail_json(msg="wait_timeout must be 0 or more seconds, got %d" % p["wait_timeout"])
    if not os.path.isdir(p["host_root"]):
        module.fail_json(msg="host_root %s is not a directory" % p["host_root"])

    path = _lock.lock_path(p["host_root"])
    result = dict(changed=False, path=path, previous=None, lock=None, action="none", waited_seconds=0.0)
    try:
        if module.check_mode:
            holder = _lock.read(path)
            result["previous"] = _state(holder)
            result["lock"] = _lock.public(holder)
            try:
                action, reason = _lock.plan(holder, p["state"], owner, p["stale_after"], p["force"], path)
            except _lock.LockHeld as e:
                if p["state"] == "absent":
                    raise
                # another run holds the host now: what this run would do may change once it ends
                module.warn(str(e))
                result["holder"] = _state(e.holder)
                module.exit_json(**result)
            if action in ("create", "takeover"):
                after = _lock.public(_lock.content(owner, p["stale_after"]))
            elif action == "renew":
                after = dict(result["lock"], renewed=_lock.iso(time.time()), stale_after=p["stale_after"])
            else:
                after = None if action == "remove" else result["lock"]
            r = dict(action=action, reason=reason, previous=holder, lock=after)
        elif p["state"] == "present":
            r = _lock.take(path, owner, p["stale_after"], p["force"], p["wait_timeout"])
            result["waited_seconds"] = r["waited_seconds"]
            r["lock"] = _lock.public(r["lock"])
        else:
            r = _lock.release(path, owner, p["stale_after"], p["force"])
    except _lock.LockHeld as e:
        module.fail_json(msg=str(e), path=path, holder=_state(e.holder))
    except OSError as e:
        verb = "take" if p["state"] == "present" else "release"
        module.fail_json(msg="cannot %s the host lock %s: %s" % (verb, path, e.strerror or e), path=path)

    result.update(action=r["action"], previous=_state(r["previous"], r["reason"]), lock=r["lock"])
    # a renewal extends the lease of the same lock: no change
    result["changed"] = r["action"] in ("create", "takeover", "remove")
    if result["changed"] and module._diff:
        result["diff"] = dict(before=_lock.public(r["previous"]) or {}, after=r["lock"] or {},
                              before_header=path, after_header=path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
