"""The simulated YBA platform process: HTTPS API on 127.0.0.1, backed by the lab's yugaware PostgreSQL.

Started by the yugaware launcher (``software/<v>/yb-platform/yugaware/bin/yugaware``) with the same
arguments yba-installer's unit passes: ``-Dconfig.file=<yb-platform.conf> -Dhttp.port=disabled
-Dhttps.port=<port>``. Like YBA it exits non-zero when the metadata DB is unreachable, and on start it
runs YBA's start-up reconciliation (CustomerTaskManager.handleAllPendingTasks, FACTS 3.8).

After the reconciliation it starts YBA's background services (background.py): the backup garbage
collector (at once, then every ``platform.gc_interval_seconds``) and the scheduler (Active schedules fire
when due), in AppInit's order.
Set ``YBA_LAB_RECORD=<file>`` in the unit's environment to append every exchange as a JSON line
(method, path, query, request body, status, response body) for fidelity checks.
"""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import paths

LOG = logging.getLogger("yba")


def parse_conf(text: str) -> dict[str, str]:
    """The flat ``key = value`` lines of yb-platform.conf (all the lab's installer writes); quotes removed."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "//", "include ")):
            continue
        m = re.match(r'^([A-Za-z0-9_.\-"]+)\s*[=:]\s*(.*)$', line)
        if not m:
            continue
        value = m.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out[m.group(1).strip('"')] = value
    return out


def parse_heap_max(java_opts: str, default: int = 1 << 30) -> int:
    """-Xmx from JAVA_OPTS-style tokens (last one wins, as in the JVM); default 1 GiB."""
    result = default
    for token in java_opts.split():
        token = token[2:] if token.startswith("-J") else token
        m = re.fullmatch(r"-Xmx(\d+)([kKmMgGtT]?)", token)
        if m:
            mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
            result = int(m.group(1)) * mult
    return result


class Recorder:
    """Appends one JSON line per exchange to the file named by YBA_LAB_RECORD."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        if not self.path:
            return
        line = json.dumps(entry, default=str) + "\n"
        with self.lock:
            try:
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(line)
            except OSError:
                LOG.warning("cannot record exchange to %s", self.path)


class Handler(BaseHTTPRequestHandler):
    server_version = "play"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        LOG.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        app = self.server.app  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, body, ctype = app.handle(method, parts.path, parse_qs(parts.query), self.headers, raw)
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode("utf-8")
            ctype = ctype or "application/json"
        elif isinstance(body, str):
            payload = body.encode("utf-8")
        else:
            payload = body or b""
        self.send_response(status)
        self.send_header("Content-Type", ctype or "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)
        try:
            req_body: Any = json.loads(raw) if raw else None
        except ValueError:
            req_body = raw.decode("utf-8", "replace")
        app.recorder.record({
            "time": time.time(), "method": method, "path": parts.path, "query": parts.query,
            "request": req_body, "status": status,
            "response": body if isinstance(body, (dict, list)) else (body if isinstance(body, str) else None),
        })

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv: list[str]) -> int:
    props = {}
    for arg in argv:
        if arg.startswith("-D") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            props[key] = value
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="YW %(asctime)s [%(levelname)s] from %(name)s in %(threadName)s - %(message)s")
    conf_path = props.get("config.file")
    if not conf_path:
        LOG.error("-Dconfig.file is required")
        return 2
    with open(conf_path, encoding="utf-8") as fh:
        conf = parse_conf(fh.read())
    state = paths.load_state(conf["yb.lab.state_file"])
    port = int(props.get("https.port") or conf.get("https.port") or 443)
    version_meta = os.path.join(os.path.dirname(os.path.dirname(conf_path)), "yugaware", "conf",
                                "version_metadata.json")
    with open(version_meta, encoding="utf-8") as fh:
        meta = json.load(fh)
    version = f"{meta['version_number']}-b{meta['build_number']}"

    from .api import Platform, DatabaseUnavailable

    heap_max = parse_heap_max(" ".join([os.environ.get("JAVA_OPTS", ""), *argv]))
    try:
        app = Platform(state, conf, version, heap_max, Recorder(os.environ.get("YBA_LAB_RECORD")))
        app.startup()
    except DatabaseUnavailable as exc:
        LOG.error("Cannot connect to database: %s", exc)
        LOG.error("Play application failed to start: HikariPool-1 - Exception during pool initialization.")
        return 1

    from . import background

    # AppInit: handleAllPendingTasks ran in app.startup(); then backupGC.start() and scheduler.init().
    bg = background.start(app)
    httpd = Server(("127.0.0.1", port), Handler)
    httpd.app = app  # type: ignore[attr-defined]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certs = conf["play.server.https.keyStore.path"], conf["play.server.https.keyStore.keyPath"]
    ctx.load_cert_chain(paths.on_host(state, certs[0]), paths.on_host(state, certs[1]))
    # Handshake in the handler thread: a stalled client must not block the accept loop.
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)

    def _term(*_: object) -> None:
        LOG.info("Received SIGTERM, shutting down")
        bg.stop()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _term)
    LOG.info("YugabyteDB Anywhere %s listening on https://127.0.0.1:%d (heap max %d bytes)", version, port, heap_max)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
    return 0
