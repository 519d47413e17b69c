# A throw-away PostgreSQL 15 server for the metadb_repair benchmark and tests (initdb as postgres, free port).
from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import typing as t

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCHEMA = os.path.join(REPO, "tests", "lab", "ybalab", "schema.sql")
# YBA's newer task_info layout (details renamed task_params, a new nullable json details), on top of SCHEMA
TASK_PARAMS_LAYOUT = os.path.join(REPO, "tests", "lab", "ybalab", "task_params_layout.sql")
CORRUPT_INDEX = "ix_backup_task_uuid"  # YBA's own (V18), as the lab's incident
SEED = os.path.join(HERE, "metadb_repair_seed.sql")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(argv: t.List[str], **kw: t.Any) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


class TempPostgres:
    """initdb + pg_ctl start on 127.0.0.1:<free port>, trust auth, fsync off; stop() removes everything."""

    def __init__(self, base: t.Optional[str] = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="metadb-pg-", dir=base or "/tmp")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.host = "127.0.0.1"
        self.psql = os.path.join(PG_BIN, "psql")

    def start(self) -> "TempPostgres":
        if not os.path.isdir(self.data):
            _as_postgres([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                          "--no-sync", "-k"])
        _as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w", "-l", os.path.join(self.dir, "log"),
                      "-o", "-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off "
                      "-c synchronous_commit=off -c full_page_writes=off" % (self.port, self.dir), "start"])
        return self

    def stop(self) -> None:
        try:
            _as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"])
        except subprocess.CalledProcessError:
            pass

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def sql(self, sql: str, db: str = "yugaware", check: bool = True, variables: t.Optional[t.Dict[str, t.Any]] = None
            ) -> str:
        args = [self.psql, "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port), "-U", "postgres",
                "-d", db, "-f", "-"]
        for key, value in (variables or {}).items():
            args += ["-v", "%s=%s" % (key, value)]
        # read the heap, not a (possibly deliberately corrupted) index; no merge joins (their costing reads index ends)
        sql = ("SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; "
               "SET enable_mergejoin = off;\n" + sql)
        proc = subprocess.run(args, input=sql, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError("psql failed: %s" % proc.stderr)
        return proc.stdout.strip()

    def add_password_login(self, user: str, password: str, options: str = "") -> None:
        """A role that must log in over TCP with its password (scram), as on a YBA host whose DB login needs one;
        every other login stays trusted."""
        hba = os.path.join(self.data, "pg_hba.conf")
        with open(hba, encoding="utf-8") as handle:
            text = handle.read()
        with open(hba, "w", encoding="utf-8") as handle:
            handle.write("host all %s 127.0.0.1/32 scram-sha-256\n" % user + text)
        self.sql("CREATE ROLE %s LOGIN %s PASSWORD '%s'; SELECT pg_reload_conf();" % (user, options, password),
                 db="postgres")

    def create_yugaware(self, db: str = "yugaware", rows: int = 5000, stale: int = 20, amcheck: bool = False,
                        task_layout: str = "details") -> None:
        """The lab's schema and the seed; ``amcheck`` installs the extension (YBA never does);
        ``task_layout="task_params"`` then applies YBA's newer task_info layout as YBA's migration does."""
        self.sql("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s;" % (db, db), db="postgres")
        with open(SCHEMA, encoding="utf-8") as handle:
            schema = handle.read()
        self.sql(schema, db=db)
        if amcheck:
            self.sql("CREATE EXTENSION IF NOT EXISTS amcheck;", db=db)
        # bulk load: drop the secondary indexes, seed, then re-run the (IF NOT EXISTS) schema to rebuild them
        self.sql("DO $$DECLARE r record; BEGIN FOR r IN SELECT indexrelid::regclass AS i FROM pg_index x "
                 "JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE n.nspname = 'public' AND NOT x.indisprimary AND NOT x.indisunique LOOP "
                 "EXECUTE 'DROP INDEX ' || r.i; END LOOP; END$$;", db=db)
        with open(SEED, encoding="utf-8") as handle:
            self.sql(handle.read(), db=db, variables={"rows": rows, "stale": stale})
        self.sql(schema, db=db)
        if task_layout == "task_params":
            with open(TASK_PARAMS_LAYOUT, encoding="utf-8") as handle:
                self.sql(handle.read(), db=db)
        elif task_layout != "details":
            raise ValueError("unknown task_info layout %s" % task_layout)

    def corrupt_index(self, index: str = CORRUPT_INDEX, db: str = "yugaware", page: str = "root") -> int:
        """Overwrite 16 bytes in the middle of one page of the index's relation file (server stopped), like the
        lab does: its root page (every use of the index fails) or a middle page. Returns the block."""
        rel = self.sql("SELECT pg_relation_filepath('%s');" % index, db=db)
        self.sql("CHECKPOINT;", db=db)
        self.stop()
        path = os.path.join(self.data, rel)
        size = os.path.getsize(path)
        with open(path, "r+b") as handle:
            if page == "root":  # BTMetaPageData after the 24-byte page header: magic, version, root, level
                handle.seek(24)
                block = struct.unpack("<IIII", handle.read(16))[2]
            else:
                block = (size // 8192) // 2
            handle.seek(block * 8192 + 4096)
            handle.write(b"\xde\xad\xbe\xef" * 4)
        self.start()
        return block

    def clone(self, src: str, dst: str) -> None:
        self.sql("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s TEMPLATE %s;" % (dst, dst, src), db="postgres")


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def wait_for(predicate: t.Callable[[], bool], timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False
