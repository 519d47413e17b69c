"""Install, start, stop, hang and crash the simulated YBA platform, as the lab needs it.

``install_software`` lays down what yba-installer would (FACTS 1.1/1.2): ``software/<version>/`` with the
yugaware launcher, ``version_metadata.json``, ``yb-platform.conf``, ``pgsql/``, the ``software/active``
link, the three systemd unit files, the server certificate and the yba-ctl stand-in at /usr/bin/yba-ctl.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
from typing import Any

from ybalab.labstate import write_atomic

from . import paths, services

LAUNCHER = """#!{python}
# yugaware start script of the YBA lab: stands in for the Play/sbt-native-packager script.
# JAVA_OPTS tokens are re-exec'd onto the command line so `ps -o args` shows them, as the real script does.
import os, sys
sys.path.insert(0, {lab_path!r})
opts = os.environ.get("JAVA_OPTS", "").split()
if opts and os.environ.get("_YBA_LAB_REEXEC") != "1":
    os.environ["_YBA_LAB_REEXEC"] = "1"
    os.execv(sys.executable, [sys.executable, __file__] + opts + sys.argv[1:])
from ybalab.platform.server import main
sys.exit(main(sys.argv[1:]))
"""

YBA_CTL = """#!{python}
# yba-ctl stand-in of the YBA lab (see ybalab/yba_ctl.py).
import os, sys
sys.path.insert(0, {lab_path!r})
from ybalab.yba_ctl import main
sys.exit(main(sys.argv[1:], lab_json={lab_json!r}, bundle_dir={bundle}))
"""

PROMETHEUS = """#!{python}
# prometheus stand-in of the YBA lab: answers /-/healthy and /-/ready.
import sys
sys.path.insert(0, {lab_path!r})
from ybalab.platform.prometheus_stub import main
sys.exit(main(sys.argv[1:]))
"""

PLATFORM_UNIT = """[Unit]
Description=Yugabyte Platform
Wants=network-online.target
After=network-online.target

[Service]
User=yugabyte
Group=yugabyte
Type=simple

Environment="PLATFORM_APP_SECRET={app_secret}"
Environment="JAVA_HOME={version_dir}/jdk"

ExecStart={version_dir}/yb-platform/yugaware/bin/yugaware \\
  -Dconfig.file={version_dir}/yb-platform/conf/yb-platform.conf \\
  -Dhttp.port=disabled \\
  -Dhttps.port={https_port}

Restart=always
RestartSec=10
AmbientCapabilities=CAP_NET_BIND_SERVICE

[Install]
WantedBy=multi-user.target
"""

POSTGRES_UNIT = """[Unit]
Description=PostgreSQL
Wants=network-online.target
After=network-online.target

[Service]
User=yugabyte
Group=yugabyte
Type=notify

ExecStart={version_dir}/pgsql/bin/postgres -D {pg_data} -c config_file={version_dir}/pgsql/conf/postgresql.conf -p {pg_port}
ExecReload=/bin/kill -HUP $MAINPID
KillMode=mixed
KillSignal=SIGINT
TimeoutSec=0

Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

PROMETHEUS_UNIT = """[Unit]
Description=Prometheus
Wants=network-online.target
After=network-online.target

[Service]
User=yugabyte
Group=yugabyte
Type=simple

ExecStart={prometheus_bin} \\
  --config.file={version_dir}/prometheus/conf/prometheus.yml \\
  --storage.tsdb.path={data}/prometheus/storage \\
  --web.listen-address=127.0.0.1:{prom_port} \\
  --storage.tsdb.retention.time=15d \\
  --web.enable-admin-api \\
  --web.enable-lifecycle

Restart=always
RestartSec=10
OOMScoreAdjust=500

[Install]
WantedBy=multi-user.target
"""


def _write(path: str, text: str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, text, mode)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _host_path(state: dict[str, Any], abs_host_path: str) -> str:
    """A path under host.root as the YBA host itself sees it (what goes into its config files). On the host
    itself (host.root "/") a path is already that, whatever the working directory."""
    root = state["host"]["root"].rstrip("/")
    if not root:
        return abs_host_path
    return "/" + os.path.relpath(abs_host_path, root) if abs_host_path.startswith(root + "/") else abs_host_path


