"""The lab's real services on loopback: PostgreSQL 15, moto S3, a private sshd (user ybaops) and the lab TLS CA."""
from __future__ import annotations

import fcntl
import json
import os
import pwd
import secrets
import shutil
import subprocess
import threading
import time
import urllib.request
from typing import Any

from ybalab import hostns, hostsfile, labstate
from ybalab.labstate import (
    PG_BIN, VENV_BIN, LabError, free_port, kill_tree, notice, pid_alive, port_open, read_pid, run, wait_port,
    write_atomic,
)

SSH_USER = "ybaops"
HOST_UNREACHABLE_ADDRESS = hostsfile.ADDRESS
host_unreachable_name = hostsfile.name_for


def _child_env(state: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    env["YBA_LAB_DIR"] = state["dir"]
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return env


# --------------------------------------------------------------------------------------------- PostgreSQL
# The metadata DB runs ON the lab host, with its data dir on the host volume (/opt/yugabyte/data/postgres, socket
# data/pgsql/run/postgresql, log data/logs/postgres.log: yba-installer's cmd/postgres.go), so a full disk hits it.
# It is started and stopped by the host's mini-systemd (unit `postgres`); the lab itself talks to it over TCP.
def pg_pid(state: dict[str, Any]) -> int | None:
    """The postmaster's pid as the lab host sees it."""
    return read_pid(os.path.join(state["postgres"]["data_dir"], "postmaster.pid"))


def pg_running(state: dict[str, Any]) -> bool:
    return hostns.running(state) and port_open(state["postgres"]["port"])


def pg_init(state: dict[str, Any]) -> None:
    pg = state["postgres"]
    data = pg["data_dir"]
    if os.path.exists(os.path.join(data, "PG_VERSION")):
        return
    for p in (data, pg["socket_dir"], os.path.dirname(pg["log"])):
        os.makedirs(p, exist_ok=True)
    for p in (data, pg["socket_dir"]):
        shutil.chown(p, "postgres", "postgres")
        os.chmod(p, 0o700 if p == data else 0o755)
    # 1 MiB WAL segments: the host volume is small, and a real host's WAL is on the same volume as the rest.
    run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "initdb"), "-D", data, "-U", "postgres",
         "-A", "trust", "--no-sync", "-k", "-E", "UTF8", "--locale", "C", "--wal-segsize=1"])
    host_pg = labstate.host_view(state)["postgres"]
    with open(os.path.join(data, "postgresql.conf"), "a", encoding="utf-8") as fh:
        # A lab database: speed over durability.
        fh.write(
            "\n# ybalab\n"
            f"listen_addresses = '127.0.0.1'\nport = {pg['port']}\n"
            f"unix_socket_directories = '{host_pg['socket_dir']}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "shared_buffers = 16MB\nmax_connections = 60\nmin_wal_size = 2MB\nmax_wal_size = 4MB\n"
            "logging_collector = off\nlog_min_messages = warning\n"
        )


def pg_start(state: dict[str, Any]) -> None:
    """`systemctl start postgres` on the lab host (waits until it accepts connections)."""
    if pg_running(state):
        return
    pg = state["postgres"]
    for p in (pg["socket_dir"], pg["log"]):
        if p == pg["log"]:
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if not os.path.exists(p):
                open(p, "a", encoding="utf-8").close()
        else:
            os.makedirs(p, exist_ok=True)
        shutil.chown(p, "postgres", "postgres")
    hostns.call(state, "ybalab.platform.services", "start_unit", "postgres")
    if not wait_port(pg["port"], 15):
        raise LabError(f"PostgreSQL did not listen on {pg['port']}; see {pg['log']}")


def pg_stop(state: dict[str, Any]) -> None:
    if hostns.running(state) and os.path.exists(os.path.join(state["postgres"]["data_dir"], "postmaster.pid")):
        hostns.call(state, "ybalab.platform.services", "stop_unit", "postgres")


def psql(state: dict[str, Any], sql: str, db: str | None = None, *, tuples: bool = False,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    pg = state["postgres"]
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(pg["port"]), "-U", pg["user"],
           "-d", db or pg["database"]]
    if tuples:
        cmd += ["-A", "-t"]
    cp = subprocess.run(cmd, input=sql, text=True, capture_output=True, check=False)
    if check and cp.returncode != 0:
        raise LabError(f"psql failed: {cp.stderr.strip()}")
    return cp


