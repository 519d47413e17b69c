"""The requests the collection's API client sends (diagnose playbook, backup_info target) agree with YBA's swagger.

The lab platform records every exchange (lab.json ``platform.record`` -> ``YBA_LAB_RECORD``); each recorded request
is validated with ``ybalab.platform.fidelity.validate_exchange`` against shared/yba/swagger.json beside the checkout;
operations newer than that snapshot (``PUT .../universes/{u}/schedules/{s}/pause_resume``, served from 2024.2) are
validated against ``fidelity.NEWER_OPERATIONS``, written from YBA's source, instead of being "no such operation".
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import test_integration as drv  # the integration driver: lab reset, ansible-playbook runner

sys.path.insert(0, str(drv.REPO / "tests" / "lab"))
from ybalab.platform import fidelity  # noqa: E402  (lab package, on the path above)

# Operations the diagnosis must exercise (method, swagger path template suffix).
EXPECTED = {
    ("GET", "/api/v1/app_version"), ("GET", "/api/v1/customers"), ("GET", "/api/v1/prometheus_metrics"),
    ("GET", "/universes"), ("GET", "/configs"), ("POST", "/backups/page"), ("POST", "/schedules/page"),
    ("GET", "/tasks/{tUUID}/failed_subtasks"),
    # minNumBackupsToRetain of the schedules owning expired backups (schedules/page answers ScheduleResp)
    ("GET", "/schedules/{sUUID}"),
}


def _lab_json() -> Path:
    return drv.LAB_DIR / "lab.json"


def _set_record(path: str | None) -> None:
    state = json.loads(_lab_json().read_text(encoding="utf-8"))
    if path:
        state["platform"]["record"] = path
    else:
        state["platform"].pop("record", None)
    tmp = _lab_json().with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(tmp, _lab_json())


lab_up = drv.lab_up  # the driver's check that the lab is up (autouse, session)


def test_client_requests_match_swagger() -> None:
    # in the lab dir: the platform runs on the lab host, which sees the lab dir (and not the controller's /tmp)
    record = drv.LAB_DIR / "exchanges-api-fidelity.jsonl"
    record.write_text("", encoding="utf-8")
    os.chmod(record, 0o666)
    _set_record(str(record))
    try:
        drv.reset("incident")  # restarts the platform with recording on
        diag = drv.run([str(drv.BIN / "ansible-playbook"), "-i", str(drv.INVENTORY),
                        str(drv.REPO / "playbooks" / "diagnose.yml")])
        assert diag.returncode == 0, drv.explain(diag)
        target = drv.run(drv.playbook_cmd("backup_info"))
        assert target.returncode == 0, drv.explain(target)
    finally:
        _set_record(None)

    exchanges = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert exchanges, "the platform recorded no exchange"
    seen = set()
    for ex in exchanges:
        found = fidelity.find_operation(ex["method"], ex["path"].split("?", 1)[0])
        if found:
            seen.add((ex["method"].upper(), found[0]))
    missing = {(m, p) for m, p in EXPECTED if not any(sm == m and sp.endswith(p) for sm, sp in seen)}
    assert not missing, f"operations not exercised: {sorted(missing)}; seen {sorted(seen)}"

    problems = fidelity.validate_record_file(str(record))
    request_problems = [p for p in problems if ": request" in p or "no such operation" in p]
    assert request_problems == [], "\n".join(request_problems[:50])
