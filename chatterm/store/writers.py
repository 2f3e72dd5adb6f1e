"""Which process is streaming a reply right now, told apart from one that crashed.

A store that writes a `streaming` message first takes an exclusive flock on a file named
by a random token, and tags the message with that token. At start-up another store can
then mark a streaming message interrupted only if nobody holds its token's lock any
more: the kernel drops the lock when its holder dies, even by SIGKILL, so a crash is
detected without guessing from timestamps, and a live stream in another process (a
second `chatterm ask`, the TUI) is left alone.

Where flock does not exist (Windows), every leftover streaming message counts as dead,
which is the safe, simple behaviour.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from chatterm.safe_write import ensure_private_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


def writers_dir(database: Path) -> Path:
    return database.with_name(database.name + "-writers")


class WriterLock:
    """This store's token, locked lazily the first time it writes a streaming message."""

    def __init__(self, database: Path) -> None:
        self._dir = writers_dir(database)
        self._fd: int | None = None
        self.token: str | None = None

    def acquire(self) -> str | None:
        """The token to tag streaming rows with (None without flock support)."""
        if self.token is not None or fcntl is None:
            return self.token
        token = uuid.uuid4().hex
        ensure_private_dir(self._dir)
        path = self._dir / token
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise
        self._fd, self.token = fd, token
        return token

    def release(self) -> None:
        if self._fd is None or self.token is None:
            return
        with contextlib.suppress(OSError):
            (self._dir / self.token).unlink()
        os.close(self._fd)
        self._fd, self.token = None, None


def is_alive(database: Path, token: str | None) -> bool:
    """True while the store that owns `token` is still running (and holds its lock)."""
    if token is None or fcntl is None:
        return False
    path = writers_dir(database) / token
    if "/" in token or not path.is_file():
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True  # somebody holds it
    finally:
        os.close(fd)
    return False


def sweep(database: Path) -> None:
    """Delete lock files whose owner is gone, so crashed processes leave no litter."""
    directory = writers_dir(database)
    if fcntl is None or not directory.is_dir():
        return
    for path in directory.iterdir():
        if not is_alive(database, path.name):
            # Safe: a live owner locks its file before its token reaches the database,
            # and tokens are never reused.
            with contextlib.suppress(OSError):
                path.unlink()
