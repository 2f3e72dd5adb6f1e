"""ClientPool: one HTTP client per (provider, key), shared by the sessions of a front end."""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING

from chatterm.engine.protocols import ClientFactory, StreamingClient

if TYPE_CHECKING:
    from chatterm.providers import ProviderConfig


def _default_client_factory(
    provider: ProviderConfig, api_key: str | None, read_interval: float = 0.0
) -> StreamingClient:
    # Imported here so that loading the CLI or the UI does not pay for httpx.
    from chatterm.api.client import ChatClient

    return ChatClient(provider, api_key, read_interval=read_interval)


def preload() -> None:
    """Import what the first request needs (the HTTP stack), for a front end to pay for
    while it is idle."""
    from chatterm.api.client import preload as load_http

    load_http()


class ClientPool:
    """One client per (provider, key), kept across replies.

    Reusing the client keeps its connections and TLS sessions: a new httpx client costs
    ~60 ms of certificate loading plus a handshake, on every message otherwise.
    """

    def __init__(self, factory: ClientFactory | None = None, *, read_interval: float = 0.0) -> None:
        """`read_interval` paces the reads of streamed replies (see ChatClient); it applies
        to the default factory only."""
        self._factory = factory or functools.partial(
            _default_client_factory, read_interval=read_interval
        )
        self._clients: dict[tuple[str, str, str | None], StreamingClient] = {}

    def get(self, provider: ProviderConfig, api_key: str | None) -> StreamingClient:
        slot = (provider.name, provider.base_url, api_key)
        client = self._clients.get(slot)
        if client is None:
            client = self._clients[slot] = self._factory(provider, api_key)
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await _close_quietly(client)


async def _close_quietly(client: StreamingClient) -> None:
    with contextlib.suppress(Exception):
        await client.aclose()
