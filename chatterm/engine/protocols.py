"""The typed seams of the engine: what it needs from an HTTP client and from the store.

The engine never imports the concrete client (chatterm.api.client pulls in httpx) nor
needs the concrete Store: it works against these Protocols, so a front end or a test can
hand it any client that streams the same events, or any store with the same methods.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chatterm.api.types import ChatRequest, ClientEvent
    from chatterm.attachments import PendingAttachment
    from chatterm.conversation import Conversation, ConversationSummary, Message, SearchHit
    from chatterm.providers import ProviderConfig
    from chatterm.tree import Shape


class StreamingClient(Protocol):
    """What the session needs from chatterm.api.client.ChatClient."""

    def stream(self, request: ChatRequest) -> AsyncGenerator[ClientEvent, None]:
        """Retrying events, Started, Delta events, then Finished; ApiError on failure."""
        ...

    async def aclose(self) -> None: ...


ClientFactory = Callable[["ProviderConfig", "str | None"], StreamingClient]


class SessionStore(Protocol):
    """What the session reads and writes (chatterm.store.Store). Every write is called
    off the event loop, on the store's writer thread (see chatterm.engine.writer)."""

    def create_conversation(self, conv: Conversation, *,
                            blobs: Sequence[PendingAttachment] = ()) -> None: ...

    def update_conversation(self, conv: Conversation) -> None: ...

    def delete_conversation(self, conversation_id: str) -> None: ...

    def get_conversation(self, conversation_id: str, *,
                         last_n: int | None = None) -> Conversation: ...

    def add_messages(self, messages: Sequence[Message], *, current_id: str | None = None,
                     blobs: Sequence[PendingAttachment] = ()) -> list[int]: ...

    def attachment_data(self, sha256: str) -> bytes:
        """The bytes of a stored attachment (schema v5); StoreError when missing."""
        ...

    def update_message(self, message: Message) -> bool: ...

    def holds_ids_of(self, conv: Conversation) -> bool: ...

    # ---- the conversation tree (schema v3) ----

    def shape(self, conversation_id: str) -> Shape: ...

    def load_path(self, conversation_id: str, before_id: str | None,
                  limit: int | None) -> list[Message]: ...

    def set_current(self, conversation_id: str, leaf_id: str) -> None: ...

    def delete_subtree(self, conversation_id: str, message_id: str) -> str | None: ...

    def fork_conversation(self, conversation_id: str, message_id: str,
                          title: str | None = None) -> Conversation: ...


class ConversationIndex(Protocol):
    """What the app reads to list and search saved chats (chatterm.store.Store): reads
    only, so the UI gets it without reaching the store's writes."""

    def list_conversations(self, limit: int | None = None,
                           offset: int = 0) -> list[ConversationSummary]: ...

    def search(self, query: str, limit: int = 50) -> list[SearchHit]: ...
