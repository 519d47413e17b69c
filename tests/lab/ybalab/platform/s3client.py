"""The simulated platform's one S3 client factory, shared by the synchronous storage validation
(storage_check.py) and the tasks (tasks.py: backups, deletes, the GC's storage checks).

Follows ``AWSUtil.createS3Client`` (API-CAPABILITIES 3.2): static keys; path-style access when the config asks for
it (and always with an ``AWS_HOST_BASE``, as the lab's endpoints are addresses); the endpoint ``AWS_HOST_BASE``
(``s3://`` or no scheme = https) signed for ``SIGNING_REGION`` (us-east-1 when unset).

Region. With a custom endpoint the client does not follow the bucket's region: a wrong ``SIGNING_REGION`` fails
(400 ``AuthorizationHeaderMalformed``), which is why YBA documents ``SIGNING_REGION`` for non-standard endpoints
(yugabyte/yugabyte-db PR #29524, symptom "Cannot list objects in backup location"). boto3 would otherwise retry
in the region the error names (its S3 region redirector), so the redirect is switched off for such clients.

Trust. YBA verifies an https endpoint against its custom CA trust store (``yb.customCATrustStore.enabled`` plus
the CA certificates uploaded to YBA) on top of Java's default trust; the lab models the uploaded certificates as
lab.json ``platform.s3_ca_trust`` (a list of PEM files, as the platform sees them; default ``[]``, so an endpoint
signed by ``s3.ca_cert`` fails TLS verification until that file is listed there).
"""
from __future__ import annotations

import os
import tempfile
import threading
from typing import Any
from urllib.parse import urlsplit

# The tasks' client (backup upload, delete, GC checks): one attempt, short timeouts.
TASK_LIMITS = {"connect": 2.0, "read": 5.0, "attempts": 1}

_CLIENTS: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def parse_location(location: str) -> tuple[str, str]:
    parts = urlsplit(location)
    return parts.netloc, parts.path.strip("/")


def ca_trust(state: dict[str, Any]) -> tuple[str, ...]:
    """The CA files the platform trusts for S3 beyond the system's (lab.json ``platform.s3_ca_trust``)."""
    files = (state.get("platform") or {}).get("s3_ca_trust") or []
    return tuple(str(f) for f in files)


def endpoint_url(data: dict[str, Any]) -> str | None:
    endpoint = data.get("AWS_HOST_BASE") or None
    if endpoint and endpoint.startswith("s3://"):
        endpoint = "https://" + endpoint[5:]
    if endpoint and "://" not in endpoint:
        endpoint = "https://" + endpoint
    return endpoint


def _verify(ca_files: tuple[str, ...]) -> Any:
    """botocore's ``verify``: True (the system's trust store) when nothing is listed, else the listed CAs (one file
    as is, several joined in one bundle under /run, which a full data volume does not affect). The system's CAs
    are not added: nothing the lab's S3 endpoints present is signed by them."""
    if not ca_files:
        return True
    if len(ca_files) == 1:
        return ca_files[0]
    base = "/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()
    bundle = os.path.join(base, f"ybalab-s3-trust-{os.getpid()}-{abs(hash(ca_files))}.pem")
    parts = []
    for path in ca_files:
        with open(path, encoding="utf-8", errors="replace") as fh:
            parts.append(fh.read().strip() + "\n")
    with open(bundle, "w", encoding="utf-8") as fh:
        fh.write("".join(parts))
    return bundle


def no_region_redirect(client: Any) -> Any:
    """Switch boto3's S3 region redirector off for a client: a wrong signing region stays an error."""
    def mark(params: dict[str, Any], **_kw: Any) -> None:
        params.setdefault("context", {}).setdefault("s3_redirect", {})["redirected"] = True
    client.meta.events.register("before-call.s3", mark)
    return client


def client(data: dict[str, Any], limits: dict[str, float], ca_files: tuple[str, ...] = ()) -> Any:
    """A boto3 S3 client for a config's data (cached by the fields it is built from: a rewritten config gets a new
    client; boto3 clients are thread-safe)."""
    key = tuple(str(data.get(k)) for k in ("AWS_HOST_BASE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                           "SIGNING_REGION", "PATH_STYLE_ACCESS")) \
        + tuple(sorted(limits.items())) + tuple(ca_files)
    with _LOCK:
        if key not in _CLIENTS:
            import boto3
            from botocore.config import Config

            endpoint = endpoint_url(data)
            path_style = bool(endpoint) or str(data.get("PATH_STYLE_ACCESS", "")).lower() == "true"
            cfg = Config(connect_timeout=limits["connect"], read_timeout=limits["read"],
                         retries={"total_max_attempts": int(limits["attempts"]), "mode": "standard"},
                         s3={"addressing_style": "path" if path_style else "auto"},
                         region_name=data.get("SIGNING_REGION") or "us-east-1")
            new = boto3.session.Session().client(
                "s3", endpoint_url=endpoint, aws_access_key_id=data.get("AWS_ACCESS_KEY_ID"),
                aws_secret_access_key=data.get("AWS_SECRET_ACCESS_KEY"), config=cfg, verify=_verify(ca_files))
            _CLIENTS[key] = no_region_redirect(new) if endpoint else new
        return _CLIENTS[key]


def s3_error_message(exc: Exception, endpoint: str | None) -> str:
    """A message shaped like the AWS Java SDK errors YBA logs."""
    from botocore import exceptions as bex

    if isinstance(exc, bex.SSLError):
        # Java: javax.net.ssl.SSLHandshakeException: PKIX path building failed ... unable to find valid
        # certification path to requested target
        return ("Unable to execute HTTP request: PKIX path building failed: "
                "sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification "
                "path to requested target")
    if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError)):
        hostport = urlsplit(endpoint or "https://s3.amazonaws.com").netloc
        if isinstance(exc, bex.ConnectTimeoutError):
            return f"Unable to execute HTTP request: Connect to {hostport} failed: connect timed out"
        return f"Unable to execute HTTP request: Connect to {hostport} failed: Connection refused"
    if isinstance(exc, bex.ReadTimeoutError):
        return "Unable to execute HTTP request: Read timed out"
    if isinstance(exc, bex.ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return (f"{err.get('Message') or err.get('Code')} (Service: Amazon S3; Status Code: {status}; "
                f"Error Code: {err.get('Code')})")
    return f"{type(exc).__name__}: {exc}"