# --------------------------------------------------------------------------------------------- S3 (moto)
# moto enforces auth (INITIAL_NO_AUTH_ACTION_COUNT=0): every S3 call must be SigV4-signed by an IAM user moto knows,
# so a wrong secret is SignatureDoesNotMatch, an unknown key InvalidAccessKeyId, a missing permission AccessDenied.
# IAM users are created at every reset (moto's reset wipes them), so their keys change: lab.json is rewritten.
FULL_USER = "yba-backup"
READONLY_USER = "yba-backup-readonly"
FULL_POLICY = {"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
READONLY_POLICY = {"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Resource": "*",
                                  "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"]}]}
# The lab's own IAM admin (s3.admin_*): what `ybalab storage deny-writes` puts its Deny policy on yba-backup with.
ADMIN_USER = "ybalab-admin"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}
# create_user, put_user_policy, create_access_key for each of the three users, and the full user's second key
UNAUTHENTICATED_IAM_CALLS = 10


def s3_pid_file(state: dict[str, Any]) -> str:
    return os.path.join(state["dir"], "moto.pid")


def blackhole_pid_file(state: dict[str, Any]) -> str:
    return os.path.join(state["dir"], "blackhole.pid")


def front_pid_file(state: dict[str, Any]) -> str:
    return os.path.join(state["dir"], "s3front.pid")


def _daemon_running(pid_file: str, port: int) -> bool:
    return pid_alive(read_pid(pid_file)) and port_open(port)


def _daemon_start(state: dict[str, Any], name: str, argv: list[str], port: int, pid_file: str,
                  env: dict[str, str] | None = None) -> None:
    """A lab service outside the YBA host (S3 lives elsewhere), in its own session, cwd and YBA_LAB_DIR set so
    `down` finds it."""
    with open(os.path.join(state["dir"], f"{name}.log"), "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=state["dir"], env=dict(_child_env(state), **(env or {})),
                                start_new_session=True)
    with open(pid_file, "w", encoding="ascii") as fh:
        fh.write(f"{proc.pid}\n")
    if not wait_port(port, 20):
        raise LabError(f"{name} did not listen on {port}; see {state['dir']}/{name}.log")


def _daemon_stop(pid_file: str) -> None:
    kill_tree(read_pid(pid_file))
    try:
        os.unlink(pid_file)
    except FileNotFoundError:
        pass


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _free_endpoint(s3: dict[str, Any], key: str, scheme: str = "http", host: str = "127.0.0.1") -> int:
    """The port of s3[key]; a new free one (and s3[key] rewritten) when something else took it."""
    port = _port_of(s3[key])
    if port_open(port):
        port = free_port()
        s3[key] = f"{scheme}://{host}:{port}"
    return port


def _moto_current(pid_file: str) -> bool:
    try:
        with open(f"/proc/{read_pid(pid_file)}/environ", "rb") as fh:
            env = fh.read().split(b"\0")
    except OSError:
        return True
    return b"INITIAL_NO_AUTH_ACTION_COUNT=0" in env and any(e.startswith(b"MOTO_S3_CUSTOM_ENDPOINTS=") for e in env)


def s3_running(state: dict[str, Any]) -> bool:
    s3 = state["s3"]
    return (_daemon_running(s3_pid_file(state), s3["port"])
            and _daemon_running(front_pid_file(state), _port_of(s3["region_endpoint"])))


