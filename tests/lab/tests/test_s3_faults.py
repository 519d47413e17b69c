"""The lab's S3 is as hard as real S3: auth enforced (IAM users, read-only user), a versioned bucket, a region-aware
front (wrong signing region = AuthorizationHeaderMalformed) on HTTP and TLS with its own CA, a name the lab host
cannot reach while the controller can, and `ybalab storage <variant>` that puts the seeded config into each fault
(as the simulator's validation, backups and the controller's boto3 see it)."""
from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest

from labtest import load, own_lab, set_platform_keys, ybalab  # noqa: E402  (puts the lab on sys.path)

from ybalab import hostns, labstate, s3front, storage  # noqa: E402
from ybalab.platform import client as pclient  # noqa: E402
from ybalab.platform import lifecycle, s3client, storage_check  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (mount, useradd, runuser)")


@pytest.fixture(scope="module")
def labdir() -> Iterator[str]:
    with own_lab("yba-lab-s3f-", "incident", reuse=True) as (d, _own):
        yield d


def boto(state: dict[str, Any], endpoint: str | None = None, *, key: str | None = None, secret: str | None = None,
         region: str = "us-east-1", redirect: bool = True, **kw: Any) -> Any:
    import boto3
    from botocore.config import Config
    s3 = state["s3"]
    c = boto3.session.Session().client(
        "s3", endpoint_url=endpoint or s3["endpoint"], region_name=region,
        aws_access_key_id=key or s3["access_key"], aws_secret_access_key=secret or s3["secret_key"],
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, connect_timeout=2,
                      read_timeout=2), **kw)
    return c if redirect else s3client.no_region_redirect(c)


def error(fn: Any) -> tuple[int | None, str]:
    """(HTTP status, S3 error code) of a call that must fail with a ClientError."""
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as ei:
        fn()
    r = ei.value.response
    return r["ResponseMetadata"].get("HTTPStatusCode"), r["Error"]["Code"]


# ------------------------------------------------------------------------------------------------ credentials
def test_moto_checks_keys_signatures_and_permissions(labdir: str) -> None:
    state = load(labdir)
    s3 = state["s3"]
    bucket = s3["bucket"]
    assert s3["access_key"].startswith("AKIA") and s3["readonly_access_key"].startswith("AKIA")
    assert boto(state).list_objects_v2(Bucket=bucket, MaxKeys=1)["KeyCount"] == 1
    assert error(lambda: boto(state, secret=storage.wrong_secret(s3["secret_key"])).list_objects_v2(Bucket=bucket)) \
        == (403, "SignatureDoesNotMatch")
    assert error(lambda: boto(state, key="AKIAUNKNOWNKEY000000").list_objects_v2(Bucket=bucket)) \
        == (403, "InvalidAccessKeyId")
    assert error(lambda: boto(state).list_objects_v2(Bucket=storage.MISSING_BUCKET)) == (404, "NoSuchBucket")
    ro = boto(state, key=s3["readonly_access_key"], secret=s3["readonly_secret_key"])
    key = ro.list_objects_v2(Bucket=bucket, MaxKeys=1)["Contents"][0]["Key"]
    assert ro.get_object(Bucket=bucket, Key=key)["Body"].read() is not None
    assert error(lambda: ro.put_object(Bucket=bucket, Key="northgate/canary.txt", Body=b"x")) == (403, "AccessDenied")
    assert error(lambda: ro.delete_object(Bucket=bucket, Key=key)) == (403, "AccessDenied")
    # Unsigned traffic is refused too: the IAM bootstrap window is closed after each reset.
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(f"{s3['endpoint']}/{bucket}?list-type=2", timeout=5)
    assert ei.value.code == 500  # moto fails on the missing Authorization header where S3 answers 403: never 200


def test_versioned_bucket_leaves_a_delete_marker(labdir: str) -> None:
    state = load(labdir)
    c, bucket = boto(state), state["s3"]["versioned_bucket"]
    assert c.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    c.put_object(Bucket=bucket, Key="northgate/canary.txt", Body=b"dummy-text")
    gone = c.delete_object(Bucket=bucket, Key="northgate/canary.txt")
    assert gone["DeleteMarker"] is True and gone["VersionId"]
    assert error(lambda: c.head_object(Bucket=bucket, Key="northgate/canary.txt"))[0] == 404
    versions = c.list_object_versions(Bucket=bucket, Prefix="northgate/canary.txt")
    assert [m["Key"] for m in versions["DeleteMarkers"]] == ["northgate/canary.txt"]
    assert len(versions["Versions"]) == 1  # the data is still there, under its version


