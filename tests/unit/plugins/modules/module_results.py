# A module's results as it builds them, before AnsibleModule removes the no_log values: a secret must not be there
# in the first place. The test modules of this folder run a module's main() and catch Done (the fixture
# raw_results of conftest.py patches exit_json and fail_json).
from __future__ import annotations

from ansible.module_utils import basic
from ansible.module_utils.common import warnings


class Done(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def capture(monkeypatch):
    def exit_json(self, **kw):
        raise Done(dict(kw, failed=False, warnings=list(warnings.get_warning_messages())))

    def fail_json(self, msg, **kw):
        raise Done(dict(kw, msg=msg, failed=True, warnings=list(warnings.get_warning_messages())))

    monkeypatch.setattr(warnings, "_global_warnings", {})
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