def s3_start(state: dict[str, Any]) -> None:
    s3 = state["s3"]
    if _daemon_running(s3_pid_file(state), s3["port"]) and not _moto_current(s3_pid_file(state)):
        _daemon_stop(s3_pid_file(state))  # started by an older lab (no auth): restarted with today's settings
    if not _daemon_running(s3_pid_file(state), s3["port"]):
        if port_open(s3["port"]):
            s3["port"] = free_port()
        s3["endpoint"] = f"http://127.0.0.1:{s3['port']}"
        s3["host_unreachable_endpoint"] = f"http://{s3['host_unreachable_name']}:{s3['port']}"
        # MOTO_S3_CUSTOM_ENDPOINTS: requests to the named endpoint are path-style (moto would otherwise take the
        # name's first label for a virtual-host bucket).
        _daemon_start(state, "moto", [os.path.join(VENV_BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(s3["port"])],
                      s3["port"], s3_pid_file(state),
                      env={"INITIAL_NO_AUTH_ACTION_COUNT": "0",
                           "MOTO_S3_CUSTOM_ENDPOINTS": s3["host_unreachable_endpoint"]})
    # A black-holed S3 endpoint (accepts, never answers), beside the refusing dead_endpoint.
    if not _daemon_running(blackhole_pid_file(state), _port_of(s3["blackhole_endpoint"])):
        port = _free_endpoint(s3, "blackhole_endpoint")
        _daemon_start(state, "blackhole", [os.path.join(VENV_BIN, "python"), "-m", "ybalab.blackhole", str(port)],
                      port, blackhole_pid_file(state))
    # The region-aware front (plain and TLS) before moto.
    if not _daemon_running(front_pid_file(state), _port_of(s3["region_endpoint"])):
        http_port = _free_endpoint(s3, "region_endpoint")
        tls_port = _free_endpoint(s3, "tls_endpoint", "https")
        t = state["s3_tls"]
        _daemon_start(state, "s3front", [os.path.join(VENV_BIN, "python"), "-m", "ybalab.s3front", str(http_port),
                                         str(tls_port), s3["endpoint"], t["server_cert"], t["server_key"]],
                      http_port, front_pid_file(state))
        if not wait_port(tls_port, 10):
            raise LabError(f"s3front did not listen on {tls_port}; see {state['dir']}/s3front.log")


def s3_stop(state: dict[str, Any]) -> None:
    _daemon_stop(s3_pid_file(state))
    _daemon_stop(blackhole_pid_file(state))
    _daemon_stop(front_pid_file(state))


def _moto_api(s3: dict[str, Any], path: str, body: bytes = b"") -> None:
    # text/plain: with urllib's default form type Flask hides the body from moto (reset-auth reads it raw)
    req = urllib.request.Request(f"{s3['endpoint']}/moto-api/{path}", method="POST", data=body,
                                 headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


_SESSION: list[Any] = []
_SESSION_LOCK = threading.Lock()


def _boto_client(service: str, **kw: Any) -> Any:
    """A boto3 client from one session per process (the session's loader caches the service models, so only the
    first client costs ~0.15 s; Session.client is not thread-safe, hence the lock)."""
    import boto3  # the venv has it; imported lazily so `status`/`down` never need it
    with _SESSION_LOCK:
        if not _SESSION:
            _SESSION.append(boto3.session.Session())
        return _SESSION[0].client(service, **kw)


def s3_reset(state: dict[str, Any]) -> None:
    """Wipe moto's state; create the IAM users (full, with a second key pair, and read-only: their keys go to
    lab.json) and the buckets
    (plain, versioned, and one in s3.eu_region)."""
    s3 = state["s3"]
    _moto_api(s3, "reset")
    # The IAM setup is the only unauthenticated traffic moto accepts, and only for exactly these calls.
    _moto_api(s3, "reset-auth", str(UNAUTHENTICATED_IAM_CALLS).encode())
    try:
        iam = _boto_client("iam", endpoint_url=s3["endpoint"], region_name="us-east-1",
                           aws_access_key_id="AKIALABBOOTSTRAP", aws_secret_access_key="bootstrap")
        for user, policy, prefix in ((FULL_USER, FULL_POLICY, ""), (READONLY_USER, READONLY_POLICY, "readonly_"),
                                     (ADMIN_USER, ADMIN_POLICY, "admin_")):
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName=f"{user}-s3", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=user)["AccessKey"]
            s3[f"{prefix}access_key"], s3[f"{prefix}secret_key"] = key["AccessKeyId"], key["SecretAccessKey"]
        # a second key pair of the full user, what a key rotation moves a storage config to
        key = iam.create_access_key(UserName=FULL_USER)["AccessKey"]
        s3["rotated_access_key"], s3["rotated_secret_key"] = key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        _moto_api(s3, "reset-auth", b"0")
    client = s3_client(state)
    client.create_bucket(Bucket=s3["bucket"])
    client.create_bucket(Bucket=s3["versioned_bucket"])
    client.put_bucket_versioning(Bucket=s3["versioned_bucket"], VersioningConfiguration={"Status": "Enabled"})
    s3_client(state, region=s3["eu_region"]).create_bucket(
        Bucket=s3["eu_bucket"], CreateBucketConfiguration={"LocationConstraint": s3["eu_region"]})


def iam_admin_client(state: dict[str, Any]) -> Any:
    """IAM as the lab's admin user (s3.admin_access_key): for policies on the lab's S3 users."""
    s3 = state["s3"]
    return _boto_client("iam", endpoint_url=s3["endpoint"], region_name="us-east-1",
                        aws_access_key_id=s3["admin_access_key"], aws_secret_access_key=s3["admin_secret_key"])


def s3_client(state: dict[str, Any], *, readonly: bool = False, region: str | None = None,
              endpoint: str | None = None) -> Any:
    """A boto3 client with the lab's full-access keys (readonly: the read-only user's), straight to moto."""
    from botocore.config import Config
    s3 = state["s3"]
    prefix = "readonly_" if readonly else ""
    return _boto_client(
        "s3", endpoint_url=endpoint or s3["endpoint"], region_name=region or s3["region"],
        aws_access_key_id=s3[f"{prefix}access_key"], aws_secret_access_key=s3[f"{prefix}secret_key"],
        config=Config(s3={"addressing_style": "path"}))


# --------------------------------------------------------------------------------------------- TLS
def _write_key_cert(key: Any, cert: Any, key_path: str, cert_path: str) -> None:
    from cryptography.hazmat.primitives import serialization
    write_atomic(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode(), 0o600)
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode(), 0o644)


