# Makes the collection importable as ansible_collections.yba.remediation when pytest runs from a checkout.
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_COLLECTIONS = os.path.join(_ROOT, ".build", "collections")
try:
    import importlib

    importlib.import_module("ansible_collections.yba.remediation")  # ansible-test units, or already on the path
except ImportError:
    if os.path.isdir(_COLLECTIONS) and _COLLECTIONS not in sys.path:
        sys.path.insert(0, _COLLECTIONS)


@pytest.fixture(autouse=True)
def _modules_run_on_the_host(monkeypatch):
    """Modules run on the YBA host, not in the controller: once a test imported a controller plugin (a filter),
    ansible-core would send module warnings to the controller's display instead of the module's result."""
    from ansible.module_utils import _internal

    monkeypatch.setattr(_internal, "is_controller", False)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _moto_server() -> str:
    """The moto of the test environment (beside its python), not whichever moto_server PATH finds first."""
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    exe = exe if os.path.exists(exe) else shutil.which("moto_server")
    assert exe, "moto_server is part of the test requirements"
    return exe


@pytest.fixture(scope="module")
def plain_s3():
    """A real S3 without credential checks (moto's threaded server), fresh for each test module, and an endpoint
    where nothing listens: {"live": url, "dead": url}."""
    pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield {"live": "http://127.0.0.1:%d" % port, "dead": "http://127.0.0.1:%d" % free_port()}
    server.stop()


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """A real S3 server, moto, with credential checks: a full user, a read-only user, a bucket and a versioned bucket."""
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="6")
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen([_moto_server(), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log, env=env)
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.time() < deadline, "moto_server did not start"
            time.sleep(0.2)
    try:
        import boto3

        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="boot",
                           aws_secret_access_key="boot")
        keys = {}
        for user, actions in (("yba", ["s3:*"]), ("reader", ["s3:GetObject", "s3:ListBucket"])):
            iam.create_user(UserName=user)
            keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
        admin = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                             aws_access_key_id=keys["yba"]["AccessKeyId"],
                             aws_secret_access_key=keys["yba"]["SecretAccessKey"])
        admin.create_bucket(Bucket="yba-backups")
        admin.create_bucket(Bucket="yba-versioned")
        admin.put_bucket_versioning(Bucket="yba-versioned", VersioningConfiguration={"Status": "Enabled"})
        yield {"url": url, "keys": keys, "admin": admin}
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
