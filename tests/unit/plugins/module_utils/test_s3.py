# Unit tests of _s3 (YBA's S3 config rules and the canary probe) against a real moto S3 server that checks keys,
# a port nobody listens on, a listener that never answers, a TLS endpoint with an untrusted certificate, and an
# endpoint that answers like AWS for a request signed for the wrong region.
from __future__ import annotations

import datetime
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _s3


def settings(s3, user="yba", **over):
    data = {"BACKUP_LOCATION": "s3://yba-backups/northgate", "AWS_HOST_BASE": s3["url"], "PATH_STYLE_ACCESS": True,
            "SIGNING_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": s3["keys"][user]["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": s3["keys"][user]["SecretAccessKey"]}
    data.update(over)
    return data


def no_canaries(s3, bucket="yba-backups"):
    listed = s3["admin"].list_object_versions(Bucket=bucket, Prefix="northgate/" + _s3.CANARY_DIR)
    return not listed.get("Versions") and not listed.get("DeleteMarkers")


def steps(result):
    return [(s["name"], s["ok"]) for s in result["locations"][0]["steps"]]


# ---------------------------------------------------------------------------------------------- the rules

@pytest.mark.parametrize("value, problem", [
    ("", None), ("s3.example.com", None), ("https://s3.example.com", None), ("http://10.0.0.5:9000", None),
    ("s3://minio.internal:9000", None), ("minio.internal:9000", None), ("https://[::1]:9000", None),
    ("https://s3.example.com/", "has a path"), ("https://s3.example.com/bucket", "has a path"),
    ("https://s3.example.com:9000/bucket", None),  # YBA checks the path only when no other port is given
    ("https://s3.example.com:443", "names port 443 explicitly"), ("http://s3.example.com:80", "names port 80"),
    ("ftp://s3.example.com", "not a URL YBA accepts"), ("not a url", "has a space"),
    ("https://", "not a URL YBA accepts"), ("http://host:99999", "invalid port"), ("https://bad_host", "not a URL"),
])
def test_endpoint_rules_follow_yba(value, problem):
    got = _s3.endpoint_problem(value)
    assert (got is None) if problem is None else (problem in got), got


def test_data_problems_name_every_rule():
    assert _s3.data_problems({"BACKUP_LOCATION": "s3://b/p", "AWS_ACCESS_KEY_ID": "a",
                              "AWS_SECRET_ACCESS_KEY": "s"}) == []
    assert _s3.data_problems({"BACKUP_LOCATION": "s3://b/p", "IAM_INSTANCE_PROFILE": "true"}) == []
    problems = _s3.data_problems({"BACKUP_LOCATION": "b/p", "AWS_HOST_BASE": "https://h:443",
                                  "REGION_LOCATIONS": [{"LOCATION": "s3://x"}, {"REGION": "eu", "LOCATION": "gs://x"}]})
    text = " | ".join(problems)
    assert "must look like s3://bucket/prefix" in text and "names port 443" in text
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY required unless IAM_INSTANCE_PROFILE" in text
    assert "REGION_LOCATIONS[0] needs a REGION" in text and "REGION_LOCATIONS[1].LOCATION" in text


def test_signing_region_as_yba_chooses_it():
    assert _s3.signing_region({"SIGNING_REGION": "eu-west-1"}, "https://minio:9000") == "eu-west-1"
    assert _s3.signing_region({}, "s3.ap-south-1.amazonaws.com") == "ap-south-1"
    assert _s3.signing_region({}, "s3.dualstack.eu-central-1.amazonaws.com") == "eu-central-1"
    # AWSUtil's pattern deliberately does not read 'website-us-west-2' as a region
    assert _s3.signing_region({}, "https://s3-website-us-west-2.amazonaws.com") == "us-east-1"
    assert _s3.signing_region({}, None) == "us-east-1"
    assert _s3.signing_region({}, "https://minio:9000") == "us-east-1"


def test_targets_cover_region_locations():
    got = _s3.targets({"BACKUP_LOCATION": "s3://a/p", "AWS_HOST_BASE": "h1", "SIGNING_REGION": "us-east-1",
                       "REGION_LOCATIONS": [{"REGION": "eu", "LOCATION": "s3://b/q", "AWS_HOST_BASE": "h2",
                                             "SIGNING_REGION": "eu-west-1"}]})
    assert [(x["location"], x["host_base"], x["signing_region"]) for x in got] == [
        ("s3://a/p", "h1", "us-east-1"), ("s3://b/q", "h2", "eu-west-1")]


def test_bad_settings_send_nothing():
    result = _s3.probe({"BACKUP_LOCATION": "s3://b/p", "AWS_HOST_BASE": "https://h:443/x"})
    assert result["error_class"] == "invalid_config" and result["locations"] == []
    assert result["failed_step"] == "settings"
    with pytest.raises(ValueError):
        _s3.probe({"BACKUP_LOCATION": "s3://b/p"}, mode="bogus")


# ------------------------------------------------------------------------------------ against real S3

def test_canary_round_trip_is_yba_sequence_and_leaves_nothing(s3):
    result = _s3.probe(settings(s3))
    assert result["ok"], json.dumps(result)
    assert steps(result) == [("dns", True), ("connect", True), ("put", True), ("get", True), ("list", True),
                             ("delete", True), ("confirm_gone", True)]
    loc = result["locations"][0]
    assert loc["canary_key"].startswith("northgate/.yba-remediation-canary/")
    assert loc["canary_removed"] is True and loc["versioned"] is False
    assert all(isinstance(s["latency_ms"], float) for s in loc["steps"])
    assert "ok in" in result["summary"]
    assert no_canaries(s3)


def test_read_mode_writes_nothing(s3):
    before = s3["admin"].list_object_versions(Bucket="yba-backups").get("Versions", [])
    result = _s3.probe(settings(s3), mode="read")
    assert result["ok"] and steps(result)[-1] == ("list", True)
    assert "canary write is skipped" in result["summary"]
    assert s3["admin"].list_object_versions(Bucket="yba-backups").get("Versions", []) == before


def test_reach_needs_no_credentials(s3):
    data = {k: v for k, v in settings(s3).items() if "KEY" not in k}
    result = _s3.probe(data, mode="reach")
    assert result["ok"] and [n for n, _ok in steps(result)] == ["dns", "connect", "http"]
    # the canary needs them: the network steps pass, then the credentials step says what is missing
    result = _s3.probe(data)
    assert result["error_class"] == "no_credentials" and result["failed_step"] == "credentials"
    assert "give them as credentials" in result["error"]


@pytest.mark.parametrize("over, error_class, step, text", [
    ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "signature", "put", "SignatureDoesNotMatch (HTTP 403)"),
    ({"AWS_ACCESS_KEY_ID": "AKIANOTKNOWN0000"}, "invalid_access_key", "put", "InvalidAccessKeyId (HTTP 403)"),
    ({"BACKUP_LOCATION": "s3://no-such-bucket/x"}, "no_such_bucket", "put", "NoSuchBucket (HTTP 404)"),
])
def test_s3_errors_are_classified(s3, over, error_class, step, text):
    result = _s3.probe(settings(s3, **over))
    assert (result["ok"], result["error_class"], result["failed_step"]) == (False, error_class, step)
    assert text in result["error"] and text in result["summary"]
    assert not over.get("AWS_SECRET_ACCESS_KEY") or over["AWS_SECRET_ACCESS_KEY"] not in json.dumps(result)


