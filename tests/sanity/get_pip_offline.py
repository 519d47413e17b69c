"""Offline stand-in for ansible-test's get-pip bootstrap script (copied into its cache by scripts/sanity.sh)."""

# ansible-test downloads get-pip.py from a host that is not reachable here; this script does the same job
# with the standard library's ensurepip plus the package index pip is already configured for.

from __future__ import annotations

import subprocess
import sys

DROPPED = ('--no-setuptools', '--no-wheel')


def main(argv: list[str]) -> int:
    """Install pip into the running interpreter, then pin it (and any other requested packages)."""
    # Each step runs in a subprocess: an in-process ensurepip leaks PIP_CONFIG_FILE=/dev/null, after which
    # pip loses the machine's CA setting.
    subprocess.run([sys.executable, '-m', 'ensurepip', '--upgrade'], check=True, stdout=subprocess.DEVNULL)
    args = [arg for arg in argv if arg not in DROPPED]
    command = [sys.executable, '-m', 'pip', 'install', '--upgrade', '--force-reinstall'] + args
    return subprocess.run(command, check=False).returncode


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
