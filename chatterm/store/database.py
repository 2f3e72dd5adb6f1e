"""Opening the SQLite file: refuse what is not ours, then set the connection up.

Nothing here writes to a file before it has been recognised as a chatterm database (or as
a brand new, empty one), so a foreign or newer file is never modified.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from chatterm import locations, safe_write
from chatterm.errors import StoreError
from chatterm.store import failures
from chatterm.store.files import (
    SIDE_FILE_SUFFIXES,
    create_private_file,
    looks_like_sqlite,
    tighten_database_files,
)
from chatterm.store.schema import APPLICATION_ID

BUSY_TIMEOUT_MS = 5000
CACHE_KIB = 32768


def connect(path: Path, newest_known_version: int) -> sqlite3.Connection:
    """A connection to the chatterm database at `path`, created if missing."""
    _prepare_location(path)
    check_side_files(path)
    if path.exists():
        _check_regular_sqlite(path)
        _check_writable(path)
    else:
        try:
            create_private_file(path)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise StoreError(
                    f"cannot create {path}: the data directory is read-only "
                    f"({exc.strerror or exc})") from exc
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
        if path.stat().st_size == 0:
            # Only possible before the first page is written (so before WAL mode):
            # deleted conversations then give their pages back (see space.shrink).
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
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


def connect_read_only(path: Path, newest_known_version: int) -> sqlite3.Connection | None:
    """A connection that cannot write, for commands that only read; None if no database.

    Nothing is created, chmod-ed or recovered, so this works on a read-only mount and in
    a data dir chatterm may not write to.
    """
    check_side_files(path)
    if not path.exists():
        return None
    _check_regular_sqlite(path)
    if path.stat().st_size == 0:
        return None  # SQLite treats an empty file as a new, empty database
    conn = _open_uri(path, "mode=ro")
    try:
        try:
            _check_ownership(conn, path, newest_known_version)
        except StoreError as exc:
            if not _may_read_immutable(path, exc):
                raise
            # A WAL database needs its -shm file, which a read-only directory (or a
            # full disk) cannot hold. With no log pending, SQLite may read the file as
            # immutable (no locks, no -shm); nobody writes through a read-only mount.
            conn.close()
            conn = _open_uri(path, "immutable=1")
            _check_ownership(conn, path, newest_known_version)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        conn.execute("PRAGMA query_only = 1")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise translate(exc, path) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def file_uri(path: Path) -> str:
    return f"file:{urllib.parse.quote(str(path.absolute()))}"


def _may_read_immutable(path: Path, exc: StoreError) -> bool:
    cause = exc.__cause__
    if not isinstance(cause, sqlite3.Error):
        return False
    kind = failures.kind_of(cause)
    if kind is failures.Kind.CANNOT_OPEN and not os.access(path.parent, os.W_OK):
        return True
    if kind in (failures.Kind.CANNOT_OPEN, failures.Kind.FULL, failures.Kind.IO):
        wal = path.with_name(path.name + "-wal")
        return not wal.exists() or wal.stat().st_size == 0
    return False


def _open_uri(path: Path, options: str) -> sqlite3.Connection:
    uri = f"{file_uri(path)}?{options}"
    try:
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise translate(exc, path) from exc


def check_side_files(path: Path) -> None:
    """SQLite's -wal/-shm/-journal must be files; anything else would read as corruption."""
    for suffix in SIDE_FILE_SUFFIXES:
        side = path.with_name(path.name + suffix)
        # One stat, not exists() then is_file(): another process closing the database
        # deletes its -wal between the two, and the second call then read as "not a
        # regular file" (seen with six first opens at once).
        try:
            mode = os.stat(side).st_mode
        except OSError:
            continue  # not there (or unreadable: SQLite's own error will say so)
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise StoreError(
                f"{side} is {what}; SQLite keeps the {suffix[1:]} file of {path.name} "
                f"there, so move it away (the database itself was left untouched)")


def _check_regular_sqlite(path: Path) -> None:
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


def _check_writable(path: Path) -> None:
    # SQLite would open such a file read-only without a word and fail later with
    # "unable to open database file"; say what is wrong before that.
    for target in (path, path.parent):
        if not os.access(target, os.W_OK):
            raise StoreError(
                f"cannot write {path}: {'the file' if target == path else 'its directory'} "
                f"is read-only; reading commands (list, show, search, export) still work")


def _prepare_location(path: Path) -> None:
    parent = path.parent
    existed = parent.is_dir()
    try:
        if path == locations.database_file() or not existed:
            # Only our own data dir is tightened; a directory the user named (say /tmp)
            # keeps its permissions.
            safe_write.ensure_private_dir(parent)
    except OSError as exc:
        if existed:
            return  # tightening is best effort; _check_writable names a read-only dir
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
            if conn.in_transaction:  # SQLite may have rolled back itself (disk full)
                conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        if failures.kind_of(exc) is failures.Kind.CORRUPT:
            raise StoreError(
                f"{path} is corrupt or not a chatterm database ({exc}); it was left "
                f"untouched — {failures.DOCTOR_HINT}") from exc
        raise translate(exc, path) from exc
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
    """One readable line for an SQLite failure, naming the file (see failures.py)."""
    return failures.translate(exc, path)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front (waiting on busy_timeout)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            # A ROLLBACK failing too (a damaged file) must not hide the first error.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
