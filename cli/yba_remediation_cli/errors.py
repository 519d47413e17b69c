"""The one exception type for bad user input: reported as one stderr line and exit status 2."""


class UsageError(Exception):
    """Bad input from the command line (unknown playbook, missing inventory, malformed extra vars)."""
