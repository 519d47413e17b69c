#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: prove, read-only, that the inputs of a run (become, API token, DB login) are right.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Check the inputs of a YBA remediation run before its first change
version_added: 1.0.0
description:
  - Runs on the YBA host and checks, without changing anything, that what a run needs is right before it changes
    anything. That the module runs at all proves SSH to the host and its Python.
  - C(become) checks the module runs as root, or as a user who can write the install root and the lock directories.
  - C(api) sends one authenticated C(GET /api/v1/customers) with O(yba_api_token), from the YBA host with its CA
    settings. A rejected token (HTTP 401/403), a CA file that is missing or not PEM, a certificate that does not
    verify, or a URL that is not YBA's API is a problem. A platform that is down, refuses, does not answer in time
    or answers HTTP 5xx is V(unverified), not a problem, because the run may be about to heal it.
    Without a token the check is V(skipped).
  - C(metadb) logs into the metadata DB (C(yugaware)) with the configured login through the host's C(psql) and runs
    C(SELECT 1). A rejected password, an unknown user or database, or a host that does not resolve is a problem.
    A server that is not running (socket missing, connection refused), starting, out of connections or on a full
    disk is V(unverified), because the run may start it or free the disk.
  - The module fails only on bad options of its own. It reports the problems and leaves judging them to the
    caller (the role M(yba.remediation.preflight) fails the run with one line per problem).
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.metadb
  - yba.remediation.host
  - yba.remediation.attributes
  - yba.remediation.attributes.info_module
