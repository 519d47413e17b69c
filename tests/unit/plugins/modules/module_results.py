# Helpers of the module tests. A module's results as it builds them, before AnsibleModule removes the no_log
# values (a secret must not be there in the first place): the test modules run a module's main() and catch Done
# (the fixture raw_results of conftest.py patches exit_json and fail_json). route_api sends the API client's
# requests to a routed fake of YBA.
from __future__ import annotations

import json

from ansible.module_utils import basic
from ansible.module_utils.common import warnings

from ansible_collections.yba.remediation.plugins.module_utils import _api


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


def route_api(monkeypatch, fake):
    """Every YBAClient request goes to ``fake.send(client, method, path, body)``; it is recorded in the client's
    requests with 200, or with the status of the YBAError the fake raises."""
    def send(self, method, url, path, data, headers, timeout, raw):
        try:
            answer = fake.send(self, method, path, json.loads(data) if data else None)
        except _api.YBAError as err:
            self.requests.append((method, path, err.status))
            raise
        self.requests.append((method, path, 200))
        return answer

    monkeypatch.setattr(_api.YBAClient, "_send_once", send)
    return fake


def bucket_on(plain_s3, key_id, secret, bucket):
    """The plain_s3 fixture's server with ``bucket`` made by a client signed with the test module's keys:
    plain_s3's urls plus that client."""
    import boto3

    client = boto3.client("s3", endpoint_url=plain_s3["live"], region_name="us-east-1", aws_access_key_id=key_id,
                          aws_secret_access_key=secret)
    client.create_bucket(Bucket=bucket)
    return dict(plain_s3, client=client)
