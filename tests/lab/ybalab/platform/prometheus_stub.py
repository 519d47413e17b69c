"""A tiny prometheus stand-in for the lab: answers /-/healthy, /-/ready and an empty query API."""
from __future__ import annotations

import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server_version = "Prometheus/2.47.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?", 1)[0]
        if path == "/-/healthy":
            self._send(200, b"Prometheus Server is Healthy.\n", "text/plain; charset=utf-8")
        elif path == "/-/ready":
            self._send(200, b"Prometheus Server is Ready.\n", "text/plain; charset=utf-8")
        elif path.startswith("/api/v1/"):
            body = {"status": "success", "data": {"resultType": "vector", "result": []}}
            self._send(200, json.dumps(body).encode(), "application/json")
        else:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    do_POST = do_GET


def main(argv: list[str]) -> int:
    listen = "127.0.0.1:9090"
    for arg in argv:
        if arg.startswith("--web.listen-address="):
            listen = arg.split("=", 1)[1]
    host, port = listen.rsplit(":", 1)
    httpd = ThreadingHTTPServer((host or "127.0.0.1", int(port)), _Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
    return 0
