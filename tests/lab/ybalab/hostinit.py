"""PID 1 of the lab host: lays out the host's mounts, then reaps orphans and runs the mini-systemd's supervisor.

Started by hostns.start() as ``unshare --mount --pid --fork --mount-proc --uts --propagation private python -m
ybalab.hostinit <lab dir>``. Inside, the host volume (``<lab dir>/host``, a tmpfs) provides ``/opt``, ``/tmp`` and
``/etc/systemd/system``; ``/run`` is the host's own tmpfs, with the lab dir bound at HOST_RUN (the controller's
/tmp, where lab dirs usually are, is hidden by the host's /tmp; the volume shows there too, as HOST_RUN/host);
``/usr/bin`` is an overlay whose upper layer holds
what the installer adds there (``yba-ctl``); ``/var/backups`` is the host's own (a small tmpfs). When this
process ends, the kernel ends every process of the host.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ybalab.labstate import HOST_RUN

# (what on the volume, where on the host)
VOLUME_MOUNTS = (("opt", "/opt"), ("tmp", "/tmp"), ("etc/systemd/system", "/etc/systemd/system"))
# directories of the host's own root file system (fresh, emptied at each reset)
HOST_ROOT_DIRS = ("/var/backups",)
TICK = 0.25


def _mount(*args: str) -> None:
    cp = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if cp.returncode != 0:
        raise SystemExit(f"hostinit: mount {' '.join(args)} failed: {cp.stderr.strip()}")


def lay_out(lab_dir: str, hostname: str) -> None:
    # The lab dir first (with the volume mounted in it): the volume's /tmp is about to cover the controller's /tmp.
    _mount("-t", "tmpfs", "-o", "mode=0755,size=16m", "ybalab-run", "/run")
    os.makedirs(HOST_RUN, exist_ok=True)
    _mount("--rbind", lab_dir, HOST_RUN)
    for sub, mode in (("sshd", 0o755), ("lock", 0o1777), ("user", 0o755)):
        os.makedirs(os.path.join("/run", sub), exist_ok=True)
        os.chmod(os.path.join("/run", sub), mode)
    # The host's root volume is not the controller's: where operators (and the collection) keep dumps.
    for target in HOST_ROOT_DIRS:
        _mount("-t", "tmpfs", "-o", "mode=0755,size=512m", "ybalab-rootfs", target)
    vol = os.path.join(HOST_RUN, "host")
    for sub, target in VOLUME_MOUNTS:
        os.makedirs(os.path.join(vol, sub), exist_ok=True)
        _mount("--bind", os.path.join(vol, sub), target)
    upper, work = os.path.join(HOST_RUN, "usr-bin", "upper"), os.path.join(HOST_RUN, "usr-bin", "work")
    os.makedirs(upper, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    _mount("-t", "overlay", "ybalab-usr-bin", "-o", f"lowerdir=/usr/bin,upperdir={upper},workdir={work}", "/usr/bin")
    # as yba-installer lays it: /usr/bin/yba-ctl -> /opt/yba-ctl/yba-ctl -> software/<ver>/yba_installer/yba-ctl
    if not os.path.lexists("/usr/bin/yba-ctl"):
        os.symlink("/opt/yba-ctl/yba-ctl", "/usr/bin/yba-ctl")
    subprocess.run(["hostname", hostname], check=False)
    hosts = os.path.join("/run", "hosts")  # the host's own name resolves (sudo asks)
    with open("/etc/hosts", encoding="utf-8") as fh:
        base = fh.read()
    with open(hosts, "w", encoding="utf-8") as fh:
        fh.write(base.rstrip("\n") + f"\n127.0.1.1\t{hostname}\n")
    _mount("--bind", hosts, "/etc/hosts")


def _reap() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> int:
    lab_dir, hostname = argv[0], argv[1] if len(argv) > 1 else "yba-lab"
    lay_out(lab_dir, hostname)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    from ybalab.platform import paths, services  # after the mounts: they read the host's view
    lab_json = os.path.join(HOST_RUN, "lab.json")
    with open(os.path.join(HOST_RUN, "hostns.ready"), "w", encoding="ascii") as fh:
        fh.write("ready\n")
    supervisor = services.Supervisor()
    while not stopping:
        _reap()
        try:
            supervisor.tick(paths.load_state(lab_json))
        except Exception as exc:  # noqa: BLE001 - PID 1 must not die of a bad tick (a half-written unit file)
            sys.stderr.write(f"hostinit: supervisor: {exc}\n")
        time.sleep(TICK)
    try:  # shutdown as systemd does it: units in reverse order, then everything else
        services.stop_all(paths.load_state(lab_json))
    except Exception as exc:  # noqa: BLE001
        sys.stderr.write(f"hostinit: stop: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
