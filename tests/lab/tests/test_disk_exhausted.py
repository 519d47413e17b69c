"""The disk-exhausted scenario: the host volume at 100%, PostgreSQL down and unable to start, the platform up but
hanging on its DB; freeing space lets the host's Restart=always bring PostgreSQL back through crash recovery."""
from __future__ import annotations

import json
import os
import time
from typing import Any, Iterator

import pytest

from labtest import load, own_lab  # noqa: E402  (puts the lab on sys.path)

from ybalab import hostns, hosttree  # noqa: E402
from ybalab.platform import client as pclient  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (mount, unshare, runuser)")


@pytest.fixture(scope="module")
def state() -> Iterator[dict[str, Any]]:
    with own_lab("yba-lab-full-", "disk-exhausted") as (d, _own):
        yield load(d)


def ctl_status(state: dict[str, Any], unit: str) -> str:
    out = hostns.run(state, ["yba-ctl", "status", unit]).stdout
    return out.splitlines()[-1].split("|")[-2].strip()


def pg_log(state: dict[str, Any]) -> str:
    with open(state["postgres"]["log"], encoding="utf-8", errors="replace") as fh:
        return fh.read()


def test_disk_exhausted_then_freed(state: dict[str, Any]) -> None:
    assert hosttree.usage(state["host"]["root"])["free"] == 0
    df = hostns.run(state, ["df", "--output=pcent", "/opt/yugabyte"]).stdout.split()
    assert df[-1] == "100%"
    # PostgreSQL is down and cannot come back: the host's Restart=always tries every 10 s and fails
    deadline = time.monotonic() + 25
    while "could not write lock file" not in pg_log(state):
        assert time.monotonic() < deadline, pg_log(state)[-2000:]
        time.sleep(0.5)
    assert "No space left on device" in pg_log(state)
    assert ctl_status(state, "postgres") == "Errored"
    assert ctl_status(state, "yb-platform") == "Running"

    # the platform answers what needs no DB, and hangs on everything else for the pool's timeout, then fails
    anon = pclient.Client(state, token=None, timeout=5)
    assert anon.call("GET", "/api/v1/app_version")[0] == 200
    api = pclient.Client(state, timeout=60)
    t0 = time.monotonic()
    status, body = api.call("GET", "/api/v1/customers/{c}/universes")
    assert status == 500 and "Database error" in body["error"]
    assert time.monotonic() - t0 >= 9  # platform.db_connection_timeout (10 s)

    # the filler is a deletable JVM heap dump recorded in the manifest
    filler = state["fault"]["disk_exhausted"]["filler"]
    with open(state["host"]["manifest"], encoding="utf-8") as fh:
        entry = [f for f in json.load(fh)["files"] if f["path"] == filler["path"]]
    assert entry and entry[0]["deletable"] and entry[0]["category"] == "core-dump"

    # free the space: Restart=always brings PostgreSQL back through crash recovery, with no command
    os.unlink(os.path.join(state["host"]["root"], filler["path"].lstrip("/")))
    deadline = time.monotonic() + 30
    while ctl_status(state, "postgres") != "Running":
        assert time.monotonic() < deadline, pg_log(state)[-2000:]
        time.sleep(0.5)
    assert "automatic recovery in progress" in pg_log(state)
    assert api.call("GET", "/api/v1/customers/{c}/universes")[0] == 200
