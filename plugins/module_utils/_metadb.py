# Private module_util: inspect and repair YBA's metadata DB (yugaware) through the host's own psql/pg_dump.
#
# No Python driver is needed on the YBA host: every query is ONE psql invocation that returns JSON
# (``-XAt -v ON_ERROR_STOP=1``), so a large table never costs one round trip per row. The SQL builders
# and the planner are pure functions (unit-tested directly); ``Psql`` runs them through a runner
# callable (AnsibleModule.run_command in modules, subprocess in tests and the benchmark).
from __future__ import annotations

import json
import os
import re
import shutil
import time
import typing as t
from dataclasses import dataclass, field

from ansible_collections.yba.remediation.plugins.module_utils import _layout, _service

# Backup and task states as YBA stores them (FACTS.md section 3). "In Progress" has a space.
STALE_BACKUP_STATES = ("In Progress", "Stopping", "DeleteInProgress")
INCOMPLETE_TASK_STATES = ("Created", "Initializing", "Running", "Abort")
EXPIRABLE_STATES = ("Completed", "Failed", "Stopped", "Skipped")  # Backup.COMPLETED_STATES, what the GC deletes
# BackupGarbageCollector moves a backup it cannot delete (storage config invalid or unreachable, retries used up)
# to FailedToDelete and never picks it up again: still there, never retried
FAILED_TO_DELETE = "FailedToDelete"
REPAIR_KINDS = ("reindex", "stale_tasks", "stale_backups", "vacuum")  # also the order they run in
PLATFORM_RESTARTED = "Platform restarted."
# task_info layouts: "details" (details json: the task params + errorString), "task_params" (newer YBA: task_params
# json = the params, details json NULL = models.helpers.TaskDetails whose error is a YBAError)
TASK_LAYOUTS = ("details", "task_params")
AMCHECK_GUC = "yba_remediation.amcheck"

Runner = t.Callable[[t.List[str], str, t.Dict[str, str]], t.Tuple[int, str, str]]


class MetadbError(Exception):
    """One clear, secret-free message about why the metadata DB could not be used."""


def metadb_argument_spec() -> t.Dict[str, t.Any]:
    """Connection options shared by metadb_info and metadb_repair (doc fragment yba.remediation.metadb)."""
    return dict(
        host_root=dict(type="path", default="/"),
        login_host=dict(type="str", default="localhost"),
        login_port=dict(type="int"),
        login_user=dict(type="str", default="postgres"),
        login_password=dict(type="str", no_log=True),
        login_db=dict(type="str", default="yugaware"),
        psql_path=dict(type="path"),
        connect_timeout=dict(type="int", default=10),
    )


# --------------------------------------------------------------------------- SQL helpers (pure)

def quote_ident(name: str) -> str:
    return '"%s"' % name.replace('"', '""')


def quote_literal(value: str) -> str:
    return "'%s'" % value.replace("'", "''")


def sql_list(values: t.Iterable[str]) -> str:
    return "(%s)" % ", ".join(quote_literal(v) for v in values)


def qualified(name: str) -> str:
    """``schema.name`` (as returned by the info query) quoted for SQL."""
    schema, _sep, rel = name.rpartition(".")
    return "%s.%s" % (quote_ident(schema or "public"), quote_ident(rel))


# Reads go to the heap, the authority, while an index may be corrupt. No merge joins either: the planner reads the
# ends of an index to cost a merge join on its column (get_actual_variable_range), at plan time, corrupt or not.
SESSION_SQL = ("SET jit = off;\nSET enable_indexscan = off;\nSET enable_indexonlyscan = off;\nSET enable_bitmapscan = off;\n"
               "SET enable_mergejoin = off;\n")


def live_task_condition(alias: str, stale_age: int, stale_tasks_repaired: bool) -> str:
    """SQL condition: task row ``alias`` is a live (incomplete) task.

    When the stale_tasks repair runs in the same run, an incomplete task older than ``stale_age`` is
    not live: it is about to be marked Failure, so its backup is stale too (keeps the run idempotent).
    """
    cond = "%s.task_state IN %s" % (alias, sql_list(INCOMPLETE_TASK_STATES))
    if stale_tasks_repaired:
        cond += " AND %s.update_time >= now() - interval '%d seconds'" % (alias, int(stale_age))
    return cond


def stale_backup_where(stale_age: int, stale_tasks_repaired: bool = False, alias: str = "b") -> str:
    return ("%s.state IN %s AND NOT EXISTS (SELECT 1 FROM task_info t WHERE t.uuid = %s.task_uuid AND %s)"
            % (alias, sql_list(STALE_BACKUP_STATES), alias,
               live_task_condition("t", stale_age, stale_tasks_repaired)))


def stale_tasks_cte(stale_age: int) -> str:
    """CTE ``stale(uuid, top)``: incomplete top-level tasks not updated for ``stale_age`` seconds,
    their incomplete subtasks, and incomplete subtasks whose parent is gone or already finished."""
    inc = sql_list(INCOMPLETE_TASK_STATES)
    return (
        "WITH RECURSIVE stale(uuid, top) AS (\n"
        "  SELECT ti.uuid, ti.parent_uuid IS NULL FROM task_info ti\n"
        "   WHERE ti.task_state IN {inc} AND ti.update_time < now() - interval '{age} seconds'\n"
        "     AND (ti.parent_uuid IS NULL OR NOT EXISTS (SELECT 1 FROM task_info p\n"
        "          WHERE p.uuid = ti.parent_uuid AND p.task_state IN {inc}))\n"
        "  UNION\n"
        "  SELECT c.uuid, false FROM task_info c JOIN stale s ON c.parent_uuid = s.uuid\n"
        "   WHERE c.task_state IN {inc}\n"
        ")"
    ).format(inc=inc, age=int(stale_age))


# --------------------------------------------------------------------------- info SQL (pure)

WRITES = {"stale_tasks": ("task_info", "customer_task"), "stale_backups": ("backup",)}


