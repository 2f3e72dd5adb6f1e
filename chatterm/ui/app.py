"""The Textual application: start-up, global keys, and the dialogs around the chat screen.

Start-up is kept short on purpose: the config, the store and the conversation are read
before Textual loads (see chatterm.launch), the first frame shows the prompt, and everything
else (themes, the key check, the sidebar, model lists, Markdown) comes after it.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App

from chatterm.errors import ChattermError
from chatterm.keymap import resolve_keys
from chatterm.launch import (
    FIRST_PAGE,
    LaunchOptions,
    LaunchState,
    new_conversation,
    open_saved,
)
from chatterm.redact import shown
from chatterm.sanitize import neutralise
from chatterm.screen_state import ScreenState
from chatterm.ui import compat
from chatterm.ui.chat import key_hints
from chatterm.ui.chat.reveal import REVEAL_BEFORE
from chatterm.ui.chat.screen import ChatScreen
from chatterm.ui.events import ConversationChanged, ConversationOpenRequested, ProviderConfigured
from chatterm.ui.keys import bindings_for, install_bindings
from chatterm.ui.terminal_keys import TerminalKeys, teach_parser

if TYPE_CHECKING:
    from collections.abc import Iterable

    from textual.app import SystemCommand
    from textual.command import Provider
    from textual.screen import Screen

    from chatterm.engine.pool import ClientPool

CSS_FILE = Path(__file__).with_name("chatterm.tcss")
STREAM_READ_INTERVAL = 0.1
"""Seconds between socket reads of a streaming reply (see chatterm.api.paced). The
reply widget paints at most every 0.25 s, so reading more often only costs wake-ups;
reading less often would delay the end of a reply, which is drawn as soon as it is read."""


def _palette_commands() -> type[Provider]:
    # The palette module pulls in textual.command; only load it when the palette opens.
    from chatterm.ui.commands import ChattermCommands

    return ChattermCommands


class ChattermApp(App[int]):
    CSS_PATH = CSS_FILE
    TITLE = "chatterm"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[Any]] = bindings_for("app")
    COMMANDS = App.COMMANDS | {_palette_commands}

    def __init__(self, state: LaunchState) -> None:
        super().__init__()
        self.state = state
        self.config = state.config
        self.store = state.store
        self.keymap, self._key_problems = resolve_keys(self.config.keys)
        # Unbound actions get no binding at all (Textual's keymap can only move one).
        install_bindings(self, self.keymap, "app")
        self.terminal_keys = TerminalKeys()
        self.terminal_keys.changed = self._terminal_keys_changed
        # The palette shows each command's key from here (see chatterm.ui.commands).
        self.chatterm_keymap = self.keymap
        self._keys: dict[str, str | None] = {}
        self._keys_lock = threading.Lock()
        self.chat: ChatScreen | None = None
        self._client_pool: ClientPool | None = None
        self._theme_problems = self._initial_theme()
        # How the screen was left last time; kept up to date for the next launch.
        self.screen_state = state.screen or ScreenState()

    # ---- start-up ----------------------------------------------------------------------

    def get_default_screen(self) -> ChatScreen:
        # The chat screen is the app's base screen rather than one pushed over Textual's
        # blank default: one screen composed, styled and drawn before the first frame.
        self.chat = ChatScreen(self.state.opened)
        return self.chat

    def on_mount(self) -> None:
        for problem in self._theme_problems:
            self.notify(neutralise(problem), severity="warning", timeout=8, markup=False)
        if self.state.override is not None and self.state.opened.saved and self.chat:
            # `-c --model M`: the reopened conversation continues with M, and says so.
            self.chat.save_settings()
        version = compat.version_note()
        if version is not None:  # a Textual other than the pinned one: said, not fatal
            self.log.warning(version)
        notes = [*self.state.notes, *self._key_problems, *([version] if version else [])]
        for note in notes:
            self.notify(neutralise(note), severity="warning", timeout=8, markup=False)
        self.call_after_refresh(self._warm_up)

    def _warm_up(self) -> None:
        # What exists by the first frame lives as long as the app: keep it out of the
        # collector's walks, and turn collection back on (`chatterm` launches with it off).
        gc.freeze()
        gc.enable()
        # Loaded after the first frame, in a thread, so the first reply does not pay for it.
        from chatterm.ui import warmup

        warmup.mark_started()
        # Does Shift+Enter reach us? Asked after the first frame; the answer is a key event.
        self.terminal_keys.query(compat.driver_of(self))
        self.run_worker(warmup.warm_up, thread=True, group="warm-up", exit_on_error=False)

    def _initial_theme(self) -> list[str]:
        """Register the themes and pick the configured one before the stylesheet is first
        read. Setting `App.theme` later would parse and apply all the CSS a second time
        (about a sixth of the start-up); returns the problems to notify about."""
        from chatterm.ui import themes

        problems = themes.register_themes(self)
        wanted = self.config.theme or themes.DEFAULT_THEME
        if wanted not in self.available_themes:
            problem = themes.apply_theme(self, wanted)
            return [*problems, problem] if problem else problems
        compat.apply_first_theme(self, wanted)
        return problems

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            if self.terminal_keys.take(event.key):
                return  # the terminal's answer to the kitty-protocol query, not a key press
            if self.chat is not None and self.screen is self.chat:
                self.chat.redirect_typing(event)
        await super().on_event(event)

    def idle_hint(self) -> str:
        return key_hints.idle_hint(self.keymap, kitty=self.terminal_keys.kitty)

    def _terminal_keys_changed(self) -> None:
        if self.chat is not None and self.chat.is_attached:
            self.chat.show_idle_hint(unless_busy=True)

    def remember_sidebar(self, shown: bool) -> None:
        """Keep whether the sidebar is open, so the next `chatterm` opens the same screen."""
        if shown == self.screen_state.sidebar:
            return
        from chatterm.screen_state import save_screen_state

        self.screen_state.sidebar = shown
        # A tiny file written whole: about a millisecond, so it is done right here.
        problem = save_screen_state(self.screen_state)
        if problem:
            self.notify(neutralise(problem), severity="warning", timeout=8, markup=False)

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
        from chatterm.ui.dialogs.first_run import FirstRunScreen

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
            chat.forget_key()  # so the next send picks up the new key
            chat.status.show_note("key saved: press Enter to send")
        chat.prompt.focus()

    @property
    def chat_screen(self) -> ChatScreen | None:
        """The chat screen when it is the one in front (dialogs shadow global keys)."""
        return self.chat if self.screen is self.chat else None

    # ---- conversations -----------------------------------------------------------------

    def on_conversation_open_requested(self, event: ConversationOpenRequested) -> None:
        self.open_conversation(event.conversation_id)

    def open_conversation(self, conversation_id: str, message_id: str | None = None) -> None:
        """Open a saved conversation; with `message_id` (a search hit), show that message."""
        if self.chat is None or self.store is None:
            return
        try:
            page = FIRST_PAGE
            if message_id is not None:
                # Load from just above the hit to the end; only a window is mounted.
                total = self.store.count_messages(conversation_id)
                from_end = total - self.store.position_of(message_id)
                page = max(FIRST_PAGE, from_end + REVEAL_BEFORE)
            opened = open_saved(self.store, conversation_id, page)
        except ChattermError as error:
            self.notify(shown(error.message), severity="error", markup=False)
            return
        self.chat.open_conversation(opened, message_id)

    def on_provider_configured(self, event: ProviderConfigured) -> None:
        self._first_run_done((event.provider, event.model))

    def on_conversation_changed(self, event: ConversationChanged) -> None:
        if self.chat is not None:
            self.chat.refresh_sidebar()

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
        from chatterm.launch import OpenedConversation

        # A new chat starts from the config (or `--provider/--model` given at launch), not
        # from the model the current chat was switched to: a switch is that chat's own.
        conversation = new_conversation(self.config, *(self.state.override or (None, None)))
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

    # ---- dialogs (E2's screens) -------------------------------------------------------

    def action_switch_model(self) -> None:
        chat = self.chat_screen
        if chat is None:
            return
        from chatterm.ui.pickers.model_picker import ModelPicker

        conversation = chat.conversation
        picker = ModelPicker(self.config.providers, conversation.provider, conversation.model)

        def picked(result: tuple[str, str] | None) -> None:
            if result is not None:
                chat.apply_model(*result)
            chat.prompt.focus()

        self.push_screen(picker, picked)

    def action_toggle_sidebar(self) -> None:
        chat = self.chat_screen
        if chat is not None:
            chat.toggle_sidebar()

    def show_sidebar(self) -> None:
        if self.chat is not None:
            self.chat.toggle_sidebar(show=True)

    def action_search_chats(self) -> None:
        chat = self.chat_screen
        if chat is not None:
            chat.toggle_sidebar(show=True, search=True)

    def action_rename_chat(self) -> None:
        chat = self.chat_screen
        if chat is None:
            return
        from chatterm.ui.dialogs.text_prompt import TextPrompt

        dialog = TextPrompt("Rename chat", chat.conversation.title, "A short title")
        self.push_screen(dialog, lambda title: title is not None and chat.rename(title))

    def action_delete_chat(self) -> None:
        chat = self.chat_screen
        if chat is None:
            return
        if not chat.opened.saved:
            self.notify("This chat is not saved yet: there is nothing to delete.")
            return
        from chatterm.ui.dialogs.confirm import ConfirmDialog

        title = chat.conversation.title or "this chat"
        dialog = ConfirmDialog(
            f"Delete “{title}” and all its messages? This cannot be undone.",
            confirm="Delete", cancel="Keep", danger=True, title="Delete chat",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                chat.delete_current()

        self.push_screen(dialog, answered)

    def action_export_chat(self) -> None:
        chat = self.chat_screen
        if chat is None:
            return
        from chatterm.ui.dialogs.export import ExportDialog

        dialog = ExportDialog(Path.cwd() / f"{chat.export_stem()}.md")

        def chosen(result: tuple[Path, str] | None) -> None:
            if result is not None:
                chat.export_to(*result)

        self.push_screen(dialog, chosen)

    def action_edit_system_prompt(self) -> None:
        chat = self.chat_screen
        if chat is None:
            return
        from chatterm.ui.dialogs.text_prompt import TextPrompt

        dialog = TextPrompt(
            "System prompt for this chat", chat.conversation.system_prompt,
            "How the model should behave (empty: none)", multiline=True, allow_empty=True,
        )
        self.push_screen(
            dialog, lambda text: text is not None and chat.set_system_prompt(text)
        )

    def action_edit_params(self) -> None:
        chat = self.chat_screen
        if chat is None:
            return
        from chatterm.ui.dialogs.params import ParamsDialog

        try:
            kind = self.config.provider(chat.conversation.provider).kind
        except ChattermError:
            kind = "openai"
        dialog = ParamsDialog(chat.conversation.params, kind)
        self.push_screen(dialog, lambda params: params is not None and chat.set_params(params))

    def action_change_theme(self) -> None:
        from chatterm.ui.pickers.theme_picker import ThemePicker

        # The picker saves through the config editor, which updates self.config too.
        self.push_screen(ThemePicker(self.config.path, config=self.config))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own "Theme" entry runs action_change_theme, which is ours: the palette
        # would list the same picker twice.
        for command in super().get_system_commands(screen):
            if command.callback != self.action_change_theme:
                yield command

    def client_pool(self) -> ClientPool:
        """HTTP clients shared by every conversation of this run, closed on quit."""
        if self._client_pool is None:
            from chatterm.engine.pool import ClientPool

            self._client_pool = ClientPool(read_interval=STREAM_READ_INTERVAL)
        return self._client_pool

    async def action_quit(self) -> None:
        """Quit, but first let every streaming reply be stopped and saved."""
        if self.chat is not None:
            await self.chat.stop_and_wait(every_chat=True)
        if self._client_pool is not None:
            await self._client_pool.aclose()
        self.exit(0)


def _teach_alt_enter() -> None:
    """Make legacy terminals' Alt+Enter (ESC CR) a key of its own.

    Textual turns ESC CR into a plain "enter", which would send the prompt; with the
    kitty protocol it already reports "alt+enter".
    """
    from chatterm.ui.compat import teach_key_sequences

    teach_key_sequences({"\x1b\r": "alt+enter"})


def run_app(options: LaunchOptions) -> int:
    """`chatterm` with no command. Bad flags raise ChattermError before the screen opens."""
    from chatterm.launch import prepare_launch

    state = prepare_launch(options)
    try:
        _teach_alt_enter()
        teach_parser()
        app = ChattermApp(state)
        result = app.run()
    finally:
        if state.store is not None:
            state.store.close()
    return result or 0

