#!/usr/bin/python
# -*- coding: utf-8 -*-
# Module of yba.remediation: guarded YBA upgrade with yba-ctl (checks, createBackup, upgrade, verify).
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: platform_upgrade
short_description: Upgrade YugabyteDB Anywhere with yba-ctl, guarded by checks, a verified backup and a verification
version_added: 1.0.0
description:
  - Runs on the YBA host of a yba-installer install (with become) and upgrades YBA to O(target_version) from an
    installer bundle already on the host (O(bundle)), one O(step) at a time.
  - Every step first runs all checks, in this order, and changes nothing when one fails. C(bundle) (the bundle exists,
    its C(version_metadata.json) is the target, its sha256 matches O(bundle_sha256)); C(installed_version)
    (C(yba-ctl version) and C(GET /api/v1/app_version) agree); C(target_newer) (YB version order as yugabyte's
    C(CompareYbVersions); the installed version equal to the target means nothing to do, a lower target fails,
    downgrades are not supported; a preview release (an odd minor such as 2.21 or 2.23, yugabyte's
    C(IsVersionStable)) is not upgraded to a stable release (2.20, 2024.x, 2025.x));
    C(install_type) (yba-installer only); C(disk_space) (O(min_free_mb) free on the
    install root's volume plus the estimated size of the backup archive); C(yba_ctl_preflight) (the bundle's
    C(yba-ctl preflight --upgrade), Critical rows fail, Warning rows warn); C(no_running_tasks) (no task Created,
    Initializing, Running or Abort (abort requested, still running) in C(tasks_list), no backup or restore in progress
    in the metadata DB; it fails when the task list cannot be read);
    C(platform_healthy) (the API answers an authenticated call, C(yba-ctl status) shows every service Running);
    C(metadb_clean) (no corrupt index and no failed migration, as M(yba.remediation.metadb_info) finds them);
    C(host_lock) (the host lock of M(yba.remediation.host_lock) is held by O(lock_owner)).
  - O(step=preflight) runs the checks and returns the plan. O(step=backup) then runs the INSTALLED C(yba-ctl
    createBackup) into O(backup_dir), which stops yb-platform while the dump is taken and restarts it without waiting
    for it (2.18, 2.20); the step waits up to O(ready_timeout) for the API to answer again and fails when it does
    not. It verifies the archive (C(platform_dump.sql) and C(version_metadata_backup.json) at its root, the dump a
    pg_dump custom-format file or plain SQL, size and sha256); copy it off the host before the upgrade. O(step=upgrade) re-verifies that archive
    (O(backup_archive), O(backup_sha256)), runs the bundle's C(yba-ctl upgrade -f) from the bundle directory and
    verifies the result (C(app_version) is the target within O(ready_timeout), an authenticated call works,
    C(yba-ctl status) shows every service Running, the schedules' statuses did not change).
  - A tarball bundle is extracted beside itself (once; an existing directory with the same version is reused) when
    no check before C(yba_ctl_preflight) failed, in a real run only; a member leading out of the bundle directory refuses
    the whole tarball.
  - An upgrade cannot be undone by this module and is never rolled back automatically. RV(way_back) says how to go
    back by hand (reinstall the old version, C(yba-ctl restoreBackup) the archive).
  - An error no step expected (an API error, a file error) still returns RV(failed_step) (V(verify) once C(yba-ctl
    upgrade) was started, else the step under way), RV(way_back), RV(backup) and an honest C(changed).
author:
  - yba.remediation contributors (@yba-remediation)
extends_documentation_fragment:
  - yba.remediation.api
  - yba.remediation.host
  - yba.remediation.metadb
  - yba.remediation.attributes
attributes:
  check_mode:
    support: full
    details:
      - Runs every check (a tarball bundle not yet extracted skips C(yba_ctl_preflight), which needs it) and returns
        the plan; changes nothing.
  diff_mode:
    support: full
    details:
      - The YBA version before and after.
  idempotent:
    support: full
    details:
      - At the target version the module reports no change and does nothing at any step.
options:
  target_version:
    description:
      - The YBA version to upgrade to, for example V(2.20.1.3-b3), or V(2.20.1.3) for any build of it.
    type: str
    required: true
  bundle:
    description:
      - Path ON THE HOST of the installer bundle of O(target_version). Either the extracted directory (it holds
        C(yba-ctl) and C(version_metadata.json)) or the tarball (C(*.tar.gz) or C(*.tgz), for example
        C(yba_installer_full-2.20.1.3-b3-linux-x86_64.tar.gz), one top directory), extracted beside itself.
    type: path
    required: true
  bundle_sha256:
    description:
      - Expected sha256 (64 hex digits) of a tarball O(bundle); the C(bundle) check fails on a mismatch.
    type: str
  bundle_pending:
    description:
      - The caller copies the bundle to the host after the checks (from the controller or a URL), and not at all in
        check mode. A missing O(bundle) then makes the C(bundle) and C(yba_ctl_preflight) checks V(skipped) instead
        of failing, with O(step=preflight) or in check mode. Steps V(backup) and V(upgrade) of a real run need the
        bundle on the host.
    type: bool
    default: false
  step:
    description:
      - V(preflight) runs the checks and returns the plan. V(backup) also takes and verifies a createBackup archive.
        V(upgrade) also re-verifies O(backup_archive), upgrades and verifies.
    type: str
    choices: [preflight, backup, upgrade]
    default: upgrade
  backup_dir:
    description:
      - Host directory C(yba-ctl createBackup) writes its archive to. Default C(<install root>/backups), for example
        C(/opt/yugabyte/backups).
    type: path
  exclude_prometheus:
    description:
      - Pass C(--exclude_prometheus) to createBackup (no Prometheus snapshot in the archive).
    type: bool
    default: true
  exclude_releases:
    description:
      - Pass C(--exclude_releases) to createBackup (no YugabyteDB releases in the archive).
    type: bool
    default: true
  backup_archive:
    description:
      - Host path of the archive O(step=backup) returned (RV(backup.path)). Required by O(step=upgrade) unless
        O(skip_backup).
    type: path
  backup_sha256:
    description:
      - sha256 of O(backup_archive) as O(step=backup) returned it (RV(backup.sha256)); the upgrade refuses an archive
        that changed.
    type: str
  backup_copy:
    description:
      - Where the off-host copy of O(backup_archive) is, for example V(controller:/var/backups/yba/backup_24-01-01-00-00.tgz)
        or V(s3://bucket/key). Required by O(step=upgrade) unless O(skip_backup); named in RV(way_back).
    type: str
  skip_backup:
    description:
      - Upgrade without a backup. You accept that there is no way back; the result and a warning say so.
    type: bool
    default: false
  min_free_mb:
    description:
      - MiB that must be free on the install root's volume for the upgrade (YBA's own check asks 25 GiB), in addition
        to the estimated size of the backup archive (the C(yugaware) database, keys, certs, licenses, swamper files,
        and releases and Prometheus data unless excluded) for O(step=preflight) and O(step=backup). When
        O(backup_dir) is on another volume, each volume is checked for its part.
    type: int
    default: 25600
  skip_checks:
    description:
      - Checks that report V(skipped) instead of failing. C(bundle), C(installed_version), C(target_newer) and
        C(install_type) cannot be skipped.
    type: list
    elements: str
    default: []
  yba_ctl_skip_preflight:
    description:
      - yba-ctl preflight checks to skip, passed as C(-s a,b) to C(yba-ctl preflight --upgrade) and C(yba-ctl upgrade).
    type: list
    elements: str
    default: []
  upgrade_timeout:
    description:
      - Seconds C(yba-ctl upgrade) (and C(yba-ctl createBackup)) may take. On a timeout the command is killed
        together with everything it started (its process group, so the backup script and C(systemctl) calls too) and the step
        fails. A timed-out upgrade may be left half way (the platform stopped, the new version partly laid down);
        RV(way_back) applies.
    type: int
    default: 1800
  ready_timeout:
    description:
      - Seconds to wait after the upgrade for C(/api/v1/app_version) to answer the target version (polled every 5 s,
        as yba-installer's C(WaitForYBAReady); a target without a build matches any build), and after C(yba-ctl
        createBackup) for the restarted platform to answer again.
    type: int
    default: 600
  lock_owner:
    description:
      - The run that holds the host lock (M(yba.remediation.host_lock) O(yba.remediation.host_lock#module:owner)).
        The C(host_lock) check passes only when a live lock of this owner is held. Without it the check is a
        V(warning) naming the holder.
    type: str
  install_root:
    description:
      - Host path of the YBA install root. If not set, it is detected (C(yba-ctl.yml)'s C(installRoot), else
        C(/opt/yugabyte)).
    type: path
  yba_ctl_path:
    description:
      - Host path of the INSTALLED C(yba-ctl). If not set, the detected one.
    type: path
notes:
  - Run the steps in order, V(preflight), V(backup), copy the archive off the host, V(upgrade); the role
    C(yba.remediation.platform_upgrade) does so.
  - Replicated installs are not upgraded by this module (migrate them with C(yba-ctl replicated-migrate)). HA
    setups need the documented order of the instances.
seealso:
  - module: yba.remediation.host_lock
  - module: yba.remediation.metadb_info
  - module: yba.remediation.platform_service
"""

EXAMPLES = r"""
- name: Checks and plan only
  yba.remediation.platform_upgrade:
    target_version: 2.20.1.3-b3
    bundle: /opt/yugabyte/bundles/yba_installer_full-2.20.1.3-b3-linux-x86_64.tar.gz
    bundle_sha256: "{{ bundle_sha256 }}"
    step: preflight
    yba_url: https://localhost
    yba_api_token: "{{ yba_api_token }}"
    ca_content: "{{ lookup('ansible.builtin.file', yba_ca_path) }}"
  become: true
  register: plan

- name: Take and verify the backup
  yba.remediation.platform_upgrade:
    target_version: 2.20.1.3-b3
    bundle: /opt/yugabyte/bundles/yba_installer_full-2.20.1.3-b3-linux-x86_64.tar.gz
    step: backup
    yba_url: https://localhost
    yba_api_token: "{{ yba_api_token }}"
    validate_certs: false
    lock_owner: "{{ run_id }}"
  become: true
  register: backup

- name: Copy the archive off the host
  ansible.builtin.fetch:
    src: "{{ backup.backup.path }}"
    dest: /var/backups/yba/
    flat: true
  become: true

- name: Upgrade and verify
  yba.remediation.platform_upgrade:
    target_version: 2.20.1.3-b3
    bundle: /opt/yugabyte/bundles/yba_installer_full-2.20.1.3-b3-linux-x86_64.tar.gz
    step: upgrade
    backup_archive: "{{ backup.backup.path }}"
    backup_sha256: "{{ backup.backup.sha256 }}"
    backup_copy: "controller:/var/backups/yba/{{ backup.backup.path | basename }}"
    yba_url: https://localhost
    yba_api_token: "{{ yba_api_token }}"
    validate_certs: false
    lock_owner: "{{ run_id }}"
  become: true
"""

RETURN = r"""
checks:
  description:
    - Every check by name, in order, with C(status) (V(pass), V(warning), V(fail) or V(skipped)) and a one-line
      C(message). Checks after C(install_type) are V(skipped) when the target is installed already.
  returned: always
  type: dict
  sample: {"target_newer": {"status": "pass", "message": "2.18.1.0-b84 -> 2.20.1.3-b3"},
           "disk_space": {"status": "pass", "message": "30000 MiB free on /opt/yugabyte (volume of the install root),
           need 25650 MiB (25 GiB for the upgrade + the backup archive's estimated size)"}}
yba_ctl_preflight:
  description: The rows of the bundle's C(yba-ctl preflight --upgrade) table (C(status) Pass, Warning, Critical or Skipped).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "disk-availability", "status": "Pass", "error": ""}]
installed_version:
  description: The installed YBA version before the run (null when unknown).
  returned: always
  type: str
  sample: 2.18.1.0-b84
target_version:
  description: The bundle's full version (null when the bundle was not read).
  returned: always
  type: str
  sample: 2.20.1.3-b3
action:
  description: V(upgrade), or V(none) when the target version is installed already (null when the checks did not get
    that far).
  returned: always
  type: str
  sample: upgrade
plan:
  description: What the step does (or, in check mode and for O(step=preflight), would do), one line a step.
  returned: always
  type: list
  elements: str
  sample: ["/usr/bin/yba-ctl createBackup /opt/yugabyte/backups --exclude_prometheus --exclude_releases (the installed
           yba-ctl; it stops yb-platform while the dump is taken and restarts it), then wait up to 600 s for the API to
           answer again"]
backup:
  description:
    - The verified createBackup archive (host path, size in bytes, sha256, top members, whether its
      C(platform_dump.sql) is a pg_dump custom-format file), or null.
  returned: always
  type: dict
  contains:
    path:
      description: Host path of the archive.
      type: str
    size:
      description: Size in bytes.
      type: int
    sha256:
      description: sha256 of the archive.
      type: str
    members:
      description: The archive's members without the leading C(./) (paths under C(data/) cut after three parts).
      type: list
      elements: str
    dump_ok:
      description:
        - Whether C(platform_dump.sql) is a dump. It starts with C(PGDMP), the pg_dump custom-format header (a YBA
          whose metadata DB is PostgreSQL), or with a plain-SQL C(--) comment line (C(ysql_dump) of a YBA whose
          metadata is in YugabyteDB).
      type: bool
  sample: {"path": "/opt/yugabyte/backups/backup_24-01-01-00-00.tgz", "size": 123456, "sha256": "9f86...",
           "members": ["data/yb-platform/keys", "platform_dump.sql", "version_metadata_backup.json"], "dump_ok": true}
upgraded:
  description: Whether C(yba-ctl upgrade) completed (exit 0).
  returned: always
  type: bool
  sample: true
verify:
  description:
    - The verification after the upgrade, or null. C(schedules_before) and C(schedules_after) map schedule uuid to
      status.
  returned: always
  type: dict
  sample: {"app_version": "2.20.1.3-b3", "authenticated": true, "services": {"yb-platform": "Running"},
           "schedules_before": {"uuid": "Active"}, "schedules_after": {"uuid": "Active"}, "schedules_unchanged": true}
failed_step:
  description: Null, or the step that failed (V(preflight), V(backup), V(upgrade) or V(verify); V(verify) for an
    unexpected error once C(yba-ctl upgrade) was started).
  returned: always
  type: str
  sample: verify
way_back:
  description: How to go back by hand, once a backup exists (or that there is none with O(skip_backup)); else null.
  returned: always
  type: str
  sample: "the upgrade cannot be undone: reinstall 2.18.1.0-b84 (software/2.18.1.0-b84 is kept) and run
    `yba-ctl restoreBackup /opt/yugabyte/backups/backup_24-01-01-00-00.tgz` with it; copy kept at controller:/b.tgz"
timings:
  description: Seconds spent per phase (C(checks), C(extract), C(yba_ctl_preflight), C(backup), C(backup_ready) (the
    wait for the platform after createBackup), C(upgrade), C(verify)).
  returned: always
  type: dict
  sample: {"checks": 4.2, "backup": 20.1}
bundle_extracted:
  description: Host path of the directory a tarball O(bundle) was extracted to by this run.
  returned: when this run extracted the bundle
  type: str
  sample: /opt/yugabyte/bundles/yba_installer_full-2.20.1.3-b3
commands:
  description: Commands run on the host, in order.
  returned: always
  type: list
  elements: str
  sample: ["/usr/bin/yba-ctl version"]
diff:
  description: The version before and after (with C(--diff)).
  returned: with --diff
  type: dict
  sample: {"before": {"version": "2.18.1.0-b84"}, "after": {"version": "2.20.1.3-b3"}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.yba.remediation.plugins.module_utils import _api, _layout, _metadb, _upgrade


def argument_spec() -> dict:
    spec = _api.api_argument_spec()
    spec.update(_metadb.metadb_argument_spec())
    spec.update(
        target_version=dict(type="str", required=True),
        bundle=dict(type="path", required=True),
        bundle_sha256=dict(type="str"),
        bundle_pending=dict(type="bool", default=False),
        step=dict(type="str", default="upgrade", choices=list(_upgrade.STEPS)),
        backup_dir=dict(type="path"),
        exclude_prometheus=dict(type="bool", default=True),
        exclude_releases=dict(type="bool", default=True),
        backup_archive=dict(type="path"),
        backup_sha256=dict(type="str"),
        backup_copy=dict(type="str"),
        skip_backup=dict(type="bool", default=False),
        min_free_mb=dict(type="int", default=25600),
        skip_checks=dict(type="list", elements="str", default=[]),
        yba_ctl_skip_preflight=dict(type="list", elements="str", default=[]),
        upgrade_timeout=dict(type="int", default=1800),
        ready_timeout=dict(type="int", default=600),
        lock_owner=dict(type="str"),
        install_root=dict(type="path"),
        yba_ctl_path=dict(type="path"),
    )
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("ca_path", "ca_content")])
    p = module.params
    error = _upgrade.validate(p)
    if error:
        module.fail_json(msg=error)
    try:
        layout = _layout.detect(p["host_root"], p["install_root"])
    except ValueError as err:
        module.fail_json(msg=str(err))
    client = _api.YBAClient.from_module(module, retries=0)
    client.add_secret(p.get("login_password"))

    def psql(args, data, env):
        return module.run_command(args, data=data, environ_update=env, check_rc=False, binary_data=False)

    run = _upgrade.Upgrade(
        p, layout, client,
        metadb=lambda: _metadb.collect_info(p, layout, psql),
        restores=lambda: _metadb.running_restores(p, layout, psql),
        check_mode=module.check_mode)
    try:
        result = run.run()
        failure = None
    except _upgrade.UpgradeError as err:
        run.result["failed_step"] = err.step
        result, failure = run.result, str(err)
    except Exception as err:  # pylint: disable=broad-except
        # anything no step turned into an UpgradeError (an API error, a file error): still report how far it got
        run.result["failed_step"] = run.failed_step()
        result, failure = run.result, "%s failed: %s" % (run.result["failed_step"], err)
    result["commands"] = run.commands
    if p["skip_backup"] and p["step"] == "upgrade":
        module.warn("skip_backup: the upgrade runs without a backup; there is no way back to %s"
                    % (result.get("installed_version") or "the installed version"))
    after = result.get("installed_version")
    # the version changes by step=upgrade; in check mode step=preflight plans the whole upgrade too
    if result.get("action") == "upgrade" and (result.get("upgraded") or (module.check_mode and p["step"] != "backup")):
        after = result.get("target_version") or p["target_version"]
    if module._diff:
        result["diff"] = {"before": {"version": result.get("installed_version")}, "after": {"version": after}}
    result = client.scrub_obj(result)
    if failure is not None:
        module.fail_json(msg=client.scrub(failure), **result)
    if result.get("action") == "none":
        msg = "YBA %s is installed already: nothing to do" % result.get("installed_version")
    elif module.check_mode or p["step"] == "preflight":
        msg = "checks passed; %s would: %s" % (p["step"], " | ".join(result["plan"]))
    elif p["step"] == "backup":
        msg = "backup %s verified" % result["backup"]["path"]
    else:
        msg = "upgraded YBA %s -> %s and verified" % (result.get("installed_version"), result.get("target_version"))
    module.exit_json(msg=msg, **result)


if __name__ == "__main__":
    main()
