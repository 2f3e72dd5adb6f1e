"""The Textual application: start-up, global keys, and the dialogs around the chat screen.

Start-up is kept short on purpose: the config, the store and the conversation are read
before Textual loads (see launch.py), the first frame shows the prompt, and everything
else (themes, the key check, the sidebar, model lists, Markdown) comes after it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App

from chatterm.errors import ChattermError
from chatterm.ui import keys as keymod
from chatterm.ui.events import ConversationChanged, ConversationOpenRequested, ProviderConfigured
from chatterm.ui.launch import LaunchOptions, LaunchState, new_conversation, open_saved
from chatterm.ui.screens.chat import ChatScreen

CSS_FILE = Path(__file__).with_name("chatterm.tcss")


class ChattermApp(App[int]):
    CSS_PATH = CSS_FILE
    TITLE = "chatterm"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[Any]] = keymod.app_bindings()

    def __init__(self, state: LaunchState) -> None:
        super().__init__()
        self.state = state
        self.config = state.config
        self.store = state.store
        self.keymap, self._key_problems = keymod.resolve_keys(self.config.keys)
        self._keys: dict[str, str | None] = {}
        self._keys_lock = threading.Lock()
        self.chat: ChatScreen | None = None

    # ---- start-up ----------------------------------------------------------------------

    def on_mount(self) -> None:
        self.set_keymap(keymod.textual_keymap(self.keymap))
        self._apply_theme()
        self.chat = ChatScreen(self.state.opened)
        self.push_screen(self.chat)
        if self.state.override is not None and self.state.opened.saved and self.store:
            # `-c --model M`: the reopened conversation continues with M, and says so.
            self.store.update_conversation(self.state.opened.conversation)
        for note in [*self.state.notes, *self._key_problems]:
            self.notify(note, severity="warning", timeout=8)

    def _apply_theme(self) -> None:
        try:
            from chatterm.ui import themes
        except ImportError:  # pragma: no cover - while the theme module is missing
            return
        for problem in themes.register_themes(self):
            self.notify(problem, severity="warning", timeout=8)
        problem = themes.apply_theme(self, self.config.theme)
        if problem:
            self.notify(problem, severity="warning", timeout=8)

    # ---- API keys ----------------------------------------------------------------------

    def key_for(self, provider_name: str) -> str | None:
        """Resolve (once) the key of a provider; may run api_key_command, so call it off
        the event loop. Raises ChattermError when the key command fails."""
        from chatterm.config import resolve_api_key

        with self._keys_lock:
            if provider_name in self._keys:
                return self._keys[provider_name]
        key = resolve_api_key(self.config.provider(provider_name))
        with self._keys_lock:
            self._keys[provider_name] = key
        return key

    def cached_key(self, provider_name: str) -> str | None:
        with self._keys_lock:
            return self._keys.get(provider_name)

    def forget_key(self, provider_name: str) -> None:
        with self._keys_lock:
            self._keys.pop(provider_name, None)

    def provider_needs_key(self, provider_name: str) -> bool:
        try:
            return self.config.provider(provider_name).needs_key
        except ChattermError:
            return False

    def open_first_run(self, provider_name: str) -> None:
        from chatterm.ui.screens.first_run import FirstRunScreen

        if isinstance(self.screen, FirstRunScreen):
            return
        self.push_screen(FirstRunScreen(self.config, provider_name), self._first_run_done)

    def _first_run_done(self, result: tuple[str, str | None] | None) -> None:
        if result is None or self.chat is None:
            return
        provider, model = result
        self.forget_key(provider)
        chat = self.chat
        if provider != chat.conversation.provider or model:
            chat.apply_model(provider, model or chat.conversation.model)
        else:
            chat.session = None  # so the next send picks up the new key
            chat.status.show_note("key saved: press Enter to send")
        chat.prompt.focus()

    @property
    def chat_screen(self) -> ChatScreen | None:
        """The chat screen when it is the one in front (dialogs shadow global keys)."""
        return self.chat if self.screen is self.chat else None

    # ---- conversations -----------------------------------------------------------------

    def on_conversation_open_requested(self, event: ConversationOpenRequested) -> None:
        self.open_conversation(event.conversation_id)

    def open_conversation(self, conversation_id: str) -> None:
        if self.chat is None or self.store is None:
            return
        try:
            opened = open_saved(self.store, conversation_id)
        except ChattermError as error:
            self.notify(error.message, severity="error")
            return
        self.chat.open_conversation(opened)

    def on_provider_configured(self, event: ProviderConfigured) -> None:
        self._first_run_done((event.provider, event.model))

    def on_conversation_changed(self, event: ConversationChanged) -> None:
        sidebar = self._sidebar()
        if sidebar is not None and hasattr(sidebar, "reload"):
            sidebar.reload()

    def _sidebar(self) -> Any:
        if self.chat is None:
            return None
        try:
            from chatterm.ui.widgets.sidebar import Sidebar
        except ImportError:  # pragma: no cover - while the sidebar is missing
            return None
        found = self.chat.query(Sidebar)
        return found.first() if found else None

    # ---- actions bound to keys (names from chatterm.ui.keys) ---------------------------

    def action_stop(self) -> None:
        chat = self.chat_screen
        if chat is not None:
            chat.stop()

    def action_retry(self) -> None:
        chat = self.chat_screen
        if chat is not None:
            chat.retry()

    def action_continue_reply(self) -> None:
        chat = self.chat_screen
        if chat is not None:
            chat.continue_reply()

    def action_new_chat(self) -> None:
        chat = self.chat_screen
        if chat is None:
            return
        from chatterm.ui.launch import OpenedConversation

        current = chat.conversation
        conversation = new_conversation(self.config, current.provider, current.model)
        chat.open_conversation(OpenedConversation(conversation))

    def action_copy_last_reply(self) -> None:
        chat = self.chat_screen
        if chat is None:
            return
        message = chat.focused_or_last_reply()
        if message is None:
            self.notify("There is no reply to copy yet.", severity="warning")
            return
        chat.copy_text(message.content, "reply" if message.role == "assistant" else "message")

    async def action_quit(self) -> None:
        """Quit, but first let a streaming reply be stopped and saved."""
        if self.chat is not None:
            await self.chat.stop_and_wait()
        self.exit(0)


def _teach_alt_enter() -> None:
    """Make legacy terminals' Alt+Enter (ESC CR) a key of its own.

    Textual turns ESC CR into a plain "enter", which would send the prompt; with the
    kitty protocol it already reports "alt+enter". The sequence table is Textual's own
    (pinned version), and an object with a `.value` is all its parser reads.
    """
    try:
        from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
    except ImportError:  # pragma: no cover - a Textual without the table
        return

    class _Key:
        value = "alt+enter"

    ANSI_SEQUENCES_KEYS.setdefault("\x1b\r", (_Key(),))  # type: ignore[arg-type]


def run_app(options: LaunchOptions) -> int:
    """`chatterm` with no command. Bad flags raise ChattermError before the screen opens."""
    from chatterm.ui.launch import prepare_launch

    state = prepare_launch(options)
    try:
        _teach_alt_enter()
        app = ChattermApp(state)
        result = app.run()
    finally:
        if state.store is not None:
            state.store.close()
    return result or 0

