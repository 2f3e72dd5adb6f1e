"""Opening the SQLite file: refuse what is not ours, then set the connection up.

Nothing here writes to a file before it has been recognised as a chatterm database (or as
a brand new, empty one), so a foreign or newer file is never modified.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from chatterm import locations
from chatterm.errors import StoreError
from chatterm.store.files import create_private_file, looks_like_sqlite, tighten_database_files
from chatterm.store.schema import APPLICATION_ID

BUSY_TIMEOUT_MS = 5000
CACHE_KIB = 32768


def connect(path: Path, newest_known_version: int) -> sqlite3.Connection:
    """A connection to the chatterm database at `path`, created if missing."""
    _prepare_location(path)
    if path.exists():
        if not path.is_file():
            raise StoreError(f"{path} is not a regular file; chatterm cannot keep its data there")
        try:
            ours = looks_like_sqlite(path)
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if not ours:
            raise StoreError(
                f"{path} is not a chatterm database (not an SQLite file); it was left untouched"
            )
    else:
        try:
            create_private_file(path)
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from exc
    tighten_database_files(path)
    try:
        # Autocommit mode: the store issues BEGIN IMMEDIATE/COMMIT itself, which keeps
        # every transaction short and makes writers queue on busy_timeout instead of
        # failing on a read-to-write lock upgrade.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from exc
    try:
        _check_ownership(conn, path, newest_known_version)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot switch {path} to WAL mode (it stays in {mode!r} mode)")
        # In WAL mode NORMAL survives any process crash; only an OS crash or power cut
        # can drop the last commits, and never corrupts the file.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # The 2 MB default makes big imports thrash the id and FTS b-trees; pages are only
        # allocated when used, so small stores pay nothing for the bigger limit.
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        # Without a limit the -wal file keeps the size of the biggest transaction (a large
        # import) forever; with one it is truncated back after checkpoints.
        conn.execute("PRAGMA journal_size_limit = 67108864")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise translate(exc, path) from exc
    except BaseException:
        conn.close()
        raise
    tighten_database_files(path)
    return conn


def _prepare_location(path: Path) -> None:
    parent = path.parent
    try:
        if path == locations.database_file() or not parent.exists():
            # Only our own data dir is tightened; a directory the user named (say /tmp)
            # keeps its permissions.
            locations.ensure_private_dir(parent)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {parent}: {exc.strerror or exc}") \
            from exc


def _check_ownership(conn: sqlite3.Connection, path: Path, newest_known_version: int) -> None:
    """Read-only checks: raise StoreError unless the file is empty or a chatterm database."""
    try:
        # One read transaction, so the three reads see one snapshot: read one by one, a
        # process creating the schema at the same moment could commit in between, and
        # its tables would show up without its application id.
        conn.execute("BEGIN")
        try:
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = [row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        finally:
            conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path} is corrupt or not a chatterm database ({exc}); it was left untouched"
        ) from exc
    if app_id == 0 and version == 0 and not tables:
        return  # a new, empty database
    if app_id != APPLICATION_ID:
        listed = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
        raise StoreError(
            f"{path} is an SQLite database that does not belong to chatterm"
            f"{f' (it holds tables {listed})' if tables else ''}; it was left untouched"
        )
    if version > newest_known_version:
        raise StoreError(
            f"{path} was written by a newer chatterm (schema version {version}, this one "
            f"knows up to {newest_known_version}); upgrade chatterm — the file was left "
            f"untouched"
        )


def translate(exc: sqlite3.Error, path: Path) -> StoreError:
    """One readable line for an SQLite failure, naming the file."""
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return StoreError(
            f"{path} stayed locked by another process for "
            f"{BUSY_TIMEOUT_MS // 1000} s; try again"
        )
    if "malformed" in lowered or "not a database" in lowered:
        return StoreError(f"{path} is corrupt ({text}); it was left as it is")
    if "full" in lowered:
        return StoreError(f"cannot write {path}: the disk is full")
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"cannot write {path}: it is read-only")
    return StoreError(f"database error in {path}: {text}")


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front (waiting on busy_timeout)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
