"""What the lab tests share: the lab's CLI, and a lab of a test module's own (or the one at $YBA_LAB_DIR)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Iterator

LAB = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if LAB not in sys.path:
    sys.path.insert(0, LAB)


def ybalab(d: str, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m ybalab <args>` for the lab in d; with check, a failure fails the test with its output."""
    environ = dict(os.environ, YBA_LAB_DIR=d, PYTHONPATH=LAB, **env)
    cp = subprocess.run([sys.executable, "-m", "ybalab", *args], env=environ, text=True, capture_output=True,
                        timeout=300, check=False)
    assert not check or cp.returncode == 0, f"ybalab {' '.join(args)} rc={cp.returncode}\n{cp.stdout}\n{cp.stderr}"
    return cp


def load(d: str) -> dict[str, Any]:
    with open(os.path.join(d, "lab.json"), encoding="utf-8") as fh:
        return json.load(fh)


def set_platform_keys(d: str, **keys: Any) -> dict[str, Any]:
    """Optional platform.* keys of lab.json (None removes one), read by the platform at its next start and kept
    across resets; returns the new state."""
    return set_lab_keys(d, "platform", **keys)


def set_lab_keys(d: str, section: str, **keys: Any) -> dict[str, Any]:
    """Keys of one lab.json section (platform.*, host.*; None removes one); returns the new state."""
    state = load(d)
    for k, v in keys.items():
        if v is None:
            state[section].pop(k, None)
        else:
            state[section][k] = v
    tmp = os.path.join(d, "lab.json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=2)
    os.replace(tmp, os.path.join(d, "lab.json"))
    return state


@contextlib.contextmanager
def own_lab(prefix: str, scenario: str, reuse: bool = False) -> Iterator[tuple[str, bool]]:
    """(lab dir, own): a lab of its own in /tmp, up at scenario and always brought down and removed after; with
    reuse, the lab already up at $YBA_LAB_DIR instead (reset to scenario, left up)."""
    given = os.environ.get("YBA_LAB_DIR")
    if reuse and given and os.path.isfile(os.path.join(given, "lab.json")):
        ybalab(given, "reset", scenario)
        yield given, False
        return
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)  # postgres and ybaops traverse it
    try:
        ybalab(d, "up", "--scenario", scenario)
        yield d, True
    finally:
        ybalab(d, "down", check=False)
        shutil.rmtree(d, ignore_errors=True)
