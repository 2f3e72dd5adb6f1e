"""What the screens get from the app, as one typed object instead of `self.app`.

The app builds a `ChatServices` at start-up and hands it to the chat screen, so no
screen imports the app (an import-linter contract checks it): the screen gets the
config and the store, the resolved key map, the API keys, the shared HTTP clients, what
the terminal told us about its keyboard, where the screen state is kept, and the tools. Everything
here is plain Python; Textual is not imported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from chatterm.engine.protocols import ConversationIndex, SessionStore
from chatterm.engine.usage import UsageSource
from chatterm.errors import ChattermError
from chatterm.launch import SavedChats

if TYPE_CHECKING:
    from chatterm.config import Config
    from chatterm.conversation import Conversation
    from chatterm.engine.pool import ClientPool
    from chatterm.screen_state import ScreenState
    from chatterm.ui.tools.hosting import AppTools


class ChatStore(SessionStore, ConversationIndex, SavedChats, UsageSource, Protocol):
    """The store as the chat screen hands it on: to its sessions, to the sidebar, to
    open a saved chat, to the usage screen (chatterm.store.Store is one); the screen
    itself writes nothing."""

    def get_tree(self, conversation_id: str) -> Conversation:
        """Every message of every branch (the tree view reads it, ui/branches)."""
        ...


class ApiKeys:
    """Each provider's API key, resolved once per run (a key command runs only once)."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._keys: dict[str, str | None] = {}
        # Resolved in worker threads (a key command may take a while), read on the loop.
        self._lock = threading.Lock()

    def resolve(self, provider_name: str) -> str | None:
        """Resolve (once) the key of a provider; may run api_key_command, so call it off
        the event loop. Raises ChattermError when the key command fails."""
        from chatterm.config import resolve_api_key

        with self._lock:
            if provider_name in self._keys:
                return self._keys[provider_name]
        key = resolve_api_key(self._config.provider(provider_name))
        with self._lock:
            self._keys[provider_name] = key
        return key

    def cached(self, provider_name: str) -> str | None:
        """The key resolved earlier, if any (never runs a key command)."""
        with self._lock:
            return self._keys.get(provider_name)

    def forget(self, provider_name: str) -> None:
        """A new key was saved: resolve it again next time."""
        with self._lock:
            self._keys.pop(provider_name, None)

    def needed(self, provider_name: str) -> bool:
        """True when the provider needs a key (a local server does not)."""
        try:
            return self._config.provider(provider_name).needs_key
        except ChattermError:
            return False


class ScreenMemory:
    """How the screen was left (the sidebar open or not), kept for the next launch."""

    def __init__(self, state: ScreenState) -> None:
        self.state = state

    @property
    def sidebar(self) -> bool:
        return self.state.sidebar

    def remember_sidebar(self, shown: bool) -> str | None:
        """Keep whether the sidebar is open; returns a problem to tell the user, if any."""
        if shown == self.state.sidebar:
            return None
        from chatterm.screen_state import save_screen_state

        self.state.sidebar = shown
        # A tiny file written whole: about a millisecond, so it is done right here.
        return save_screen_state(self.state)


@dataclass(frozen=True, slots=True)
class ChatServices:
    """Everything the chat screen needs from the app."""

    config: Config
    store: ChatStore | None
    # action -> keys, after the user's [keys] table.
    keymap: Mapping[str, str]
    keys: ApiKeys
    # The HTTP clients shared by every conversation of this run (closed by the app).
    client_pool: Callable[[], ClientPool]
    # Whether the terminal said it speaks the kitty keyboard protocol (Shift+Enter).
    kitty: Callable[[], bool]
    screen_memory: ScreenMemory
    # The provider and model a new chat starts with when the launch gave them.
    new_chat_with: tuple[str, str] | None = None
    # The MCP tools, their approval dialog and each chat's switches (ui/tools/hosting.py):
    # every session the screen makes is handed to `tools.attach`.
    tools: AppTools | None = None
