"""The conversation store: every read and write chatterm makes to its SQLite database.

`Store` is the one facade the rest of chatterm uses; its jobs live in their own modules:
conversations.py, branches.py (trees: the current branch, paging along it, deleting a
subtree, forking), messages.py (appending, streaming saves), search.py (FTS5),
usage.py (what replies cost), over the connection rules of base.py. This module opens,
upgrades and closes the database.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from chatterm import locations
from chatterm.store import database, failures, schema, space, writers
from chatterm.store.base import StoreCore
from chatterm.store.branches import BranchStore
from chatterm.store.messages import MessageStore
from chatterm.store.search import SearchStore
from chatterm.store.usage import UsageStore


class Store(BranchStore, MessageStore, SearchStore, UsageStore, StoreCore):
    """A connection to the database; safe to share between threads (calls are serialised)."""

    # ---- opening and closing -----------------------------------------------------------

    @classmethod
    def open(cls, path: Path | None = None, *, read_only: bool = False, freeing: bool = False,
             migrations: Sequence[schema.Migration] | None = None) -> Store:
        """Open (creating or upgrading) the database; `migrations` is for tests only.

        `read_only` is for commands that only read: nothing on disk is created or changed
        (it works on a read-only mount), and a missing database reads as an empty one.
        `freeing` is for a command that frees space (delete): on a full disk it may use
        the space reserve just to open (see space.py).
        """
        path = Path(path) if path is not None else locations.database_file()
        steps = schema.MIGRATIONS if migrations is None else migrations
        if read_only:
            return cls._open_read_only(path, steps)
        try:
            conn = database.connect(path, schema.latest_version(steps))
        except failures.DiskFull:
            if not (freeing and space.release_reserve(path)):
                raise
            conn = database.connect(path, schema.latest_version(steps))
        try:
            schema.migrate(conn, path, steps)
            store = cls(conn, path)
            store.recover_interrupted()
            space.ensure_reserve(path)
        except sqlite3.Error as exc:
            conn.close()
            raise database.translate(exc, path) from exc
        except BaseException:
            conn.close()
            raise
        return store

    @classmethod
    def open_existing(cls, path: Path | None = None, *, freeing: bool = False) -> Store:
        """The database at `path` for a command that only reads it (list, show, search...).

        When there is no database yet, an empty one in memory stands in for it: reading
        creates neither the file nor the data directory.
        """
        path = Path(path) if path is not None else locations.database_file()
        if path.exists() or path.is_symlink():
            return cls.open(path, freeing=freeing)
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        try:
            schema.migrate(conn, path)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @classmethod
    def _open_read_only(cls, path: Path, steps: Sequence[schema.Migration]) -> Store:
        conn = database.connect_read_only(path, schema.latest_version(steps))
        if conn is None:
            # No database yet: an empty one in memory answers every read, and no file
            # appears on disk just because someone listed or searched.
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            schema.migrate(conn, path, steps)
        elif schema.user_version(conn) < schema.latest_version(steps) and \
                os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
            # Upgrade when we may; on a read-only mount an older file is read as it is
            # (the reading code copes without the newer tables).
            conn.close()
            return cls.open(path, migrations=steps)
        return cls(conn, path, read_only=True)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                if self._writer.token is not None and self._damage is None:
                    # Our own streams end here: what was saved is kept, as interrupted.
                    with database.transaction(self._conn):
                        self._fold_streaming(self._writer.token)
                        self._conn.execute(
                            "UPDATE messages SET state = 'interrupted', writer = NULL "
                            "WHERE state = 'streaming' AND writer = ?", (self._writer.token,))
            except sqlite3.Error:
                pass  # the next start recovers them anyway
            finally:
                self._writer.release()
                self._conn.close()
                self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def recover_interrupted(self) -> int:
        """Mark streaming messages whose writer is gone as interrupted; returns how many."""
        if self.read_only:
            return 0

        def work() -> int:
            tokens = [row[0] for row in self._conn.execute(
                "SELECT DISTINCT writer FROM messages WHERE state = 'streaming'")]
            dead = [t for t in tokens if t is None or (
                t != self._writer.token and not writers.is_alive(self.path, t))]
            changed = 0
            if dead:
                with database.transaction(self._conn):
                    for token in dead:
                        self._fold_streaming(token)
                        changed += self._conn.execute(
                            "UPDATE messages SET state = 'interrupted', writer = NULL "
                            "WHERE state = 'streaming' AND writer IS ?", (token,)).rowcount
            writers.sweep(self.path)
            return changed
        return self._write(work)
