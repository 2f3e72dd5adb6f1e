"""The typed seams of the engine: what it needs from an HTTP client and how one is made.

The engine never imports the concrete client (chatterm.api.client pulls in httpx); it
works against these Protocols, so a front end or a test can hand it any client that
streams the same events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chatterm.api.types import ChatRequest
    from chatterm.providers import ProviderConfig


class StreamingClient(Protocol):
    """What the session needs from chatterm.api.client.ChatClient."""

    def stream(self, request: ChatRequest) -> Any: ...

    async def aclose(self) -> None: ...


ClientFactory = Callable[["ProviderConfig", "str | None"], StreamingClient]