def _now() -> Any:
    import datetime
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)


def make_ca(ca_cert: str, ca_key: str, ca_name: str) -> None:
    """A CA (EC P-256, 10 years): the one place the lab makes CAs (the platform's, the S3 front's)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = _now()
    os.makedirs(os.path.dirname(ca_cert), exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ybalab")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_key_cert(key, cert, ca_key, ca_cert)


def issue_server_cert(ca_cert: str, ca_key: str, server_cert: str, server_key: str) -> None:
    """A server certificate for 127.0.0.1/localhost (825 days) signed by the CA (PEM files; EC or RSA key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    with open(ca_cert, "rb") as fh:
        ca = x509.load_pem_x509_certificate(fh.read())
    with open(ca_key, "rb") as fh:
        ck = serialization.load_pem_private_key(fh.read(), password=None)
    now = _now()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
                                     x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ybalab")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ck.public_key()), critical=False)
            .sign(ck, hashes.SHA256()))
    _write_key_cert(key, cert, server_key, server_cert)


def tls_ensure(state: dict[str, Any]) -> None:
    """The lab CA and the platform's server certificate; the S3 front's own CA (s3.ca_cert) and certificate."""
    for sect, name in (("tls", "YBA lab CA"), ("s3_tls", "ybalab S3 CA (not trusted by the platform)")):
        t = state[sect]
        if not all(os.path.exists(t[k]) for k in ("ca_cert", "ca_key", "server_cert", "server_key")):
            make_ca(t["ca_cert"], t["ca_key"], name)
            issue_server_cert(t["ca_cert"], t["ca_key"], t["server_cert"], t["server_key"])


# --------------------------------------------------------------------------------------------- sshd
def ensure_ssh_user() -> None:
    """ybaops: a login user with NOPASSWD sudo so `become: true` is real."""
    try:
        pwd.getpwnam(SSH_USER)
    except KeyError:
        r = subprocess.run(["useradd", "-m", "-s", "/bin/bash", SSH_USER], capture_output=True, text=True, check=False)
        if r.returncode not in (0, 9):  # 9: created concurrently by another lab
            raise LabError(f"useradd {SSH_USER} failed: {r.stderr.strip()}")
    # '!' would mean "locked" to sshd without PAM; '*' means "no password login", keys still work.
    subprocess.run(["usermod", "-p", "*", SSH_USER], capture_output=True, check=False)
    sudoers = f"/etc/sudoers.d/{SSH_USER}"
    want = f"{SSH_USER} ALL=(ALL) NOPASSWD: ALL\n"
    try:
        with open(sudoers, encoding="utf-8") as fh:
            if fh.read() == want:
                return
    except FileNotFoundError:
        pass
    write_atomic(sudoers, want, 0o440)


def sshd_pid_file(state: dict[str, Any]) -> str:
    return os.path.join(state["dir"], "ssh", "sshd.pid")


def sshd_running(state: dict[str, Any]) -> bool:
    return hostns.running(state) and port_open(state["ssh"]["port"])


def _keygen(path: str, comment: str) -> None:
    if not os.path.exists(path):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])


def known_hosts_line(state: dict[str, Any]) -> str:
    ssh = state["ssh"]
    with open(ssh["host_key"] + ".pub", encoding="ascii") as fh:
        keytype, key = fh.read().split()[:2]
    return f"[127.0.0.1]:{ssh['port']} {keytype} {key}\n"


