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
  - Creates or removes the lock file C(/var/lock/yba-remediation.lock) (under O(host_root)) that every
    destructive step of the C(yba.remediation) collection holds while it works, so two runs cannot overlap on one host.
  - The lock file holds JSON with the C(owner), the C(pid) of the process that took it and the C(time) it was taken.
  - Creating the lock is atomic. A lock held by another owner is refused, unless it is older than O(stale_after).
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.host
  - yba.remediation.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  state:
    description:
      - V(present) takes the lock for O(owner); nothing changes when O(owner) already holds it.
      - V(absent) releases the lock of O(owner); nothing changes when there is no lock.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description:
      - Who takes or releases the lock, for example the name of the run. Use the same value for the whole run.
    type: str
    required: true
  stale_after:
    description:
      - Age in seconds after which a lock of another owner is considered abandoned and may be taken over or released.
    type: int
    default: 3600
  force:
    description:
      - Take over or release the lock even when another owner holds it and it is not stale.
      - Only for an operator who has checked that the other run is gone.
    type: bool
    default: false
seealso:
  - module: yba.remediation.platform_info
"""

EXAMPLES = r"""
- name: Take the host lock for this run
  yba.remediation.host_lock:
    owner: "remediate-{{ ansible_date_time.epoch | default('manual') }}"
    state: present
  become: true

- name: Release it at the end
  yba.remediation.host_lock:
    owner: "remediate-{{ ansible_date_time.epoch | default('manual') }}"
    state: absent
  become: true
"""

RETURN = r"""
path:
  description: Path of the lock file on the host (under O(host_root)).
  returned: always
  type: str
  sample: /var/lock/yba-remediation.lock
lock:
  description: The lock after the module ran; V(null) when there is none.
  returned: always
  type: dict
  contains:
    owner:
      description: Who holds the lock.
      type: str
      returned: when a lock is held
    pid:
      description: Process id that took the lock.
      type: int
      returned: when a lock is held
    time:
      description: When the lock was taken (UTC, ISO 8601).
      type: str
      returned: when a lock is held
  sample: {"owner": "remediate-1", "pid": 4242, "time": "2026-11-28T10:00:00Z"}
previous:
  description: The holder before the module ran (V(null) when there was no lock), with its age.
  returned: always
  type: dict
  sample: {"owner": "old-run", "pid": 17, "time": "2026-11-27T08:00:00Z", "age_seconds": 93600, "valid": true}
action:
  description: What the module did, or would do in check mode.
  returned: always
  type: str
  choices: [none, create, takeover, remove]
  sample: create
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _lock


def _public(holder):
    if not holder:
        return None
    return {k: holder.get(k) for k in ("owner", "pid", "time")}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            owner=dict(type="str", required=True),
            stale_after=dict(type="int", default=3600),
            force=dict(type="bool", default=False),
            host_root=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    owner = (p["owner"] or "").strip()
    if not owner:
        module.fail_json(msg="owner must not be empty")
    if p["stale_after"] < 0:
        module.fail_json(msg="stale_after must be 0 or more seconds, got %d" % p["stale_after"])
    if not os.path.isdir(p["host_root"]):
        module.fail_json(msg="host_root %s is not a directory" % p["host_root"])

    path = _lock.lock_path(p["host_root"])
    result = dict(changed=False, path=path, previous=None, lock=None, action="none")
    try:
        holder = _lock.read(path)
        result["previous"] = holder
        result["lock"] = _public(holder)
        action = _lock.plan(holder, p["state"], owner, p["stale_after"], p["force"])
        result["action"] = action
        if action == "none":
            module.exit_json(**result)
        result["changed"] = True
        after = _lock.content(owner) if action in ("create", "takeover") else None
        if module._diff:
            result["diff"] = dict(before=_public(holder) or {}, after=after or {},
                                  before_header=path, after_header=path)
        if not module.check_mode:
            after = _lock.apply(path, action, owner)
        result["lock"] = after
    except _lock.LockHeld as e:
        module.fail_json(msg=str(e), path=path, holder=e.holder)
    except OSError as e:
        verb = "take" if p["state"] == "present" else "release"
        module.fail_json(msg="cannot %s the host lock %s: %s" % (verb, path, e.strerror or e), path=path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
