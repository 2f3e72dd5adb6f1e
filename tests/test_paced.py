"""Paced socket reads (chatterm/api/paced.py): fewer wake-ups, nothing delayed that matters."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import httpcore
import httpx
from loopback import Delay, Hold, LoopbackServer, sse_chunks, stream_reply

from chatterm.api import paced
from chatterm.api.client import ChatClient
from chatterm.api.types import ChatRequest, Delta, Finished
from chatterm.providers import ProviderConfig


class FakeStream(httpcore.AsyncNetworkStream):
    """Answers every read at once with `size` bytes and notes when it was asked."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_at: list[float] = []

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.read_at.append(time.monotonic())
        return b"x" * min(self.size, max_bytes)


async def test_reads_wait_out_the_interval_only_while_pacing_is_on() -> None:
    inner = FakeStream(10)
    stream = paced.PacedStream(inner)
    for _ in range(3):
        await stream.read(1024)
    assert inner.read_at[-1] - inner.read_at[0] < 0.2  # off by default: no waiting
    with paced.paced_reads(0.15):
        for _ in range(3):
            await stream.read(1024)
    gaps = [b - a for a, b in itertools.pairwise(inner.read_at[3:])]
    assert all(gap >= 0.14 for gap in gaps), gaps
    await stream.read(1024)  # the variable is reset when the block ends
    assert inner.read_at[-1] - inner.read_at[-2] < 0.14


async def test_a_bulk_read_is_followed_at_once() -> None:
    for size, max_bytes in ((1024, 1024), (paced.BULK_READ, 65536)):
        inner = FakeStream(size)  # a full buffer, or a big read: a sender far ahead
        stream = paced.PacedStream(inner)
        with paced.paced_reads(1.0):
            for _ in range(4):
                await stream.read(max_bytes)
        assert inner.read_at[-1] - inner.read_at[0] < 0.5
    inner = FakeStream(paced.BULK_READ - 1)
    stream = paced.PacedStream(inner)
    with paced.paced_reads(0.2):
        await stream.read(65536)
        await stream.read(65536)
    assert inner.read_at[1] - inner.read_at[0] >= 0.19


def test_install_wraps_the_default_transport_once() -> None:
    client = httpx.AsyncClient()
    assert paced.install(client)
    assert paced.install(client)  # idempotent
    backend = client._transport._pool._network_backend  # type: ignore[attr-defined]
    assert isinstance(backend, paced.PacedBackend)
    assert not isinstance(backend._backend, paced.PacedBackend)
    mocked = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert not paced.install(mocked)  # nothing to wrap: pacing is simply off


async def test_paced_client_gets_the_first_token_early_and_the_rest_in_few_reads(
    loopback: LoopbackServer,
) -> None:
    texts = [f"t{i} " for i in range(30)]
    events = sse_chunks(texts)
    release = threading.Event()
    # The first token, then (once the client has seen it) 29 more 5 ms apart.
    steps: list[Any] = [events[0], Hold(release, timeout=10)]
    for event in events[1:]:
        steps += [Delay(0.005), event]
    loopback.script("chat/completions", stream_reply(steps))
    provider = ProviderConfig(name="loop", base_url=loopback.url, max_retries=0)
    arrivals: list[float] = []
    content = ""
    async with ChatClient(provider, "sk-test-key-0123456789", read_interval=0.6) as client:
        request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])
        async for event in client.stream(request):
            if isinstance(event, Delta) and event.content:
                arrivals.append(time.monotonic())
                content += event.content
                # The server holds everything else until the first token is here:
                # pacing must not delay it.
                release.set()
            elif isinstance(event, Finished):
                assert event.reply.content == "".join(texts)
    assert content == "".join(texts)
    # Chunks read from the socket together arrive together (well under the server's
    # 5 ms spacing); separate reads are at least the interval apart. 0.15 s of sending
    # after the first token fits in a read or two, where an unpaced client makes ~29.
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    reads = 1 + sum(1 for gap in gaps if gap > 0.003)
    assert reads <= 6, gaps
    assert arrivals[-1] - arrivals[0] >= 0.55  # the second read did wait



def test_the_apps_client_pool_paces_its_clients() -> None:
    from chatterm.engine.pool import ClientPool

    provider = ProviderConfig(name="loop", base_url="http://127.0.0.1:9/v1")
    client = ClientPool(read_interval=0.1).get(provider, None)
    assert isinstance(client, ChatClient) and client.read_interval == 0.1
    assert ClientPool().get(provider, None).read_interval == 0.0  # the CLI: no pacing