def index_check_sql(install: bool, heapallindexed: bool, tables: t.Optional[t.Sequence[str]] = None) -> str:
    """A DO block that checks every valid btree index of the public schema (or of ``tables``), catching each
    index's error, and leaves the JSON result in a session setting (read by the following query).

    With the ``amcheck`` extension in the database (or installed here when ``install`` and the server ships it)
    each index gets ``bt_index_check``. YBA never creates amcheck, so without it each index is read IN FULL
    through a forced index scan (ORDER BY its keys, sequential scans and sorts off) and its row count compared with
    a sequential scan of the table: a damaged page fails the read ("invalid page in block", "could not read
    block"), a lost entry changes the count. One REPEATABLE READ snapshot, so concurrent writes cannot skew the
    counts. An index the planner will not scan in full is listed in ``skipped``, never silently passed.
    The block changes nothing but session settings (and installs amcheck only when asked)."""
    return r"""BEGIN ISOLATION LEVEL REPEATABLE READ%(ro)s;
DO $idxcheck$
DECLARE
  ext_schema text;
  installed boolean := false;
  method text;
  note text := NULL;
  idx record;
  corrupt jsonb := '[]'::jsonb;
  skipped jsonb := '[]'::jsonb;
  n integer := 0;
  keys text;
  q text;
  plan text;
  n_index bigint;
  n_heap bigint;
BEGIN
  SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'amcheck';
  IF ext_schema IS NULL AND %(install)s THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS amcheck;
      installed := true;
      SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
       WHERE e.extname = 'amcheck';
    EXCEPTION WHEN OTHERS THEN
      note := 'could not install the amcheck extension: ' || SQLERRM;
    END;
  END IF;
  IF ext_schema IS NOT NULL THEN
    method := 'amcheck';
  ELSE
    method := 'index_scan';
    note := coalesce(note, 'the amcheck extension is not installed in this database')
            || '; indexes checked by full index scans compared with the table instead';
    PERFORM set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
            set_config('enable_sort', 'off', true), set_config('enable_indexscan', 'on', true),
            set_config('enable_indexonlyscan', 'on', true), set_config('max_parallel_workers_per_gather', '0', true);
  END IF;
  FOR idx IN
    SELECT c.oid, c.relname, n.nspname || '.' || c.relname AS index_name, tn.nspname AS table_schema,
           t.relname AS table_rel, tn.nspname || '.' || t.relname AS table_name, i.indnkeyatts, i.indoption,
           pg_get_expr(i.indpred, i.indrelid) AS pred
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace tn ON tn.oid = t.relnamespace
      JOIN pg_am am ON am.oid = c.relam
     WHERE am.amname = 'btree' AND tn.nspname = 'public' AND c.relpersistence <> 't'
       AND i.indisvalid AND i.indisready%(only)s
     ORDER BY 3
  LOOP
    BEGIN
      IF method = 'amcheck' THEN
        EXECUTE format('SELECT %%I.bt_index_check(index => $1, heapallindexed => $2)', ext_schema)
          USING idx.oid, %(heap)s;
      ELSE
        SELECT string_agg(pg_get_indexdef(idx.oid, k, true)
                 || CASE WHEN idx.indoption[k - 1] & 1 = 1 THEN ' DESC' ELSE ' ASC' END
                 || CASE WHEN idx.indoption[k - 1] & 2 = 2 THEN ' NULLS FIRST' ELSE ' NULLS LAST' END, ', ' ORDER BY k)
          INTO keys FROM generate_series(1, idx.indnkeyatts) k;
        q := format('SELECT count(*) FROM (SELECT 1 FROM %%I.%%I%%s ORDER BY %%s) s', idx.table_schema, idx.table_rel,
                    CASE WHEN idx.pred IS NULL THEN '' ELSE ' WHERE ' || idx.pred END, keys);
        EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' || q INTO plan;
        IF position(('"Index Name": ' || to_json(idx.relname::text)::text) IN plan) = 0 THEN
          skipped := skipped || jsonb_build_object('index', idx.index_name, 'table', idx.table_name,
                                                   'reason', 'the planner will not scan this index in full');
          CONTINUE;
        END IF;
        EXECUTE q INTO n_index;
        PERFORM set_config('enable_seqscan', 'on', true), set_config('enable_indexscan', 'off', true),
                set_config('enable_indexonlyscan', 'off', true);
        EXECUTE format('SELECT count(*) FROM %%I.%%I%%s', idx.table_schema, idx.table_rel,
                       CASE WHEN idx.pred IS NULL THEN '' ELSE ' WHERE ' || idx.pred END) INTO n_heap;
        PERFORM set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'on', true),
                set_config('enable_indexonlyscan', 'on', true);
        IF n_index <> n_heap THEN
          corrupt := corrupt || jsonb_build_object('index', idx.index_name, 'table', idx.table_name,
            'error', format('a full scan of the index returns %%s rows, the table has %%s', n_index, n_heap));
        END IF;
      END IF;
    EXCEPTION WHEN OTHERS THEN
      corrupt := corrupt || jsonb_build_object('index', idx.index_name, 'table', idx.table_name,
                                               'error', SQLERRM);
    END;
    n := n + 1;
  END LOOP;
  PERFORM set_config('%(guc)s', json_build_object('checked', true, 'method', method, 'reason', note,
    'indexes_checked', n, 'corrupt', corrupt, 'skipped', skipped, 'installed', installed)::text, false);
END
$idxcheck$;
COMMIT;
""" % {"install": "true" if install else "false", "heap": "true" if heapallindexed else "false",
       "guc": AMCHECK_GUC, "only": "" if tables is None else " AND t.relname IN %s" % sql_list(tables or [""]),
       "ro": "" if install else " READ ONLY"}


def _age(expr: str) -> str:
    return "floor(extract(epoch FROM now() - %s))::bigint" % expr