host_path = _host_path


def ensure_server_cert(state: dict[str, Any]) -> tuple[str, str]:
    """Put the platform's server.pem/server.key into data/yba-installer/certs (FACTS 1.1).

    Sources, in order: lab.json ``platform.cert``/``platform.key``; ``<dir>/tls/server.pem|server.key``;
    a cert issued by ``<dir>/tls/ca.pem`` + ``ca.key``; else a fresh CA (written to ``platform.ca_cert``)
    and server cert for 127.0.0.1/localhost (ybalab.services.make_ca / issue_server_cert).
    """
    certs = paths.certs_dir(state)
    os.makedirs(certs, exist_ok=True)
    pem, key = os.path.join(certs, "server.pem"), os.path.join(certs, "server.key")
    if os.path.exists(pem) and os.path.exists(key):
        return pem, key
    plat = state.get("platform", {})
    tls = os.path.join(state["dir"], "tls")
    for src_pem, src_key in ((plat.get("cert"), plat.get("key")),
                             (os.path.join(tls, "server.pem"), os.path.join(tls, "server.key"))):
        if src_pem and src_key and os.path.exists(src_pem) and os.path.exists(src_key):
            shutil.copyfile(src_pem, pem)
            shutil.copyfile(src_key, key)
            os.chmod(key, 0o600)
            return pem, key
    ca_pem = plat.get("ca_cert") or os.path.join(tls, "ca.pem")
    ca_key = os.path.splitext(ca_pem)[0] + ".key"
    from ybalab import services as lab_services  # the lab's one certificate maker
    if not (os.path.exists(ca_pem) and os.path.exists(ca_key)):
        lab_services.make_ca(ca_pem, ca_key, "YBA lab CA")
    lab_services.issue_server_cert(ca_pem, ca_key, pem, key)
    return pem, key


def platform_conf_text(state: dict[str, Any], version_dir_host: str, https_port: int) -> str:
    pg = state["postgres"]
    data = _host_path(state, paths.data_dir(state))
    certs = _host_path(state, paths.certs_dir(state))
    return f"""# yb-platform.conf generated by the YBA lab's installer stand-in (shape of yba-installer's template).
include classpath("application.common.conf")
play.crypto.secret = ${{PLATFORM_APP_SECRET}}
play.http.errorHandler = "com.yugabyte.yw.common.YWErrorHandler"
log.override.path = "{data}/logs"
https.port = {https_port}
play.server.https.keyStore.path = "{certs}/server.pem"
play.server.https.keyStore.type = "PEM"
play.server.https.keyStore.keyPath = "{certs}/server.key"

db.default.dbname = "{pg.get('database', 'yugaware')}"
db.default.host = "{pg.get('host', '127.0.0.1')}"
db.default.port = {int(pg['port'])}
db.default.url = "jdbc:postgresql://{pg.get('host', '127.0.0.1')}:{int(pg['port'])}/{pg.get('database', 'yugaware')}"
db.default.driver = "org.postgresql.Driver"
db.default.username = "{pg.get('user', 'postgres')}"
db.default.password = ""
db.default.pg_dump_path = "{version_dir_host}/pgsql/bin/pg_dump"
db.default.pg_restore_path = "{version_dir_host}/pgsql/bin/pg_restore"
db.default.migration.table = "schema_version"

yb.installation = "yba-installer"
yb.storage.path = "{data}/yb-platform"
yb.releases.path = "{data}/yb-platform/releases"
yb.devops.home = "{version_dir_host}/yb-platform/devops"
yb.swamper.targetPath = "{data}/prometheus/swamper_targets"
yb.swamper.rulesPath = "{data}/prometheus/swamper_rules"
yb.filepaths.tmpDirectory = "/tmp"
taskGC.task_retention_duration = 30 days
taskGC.gc_check_interval = 1 day
health.check_interval_ms = 300000

# Lab only: where the simulator finds lab.json (scenario, S3, app secret location), as the lab host sees it.
yb.lab.state_file = "{paths.host_lab_json()}"
"""


