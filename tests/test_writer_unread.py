"""A write whose waiter was cancelled and which then failed prints nothing (it printed
"Future exception was never retrieved" and a traceback after quitting mid-stream: the
reply's last save found the store closed)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import threading

import pytest

from chatterm.engine.writer import wait
from chatterm.errors import StoreError


async def test_a_failed_write_nobody_waits_for_any_more_is_not_printed(
        caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def write() -> None:
        release.wait(10)
        raise StoreError("the store for x.db is closed")

    saving = pool.submit(write)
    waiter = asyncio.ensure_future(wait(saving))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        release.set()
        await asyncio.wrap_future(pool.submit(lambda: None))  # the write has run
        for _ in range(3):
            await asyncio.sleep(0)  # its result reaches the loop's future
        del waiter, saving
        gc.collect()
    pool.shutdown()
    assert "never retrieved" not in caplog.text


async def test_a_waiter_still_there_gets_the_failure() -> None:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def write() -> None:
        raise StoreError("disk full")

    with pytest.raises(StoreError, match="disk full"):
        await wait(pool.submit(write))
    pool.shutdown()
