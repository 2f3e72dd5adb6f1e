"""Another program's SQLite database, opened read-only.

`mode=ro` makes SQLite refuse every write, so importing can never change the source file
(its bytes and its mtime stay as they were); `query_only` refuses writes a second time,
on this connection, in case a URI parameter is ever dropped.
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
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ImportFormatError(f"a damaged SQLite database ({exc})") from None
    conn.row_factory = sqlite3.Row
    return conn


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
        raise ImportFormatError(f"{what} could not be read ({exc})") from None
