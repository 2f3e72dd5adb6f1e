"""File-system chores for the database: owner-only files and a sanity check of the header."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
SIDE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")


def create_private_file(path: Path) -> bool:
    """Create `path` empty with mode 0600 unless it exists; True if we created it.

    SQLite gives the -wal and -shm files the mode of the database file, so getting the
    main file right is what keeps its siblings private too.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def tighten(path: Path) -> None:
    """Drop group/other permission bits from an existing file we own; ignore the rest."""
    with contextlib.suppress(OSError):
        mode = path.stat().st_mode
        if mode & 0o077:
            path.chmod(mode & 0o700)


def tighten_database_files(path: Path) -> None:
    tighten(path)
    for suffix in SIDE_FILE_SUFFIXES:
        tighten(path.with_name(path.name + suffix))


def looks_like_sqlite(path: Path) -> bool:
    """True for an SQLite file or an empty one (which SQLite treats as a new database)."""
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    return head in (b"", SQLITE_MAGIC)
