"""extensions/eda/rulebooks/backup_failures.yml run by the real ansible-rulebook, with the webhook source plugin of
ansible.eda, launching job templates on fake_controller.py: the token is enforced, the limit is the alerting host,
the throttle holds a repeated alert back, a host pattern is refused.

Needs (not pip-installable into the shared venv: ansible-rulebook needs Java 17 for drools):
  YBA_ANSIBLE_RULEBOOK  an ansible-rulebook executable (python -m venv /tmp/rb && /tmp/rb/bin/pip install
                        ansible-rulebook); default /tmp/awx-rbvenv/bin/ansible-rulebook
  YBA_EDA_GIT_DIR       a git dir of https://github.com/ansible/event-driven-ansible (the ansible.eda collection;
                        its webhook source is installed at test time); default /work/.mirror/ansible+event-driven-ansible/repo
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
RULEBOOK = REPO / "extensions" / "eda" / "rulebooks" / "backup_failures.yml"
RULEBOOK_BIN = os.environ.get("YBA_ANSIBLE_RULEBOOK", "/tmp/awx-rbvenv/bin/ansible-rulebook")
EDA_GIT_DIR = os.environ.get("YBA_EDA_GIT_DIR", "/work/.mirror/ansible+event-driven-ansible/repo")
WEBHOOK = "http://127.0.0.1:5000/alert"
TOKEN = "webhook-token-for-tests"

sys.path.insert(0, str(HERE))
from fake_controller import Controller  # noqa: E402  pylint: disable=wrong-import-position


def _post(payload: dict, token: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(WEBHOOK, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _launches(fake: Controller) -> list[tuple[str, dict]]:
    names = {f"/api/v2/job_templates/{item['id']}/launch/": item["name"] for item in fake.objects["job_templates"].values()}
    return [(names[r["path"]], r["body"]) for r in fake.requests if r["method"] == "POST" and r["path"] in names]


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def _listening() -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", 5000)) == 0


@pytest.fixture(scope="module")
def rulebook(tmp_path_factory):
    assert os.access(RULEBOOK_BIN, os.X_OK), f"needs ansible-rulebook at {RULEBOOK_BIN}: set YBA_ANSIBLE_RULEBOOK"
    root = tmp_path_factory.mktemp("eda")
    eda = root / "ansible_collections" / "ansible" / "eda"
    plugin = "extensions/eda/plugins/event_source/webhook.py"
    source = subprocess.run(["git", "--git-dir", EDA_GIT_DIR, "show", f"HEAD:{plugin}"], capture_output=True, text=True,
                            check=False)
    assert source.returncode == 0, f"needs ansible/event-driven-ansible at {EDA_GIT_DIR}: set YBA_EDA_GIT_DIR"
    (eda / plugin).parent.mkdir(parents=True)
    (eda / plugin).write_text(source.stdout, encoding="utf-8")
    (eda / "galaxy.yml").write_text("namespace: ansible\nname: eda\nversion: 2.0.0\nreadme: README.md\nauthors: [x]\n",
                                    encoding="utf-8")
    (eda / "MANIFEST.json").write_text(json.dumps({"collection_info": {"namespace": "ansible", "name": "eda",
                                                                       "version": "2.0.0"}}), encoding="utf-8")
    inventory = root / "inventory.yml"
    inventory.write_text("yba:\n  hosts:\n    yba1:\n    yba2:\n    yba3:\n", encoding="utf-8")
    assert not _listening(), "port 5000 (the rulebook's webhook) is taken"

    fake = Controller("controller-token")
    for name in ("YBA diagnose", "YBA disk_cleanup"):
        fake.create("job_templates", {"name": name, "organization": 1, "ask_limit_on_launch": True,
                                      "ask_variables_on_launch": True, "ask_labels_on_launch": False,
                                      "ask_inventory_on_launch": False})
    server = fake.serve()
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(root), "YBA_EDA_WEBHOOK_TOKEN": TOKEN,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log = (root / "rulebook.log").open("w", encoding="utf-8")
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [RULEBOOK_BIN, "-r", str(RULEBOOK), "-i", str(inventory), "--env-vars", "YBA_EDA_WEBHOOK_TOKEN",
         "--controller-url", "http://%s:%d" % server.server_address, "--controller-token", "controller-token"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    try:
        _wait(lambda: process.poll() is not None or _listening(), timeout=120)
        assert process.poll() is None and _listening(), (root / "rulebook.log").read_text(encoding="utf-8")[-3000:]
        fake.log = root / "rulebook.log"
        yield fake
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        server.shutdown()


def test_the_webhook_refuses_a_missing_or_wrong_token(rulebook):
    assert _post({"alert": "YBABackupFailed", "host": "yba1"}, None) == 401
    assert _post({"alert": "YBABackupFailed", "host": "yba1"}, "wrong") == 401
    time.sleep(2)
    assert not _launches(rulebook)


def test_an_alert_launches_the_template_on_that_host_only_and_the_throttle_holds_a_repeat(rulebook):
    assert _post({"alert": "YBABackupFailed", "host": "yba2"}, TOKEN) == 200
    assert _wait(lambda: len(_launches(rulebook)) >= 1), rulebook.log.read_text(encoding="utf-8")[-3000:]
    assert _post({"alert": "YBABackupFailed", "host": "yba2"}, TOKEN) == 200  # again within 10 minutes
    assert _post({"alert": "YBABackupStale", "host": "yba3"}, TOKEN) == 200
    assert _post({"alert": "YBADiskFull", "host": "yba2"}, TOKEN) == 200
    assert _post({"alert": "YBABackupFailed", "host": "all"}, TOKEN) == 200
    assert _post({"alert": "YBABackupFailed", "host": "yba*"}, TOKEN) == 200
    assert _wait(lambda: len(_launches(rulebook)) >= 3)
    time.sleep(3)  # anything else the rulebook would launch
    launches = _launches(rulebook)
    assert [(name, body["limit"]) for name, body in launches] == [
        ("YBA diagnose", "yba2"), ("YBA diagnose", "yba3"), ("YBA disk_cleanup", "yba2")]
    assert launches[0][1]["extra_vars"]["diagnose_fail_on"] == "none"
    assert TOKEN not in rulebook.log.read_text(encoding="utf-8")