def info_sql(stale_age: int = 3600, sample_size: int = 10, amcheck: bool = True, install_amcheck: bool = False,
             heapallindexed: bool = False) -> str:
    """The whole read-only inspection: one psql invocation, one JSON line on stdout."""
    n = int(sample_size)
    stale = stale_backup_where(stale_age)
    live = "b.state IN %s AND NOT (%s)" % (sql_list(STALE_BACKUP_STATES), stale_backup_where(stale_age))
    expired = "((b.expiry < now() AND b.state IN %s) OR b.state = %s)" % (
        sql_list(EXPIRABLE_STATES), quote_literal(FAILED_TO_DELETE))
    orphan_u = "b.universe_uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM universe u WHERE u.universe_uuid = b.universe_uuid)"
    orphan_s = ("b.storage_config_uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customer_config cc "
                "WHERE cc.config_uuid = b.storage_config_uuid)")
    btime = "coalesce(b.completion_time, b.update_time, b.create_time)"
    parts = [SESSION_SQL]
    if amcheck:
        parts.append(index_check_sql(install_amcheck, heapallindexed))
    amcheck_expr = ("coalesce(current_setting('%s', true), '{}')::json" % AMCHECK_GUC if amcheck else
                    "json_build_object('checked', false, 'method', NULL, 'reason', 'index check disabled "
                    "(amcheck=false)', 'indexes_checked', 0, 'corrupt', '[]'::json, 'skipped', '[]'::json, "
                    "'installed', false)")

    def sched(status: str) -> str:
        return ("(SELECT json_build_object('count', count(*), 'sample', coalesce((SELECT json_agg(x) FROM ("
                "SELECT s2.schedule_uuid AS uuid, s2.schedule_name AS name, s2.failure_count FROM schedule s2 "
                "WHERE s2.status = %s ORDER BY s2.failure_count DESC, s2.schedule_name LIMIT %d) x), '[]'::json)) "
                "FROM schedule s WHERE s.status = %s)" % (quote_literal(status), n, quote_literal(status)))

    parts.append("""SELECT json_build_object(
 'reachable', true,
 'error', NULL,
 'server_version', current_setting('server_version'),
 'database_size_bytes', pg_database_size(current_database()),
 'dump_estimate_bytes', ({dump_estimate}),
 'tables', (SELECT coalesce(json_agg(x ORDER BY x.size_bytes DESC), '[]'::json) FROM (
    SELECT st.relname AS name, pg_total_relation_size(st.relid) AS size_bytes, st.n_live_tup AS live_tuples,
           st.n_dead_tup AS dead_tuples,
           CASE WHEN st.n_live_tup + st.n_dead_tup = 0 THEN 0
                ELSE round(st.n_dead_tup::numeric / (st.n_live_tup + st.n_dead_tup), 4) END AS dead_ratio
      FROM pg_stat_user_tables st WHERE st.schemaname = 'public') x),
 'amcheck', {amcheck},
 'failed_migrations', (SELECT coalesce(json_agg(json_build_object('version', version, 'description', description,
    'script', script) ORDER BY installed_rank), '[]'::json) FROM schema_version WHERE NOT success),
 'stale_backups', (SELECT json_build_object('count', count(*),
    'oldest_age_seconds', {age_create},
    'by_state', coalesce((SELECT json_object_agg(state, c) FROM (SELECT b.state, count(*) c FROM backup b
                          WHERE {stale} GROUP BY b.state) y), '{{}}'::json),
    'sample', coalesce((SELECT json_agg(x.backup_uuid) FROM (SELECT b.backup_uuid FROM backup b WHERE {stale}
                        ORDER BY b.create_time LIMIT {n}) x), '[]'::json))
    FROM backup b WHERE {stale}),
 'live_backups', (SELECT json_build_object('count', count(*),
    'sample', coalesce((SELECT json_agg(x.backup_uuid) FROM (SELECT b.backup_uuid FROM backup b WHERE {live}
                        ORDER BY b.create_time LIMIT {n}) x), '[]'::json))
    FROM backup b WHERE {live}),
 'stale_tasks', (SELECT json_build_object('count', count(*), 'top_level', count(*) FILTER (WHERE s.top),
    'oldest_age_seconds', {age_task},
    'sample', coalesce((SELECT json_agg(x.uuid) FROM (SELECT s2.uuid FROM stale_t s2 JOIN task_info t2
                        ON t2.uuid = s2.uuid ORDER BY s2.top DESC, t2.update_time LIMIT {n}) x), '[]'::json))
    FROM stale_t s JOIN task_info ti ON ti.uuid = s.uuid),
 'schedules', json_build_object('paused', {paused}, 'error', {error}),
 'expired_not_deleted', (SELECT json_build_object('count', count(*),
    'failed_to_delete', count(*) FILTER (WHERE b.state = {ftd}),
    'oldest_expiry_age_seconds', {age_expiry},
    'sample', coalesce((SELECT json_agg(x.backup_uuid) FROM (SELECT b.backup_uuid FROM backup b WHERE {expired}
                        ORDER BY b.expiry LIMIT {n}) x), '[]'::json))
    FROM backup b WHERE {expired}),
 'orphans', (SELECT json_build_object('count', count(*),
    'missing_universe', count(*) FILTER (WHERE {orphan_u}),
    'missing_storage_config', count(*) FILTER (WHERE {orphan_s}),
    'sample', coalesce((SELECT json_agg(x.backup_uuid) FROM (SELECT b.backup_uuid FROM backup b
                        WHERE ({orphan_u}) OR ({orphan_s}) ORDER BY b.create_time LIMIT {n}) x), '[]'::json))
    FROM backup b WHERE ({orphan_u}) OR ({orphan_s})),
 'backup_summary', (SELECT coalesce(json_agg(x ORDER BY x.universe_name), '[]'::json) FROM (
    SELECT coalesce(u.universe_uuid, a.universe_uuid) AS universe_uuid,
           coalesce(u.name, a.universe_name) AS universe_name,
           a.last_completed_time, coalesce(a.failed_24h, 0) AS failed_24h, a.last_failed_time,
           coalesce(a.in_progress, 0) AS in_progress
      FROM universe u FULL JOIN (
        SELECT b.universe_uuid, max(b.universe_name) AS universe_name,
               max({btime}) FILTER (WHERE b.state = 'Completed') AS last_completed_time,
               count(*) FILTER (WHERE b.state = 'Failed' AND {btime} > now() - interval '24 hours') AS failed_24h,
               max({btime}) FILTER (WHERE b.state = 'Failed' AND {btime} > now() - interval '24 hours')
                 AS last_failed_time,
               count(*) FILTER (WHERE b.state = 'In Progress') AS in_progress
          FROM backup b WHERE b.universe_uuid IS NOT NULL GROUP BY b.universe_uuid) a
        ON a.universe_uuid = u.universe_uuid) x)
) FROM (SELECT 1) one
""".format(amcheck=amcheck_expr, stale=stale, live=live, expired=expired, orphan_u=orphan_u, orphan_s=orphan_s,
           btime=btime, n=n, paused=sched("Paused"), error=sched("Error"),
           dump_estimate=DUMP_ESTIMATE_SQL.strip().rstrip(";"), ftd=quote_literal(FAILED_TO_DELETE),
           age_create=_age("min(b.create_time)"), age_task=_age("min(ti.update_time)"),
           age_expiry=_age("min(b.expiry)")))
    # the stale-task CTE is shared by two sub-selects: attach it to the final statement
    cte = stale_tasks_cte(stale_age).replace("WITH RECURSIVE stale(", "WITH RECURSIVE stale_t(").replace(
        "JOIN stale s ON", "JOIN stale_t s ON")
    parts[-1] = cte + "\n" + parts[-1].rstrip() + ";\n"
    return "".join(parts)