def test_read_only_keys(s3):
    result = _s3.probe(settings(s3, user="reader"))
    assert result["error_class"] == "read_only" and result["failed_step"] == "put"
    assert "AccessDenied (HTTP 403)" in result["error"] and "read-only" in result["error"]
    assert _s3.probe(settings(s3, user="reader"), mode="read")["ok"]


def test_versioned_bucket_keeps_no_canary_version(s3):
    result = _s3.probe(settings(s3, BACKUP_LOCATION="s3://yba-versioned/northgate"))
    assert result["ok"], result
    loc = result["locations"][0]
    assert loc["versioned"] is True and loc["canary_removed"] is True
    assert "delete marker" in loc["warnings"][0]
    assert no_canaries(s3, "yba-versioned")


def test_refused_endpoint():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nobody listens there any more
    result = _s3.probe({"BACKUP_LOCATION": "s3://b/p", "AWS_HOST_BASE": "http://127.0.0.1:%d" % port})
    assert (result["error_class"], result["failed_step"]) == ("refused", "connect")
    assert "refused the connection" in result["error"]


def test_unresolvable_endpoint():
    result = _s3.probe({"BACKUP_LOCATION": "s3://b/p", "AWS_HOST_BASE": "http://s3.no-such-name.invalid:9000"})
    assert (result["error_class"], result["failed_step"]) == ("dns", "dns")
    assert "does not resolve" in result["error"]


