# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: YBA's S3 storage-config rules and an end-to-end canary probe with boto3.
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What YBA does with an S3 storage config, from where this code runs.

The client follows YBA's ``AWSUtil.createS3Client`` (managed/src/main/java/com/yugabyte/yw/common/AWSUtil.java):
the endpoint is ``AWS_HOST_BASE`` (AWS's own when empty), path-style addressing iff ``PATH_STYLE_ACCESS``, the
signing region ``SIGNING_REGION``, else the region in a standard ``s3.<region>.amazonaws.com`` host base, else
``us-east-1`` (``AWS_DEFAULT_REGION``); static keys, or the instance's own credentials when
``IAM_INSTANCE_PROFILE``. The probe repeats YBA's validation (``AWSUtil.validateOnBucket``): put a canary under the
location's prefix, get it and compare the bytes, list it, delete it, and confirm it is gone; before those, DNS,
TCP and TLS, each step timed and each failure sorted into one error class.
"""
from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
import typing as t
import uuid
from urllib.parse import urlsplit

try:
    import boto3
    import botocore.exceptions as bex
    from botocore.config import Config
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None
except ImportError as _err:  # pragma: no cover - depends on the host
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR = _err

URL_SCHEMES = ("http", "https", "s3")  # CustomerConfigStorageS3Validator.S3_URL_SCHEMES
DEFAULT_REGION = "us-east-1"  # AWSUtil.AWS_DEFAULT_REGION
# AWSUtil.AWS_HOST_BASE_REGION_PATTERN: the region of a standard host base (s3.eu-west-1.amazonaws.com).
_HOST_BASE_REGION = re.compile(r"^s3[.-](?:[a-z0-9-]+[.])*([a-z]{2}-[a-z-]+-\d+)[.]amazonaws[.]com$")
# a host UrlValidator takes: a domain name (local names allowed) or an IPv4/IPv6 address
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?)*\.?$|^[0-9a-fA-F:.]+$")
CANARY_DIR = ".yba-remediation-canary"
CANARY_BODY = b"yba-remediation storage canary\n"
WRITE_STEPS = ("put", "get", "list", "delete", "confirm_gone")
# How far a probe goes: the canary round trip (YBA's validation), a read-only listing (check mode), or reach only
# (DNS, TCP, TLS and one unsigned HEAD: no credentials, no boto3 needed).
MODES = ("canary", "read", "reach")

# Error classes, one per cause an operator fixes differently.
ERROR_CLASSES = {
    "invalid_config": "the settings break one of YBA's rules",
    "dns": "the endpoint's host name does not resolve",
    "refused": "nothing listens on the endpoint's port",
    "unreachable": "no route to the endpoint",
    "timeout": "the endpoint does not answer in time",
    "tls": "the TLS handshake or the certificate check failed",
    "no_credentials": "no credentials to sign with",
    "invalid_access_key": "the access key id is unknown to the endpoint",
    "signature": "the secret key does not match the access key (SignatureDoesNotMatch)",
    "access_denied": "the credentials may not use the bucket",
    "read_only": "the credentials may read the bucket but not write to it",
    "no_such_bucket": "the bucket does not exist",
    "wrong_region": "the bucket lives in another region than the one requests are signed for",
    "data_mismatch": "the object read back differs from the one written",
    "not_listed": "the object written is missing from the listing",
    "still_present": "the object deleted is still there",
    "http_error": "another S3 error",
    "stored_keys_differ": "YBA holds other keys than the ones given (compared by YBA's mask; storage_probe)",
}


def truthy(value: t.Any) -> bool:
    """YBA stores config data as sent (the UI sends booleans, Terraform the strings "true"/"false")."""
    return value is True or str(value).strip().lower() == "true"


def parse_location(location: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix") (AWSUtil.getSplitLocationValue)."""
    rest = location[len("s3://"):] if location.startswith("s3://") else location
    bucket, _slash, prefix = rest.partition("/")
    return bucket, prefix.strip("/")


def endpoint_problem(value: t.Any, field: str = "AWS_HOST_BASE") -> str | None:
    """YBA's CustomerConfigStorageValidator.validateUrl(validatePort=true) on a host base
    (managed/src/main/java/com/yugabyte/yw/models/configs/validators/CustomerConfigStorageValidator.java): the value
    (https:// put in front when it has no host) must be scheme://host, or scheme://host:port with a port other
    than 80 and 443 (then anything after it passes, as in YBA); scheme http, https or s3 and a valid host."""
    text = str(value)
    if not text:
        return None
    if any(ch.isspace() for ch in text):
        return "%s %r is not a URL YBA accepts (it has a space)" % (field, text)
    parts = urlsplit(text)
    if not parts.hostname and "://" not in text:
        text = "https://" + text
        parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        return "%s %r has an invalid port" % (field, str(value))
    base = "%s://%s" % (parts.scheme, parts.hostname or "")
    if parts.scheme not in URL_SCHEMES or not parts.hostname or not _HOST.match(parts.hostname):
        return "%s %r is not a URL YBA accepts (scheme http, https or s3 and a host)" % (field, str(value))
    if text != base and port in (None, 80, 443):
        if port is None:
            return "%s %r has a path; YBA takes scheme://host or scheme://host:port only" % (field, str(value))
        return "%s %r names port %d explicitly; YBA rejects :80 and :443, leave the port out" % (
            field, str(value), port)
    return None


def location_problem(value: t.Any, field: str = "BACKUP_LOCATION") -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "%s is required" % field
    if not value.startswith("s3://") or not parse_location(value)[0]:
        return "%s %r must look like s3://bucket/prefix" % (field, value)
    return None


def data_problems(data: dict[str, t.Any], require_credentials: bool = True) -> list[str]:
    """What YBA's S3 validator rejects before it reaches the bucket (CustomerConfigStorageS3Validator.validate)."""
    out = []
    for problem in (location_problem(data.get("BACKUP_LOCATION")), endpoint_problem(data.get("AWS_HOST_BASE") or "")):
        if problem:
            out.append(problem)
    if require_credentials and not truthy(data.get("IAM_INSTANCE_PROFILE")):
        missing = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not data.get(k)]
        if missing:
            out.append("%s required unless IAM_INSTANCE_PROFILE is true" % " and ".join(missing))
    regions = data.get("REGION_LOCATIONS") or []
    if not isinstance(regions, list):
        out.append("REGION_LOCATIONS must be a list")
        regions = []
    for i, item in enumerate(regions):
        if not isinstance(item, dict) or not item.get("REGION"):
            out.append("REGION_LOCATIONS[%d] needs a REGION" % i)
            continue
        for problem in (location_problem(item.get("LOCATION"), "REGION_LOCATIONS[%d].LOCATION" % i),
                        endpoint_problem(item.get("AWS_HOST_BASE") or "", "REGION_LOCATIONS[%d].AWS_HOST_BASE" % i)):
            if problem:
                out.append(problem)
    return out


