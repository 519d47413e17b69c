"""Route handlers of the simulated YBA API (paths and bodies as in shared/yba/swagger.json), over yugaware.

JSON conventions follow YBA's Jackson output: backup states by Java name (``InProgress``; the DB stores
``In Progress``), time units in API form (``DAYS``; the DB stores ``Days``), times as
``yyyy-MM-dd'T'HH:mm:ss'Z'`` (UTC).

Errors as ``forms/PlatformResults.java`` builds them: a plain error is ``YBPError{success: false, httpMethod,
requestUri, error: "<message>"}``; a bean-validation (field) error is ``YBPStructuredError{success: false,
error: {"<field>": ["<message>", ...]}}``, without errorJson, method or URI.
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid as uuidlib
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from . import crypto, storage_check, tasks
from . import heap as heapmodel

LOG = logging.getLogger("yba.api")

try:
    import psycopg
    from psycopg.rows import dict_row
    from psycopg.types.string import TextLoader
except ImportError:  # pragma: no cover - the lab venv has psycopg 3
    psycopg = None  # type: ignore[assignment]

UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

# Backup states: Java/JSON name <-> stored value.
STATE_TO_DB = {"InProgress": "In Progress"}
STATE_FROM_DB = {"In Progress": "InProgress"}
JAVA_STATES = ["InProgress", "Completed", "Failed", "Deleted", "Skipped", "FailedToDelete", "Stopping",
               "Stopped", "QueuedForDeletion", "QueuedForForcedDeletion", "DeleteInProgress"]
IN_PROGRESS_DB = ("In Progress", "QueuedForDeletion", "DeleteInProgress")
TIME_UNITS = ["NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS",
              "MONTHS", "YEARS"]
TIME_UNIT_DB = tasks.TIME_UNIT_DB
TIME_UNIT_API = {v.lower(): k for k, v in TIME_UNIT_DB.items()}
SECRET_KEY_RE = re.compile(r"(KEY|SECRET|CREDENTIALS|API|POLICY|PASSWORD)", re.I)  # CommonUtils.isSensitiveField


C = "/api/v1/customers/{cUUID}"
# (method, swagger path template, handler method of Platform, needs auth): every route the simulator serves.
ROUTES: list[tuple[str, str, str, bool]] = [
    ("GET", "/api/v1/app_version", "app_version", False),
    ("POST", "/api/v1/api_login", "api_login", False),
    ("GET", "/api/v1/prometheus_metrics", "prometheus_metrics", False),
    ("GET", "/api/v1/customers", "list_customers", True),
    ("GET", C, "get_customer", True),
    ("GET", C + "/universes", "list_universes", True),
    ("GET", C + "/universes/{uniUUID}", "get_universe", True),
    ("PUT", C + "/universes/{uniUUID}/update_backup_state", "update_backup_state", True),
    ("GET", C + "/universes/{uniUUID}/backups", "list_universe_backups", True),
    ("GET", C + "/configs", "list_configs", True),
    ("POST", C + "/configs", "create_config", True),
    ("PUT", C + "/configs/{configUUID}", "edit_config_v1", True),
    ("PUT", C + "/configs/{configUUID}/edit", "edit_config_v2", True),
    ("DELETE", C + "/configs/{configUUID}", "delete_config", True),
    ("DELETE", C + "/configs/{configUUID}/delete", "delete_config_v2", True),
    ("POST", C + "/backups", "create_backup", True),
    ("POST", C + "/backups/page", "page_backups", True),
    ("POST", C + "/backups/delete", "delete_backups", True),
    ("GET", C + "/backups/{backupUUID}", "get_backup", True),
    ("PUT", C + "/backups/{backupUUID}", "edit_backup", True),
    ("POST", C + "/backups/{backupUUID}/stop", "stop_backup", True),
    ("GET", C + "/tasks_list", "tasks_list", True),
    ("GET", C + "/tasks/{tUUID}", "task_status", True),
    ("GET", C + "/tasks/{tUUID}/failed_subtasks", "failed_subtasks", True),
    ("GET", C + "/schedules", "list_schedules", True),
    ("POST", C + "/schedules/page", "page_schedules", True),
    ("GET", C + "/schedules/{sUUID}", "get_schedule", True),
    ("PUT", C + "/schedules/{sUUID}", "edit_schedule", True),
    ("GET", C + "/universes/{uniUUID}/backups/tasks/{tUUID}", "fetch_backups_by_task", True),
    ("PUT", C + "/universes/{uniUUID}/schedules/{sUUID}/pause_resume", "toggle_schedule", True),
    # restores (controllers/RestoreBackupController.java, BackupsController.java; TablesController.listTables)
    ("POST", C + "/restore/preflight", "restore_preflight", True),
    ("POST", C + "/restore", "restore_backup", True),
    ("POST", C + "/restore/page", "page_restores", True),
    ("GET", C + "/universes/{uniUUID}/tables", "list_tables", True),
    ("GET", C + "/backups/{backupUUID}/list_increments", "list_increments", True),
]
# Routes newer than the swagger snapshot (shared/yba/swagger.json, ~2.21): served only from the version given on,
# older versions answer the "No route" 404. ScheduleController.toggleSchedule is
# @YbaApi(PREVIEW, sinceYBAVersion = "2.23.0.0"), i.e. the 2024.2 stable line (API-CAPABILITIES 5.1).
NEWER_THAN_SWAGGER: dict[str, tuple[int, int]] = {
    C + "/universes/{uniUUID}/schedules/{sUUID}/pause_resume": (2024, 2),
}


def version_tuple(version: str) -> tuple[int, ...]:
    """"2.18.1.0-b84" -> (2, 18, 1, 0); "2024.2.3.0-b116" -> (2024, 2, 3, 0)."""
    out = []
    for part in str(version).split("-", 1)[0].split("."):
        try:
            out.append(int(part))
        except ValueError:
            break
    return tuple(out)


def version_at_least(version: str, stable: tuple[int, int]) -> bool:
    """YBA's two numbering lines: stable ``<year>.<n>`` and preview ``2.<odd minor>``; 2024.2 = the 2.23
    preview line (2024.1 = 2.21), so a preview 2.x counts from minor (stable minor - 1) * 2 + 21 on."""
    v = version_tuple(version)
    if len(v) < 2:
        return False
    if v[0] >= 2000:
        return v[:2] >= stable
    return v[0] == 2 and v[1] >= (stable[1] - 1) * 2 + 21 + (stable[0] - 2024) * 4


def route_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\{[^/]+?\\}", "([^/]+)", re.escape(template)) + "$")


class DatabaseUnavailable(RuntimeError):
    """The yugaware database cannot be reached."""


class ApiError(Exception):
    """An error answered as YBA's PlatformServiceException does: a string ``error`` gives a YBPError body, a
    ``{field: [messages]}`` dict a YBPStructuredError body (``forms/PlatformResults.java``). ``error_json`` is
    accepted for older callers and ignored: YBA sends no errorJson."""

    def __init__(self, status: int, error: Any, error_json: Any = None) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error

    def body(self, method: str, path: str) -> dict[str, Any]:
        if isinstance(self.error, dict):
            return {"success": False, "error": self.error}  # YBPStructuredError
        return {"success": False, "httpMethod": method, "requestUri": path, "error": str(self.error)}  # YBPError


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def fmt_time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def parse_time(value: str, field: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ApiError(400, f"Invalid {field}: {value}") from exc
        if parsed.tzinfo:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        return parsed


def check_uuid(value: Any, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(UUID_RE, value):
        raise ApiError(400, f"Invalid {what} UUID: {value}")
    return value.lower()


# models/helpers/CommonUtils.java: isSensitiveField (KEY, SECRET, CREDENTIALS, API, POLICY, or PASSWORD, which is
# "strictly sensitive"), getMaskedValue, maskConfig and unmaskConfig, on a config's top-level data fields only.
MASKED_FIELD_VALUE = "********"


def sensitive_field(name: str) -> bool:
    return bool(SECRET_KEY_RE.search(name))


def mask_value(name: str, value: Any) -> str:
    """getMaskedValue: PASSWORD fields, non-strings (textValue() is null) and values under 5 characters become
    ********; the rest keep their first two and last two characters (maskRegex "(?<!^.?).(?!.?$)")."""
    if "PASSWORD" in name.upper() or not isinstance(value, str) or len(value) < 5:
        return MASKED_FIELD_VALUE
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_data(data: dict[str, Any]) -> dict[str, Any]:
    """maskConfig: every top-level sensitive field masked (a nested object is not looked into)."""
    return {k: (mask_value(k, v) if sensitive_field(k) else v) for k, v in data.items()}


def unmask_data(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """unmaskConfig: a sensitive field whose value equals its own mask takes the stored value (so what GET answered,
    sent back, keeps the secret; a real new value is never its own mask)."""
    return {k: (old.get(k) if sensitive_field(k) and isinstance(v, str) and v == mask_value(k, v) else v)
            for k, v in new.items()}


def json_dict(raw: Any) -> dict[str, Any]:
    """A JSON column's text as a dict ({} when empty, invalid or not an object)."""
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def epoch_ms(value: datetime | None) -> int | None:
    """A java.util.Date as Jackson writes it without @JsonFormat: epoch milliseconds."""
    return int(value.replace(tzinfo=timezone.utc).timestamp() * 1000) if value else None


def time_unit_api(db_value: str | None, default: str = "DAYS") -> str:
    if not db_value:
        return default
    if db_value.upper() in TIME_UNITS:
        return db_value.upper()
    return TIME_UNIT_API.get(db_value.lower(), default)


