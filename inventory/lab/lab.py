#!/usr/bin/env python
# -*- coding: utf-8 -*-
# The embedded lab inventory (an inventory script: Ansible runs it because it is executable). Group yba holds the
# single lab host yba-lab (its lab in $YBA_LAB_DIR, default /tmp/yba-lab, started by `python -m ybalab up`, see
# tests/lab/README.md) and the hosts of a lab fleet (`python -m ybalab fleet up N`: yba-lab-1..N, also in group
# yba_fleet; fleet dir $YBA_FLEET_DIR, default $YBA_LAB_DIR-fleet, as tests/lab/ybalab/fleet.py; no fleet up: none).
# Each host's variables: its lab dir (yba_lab_dir) and its lab.json (yba_lab), read once per run here;
# group_vars/yba.yml derives the connection and API variables from them. (A lookup of lab.json in group_vars, run
# again for every templated connection variable of every task, cost ~35 ms of controller CPU per task.)
# Works with ansible_connection=ssh (default) and paramiko_ssh (the lab keeps its host key in ~/.ssh/known_hosts
# while up).
"""Inventory script: the lab's YBA hosts (``--list``; ``--host`` answers ``{}``: the list carries _meta)."""
from __future__ import annotations

import json
import os
import sys


def lab_dir(environ):
    return os.path.abspath((environ.get("YBA_LAB_DIR") or "/tmp/yba-lab").rstrip("/") or "/")


def fleet_dir(environ):
    return os.path.abspath(environ.get("YBA_FLEET_DIR") or lab_dir(environ) + "-fleet")


def host_vars(directory):
    """yba_lab_dir, and yba_lab when the lab's lab.json reads (else group_vars/yba.yml's lookup of it fails with
    the file's name when a variable needs it)."""
    hostvars = {"yba_lab_dir": directory}
    try:
        with open(os.path.join(directory, "lab.json"), encoding="utf-8") as fh:
            hostvars["yba_lab"] = json.load(fh)
    except (OSError, ValueError):
        pass
    return hostvars


def inventory(environ):
    try:
        with open(os.path.join(fleet_dir(environ), "fleet.json"), encoding="utf-8") as fh:
            fleet = json.load(fh)
    except (OSError, ValueError):
        fleet = {}
    members = {}
    for name, host in sorted((fleet.get("hosts") or {}).items()):
        directory = host.get("dir") if isinstance(host, dict) else None
        if directory and os.path.isfile(os.path.join(directory, "lab.json")):
            members[name] = host_vars(directory)
    return {
        "yba": {"hosts": ["yba-lab"] + list(members), "children": ["yba_fleet"]},
        "yba_fleet": {"hosts": list(members)},
        "_meta": {"hostvars": dict(members, **{"yba-lab": host_vars(lab_dir(environ))})},
    }


def main(argv):
    if len(argv) > 1 and argv[1] == "--host":
        print("{}")
        return 0
    print(json.dumps(inventory(os.environ), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