def _version_parts(version: str) -> tuple[str, str]:
    number, _sep, build = version.partition("-b")
    return number, build or "0"


def install_software(state: dict[str, Any], version: str, active: bool = True) -> str:
    """Lay down software/<version> (and, when active, the units, active link and yba-ctl); returns its path."""
    import sys

    python = sys.executable
    lab_path = paths.lab_python_path()
    version_dir = os.path.join(paths.software_dir(state), version)
    version_dir_host = _host_path(state, version_dir)
    https_port = paths.https_port(state)
    number, build = _version_parts(version)

    _write(os.path.join(version_dir, "yb-platform/yugaware/bin/yugaware"),
           LAUNCHER.format(python=python, lab_path=lab_path), 0o755)
    _write(os.path.join(version_dir, "yb-platform/yugaware/conf/version_metadata.json"),
           json.dumps({"version_number": number, "build_number": build}) + "\n")
    _write(os.path.join(version_dir, "yb-platform/yugaware/conf/application.ini"),
           "# JVM options of the start script\n-J-XX:G1PeriodicGCInterval=120000\n")
    _write(os.path.join(version_dir, "yb-platform/conf/yb-platform.conf"),
           platform_conf_text(state, version_dir_host, https_port))
    os.makedirs(os.path.join(version_dir, "yb-platform/devops/bin"), exist_ok=True)
    os.makedirs(os.path.join(version_dir, "pgsql/bin"), exist_ok=True)
    os.makedirs(os.path.join(version_dir, "pgsql/conf"), exist_ok=True)
    os.makedirs(os.path.join(version_dir, "prometheus/conf"), exist_ok=True)
    if not os.path.exists(os.path.join(version_dir, "prometheus/conf/prometheus.yml")):
        _write(os.path.join(version_dir, "prometheus/conf/prometheus.yml"),
               "global:\n  scrape_interval: 10s\n  evaluation_interval: 10s\n")
    if not active:
        return version_dir

    for sub in ("logs", "yb-platform", "prometheus/storage", "prometheus/swamper_targets",
                "prometheus/swamper_rules", "pgsql/run/postgresql"):
        os.makedirs(os.path.join(paths.data_dir(state), sub), exist_ok=True)
    ensure_server_cert(state)
    link = paths.active_dir(state)
    tmp_link = f"{link}.tmp{os.getpid()}"
    if os.path.lexists(tmp_link):
        os.unlink(tmp_link)
    os.symlink(version, tmp_link)  # relative, so it resolves both on the host and under host.root
    os.replace(tmp_link, link)

    from . import crypto
    _write(paths.unit_file(state, "yb-platform"), PLATFORM_UNIT.format(
        app_secret=hmac.new(crypto.app_secret(state), b"PLATFORM_APP_SECRET", hashlib.sha256).hexdigest()[:32],
        version_dir=_host_path(state, link),
        https_port=https_port))
    # The units reference host paths; the mini-systemd maps ExecStart through host.root (services.host_argv).
    pg = state["postgres"]
    _write(paths.unit_file(state, "postgres"), POSTGRES_UNIT.format(
        version_dir=_host_path(state, link), pg_data=_host_path(state, pg["data_dir"]), pg_port=int(pg["port"])))
    _write(os.path.join(version_dir, "prometheus", "prometheus"), PROMETHEUS.format(python=python, lab_path=lab_path),
           0o755)
    prom_port = _existing_prom_port(state) or _free_port()
    _write(paths.unit_file(state, "prometheus"), PROMETHEUS_UNIT.format(
        prometheus_bin=f"{_host_path(state, link)}/prometheus/prometheus", version_dir=_host_path(state, link),
        data=_host_path(state, paths.data_dir(state)), prom_port=prom_port))
    # as yba-installer lays it: /usr/bin/yba-ctl -> /opt/yba-ctl/yba-ctl -> software/<ver>/yba_installer/yba-ctl
    # (the first link is made by the host's PID 1, on its /usr/bin)
    _write(os.path.join(version_dir, "yba_installer", "yba-ctl"),
           YBA_CTL.format(python=python, lab_path=lab_path, lab_json=paths.host_lab_json(), bundle="None"), 0o755)
    ctl_link = paths.on_host(state, "/opt/yba-ctl/yba-ctl")
    os.makedirs(os.path.dirname(ctl_link), exist_ok=True)
    if os.path.lexists(ctl_link):
        os.unlink(ctl_link)
    os.symlink(f"{_host_path(state, link)}/yba_installer/yba-ctl", ctl_link)
    return version_dir