# ------------------------------------------------------------------------------------------------ region front
def _signed_get(state: dict[str, Any], endpoint: str, path: str, region: str) -> tuple[int, dict[str, str], bytes]:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    s3 = state["s3"]
    req = AWSRequest(method="GET", url=endpoint + path)
    S3SigV4Auth(Credentials(s3["access_key"], s3["secret_key"]), "s3", region).add_auth(req)
    r = urllib.request.Request(endpoint + path, headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_front_rejects_a_wrong_signing_region_as_aws_does(labdir: str) -> None:
    state = load(labdir)
    s3 = state["s3"]
    front, eu = s3["region_endpoint"], s3["eu_bucket"]
    status, headers, body = _signed_get(state, front, f"/{eu}?list-type=2", "us-east-1")
    assert status == 400 and headers["x-amz-bucket-region"] == s3["eu_region"] == "eu-west-1"
    text = body.decode()
    assert "<Code>AuthorizationHeaderMalformed</Code>" in text and "<Region>eu-west-1</Region>" in text
    assert ("<Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting "
            "'eu-west-1'</Message>") in text
    # The same request signed for the bucket's region passes the front and moto's signature check (Host kept).
    assert _signed_get(state, front, f"/{eu}?list-type=2", "eu-west-1")[0] == 200
    # boto3 without its region redirector sees the error; with it (the default) it retries in eu-west-1.
    assert error(lambda: boto(state, front, redirect=False).list_objects_v2(Bucket=eu)) \
        == (400, "AuthorizationHeaderMalformed")
    seen: list[int] = []
    c = boto(state, front)
    c.meta.events.register("needs-retry.s3", lambda response, **_kw: seen.append(response[0].status_code)
                           if response else None)
    c.list_objects_v2(Bucket=eu)
    assert seen == [400, 200]
    # Correct requests are forwarded verbatim: put, get, list, delete, in either region's bucket.
    for bucket, region in ((eu, "eu-west-1"), (s3["bucket"], "us-east-1")):
        c = boto(state, front, region=region, redirect=False)
        c.put_object(Bucket=bucket, Key="front/canary.txt", Body=b"dummy-text")
        assert c.get_object(Bucket=bucket, Key="front/canary.txt")["Body"].read() == b"dummy-text"
        assert c.list_objects_v2(Bucket=bucket, Prefix="front/")["KeyCount"] == 1
        c.delete_object(Bucket=bucket, Key="front/canary.txt")
        assert error(lambda: c.head_object(Bucket=bucket, Key="front/canary.txt"))[0] == 404  # noqa: B023
    # A wrong secret through the front is still moto's SignatureDoesNotMatch; a missing bucket NoSuchBucket.
    assert error(lambda: boto(state, front, secret="x" * 40).list_objects_v2(Bucket=s3["bucket"])) \
        == (403, "SignatureDoesNotMatch")
    assert error(lambda: boto(state, front).list_objects_v2(Bucket=storage.MISSING_BUCKET)) == (404, "NoSuchBucket")


def test_tls_endpoint_needs_its_own_ca(labdir: str) -> None:
    from botocore.exceptions import SSLError
    state = load(labdir)
    s3 = state["s3"]
    with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        boto(state, s3["tls_endpoint"]).list_objects_v2(Bucket=s3["bucket"], MaxKeys=1)
    with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):  # the platform's lab CA is another CA
        boto(state, s3["tls_endpoint"], verify=state["tls"]["ca_cert"]).list_objects_v2(Bucket=s3["bucket"])
    assert boto(state, s3["tls_endpoint"], verify=s3["ca_cert"]).list_objects_v2(
        Bucket=s3["bucket"], MaxKeys=1)["KeyCount"] == 1
    # The CA is readable on the lab host at its host_view path.
    on_host = labstate.host_view(state)["s3"]["ca_cert"]
    assert on_host.startswith(labstate.HOST_RUN + "/")
    with open(s3["ca_cert"], encoding="ascii") as fh:
        assert hostns.run(state, ["cat", on_host]).stdout == fh.read()


