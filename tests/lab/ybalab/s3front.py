"""The region-aware S3 front: a small proxy before moto that answers a wrong signing region the way AWS does, on
plain HTTP (lab.json ``s3.region_endpoint``) and on TLS (``s3.tls_endpoint``, a server cert from the lab's S3 CA
``s3.ca_cert``, which no system trust store knows).

moto checks SigV4 signatures (the lab enforces auth) but not the region in the credential scope. Real S3 rejects a
request signed for another region than the bucket's with HTTP 400 ``AuthorizationHeaderMalformed``::

    <Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region
    'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region>...</Error>

(plus the ``x-amz-bucket-region`` header, which is what SDK region redirectors read). The front learns a bucket's
region from moto (GetBucketLocation, signed with the lab's full-access keys from lab.json, a known region cached a few seconds)
and rejects a request whose ``Authorization`` credential scope (or presigned ``X-Amz-Credential``) names another
region. Everything else is forwarded verbatim (method, path, query, every header in order, Host included, body),
so moto's own signature check still sees exactly what the client signed. Requests for no bucket, or for a bucket
moto does not know, are forwarded unchecked (moto answers NoSuchBucket).

``python -m ybalab.s3front <http port> <tls port> <upstream url> <cert> <key>`` (the lab starts it as its own
process, outside the host, like moto); ``start(...)`` runs it in daemon threads for tests.
"""
from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

REGION_TTL = 5.0  # seconds a bucket's region is cached (a reset may recreate a bucket elsewhere)
UPSTREAM_TIMEOUT = 60.0
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer")
_CRED = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/")


def signed_region(headers: Any, query: str) -> str | None:
    """The region a SigV4 request is signed for: the Authorization header's credential scope, or a presigned
    URL's X-Amz-Credential; None for an unsigned or SigV2 request."""
    m = _CRED.search(headers.get("Authorization") or "")
    if m:
        return m.group(3)
    cred = parse_qs(query).get("X-Amz-Credential")
    if cred:
        parts = cred[0].split("/")
        return parts[2] if len(parts) > 2 else None
    return None


def bucket_of(path: str) -> str | None:
    """The bucket of a path-style request (the lab's endpoints are addresses: no virtual-host buckets)."""
    first = unquote(path.lstrip("/").split("/", 1)[0])
    return first or None


def error_xml(code: str, message: str, **extra: str) -> bytes:
    rid = uuid.uuid4().hex[:16].upper()
    more = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{more}'
            f"<RequestId>{rid}</RequestId><HostId>{rid.lower()}</HostId></Error>").encode()


class Regions:
    """Bucket -> region, asked from moto with the lab's full-access keys (re-read from lab.json when it changes:
    a reset creates new IAM keys)."""

    def __init__(self, upstream: str, lab_json: str | None) -> None:
        self.upstream = upstream
        self.lab_json = lab_json
        self.lock = threading.Lock()
        self.cache: dict[str, tuple[float, str]] = {}
        self._client: Any = None
        self._client_key: tuple[Any, ...] | None = None

    def _keys(self) -> tuple[str, str] | None:
        if not self.lab_json:
            return None
        try:
            with open(self.lab_json, encoding="utf-8") as fh:
                s3 = json.load(fh).get("s3") or {}
        except (OSError, ValueError):
            return None
        if not s3.get("access_key") or not s3.get("secret_key"):
            return None
        return s3["access_key"], s3["secret_key"]

    def _s3(self) -> Any:
        keys = self._keys()
        if keys is None:
            return None
        if self._client is None or self._client_key != keys:
            import boto3
            from botocore.config import Config
            self._client = boto3.session.Session().client(
                "s3", endpoint_url=self.upstream, region_name="us-east-1", aws_access_key_id=keys[0],
                aws_secret_access_key=keys[1],
                config=Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 1},
                              s3={"addressing_style": "path"}))
            self._client_key = keys
        return self._client

    def region(self, bucket: str) -> str | None:
        """The bucket's region, None when unknown (no such bucket, moto unreachable, no keys)."""
        now = time.monotonic()
        with self.lock:
            hit = self.cache.get(bucket)
            if hit and now - hit[0] < REGION_TTL:
                return hit[1]
            client = self._s3()
            if client is None:
                return None
            try:
                region: str = client.get_bucket_location(Bucket=bucket)["LocationConstraint"] or "us-east-1"
            except Exception:  # noqa: BLE001 - unknown bucket, keys of before a reset, moto trouble: unchecked
                return None  # and not cached: the next request asks again
            self.cache[bucket] = (now, region)
            return region


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection is closed after this
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        pass

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _handle(self) -> None:
        body = self._body()
        parts = urlsplit(self.path)
        bucket = bucket_of(parts.path)
        signed = signed_region(self.headers, parts.query)
        if bucket and signed and not (self.command == "PUT" and parts.path.strip("/") == bucket and not parts.query):
            expected = self.server.regions.region(bucket)
            if expected and expected != signed:
                xml = error_xml("AuthorizationHeaderMalformed",
                                f"The authorization header is malformed; the region '{signed}' is wrong; "
                                f"expecting '{expected}'", Region=expected)
                self._send(400, [("x-amz-bucket-region", expected), ("Content-Type", "application/xml"),
                                 ("Content-Length", str(len(xml))), ("Server", "AmazonS3")], xml)
                return
        conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port,
                                          timeout=UPSTREAM_TIMEOUT)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    conn.putheader(k, v)
            if body or self.command in ("PUT", "POST"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            if self.command != "HEAD":
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(data))))
            self._send(resp.status, headers, data)
        finally:
            conn.close()

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_GET


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, port: int, upstream: str, regions: Regions, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        up = urlsplit(upstream)
        self.upstream_host, self.upstream_port = up.hostname, up.port or 80
        self.regions = regions
        self.tls = tls

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs in the connection's own thread: a slow or failing client never blocks accept().
        if self.tls is not None:
            request.settimeout(Handler.timeout)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # e.g. a client that does not trust the CA aborts the handshake
        super().finish_request(request, client_address)


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def start(http_port: int, tls_port: int | None, upstream: str, cert: str | None = None, key: str | None = None,
          lab_json: str | None = None) -> tuple[list[int], Any]:
    """Serve in daemon threads; ([http port, tls port], stop function)."""
    regions = Regions(upstream, lab_json)
    servers = [Server(http_port, upstream, regions)]
    if tls_port is not None and cert and key:
        servers.append(Server(tls_port, upstream, regions, tls_context(cert, key)))
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True,
                                name=f"s3front-{s.server_address[1]}") for s in servers]
    for t in threads:
        t.start()

    def halt() -> None:
        for s in servers:
            s.shutdown()
            s.server_close()

    return [s.server_address[1] for s in servers], halt


def main(argv: list[str]) -> int:
    if len(argv) != 5 or not argv[0].isdigit() or not argv[1].isdigit():
        print("usage: python -m ybalab.s3front <http port> <tls port> <upstream url> <cert> <key>", file=sys.stderr)
        return 2
    lab_dir = os.environ.get("YBA_LAB_DIR")
    lab_json = os.path.join(lab_dir, "lab.json") if lab_dir else None
    _ports, halt = start(int(argv[0]), int(argv[1]), argv[2], argv[3], argv[4], lab_json)
    stop = threading.Event()
    import signal
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            stop.wait(1.0)
    except KeyboardInterrupt:
        pass
    halt()
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    sys.exit(main(sys.argv[1:]))
