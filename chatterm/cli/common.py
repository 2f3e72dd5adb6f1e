"""What several commands need: the config (with its warnings on stderr) and the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from chatterm.cli.output import warn

if TYPE_CHECKING:
    from chatterm.config import Config
    from chatterm.store import Store


def load_config() -> Config:
    from chatterm.config import load_config as load

    config = load()
    for warning in config.warnings:
        warn(f"warning: {warning}")
    return config


@contextmanager
def open_store(*, create: bool = True, read_only: bool = False,
               freeing: bool = False) -> Iterator[Store]:
    """The store. With `create=False` (commands that change what exists) a missing
    database stays missing: an empty one in memory stands in for it. `read_only` is for
    commands that only read: it also creates nothing and works on a read-only mount.
    `freeing` (delete) may spend the disk-space reserve to open on a full disk."""
    from chatterm.store import Store

    if read_only:
        store = Store.open(read_only=True)
    else:
        store = Store.open() if create else Store.open_existing(freeing=freeing)
    try:
        yield store
    finally:
        store.close()