def test_black_holed_endpoint_times_out_with_its_step():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # the kernel completes handshakes; nobody ever reads or answers
    try:
        url = "http://127.0.0.1:%d" % server.getsockname()[1]
        t0 = time.monotonic()
        result = _s3.probe({"BACKUP_LOCATION": "s3://b/p", "AWS_HOST_BASE": url}, mode="reach", timeout=0.5)
        assert (result["error_class"], result["failed_step"]) == ("timeout", "http")
        assert "accepts connections but sent no HTTP answer" in result["error"]
        result = _s3.probe({"BACKUP_LOCATION": "s3://b/p", "AWS_HOST_BASE": url, "AWS_ACCESS_KEY_ID": "AKIAX",
                            "AWS_SECRET_ACCESS_KEY": "s"}, timeout=0.5)
        assert (result["error_class"], result["failed_step"]) == ("timeout", "put")
        assert time.monotonic() - t0 < 10
    finally:
        server.close()


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "s3 test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class _Answer(http.server.BaseHTTPRequestHandler):
    """Answers every request as AWS answers one signed for the wrong region (400 AuthorizationHeaderMalformed)."""
    body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>The '
            b"authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message>"
            b"<Region>eu-west-1</Region><RequestId>R</RequestId></Error>")

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(400)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def https_server(tmp_path):
    cert, key = _self_signed(tmp_path)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": "https://127.0.0.1:%d" % httpd.server_address[1], "ca": cert}
    httpd.shutdown()
    httpd.server_close()


def test_untrusted_ca_then_trusted_ca_then_wrong_region(https_server):
    data = {"BACKUP_LOCATION": "s3://eu-bucket/p", "AWS_HOST_BASE": https_server["url"], "PATH_STYLE_ACCESS": True,
            "SIGNING_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
    result = _s3.probe(data, timeout=3)
    assert (result["error_class"], result["failed_step"]) == ("tls", "tls")
    assert "certificate not trusted" in result["error"] and "give the CA" in result["error"]
    result = _s3.probe(data, timeout=3, ca_path=https_server["ca"])
    assert (result["error_class"], result["failed_step"]) == ("wrong_region", "put")
    assert "AuthorizationHeaderMalformed (HTTP 400)" in result["error"] and "the bucket is in eu-west-1" in result["error"]
    result = _s3.probe(data, timeout=3, validate_certs=False, mode="reach")
    assert result["ok"] and steps(result)[-1] == ("http", True)


def test_classify_maps_each_code():
    from botocore.exceptions import ClientError

    def err(code, status):
        return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                           "PutObject")
    assert _s3.classify(err("PermanentRedirect", 301))[0] == "wrong_region"
    assert _s3.classify(err("AccessDenied", 403))[0] == "access_denied"
    assert _s3.classify(err("InternalError", 500)) == ("http_error", "InternalError (HTTP 500): m")
    assert _s3.classify(ConnectionRefusedError(111, "Connection refused"))[0] == "refused"
    assert _s3.classify(socket.gaierror(-2, "Name or service not known"))[0] == "dns"


def test_reach_works_without_boto3(s3):
    """mode reach is what backup_info runs on a host with the system python only: no boto3 there."""
    code = ("import sys, json; sys.modules['boto3'] = None; sys.modules['botocore'] = None\n"
            "sys.path.insert(0, %r)\n"
            "import _s3\n"
            "assert not _s3.HAS_BOTO3\n"
            "print(json.dumps(_s3.probe({'BACKUP_LOCATION': 's3://yba-backups/p', 'AWS_HOST_BASE': %r}, mode='reach')))"
            % (os.path.dirname(_s3.__file__), s3["url"]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    result = json.loads(out.stdout)
    assert result["ok"] and [st["name"] for st in result["locations"][0]["steps"]] == ["dns", "connect", "http"]