# --------------------------------------------------------------------------- repair planning (pure)

@dataclass
class Step:
    """One repair kind: its statements run in ONE transaction (VACUUM: one statement per table)."""

    kind: str
    statements: t.List[str]
    expected: t.Dict[str, t.Any] = field(default_factory=dict)
    transactional: bool = True

    def script(self, lock_timeout: int, isolation: str = "REPEATABLE READ") -> str:
        lines = [SESSION_SQL.rstrip("\n")]
        if self.transactional:
            lines += ["BEGIN ISOLATION LEVEL %s;" % isolation,
                      "SET LOCAL lock_timeout = '%ds';" % int(lock_timeout)]
            lines += self.statements + ["COMMIT;"]
        else:
            lines += ["SET lock_timeout = '%ds';" % int(lock_timeout)] + self.statements
        return "\n".join(lines) + "\n"


def reindex_statements(corrupt: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[str]:
    names = sorted({str(c["index"]) for c in corrupt})
    return ["REINDEX INDEX %s;" % qualified(name) for name in names]


def yba_error_json(message: str = PLATFORM_RESTARTED, code: str = "PLATFORM_RESTARTED") -> str:
    """SQL jsonb of YBA's YBAError(code, message): {code, message, originMessage = message} (models/helpers/YBAError)."""
    return "jsonb_build_object('code', %s, 'message', %s, 'originMessage', %s)" % (
        quote_literal(code), quote_literal(message), quote_literal(message))


def task_error_assignment(layout: str) -> str:
    """``details = ...``: the error a failed task gets, as the YBA of that layout writes it, only if absent.

    details layout (YBA 2.18-2.20): ``errorString`` "Platform restarted." inside details (CustomerTaskManager).
    task_params layout (newer YBA): details is models.helpers.TaskDetails, its ``error`` a YBAError
    (CustomerTaskManager.setTaskError: ``new YBAError(Code.PLATFORM_RESTARTED, "Platform restarted.")``).
    Computed in jsonb and assigned as json, so it works whether the column is json (YBA), jsonb or text.
    """
    if layout == "task_params":
        return ("details = CASE WHEN ti.details IS NULL OR json_typeof(ti.details::json) <> 'object'\n"
                "               THEN jsonb_build_object('error', {err})::json\n"
                "             WHEN coalesce(json_typeof(ti.details::json -> 'error'), 'null') = 'null'\n"
                "               THEN jsonb_set(ti.details::jsonb, '{{error}}', {err})::json\n"
                "             ELSE ti.details::json END".format(err=yba_error_json()))
    if layout != "details":
        raise MetadbError("unknown task_info layout %s" % layout)
    return ("details = CASE WHEN json_typeof(ti.details::json) = 'object'\n"
            "                  AND coalesce(json_typeof(ti.details::json -> 'errorString'), 'null') = 'null'\n"
            "             THEN jsonb_set(ti.details::jsonb, '{errorString}', to_jsonb(%s::text))::json\n"
            "             ELSE ti.details::json END" % quote_literal(PLATFORM_RESTARTED))


def stale_tasks_statements(stale_age: int, layout: str = "details") -> t.List[str]:
    cte = stale_tasks_cte(stale_age)
    return [
        # like CustomerTaskManager.failPendingTask: customer task completed, task (and subtasks) Failure
        cte + "\nUPDATE customer_task ct SET completion_time = now() FROM stale s\n"
              " WHERE s.top AND ct.task_uuid = s.uuid AND ct.completion_time IS NULL;",
        cte + "\nUPDATE task_info ti SET task_state = 'Failure', update_time = now(),\n  %s\n"
              " FROM stale s WHERE ti.uuid = s.uuid;" % task_error_assignment(layout),
    ]


def stale_backups_statements(stale_age: int, stale_tasks_repaired: bool) -> t.List[str]:
    return [
        # like YBA start-up: a dead create/stop leaves the backup Failed; a dead delete is queued again
        "UPDATE backup b SET state = CASE WHEN b.state = 'DeleteInProgress' THEN 'QueuedForDeletion'\n"
        "                                 ELSE 'Failed' END, update_time = now()\n"
        " WHERE %s;" % stale_backup_where(stale_age, stale_tasks_repaired),
    ]


def vacuum_statements(tables: t.Iterable[str]) -> t.List[str]:
    return ["VACUUM (ANALYZE) %s;" % qualified(name if "." in name else "public." + name)
            for name in sorted(set(tables))]


def bloated_tables(tables: t.Sequence[t.Mapping[str, t.Any]], dead_ratio: float, min_dead: int) -> t.List[str]:
    return sorted(str(x["name"]) for x in tables
                  if int(x.get("dead_tuples") or 0) >= min_dead and float(x.get("dead_ratio") or 0) >= dead_ratio)


def plan_sql(stale_age: int, repairs: t.Sequence[str]) -> str:
    """Counts the planner needs (one psql call, one JSON line), cheaper than the full info query."""
    sel = ["'tables', (SELECT coalesce(json_agg(json_build_object('name', relname, 'live_tuples', n_live_tup, "
           "'dead_tuples', n_dead_tup, 'dead_ratio', CASE WHEN n_live_tup + n_dead_tup = 0 THEN 0 ELSE "
           "round(n_dead_tup::numeric / (n_live_tup + n_dead_tup), 4) END)), '[]'::json) "
           "FROM pg_stat_user_tables WHERE schemaname = 'public')"]
    # newer YBA renamed details to task_params and added a nullable details for the error (TASK_LAYOUTS)
    sel.append("'task_layout', CASE WHEN EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.task_info'::regclass "
               "AND attname = 'task_params' AND NOT attisdropped) THEN 'task_params' ELSE 'details' END")
    cte = ""
    if "stale_tasks" in repairs:
        cte = stale_tasks_cte(stale_age) + "\n"
        sel.append("'stale_tasks', (SELECT json_build_object('count', count(*), 'top_level', "
                   "count(*) FILTER (WHERE top)) FROM stale)")
        sel.append("'stale_customer_tasks', (SELECT count(*) FROM customer_task ct JOIN stale s ON s.top "
                   "AND ct.task_uuid = s.uuid WHERE ct.completion_time IS NULL)")
    if "stale_backups" in repairs:
        sel.append("'stale_backups', (SELECT json_build_object('count', coalesce(sum(c), 0), 'by_state', "
                   "coalesce(json_object_agg(state, c), '{}'::json)) FROM (SELECT b.state, count(*) c FROM backup b "
                   "WHERE %s GROUP BY b.state) y)" % stale_backup_where(stale_age, "stale_tasks" in repairs))
    sel.append("'dump_estimate_bytes', (%s)" % DUMP_ESTIMATE_SQL.strip().rstrip(";"))
    return cte + "SELECT json_build_object(%s);\n" % ",\n ".join(sel)


def plan_repairs(facts: t.Mapping[str, t.Any], repairs: t.Sequence[str], stale_age: int,
                 dead_ratio: float = 0.2, min_dead: int = 1000) -> t.List[Step]:
    """Pure: the repair steps for ``facts`` (plan_sql output + ``amcheck`` from the info DO block).

    Steps come in REPAIR_KINDS order; kinds with nothing to do are left out. VACUUM also covers the
    tables the other steps rewrite, so a second run finds no bloat the first one made.
    """
    unknown = [r for r in repairs if r not in REPAIR_KINDS]
    if unknown:
        raise MetadbError("unknown repair(s) %s; choose from %s" % (", ".join(unknown), ", ".join(REPAIR_KINDS)))
    steps: t.List[Step] = []
    touched: t.List[str] = []
    if "reindex" in repairs:
        # an index check that did not run is not a reason to fail the other repairs: the module reports it
        # (index_check_warnings); it runs by amcheck or, without the extension, by forced index scans
        amcheck = facts.get("amcheck") or {}
        if amcheck.get("corrupt"):
            steps.append(Step("reindex", reindex_statements(amcheck["corrupt"]),
                              {"indexes": sorted({c["index"] for c in amcheck["corrupt"]})}))
    if "stale_tasks" in repairs:
        st = facts.get("stale_tasks") or {}
        if int(st.get("count") or 0):
            steps.append(Step("stale_tasks", stale_tasks_statements(stale_age, str(facts.get("task_layout") or "details")),
                              {"task_info": int(st["count"]),
                               "customer_task": int(facts.get("stale_customer_tasks") or 0)}))
            touched += ["task_info", "customer_task"]
    if "stale_backups" in repairs:
        sb = facts.get("stale_backups") or {}
        if int(sb.get("count") or 0):
            steps.append(Step("stale_backups", stale_backups_statements(stale_age, "stale_tasks" in repairs),
                              {"backup": int(sb["count"]), "by_state": dict(sb.get("by_state") or {})}))
            touched.append("backup")
    amcheck = facts.get("amcheck") or {}
    if "reindex" not in repairs and amcheck.get("corrupt"):
        writes = WRITES
        for step in steps:
            bad = sorted(c["index"] for c in amcheck["corrupt"]
                         if str(c.get("table", "")).rpartition(".")[2] in writes.get(step.kind, ()))
            if bad:
                raise MetadbError("the %s repair writes through the corrupt index %s; add reindex to repairs "
                                  "(it runs first)" % (step.kind, ", ".join(bad)))
    if "vacuum" in repairs:
        bloated = bloated_tables(facts.get("tables") or [], dead_ratio, min_dead)
        tables = sorted(set(bloated) | set(touched))
        if tables:
            steps.append(Step("vacuum", vacuum_statements(tables), {"tables": tables, "bloated": bloated},
                              transactional=False))
    return steps


def index_check_warnings(check: t.Optional[t.Mapping[str, t.Any]]) -> t.List[str]:
    """Pure: what the index check could not vouch for, one line each (never silence: SOURCE-AUDIT 3.4)."""
    check = check or {}
    if not check.get("checked"):
        return ["indexes not checked: %s" % (check.get("reason") or "the index check did not run")]
    skipped = [x for x in check.get("skipped") or [] if isinstance(x, dict)]
    if skipped:
        return ["%d index%s not checked (%s): %s" % (
            len(skipped), "es" if len(skipped) > 1 else "", check.get("method"),
            ", ".join("%s (%s)" % (x.get("index"), x.get("reason")) for x in skipped[:5]))]
    return []


def parse_tags(out: str) -> t.List[t.Tuple[str, int]]:
    """psql command tags (``UPDATE 12``, ``REINDEX``, ``VACUUM``) -> [(tag, rows)]."""
    tags = []
    for line in out.splitlines():
        m = re.match(r"^(UPDATE|DELETE|INSERT 0|REINDEX|VACUUM|COMMIT|ROLLBACK|BEGIN|SET)(?: (\d+))?$", line.strip())
        if m:
            tags.append((m.group(1), int(m.group(2) or 0)))
    return tags


def step_counts(step: Step, out: str) -> t.Dict[str, t.Any]:
    tags = parse_tags(out)
    if step.transactional and (not tags or tags[-1][0] != "COMMIT"):
        raise MetadbError("the %s repair did not commit (psql output: %s)" % (step.kind, out.strip()[-300:]))
    rows = [n for tag, n in tags if tag == "UPDATE"]
    if step.kind == "stale_tasks":
        return {"customer_task": rows[0] if rows else 0, "task_info": rows[1] if len(rows) > 1 else 0}
    if step.kind == "stale_backups":
        return {"backup": rows[0] if rows else 0}
    if step.kind == "reindex":
        return {"indexes": len([1 for tag, _rows in tags if tag == "REINDEX"])}
    return {"tables": len([1 for tag, _rows in tags if tag == "VACUUM"])}


# --------------------------------------------------------------------------- errors and connection

def classify_error(stderr: str, target: str, user: str) -> str:
    """psql/libpq stderr -> one clear message (never includes a password; libpq never prints one)."""
    text = " ".join(stderr.strip().split())
    low = text.lower()
    first = re.sub(r"^(psql|pg_dump|pg_restore): (error: )?", "", stderr.strip().splitlines()[0] if stderr.strip() else "")
    if "password authentication failed" in low or "no password supplied" in low or (
            "role" in low and "does not exist" in low) or "pg_hba.conf rejects" in low:
        return "authentication to the metadata DB at %s failed for user %s: %s" % (target, user, first)
    if "database" in low and "does not exist" in low:
        return "the metadata DB at %s has no such database: %s" % (target, first)
    if "terminating connection" in low:
        return "the metadata DB at %s ended the session (terminated or shut down): %s" % (target, first)
    if any(s in low for s in ("could not connect", "connection refused", "timeout expired",
                              "could not translate host name", "no route to host", "server closed the connection",
                              "connection to server")):
        return "cannot connect to the metadata DB at %s: %s" % (target, first)
    if "lock timeout" in low or "canceling statement due to lock timeout" in low:
        return "a lock on the metadata DB at %s was not granted within lock_timeout: %s" % (target, first)
    return "psql failed on the metadata DB at %s: %s" % (target, text[:500])


@dataclass
class Connection:
    bin_dir: t.Optional[str]
    psql: str
    host: str
    port: int
    user: str
    database: str
    password: t.Optional[str] = None
    passfile: t.Optional[str] = None
    connect_timeout: int = 10

    @property
    def target(self) -> str:
        return "%s:%d/%s" % (self.host, self.port, self.database)

    def tool(self, name: str) -> str:
        """pg_dump / pg_restore next to the psql in use (the host's own, same major version)."""
        if self.bin_dir:
            path = os.path.join(self.bin_dir, name)
            if os.access(path, os.X_OK):
                return path
        found = shutil.which(name)
        if not found:
            raise MetadbError("%s not found next to %s nor on PATH" % (name, self.psql))
        return found

    def env(self) -> t.Dict[str, str]:
        env = {"PGCONNECT_TIMEOUT": str(self.connect_timeout), "PGAPPNAME": "yba.remediation",
               "PGOPTIONS": "", "PGSSLMODE": "prefer"}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        if self.passfile:
            env["PGPASSFILE"] = self.passfile
        return env

    def conn_args(self) -> t.List[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", self.user]


def resolve_connection(params: t.Mapping[str, t.Any], layout: t.Any = None) -> Connection:
    """Explicit options win; otherwise the install layout's pgsql/bin and postgres port; else PATH/5432."""
    bin_dir = None
    psql = params.get("psql_path")
    if psql:
        if os.path.isdir(psql):
            bin_dir, psql = psql, os.path.join(psql, "psql")
        else:
            bin_dir = os.path.dirname(psql)
    elif layout is not None and getattr(layout, "pgsql_bin", None) and os.access(
            os.path.join(layout.pgsql_bin, "psql"), os.X_OK):
        bin_dir = layout.pgsql_bin
        psql = os.path.join(bin_dir, "psql")
    else:
        psql = shutil.which("psql") or ""
    if not psql or not os.access(psql, os.X_OK):
        raise MetadbError("psql not found (looked at %s); set psql_path" % (
            psql or "the install layout's pgsql/bin and PATH"))
    port = params.get("login_port") or (getattr(layout, "postgres_port", None) if layout is not None else None) or 5432
    passfile = None
    if params.get("login_password") is None and layout is not None:
        candidate = getattr(layout, "pgpass_file", None)
        if candidate and os.path.isfile(candidate):
            passfile = candidate
    return Connection(bin_dir=bin_dir, psql=psql, host=params.get("login_host") or "localhost", port=int(port),
                      user=params.get("login_user") or "postgres", database=params.get("login_db") or "yugaware",
                      password=params.get("login_password"), passfile=passfile,
                      connect_timeout=int(params.get("connect_timeout") or 10))


class Psql:
    """Runs SQL scripts through the host's psql: one process per script, JSON out."""

    def __init__(self, conn: Connection, runner: Runner) -> None:
        self.conn = conn
        self.runner = runner

    def run(self, sql: str, quiet: bool = True) -> str:
        args = [self.conn.psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"] + (["-q"] if quiet else []) + \
            self.conn.conn_args() + ["-d", self.conn.database, "-f", "-"]
        rc, out, err = self.runner(args, sql, self.conn.env())
        if rc != 0:
            raise MetadbError(classify_error(err or out or "psql exited with %d" % rc, self.conn.target, self.conn.user))
        return out

    def json(self, sql: str) -> t.Any:
        out = self.run(sql)
        if not out.strip():
            raise MetadbError("psql returned no result from the metadata DB at %s" % self.conn.target)
        try:
            return json.loads(out)
        except ValueError as exc:
            raise MetadbError("unexpected psql output from the metadata DB at %s: %s" % (self.conn.target, exc))

    def info(self, **kwargs: t.Any) -> t.Dict[str, t.Any]:
        return self.json(info_sql(**kwargs))

    def facts(self, repairs: t.Sequence[str], stale_age: int, install_amcheck: bool = False) -> t.Dict[str, t.Any]:
        """What plan_repairs needs, in one psql call (every index checked only when reindex is asked for)."""
        sql = SESSION_SQL
        # the index check also guards the row repairs: an UPDATE through a corrupt index can fail or spread damage
        check = any(k in repairs for k in ("reindex", "stale_tasks", "stale_backups"))
        if check:
            # reindex needs every index checked; the guard only the indexes of the tables the repairs write
            only = None if "reindex" in repairs else sorted({x for k in repairs for x in WRITES.get(k, ())})
            sql += index_check_sql(install_amcheck, False, only)
        plan = plan_sql(stale_age, repairs)
        if check:
            plan = plan.replace("SELECT json_build_object(",
                                "SELECT json_build_object('amcheck', current_setting('%s', true)::json, " % AMCHECK_GUC, 1)
        return self.json(sql + plan)

    def apply(self, step: Step, lock_timeout: int) -> t.Tuple[str, t.Dict[str, t.Any]]:
        script = step.script(lock_timeout)
        out = self.run(script, quiet=False)
        return script, step_counts(step, out)


def collect_info(params: t.Mapping[str, t.Any], layout: t.Any, runner: Runner, **kwargs: t.Any) -> t.Dict[str, t.Any]:
    """metadb_info's ``metadb`` result: the connection from the options (``metadb_argument_spec``) and the layout,
    ``Psql.info(**kwargs)``, and its findings; an unreachable database gives ``unreachable_info`` (never raises)."""
    try:
        info = Psql(resolve_connection(params, layout), runner).info(**kwargs)
    except MetadbError as exc:
        info = unreachable_info(str(exc))
    if info.get("reachable"):
        info["findings"] = findings(info)
    return info


# Restores running: managed/src/main/java/com/yugabyte/yw/models/Restore.java State is stored by its @EnumValue,
# `@EnumValue("Created") Created` and `@EnumValue("In Progress") InProgress` (RestoreKeyspace.java the same), so the
# column holds 'In Progress', not the enum name. 0 without the table: the count runs through query_to_xml, as a
# plain subquery naming a missing table fails at parse time even in a CASE branch that is never taken.
RUNNING_RESTORES_SQL = ("SELECT json_build_object('count', CASE WHEN to_regclass('public.restore') IS NULL THEN 0 "
                        "ELSE (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM public.restore "
                        "WHERE state IN (''Created'', ''In Progress'')', false, true, '')))[1]::text::int END);\n")


def running_restores(params: t.Mapping[str, t.Any], layout: t.Any, runner: Runner) -> int:
    """How many restores the metadata DB shows Created or In Progress (raises MetadbError when unreachable)."""
    return int(Psql(resolve_connection(params, layout), runner).json(RUNNING_RESTORES_SQL)["count"])


UNREACHABLE_KEYS = ("server_version", "database_size_bytes", "dump_estimate_bytes", "tables", "amcheck",
                    "failed_migrations",
                    "stale_backups", "live_backups", "stale_tasks", "schedules", "expired_not_deleted", "orphans",
                    "backup_summary")


def unreachable_info(error: str) -> t.Dict[str, t.Any]:
    """The metadb result when the DB cannot be queried: same keys, empty values, so consumers need no guards."""
    empty_sample = {"count": 0, "sample": []}
    return {
        "reachable": False, "error": error, "server_version": None, "database_size_bytes": None,
        "dump_estimate_bytes": None, "tables": [],
        "amcheck": {"checked": False, "method": None, "reason": error, "indexes_checked": 0, "corrupt": [],
                    "skipped": [], "installed": False},
        "failed_migrations": [],
        "stale_backups": {"count": 0, "oldest_age_seconds": None, "by_state": {}, "sample": []},
        "live_backups": dict(empty_sample),
        "stale_tasks": {"count": 0, "top_level": 0, "oldest_age_seconds": None, "sample": []},
        "schedules": {"paused": dict(empty_sample), "error": dict(empty_sample)},
        "expired_not_deleted": {"count": 0, "failed_to_delete": 0, "oldest_expiry_age_seconds": None, "sample": []},
        "orphans": {"count": 0, "missing_universe": 0, "missing_storage_config": 0, "sample": []},
        "backup_summary": [],
        "findings": [],
    }


def critical_findings(info: t.Mapping[str, t.Any]) -> t.List[str]:
    """The findings that make the database unsafe to dump or upgrade: corrupt indexes, failed Flyway migrations
    (pure; the same lines as ``findings``)."""
    out: t.List[str] = []
    for c in (info.get("amcheck") or {}).get("corrupt") or []:
        out.append("corrupt index %s on %s" % (c.get("index"), c.get("table")))
    for m in info.get("failed_migrations") or []:
        out.append("failed migration %s (%s)" % (m.get("version"), m.get("script")))
    return out


def findings(info: t.Mapping[str, t.Any], bloat_ratio: float = 0.2, bloat_min_dead: int = 1000) -> t.List[str]:
    """Short human-readable list of what is wrong (pure)."""
    out: t.List[str] = []
    if not info.get("reachable"):
        return ["metadata DB unreachable: %s" % info.get("error")]
    am = info.get("amcheck") or {}
    critical = critical_findings(info)
    out += [c for c in critical if c.startswith("corrupt index ")]
    out += index_check_warnings(am)
    out += [c for c in critical if c.startswith("failed migration ")]
    for key, label in (("stale_backups", "backups in progress with no live task"),
                       ("stale_tasks", "incomplete tasks not updated for too long"),
                       ("expired_not_deleted", "expired backups not deleted"),
                       ("orphans", "backups of missing universes or storage configs")):
        count = (info.get(key) or {}).get("count") or 0
        if count:
            ftd = (info.get(key) or {}).get("failed_to_delete") or 0 if key == "expired_not_deleted" else 0
            out.append("%d %s" % (count, label) + (
                " (%d FailedToDelete: YBA's garbage collector does not retry them)" % ftd if ftd else ""))
    for status in ("paused", "error"):
        count = ((info.get("schedules") or {}).get(status) or {}).get("count") or 0
        if count:
            out.append("%d schedules %s" % (count, status.capitalize()))
    for name in bloated_tables(info.get("tables") or [], bloat_ratio, bloat_min_dead):
        out.append("table %s is bloated (dead tuples)" % name)
    return out


# --------------------------------------------------------------------------- dump

DUMP_RESERVE_DEFAULT = 1048576
DUMP_KEEP_DEFAULT = 5


def free_bytes(path: str) -> int:
    """Free bytes for an unprivileged writer at ``path`` or its nearest existing parent."""
    st = os.statvfs(_layout.existing_parent(path))
    return st.f_bavail * st.f_frsize


def mount_point(path: str) -> str:
    """The mount point of the filesystem holding ``path`` (or its nearest existing parent): the highest parent on
    the same device."""
    cur = os.path.realpath(_layout.existing_parent(path))
    dev = os.stat(cur).st_dev
    while cur != "/":
        parent = os.path.dirname(cur)
        if os.stat(parent).st_dev != dev:
            break
        cur = parent
    return cur


# An upper estimate of a custom-format dump: the size of the table data (heap + TOAST of every user table,
# pg_table_size). The dump holds the rows as COPY text, compressed, and only the DDL of the indexes, so it is
# smaller than the tables it copies; DUMP_RESERVE_DEFAULT covers the table of contents and the DDL.
DUMP_ESTIMATE_SQL = ("SELECT coalesce(sum(pg_table_size(c.oid)), 0) FROM pg_class c "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                     "AND n.nspname NOT LIKE 'pg_toast%';\n")


def dump_file_name(database: str, now: t.Optional[float] = None, pid: t.Optional[int] = None,
                   token: t.Optional[str] = None) -> str:
    """``<db>-<UTC YYYYmmddTHHMMSS.ffffff>Z-<pid>-<random>.dump``: two dumps never get the same name, even in the
    same microsecond on two hosts sharing a directory (pid + 8 random hex digits)."""
    now = time.time() if now is None else now
    secs = int(now)
    micro = int(round((now - secs) * 1000000))
    if micro >= 1000000:
        secs, micro = secs + 1, micro - 1000000
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(secs))
    pid = os.getpid() if pid is None else pid
    token = os.urandom(4).hex() if token is None else token
    return "%s-%s.%06dZ-%d-%s.dump" % (database, stamp, micro, pid, token)


def dump_name_re(database: str) -> t.Pattern[str]:
    """Our own dump names for ``database`` (also the second-resolution names of earlier releases), nothing else."""
    return re.compile(r"^%s-(?P<stamp>\d{8}T\d{6})(?:\.(?P<micro>\d{6}))?Z(?:-\d+-[0-9a-f]+)?\.dump$"
                      % re.escape(database))


def our_dumps(real_dir: str, database: str) -> t.List[str]:
    """Names of this collection's dumps of ``database`` in ``real_dir``, regular files only (never a symlink, a
    directory or anyone else's file), newest first (by the UTC time in the name, then the name)."""
    if not os.path.isdir(real_dir):
        return []
    pattern = dump_name_re(database)
    found = []
    for name in os.listdir(real_dir):
        m = pattern.match(name)
        path = os.path.join(real_dir, name)
        if m and os.path.isfile(path) and not os.path.islink(path):
            found.append(((m.group("stamp"), int(m.group("micro") or 0), name), name))
    return [name for _key, name in sorted(found, reverse=True)]


def dumps_to_remove(existing: t.Sequence[str], keep: int, new: int = 0) -> t.List[str]:
    """Pure: of ``existing`` (newest first, the new dump among them or ``new`` more still to come), the dumps
    beyond the newest ``keep``."""
    if keep < 1:
        raise MetadbError("dump_keep must be at least 1 (the new dump is always kept), got %d" % keep)
    return list(existing[max(keep - new, 0):])


def dump_dir_problem(real_dir: str) -> t.Optional[str]:
    """Why a dump cannot be written in ``real_dir`` (checked before anything is stopped), or None."""
    if os.path.lexists(real_dir) and not os.path.isdir(real_dir):
        return "dump_dir %s exists and is not a directory" % real_dir
    probe = _layout.existing_parent(real_dir)
    if not os.path.isdir(probe):
        return "dump_dir %s cannot be created: %s is not a directory" % (real_dir, probe)
    if not os.access(probe, os.W_OK | os.X_OK):
        return "dump_dir %s is not writable (%s)" % (real_dir, "no write access to " + probe if probe != real_dir
                                                     else "no write access")
    return None


def check_dump_space(dump_dir: str, estimate: int, reserve: int, credit: int = 0) -> t.Tuple[bool, int, int]:
    """(enough, free, needed): a custom-format dump is compressed, so the table data size is an upper bound.
    ``credit``: bytes an earlier step of the same run would free (check mode of a whole run only)."""
    needed = int(estimate) + int(reserve)
    free = free_bytes(dump_dir) + int(credit)
    return free >= needed, free, needed


def dump_space(dump_dir: str, real_dir: str, host_root: str, estimate: t.Optional[int],
               reserve: int = DUMP_RESERVE_DEFAULT) -> t.Dict[str, t.Any]:
    """Where a dump of ``estimate`` bytes would go and whether it fits (metadb_info's ``dump_space``)."""
    st = os.statvfs(_layout.existing_parent(real_dir))
    mount = mount_point(real_dir)
    root = os.path.realpath(host_root).rstrip("/")
    if root and (mount == root or mount.startswith(root + "/")):
        mount = mount[len(root):] or "/"
    free = st.f_bavail * st.f_frsize
    needed = None if estimate is None else int(estimate) + int(reserve)
    return {"path": dump_dir, "exists": os.path.isdir(real_dir), "mount": mount, "free_bytes": free,
            "size_bytes": st.f_blocks * st.f_frsize, "estimate_bytes": estimate, "reserve_bytes": int(reserve),
            "needed_bytes": needed, "fits": None if needed is None else free >= needed,
            "problem": dump_dir_problem(real_dir)}


def publish_dump(tmp_path: str, real_dir: str, database: str, attempts: int = 5) -> str:
    """Give the finished dump ``tmp_path`` its final name by a hard link, which fails rather than replace an
    existing file (a dump is never overwritten), then drop the temporary name."""
    for _i in range(attempts):
        final = os.path.join(real_dir, dump_file_name(database))
        try:
            os.link(tmp_path, final)
        except FileExistsError:
            continue
        os.unlink(tmp_path)
        return final
    raise MetadbError("could not give the dump %s a name of its own in %s" % (tmp_path, real_dir))


def verify_listing(listing: str) -> int:
    """Entries of ``pg_restore --list`` output; the yugaware backup table data must be among them."""
    entries = [ln for ln in listing.splitlines() if ln.strip() and not ln.startswith(";")]
    if not any(re.search(r"TABLE DATA \S+ backup ", ln) for ln in entries):
        raise MetadbError("the dump's table of contents has no data for the backup table")
    return len(entries)


# --------------------------------------------------------------------------- is YBA writing these tables?

def platform_process(layout: t.Any, proc_root: str = "/proc") -> t.Optional[t.Dict[str, t.Any]]:
    """The running YBA platform of THIS host as a small dict for results, or None (detection is _service's)."""
    info = _service.platform_process(layout, proc_root=proc_root)
    return {"pid": info.pid, "state": info.state, "cmdline": info.safe_cmdline[:6]} if info else None


def platform_refusal(proc: t.Optional[t.Mapping[str, t.Any]], quiesced: bool, check_mode: bool, stage: str = "plan",
                     done: t.Sequence[str] = (), dump: t.Optional[str] = None) -> t.Optional[str]:
    """Pure: why the repair must stop because the platform ``proc`` runs at ``stage``, or None.

    ``stage`` is ``plan`` (before anything), ``dump``/a repair kind (immediately before it) or ``after`` (the last
    repair committed). With ``quiesced`` the platform was stopped for the repair and must stay down: at the plan
    of a check-mode run (made before the role stops it) a running platform is expected, at every later stage of a
    real run it means the platform came back (Restart=always, an operator, a watchdog)."""
    if proc is None:
        return None
    pid = int(proc.get("pid") or 0)
    if stage == "plan":
        if quiesced and check_mode:
            return None
        if quiesced:
            return ("the platform runs (pid %d) although quiesced=true says it was stopped for the metadata DB repair: it "
                    "came back (Restart=always?) or was never stopped; keep it down and run again; nothing was changed"
                    % pid)
        return ("refusing to repair the metadata DB while the YBA platform runs (pid %d) and writes it; stop the platform "
                "(yba-ctl stop yb-platform) and set quiesced=true; nothing was changed" % pid)
    where = "after the last repair" if stage == "after" else "before the %s" % (
        "dump" if stage == "dump" else "%s repair" % stage)
    if done:
        changed = "the repairs %s are committed%s" % (", ".join(done), "" if stage == "after" else
                                                      ", the others not run")
    else:
        changed = "the DB was not changed" if dump else "nothing was changed"
    return ("the platform came back (pid %d) %s of the metadata DB, which it may write: %s%s; keep it down "
            "(Restart=always?) and check the DB" % (pid, where, changed, "; the dump is %s" % dump if dump else ""))
