"""Where things live on the simulated YBA host (seen through host.root) and in the lab dir."""
from __future__ import annotations

import json
import os
from typing import Any

from ybalab.labstate import HOST_RUN, host_view

UNITS = ("postgres", "prometheus", "yb-platform")


def load_state(lab_json: str) -> dict[str, Any]:
    """lab.json; read from inside the lab host (under HOST_RUN) it is translated to the host's own view."""
    with open(lab_json, encoding="utf-8") as fh:
        state = json.load(fh)
    return host_view(state) if lab_json.startswith(HOST_RUN + "/") else state


def host_lab_json() -> str:
    """lab.json as the lab host reads it (what the yba-ctl stand-in and the platform have baked in)."""
    return os.path.join(HOST_RUN, "lab.json")


def lab_json_path(state: dict[str, Any]) -> str:
    return os.path.join(state["dir"], "lab.json")


def on_host(state: dict[str, Any], path: str) -> str:
    """``path`` as written on the YBA host, mapped under the lab's host.root."""
    return os.path.join(state["host"]["root"], path.lstrip("/"))


def install_root(state: dict[str, Any]) -> str:
    return on_host(state, state["host"].get("install_root", "/opt/yugabyte"))


def data_dir(state: dict[str, Any]) -> str:
    return os.path.join(install_root(state), "data")


def software_dir(state: dict[str, Any]) -> str:
    return os.path.join(install_root(state), "software")


def active_dir(state: dict[str, Any]) -> str:
    return os.path.join(software_dir(state), "active")


def storage_path(state: dict[str, Any]) -> str:
    return os.path.join(data_dir(state), "yb-platform")


def certs_dir(state: dict[str, Any]) -> str:
    return os.path.join(data_dir(state), "yba-installer", "certs")


def unit_dir(state: dict[str, Any]) -> str:
    return on_host(state, "/etc/systemd/system")


def unit_file(state: dict[str, Any], unit: str) -> str:
    return os.path.join(unit_dir(state), f"{unit}.service")


def app_log(state: dict[str, Any]) -> str:
    return os.path.join(data_dir(state), "logs", "application.log")


def run_dir(state: dict[str, Any]) -> str:
    return os.path.join(state["dir"], "run")


def pid_file(state: dict[str, Any], unit: str) -> str:
    if unit == "yb-platform" and state.get("platform", {}).get("pid_file"):
        return state["platform"]["pid_file"]
    return os.path.join(run_dir(state), f"{unit}.pid")


def yba_ctl_path(state: dict[str, Any]) -> str:
    return on_host(state, state["host"].get("yba_ctl", "/usr/bin/yba-ctl"))


def lab_python_path() -> str:
    """The directory that holds the ``ybalab`` package (tests/lab)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def https_port(state: dict[str, Any]) -> int:
    url = state["platform"]["url"]
    return int(url.rsplit(":", 1)[1].split("/")[0])
