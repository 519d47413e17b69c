"""Fault injection that needs more than SQL: physical corruption of a btree index of the yugaware DB."""
from __future__ import annotations

import os
from typing import Any

from ybalab.labstate import LabError
from ybalab.services import pg_start, pg_stop, psql

CORRUPT_INDEX = "ix_backup_customer_state"
PAGE = 8192


def corrupt_index(state: dict[str, Any], index: str = CORRUPT_INDEX) -> dict[str, Any]:
    """Stop PG, overwrite 16 bytes in the middle of a middle page of the index file, start PG, prove amcheck sees it."""
    rel = psql(state, f"CHECKPOINT; SELECT pg_relation_filepath('{index}');", tuples=True).stdout.strip()
    path = os.path.join(state["postgres"]["data_dir"], rel.splitlines()[-1])
    pg_stop(state)
    size = os.path.getsize(path)
    blocks = size // PAGE
    if blocks < 2:
        pg_start(state)
        raise LabError(f"index {index} has {blocks} page(s): nothing to corrupt")
    block = max(1, blocks // 2)  # never the metapage (block 0)
    offset = block * PAGE + PAGE // 2
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xde\xad\xbe\xef" * 4)
    pg_start(state)
    cp = psql(state, f"SELECT bt_index_check('{index}'::regclass, true);", check=False)
    if cp.returncode == 0:
        raise LabError(f"corrupted {path} at {offset} but bt_index_check({index}) still passes")
    return {"index": index, "file": path, "block": block, "offset": offset,
            "amcheck": cp.stderr.strip().splitlines()[0] if cp.stderr.strip() else ""}
