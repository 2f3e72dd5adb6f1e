"""Another program's SQLite database, opened read-only.

`mode=ro` makes SQLite refuse every write, so importing can never change the source file
(its bytes and its mtime stay as they were); `query_only` refuses writes a second time,
on this connection, in case a URI parameter is ever dropped. A WAL-mode database with no
-wal file beside it is opened `immutable`, so not even SQLite's -wal and -shm files appear
next to it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chatterm.errors import ImportFormatError

MAGIC = b"SQLite format 3\x00"


def open_read_only(path: Path) -> sqlite3.Connection:
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    if _is_wal(path) and not path.with_name(path.name + "-wal").exists():
        # A WAL database whose program is not running: everything is in the file. Even a
        # read-only connection would leave -wal and -shm files beside it; `immutable`
        # reads the file as it is, creating nothing.
        uri += "&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ImportFormatError(f"a damaged SQLite database ({exc}); expected Elia's "
                                "elia.sqlite or llm's logs.db") from None
    conn.row_factory = sqlite3.Row
    return conn


def _is_wal(path: Path) -> bool:
    """Bytes 18 and 19 of the header are 2 in a database in WAL mode."""
    with path.open("rb") as file:
        header = file.read(20)
    return len(header) == 20 and header[18] == 2 and header[19] == 2


def tables(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """Each table's name -> its column names."""
    found: dict[str, set[str]] = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        found[name] = {row[0] for row in conn.execute(
            "SELECT name FROM pragma_table_info(?)", (name,))}
    return found


def rows(conn: sqlite3.Connection, sql: str, *args: Any, what: str) -> list[sqlite3.Row]:
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.DatabaseError as exc:
        raise ImportFormatError(f"{what} could not be read ({exc}); it may be damaged") \
            from None
