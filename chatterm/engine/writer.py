"""Store writes off the event loop, one at a time, in the order they were asked for.

A write can wait on SQLite's busy timeout (another chatterm holds the write lock) or on a
slow disk; on the event loop that would freeze the app for as long. So every write the
engine makes goes to one thread per store, through a queue: the loop only hands the work
over, and writes land in the order the engine made them (a reply's last save can never
be overtaken by an earlier partial one, nor a rename by an older title).

A write once handed over always runs, even if whoever awaits it is cancelled (Esc, quit):
`run` shields it, so a stopped reply's final save still lands before the store closes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from chatterm.engine.protocols import SessionStore

T = TypeVar("T")

Saving = concurrent.futures.Future
"""A write handed to the writer: done when it has landed (its exception if it failed)."""


class StoreWriter:
    """One thread that runs a store's writes in order (see the module doc)."""

    def __init__(self) -> None:
        # One worker: a FIFO queue, so writes keep the order they were submitted in.
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="chatterm-store-writer")
        self._pending = 0
        self._count_lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Writes queued or running, not landed yet."""
        return self._pending

    def submit(self, work: Callable[..., T], *args: object) -> concurrent.futures.Future[T]:
        """Queue `work(*args)`; returns at once, never blocks the caller."""
        with self._count_lock:
            self._pending += 1
        future = self._executor.submit(functools.partial(work, *args))
        future.add_done_callback(self._landed)
        return future

    def _landed(self, _future: concurrent.futures.Future[T]) -> None:
        with self._count_lock:
            self._pending -= 1

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """Queue `work(*args)` and wait for it without blocking the event loop."""
        return await wait(self.submit(work, *args))

    def drain(self) -> None:
        """Block until every write queued so far has run (for a caller about to close the
        store, off the loop or after it has stopped)."""
        self.submit(lambda: None).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)


async def wait(saving: concurrent.futures.Future[T]) -> T:
    """Await a queued write; cancelling the waiter does not cancel the write."""
    landed = asyncio.wrap_future(saving)
    # A waiter cancelled (Esc, quit) leaves nobody to read a failed write's exception,
    # and asyncio would print "Future exception was never retrieved" with a traceback
    # when the future is collected: after the app has quit, onto the user's terminal
    # (a reply's last save that found the store closed). A waiter still there gets it.
    landed.add_done_callback(_seen)
    return await asyncio.shield(landed)


def _seen(future: asyncio.Future[T]) -> None:
    if not future.cancelled():
        future.exception()


def done(value: T) -> concurrent.futures.Future[T]:
    """A Saving that has already landed (nothing to write: no store, or not saved yet)."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()
    future.set_result(value)
    return future


_writers: weakref.WeakKeyDictionary[SessionStore, StoreWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def settle(store: SessionStore) -> None:
    """Block until every write queued for `store` has run: call it before closing the
    store, so a rename made just before quitting is not lost to a closed store."""
    with _writers_lock:
        writer = _writers.get(store)
    if writer is not None:
        writer.drain()


def writer_for(store: SessionStore) -> StoreWriter:
    """The one writer of `store`, shared by every session on it (one order for all)."""
    with _writers_lock:
        writer = _writers.get(store)
        if writer is None:
            writer = _writers[store] = StoreWriter()
        return writer