def make_bundle(state: dict[str, Any], version: str, dest_dir: str) -> str:
    """An unpacked installer bundle for ``version`` at dest_dir (a real path, e.g. under host.root):
    ``version_metadata.json`` and a ``yba-ctl`` whose bundle dir is its own directory (so it keeps working
    wherever the bundle is extracted), whose ``upgrade`` installs that version."""
    import sys

    number, build = _version_parts(version)
    _write(os.path.join(dest_dir, "version_metadata.json"),
           json.dumps({"version_number": number, "build_number": build}) + "\n")
    _write(os.path.join(dest_dir, "yba-ctl"),
           YBA_CTL.format(python=sys.executable, lab_path=paths.lab_python_path(),
                          lab_json=paths.host_lab_json(),
                          bundle="os.path.dirname(os.path.abspath(__file__))"), 0o755)
    return dest_dir


BUNDLE_HOST_DIR = "/tmp/yba-bundles"  # on the host volume


def bundle_top_dir(version: str) -> str:
    return f"yba_installer_full-{version}"


def make_bundle_tarball(state: dict[str, Any], version: str, host_dir: str = BUNDLE_HOST_DIR) -> dict[str, Any]:
    """On the lab host (``hostns.call``; ``python -m ybalab bundle``): the installer bundle as yugabyte ships it,
    ``<host_dir>/yba_installer_full-<version>-linux-x86_64.tar.gz`` holding one top dir
    ``yba_installer_full-<version>/`` (``yba-ctl``, ``version_metadata.json``). Returns {tarball, sha256, version,
    dir, top_dir, size} with host paths."""
    import tarfile
    import tempfile

    dest = paths.on_host(state, host_dir)
    os.makedirs(dest, exist_ok=True)
    top = bundle_top_dir(version)
    tarball = os.path.join(dest, f"{top}-linux-x86_64.tar.gz")
    part = tarball + ".part"
    with tempfile.TemporaryDirectory(dir=dest, prefix=".bundle-") as tmp:
        make_bundle(state, version, os.path.join(tmp, top))
        with tarfile.open(part, "w:gz") as tar:
            tar.add(os.path.join(tmp, top), arcname=top)
    os.replace(part, tarball)
    digest = hashlib.sha256()
    with open(tarball, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return {"tarball": _host_path(state, tarball), "sha256": digest.hexdigest(), "version": version,
            "dir": _host_path(state, dest), "top_dir": top, "size": os.path.getsize(tarball)}


def lay_down_partial(state: dict[str, Any], version: str) -> str:
    """What a yba-ctl upgrade that died half way leaves: software/<version> with the launcher and a truncated
    jar, no conf and no version_metadata.json (the lab's upgrade fault die-halfway)."""
    import sys

    version_dir = os.path.join(paths.software_dir(state), version)
    launcher = os.path.join(version_dir, "yb-platform/yugaware/bin/yugaware")
    _write(launcher, LAUNCHER.format(python=sys.executable, lab_path=paths.lab_python_path()), 0o755)
    os.makedirs(os.path.join(version_dir, "yb-platform/yugaware/lib"), exist_ok=True)
    with open(os.path.join(version_dir, f"yb-platform/yugaware/lib/yugaware.yugaware-{version}.jar"), "wb") as fh:
        fh.write(b"PK\x03\x04" + b"\0" * 60)  # the copy stopped here
    return version_dir


# common.NewYBVersion / LessVersions (yba-installer pkg/common): four numbers, the build, then the remainder
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:-b(\d+))?(.*)$")


def version_key(version: str) -> tuple[Any, ...] | None:
    """The sort key of a YB version ``2.20.1.3-b3`` (None when it is not one: IsValidVersion)."""
    m = _VERSION_RE.match(version)
    if not m:
        return None
    return tuple(int(x) for x in m.groups()[:4]) + (int(m.group(5) or 0), m.group(6))