class Platform:
    """One simulated YBA instance: request routing, DB access, task workers."""

    def __init__(self, state: dict[str, Any], conf: dict[str, str], version: str, heap_max: int,
                 recorder: Any) -> None:
        if psycopg is None:
            raise DatabaseUnavailable("psycopg is not installed")
        self.state = state
        self.conf = conf
        self.version = version
        self.heap_max = heap_max
        self.heap = heapmodel.HeapModel(heap_max, self.heap_rows, heapmodel.settings(state))
        self.recorder = recorder
        self.started = utcnow()
        self.owner = "127.0.0.1"
        self.workers = tasks.Workers(self)
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any], bool]] = [
            (method, route_regex(template), getattr(self, name), auth) for method, template, name, auth in ROUTES
            if template not in NEWER_THAN_SWAGGER or version_at_least(version, NEWER_THAN_SWAGGER[template])]

    # ------------------------------------------------------------------ plumbing
    def connect(self, pool_wait: bool = True) -> Any:
        """A DB connection; when the DB is down a request waits the pool's timeout first (pool_wait), the
        simulator's own bookkeeping (the heap model's row count) does not."""
        pg = self.state["postgres"]
        t0 = time.monotonic()
        try:
            conn = psycopg.connect(host=pg.get("host", "127.0.0.1"), port=int(pg["port"]),
                                   user=pg.get("user", "postgres"), dbname=pg.get("database", "yugaware"),
                                   autocommit=True, connect_timeout=5, row_factory=dict_row)
        except psycopg.OperationalError as exc:
            # YBA's pool (HikariCP) waits its connectionTimeout for a connection before the request fails: with
            # the DB down every DB-backed page hangs that long (the escalation's "UI unresponsive").
            if pool_wait:
                time.sleep(max(0.0, float(self.state["platform"].get("db_connection_timeout", 10))
                               - (time.monotonic() - t0)))
            raise DatabaseUnavailable(str(exc).strip()) from exc
        # json columns (task_info.details, backup.backup_info, schedule.task_params) reach the code as JSON text,
        # as a JDBC driver hands them to Ebean's @DbJson; the simulator parses them itself
        for name in ("json", "jsonb"):
            conn.adapters.register_loader(name, TextLoader)
        return conn

    def heap_rows(self) -> tuple[int, int]:
        """(backups, tasks) for the heap model: counted on the tables themselves. The planner picks an index-only
        scan once autovacuum has set the visibility map, and the incident's corrupt backup index would then fail
        the count and leave the model at its base (no heap pressure, depending on when autovacuum ran)."""
        with self.connect(pool_wait=False) as conn, conn.transaction():
            for knob in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
                conn.execute(f"SET LOCAL {knob} = off")
            row = conn.execute("SELECT (SELECT count(*) FROM backup) AS b, (SELECT count(*) FROM task_info) AS t").fetchone()
        return int(row["b"]), int(row["t"])

    def startup(self) -> None:
        with self.connect() as conn:
            conn.execute("SELECT 1 FROM customer LIMIT 1")
            tasks.reconcile(conn, self.workers)
        # the JVM loads what it caches at start (the DB answers here): a later count that fails keeps this figure
        self.heap.target_live()

    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: Any,
               raw: bytes) -> tuple[int, Any, str | None]:
        path = path.rstrip("/") or "/"
        try:
            self.heap.on_request()  # GC thrash near -Xmx: slow answers; past it OutOfMemoryError (heap.py)
        except heapmodel.OutOfMemory as exc:
            return 500, {"success": False, "httpMethod": method, "requestUri": path, "error": str(exc)}, None
        matched_path = False
        for r_method, regex, func, auth in self.routes:
            m = regex.match(path)
            if not m:
                continue
            matched_path = True
            if r_method != method:
                continue
            try:
                body: Any = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise ApiError(400, "Invalid Json") from None
                ctx: dict[str, Any] = {"query": query, "body": body, "method": method, "path": path}
                if auth:
                    with self.connect() as conn:
                        ctx["user"] = self.authenticate(conn, headers)
                result = func(ctx, *m.groups())
                if isinstance(result, tuple):
                    return result
                return 200, result, None
            except ApiError as err:
                return err.status, err.body(method, path), None
            except DatabaseUnavailable as exc:
                LOG.error("database unavailable: %s", exc)
                return 500, {"success": False, "httpMethod": method, "requestUri": path,
                             "error": f"Database error: {exc}"}, None
            except Exception as exc:  # noqa: BLE001 - answer like YBA's error handler, never drop the request
                LOG.exception("internal error on %s %s", method, path)
                return 500, {"success": False, "httpMethod": method, "requestUri": path,
                             "error": f"{type(exc).__name__}: {exc}"}, None
        if matched_path:
            return 405, {"success": False, "error": f"Method {method} not allowed on {path}"}, None
        return 404, {"success": False, "httpMethod": method, "requestUri": path,
                     "error": f"No route for {method} {path}"}, None

    def authenticate(self, conn: Any, headers: Any) -> dict[str, Any]:
        token = headers.get("X-AUTH-YW-API-TOKEN")
        if not token:
            raise ApiError(401, "Unable to authorize user")
        user = conn.execute("SELECT * FROM users WHERE api_token = %s", (token,)).fetchone()
        if not user:
            raise ApiError(401, "Unable to authorize user")
        return user

    def customer(self, conn: Any, ctx: dict[str, Any], c_uuid: str) -> dict[str, Any]:
        c_uuid = check_uuid(c_uuid, "Customer")
        row = conn.execute("SELECT * FROM customer WHERE uuid = %s", (c_uuid,)).fetchone()
        if not row:
            raise ApiError(400, f"Invalid Customer UUID: {c_uuid}")
        if str(ctx["user"]["customer_uuid"]) != str(row["uuid"]):
            raise ApiError(403, "Unable to authorize user")
        return row

    def user_json(self, user: dict[str, Any]) -> dict[str, Any]:
        return {"uuid": str(user["uuid"]), "customerUUID": str(user["customer_uuid"]), "email": user["email"],
                "creationDate": fmt_time(user["creation_date"]), "role": user["role"], "isPrimary": True,
                "userType": "local", "ldapSpecifiedRole": False, "timezone": ""}

    def platform_url(self) -> str:
        return self.state["platform"]["url"]

    # ------------------------------------------------------------------ meta
    def app_version(self, ctx: dict[str, Any]) -> dict[str, Any]:
        return {"version": self.version}

    def api_login(self, ctx: dict[str, Any]) -> dict[str, Any]:
        body = ctx["body"] or {}
        errors = {k: ["This field is required"] for k in ("email", "password") if not body.get(k)}
        if errors:
            raise ApiError(400, errors, errors)
        expected = self.state["platform"].get("password")
        with self.connect() as conn:
            user = conn.execute("SELECT * FROM users WHERE lower(email) = lower(%s)", (body["email"],)).fetchone()
            if not user or not expected or body["password"] != expected:
                raise ApiError(401, "Invalid User Credentials.")
            token = user["api_token"]
            if not token:
                token = str(uuidlib.uuid4())
                conn.execute("UPDATE users SET api_token = %s WHERE uuid = %s", (token, user["uuid"]))
        return {"apiToken": token, "apiTokenVersion": 1, "customerUUID": str(user["customer_uuid"]),
                "userUUID": str(user["uuid"])}

    def prometheus_metrics(self, ctx: dict[str, Any]) -> tuple[int, str, str]:
        heap = self.heap.metrics()
        used = heap["used"]
        lines = [
            "# HELP jvm_memory_bytes_used Used bytes of a given JVM memory area.",
            "# TYPE jvm_memory_bytes_used gauge",
            f'jvm_memory_bytes_used{{area="heap",}} {float(used)!r}',
            f'jvm_memory_bytes_used{{area="nonheap",}} {float(180 << 20)!r}',
            "# HELP jvm_memory_bytes_committed Committed (bytes) of a given JVM memory area.",
            "# TYPE jvm_memory_bytes_committed gauge",
            f'jvm_memory_bytes_committed{{area="heap",}} {float(heap["committed"])!r}',
            "# HELP jvm_memory_bytes_max Max (bytes) of a given JVM memory area.",
            "# TYPE jvm_memory_bytes_max gauge",
            f'jvm_memory_bytes_max{{area="heap",}} {float(heap["max"])!r}',
            f'jvm_memory_bytes_max{{area="nonheap",}} {-1.0!r}',
            "# HELP ybp_delete_backup_failure Delete backup failure count",
            "# TYPE ybp_delete_backup_failure gauge",
            f"ybp_delete_backup_failure {float(self.workers.delete_failures)!r}",
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {self.started.replace(tzinfo=timezone.utc).timestamp()!r}",
        ]
        return 200, "\n".join(lines) + "\n", "text/plain; version=0.0.4; charset=utf-8"

    # ------------------------------------------------------------------ customers / universes
    def list_customers(self, ctx: dict[str, Any]) -> list[dict[str, Any]]:
        with self.connect() as conn:
            rows = conn.execute("SELECT * FROM customer WHERE uuid = %s ORDER BY id",
                                (ctx["user"]["customer_uuid"],)).fetchall()
        return [{"uuid": str(r["uuid"]), "code": r["code"], "name": r["name"],
                 "creationDate": fmt_time(r["creation_date"]), "customerId": r["id"]} for r in rows]

    def get_customer(self, ctx: dict[str, Any], c_uuid: str) -> dict[str, Any]:
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            unis = conn.execute("SELECT universe_uuid FROM universe WHERE customer_id = %s ORDER BY name",
                                (cust["id"],)).fetchall()
        return {"uuid": str(cust["uuid"]), "code": cust["code"], "name": cust["name"],
                "creationDate": fmt_time(cust["creation_date"]), "customerId": cust["id"],
                "callhomeLevel": "MEDIUM", "universeUUIDs": [str(u["universe_uuid"]) for u in unis]}

    def universe_details(self, row: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        try:
            details = json.loads(row["universe_details_json"] or "{}")
        except ValueError:
            details = {}
        if not isinstance(details, dict):
            details = {}
        details.pop("universeConfig", None)
        details.setdefault("universeUUID", str(row["universe_uuid"]))
        details.setdefault("clusters", [])
        details.setdefault("creatingUser", self.user_json(user))
        details.setdefault("platformUrl", self.platform_url().split("://", 1)[-1])
        details.setdefault("platformVersion", self.version)
        details.setdefault("sleepAfterMasterRestartMillis", 180000)
        details.setdefault("sleepAfterTServerRestartMillis", 180000)
        details.setdefault("updateInProgress", False)
        details.setdefault("updateSucceeded", True)
        details.setdefault("universePaused", False)
        details.setdefault("backupInProgress", False)
        for node in details.get("nodeDetailsSet") or []:
            if isinstance(node, dict):
                node.setdefault("kubernetesOverrides", "")  # NodeDetailsResp requires it; YBA emits it
        return details

    @staticmethod
    def universe_config(row: dict[str, Any]) -> dict[str, Any]:
        try:
            details = json.loads(row["universe_details_json"] or "{}")
        except ValueError:
            details = {}
        conf = details.get("universeConfig") if isinstance(details, dict) else None
        return dict(conf) if isinstance(conf, dict) else {}

    def universe_json(self, row: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        details = self.universe_details(row, user)
        config = {"takeBackups": "true"}
        config.update(self.universe_config(row))
        return {"universeUUID": str(row["universe_uuid"]), "name": row["name"],
                "creationDate": row["creation_date"].strftime("%a %b %d %H:%M:%S UTC %Y"),
                "version": row["version"], "universeDetails": details, "universeConfig": config,
                "allowedTasks": {"restricted": False, "taskIds": []}}

    def get_universe_row(self, conn: Any, cust: dict[str, Any], u_uuid: str) -> dict[str, Any]:
        u_uuid = check_uuid(u_uuid, "Universe")
        row = conn.execute("SELECT * FROM universe WHERE universe_uuid = %s AND customer_id = %s",
                           (u_uuid, cust["id"])).fetchone()
        if not row:
            raise ApiError(400, f"Cannot find universe {u_uuid}")
        return row

    def list_universes(self, ctx: dict[str, Any], c_uuid: str) -> list[dict[str, Any]]:
        name = (ctx["query"].get("name") or [None])[0]
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            sql, args = "SELECT * FROM universe WHERE customer_id = %s", [cust["id"]]
            if name:
                sql += " AND name = %s"
                args.append(name)
            rows = conn.execute(sql + " ORDER BY name", args).fetchall()
        return [self.universe_json(r, ctx["user"]) for r in rows]

    def get_universe(self, ctx: dict[str, Any], c_uuid: str, u_uuid: str) -> dict[str, Any]:
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            row = self.get_universe_row(conn, cust, u_uuid)
        return self.universe_json(row, ctx["user"])

    def update_backup_state(self, ctx: dict[str, Any], c_uuid: str, u_uuid: str) -> dict[str, Any]:
        raw = (ctx["query"].get("markActive") or [None])[0]
        if raw not in ("true", "false"):
            raise ApiError(400, "markActive query parameter must be true or false")
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            row = self.get_universe_row(conn, cust, u_uuid)
            details = json.loads(row["universe_details_json"] or "{}")
            conf = details.get("universeConfig") if isinstance(details.get("universeConfig"), dict) else {}
            conf["takeBackups"] = raw
            details["universeConfig"] = conf
            conn.execute("UPDATE universe SET universe_details_json = %s WHERE universe_uuid = %s",
                         (json.dumps(details), row["universe_uuid"]))
        return {"success": True, "message": f"Set backup state to {raw}"}

    # ------------------------------------------------------------------ storage configs
    def config_row(self, conn: Any, cust: dict[str, Any], config_uuid: str) -> dict[str, Any]:
        config_uuid = check_uuid(config_uuid, "StorageConfig")
        row = conn.execute("SELECT * FROM customer_config WHERE config_uuid = %s AND customer_uuid = %s",
                           (config_uuid, cust["uuid"])).fetchone()
        if not row:
            raise ApiError(400, f"Invalid StorageConfig UUID: {config_uuid}")
        return row

    def config_data(self, row: dict[str, Any]) -> dict[str, Any]:
        try:
            return crypto.decrypt(self.state, row["data"])
        except (crypto.DecryptionError, ValueError) as exc:
            LOG.error("cannot decrypt customer_config %s: %s", row["config_uuid"], exc)
            raise ApiError(500, f"Failed to decrypt config data of {row['config_uuid']}") from exc

    def config_json(self, row: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        out = {"configUUID": str(row["config_uuid"]), "customerUUID": str(row["customer_uuid"]),
               "configName": row["config_name"], "name": row["name"], "type": row["type"],
               "state": row["state"], "data": mask_data(self.config_data(row))}
        if extra:
            out.update(extra)
        return out

    def list_configs(self, ctx: dict[str, Any], c_uuid: str) -> list[dict[str, Any]]:
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            rows = conn.execute("SELECT * FROM customer_config WHERE customer_uuid = %s ORDER BY config_name",
                                (cust["uuid"],)).fetchall()
            out = []
            for row in rows:
                unis = conn.execute(
                    "SELECT u.universe_uuid, u.name, u.creation_date, u.universe_details_json FROM universe u "
                    "WHERE u.universe_uuid IN (SELECT DISTINCT universe_uuid FROM backup "
                    "WHERE storage_config_uuid = %s AND state <> 'Deleted') ORDER BY u.name",
                    (row["config_uuid"],)).fetchall()
                in_use = bool(conn.execute(
                    "SELECT 1 FROM backup WHERE storage_config_uuid = %s AND state <> 'Deleted' LIMIT 1",
                    (row["config_uuid"],)).fetchone()) or bool(conn.execute(
                        "SELECT 1 FROM schedule WHERE customer_uuid = %s AND status = 'Active' "
                        "AND task_params::text LIKE %s LIMIT 1",
                        (cust["uuid"], f"%{row['config_uuid']}%")).fetchone())
                subset = []
                for u in unis:
                    d = self.universe_details(u, ctx["user"])
                    subset.append({"uuid": str(u["universe_uuid"]), "name": u["name"],
                                   "creationDate": int(u["creation_date"].replace(tzinfo=timezone.utc)
                                                       .timestamp() * 1000),
                                   "universePaused": bool(d.get("universePaused")),
                                   "updateInProgress": bool(d.get("updateInProgress")),
                                   "updateSucceeded": bool(d.get("updateSucceeded", True))})
                out.append(self.config_json(row, {"inUse": in_use, "universeDetails": subset}))
        return out

    def _validate_config_body(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid Json")
        errors: dict[str, list[str]] = {}
        for key in ("configName", "name", "type", "data"):
            if body.get(key) in (None, ""):
                errors[key] = ["This field is required"]
        if body.get("type") not in (None, "STORAGE", "ALERTS", "CALLHOME", "PASSWORD_POLICY"):
            errors["type"] = [f"Invalid value {body.get('type')}"]
        if body.get("data") is not None and not isinstance(body.get("data"), dict):
            errors["data"] = ["Invalid value"]
        if errors:
            raise ApiError(400, errors, errors)
        return body

    def _validate_storage(self, name: str, data: dict[str, Any]) -> None:
        """CustomerConfigValidator -> CustomerConfigStorageS3Validator.validate, synchronously in the request
        (canary write/read/list/delete, storage_check); a failure is a field error (YBPStructuredError)."""
        if name != "S3":
            if name not in ("NFS", "GCS", "AZ"):
                raise ApiError(400, {"name": [f"Unsupported storage config name {name}"]})
            return
        try:
            storage_check.validate_s3(self.state, data)
        except storage_check.StorageInvalid as exc:
            raise ApiError(400, exc.errors) from None

    def create_config(self, ctx: dict[str, Any], c_uuid: str) -> dict[str, Any]:
        body = self._validate_config_body(ctx["body"])
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            dup = conn.execute("SELECT 1 FROM customer_config WHERE customer_uuid = %s AND config_name = %s",
                               (cust["uuid"], body["configName"])).fetchone()
            if dup:
                raise ApiError(409, f"Configuration {body['configName']} already exists")
            if body["type"] == "STORAGE":
                self._validate_storage(body["name"], body["data"])
            config_uuid = str(uuidlib.uuid4())
            conn.execute(
                "INSERT INTO customer_config (config_uuid, customer_uuid, type, name, config_name, data, state) "
                "VALUES (%s, %s, %s, %s, %s, %s, 'Active')",
                (config_uuid, cust["uuid"], body["type"], body["name"], body["configName"],
                 crypto.encrypt(self.state, body["data"])))
            row = conn.execute("SELECT * FROM customer_config WHERE config_uuid = %s", (config_uuid,)).fetchone()
        return self.config_json(row)

    def _edit_config(self, ctx: dict[str, Any], c_uuid: str, config_uuid: str, v2: bool) -> dict[str, Any]:
        body = self._validate_config_body(ctx["body"])
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            row = self.config_row(conn, cust, config_uuid)
            if v2 and row["state"] == "QueuedForDeletion":
                raise ApiError(400, "Cannot edit config as it is queued for deletion.")
            if body["name"] != row["name"] or body["type"] != row["type"]:
                raise ApiError(400, "Cannot change the name or type of a config")
            data = unmask_data(body["data"], self.config_data(row))
            if row["type"] == "STORAGE":
                self._validate_storage(row["name"], data)
            conn.execute("UPDATE customer_config SET data = %s, config_name = %s WHERE config_uuid = %s",
                         (crypto.encrypt(self.state, data), body["configName"], row["config_uuid"]))
            row = conn.execute("SELECT * FROM customer_config WHERE config_uuid = %s",
                               (row["config_uuid"],)).fetchone()
        return self.config_json(row)

    def edit_config_v1(self, ctx: dict[str, Any], c_uuid: str, config_uuid: str) -> dict[str, Any]:
        return self._edit_config(ctx, c_uuid, config_uuid, v2=False)

    def edit_config_v2(self, ctx: dict[str, Any], c_uuid: str, config_uuid: str) -> dict[str, Any]:
        return self._edit_config(ctx, c_uuid, config_uuid, v2=True)

    def delete_config(self, ctx: dict[str, Any], c_uuid: str, config_uuid: str, v2: bool = False) -> dict[str, Any]:
        """CustomerConfigController.delete: a STORAGE config with an InProgress backup -> 400; one an Active
        backup schedule uses -> 400 (CustomerConfigValidator.validateConfigRemoval, a global bean error);
        without isDeleteBackups the row goes at once (YBPSuccess), with it a task queues its backups (YBPTask).
        The v2 path (deleteYb) always answers with its task."""
        delete_backups = (ctx["query"].get("isDeleteBackups") or ["false"])[0] == "true"
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            row = self.config_row(conn, cust, config_uuid)
            if row["type"] == "STORAGE":
                busy = conn.execute("SELECT 1 FROM backup WHERE storage_config_uuid = %s AND state = 'In Progress' "
                                    "LIMIT 1", (row["config_uuid"],)).fetchone()
                if busy:
                    raise ApiError(400, f"Backup task associated with Configuration {row['config_uuid']} is in "
                                        "progress.")
                used = conn.execute("SELECT schedule_name FROM schedule WHERE customer_uuid = %s AND "
                                    "status = 'Active' AND task_params::text LIKE %s LIMIT 1",
                                    (cust["uuid"], f"%{row['config_uuid']}%")).fetchone()
                if used:
                    raise ApiError(400, {"": [f"Configuration {row['config_name']} is used in scheduled backup "
                                              "and can't be deleted"]})
            if not delete_backups and not v2:
                conn.execute("DELETE FROM customer_config WHERE config_uuid = %s", (row["config_uuid"],))
                return {"success": True, "message": f"Config {row['config_uuid']} deleted"}
            task_uuid = tasks.new_task(conn, cust, ctx["user"], "DeleteCustomerConfig", "Delete",
                                       "Customer Configuration", row["config_name"], str(row["config_uuid"]),
                                       {"customerUUID": str(cust["uuid"]), "configUUID": str(row["config_uuid"]),
                                        "isDeleteBackups": delete_backups}, state="Running")
            conn.execute("UPDATE customer_config SET state = 'QueuedForDeletion' WHERE config_uuid = %s",
                         (row["config_uuid"],))
            if delete_backups:
                conn.execute("UPDATE backup SET state = 'QueuedForDeletion', update_time = now() "
                             "WHERE storage_config_uuid = %s AND state IN ('Completed', 'Failed', 'Stopped', "
                             "'Skipped', 'FailedToDelete')", (row["config_uuid"],))
            conn.execute("DELETE FROM customer_config WHERE config_uuid = %s", (row["config_uuid"],))
            tasks.finish_task(conn, task_uuid, "Success")
        return {"taskUUID": task_uuid, "resourceUUID": str(row["config_uuid"])}

    def delete_config_v2(self, ctx: dict[str, Any], c_uuid: str, config_uuid: str) -> dict[str, Any]:
        return self.delete_config(ctx, c_uuid, config_uuid, v2=True)

    # ------------------------------------------------------------------ backups
    def backup_row(self, conn: Any, cust: dict[str, Any], b_uuid: str) -> dict[str, Any]:
        b_uuid = check_uuid(b_uuid, "Backup")
        row = conn.execute("SELECT * FROM backup WHERE backup_uuid = %s AND customer_uuid = %s",
                           (b_uuid, cust["uuid"])).fetchone()
        if not row:
            raise ApiError(400, f"Invalid customer: {cust['uuid']} or backup: {b_uuid}")
        return row

    def backup_info(self, row: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        try:
            info = json.loads(row["backup_info"] or "{}")
        except ValueError:
            info = {}
        if not isinstance(info, dict):
            info = {}
        info.setdefault("creatingUser", self.user_json(user))
        info.setdefault("platformUrl", self.platform_url().split("://", 1)[-1])
        info.setdefault("platformVersion", self.version)
        info.setdefault("sleepAfterMasterRestartMillis", 180000)
        info.setdefault("sleepAfterTServerRestartMillis", 180000)
        info.setdefault("storageConfigUUID", str(row["storage_config_uuid"]) if row["storage_config_uuid"] else None)
        info.setdefault("timeTakenPartial", 0)
        if info.get("storageConfigUUID") is None:
            info.pop("storageConfigUUID")
            info["storageConfigUUID"] = "00000000-0000-0000-0000-000000000000"
        for sub in info.get("backupList") or []:
            if isinstance(sub, dict):
                for key in ("creatingUser", "platformUrl", "platformVersion", "sleepAfterMasterRestartMillis",
                            "sleepAfterTServerRestartMillis", "storageConfigUUID", "timeTakenPartial"):
                    sub.setdefault(key, info[key])
        return info

    @staticmethod
    def java_state(db_state: str) -> str:
        return STATE_FROM_DB.get(db_state, db_state)

    def backup_json(self, row: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        out = {
            "backupUUID": str(row["backup_uuid"]), "customerUUID": str(row["customer_uuid"]),
            "universeUUID": str(row["universe_uuid"]) if row["universe_uuid"] else None,
            "universeName": row["universe_name"],
            "storageConfigUUID": str(row["storage_config_uuid"]) if row["storage_config_uuid"] else None,
            "state": self.java_state(row["state"]), "backupInfo": self.backup_info(row, user),
            "taskUUID": str(row["task_uuid"]) if row["task_uuid"] else None,
            "scheduleUUID": str(row["schedule_uuid"]) if row["schedule_uuid"] else None,
            "scheduleName": row["schedule_name"], "expiry": fmt_time(row["expiry"]),
            "expiryTimeUnit": time_unit_api(row["expiry_time_unit"]),
            "createTime": fmt_time(row["create_time"]), "updateTime": fmt_time(row["update_time"]),
            "completionTime": fmt_time(row["completion_time"]), "category": row["category"],
            "version": row["version"], "baseBackupUUID": str(row["base_backup_uuid"]),
            "hasKMSHistory": bool(row["has_kms_history"]),
            "incrementalBackup": str(row["base_backup_uuid"]) != str(row["backup_uuid"]),
            "parentBackup": str(row["base_backup_uuid"]) == str(row["backup_uuid"]),
        }
        return {k: v for k, v in out.items() if v is not None}

    def backup_resp(self, row: dict[str, Any], user: dict[str, Any], config_types: dict[str, str],
                    universes: set[str], chain: dict[str, Any] | None = None) -> dict[str, Any]:
        """BackupUtil.toBackupResp; ``chain`` = the newest backup of its chain and the chain's length
        (Backup.fetchAllBackupsByBaseBackupUUID, create_time DESC), see chains()."""
        info = self.backup_info(row, user)
        size = int(info.get("backupSizeInBytes") or 0)
        response_list = []
        for sub in info.get("backupList") or [info]:
            if not isinstance(sub, dict):
                continue
            response_list.append({
                "keyspace": sub.get("keyspace") or "yugabyte",
                "allTables": not sub.get("tableNameList"),
                "tablesList": list(sub.get("tableNameList") or []),
                "tableUUIDList": list(sub.get("tableUUIDList") or []),
                "backupSizeInBytes": int(sub.get("backupSizeInBytes") or 0),
                "defaultLocation": sub.get("storageLocation") or info.get("storageLocation") or "",
                "perRegionLocations": [],
            })
        cfg = str(row["storage_config_uuid"]) if row["storage_config_uuid"] else ""
        common = {
            "backupUUID": str(row["backup_uuid"]), "baseBackupUUID": str(row["base_backup_uuid"]),
            "taskUUID": str(row["task_uuid"]) if row["task_uuid"] else "00000000-0000-0000-0000-000000000000",
            "storageConfigUUID": cfg or "00000000-0000-0000-0000-000000000000",
            "kmsConfigUUID": info.get("kmsConfigUUID") or "00000000-0000-0000-0000-000000000000",
            "state": self.java_state(row["state"]), "sse": bool(info.get("sse", False)),
            "tableByTableBackup": bool(info.get("tableByTableBackup", False)),
            "totalBackupSizeInBytes": size, "responseList": response_list,
            "createTime": fmt_time(row["create_time"]), "updateTime": fmt_time(row["update_time"]),
            "completionTime": fmt_time(row["completion_time"]),
        }
        out = {
            "commonBackupInfo": {k: v for k, v in common.items() if v is not None},
            "customerUUID": str(row["customer_uuid"]),
            "universeUUID": str(row["universe_uuid"]) if row["universe_uuid"] else "",
            "universeName": row["universe_name"] or "",
            "scheduleUUID": str(row["schedule_uuid"]) if row["schedule_uuid"] else
            "00000000-0000-0000-0000-000000000000",
            "scheduleName": row["schedule_name"] or "",
            "onDemand": row["schedule_uuid"] is None,
            "backupType": info.get("backupType") or "PGSQL_TABLE_TYPE",
            "category": row["category"], "isFullBackup": True,
            "hasIncrementalBackups": bool(chain) and chain["n"] > 1,
            "isStorageConfigPresent": cfg in config_types,
            "isUniversePresent": str(row["universe_uuid"]) in universes,
            "lastBackupState": self.java_state(chain["state"] if chain else "Completed"),
            "storageConfigType": config_types.get(cfg) or info.get("storageConfigType") or "S3",
            "expiryTimeUnit": time_unit_api(row["expiry_time_unit"]),
            "fullChainSizeInBytes": int(info.get("fullChainSizeInBytes") or size),
            "useTablespaces": bool(info.get("useTablespaces", False)),
        }
        if chain:
            out["lastIncrementalBackupTime"] = fmt_time(chain["create_time"])
        if row["expiry"]:
            out["expiryTime"] = fmt_time(row["expiry"])
        return out

    @staticmethod
    def chains(conn: Any, cust: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Per base backup of ``rows``: its chain's length and newest member (toBackupResp reads
        Backup.fetchAllBackupsByBaseBackupUUID per backup; one query for a page here)."""
        bases = [str(r["base_backup_uuid"]) for r in rows]
        if not bases:
            return {}
        return {str(r["base_backup_uuid"]): r for r in conn.execute(
            "SELECT DISTINCT ON (base_backup_uuid) base_backup_uuid, state, create_time, "
            "count(*) OVER (PARTITION BY base_backup_uuid) AS n FROM backup WHERE customer_uuid = %s "
            "AND base_backup_uuid = ANY(%s::uuid[]) ORDER BY base_backup_uuid, create_time DESC",
            (cust["uuid"], bases))}

    def page_backups(self, ctx: dict[str, Any], c_uuid: str) -> dict[str, Any]:
        body = ctx["body"] if isinstance(ctx["body"], dict) else {}
        flt = body.get("filter") or {}
        if not isinstance(flt, dict):
            raise ApiError(400, "Invalid filter")
        where, args = ["b.customer_uuid = %s", "b.backup_uuid = b.base_backup_uuid"], []
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            args.append(cust["uuid"])
            states = flt.get("states") or []
            for s in states:
                if s not in JAVA_STATES:
                    raise ApiError(400, f"Cannot deserialize value of type `BackupState` from String \"{s}\": "
                                        f"not one of the values accepted for Enum class: [{', '.join(JAVA_STATES)}]")
            if states:
                where.append("b.state = ANY(%s)")
                args.append([STATE_TO_DB.get(s, s) for s in states])
            for key, column in (("universeUUIDList", "b.universe_uuid"),
                                ("storageConfigUUIDList", "b.storage_config_uuid"),
                                ("scheduleUUIDList", "b.schedule_uuid")):
                values = flt.get(key) or []
                if values:
                    where.append(f"{column} = ANY(%s::uuid[])")
                    args.append([check_uuid(v, key) for v in values])
            if flt.get("universeNameList"):
                where.append("b.universe_name = ANY(%s)")
                args.append(list(flt["universeNameList"]))
            if flt.get("keyspaceList"):
                where.append("(" + " OR ".join(["b.backup_info::text LIKE %s"] * len(flt["keyspaceList"])) + ")")
                args.extend([f'%"{k}"%' for k in flt["keyspaceList"]])
            if flt.get("dateRangeStart"):
                where.append("b.create_time >= %s")
                args.append(parse_time(flt["dateRangeStart"], "dateRangeStart"))
            if flt.get("dateRangeEnd"):
                where.append("b.create_time <= %s")
                args.append(parse_time(flt["dateRangeEnd"], "dateRangeEnd"))
            if flt.get("onlyShowDeletedUniverses"):
                where.append("NOT EXISTS (SELECT 1 FROM universe u WHERE u.universe_uuid = b.universe_uuid)")
            if flt.get("onlyShowDeletedConfigs"):
                where.append("NOT EXISTS (SELECT 1 FROM customer_config c WHERE c.config_uuid = b.storage_config_uuid)")
            direction = "ASC" if str(body.get("direction", "DESC")).upper() == "ASC" else "DESC"
            if body.get("sortBy", "createTime") not in ("createTime",):
                raise ApiError(400, f"Invalid sortBy: {body.get('sortBy')}")
            offset = int(body.get("offset") or 0)
            limit = int(body.get("limit") or 0)
            if offset < 0 or limit < 0:
                raise ApiError(400, "offset and limit must not be negative")
            sql_where = " AND ".join(where)
            sql = f"SELECT b.* FROM backup b WHERE {sql_where} ORDER BY b.create_time {direction}, b.backup_uuid"
            page_args = list(args)
            if limit:
                sql += " LIMIT %s"
                page_args.append(limit + 1)
            if offset:
                sql += " OFFSET %s"
                page_args.append(offset)
            rows = conn.execute(sql, page_args).fetchall()
            total = None
            if body.get("needTotalCount", True):
                total = conn.execute(f"SELECT count(*) AS n FROM backup b WHERE {sql_where}", args).fetchone()["n"]
            configs = {str(r["config_uuid"]): r["name"] for r in conn.execute(
                "SELECT config_uuid, name FROM customer_config WHERE customer_uuid = %s", (cust["uuid"],))}
            universes = {str(r["universe_uuid"]) for r in conn.execute(
                "SELECT universe_uuid FROM universe WHERE customer_id = %s", (cust["id"],))}
            has_next = bool(limit) and len(rows) > limit
            rows = rows[:limit] if limit else rows
            chains = self.chains(conn, cust, rows)
        return {"entities": [self.backup_resp(r, ctx["user"], configs, universes, chains.get(str(r["backup_uuid"])))
                             for r in rows],
                "hasNext": has_next, "hasPrev": offset > 0,
                "totalCount": int(total if total is not None else 0)}

    def list_universe_backups(self, ctx: dict[str, Any], c_uuid: str, u_uuid: str) -> list[dict[str, Any]]:
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            uni = self.get_universe_row(conn, cust, u_uuid)
            rows = conn.execute("SELECT * FROM backup WHERE customer_uuid = %s AND universe_uuid = %s "
                                "ORDER BY create_time DESC", (cust["uuid"], uni["universe_uuid"])).fetchall()
        return [self.backup_json(r, ctx["user"]) for r in rows]

    def fetch_backups_by_task(self, ctx: dict[str, Any], c_uuid: str, u_uuid: str,
                              t_uuid: str) -> list[dict[str, Any]]:
        """BackupsController.fetchBackupsByTaskUUID: customer and universe checked, then every backup whose
        task_uuid is t (Backup.fetchAllBackupsByTaskUUID: not filtered by universe; [] for an unknown task)."""
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            self.get_universe_row(conn, cust, u_uuid)
            t_uuid = check_uuid(t_uuid, "Task")
            rows = conn.execute("SELECT * FROM backup WHERE task_uuid = %s ORDER BY create_time",
                                (t_uuid,)).fetchall()
        return [self.backup_json(r, ctx["user"]) for r in rows]

    def get_backup(self, ctx: dict[str, Any], c_uuid: str, b_uuid: str) -> dict[str, Any]:
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            row = self.backup_row(conn, cust, b_uuid)
        return self.backup_json(row, ctx["user"])

    def edit_backup(self, ctx: dict[str, Any], c_uuid: str, b_uuid: str) -> dict[str, Any]:
        body = ctx["body"] if isinstance(ctx["body"], dict) else {}
        millis = body.get("timeBeforeDeleteFromPresentInMillis", 0)
        unit = body.get("expiryTimeUnit")
        cfg = body.get("storageConfigUUID")
        if not isinstance(millis, int) or isinstance(millis, bool):
            raise ApiError(400, "timeBeforeDeleteFromPresentInMillis must be an integer")
        if unit is not None and unit not in TIME_UNITS:
            raise ApiError(400, f"Invalid expiryTimeUnit: {unit}")
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            row = self.backup_row(conn, cust, b_uuid)
            if millis < 0 and cfg is None:
                raise ApiError(400, "Please provide either a non negative expiry time or storage config to "
                                    "edit backup")
            if row["state"] in IN_PROGRESS_DB:
                raise ApiError(400, "Cannot edit a backup that is in progress state")
            if millis > 0 and unit is None:
                raise ApiError(400, "Please provide a time unit for backup expiry")
            if str(row["backup_uuid"]) != str(row["base_backup_uuid"]):
                raise ApiError(400, "Cannot edit an incremental backup")
            if cfg is not None:
                existing = conn.execute("SELECT state FROM customer_config WHERE config_uuid = %s",
                                        (row["storage_config_uuid"],)).fetchone() if row["storage_config_uuid"] else None
                if existing and existing["state"] == "Active":
                    raise ApiError(400, "Active storage config is already assigned to the backup")
                new = self.config_row(conn, cust, cfg)
                if new["type"] != "STORAGE":
                    raise ApiError(400, f"Cannot assign {new['type']} type config in place of Storage Config")
                if new["state"] != "Active":
                    raise ApiError(400, "Cannot assign storage config which is not in Active state")
                conn.execute("UPDATE backup SET storage_config_uuid = %s, update_time = now() "
                             "WHERE backup_uuid = %s", (new["config_uuid"], row["backup_uuid"]))
            if millis == 0 and cfg is None:
                conn.execute("UPDATE backup SET expiry = NULL, update_time = now() WHERE backup_uuid = %s",
                             (row["backup_uuid"],))
            elif millis > 0:
                conn.execute("UPDATE backup SET expiry = %s, expiry_time_unit = %s, update_time = now() "
                             "WHERE backup_uuid = %s",
                             (utcnow() + timedelta(milliseconds=millis), TIME_UNIT_DB[unit], row["backup_uuid"]))
            row = self.backup_row(conn, cust, b_uuid)
        return self.backup_json(row, ctx["user"])

    def universe_locked(self, conn: Any, uni: dict[str, Any], details: dict[str, Any]) -> bool:
        """Universe.universeDetails.updateInProgress; a running CreateBackup task holds that lock in YBA
        (one backup per universe at a time), which the lab derives from the backup's incomplete task."""
        if details.get("updateInProgress"):
            return True
        return bool(conn.execute(
            "SELECT 1 FROM backup b JOIN task_info ti ON ti.uuid = b.task_uuid WHERE b.universe_uuid = %s "
            "AND b.state = 'In Progress' AND ti.task_state = ANY(%s) LIMIT 1",
            (uni["universe_uuid"], list(tasks.INCOMPLETE_TASK_STATES))).fetchone())

    def create_backup(self, ctx: dict[str, Any], c_uuid: str) -> dict[str, Any]:
        """BackupsController.createBackupYb -> BackupHelper.createBackupTask: the checks in its order, then the
        storage config is validated synchronously (the S3 canary, storage_check) before the task is submitted;
        answers YBPTask{taskUUID, resourceUUID: null}."""
        body = ctx["body"] if isinstance(ctx["body"], dict) else None
        if body is None:
            raise ApiError(400, "Invalid Json")
        if not body.get("universeUUID"):
            raise ApiError(400, {"universeUUID": ["This field is required"]})
        if body.get("backupType") not in (None, "PGSQL_TABLE_TYPE", "YQL_TABLE_TYPE", "REDIS_TABLE_TYPE"):
            raise ApiError(400, f"Invalid backupType: {body.get('backupType')}")
        tbd = body.get("timeBeforeDelete", 0)
        if not isinstance(tbd, int) or isinstance(tbd, bool) or tbd < 0:
            raise ApiError(400, "timeBeforeDelete must be a non-negative integer")
        unit = body.get("expiryTimeUnit")
        if unit is not None and unit not in TIME_UNITS:
            raise ApiError(400, f"Invalid expiryTimeUnit: {unit}")
        parallel = body.get("parallelDBBackups", 8)  # BackupRequestParams.parallelDBBackups default
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            uni = self.get_universe_row(conn, cust, body["universeUUID"])
            details = self.universe_details(uni, ctx["user"])
            if self.universe_config(uni).get("takeBackups", "true") == "false":
                raise ApiError(400, "Taking backups on the universe is disabled")
            if self.universe_locked(conn, uni, details):
                raise ApiError(409, f"Cannot run Backup task since the universe {uni['universe_uuid']} is "
                                    "currently in a locked state.")
            if details.get("universePaused"):
                raise ApiError(400, f"Cannot run Backup task since the universe {uni['universe_uuid']} is "
                                    "currently paused.")
            if not isinstance(parallel, int) or isinstance(parallel, bool) or parallel <= 0:
                raise ApiError(400, "invalid parallelDBBackups value provided")
            if tbd != 0 and unit is None:
                raise ApiError(400, "Please provide time unit for backup expiry")
            if not body.get("storageConfigUUID"):
                raise ApiError(400, "Missing StorageConfig UUID")
            cfg = self.config_row(conn, cust, body["storageConfigUUID"])
            if cfg["type"] != "STORAGE":
                raise ApiError(400, f"Invalid StorageConfig UUID: {cfg['config_uuid']}")
            if cfg["state"] != "Active":
                raise ApiError(400, "Cannot create backup as config is queued for deletion.")
        # BackupHelper.validateStorageConfig, outside the DB connection: it can take as long as the S3 timeouts.
        if cfg["name"] == "S3":
            data = self.config_data(cfg)
            if not data.get("BACKUP_LOCATION"):
                raise ApiError(400, "Default backup location cannot be empty")
            try:
                storage_check.validate_s3(self.state, data)
            except storage_check.StorageInvalid as exc:
                LOG.error("Storage config %s validation failed: %s", cfg["config_name"], exc.message)
                # BackupUtil.validateStorageConfigOnLocations
                raise ApiError(400, f"Storage config {cfg['config_name']} cannot access backup locations") from None
        with self.connect() as conn:
            submitted = self.workers.submit_backup(conn, cust, ctx["user"], uni, cfg, body, unit or "DAYS", tbd)
        return {"taskUUID": submitted["taskUUID"], "resourceUUID": None}  # YBPTask(taskUUID): no resource UUID

    def delete_backups(self, ctx: dict[str, Any], c_uuid: str) -> dict[str, Any]:
        """BackupsController.deleteYb: one DeleteBackupYb task per deletable backup (it only queues the backup;
        the GC deletes the objects later). Missing backups, IN_PROGRESS_STATES and Completed incrementals are
        skipped with an error in the log only. Answers YBPTasks."""
        body = ctx["body"] if isinstance(ctx["body"], dict) else {}
        infos = body.get("deleteBackupInfos")
        if not isinstance(infos, list) or not infos:
            raise ApiError(400, {"deleteBackupInfos": ["This field is required"]},
                           {"deleteBackupInfos": ["This field is required"]})
        forced = bool(body.get("deleteForcefully", False))
        task_list = []
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            for info in infos:
                if not isinstance(info, dict) or not info.get("backupUUID"):
                    raise ApiError(400, "backupUUID is required")
                b_uuid = check_uuid(info["backupUUID"], "Backup")
                row = conn.execute("SELECT * FROM backup WHERE backup_uuid = %s AND customer_uuid = %s",
                                   (b_uuid, cust["uuid"])).fetchone()
                if row is None:
                    LOG.error("Can not delete %s backup as it is not present in the database.", b_uuid)
                    continue
                if row["state"] in IN_PROGRESS_DB:
                    LOG.error("Backup %s is in the state %s. Deletion is not allowed", b_uuid, row["state"])
                    continue
                if str(row["backup_uuid"]) != str(row["base_backup_uuid"]) and row["state"] == "Completed":
                    LOG.error("Cannot delete backup %s as it in %s state", b_uuid, row["state"])
                    continue
                if info.get("storageConfigUUID"):
                    backup_info = dict(tasks.as_dict(row["backup_info"]))
                    backup_info["storageConfigUUID"] = check_uuid(info["storageConfigUUID"], "StorageConfig")
                    conn.execute("UPDATE backup SET backup_info = %s WHERE backup_uuid = %s",
                                 (json.dumps(backup_info), b_uuid))
                target = row["universe_name"] or f"univ-{row['universe_uuid']}"
                task_uuid = self.workers.submit_delete_yb(conn, cust, ctx["user"], row, forced,
                                                          str(row["universe_uuid"]), target)
                task_list.append({"taskUUID": task_uuid, "resourceUUID": b_uuid})
        return {"taskUUID": [t["taskUUID"] for t in task_list], "ybpTaskList": task_list}

    def stop_backup(self, ctx: dict[str, Any], c_uuid: str, b_uuid: str) -> dict[str, Any]:
        """BackupHelper.stopBackup; a script backup without a live process: Util.getProcessOrBadRequest."""
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            row = self.backup_row(conn, cust, b_uuid)
            if row["state"] != "In Progress":
                raise ApiError(400, "The backup you are trying to stop is not in progress.")
            if not self.workers.stop(conn, row):
                raise ApiError(400, "The process you want to stop doesn't exist.")
        return {"success": True, "message": "Successfully stopped the backup process."}

    # ------------------------------------------------------------------ tasks
    @staticmethod
    def task_status_json(ct: dict[str, Any], ti: dict[str, Any]) -> dict[str, Any]:
        """Commissioner.buildTaskStatus: target = the target's name, createTime as java.util.Date.toString(),
        percent a double, no completionTime or typeName; the error text is on failed_subtasks only."""
        running = ti["task_state"] in tasks.INCOMPLETE_TASK_STATES
        title = tasks.task_title(ct)
        step = {"title": ti["task_type"], "description": title, "state": ti["task_state"], "extraDetails": []}
        out = {
            "title": title, "createTime": ct["create_time"].strftime("%a %b %d %H:%M:%S UTC %Y"),
            "target": ct["target_name"], "targetUUID": str(ct["target_uuid"]), "type": ct["type"],
            "status": ti["task_state"], "percent": float(ti["percent_done"] or 0),
            "correlationId": ct["correlation_id"], "userEmail": ct["user_email"],
            "details": {"taskDetails": [step]},
            "abortable": running and ti["task_type"] == "CreateBackup", "retryable": False,
        }
        return {k: v for k, v in out.items() if v is not None}

    def task_status(self, ctx: dict[str, Any], c_uuid: str, t_uuid: str) -> dict[str, Any]:
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            t_uuid = check_uuid(t_uuid, "Task")
            ct = conn.execute("SELECT * FROM customer_task WHERE task_uuid = %s AND customer_uuid = %s",
                              (t_uuid, cust["uuid"])).fetchone()
            ti = conn.execute("SELECT * FROM task_info WHERE uuid = %s", (t_uuid,)).fetchone()
        if not ct or not ti:
            raise ApiError(400, f"Invalid Customer Task UUID: {t_uuid}")
        return self.task_status_json(ct, ti)

    @staticmethod
    def failed_subtask_json(row: dict[str, Any], group: str | None = None) -> dict[str, Any]:
        """One SubtaskData of CustomerTaskController.listFailedSubtasks; errorString is "null" when absent."""
        details = json_dict(row["details"])
        error = details.get("errorString")
        if error is None and isinstance(details.get("error"), dict):
            error = details["error"].get("message")
        return {"subTaskUUID": str(row["uuid"]), "subTaskType": row["task_type"], "subTaskState": row["task_state"],
                "subTaskGroupType": group or row["sub_task_group_type"] or "Invalid",
                "creationTime": fmt_time(row["create_time"]), "errorString": "null" if error is None else str(error)}

    def failed_subtasks(self, ctx: dict[str, Any], c_uuid: str, t_uuid: str) -> dict[str, Any]:
        """CustomerTaskController.listFailedSubtasks: subtasks of t in Failure/Aborted, by position descending;
        when there are none, the parent itself if it carries an errorString (group Preparation)."""
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            t_uuid = check_uuid(t_uuid, "Task")
            ct = conn.execute("SELECT * FROM customer_task WHERE task_uuid = %s AND customer_uuid = %s",
                              (t_uuid, cust["uuid"])).fetchone()
            if not ct:
                raise ApiError(400, f"Invalid Customer Task UUID: {t_uuid}")
            rows = conn.execute("SELECT * FROM task_info WHERE parent_uuid = %s AND task_state IN "
                                "('Failure', 'Aborted') ORDER BY position DESC", (t_uuid,)).fetchall()
            out = [self.failed_subtask_json(r) for r in rows]
            if not out:
                parent = conn.execute("SELECT * FROM task_info WHERE uuid = %s", (t_uuid,)).fetchone()
                if parent and json_dict(parent["details"]).get("errorString"):
                    out.append(self.failed_subtask_json(parent, "Preparation"))
        return {"failedSubTasks": out}

    def tasks_list(self, ctx: dict[str, Any], c_uuid: str) -> list[dict[str, Any]]:
        u_uuid = (ctx["query"].get("uUUID") or [None])[0]
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            sql = ("SELECT ct.*, ti.task_state, ti.percent_done, ti.task_type, ti.details FROM customer_task ct "
                   "JOIN task_info ti ON ti.uuid = ct.task_uuid WHERE ct.customer_uuid = %s")
            args: list[Any] = [cust["uuid"]]
            if u_uuid:
                sql += " AND ct.target_uuid = %s"
                args.append(check_uuid(u_uuid, "Universe"))
            rows = conn.execute(sql + " ORDER BY ct.create_time DESC, ct.id DESC LIMIT 2000", args).fetchall()
        return [tasks.customer_task_json(r) for r in rows]

    # ------------------------------------------------------------------ schedules
    def schedule_json(self, row: dict[str, Any]) -> dict[str, Any]:
        """The Schedule entity (GET schedules/{s}, the deprecated list): with ownerUUID and taskParams."""
        out = {
            "scheduleUUID": str(row["schedule_uuid"]), "customerUUID": str(row["customer_uuid"]),
            "ownerUUID": str(row["owner_uuid"]) if row["owner_uuid"] else None,
            "scheduleName": row["schedule_name"], "taskType": row["task_type"],
            "taskParams": json_dict(row["task_params"]),
            "frequency": row["frequency"], "frequencyTimeUnit": time_unit_api(row["frequency_time_unit"], "")
            or None, "cronExpression": row["cron_expression"], "status": row["status"],
            "failureCount": row["failure_count"],
            "nextScheduleTaskTime": fmt_time(row["next_schedule_task_time"]),
            "nextIncrementScheduleTaskTime": fmt_time(row["next_increment_schedule_task_time"]),
            "backlogStatus": bool(row["backlog_status"]),
            "incrementBacklogStatus": bool(row["increment_backlog_status"]),
            "runningState": bool(row["running_state"]), "userEmail": row["user_email"],
        }
        return {k: v for k, v in out.items() if v is not None}

    def schedule_resp(self, row: dict[str, Any], prev_completed: datetime | None) -> dict[str, Any]:
        """Schedule.toScheduleResp (models/ScheduleResp.java): what schedules/page answers. No ownerUUID, no
        taskParams (only ExternalScript schedules carry them), the universe under backupInfo; nextExpectedTask
        only while Active. Dates are java.util.Date without @JsonFormat: epoch milliseconds in 2.18 (newer
        releases send ISO strings). prevCompletedTask comes from ScheduleTask, which the lab does not keep: the
        schedule's newest backup stands in for it."""
        params = json_dict(row["task_params"])
        out: dict[str, Any] = {
            "scheduleUUID": str(row["schedule_uuid"]), "customerUUID": str(row["customer_uuid"]),
            "scheduleName": row["schedule_name"], "taskType": row["task_type"], "status": row["status"],
            "failureCount": row["failure_count"], "frequency": row["frequency"] or 0,
            "frequencyTimeUnit": time_unit_api(row["frequency_time_unit"], "") or None,
            "cronExpression": row["cron_expression"], "runningState": bool(row["running_state"]),
            "backlogStatus": bool(row["backlog_status"]),
            "incrementBacklogStatus": bool(row["increment_backlog_status"]),
            "prevCompletedTask": epoch_ms(prev_completed),
            "nextExpectedTask": epoch_ms(row["next_schedule_task_time"]) if row["status"] == "Active" else None,
            "incrementalBackupFrequency": int(params.get("incrementalBackupFrequency") or 0),
            "incrementalBackupFrequencyTimeUnit": params.get("incrementalBackupFrequencyTimeUnit"),
        }
        if row["task_type"] == "ExternalScript":
            out["taskParams"] = params
        else:
            info = {  # Schedule.getV2ScheduleBackupInfo
                "universeUUID": params.get("universeUUID"), "storageConfigUUID": params.get("storageConfigUUID"),
                "keyspaceList": params.get("keyspaceTableList") or [],
                "backupType": params.get("backupType"), "timeBeforeDelete": int(params.get("timeBeforeDelete") or 0),
                "fullBackup": not params.get("keyspaceTableList"),
                "useTablespaces": bool(params.get("useTablespaces", False)),
                "expiryTimeUnit": params.get("expiryTimeUnit"),
                "parallelism": int(params.get("parallelism") or 8),
            }
            out["backupInfo"] = {k: v for k, v in info.items() if v is not None}
        return {k: v for k, v in out.items() if v is not None}

    def schedule_row(self, conn: Any, cust: dict[str, Any], s_uuid: str) -> dict[str, Any]:
        s_uuid = check_uuid(s_uuid, "Schedule")
        row = conn.execute("SELECT * FROM schedule WHERE schedule_uuid = %s AND customer_uuid = %s",
                           (s_uuid, cust["uuid"])).fetchone()
        if not row:
            raise ApiError(400, f"Invalid Customer/Schedule UUID: {s_uuid}")
        return row

    def page_schedules(self, ctx: dict[str, Any], c_uuid: str) -> dict[str, Any]:
        body = ctx["body"] if isinstance(ctx["body"], dict) else {}
        flt = body.get("filter") or {}
        sort = body.get("sortBy", "scheduleUUID")
        columns = {"taskType": "task_type", "scheduleUUID": "schedule_uuid", "scheduleName": "schedule_name"}
        if sort not in columns:
            raise ApiError(400, f"Invalid sortBy: {sort}")
        direction = "ASC" if str(body.get("direction", "ASC")).upper() == "ASC" else "DESC"
        where, args = ["customer_uuid = %s"], []
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            args.append(cust["uuid"])
            if flt.get("status"):
                for s in flt["status"]:
                    if s not in ("Active", "Paused", "Stopped"):
                        raise ApiError(400, f"Invalid schedule status: {s}")
                where.append("status = ANY(%s)")
                args.append(list(flt["status"]))
            if flt.get("taskTypes"):
                where.append("task_type = ANY(%s)")
                args.append(list(flt["taskTypes"]))
            if flt.get("universeUUIDList"):
                where.append("owner_uuid = ANY(%s::uuid[])")
                args.append([check_uuid(u, "Universe") for u in flt["universeUUIDList"]])
            offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 0)
            sql = f"SELECT * FROM schedule WHERE {' AND '.join(where)} ORDER BY {columns[sort]} {direction}"
            page_args = list(args)
            if limit:
                sql += " LIMIT %s"
                page_args.append(limit + 1)
            if offset:
                sql += " OFFSET %s"
                page_args.append(offset)
            rows = conn.execute(sql, page_args).fetchall()
            total = conn.execute(f"SELECT count(*) AS n FROM schedule WHERE {' AND '.join(where)}",
                                 args).fetchone()["n"]
            has_next = bool(limit) and len(rows) > limit
            rows = rows[:limit] if limit else rows
            last = {str(r["schedule_uuid"]): r["t"] for r in conn.execute(
                "SELECT schedule_uuid, max(create_time) AS t FROM backup WHERE schedule_uuid = ANY(%s::uuid[]) "
                "GROUP BY schedule_uuid", ([str(r["schedule_uuid"]) for r in rows],))}
        # ScheduleController.pageScheduleList -> Schedule.pagedList: SchedulePagedApiResponse of ScheduleResp.
        return {"entities": [self.schedule_resp(r, last.get(str(r["schedule_uuid"]))) for r in rows],
                "hasNext": has_next, "hasPrev": offset > 0, "totalCount": int(total)}

    def list_schedules(self, ctx: dict[str, Any], c_uuid: str) -> list[dict[str, Any]]:
        """The deprecated list: Active schedules only."""
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            rows = conn.execute("SELECT * FROM schedule WHERE customer_uuid = %s AND status = 'Active' "
                                "ORDER BY schedule_name", (cust["uuid"],)).fetchall()
        return [self.schedule_json(r) for r in rows]

    def get_schedule(self, ctx: dict[str, Any], c_uuid: str, s_uuid: str) -> dict[str, Any]:
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            return self.schedule_json(self.schedule_row(conn, cust, s_uuid))

    def toggle_schedule(self, ctx: dict[str, Any], c_uuid: str, u_uuid: str, s_uuid: str) -> dict[str, Any]:
        """ScheduleController.toggleSchedule (2024.2+, PUT .../universes/{u}/schedules/{s}/pause_resume) with
        BackupScheduleToggleParams{status (@NotNull, Active|Stopped), runImmediateBackupOnResume}:
        verifyScheduleToggle allows Stopped -> Active and Active -> Stopped only (a Paused schedule cannot be
        resumed here: "Invalid state transition from Paused to Active"); Schedule.toggleBackupSchedule refuses to
        stop a running schedule and, on Active, recomputes the next time (updateNewBackupScheduleTimes: the next
        after the last run, else now); runImmediateBackupOnResume sets backlogStatus so the next tick runs one.
        Answers YBPSuccess.empty(). failureCount is kept."""
        body = ctx["body"] if isinstance(ctx["body"], dict) else None
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            row = self.schedule_row(conn, cust, s_uuid)
            if str(row["owner_uuid"]) != str(u_uuid).lower():
                raise ApiError(400, "Schedule not owned by Universe.")
            if body is None:
                raise ApiError(400, "Invalid Json")
            status = body.get("status")
            if status is None:
                raise ApiError(400, {"status": ["error.required"]})
            if status not in ("Active", "Paused", "Stopped"):
                raise ApiError(400, f"Invalid status: {status}")  # Jackson: not one of the enum values
            if status not in ("Active", "Stopped"):  # @AllowedScheduleState(anyOf = {Active, Stopped})
                raise ApiError(400, {"status": [f"Schedule state {status} is not allowed"]})
            run_now = bool(body.get("runImmediateBackupOnResume", False))
            current = row["status"]
            if current == status:
                raise ApiError(400, f"Schedule is already in {current} state.")
            if status == "Stopped" and current != "Active" or status == "Active" and current != "Stopped":
                raise ApiError(400, f"Invalid state transition from {current} to {status}")
            if status == "Stopped":
                if row["running_state"]:
                    raise ApiError(500, "Schedule is currently locked")
                conn.execute("UPDATE schedule SET status = 'Stopped' WHERE schedule_uuid = %s",
                             (row["schedule_uuid"],))
            else:
                from .background import cron_next

                # Schedule.updateNewBackupScheduleTimes: the next time after the last run, or, when there is none
                # or it passed, nextExpectedTaskTime(null): now for a frequency, the next cron time for a cron
                now = utcnow()
                last = conn.execute("SELECT max(create_time) AS t FROM backup WHERE schedule_uuid = %s",
                                    (row["schedule_uuid"],)).fetchone()["t"]
                cron = row["cron_expression"]
                expected = None
                if last is not None:
                    expected = cron_next(cron, last) if cron else \
                        last + timedelta(milliseconds=int(row["frequency"] or 0))
                if expected is None or expected <= now:
                    expected = cron_next(cron, now) if cron else now
                nxt = expected
                conn.execute("UPDATE schedule SET status = 'Active', next_schedule_task_time = %s, "
                             "backlog_status = backlog_status OR %s WHERE schedule_uuid = %s",
                             (nxt, run_now, row["schedule_uuid"]))
        return {"success": True}

    def edit_schedule(self, ctx: dict[str, Any], c_uuid: str, s_uuid: str) -> dict[str, Any]:
        """ScheduleController.editBackupSchedule with EditBackupScheduleParams (status defaults to Active), its
        checks in order. Schedule.resetSchedule sets Active and recomputes a past next time; it does not reset
        failureCount."""
        body = ctx["body"] if isinstance(ctx["body"], dict) else {}
        status = body.get("status", "Active")
        freq, cron = body.get("frequency"), body.get("cronExpression")
        unit = body.get("frequencyTimeUnit")
        if status not in ("Active", "Paused", "Stopped"):
            raise ApiError(400, f"Invalid status: {status}")  # Jackson: not one of the enum values
        if unit is not None and unit not in TIME_UNITS:
            raise ApiError(400, f"Invalid frequencyTimeUnit: {unit}")
        if freq is not None and (not isinstance(freq, int) or isinstance(freq, bool)):
            raise ApiError(400, "Invalid frequency")
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            row = self.schedule_row(conn, cust, s_uuid)
            if status == "Paused":
                raise ApiError(400, "State paused is an internal state and cannot be specified by the user")
            if status == "Stopped":
                conn.execute("UPDATE schedule SET status = 'Stopped' WHERE schedule_uuid = %s",
                             (row["schedule_uuid"],))
                return self.schedule_json(self.schedule_row(conn, cust, s_uuid))
            if freq is None and cron is None:
                raise ApiError(400, "Both schedule frequency and cron expression cannot be null")
            if freq is not None and cron is not None:
                raise ApiError(400, "Both schedule frequency and cron expression cannot be provided")
            if row["running_state"]:
                raise ApiError(409, "Cannot edit schedule as it is running.")
            if freq is not None:
                if unit is None:
                    raise ApiError(400, "Please provide time unit for frequency")
                if freq < 3600 * 1000:  # BackupUtil.validateBackupFrequency
                    raise ApiError(400, "Minimum schedule duration is 1 hour")
                nxt = row["next_schedule_task_time"]
                if nxt is None or nxt < utcnow():  # resetSchedule: nextExpectedTaskTime(null) = now
                    nxt = utcnow()
                conn.execute("UPDATE schedule SET status = 'Active', frequency = %s, frequency_time_unit = %s, "
                             "cron_expression = NULL, next_schedule_task_time = %s WHERE schedule_uuid = %s",
                             (freq, TIME_UNIT_DB[unit], nxt, row["schedule_uuid"]))
            else:
                conn.execute("UPDATE schedule SET status = 'Active', cron_expression = %s, frequency = 0, "
                             "next_schedule_task_time = COALESCE(GREATEST(next_schedule_task_time, %s), %s) "
                             "WHERE schedule_uuid = %s", (cron, utcnow(), utcnow(), row["schedule_uuid"]))
            if body.get("incrementalBackupFrequency") is not None:
                params = json_dict(row["task_params"])
                params["incrementalBackupFrequency"] = body["incrementalBackupFrequency"]
                if body.get("incrementalBackupFrequencyTimeUnit"):
                    params["incrementalBackupFrequencyTimeUnit"] = body["incrementalBackupFrequencyTimeUnit"]
                conn.execute("UPDATE schedule SET task_params = %s WHERE schedule_uuid = %s",
                             (json.dumps(params), row["schedule_uuid"]))
            return self.schedule_json(self.schedule_row(conn, cust, s_uuid))

    # ------------------------------------------------------------------ restores and tables
    def universe_tables(self, conn: Any, uni: dict[str, Any]) -> list[dict[str, Any]]:
        """TablesController.listTables (TableInfoForm.TableInfoResp): the universe's own YSQL database (the lab's
        model, tasks.LAB_YSQL_TABLES) and every keyspace a restore created on it that still exists (a real database
        of the lab's PostgreSQL: tables and sizes read from it; gone once dropped over SQL)."""
        u = str(uni["universe_uuid"])
        out = []
        for ks, tables in tasks.LAB_YSQL_TABLES.items():
            for name, rows in tables:
                t_uuid = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"ybalab:{u}:{ks}:{name}"))
                out.append(self.table_resp(t_uuid, ks, name, float(rows * 64)))
        alive = tasks.restored_databases(self.state)
        rows = conn.execute("SELECT DISTINCT rk.target_keyspace, r.restore_uuid::text AS r FROM restore_keyspace rk "
                            "JOIN restore r ON r.restore_uuid = rk.restore_uuid WHERE r.universe_uuid = %s "
                            "AND rk.state = 'Completed' ORDER BY 1", (u,)).fetchall()
        for row in rows:
            ks = row["target_keyspace"]
            if alive.get(ks) != row["r"]:
                continue  # dropped (or not this restore's any more)
            with tasks.lab_pg(self.state, ks) as db:
                for oid, db_oid, name, size in db.execute(
                        "SELECT c.oid, (SELECT oid FROM pg_database WHERE datname = current_database()), c.relname, "
                        "pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname").fetchall():
                    # a YSQL table id: database oid, then the table's oid (as YSQL builds table ids)
                    out.append(self.table_resp(f"{int(db_oid):08x}-0000-3000-8000-{int(oid):012x}", ks, name,
                                               float(size)))
        return out

    @staticmethod
    def table_resp(t_uuid: str, keyspace: str, name: str, size: float) -> dict[str, Any]:
        return {"tableUUID": t_uuid, "tableID": t_uuid.replace("-", ""), "keySpace": keyspace,
                "tableType": "PGSQL_TABLE_TYPE", "tableName": name, "relationType": "USER_TABLE_RELATION",
                "sizeBytes": size, "walSizeBytes": 0.0, "isIndexTable": False, "nameSpace": keyspace,
                "pgSchemaName": "public", "colocated": False}

    def list_tables(self, ctx: dict[str, Any], c_uuid: str, u_uuid: str) -> list[dict[str, Any]]:
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            return self.universe_tables(conn, self.get_universe_row(conn, cust, u_uuid))

    def check_locations(self, cfg: dict[str, Any], locations: list[str]) -> None:
        """StorageUtil.validateStorageConfigOnLocationsList: every location listable with the config."""
        if cfg["name"] != "S3":
            return
        try:
            tasks.validate_storage_on_backup(self.state, self.config_data(cfg),
                                             {"backupList": [{"storageLocation": loc} for loc in locations]})
        except RuntimeError as exc:
            LOG.error("Storage config %s validation failed: %s", cfg["config_name"], exc)
            raise ApiError(400, f"Storage config {cfg['config_name']} cannot access backup locations") from None

    def restore_preflight(self, ctx: dict[str, Any], c_uuid: str) -> dict[str, Any]:
        """BackupHelper.restorePreflight (RestorePreflightParams -> RestorePreflightResponse): the config and the
        universe, the locations listable, then from the Backup when backupUUID names one, else from the YBC
        success markers (script backups: SnapshotInfoPB)."""
        body = ctx["body"] if isinstance(ctx["body"], dict) else {}
        missing = {k: ["This field is required"] for k in ("backupLocations", "storageConfigUUID", "universeUUID")
                   if not body.get(k)}
        if missing:
            raise ApiError(400, missing)
        locations = [str(x) for x in body["backupLocations"]]
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            cfg = self.config_row(conn, cust, body["storageConfigUUID"])
            uni = self.get_universe_row(conn, cust, body["universeUUID"])
            row = None
            if body.get("backupUUID"):
                row = conn.execute("SELECT * FROM backup WHERE backup_uuid = %s AND customer_uuid = %s",
                                   (check_uuid(body["backupUUID"], "Backup"), cust["uuid"])).fetchone()
        self.check_locations(cfg, locations)
        ybc_universe = bool(self.universe_details(uni, ctx["user"]).get("ybcInstalled"))
        per_location: dict[str, Any] = {}
        if row is not None:
            category = row["category"]
            info = tasks.as_dict(row["backup_info"])
            for sub in info.get("backupList") or []:
                loc = sub.get("storageLocation")
                if loc in locations:
                    per_location[loc] = self.location_info(loc, sub.get("backupType") or info.get("backupType"),
                                                           sub.get("keyspace"), sub.get("tableNameList") or [],
                                                           category)
            kms = bool(row["has_kms_history"])
        else:
            client = tasks.s3_client(self.state, self.config_data(cfg))
            category = "YB_CONTROLLER"
            for loc in locations:
                try:
                    marker, _size = tasks.read_backup_location(client, loc, "YB_CONTROLLER")
                except Exception:  # noqa: BLE001 - no success marker: a yb_backup.py backup (or nothing)
                    category = "YB_BACKUP_SCRIPT"
                    marker = {}
                per_location[loc] = self.location_info(loc, marker.get("backupType") or "PGSQL_TABLE_TYPE",
                                                       marker.get("keyspace") or tasks.keyspace_of_location(loc),
                                                       [], category)
            kms = False
        if category == "YB_CONTROLLER" and not ybc_universe:
            raise ApiError(412, "YB-Controller restore attempted on non YB-Controller enabled Universe")
        return {"backupCategory": category, "hasKMSHistory": kms, "perLocationBackupInfoMap": per_location}

    @staticmethod
    def location_info(loc: str, backup_type: str, keyspace: str, tables: list[str], category: str) -> dict[str, Any]:
        ysql = backup_type == "PGSQL_TABLE_TYPE"
        return {"backupLocation": loc, "isYSQLBackup": ysql,
                "isSelectiveRestoreSupported": category == "YB_CONTROLLER" and not ysql,
                "perBackupLocationKeyspaceTables": {"originalKeyspace": keyspace, "tableNameList": list(tables)}}

    def restore_backup(self, ctx: dict[str, Any], c_uuid: str) -> dict[str, Any]:
        """BackupsController.restoreBackup -> BackupHelper.createRestoreTask, its checks in order: the owner
        rename, the universe, a non-empty backupStorageInfoList, validateRestoreOverwrites (a YSQL keyspace that
        exists on the target: 400 "Keyspace %s already exists, overwriting data is not allowed"), the config
        (Active), the storage and the locations, YBC on the target; then the RestoreBackup task. category defaults
        to YB_BACKUP_SCRIPT as forms/RestoreBackupParams.java."""
        body = ctx["body"] if isinstance(ctx["body"], dict) else None
        if body is None:
            raise ApiError(400, "Invalid Json")
        if not body.get("universeUUID"):
            raise ApiError(400, {"universeUUID": ["This field is required"]})
        infos = body.get("backupStorageInfoList") or []
        for info in infos:
            owner = (info or {}).get("newOwner")
            if owner and not re.fullmatch(r"[^\W\d][\w]*", owner):  # VALID_OWNER_REGEX ^[\pL_][\pL\pM_0-9]*$
                raise ApiError(400, "Invalid owner rename during restore operation")
        category = body.get("category") or "YB_BACKUP_SCRIPT"
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            uni = self.get_universe_row(conn, cust, body["universeUUID"])
            if not infos or not all(isinstance(i, dict) for i in infos):
                raise ApiError(400, "Backup information not provided")
            existing = {t["keySpace"] for t in self.universe_tables(conn, uni) if t["tableType"] == "PGSQL_TABLE_TYPE"}
            for info in infos:
                if (info.get("backupType") or "PGSQL_TABLE_TYPE") == "PGSQL_TABLE_TYPE" and info.get("keyspace") \
                        in existing:
                    raise ApiError(400, f"Keyspace {info['keyspace']} already exists, overwriting data is not "
                                        "allowed")
            if not body.get("storageConfigUUID"):
                raise ApiError(400, "Invalid StorageConfig UUID: null")
            cfg = self.config_row(conn, cust, body["storageConfigUUID"])
            if cfg["state"] != "Active":
                raise ApiError(400, "Cannot restore backup as config is queued for deletion.")
        if cfg["name"] == "S3":
            try:
                storage_check.validate_s3(self.state, self.config_data(cfg))
            except storage_check.StorageInvalid as exc:
                LOG.error("Storage config %s validation failed: %s", cfg["config_name"], exc.message)
                raise ApiError(400, f"Storage config {cfg['config_name']} cannot access backup locations") from None
        self.check_locations(cfg, [str(i.get("storageLocation") or "") for i in infos])
        if category == "YB_CONTROLLER" and not self.universe_details(uni, ctx["user"]).get("ybcInstalled"):
            raise ApiError(400, "Cannot restore the ybc backup as ybc is not installed on the universe")
        with self.connect() as conn:
            task_uuid = tasks.submit_restore(self.workers, conn, cust, ctx["user"], uni, cfg, body, category)
        return {"taskUUID": task_uuid, "resourceUUID": str(uni["universe_uuid"])}

    def page_restores(self, ctx: dict[str, Any], c_uuid: str) -> dict[str, Any]:
        """RestoreBackupController.pageRestoreList (RestorePagedApiQuery -> RestorePagedApiResponse of
        RestoreResp, models/Restore.java toRestoreResp), sorted by createTime."""
        body = ctx["body"] if isinstance(ctx["body"], dict) else {}
        flt = body.get("filter") or {}
        states = flt.get("states") or []
        bad = [x for x in states if x not in ("Created", "InProgress", "Completed", "Failed", "Aborted")]
        if bad:
            raise ApiError(400, f"Invalid state: {bad[0]}")
        sql = "SELECT r.*, u.name AS target_name FROM restore r LEFT JOIN universe u ON u.universe_uuid = r.universe_uuid " \
              "WHERE r.customer_uuid = %s"
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            args: list[Any] = [cust["uuid"]]
            if states:  # the DB holds Restore.State's @EnumValue ("In Progress"), the API the enum's name
                sql += " AND r.state = ANY(%s)"
                args.append([STATE_TO_DB.get(x, x) for x in states])
            if flt.get("universeUUIDList"):
                sql += " AND r.universe_uuid::text = ANY(%s)"
                args.append([str(x).lower() for x in flt["universeUUIDList"]])
            if flt.get("universeNameList"):
                sql += " AND u.name = ANY(%s)"
                args.append(list(flt["universeNameList"]))
            if flt.get("storageConfigUUIDList"):
                sql += " AND r.storage_config_uuid::text = ANY(%s)"
                args.append([str(x).lower() for x in flt["storageConfigUUIDList"]])
            sql += " ORDER BY r.create_time " + ("ASC" if body.get("direction") == "ASC" else "DESC")
            rows = conn.execute(sql, args).fetchall()
            offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 10)
            page = rows[offset:offset + limit]
            entities = []
            for r in page:
                kss = conn.execute("SELECT * FROM restore_keyspace WHERE restore_uuid = %s ORDER BY create_time",
                                   (r["restore_uuid"],)).fetchall()
                src = conn.execute("SELECT 1 FROM universe WHERE universe_uuid = %s",
                                   (r["source_universe_uuid"],)).fetchone() if r["source_universe_uuid"] else None
                entities.append({
                    "restoreUUID": str(r["restore_uuid"]), "universeUUID": str(r["universe_uuid"]),
                    "targetUniverseName": r["target_name"] or "", "customerUUID": str(r["customer_uuid"]),
                    "sourceUniverseUUID": str(r["source_universe_uuid"] or tasks.ZERO_UUID),
                    "sourceUniverseName": r["source_universe_name"] or "", "isSourceUniversePresent": src is not None,
                    "state": STATE_FROM_DB.get(r["state"], r["state"]), "restoreSizeInBytes": int(r["restore_size_in_bytes"] or 0),
                    "createTime": fmt_time(r["create_time"]), "updateTime": fmt_time(r["update_time"]),
                    "backupType": "PGSQL_TABLE_TYPE",
                    "restoreKeyspaceList": [{
                        "uuid": str(k["uuid"]), "restoreUUID": str(k["restore_uuid"]), "taskUUID": str(k["task_uuid"]),
                        "sourceKeyspace": k["source_keyspace"], "targetKeyspace": k["target_keyspace"],
                        "storageLocation": k["storage_location"], "state": STATE_FROM_DB.get(k["state"], k["state"]),
                        "tableNameList": list(json.loads(k["table_name_list"] or "[]")),
                        "createTime": fmt_time(k["create_time"]), "completeTime": fmt_time(k["complete_time"]),
                        "backupSizeFromStorageLocation": int(k["backup_size_from_storage_location"] or 0)}
                        for k in kss]})
                for k in entities[-1]["restoreKeyspaceList"]:
                    if k["completeTime"] is None:
                        del k["completeTime"]
        return {"entities": entities, "hasNext": offset + limit < len(rows), "hasPrev": offset > 0,
                "totalCount": len(rows)}

    def list_increments(self, ctx: dict[str, Any], c_uuid: str, b_uuid: str) -> list[dict[str, Any]]:
        """BackupsController.listIncrementalBackups: the backup must exist (400 otherwise), then
        BackupUtil.getIncrementalBackupList = Backup.fetchAllBackupsByBaseBackupUUID (the whole chain, the full
        included, create_time DESC) as CommonBackupInfo."""
        with self.connect() as conn:
            cust = self.customer(conn, ctx, c_uuid)
            row = self.backup_row(conn, cust, b_uuid)
            rows = conn.execute("SELECT * FROM backup WHERE customer_uuid = %s AND base_backup_uuid = %s "
                                "ORDER BY create_time DESC", (cust["uuid"], row["backup_uuid"])).fetchall()
        return [self.backup_resp(r, ctx["user"], {}, set())["commonBackupInfo"] for r in rows]


__all__ = ["Platform", "ApiError", "DatabaseUnavailable", "ROUTES"]
