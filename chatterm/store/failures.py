"""SQLite failures turned into one readable line, and told apart by kind.

The kind comes from SQLite's own result code (`sqlite_errorname`, Python 3.11+), not from
the wording of the message, so "unable to open database file" on a read-only mount is no
longer reported as corruption. The wording is only a fallback for errors raised without a
code.
"""

from __future__ import annotations

import sqlite3
from enum import Enum
from pathlib import Path

from chatterm.errors import StoreError

BUSY_TIMEOUT_S = 5
DOCTOR_HINT = ("run 'chatterm doctor' to check it and save what can still be read "
               "to a new file")


class Kind(Enum):
    CORRUPT = "corrupt"
    FULL = "full"
    READ_ONLY = "read-only"
    LOCKED = "locked"
    CANNOT_OPEN = "cannot-open"
    IO = "io"
    OTHER = "other"


class DamagedDatabase(StoreError):
    """SQLite reported corruption: the store writes nothing more in this process."""


class DiskFull(StoreError):
    """A write failed because the disk (or the database's page limit) is full."""


_BY_CODE = {
    "SQLITE_CORRUPT": Kind.CORRUPT,
    "SQLITE_NOTADB": Kind.CORRUPT,
    "SQLITE_FULL": Kind.FULL,
    "SQLITE_READONLY": Kind.READ_ONLY,
    "SQLITE_BUSY": Kind.LOCKED,
    "SQLITE_LOCKED": Kind.LOCKED,
    "SQLITE_CANTOPEN": Kind.CANNOT_OPEN,
    "SQLITE_IOERR": Kind.IO,
}


def kind_of(exc: BaseException) -> Kind:
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    # Extended codes (SQLITE_CORRUPT_VTAB, SQLITE_READONLY_DBMOVED, …) share a prefix.
    for prefix, kind in _BY_CODE.items():
        if name == prefix or name.startswith(prefix + "_"):
            return kind
    text = str(exc).lower()
    if "malformed" in text or "not a database" in text:
        return Kind.CORRUPT
    if "database or disk is full" in text:
        return Kind.FULL
    if "readonly" in text or "read-only" in text:
        return Kind.READ_ONLY
    if "locked" in text or "busy" in text:
        return Kind.LOCKED
    return Kind.OTHER


def damaged_message(path: Path, detail: str) -> str:
    return (f"{path} is corrupt ({detail}); chatterm writes nothing more to it — "
            f"{DOCTOR_HINT}")


def translate(exc: sqlite3.Error, path: Path) -> StoreError:
    """One readable line for an SQLite failure, naming the file."""
    text = str(exc)
    kind = kind_of(exc)
    if kind is Kind.CORRUPT:
        return DamagedDatabase(damaged_message(path, text))
    if kind is Kind.LOCKED:
        return StoreError(
            f"{path} stayed locked by another process for {BUSY_TIMEOUT_S} s; try again")
    if kind is Kind.FULL:
        return DiskFull(f"cannot write {path}: the disk is full ({text})")
    if kind is Kind.READ_ONLY:
        return StoreError(f"cannot write {path}: it is read-only ({text}); reading "
                          "commands (list, show, search, export) still work")
    if kind is Kind.CANNOT_OPEN:
        return StoreError(f"cannot open {path} ({text}); check that its directory is "
                          "readable and writable")
    if kind is Kind.IO:
        from chatterm.store.space import disk_full

        if disk_full(path.parent):  # SQLite says "disk I/O error" when -shm cannot grow
            return DiskFull(f"cannot write {path}: the disk is full ({text})")
        return StoreError(f"cannot read or write {path}: I/O error ({text})")
    return StoreError(f"database error in {path}: {text}")