def test_front_unit_forwards_and_checks_regions() -> None:
    """The front alone, before a stand-in upstream: verbatim forwarding (Host, body) and the credential parse."""
    import http.server
    import threading

    got: list[tuple[str, str, str | None, bytes]] = []

    class Up(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802
            got.append((self.command, self.path, self.headers.get("Host"),
                        self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_a: Any) -> None:
            pass

    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Up)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    (port,), halt = s3front.start(0, None, f"http://127.0.0.1:{up.server_address[1]}")
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/b/k?x=1", data=b"body", method="PUT",
                                     headers={"Host": "example.test:1234"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.read() == b"ok"
        assert got == [("PUT", "/b/k?x=1", "example.test:1234", b"body")]
    finally:
        halt()
        up.shutdown()
    h = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/20260101/eu-west-1/s3/aws4_request, SignedHeaders=host"}
    assert s3front.signed_region(h, "") == "eu-west-1"
    assert s3front.signed_region({}, "X-Amz-Credential=AKIA%2F20260101%2Fap-south-1%2Fs3%2Faws4_request") \
        == "ap-south-1"
    assert s3front.signed_region({}, "") is None and s3front.bucket_of("/b%2Dx/k") == "b-x"


# ------------------------------------------------------------------------------------------------ host unreachable
HOST_PROBE = """
import json, sys, boto3
from botocore.config import Config
s3 = json.load(open(sys.argv[1]))["s3"]
c = boto3.session.Session().client("s3", endpoint_url=sys.argv[2], region_name="us-east-1",
    aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"],
    config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, connect_timeout=2))
try:
    print(json.dumps({"ok": c.list_objects_v2(Bucket=s3["bucket"], MaxKeys=1)["KeyCount"]}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def host_probe(state: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """A boto3 list from inside the lab host (its mounts, its /etc/hosts)."""
    cp = hostns.run(state, [state["host"]["venv_python"], "-c", HOST_PROBE, labstate.HOST_RUN + "/lab.json",
                            endpoint], timeout=60)
    return json.loads(cp.stdout.strip().splitlines()[-1])


def test_host_cannot_reach_the_named_endpoint_the_controller_reaches(labdir: str) -> None:
    state = load(labdir)
    s3 = state["s3"]
    name = s3["host_unreachable_name"]
    assert s3["host_unreachable_endpoint"] == f"http://{name}:{s3['port']}" and name.endswith(".ybalab.test")
    assert socket.gethostbyname(name) == "127.0.0.1"
    assert boto(state, s3["host_unreachable_endpoint"]).list_objects_v2(Bucket=s3["bucket"], MaxKeys=1)["KeyCount"] == 1
    assert hostns.run(state, ["getent", "hosts", name]).stdout.split()[0] == s3["host_unreachable_address"]
    t0 = time.monotonic()
    got = host_probe(state, s3["host_unreachable_endpoint"])
    assert got["error"] == "EndpointConnectionError" and name in got["message"] and time.monotonic() - t0 < 20
    assert host_probe(state, s3["endpoint"]) == {"ok": 1}  # the host reaches S3 by address
    # Nothing else on the host uses the name: localhost and the host's own name resolve as before.
    assert hostns.run(state, ["getent", "hosts", "localhost"]).stdout.split()[0] == "127.0.0.1"


# ------------------------------------------------------------------------------------------------ ybalab storage
# variant -> what boto3 on the controller sees for the canary PUT, with the variant's settings as YBA uses them
# (endpoint AWS_HOST_BASE, SIGNING_REGION, path style, no region redirect): (exception class name, S3 error code)
BOTO3_ON_CONTROLLER = {
    "refused": ("EndpointConnectionError", None),
    "blackhole": ("ReadTimeoutError", None),
    "wrong-keys": ("ClientError", "SignatureDoesNotMatch"),
    "wrong-region": ("ClientError", "AuthorizationHeaderMalformed"),
    "no-bucket": ("ClientError", "NoSuchBucket"),
    "untrusted-ca": ("SSLError", None),
    "host-unreachable": (None, None),  # the controller reaches it; the host does not (test above)
    "read-only": ("ClientError", "AccessDenied"),
    "versioned": (None, None),  # works; the delete leaves a marker (test_versioned_bucket_leaves_a_delete_marker)
    "healthy": (None, None),
}


@pytest.mark.parametrize("variant", storage.VARIANTS)
def test_each_variant_as_boto3_sees_it(labdir: str, variant: str) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    state = load(labdir)
    data = storage.variant_data(state, variant)
    bucket, prefix = s3client.parse_location(data["BACKUP_LOCATION"])
    c = s3client.no_region_redirect(boto3.session.Session().client(
        "s3", endpoint_url=data["AWS_HOST_BASE"], region_name=data["SIGNING_REGION"],
        aws_access_key_id=data["AWS_ACCESS_KEY_ID"], aws_secret_access_key=data["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, connect_timeout=1,
                      read_timeout=1)))
    key = f"{prefix}/canary-{variant}.txt"
    want_class, want_code = BOTO3_ON_CONTROLLER[variant]
    try:
        c.put_object(Bucket=bucket, Key=key, Body=b"dummy-text")
    except ClientError as exc:  # boto3 raises modelled subclasses (NoSuchBucket): the code is what counts
        assert ("ClientError", exc.response["Error"]["Code"]) == (want_class, want_code), exc
    except Exception as exc:  # noqa: BLE001 - the class is the assertion
        assert (type(exc).__name__, None) == (want_class, want_code), exc
    else:
        assert want_class is None
        c.delete_object(Bucket=bucket, Key=key)


# variant -> the message of the simulator's storage validation (field data.BACKUP_LOCATION) on a config edit
def expected_messages(state: dict[str, Any]) -> dict[str, str | None]:
    s3 = state["s3"]
    dead = s3["dead_endpoint"].split("//", 1)[1]
    return {
        "refused": f"Unable to execute HTTP request: Connect to {dead} failed: Connection refused",
        "wrong-keys": "The request signature we calculated does not match the signature you provided.",
        "wrong-region": "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'",
        "no-bucket": f"S3 URI path s3://{storage.MISSING_BUCKET}/northgate doesn't exist",
        "untrusted-ca": "PKIX path building failed",
        "host-unreachable": f"Connect to {s3['host_unreachable_name']}:{s3['port']} failed: Connection refused",
        "read-only": "Access Denied s3://yba-backups/northgate",
        "versioned": None,  # YBA's validation passes: HEAD after the DELETE is a 404 (the delete marker)
        "healthy": None,
    }


def edit_seeded(state: dict[str, Any]) -> tuple[int, Any]:
    """PUT the seeded config back with the data GET shows (masked secrets = unchanged): the simulator validates
    what is stored."""
    api = pclient.Client(state)
    uuid = state["platform"]["storage_config_uuid"]
    status, configs = api.call("GET", "/api/v1/customers/{c}/configs")
    assert status == 200
    cfg = next(c for c in configs if c["configUUID"] == uuid)
    return api.call("PUT", f"/api/v1/customers/{{c}}/configs/{uuid}",
                    {"configName": cfg["configName"], "name": "S3", "type": "STORAGE", "data": cfg["data"]})


def test_storage_variants_reach_the_simulator(labdir: str) -> None:
    state = load(labdir)
    try:
        for variant, message in expected_messages(state).items():
            cp = ybalab(labdir, "storage", variant)
            out = json.loads(cp.stdout)
            state = load(labdir)
            s3 = state["s3"]
            for secret in (s3["secret_key"], s3["readonly_secret_key"], storage.wrong_secret(s3["secret_key"])):
                assert secret not in cp.stdout + cp.stderr
            assert out["variant"] == variant == state["storage_variant"]
            assert out["data"] == storage.masked(storage.variant_data(state, variant))
            status, body = edit_seeded(state)
            if message is None:
                assert status == 200, (variant, body)
            else:
                assert status == 400, (variant, body)
                assert message in body["error"]["data.BACKUP_LOCATION"][0], (variant, body)
        assert json.loads(ybalab(labdir, "storage").stdout)["variant"] == "refused"  # the incident's own
    finally:
        ybalab(labdir, "storage")


def test_platform_trusts_the_s3_ca_once_listed(labdir: str) -> None:
    state = load(labdir)
    try:
        ybalab(labdir, "storage", "untrusted-ca")
        set_platform_keys(labdir, s3_ca_trust=[state["s3"]["ca_cert"]])
        hostns.run(state, ["yba-ctl", "restart", "yb-platform"], timeout=120)
        lifecycle.wait_https(state)
        status, body = edit_seeded(load(labdir))
        assert status == 200, body
    finally:
        set_platform_keys(labdir, s3_ca_trust=[])
        ybalab(labdir, "storage")
        hostns.run(state, ["yba-ctl", "restart", "yb-platform"], timeout=120)
        lifecycle.wait_https(state)


def test_backup_writes_to_the_stored_config_once_repaired(labdir: str) -> None:
    ybalab(labdir, "reset", "healthy")
    state = load(labdir)
    api = pclient.Client(state)
    uuid = state["platform"]["storage_config_uuid"]
    universe = sorted(state["platform"]["universes"].values())[0]
    body = {"storageConfigUUID": uuid, "universeUUID": universe, "backupType": "PGSQL_TABLE_TYPE",
            "keyspaceTableList": [{"keyspace": "yugabyte"}], "timeBeforeDelete": 86400000, "expiryTimeUnit": "DAYS"}
    try:
        ybalab(labdir, "storage", "refused")
        status, err = api.call("POST", "/api/v1/customers/{c}/backups", body)
        assert status == 400 and err["error"] == "Storage config s3-northgate-backups cannot access backup locations"
        ybalab(labdir, "storage", "healthy")  # the repair: the stored config points at the live endpoint
        status, task = api.call("POST", "/api/v1/customers/{c}/backups", body)
        assert status == 200, task
        assert api.wait_task(task["taskUUID"])["status"] == "Success"
        status, page = api.call("POST", "/api/v1/customers/{c}/backups/page", {
            "filter": {"universeUUIDList": [universe]}, "sortBy": "createTime", "direction": "DESC", "offset": 0,
            "limit": 1, "needTotalCount": False})
        newest = page["entities"][0]["commonBackupInfo"]["backupUUID"]
        status, b = api.call("GET", f"/api/v1/customers/{{c}}/backups/{newest}")
        assert status == 200 and b["state"] == "Completed", b
        loc = b["backupInfo"]["storageLocation"]
        bucket, prefix = s3client.parse_location(loc)  # written where the STORED config points
        assert loc.startswith(f"s3://{state['s3']['bucket']}/northgate/univ-{universe}/")
        keys = [o["Key"] for o in boto(state).list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"]]
        assert len(keys) == 3 and all(k.startswith("northgate/") for k in keys)
    finally:
        ybalab(labdir, "reset", "incident")


# ------------------------------------------------------------------------------------------------ simulator units
@pytest.mark.parametrize("value,ok", [
    ("http://127.0.0.1:9000", True), ("https://s3.example.com", True), ("s3.example.com", True),
    ("s3://s3.example.com:8443", True), ("http://s3.example.com:80", False), ("https://s3.example.com:443", False),
    ("s3.example.com:443", False), ("http://s3.example.com/path", False), ("http://s3.example.com/", False),
    # YBA checks only the port once the URI is more than scheme://host: a path after port 9000 passes
    ("http://s3.example.com:9000/", True), ("http://127.0.0.1:9000/backups", True),
    ("ftp://s3.example.com", False), ("http://", False), ("not a url", False),
])
def test_aws_host_base_is_checked_as_yba_does(value: str, ok: bool) -> None:
    data = {"BACKUP_LOCATION": "s3://b/p", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK",
            "AWS_HOST_BASE": value}
    if ok:
        storage_check.check_fields(data)
    else:
        with pytest.raises(storage_check.StorageInvalid) as ei:
            storage_check.check_fields(data)
        assert ei.value.errors == {"data.AWS_HOST_BASE": [f"Invalid field value '{value}'."]}
