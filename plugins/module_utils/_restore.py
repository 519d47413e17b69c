# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: the restore drill - restore the newest verified backup of a universe into a
# scratch keyspace through the YBA API, check it, drop it, time it.
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore drill (API-CAPABILITIES section 8.3).

The API steps follow YBA's source: ``POST restore/preflight`` (``BackupHelper.restorePreflight``, the locations must
be listable), ``POST restore`` (``BackupHelper.createRestoreTask``: ``validateRestoreOverwrites`` answers 400
"Keyspace %s already exists, overwriting data is not allowed" for a YSQL keyspace that exists on the target),
the task, ``POST restore/page`` (``RestoreResp.state``) and ``GET universes/{u}/tables``
(``TablesController.listTables``). YBA's v1 API drops YCQL tables (``DELETE universes/{u}/tables/{t}``,
``TablesController.drop``) but has no call that drops a YSQL database: a YSQL scratch keyspace is dropped over a
SQL connection (the host's ``psql``/``ysqlsh``), which also gives the row counts.

The pure parts (naming, candidate choice, request bodies, row-count SQL) are plain functions; ``Drill`` runs them
against a ``YBAClient``, a verifier (``_backupverify.verify_backup``) and a SQL runner.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
import typing as t

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _backupverify as bv
from ansible_collections.yba.remediation.plugins.module_utils import _freshness as fr
from ansible_collections.yba.remediation.plugins.module_utils import _layout
from ansible_collections.yba.remediation.plugins.module_utils import _metadb

YSQL = fr.YSQL
YCQL = fr.YCQL
# Restore.State (models/Restore.java)
RESTORE_DONE = ("Completed",)
RESTORE_FAILED = ("Failed", "Aborted")
# a keyspace name YSQL and YCQL both accept without quoting (the drill's own names must never need quotes)
KEYSPACE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

Runner = t.Callable[[t.List[str], str, t.Dict[str, str]], t.Tuple[int, str, str]]


class DrillError(Exception):
    """The drill cannot go on: one clear line (no secret)."""


def scratch_name(prefix: str, keyspace: str, when: float) -> str:
    """``<prefix><keyspace>_<yyyymmddhhmm>`` (UTC), cut to 63 characters (a PostgreSQL identifier)."""
    stamp = time.strftime("%Y%m%d%H%M", time.gmtime(when))
    base = re.sub(r"[^a-z0-9_]", "_", ("%s%s" % (prefix, keyspace)).lower())
    return "%s_%s" % (base[:63 - len(stamp) - 1], stamp)


def check_keyspace_name(name: str) -> str | None:
    if not KEYSPACE_RE.match(name or ""):
        return "scratch keyspace %r must match %s (lower case, no quoting needed)" % (name, KEYSPACE_RE.pattern)
    return None


def is_full(backup: dict[str, t.Any]) -> bool:
    """A full backup (not an incremental): its base is itself (BackupResp.commonBackupInfo or Backup)."""
    common = backup.get("commonBackupInfo") or backup
    base = common.get("baseBackupUUID") or (common.get("backupInfo") or {}).get("baseBackupUUID")
    own = common.get("backupUUID")
    return not base or not own or str(base) == str(own)


def keyspaces_of(full: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """[{keyspace, backup_type, location, tables}] of a Backup (GET backups/{b}: backupInfo.backupList)."""
    info = full.get("backupInfo") or {}
    out = []
    for sub in info.get("backupList") or [info]:
        if not isinstance(sub, dict) or not sub.get("storageLocation"):
            continue
        out.append({"keyspace": str(sub.get("keyspace") or ""),
                    "backup_type": str(sub.get("backupType") or info.get("backupType") or YSQL),
                    "location": str(sub["storageLocation"]),
                    "tables": list(sub.get("tableNameList") or [])})
    return out


def restore_body(target_universe: str, full: dict[str, t.Any], targets: t.Sequence[dict[str, t.Any]],
                 parallelism: int) -> dict[str, t.Any]:
    """RestoreBackupParams: the category is sent explicitly (its form default is the script's; Terraform's
    yba_restore does not send it, API-CAPABILITIES 8.1)."""
    info = full.get("backupInfo") or {}
    return {
        "universeUUID": target_universe,
        "storageConfigUUID": full.get("storageConfigUUID") or info.get("storageConfigUUID"),
        "category": bv.category_of(full) or "YB_CONTROLLER",
        "parallelism": int(parallelism),
        "actionType": "RESTORE",
        "backupStorageInfoList": [
            dict({"backupType": k["backup_type"], "keyspace": k["target"], "storageLocation": k["location"],
                  "sse": bool(info.get("sse", False)), "useTablespaces": bool(info.get("useTablespaces", False))},
                 **({"tableNameList": k["tables"]} if k["backup_type"] == YCQL and k["tables"] else {}))
            for k in targets],
    }


def tables_by_keyspace(tables: t.Iterable[dict[str, t.Any]]) -> dict[str, list[dict[str, t.Any]]]:
    """TableInfoResp list -> {keyspace: [{table, schema, uuid, type, size_bytes}]}: user tables only
    (``relationType`` USER_TABLE_RELATION; indexes, system tables, materialized views and the colocation parent
    tables are not the keyspace's data, RelationType of master_types.proto)."""
    out: dict[str, list[dict[str, t.Any]]] = {}
    for tb in tables:
        if not isinstance(tb, dict) or tb.get("relationType") != "USER_TABLE_RELATION":
            continue
        out.setdefault(str(tb.get("keySpace") or ""), []).append({
            "table": str(tb.get("tableName") or ""), "schema": str(tb.get("pgSchemaName") or ""),
            "uuid": str(tb.get("tableUUID") or ""), "type": str(tb.get("tableType") or ""),
            "size_bytes": tb.get("sizeBytes")})
    return out


def table_label(tb: dict[str, t.Any]) -> str:
    """The name a table's row count is reported under: ``table`` in the ``public`` schema, else ``schema.table``."""
    schema = tb.get("schema") or ""
    return tb["table"] if schema in ("", "public") else "%s.%s" % (schema, tb["table"])


def row_count_sql(tables: t.Sequence[dict[str, t.Any]]) -> str:
    """One query, one JSON object {label: rows} (exact counts: a drill proves the data is there); each table is
    named ``"schema"."table"`` (identifier quoting), so no search_path decides which table is counted."""
    if not tables:
        return "SELECT '{}'::json;\n"
    parts = ", ".join("%s, (SELECT count(*) FROM %s)" % (
        _metadb.quote_literal(table_label(tb)),
        ("%s.%s" % (_metadb.quote_ident(tb["schema"]), _metadb.quote_ident(tb["table"])) if tb.get("schema")
         else _metadb.quote_ident(tb["table"]))) for tb in tables)
    return "SELECT json_build_object(%s);\n" % parts


# --------------------------------------------------------------------------------------------- SQL connection

def sql_connection(ysql: dict[str, t.Any] | None) -> _metadb.Connection | None:
    """The SQL connection to the target universe (None when not given): psql or ysqlsh from ``psql_path``, else
    ``ysqlsh``/``psql`` on PATH, else YBA's bundled client."""
    if not ysql or not ysql.get("host"):
        return None
    path = ysql.get("psql_path") or shutil.which("ysqlsh") or shutil.which("psql") or bundled_psql()
    if os.path.isdir(path):
        path = os.path.join(path, "psql")
    if not os.access(path, os.X_OK):
        raise DrillError("no SQL client at %s; set ysql.psql_path" % path)
    return _metadb.Connection(bin_dir=os.path.dirname(path), psql=path, host=str(ysql["host"]),
                              port=int(ysql.get("port") or 5433), user=str(ysql.get("user") or "yugabyte"),
                              database=str(ysql.get("maintenance_db") or "yugabyte"),
                              password=ysql.get("password"), connect_timeout=int(ysql.get("connect_timeout") or 10))


def bundled_psql() -> str:
    """YBA's own psql (speaks to YSQL too) from the detected install layout, as the metadata DB modules find it
    (yba-ctl's installRoot, a Replicated host); the default layout's path when nothing is detected."""
    pgsql_bin = _layout.detect("/").pgsql_bin or "/opt/yugabyte/software/active/pgsql/bin"
    return os.path.join(pgsql_bin, "psql")


def run_sql(conn: _metadb.Connection, runner: Runner, database: str, sql: str) -> str:
    args = [conn.psql, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"] + conn.conn_args() + ["-d", database, "-f", "-"]
    rc, out, err = runner(args, sql, conn.env())
    if rc != 0:
        text = " ".join((err or out or "exit %d" % rc).strip().split())
        raise DrillError("SQL on %s:%d/%s failed: %s" % (conn.host, conn.port, database, text[:400]))
    return out


# --------------------------------------------------------------------------------------------- the drill

class Drill:
    """One drill: plan (read-only), then run (restore, wait, verify, clean up). Fills ``self.result``."""

    def __init__(self, client: _api.YBAClient, params: dict[str, t.Any],
                 verifier: t.Callable[[dict[str, t.Any]], dict[str, t.Any]],
                 sql: _metadb.Connection | None = None, runner: Runner | None = None,
                 clock: t.Callable[[], float] = time.time, sleep: t.Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.p = params
        self.verifier = verifier
        self.sql = sql
        self.runner = runner
        self.clock = clock
        self.sleep = sleep
        self._universes: list[dict[str, t.Any]] | None = None
        self._kss: list[dict[str, t.Any]] = []
        self._absent_before: set[str] = set()
        self.result: dict[str, t.Any] = {
            "universe": None, "universe_uuid": None, "target_universe": None, "target_universe_uuid": None,
            "backup": None, "skipped_backups": [], "keyspaces": [], "preflight": None, "task_uuid": None,
            "restore_uuid": None, "restore_state": None, "task_error": None, "tables": [], "row_counts": {},
            "cleaned_up": False, "cleanup_error": None, "left_behind": [], "cleanup_note": None, "restored": False,
            "durations": {}, "rto_seconds": None, "verified": False,
        }

    # ------------------------------------------------------------------ reading
    def universe(self, ref: str) -> dict[str, t.Any]:
        if self._universes is None:
            self._universes = self.client.get(self.client.cpath("universes")) or []
        unis = self._universes
        found = next((u for u in unis if ref in (u.get("name"), u.get("universeUUID"))), None)
        if found is None:
            raise DrillError("universe %s not found (known: %s)" % (ref, ", ".join(sorted(
                str(u.get("name")) for u in unis)) or "none"))
        return found

    def tables(self, universe_uuid: str) -> dict[str, list[dict[str, t.Any]]]:
        return tables_by_keyspace(self.client.get(self.client.cpath("universes/%s/tables" % universe_uuid)) or [])

    def candidates(self, universe_uuid: str) -> t.Iterator[dict[str, t.Any]]:
        query = {"filter": {"states": ["Completed"], "universeUUIDList": [universe_uuid], "keyspaceList": [],
                            "scheduleUUIDList": [], "storageConfigUUIDList": [], "universeNameList": [],
                            "onlyShowDeletedUniverses": False, "onlyShowDeletedConfigs": False},
                 "sortBy": "createTime", "direction": "DESC", "offset": 0, "needTotalCount": False}
        limit = min(50, 2 * int(self.p.get("max_candidates") or 5))  # increments are skipped: read a few more
        for backup in self.client.paged(self.client.cpath("backups/page"), query, limit=limit):
            if is_full(backup):
                yield backup

    def choose(self, universe_uuid: str) -> dict[str, t.Any]:
        """The backup to drill, read in full (GET backups/{b}) and verified in the bucket: ``backup_uuid`` (a
        dangling one fails the drill unless ``verify`` is off), else the newest verified full backup among the
        ``max_candidates`` newest; unverified ones are listed in ``skipped_backups``."""
        if self.p.get("backup_uuid"):
            full = self.client.get(self.client.cpath("backups/%s" % self.p["backup_uuid"]))
            if str(full.get("state")) != "Completed":
                raise DrillError("backup %s is %s, not Completed" % (self.p["backup_uuid"], full.get("state")))
            if self.p.get("verify", True):
                check = self.verifier(full)
                if not check.get("verified"):
                    self.result["backup"] = self.describe(full, check)
                    raise DrillError("backup %s is dangling: %s; its objects are not in the bucket, a restore cannot "
                                     "succeed" % (self.p["backup_uuid"], check.get("problem")))
                return self.describe(full, check)
            return self.describe(full, None)
        tried = 0
        for backup in self.candidates(universe_uuid):
            if tried >= int(self.p.get("max_candidates") or 5):
                break
            tried += 1
            b_uuid = (backup.get("commonBackupInfo") or {}).get("backupUUID")
            full = self.client.get(self.client.cpath("backups/%s" % b_uuid))
            check = self.verifier(full) if self.p.get("verify", True) else None
            if check is None or check.get("verified"):
                return self.describe(full, check)
            self.result["skipped_backups"].append({"backup_uuid": b_uuid, "problem": check.get("problem")})
        raise DrillError("no verified full backup among the %d newest Completed backups of %s%s" % (
            tried, self.result["universe"], "".join("; %s: %s" % (s["backup_uuid"], s["problem"])
                                                    for s in self.result["skipped_backups"][:3])))

    @staticmethod
    def describe(full: dict[str, t.Any], check: dict[str, t.Any] | None) -> dict[str, t.Any]:
        info = full.get("backupInfo") or {}
        return {"backup_uuid": full.get("backupUUID") or info.get("backupUuid"), "created": full.get("createTime"),
                "completed": full.get("completionTime"), "category": bv.category_of(full),
                "storage_config_uuid": full.get("storageConfigUUID") or info.get("storageConfigUUID"),
                "universe_uuid": full.get("universeUUID") or info.get("universeUUID"),
                "size_bytes": info.get("backupSizeInBytes"),
                "verified": None if check is None else bool(check.get("verified")),
                "verify_problem": None if check is None else check.get("problem"),
                "_full": full}

    # ------------------------------------------------------------------ plan
    def plan(self) -> None:
        r = self.result
        src = self.universe(self.p["universe"])
        r["universe"], r["universe_uuid"] = src.get("name"), src.get("universeUUID")
        tgt = self.universe(self.p["target_universe"]) if self.p.get("target_universe") else src
        r["target_universe"], r["target_universe_uuid"] = tgt.get("name"), tgt.get("universeUUID")
        r["backup"] = self.choose(src["universeUUID"])
        full = r["backup"]["_full"]
        kss = keyspaces_of(full)
        if self.p.get("keyspaces"):
            wanted = set(self.p["keyspaces"])
            kss = [k for k in kss if k["keyspace"] in wanted]
            if not kss:
                raise DrillError("backup %s holds none of the keyspaces %s" % (
                    r["backup"]["backup_uuid"], ", ".join(sorted(wanted))))
        if not kss:
            raise DrillError("backup %s names no keyspace location" % r["backup"]["backup_uuid"])
        now = self.clock()
        given = self.p.get("scratch_keyspace")
        if given and len(kss) > 1:
            raise DrillError("scratch_keyspace names one keyspace but backup %s holds %d (%s); use keyspaces or "
                             "scratch_prefix" % (r["backup"]["backup_uuid"], len(kss),
                                                 ", ".join(k["keyspace"] for k in kss)))
        for k in kss:
            k["target"] = given or scratch_name(self.p.get("scratch_prefix") or "drill_", k["keyspace"], now)
            problem = check_keyspace_name(k["target"])
            if problem:
                raise DrillError(problem)
        if len({k["target"] for k in kss}) != len(kss):
            raise DrillError("two keyspaces of backup %s map to the same scratch name" % r["backup"]["backup_uuid"])
        if self.p.get("cleanup", True) and any(k["backup_type"] == YSQL for k in kss) and self.sql is None:
            raise DrillError("cleanup of a YSQL scratch keyspace needs the ysql connection (YBA's API cannot drop a "
                             "YSQL database); give ysql, or cleanup=false to keep it")
        r["keyspaces"] = [{"source": k["keyspace"], "target": k["target"], "backup_type": fr.api_name(k["backup_type"]),
                           "location": k["location"], "tables": [], "restored": False, "dropped": False,
                           "left_behind": False} for k in kss]
        self._kss = kss
        # a keyspace without user tables is not in the tables listing: a YSQL one is looked up in pg_database too
        present = self.present(tgt["universeUUID"])
        taken = [k["target"] for k in kss if k["target"] in present]
        self._absent_before = {k["target"] for k in kss} - present
        if taken:
            raise DrillError("keyspace %s already exists on universe %s; refusing to restore over it" % (
                ", ".join(taken), tgt.get("name")))

    # ------------------------------------------------------------------ run
    def run(self) -> None:
        r = self.result
        full = r["backup"]["_full"]
        target_uuid = r["target_universe_uuid"]
        started = self.clock()
        locations = [k["location"] for k in self._kss]
        r["preflight"] = self.client.post(self.client.cpath("restore/preflight"), {
            "backupLocations": locations, "storageConfigUUID": full.get("storageConfigUUID") or (
                full.get("backupInfo") or {}).get("storageConfigUUID"),
            "universeUUID": target_uuid, "backupUUID": r["backup"]["backup_uuid"]})
        body = restore_body(target_uuid, full, self._kss, int(self.p.get("parallelism") or 8))
        if (r["preflight"] or {}).get("backupCategory"):
            body["category"] = r["preflight"]["backupCategory"]
        try:
            task = self.client.post(self.client.cpath("restore"), body)
        except _api.YBAValidationError as err:
            raise DrillError("YBA refused the restore: %s" % err)
        r["task_uuid"] = task.get("taskUUID")
        # from here on a scratch keyspace may exist on the target universe: whatever fails (the task, its wait, the
        # check), it is dropped when cleanup is on - and only then - and the first failure stays the drill's error
        try:
            self.restore_and_verify(target_uuid)
        except BaseException:
            self.finish(target_uuid, started, failing=True)
            raise
        self.finish(target_uuid, started, failing=False)

    def restore_and_verify(self, target_uuid: str) -> None:
        r = self.result
        t0 = self.clock()
        try:
            self.client.wait_for_task(r["task_uuid"], float(self.p.get("wait_timeout") or 3600),
                                      float(self.p.get("poll_interval") or 2))
        except _api.YBATaskFailed:
            r["task_error"] = self.failed_subtasks(r["task_uuid"])
            self.read_restore(target_uuid)
            raise DrillError("the restore of backup %s failed in YBA (task %s): %s" % (
                r["backup"]["backup_uuid"], r["task_uuid"], r["task_error"] or "no error given"))
        r["durations"]["restore_seconds"] = round(self.clock() - t0, 3)
        r["rto_seconds"] = r["durations"]["restore_seconds"]
        r["restored"] = True
        self.read_restore(target_uuid)
        t1 = self.clock()
        self.verify(target_uuid)
        r["durations"]["verify_seconds"] = round(self.clock() - t1, 3)

    def finish(self, target_uuid: str, started: float, failing: bool) -> None:
        """Clean up (with ``cleanup``) after the restore was sent. While another failure is under way a cleanup
        failure is only recorded (``cleanup_error``): the first failure is the one reported."""
        r = self.result
        if self.p.get("cleanup", True):
            t2 = self.clock()
            try:
                self.cleanup(target_uuid)
            except (DrillError, _api.YBAError) as err:
                r["cleanup_error"] = str(err)[:400]
                if not failing:
                    raise DrillError("the drill passed but its cleanup failed: %s" % err)
            finally:
                r["durations"]["cleanup_seconds"] = round(self.clock() - t2, 3)
                r["durations"]["total_seconds"] = round(self.clock() - started, 3)
        else:
            try:
                self.left_in_place(target_uuid)
            except (DrillError, _api.YBAError) as err:
                r["cleanup_error"] = str(err)[:400]
                if not failing:
                    raise
            r["durations"]["total_seconds"] = round(self.clock() - started, 3)

    def failed_subtasks(self, task_uuid: str) -> str:
        try:
            answer = self.client.get(self.client.cpath("tasks/%s/failed_subtasks" % task_uuid)) or {}
        except _api.YBAError as err:
            return "(failed_subtasks unreadable: %s)" % err
        errors = [str(s.get("errorString")) for s in answer.get("failedSubTasks") or []
                  if isinstance(s, dict) and s.get("errorString")]
        return "; ".join(dict.fromkeys(errors))[:600]

    def read_restore(self, target_uuid: str) -> None:
        """The Restore of this task on restore/page (RestoreResp): its state and the keyspaces' states."""
        r = self.result
        query = {"filter": {"universeUUIDList": [target_uuid], "states": [], "storageConfigUUIDList": [],
                            "universeNameList": [], "sourceUniverseNameList": [],
                            "onlyShowDeletedSourceUniverses": False},
                 "sortBy": "createTime", "direction": "DESC", "offset": 0, "needTotalCount": False}
        targets = {k["target"] for k in r["keyspaces"]}
        for entity in self.client.paged(self.client.cpath("restore/page"), query, limit=20, max_items=100):
            kss = entity.get("restoreKeyspaceList") or []
            if any(k.get("taskUUID") == r["task_uuid"] or k.get("targetKeyspace") in targets for k in kss):
                r["restore_uuid"], r["restore_state"] = entity.get("restoreUUID"), entity.get("state")
                r["restore_size_bytes"] = entity.get("restoreSizeInBytes")
                return

    def verify(self, target_uuid: str) -> dict[str, list[dict[str, t.Any]]]:
        r = self.result
        if r["restore_state"] is not None and r["restore_state"] not in RESTORE_DONE:
            raise DrillError("the restore's task succeeded but restore/page says %s" % r["restore_state"])
        listed = self.tables(target_uuid)
        missing = [k["target"] for k in r["keyspaces"] if not listed.get(k["target"])]
        if missing:
            raise DrillError("the restored keyspace %s is not listed by GET universes/%s/tables" % (
                ", ".join(missing), target_uuid))
        expected = self.p.get("expected_row_counts") or {}
        for k in r["keyspaces"]:
            k["restored"] = True
            k["tables"] = listed[k["target"]]
            for tb in k["tables"]:
                r["tables"].append(dict(tb, keyspace=k["target"], rows=None))
            if self.sql is not None and k["backup_type"] == "ysql":
                out = run_sql(self.sql, self.runner, k["target"], row_count_sql(k["tables"])).strip()
                try:
                    counts = json.loads(out or "{}")
                except ValueError:
                    raise DrillError("the row counts of %s are not JSON: %s" % (k["target"], out[:200]))
                r["row_counts"][k["target"]] = counts
                for tb in r["tables"]:
                    if tb["keyspace"] == k["target"]:
                        tb["rows"] = counts.get(table_label(tb))
        bad = []
        for name, want in expected.items():
            got = [tb["rows"] for tb in r["tables"] if name in (tb["table"], table_label(tb))]
            if not got or got[0] != int(want):
                bad.append("%s: %s rows, expected %s" % (name, got[0] if got else "no table", want))
        if bad:
            raise DrillError("row counts differ from expected_row_counts: %s" % "; ".join(bad))
        r["verified"] = True
        return listed

    def databases(self, names: t.Iterable[str]) -> set[str]:
        """Which of these YSQL databases exist (pg_database): with or without tables."""
        names = sorted(set(names))
        if self.sql is None or not names:
            return set()
        out = run_sql(self.sql, self.runner, self.sql.database,
                      "SELECT coalesce(json_agg(datname), '[]'::json) FROM pg_database WHERE datname IN %s;\n"
                      % _metadb.sql_list(names)).strip()
        try:
            return set(json.loads(out or "[]"))
        except ValueError:
            raise DrillError("pg_database answered no JSON list: %s" % out[:200])

    def present(self, target_uuid: str) -> set[str]:
        """The scratch keyspaces that exist on the target: listed with tables, or a YSQL database (with ``ysql``).
        A YCQL keyspace without tables cannot be seen through YBA's API."""
        listed = self.tables(target_uuid)
        found = {k["target"] for k in self._kss if k["target"] in listed}
        return found | self.databases(k["target"] for k in self._kss if k["backup_type"] == YSQL)

    def cleanup(self, target_uuid: str) -> None:
        """Drop what the drill created - a scratch keyspace absent before the restore and present now: YSQL over
        SQL (DROP DATABASE), YCQL by its tables through the API (DELETE universes/{u}/tables/{t},
        TablesController.drop). YBA's API has no call that drops a YCQL keyspace, so the emptied YCQL keyspace
        stays: it is reported in ``left_behind`` and ``cleaned_up`` is false. Then what was dropped must be gone."""
        r = self.result
        listed = self.tables(target_uuid)
        dbs = self.databases(k["target"] for k in self._kss if k["backup_type"] == YSQL)
        notes = []
        for k in r["keyspaces"]:
            name = k["target"]
            if name not in self._absent_before:  # never reached (plan refuses), but never drop what was there
                k["left_behind"] = True
                notes.append("%s existed before the drill, not dropped" % name)
                continue
            if k["backup_type"] == "ysql":
                if name not in dbs and name not in listed:
                    continue  # the restore did not create it
                if self.sql is None:
                    k["left_behind"] = True
                    notes.append("%s: no ysql connection to drop it" % name)
                    continue
                run_sql(self.sql, self.runner, self.sql.database, "DROP DATABASE IF EXISTS %s;\n" % _metadb.quote_ident(name))
                k["dropped"] = True
            else:
                for tb in listed.get(name) or []:
                    task = self.client.delete(self.client.cpath("universes/%s/tables/%s" % (target_uuid, tb["uuid"])))
                    if isinstance(task, dict) and task.get("taskUUID"):
                        self.client.wait_for_task(task["taskUUID"], float(self.p.get("wait_timeout") or 3600),
                                                  float(self.p.get("poll_interval") or 2))
                k["left_behind"] = True
                notes.append("YCQL keyspace %s%s: YBA's API drops tables, not keyspaces; drop it with ycqlsh: DROP "
                             "KEYSPACE %s" % (name, " (its tables dropped)" if listed.get(name) else " may remain", name))
        still = self.present(target_uuid) & {k["target"] for k in r["keyspaces"] if k["dropped"]}
        r["left_behind"] = [k["target"] for k in r["keyspaces"] if k["left_behind"]]
        r["cleanup_note"] = "; ".join(notes) or None
        r["cleaned_up"] = False
        if still:
            raise DrillError("the scratch keyspace %s still exists after the cleanup" % ", ".join(sorted(still)))
        r["cleaned_up"] = not r["left_behind"]

    def left_in_place(self, target_uuid: str) -> None:
        """With cleanup=false: which scratch keyspaces stay (a YCQL one is not visible without tables: once a
        restore was sent it is counted as left)."""
        r = self.result
        present = self.present(target_uuid)
        for k in r["keyspaces"]:
            k["left_behind"] = k["target"] in present or k["backup_type"] == "ycql"
        r["left_behind"] = [k["target"] for k in r["keyspaces"] if k["left_behind"]]
        r["cleanup_note"] = "cleanup=false: left in place" if r["left_behind"] else None

    # ------------------------------------------------------------------ outputs
    def public(self) -> dict[str, t.Any]:
        out = dict(self.result)
        if out.get("backup"):
            out["backup"] = {k: v for k, v in out["backup"].items() if not k.startswith("_")}
        return out


def record(result: dict[str, t.Any], ok: bool, check_mode: bool, api_calls: int, error: str | None = None
           ) -> dict[str, t.Any]:
    """The run record (no secret): one summary line and the figures an operator trends."""
    backup = result.get("backup") or {}
    targets = ", ".join(k["target"] for k in result.get("keyspaces") or []) or "-"
    if error:
        summary = "RESTORE DRILL FAILED - %s: %s" % (result.get("universe") or "?", error)
    elif check_mode:
        summary = "RESTORE DRILL PLANNED - backup %s of %s into %s on %s" % (
            backup.get("backup_uuid"), result.get("universe"), targets, result.get("target_universe"))
    else:
        summary = "RESTORE DRILL OK - backup %s of %s restored into %s in %.1f s%s" % (
            backup.get("backup_uuid"), result.get("universe"), targets, result.get("rto_seconds") or 0.0,
            ", cleaned up" if result.get("cleaned_up") else ", left in place: %s" % (
                ", ".join(result.get("left_behind") or []) or "-"))
    return {"summary": summary[:500], "ok": ok, "check_mode": check_mode, "universe": result.get("universe"),
            "target_universe": result.get("target_universe"), "backup_uuid": backup.get("backup_uuid"),
            "scratch_keyspaces": [k["target"] for k in result.get("keyspaces") or []],
            "rto_seconds": result.get("rto_seconds"), "restore_state": result.get("restore_state"),
            "tables": len(result.get("tables") or []), "row_counts": result.get("row_counts") or {},
            "cleaned_up": bool(result.get("cleaned_up")),
            "left_behind": list(result.get("left_behind") or []),
            "skipped_backups": [s["backup_uuid"] for s in result.get("skipped_backups") or []],
            "api_calls": api_calls}