def sshd_configure(state: dict[str, Any]) -> None:
    ssh = state["ssh"]
    d = os.path.dirname(ssh["key"])
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    os.makedirs("/run/sshd", exist_ok=True)
    _keygen(ssh["host_key"], "ybalab-host")
    _keygen(ssh["key"], "ybalab-client")
    with open(ssh["key"] + ".pub", encoding="ascii") as fh:
        pub = fh.read()
    auth = os.path.join(d, "authorized_keys")
    with open(auth, "w", encoding="ascii") as fh:
        fh.write(pub)
    os.chmod(auth, 0o644)
    with open(ssh["known_hosts"], "w", encoding="ascii") as fh:
        fh.write(known_hosts_line(state))
    os.chmod(ssh["known_hosts"], 0o644)
    cfg = os.path.join(d, "sshd_config")
    host = labstate.host_view(state)  # sshd runs on the lab host: its paths as the host sees them
    with open(cfg, "w", encoding="ascii") as fh:
        fh.write(
            f"# ybalab private sshd\nPort {ssh['port']}\nListenAddress 127.0.0.1\n"
            f"HostKey {host['ssh']['host_key']}\nPidFile {host['ssh']['pid_file']}\n"
            f"AuthorizedKeysFile {host['ssh']['key'].rsplit('/', 1)[0]}/authorized_keys\nAllowUsers {SSH_USER}\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin no\nUsePAM no\nStrictModes no\nUseDNS no\nPrintMotd no\nPrintLastLog no\n"
            "MaxStartups 50:30:100\nMaxSessions 50\nClientAliveInterval 30\nClientAliveCountMax 4\n"
            "LogLevel ERROR\nSubsystem sftp internal-sftp\n"
        )


def sshd_start(state: dict[str, Any]) -> None:
    if sshd_running(state):
        return
    ssh = state["ssh"]
    if port_open(ssh["port"]):
        ssh["port"] = free_port()
    sshd_configure(state)
    cfg = os.path.join(labstate.HOST_RUN, "ssh", "sshd_config")
    log = os.path.join(labstate.HOST_RUN, "ssh", "sshd.log")
    hostns.run(state, ["/usr/sbin/sshd", "-t", "-f", cfg])
    hostns.run(state, ["/usr/sbin/sshd", "-f", cfg, "-E", log])
    if not wait_port(ssh["port"], 10):
        raise LabError(f"sshd did not listen on {ssh['port']}; see {state['dir']}/ssh/sshd.log")
    deadline = time.monotonic() + 1.0
    while not read_pid(sshd_pid_file(state)) and time.monotonic() < deadline:
        time.sleep(0.02)


def sshd_stop(state: dict[str, Any]) -> None:
    pid = read_pid(sshd_pid_file(state))  # the host's pid: signal it there (also ends open sessions)
    if pid and hostns.running(state):
        hostns.run(state, ["kill", str(pid)], check=False)
    try:
        os.unlink(sshd_pid_file(state))
    except FileNotFoundError:
        pass


# paramiko_ssh reads only ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts: keep our entry there while up.
def _user_known_hosts() -> str:
    return os.path.expanduser("~/.ssh/known_hosts")


def _rewrite_user_known_hosts(port: int, line: str | None) -> None:
    path = _user_known_hosts()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(os.path.join(os.path.dirname(path), ".ybalab-known_hosts.lock"), "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several labs edit this file
        _rewrite_locked(path, port, line)


def _rewrite_locked(path: str, port: int, line: str | None) -> None:
    prefix = f"[127.0.0.1]:{port} "
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [ln for ln in fh if not ln.startswith(prefix)]
    except FileNotFoundError:
        lines = []
    if line:
        lines.append(line)
    write_atomic(path, "".join(lines), 0o600)


def user_known_hosts_add(state: dict[str, Any]) -> None:
    _rewrite_user_known_hosts(state["ssh"]["port"], known_hosts_line(state))


def user_known_hosts_remove(state: dict[str, Any]) -> None:
    try:
        _rewrite_user_known_hosts(state["ssh"]["port"], None)
    except OSError as exc:
        notice(f"could not clean ~/.ssh/known_hosts: {exc}")


def new_secret(n: int = 20) -> str:
    return secrets.token_hex(n)


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)
