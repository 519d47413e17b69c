"""The lab where mounting a tmpfs is not permitted: a plain directory, a clear notice, and a clean down."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

LAB = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, LAB)

from ybalab import labstate  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (useradd, runuser)")


def test_plain_directory_fallback() -> None:
    d = tempfile.mkdtemp(prefix="yba-lab-test-", dir="/tmp")
    os.chmod(d, 0o755)
    env = dict(os.environ, YBA_LAB_DIR=d, PYTHONPATH=LAB, YBALAB_NO_MOUNT="1")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ybalab", *args], env=env, text=True, capture_output=True,
                              check=False, timeout=180)

    try:
        cp = run("up", "--scenario", "healthy")
        assert cp.returncode == 0, cp.stderr
        assert "using a plain directory" in cp.stderr
        with open(os.path.join(d, "lab.json"), encoding="utf-8") as fh:
            st = json.load(fh)
        assert st["host"]["mounted"] is False and not os.path.ismount(st["host"]["root"])
        assert os.path.isfile(os.path.join(st["host"]["root"], "opt/yba-ctl/yba-ctl.yml"))
    finally:
        cp = run("down", "--purge")
        shutil.rmtree(d, ignore_errors=True)
    assert cp.returncode == 0, cp.stderr
    assert labstate.processes_referencing(d) == []
    assert not os.path.exists(d)