def endpoint_url(host_base: str | None) -> str | None:
    """The endpoint a host base names, as a URL (none: AWS's own, chosen by the SDK)."""
    text = (host_base or "").strip()
    if not text:
        return None
    if text.startswith("s3://"):
        text = "https://" + text[len("s3://"):]
    elif "://" not in text:
        text = "https://" + text
    return text.rstrip("/")


def signing_region(data: dict[str, t.Any], host_base: str | None = None) -> str:
    """SIGNING_REGION, else the region in a standard AWS host base, else us-east-1 (AWSUtil)."""
    if data.get("SIGNING_REGION"):
        return str(data["SIGNING_REGION"])
    host = urlsplit(endpoint_url(host_base) or "https://s3.amazonaws.com").hostname or ""
    match = _HOST_BASE_REGION.match(host)
    return match.group(1) if match else DEFAULT_REGION


def targets(data: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """Every location YBA validates: BACKUP_LOCATION and each REGION_LOCATIONS entry, with its own host base and
    signing region when the entry sets them (CustomerConfigStorageS3Data.RegionLocations)."""
    base = data.get("AWS_HOST_BASE") or None
    out = [{"region": None, "location": data.get("BACKUP_LOCATION") or "", "host_base": base,
            "signing_region": signing_region(data, base)}]
    for item in data.get("REGION_LOCATIONS") or []:
        if isinstance(item, dict) and item.get("LOCATION"):
            host = item.get("AWS_HOST_BASE") or base
            region = item.get("SIGNING_REGION") or signing_region(data, host)
            out.append({"region": item.get("REGION"), "location": item["LOCATION"], "host_base": host,
                        "signing_region": region})
    return out


# ------------------------------------------------------------------------------------------- the probe

class _StepFailed(Exception):
    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


def _oneline(text: t.Any, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def _socket_error_class(err: BaseException) -> str:
    if isinstance(err, socket.gaierror):
        return "dns"
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(err, ConnectionRefusedError):
        return "refused"
    if isinstance(err, ssl.SSLError):
        return "tls"
    return "unreachable"


def classify(err: BaseException) -> tuple[str, str]:
    """(error class, one-line message) of any failure boto3 or a socket raises."""
    if HAS_BOTO3 and isinstance(err, bex.ClientError):
        error = err.response.get("Error", {}) or {}
        meta = err.response.get("ResponseMetadata", {}) or {}
        code = str(error.get("Code") or meta.get("HTTPStatusCode") or "")
        message = _oneline(error.get("Message") or code)
        status = meta.get("HTTPStatusCode")
        region = error.get("Region") or (meta.get("HTTPHeaders") or {}).get("x-amz-bucket-region")
        text = "%s (HTTP %s): %s" % (code, status, message) if message != code else "%s (HTTP %s)" % (code, status)
        if code in ("AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException",
                    "301") or status == 301:
            return "wrong_region", text + ("; the bucket is in %s" % region if region else "")
        return {"SignatureDoesNotMatch": "signature", "InvalidAccessKeyId": "invalid_access_key",
                "AccessDenied": "access_denied", "AllAccessDisabled": "access_denied",
                "NoSuchBucket": "no_such_bucket", "InvalidToken": "invalid_access_key",
                "ExpiredToken": "invalid_access_key"}.get(code, "http_error"), text
    if HAS_BOTO3:
        if isinstance(err, bex.NoCredentialsError):
            return "no_credentials", "no credentials: set the keys, or IAM_INSTANCE_PROFILE where the host has a role"
        if isinstance(err, bex.SSLError):
            return "tls", _oneline(err)
        if isinstance(err, (bex.ConnectTimeoutError, bex.ReadTimeoutError)):
            return "timeout", _oneline(err)
        if isinstance(err, bex.EndpointConnectionError):
            cause = getattr(err, "kwargs", {}).get("error")
            text = _oneline(err)
            if "Name or service not known" in str(cause) or "nodename nor servname" in str(cause):
                return "dns", text
            if "Connection refused" in str(cause):
                return "refused", text
            return "unreachable", text
    if isinstance(err, OSError):
        return _socket_error_class(err), _oneline(err)
    return "http_error", _oneline("%s: %s" % (type(err).__name__, err))


def _tls_context(ca_path: str | None, validate_certs: bool) -> ssl.SSLContext:
    if not validate_certs:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca_path:
        return ssl.create_default_context(cafile=ca_path)
    # boto3 verifies with botocore's bundle (certifi), not the system store: check the same bundle.
    try:
        from botocore.httpsession import get_cert_path
        return ssl.create_default_context(cafile=get_cert_path(True))
    except Exception:  # noqa: BLE001 - fall back to the system store
        return ssl.create_default_context()


def _reach(url: str | None, timeout: float, ca_path: str | None, validate_certs: bool,
           step: t.Callable[..., t.Any], http_path: str | None = None) -> t.Any:
    """DNS, TCP and (https) TLS to the endpoint, then with ``http_path`` one unsigned HEAD (any HTTP answer, even
    403, proves an S3 server answers), each as a step; raises _StepFailed on the first failure."""
    parts = urlsplit(url or "https://s3.amazonaws.com")
    host = parts.hostname or ""
    port = parts.port or (80 if parts.scheme == "http" else 443)

    def resolve() -> list[t.Any]:
        try:
            return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as err:
            raise _StepFailed("dns", "%s does not resolve: %s" % (host, err.strerror or err)) from None

    addresses = step("dns", resolve)
    family, _type, proto, _name, address = addresses[0]

    def connect() -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as err:
            sock.close()
            cls = _socket_error_class(err)
            what = {"timeout": "did not accept a connection within %.1f s" % timeout,
                    "refused": "refused the connection"}.get(cls, "is unreachable: %s" % (err.strerror or err))
            raise _StepFailed(cls, "%s:%d (%s) %s" % (host, port, address[0], what)) from None
        return sock

    sock = step("connect", connect)
    ctx = _tls_context(ca_path, validate_certs) if parts.scheme != "http" else None
    try:
        if ctx is not None:
            def handshake() -> None:
                try:
                    ctx.wrap_socket(sock, server_hostname=host).close()
                except ssl.SSLCertVerificationError as err:
                    raise _StepFailed("tls", "%s:%d: certificate not trusted: %s%s" % (
                        host, port, err.verify_message or err.reason,
                        "" if ca_path else " (give the CA that signed it)")) from None
                except (ssl.SSLError, OSError) as err:
                    cls = "timeout" if isinstance(err, (socket.timeout, TimeoutError)) else "tls"
                    raise _StepFailed(cls, "%s:%d: TLS handshake failed: %s" % (host, port, _oneline(err))) from None
            step("tls", handshake)
    finally:
        sock.close()
    if http_path is None:
        return

    def answer() -> int:
        conn: http.client.HTTPConnection
        if ctx is None:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        else:
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
        try:
            conn.request("HEAD", http_path)
            return conn.getresponse().status
        except (socket.timeout, TimeoutError):
            raise _StepFailed("timeout", "%s:%d accepts connections but sent no HTTP answer within %.1f s"
                              % (host, port, timeout)) from None
        except (OSError, http.client.HTTPException) as err:
            raise _StepFailed(_socket_error_class(err) if isinstance(err, OSError) else "http_error",
                              "%s:%d: no HTTP answer: %s" % (host, port, _oneline(err))) from None
        finally:
            conn.close()
    return step("http", answer)


_SESSION: list[t.Any] = []


def _session() -> t.Any:
    """One boto3 session per process: a client from it reuses the loaded service model (creating a session per
    client costs most of a probe's time)."""
    if not _SESSION:
        _SESSION.append(boto3.session.Session())
    return _SESSION[0]


def s3_client(target: dict[str, t.Any], data: dict[str, t.Any], timeout: float, attempts: int,
              ca_path: str | None, validate_certs: bool) -> t.Any:
    """A boto3 client with the settings YBA's own client uses for this location."""
    cfg = Config(connect_timeout=timeout, read_timeout=timeout, signature_version="s3v4",
                 region_name=target["signing_region"],
                 retries={"total_max_attempts": max(1, attempts), "mode": "standard"},
                 s3={"addressing_style": "path" if truthy(data.get("PATH_STYLE_ACCESS")) else "auto"})
    keys: dict[str, t.Any] = {}
    if not truthy(data.get("IAM_INSTANCE_PROFILE")):
        keys = {"aws_access_key_id": data.get("AWS_ACCESS_KEY_ID") or None,
                "aws_secret_access_key": data.get("AWS_SECRET_ACCESS_KEY") or None}
    verify: t.Any = (ca_path or True) if validate_certs else False
    client = _session().client("s3", endpoint_url=endpoint_url(target["host_base"]), config=cfg, verify=verify,
                               **keys)
    if target["host_base"]:
        # boto3 would retry a request signed for the wrong region in the bucket's own region and hide the error;
        # YBA's client does not follow it with a custom endpoint (the symptom SIGNING_REGION exists for,
        # yugabyte/yugabyte-db PR #29524): keep the 400 AuthorizationHeaderMalformed an error
        client.meta.events.register("before-call.s3", _no_region_redirect)
    return client


def _no_region_redirect(params: dict[str, t.Any], **_kw: t.Any) -> None:
    params.setdefault("context", {}).setdefault("s3_redirect", {})["redirected"] = True


def probe_location(data: dict[str, t.Any], target: dict[str, t.Any], mode: str = "canary", timeout: float = 10.0,
                   attempts: int = 1, ca_path: str | None = None, validate_certs: bool = True) -> dict[str, t.Any]:
    """Probe one location as far as ``mode`` goes; never raises for an S3 or network failure (it is in the
    result)."""
    bucket, prefix = parse_location(target["location"])
    url = endpoint_url(target["host_base"])
    result: dict[str, t.Any] = {
        "location": target["location"], "region": target["region"], "bucket": bucket, "prefix": prefix,
        "endpoint": url or "(AWS default)", "addressing_style": "path" if truthy(data.get("PATH_STYLE_ACCESS"))
        else "auto", "signing_region": target["signing_region"],
        "credentials": "iam" if truthy(data.get("IAM_INSTANCE_PROFILE")) else "keys",
        "ok": False, "failed_step": None, "error_class": None, "error": None, "steps": [],
        "mode": mode, "canary_key": None, "canary_removed": None, "versioned": False,
        "warnings": [], "latency_ms": None}
    started = time.monotonic()

    def step(name: str, func: t.Callable[[], t.Any]) -> t.Any:
        t0 = time.monotonic()
        entry: dict[str, t.Any] = {"name": name, "ok": False, "latency_ms": None, "error_class": None, "error": None}
        result["steps"].append(entry)
        try:
            value = func()
        except _StepFailed as err:
            entry.update(error_class=err.error_class, error=err.message)
            raise
        except Exception as err:  # noqa: BLE001 - every failure is sorted into a class and reported
            cls, message = classify(err)
            entry.update(error_class=cls, error=message)
            raise _StepFailed(cls, message) from None
        finally:
            entry["latency_ms"] = round((time.monotonic() - t0) * 1000.0, 1)
        entry["ok"] = True
        return value

    s3 = None
    key = None
    deleted: dict[str, t.Any] = {}
    try:
        _reach(url, timeout, ca_path, validate_certs, step, http_path="/" + bucket if mode == "reach" else None)
        if mode == "reach":
            result["ok"] = True
            return result
        if result["credentials"] == "keys" and not (data.get("AWS_ACCESS_KEY_ID") and data.get("AWS_SECRET_ACCESS_KEY")):
            def no_keys() -> None:
                raise _StepFailed("no_credentials", "no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY to sign with (YBA masks "
                                  "them in its answers: give them as credentials) and IAM_INSTANCE_PROFILE is off")
            step("credentials", no_keys)
        s3 = s3_client(target, data, timeout, attempts, ca_path, validate_certs)
        if mode == "read":
            step("list", lambda: s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1))
        else:
            key = "/".join(p for p in (prefix, CANARY_DIR, "%s.txt" % uuid.uuid4()) if p)
            result["canary_key"] = key
            try:
                step("put", lambda: s3.put_object(Bucket=bucket, Key=key, Body=CANARY_BODY))
            except _StepFailed as err:
                key = None
                if err.error_class == "access_denied" and _can_list(s3, bucket, prefix):
                    result["steps"][-1]["error_class"] = "read_only"
                    raise _StepFailed("read_only", err.message + "; listing works: the credentials are read-only") \
                        from None
                raise

            def get() -> None:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                if body != CANARY_BODY:
                    raise _StepFailed("data_mismatch", "read back %d bytes that differ from the %d written"
                                      % (len(body), len(CANARY_BODY)))
            step("get", get)

            def listed() -> None:
                keys = [o.get("Key") for o in s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])]
                if key not in keys:
                    raise _StepFailed("not_listed", "ListObjectsV2 under %s does not show the canary" % key)
            step("list", listed)
            deleted.update(step("delete", lambda: s3.delete_object(Bucket=bucket, Key=key)) or {})

            def gone() -> None:
                try:
                    s3.head_object(Bucket=bucket, Key=key)
                except bex.ClientError as err:
                    if (err.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") == 404:
                        return
                    raise
                raise _StepFailed("still_present", "the canary %s is still there after its delete" % key)
            step("confirm_gone", gone)
        result["ok"] = True
    except _StepFailed as err:
        failed = [s for s in result["steps"] if s.get("error_class")]
        result.update(failed_step=failed[-1]["name"] if failed else None, error_class=err.error_class,
                      error=err.message)
    finally:
        if s3 is not None and key is not None:
            _remove_canary(s3, bucket, key, result, deleted)
        result["latency_ms"] = round((time.monotonic() - started) * 1000.0, 1)
    return result


def _can_list(s3: t.Any, bucket: str, prefix: str) -> bool:
    try:
        s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        return True
    except Exception:  # noqa: BLE001 - only asks whether reading works
        return False


def _remove_canary(s3: t.Any, bucket: str, key: str, result: dict[str, t.Any], deleted: dict[str, t.Any]) -> None:
    """The canary never stays. ``deleted`` is the answer of its delete: gone for good unless the bucket keeps
    versions (the answer names a delete marker or a version), then every version and marker goes by version id."""
    if result["ok"] and not (deleted.get("DeleteMarker") or deleted.get("VersionId") not in (None, "null")):
        result["canary_removed"] = True
        return
    try:
        s3.delete_object(Bucket=bucket, Key=key)  # a probe that failed half way may have left it
        listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    except Exception as err:  # noqa: BLE001 - not every S3 lets us list versions
        result["canary_removed"] = result["ok"]
        result["warnings"].append("could not check the canary %s is gone: %s" % (key, classify(err)[1]))
        return
    leftovers = [(v["Key"], v.get("VersionId")) for group in ("Versions", "DeleteMarkers")
                 for v in listed.get(group, []) if v.get("Key") == key]
    versioned = any(vid not in (None, "null") for _k, vid in leftovers)
    result["versioned"] = versioned
    if versioned:
        result["warnings"].append("the bucket keeps versions: the canary's delete left a delete marker; its "
                                  "versions are removed by version id")
    failed = []
    for k, vid in leftovers:
        try:
            s3.delete_object(Bucket=bucket, Key=k, **({"VersionId": vid} if vid and vid != "null" else {}))
        except Exception as err:  # noqa: BLE001 - reported
            failed.append(classify(err)[1])
    result["canary_removed"] = not failed
    if failed:
        result["warnings"].append("the canary %s could not be removed completely: %s" % (key, failed[0]))


def probe(data: dict[str, t.Any], mode: str = "canary", timeout: float = 10.0, attempts: int = 1,
          ca_path: str | None = None, validate_certs: bool = True) -> dict[str, t.Any]:
    """Probe every location of an S3 config's data (YBA field names, secrets included) as far as ``mode`` goes.

    Returns ``{ok, mode, failed_step, error_class, error, summary, locations: [probe_location results]}``; bad
    settings give ``error_class: invalid_config`` without any network traffic. Nothing in it is secret."""
    if mode not in MODES:
        raise ValueError("mode must be one of %s" % ", ".join(MODES))
    problems = data_problems(data, require_credentials=False)
    if problems:
        return {"ok": False, "mode": mode, "failed_step": "settings", "error_class": "invalid_config",
                "error": "; ".join(problems), "summary": "invalid settings: " + "; ".join(problems), "locations": []}
    results = [probe_location(data, target, mode=mode, timeout=timeout, attempts=attempts, ca_path=ca_path,
                              validate_certs=validate_certs) for target in targets(data)]
    bad = next((r for r in results if not r["ok"]), None)
    return {"ok": bad is None, "mode": mode, "failed_step": bad["failed_step"] if bad else None,
            "error_class": bad["error_class"] if bad else None, "error": bad["error"] if bad else None,
            "summary": summary(bad or results[0]), "locations": results}


def summary(result: dict[str, t.Any]) -> str:
    """One line for a location's probe: what worked, or which step failed how."""
    where = "%s via %s" % (result["location"], result["endpoint"])
    if result["ok"]:
        done = [s["name"] for s in result["steps"] if s.get("ok")]
        return "%s: %s ok in %s ms%s" % (where, "/".join(done), result["latency_ms"], {
            "read": " (read-only: the canary write is skipped)",
            "reach": " (reach only: credentials and bucket not checked)"}.get(result["mode"], ""))
    return "%s: %s failed (%s): %s" % (where, result["failed_step"], result["error_class"], result["error"])
