"""A black-holed TCP endpoint: accepts connections and never answers (lab.json ``s3.blackhole_endpoint``).

Models an S3 endpoint behind a firewall that drops replies, or a hung proxy: the TCP handshake succeeds (the
kernel completes it from the listen backlog), then no byte ever comes back, so clients hang until their
socket (read) timeout. This differs from ``s3.dead_endpoint``, where nothing listens and the connect is refused
at once. YBA's storage validation (AWSUtil.validateOnBucket with AWS SDK v1 defaults: 50 s socket timeout,
3 retries) then blocks the API request for minutes, which the lab models with ``platform.s3_timeouts``.

``serve(port)`` runs in the foreground (the lab starts it as its own process, ``python -m ybalab.blackhole
<port>``); ``start(port)`` runs it in a daemon thread for tests. Both are bounded: at most ``max_conns``
connections are held (older ones are closed first) and each for at most ``hold_seconds``.
"""
from __future__ import annotations

import collections
import select
import socket
import sys
import threading
import time
from typing import Any

MAX_CONNS = 64
HOLD_SECONDS = 300.0


def _listen(port: int, host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(MAX_CONNS)
    return sock


def _loop(sock: socket.socket, stop: threading.Event, max_conns: int, hold_seconds: float) -> None:
    held: collections.deque[tuple[float, socket.socket]] = collections.deque()
    try:
        while not stop.is_set():
            readable, _w, _x = select.select([sock] + [c for _t, c in held], [], [], 0.5)
            now = time.monotonic()
            for r in readable:
                if r is sock:
                    try:
                        conn, _addr = sock.accept()
                    except OSError:
                        continue
                    held.append((now, conn))
                else:
                    # Read and discard what the client sends (requests, retries); a closed peer is dropped.
                    try:
                        data = r.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        held = collections.deque((t, c) for t, c in held if c is not r)
                        r.close()
            while held and (len(held) > max_conns or now - held[0][0] > hold_seconds):
                held.popleft()[1].close()
    finally:
        for _t, conn in held:
            conn.close()
        sock.close()


def serve(port: int, host: str = "127.0.0.1", max_conns: int = MAX_CONNS, hold_seconds: float = HOLD_SECONDS,
          stop: threading.Event | None = None) -> None:
    """Accept on host:port and hold each connection silently (bounded in count and time) until ``stop``."""
    _loop(_listen(port, host), stop or threading.Event(), max_conns, hold_seconds)


def start(port: int = 0, host: str = "127.0.0.1", max_conns: int = MAX_CONNS,
          hold_seconds: float = HOLD_SECONDS) -> tuple[int, Any]:
    """Serve in a daemon thread; (bound port, stop function)."""
    sock = _listen(port, host)
    stop = threading.Event()
    thread = threading.Thread(target=_loop, args=(sock, stop, max_conns, hold_seconds), name="blackhole",
                              daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(5)

    return sock.getsockname()[1], halt


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m ybalab.blackhole <port>", file=sys.stderr)
        return 2
    try:
        serve(int(argv[0]))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
