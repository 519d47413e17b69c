"""yba-remediation: run the yba.remediation playbooks through ansible-runner."""

__version__ = "1.0.0"