options:
  checks:
    description:
      - The checks to run. A check not listed is reported as V(skipped).
    type: list
    elements: str
    choices: [become, api, metadb]
    default: [become, api, metadb]
  ca_content:
    description:
      - PEM text of the CA that signed the platform certificate (for example read on the controller with
        C(lookup('file', yba_ca_path))). The module writes it to a private temporary file on the host and verifies
        with it. Mutually exclusive with O(ca_path).
    type: str
  probe_timeout:
    description:
      - Seconds the API request may take. A platform that does not answer in time makes the C(api) check
        V(unverified).
    type: float
    default: 10
  names:
    description:
      - The names the problem lines use for the options, so that a line names the variable the operator set
        (for example C(login_password) named C(metadb_repair_login_password), the role's variable).
      - Keys are option names (C(yba_url), C(yba_api_token), C(ca_path), C(ca_content), C(validate_certs), C(login_host),
        C(login_port), C(login_user), C(login_password), C(login_db), C(psql_path)). A key not given keeps the
        option's own name.
      - The name of C(ca_content) may be followed by a space and what it holds, for example
        V(yba_ca_path (/etc/yba/ca.pem on the controller)).
    type: dict
    default: {}
notes:
  - O(yba_url) defaults to C(https://localhost:<platform.port from yba-ctl.yml>) when it and E(YBA_URL) are unset.
  - The API request is sent once, without retries (O(backoff_retries), O(request_timeout) and O(customer_uuid)
    are not used).
seealso:
  - module: yba.remediation.platform_info
  - module: yba.remediation.metadb_info
"""

EXAMPLES = r"""
- name: Check the inputs of the run before its first change
  yba.remediation.preflight:
    yba_url: https://yba.example.com
    yba_api_token: "{{ vault_yba_api_token }}"
    ca_content: "{{ lookup('ansible.builtin.file', 'files/yba-ca.pem') }}"
    names: {ca_path: yba_ca_path}
  become: true
  check_mode: false
  register: yba_preflight

- name: Stop before the first change when an input is wrong
  ansible.builtin.fail:
    msg: "preflight failed, nothing was changed: {{ yba_preflight.problems | join('; ') }}"
  when: yba_preflight.problems | length > 0
"""

RETURN = r"""
checks:
  description:
    - Per check (C(become), C(api), C(metadb)) its C(status) and a one-line C(message).
    - C(status) is V(ok) (proven), V(problem) (an input of the run is wrong), V(unverified) (could not be proven
      because of a state the run may heal, such as a platform or database down or a full disk) or V(skipped) (not asked, or no
      token to check).
  returned: always
  type: dict
  sample:
    become: {"status": "ok", "message": "the modules run as root"}
    api: {"status": "problem", "message": "the YBA API at https://localhost:443 rejected yba_api_token (HTTP 401)"}
    metadb: {"status": "unverified", "message": "the metadata DB at localhost:5432/yugaware is not accepting connections"}
problems:
  description: The message of each check whose status is V(problem), in the order become, api, metadb; empty when none.
  returned: always
  type: list
  elements: str
  sample: ["the YBA API at https://localhost:443 rejected yba_api_token (HTTP 401)"]
"""

import os
import pwd

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _layout
from ansible_collections.yba.remediation.plugins.module_utils import _metadb
from ansible_collections.yba.remediation.plugins.module_utils import _preflight

# where the host lock lives (yba.remediation.host_lock): /var/lock is /run/lock on most hosts
LOCK_DIRS = ("/run/lock", "/var/lock")


def check_become(layout):
    euid = os.geteuid()
    try:
        user = pwd.getpwuid(euid).pw_name
    except KeyError:
        user = "uid %d" % euid
    writable = {}
    seen = set()
    for path in (layout.to_host(layout.install_root),) + LOCK_DIRS:
        real = os.path.realpath(layout.host_path(path))
        if real in seen or not os.path.isdir(real):
            continue
        seen.add(real)
        writable[path] = os.access(real, os.W_OK | os.X_OK)
    return _preflight.become_verdict(euid, user, writable)


def check_api(module, layout, names):
    p = module.params
    if not p["yba_api_token"]:
        return _preflight.verdict("skipped", "no %s given: the API token was not checked" % names["yba_api_token"])
    url = (p["yba_url"] or "https://localhost:%d" % (layout.platform_port or 443)).strip().rstrip("/")
    if p["ca_content"] is not None:
        # a name may carry what it names, after a space ("yba_ca_path (/etc/yba/ca.pem on the controller)")
        ca_shown = names["ca_content"]
        ca_setting = ca_shown.split(" ", 1)[0]
        if "CERTIFICATE-----" not in p["ca_content"]:
            return _preflight.verdict("problem", "%s is not a usable CA file: it holds no PEM certificate" % ca_shown)
    elif p["ca_path"]:
        ca_setting, ca_shown = names["ca_path"], "%s %s" % (names["ca_path"], p["ca_path"])
    else:
        ca_setting, ca_shown = "%s (or %s)" % (names["ca_content"], names["ca_path"]), None
    ca_path = p["ca_path"]
    if p["ca_content"]:
        try:
            ca_path = _api.ca_file_from_content(p["ca_content"], module.tmpdir)
        except OSError as err:  # a full volume: the run may free it
            return _preflight.verdict("unverified", "the CA from %s could not be written to the module's temporary "
                                                    "directory on the host (%s), so %s could not be checked"
                                      % (ca_shown, err.strerror or err, names["yba_api_token"]))
    try:
        client = _api.YBAClient(url, token=p["yba_api_token"], validate_certs=p["validate_certs"], ca_path=ca_path,
                                timeout=p["probe_timeout"], retries=0)
    except _api.YBAError as err:
        return _preflight.verdict("problem", "check %s: %s" % (names["yba_url"], err))
    err = None
    try:
        # the authenticated call _service.probe_health makes; any 2xx JSON answer proves the token
        client.get("/api/v1/customers", timeout=p["probe_timeout"], retries=0)
    except _api.YBAError as exc:
        err = exc
    result = _preflight.api_verdict(err, url, names, ca_setting, ca_shown, p["probe_timeout"])
    result["message"] = result["message"].replace(p["yba_api_token"], _api.MASK)
    return result


def check_metadb(module, layout, names):
    p = module.params
    try:
        conn = _metadb.resolve_connection(p, layout)
    except _metadb.MetadbError as err:
        return _preflight.verdict("problem", "%s (%s)" % (err, names["psql_path"]))
    seen = {}

    def runner(args, data, env):
        rc, out, err = module.run_command(args, data=data, environ_update=env, check_rc=False, binary_data=False)
        seen.update(rc=rc, err=err or out)
        return rc, out, err

    try:
        _metadb.Psql(conn, runner).run("SELECT 1;")
    except _metadb.MetadbError:
        pass
    result = _preflight.metadb_verdict(seen.get("rc", 1), seen.get("err", ""), conn.target, conn.user, names)
    if p["login_password"]:
        result["message"] = result["message"].replace(p["login_password"], _api.MASK)
    return result


def main():
    spec = _api.api_argument_spec()
    spec.update(_metadb.metadb_argument_spec())
    spec.update(
        checks=dict(type="list", elements="str", choices=list(_preflight.CHECKS), default=list(_preflight.CHECKS)),
        ca_content=dict(type="str", no_log=False),
        probe_timeout=dict(type="float", default=10),
        names=dict(type="dict", default={}),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, mutually_exclusive=[("ca_path", "ca_content")])
    p = module.params
    if p["probe_timeout"] <= 0:
        module.fail_json(msg="probe_timeout must be more than 0 seconds, got %s" % p["probe_timeout"])
    if p["connect_timeout"] < 0:
        module.fail_json(msg="connect_timeout must be >= 0, got %d" % p["connect_timeout"])
    unknown = sorted(set(p["names"]) - set(_preflight.DEFAULT_NAMES))
    if unknown:
        module.fail_json(msg="names has unknown key(s) %s; choose from %s"
                         % (", ".join(unknown), ", ".join(sorted(_preflight.DEFAULT_NAMES))))
    try:
        layout = _layout.detect(p["host_root"])
    except ValueError as err:
        module.fail_json(msg="cannot read the YBA install under host_root %s: %s" % (p["host_root"], err))
    names = _preflight.names_with(p["names"])
    runs = {"become": lambda: check_become(layout), "api": lambda: check_api(module, layout, names),
            "metadb": lambda: check_metadb(module, layout, names)}
    checks = {}
    for name in _preflight.CHECKS:
        checks[name] = runs[name]() if name in p["checks"] else _preflight.verdict("skipped", "not asked")
    module.exit_json(changed=False, checks=checks, problems=_preflight.problems(checks))


if __name__ == "__main__":
    main()
