#!/usr/bin/env python
# -*- coding: utf-8 -*-
# The lab fleet's hosts for the lab inventory (an inventory script: Ansible runs it because it is executable).
# `python -m ybalab fleet up N` writes <fleet dir>/fleet.json; this lists its hosts whose lab.json exists, in groups
# yba and yba_fleet, each with its own yba_lab_dir (group_vars/yba.yml reads the rest from <yba_lab_dir>/lab.json).
# Fleet dir: $YBA_FLEET_DIR, default $YBA_LAB_DIR-fleet ($YBA_LAB_DIR defaults to /tmp/yba-lab), as
# tests/lab/ybalab/fleet.py. No fleet up: no host (and empty groups).
"""Inventory script: the hosts of the lab fleet (``--list``; ``--host`` answers ``{}``: the list carries _meta)."""
from __future__ import annotations

import json
import os
import sys


def fleet_dir(environ):
    lab = (environ.get("YBA_LAB_DIR") or "/tmp/yba-lab").rstrip("/")
    return os.path.abspath(environ.get("YBA_FLEET_DIR") or lab + "-fleet")


def inventory(environ):
    hosts = {}
    try:
        with open(os.path.join(fleet_dir(environ), "fleet.json"), encoding="utf-8") as fh:
            fleet = json.load(fh)
    except (OSError, ValueError):
        fleet = {}
    for name, host in sorted((fleet.get("hosts") or {}).items()):
        lab_dir = host.get("dir") if isinstance(host, dict) else None
        if lab_dir and os.path.isfile(os.path.join(lab_dir, "lab.json")):
            hosts[name] = {"yba_lab_dir": lab_dir}
    return {
        "yba": {"hosts": list(hosts), "children": ["yba_fleet"]},
        "yba_fleet": {"hosts": list(hosts)},
        "_meta": {"hostvars": hosts},
    }


def main(argv):
    if len(argv) > 1 and argv[1] == "--host":
        print("{}")
        return 0
    print(json.dumps(inventory(os.environ), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