def version_less(v1: str, v2: str) -> bool:
    """LessVersions: v1 < v2 (an invalid version sorts first)."""
    return (version_key(v1) or ()) < (version_key(v2) or ())


def prune_past_installs(state: dict[str, Any]) -> list[str]:
    """As yba-installer's PrunePastInstalls (yba-installer pkg/common): of the release dirs (valid version
    names) other than the active one, keep the newest and remove the others; returns the removed names."""
    soft = paths.software_dir(state)
    active = os.path.basename(os.path.realpath(paths.active_dir(state)))
    others = sorted((d for d in os.listdir(soft) if d != active and version_key(d) is not None
                     and os.path.isdir(os.path.join(soft, d)) and not os.path.islink(os.path.join(soft, d))),
                    key=lambda d: version_key(d) or ())
    removed = []
    for old in others[:-1]:
        shutil.rmtree(os.path.join(soft, old), ignore_errors=True)
        removed.append(old)
    return removed


def _existing_prom_port(state: dict[str, Any]) -> int | None:
    spec = services.load_unit(state, "prometheus")
    if not spec:
        return None
    for arg in spec["ExecStart"].split():
        if arg.startswith("--web.listen-address="):
            return int(arg.rsplit(":", 1)[1])
    return None


def metadata_version(path: str) -> str | None:
    """``<version_number>-b<build_number>`` of a version_metadata.json (None when unreadable)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return f"{data['version_number']}-b{data['build_number']}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def installed_version(state: dict[str, Any]) -> str | None:
    """yugaware.InstalledVersionFromMetadata: the active release's version_metadata.json."""
    return metadata_version(os.path.join(paths.active_dir(state), "yb-platform/yugaware/conf/version_metadata.json"))


def start(state: dict[str, Any], timeout: float = 60.0) -> None:
    """As ``yba-ctl start yb-platform``: start and wait until HTTPS answers (ServiceError if it died)."""
    services.start_unit(state, "yb-platform", timeout=timeout)


def wait_https(state: dict[str, Any], timeout: float = 60.0) -> None:
    """Until the platform answers HTTPS (``yba-ctl start`` does not wait, as the real one); ServiceError after
    timeout."""
    import time
    deadline = time.monotonic() + timeout
    while not services.https_answers(paths.https_port(state)):
        if time.monotonic() > deadline:
            raise services.ServiceError(f"yb-platform did not answer HTTPS within {timeout:.0f}s")
        time.sleep(0.1)


def stop(state: dict[str, Any]) -> None:
    """As ``yba-ctl stop yb-platform``."""
    services.stop_unit(state, "yb-platform")


def switch_version(state: dict[str, Any], version: str) -> str:
    """The platform at another YBA version until the next reset (``python -m ybalab platform-version``): stop it,
    lay down software/<version> as the active release, start it (and wait for HTTPS). Unlike ``yba-ctl upgrade``
    it goes backwards too and keeps the other releases. Returns the version the platform now answers."""
    services.stop_unit(state, "yb-platform")
    install_software(state, version, active=True)
    start(state)
    return installed_version(state) or version


def hang(state: dict[str, Any]) -> None:
    """SIGSTOP the platform: the kernel still accepts TCP connections, nothing ever answers."""
    pid = services.read_pid(state, "yb-platform")
    if not services.unit_pid_alive("yb-platform", pid):
        raise services.ServiceError("yb-platform is not running")
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)


def crash(state: dict[str, Any]) -> None:
    """SIGKILL the platform and leave its pid file behind (stale), as an OOM kill would, with systemd having given
    up on it (unit failed: a crash loop hit the start limit), so Restart=always does not bring it back."""
    services.fail_unit(state, "yb-platform")


def crash_postgres(state: dict[str, Any]) -> None:
    """PostgreSQL dies as on a full volume (immediate shutdown: crash recovery at the next start). The unit stays
    wanted, so the host's Restart=always keeps trying to start it."""
    services.crash_postgres(state)
