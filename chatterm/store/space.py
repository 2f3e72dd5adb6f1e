"""Disk space: a small reserve that lets chatterm free space on a full disk, and shrinking.

On a full disk SQLite cannot even delete: a WAL-mode delete writes the changed pages to
the -wal file first, and opening needs room for the -shm index. So a writable store
keeps `chatterm.db-reserve` (RESERVE_BYTES of random data, so that compressing or
deduplicating file systems really set the space aside). When a delete, or the final
save of a reply, fails for lack of space, the reserve is removed and the write tried
once more; the reserve comes back once there is room again.

New databases use `auto_vacuum = INCREMENTAL`, so after a delete the freed pages are
given back and the file shrinks (once the WAL is checkpointed into it).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

RESERVE_BYTES = 2 * 1024 * 1024
LOW_SPACE_BYTES = 1024 * 1024  # below this, an I/O error on write means a full disk
# The reserve is made only with this much room to spare, so it never fills a disk itself.
ROOM_FOR_RESERVE = RESERVE_BYTES + 8 * 1024 * 1024


def reserve_path(database: Path) -> Path:
    return database.with_name(database.name + "-reserve")


def free_bytes(directory: Path) -> int | None:
    try:
        info = os.statvfs(directory)
    except (OSError, AttributeError):
        return None
    return info.f_bavail * info.f_frsize


def disk_full(directory: Path) -> bool:
    free = free_bytes(directory)
    return free is not None and free < LOW_SPACE_BYTES


def ensure_reserve(database: Path) -> None:
    """Create the reserve if it is missing and there is plenty of room (best effort)."""
    path = reserve_path(database)
    if path.exists():
        return
    free = free_bytes(database.parent)
    if free is None or free < ROOM_FOR_RESERVE:
        return
    from chatterm.safe_write import replace_atomically

    with contextlib.suppress(OSError):
        replace_atomically(path, os.urandom(RESERVE_BYTES))


def release_reserve(database: Path) -> bool:
    """Delete the reserve; True if there was one to give back."""
    try:
        reserve_path(database).unlink()
    except OSError:
        return False
    return True


def shrink(conn: sqlite3.Connection, database: Path) -> None:
    """Give the pages a delete freed back to the file system (best effort)."""
    with contextlib.suppress(sqlite3.Error):
        auto_vacuum = int(conn.execute("PRAGMA auto_vacuum").fetchone()[0])
        if auto_vacuum == 0:
            _convert_if_worth_it(conn, database)
            return
        # executescript steps the pragma to the end; execute() would free one page.
        conn.executescript("PRAGMA incremental_vacuum;")
        # The file only gets shorter when the WAL is written back into it.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _convert_if_worth_it(conn: sqlite3.Connection, database: Path) -> None:
    """A database made before auto_vacuum: one VACUUM, when a lot is free and fits."""
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    free_pages = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    size = pages * page_size
    free_disk = free_bytes(database.parent) or 0
    if free_pages * page_size < max(8 * 1024 * 1024, size // 4) or free_disk < 2 * size:
        return
    conn.executescript("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
