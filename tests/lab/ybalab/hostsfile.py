"""A host that cannot reach S3 while the controller can (lab.json ``s3.host_unreachable_endpoint``).

The mechanism is the real-world one: a host-only name-resolution entry. The endpoint is addressed by a name,
``s3.host_unreachable_name`` (``s3.<lab host name>.ybalab.test``; ``.test`` is reserved, RFC 2606, so no DNS
ever answers it), on moto's port. The controller's ``/etc/hosts`` maps that name to 127.0.0.1 (added at ``up``,
removed at ``down``, one line per lab, tagged with the lab dir); the lab host's own ``/etc/hosts`` (hostinit.py
bind-mounts ``/run/hosts`` over it in the host's mount namespace; ``host_ensure`` edits it at every ``up``, so a
host started by an older lab learns it too) maps it to ``s3.host_unreachable_address``
(127.0.0.2, where nothing listens: connections are refused at once), like a stale entry left on a YBA host after
the S3 gateway moved. Nothing else in the lab uses the name (sshd ``UseDNS no``, PostgreSQL and the platform bind
and are addressed by 127.0.0.1, sudo resolves the host's own name).
"""
from __future__ import annotations

import fcntl
import os
from typing import Any

ADDRESS = "127.0.0.2"  # on the lab host the name points here; connect() is refused (checked: fails in ms)
CONTROLLER_ADDRESS = "127.0.0.1"
HOSTS = "/etc/hosts"
_LOCK = "/run/ybalab-hosts.lock"


def name_for(hostname: str) -> str:
    return f"s3.{hostname}.ybalab.test"


def _without(text: str, name: str) -> list[str]:
    return [ln for ln in text.splitlines() if name not in ln.split("#", 1)[0].split()[1:]]


def host_text(base: str, name: str | None, address: str = ADDRESS) -> str:
    """The lab host's hosts file: the controller's, with ``name`` mapped to ``address`` only."""
    lines = _without(base, name) if name else base.splitlines()
    if name:
        lines.append(f"{address}\t{name}\t# ybalab: the S3 endpoint as this host (wrongly) resolves it")
    return "\n".join(lines) + "\n"


def host_ensure(state: dict[str, Any]) -> None:
    """Map the name to ``s3.host_unreachable_address`` in the lab host's /etc/hosts (rewritten in place)."""
    from ybalab import hostns
    s3 = state["s3"]
    base = hostns.run(state, ["cat", HOSTS]).stdout
    text = host_text(base.rstrip("\n") + "\n", s3["host_unreachable_name"], s3.get("host_unreachable_address") or ADDRESS)
    if text != base:
        hostns.run(state, ["sh", "-c", f"cat > {HOSTS}"], input=text)


def _edit_controller(name: str, line: str | None) -> None:
    """Rewrite the controller's /etc/hosts in place (it may be a bind mount), under a lock shared by all labs."""
    with open(_LOCK, "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(HOSTS, "r+", encoding="utf-8") as fh:
            text = fh.read()
            lines = _without(text, name)
            if line:
                lines.append(line)
            new = "\n".join(lines) + "\n"
            if new != text:
                fh.seek(0)
                fh.write(new)
                fh.truncate()


def controller_add(state: dict[str, Any]) -> None:
    s3 = state["s3"]
    _edit_controller(s3["host_unreachable_name"],
                     f"{CONTROLLER_ADDRESS}\t{s3['host_unreachable_name']}\t# ybalab {state['dir']}")


def controller_remove(state: dict[str, Any]) -> None:
    name = (state.get("s3") or {}).get("host_unreachable_name")
    if name and os.path.exists(HOSTS):
        _edit_controller(name, None)
