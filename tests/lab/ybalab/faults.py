"""Fault injection that needs more than SQL: physical corruption of a btree index of the yugaware DB.

The incident corrupts ``ix_backup_task_uuid``, the UNIQUE index YBA itself creates on ``backup (task_uuid)``
(migration V18), and it corrupts the index's ROOT page (checksums are on: every read of that page fails with
"invalid page in block N"). A btree descent always starts at the root, so every use of the index fails:

- every INSERT into ``backup`` (the platform recording a new backup) must add an entry to the index;
- every UPDATE of a ``backup`` row that cannot stay on its heap page (not HOT: the seeded pages are full) adds an
  entry for the new row version: the stale_backups repair's ``UPDATE backup SET state = 'Failed'`` and the
  platform's start-up reconciliation of the backups of a pending task (which also looks them up by
  ``task_uuid``, through this index) fail until ``REINDEX INDEX ix_backup_task_uuid``;
- a read through the index (``WHERE task_uuid = ...``) fails, which is how a check without amcheck finds it.
"""
from __future__ import annotations

import os
import struct
from typing import Any

from ybalab.labstate import LabError
from ybalab.services import pg_start, pg_stop, psql

CORRUPT_INDEX = "ix_backup_task_uuid"
CORRUPT_TABLE = "backup"
PAGE = 8192
# BTMetaPageData right after the 24-byte PageHeaderData of block 0: btm_magic, btm_version, btm_root, btm_level
BTREE_MAGIC = 0x053162


def btree_root_block(path: str) -> int:
    """The root block of a btree index file, from its metapage (the server must be stopped or checkpointed)."""
    with open(path, "rb") as fh:
        fh.seek(24)
        magic, _version, root, _level = struct.unpack("<IIII", fh.read(16))
    if magic != BTREE_MAGIC:
        raise LabError(f"{path} is not a btree index (metapage magic {magic:#x})")
    return root


def corrupt_index(state: dict[str, Any], index: str = CORRUPT_INDEX, table: str = CORRUPT_TABLE,
                  column: str = "task_uuid") -> dict[str, Any]:
    """Stop PG, overwrite 16 bytes in the middle of the index's root page, start PG, prove a read through the
    index fails (no amcheck needed: YBA's database has no amcheck)."""
    rel = psql(state, f"CHECKPOINT; SELECT pg_relation_filepath('{index}');", tuples=True).stdout.strip()
    path = os.path.join(state["postgres"]["data_dir"], rel.splitlines()[-1])
    pg_stop(state)
    try:
        blocks = os.path.getsize(path) // PAGE
        block = btree_root_block(path)
        if block < 1 or block >= blocks:
            raise LabError(f"index {index} has no root page to corrupt (root {block}, {blocks} pages)")
        offset = block * PAGE + PAGE // 2
        with open(path, "r+b") as fh:
            fh.seek(offset)
            fh.write(b"\xde\xad\xbe\xef" * 4)
    finally:
        pg_start(state)
    probe = (f"SET enable_seqscan = off; SET enable_bitmapscan = off; "
             f"SELECT count(*) FROM {table} WHERE {column} = '00000000-0000-0000-0000-000000000000';")
    cp = psql(state, probe, check=False)
    if cp.returncode == 0:
        raise LabError(f"corrupted {path} at {offset} but a scan of {index} still reads it")
    # the write a stale_backups repair (and YBA's start-up reconciliation) does must fail too; rolled back
    write = (f"SET enable_indexscan = off; SET enable_bitmapscan = off; BEGIN; "
             f"UPDATE {table} SET update_time = update_time WHERE state = 'In Progress'; ROLLBACK;")
    wp = psql(state, write, check=False)
    if table == CORRUPT_TABLE and wp.returncode == 0:
        raise LabError(f"corrupted {path} but an UPDATE of the In Progress backups still succeeds (HOT updates)")
    lines = cp.stderr.strip().splitlines()
    error = next((ln for ln in lines if "ERROR" in ln), lines[0] if lines else "")
    return {"index": index, "table": table, "file": path, "block": block, "offset": offset, "error": error}
