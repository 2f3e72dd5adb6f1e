"""The Textual application: start-up, the theme, quitting, and the services screens use.

Start-up is kept short on purpose: the config, the store and the conversation are read
before Textual loads (see chatterm.launch), the first frame shows the prompt, and everything
else (themes, the key check, the sidebar, model lists, Markdown) comes after it.

The chat screen gets what it needs from the app as a `ChatServices` (ui/services.py) and
owns its keys and actions; the app binds only the keys that work on every screen (quit,
the theme), so no screen imports this module.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App

from chatterm.keymap import resolve_keys
from chatterm.launch import LaunchOptions, LaunchState
from chatterm.screen_state import ScreenState
from chatterm.ui import compat, inert
from chatterm.ui.chat.screen import ChatScreen
from chatterm.ui.keys import bindings_for, install_bindings
from chatterm.ui.services import ApiKeys, ChatServices, ScreenMemory
from chatterm.ui.terminal_keys import TerminalKeys, teach_parser
from chatterm.ui.tools.hosting import AppTools

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
    # Ours is the only provider: it lists Textual's system commands too, after chatterm's.
    COMMANDS: ClassVar[set[Any]] = {_palette_commands}

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
        self.api_keys = ApiKeys(self.config)
        self.chat: ChatScreen | None = None
        self._quit_asked = False  # the question about queued prompts is up (action_quit)
        self._client_pool: ClientPool | None = None
        self._theme_problems = self._initial_theme()
        # How the screen was left last time; kept up to date for the next launch.
        self.screen_memory = ScreenMemory(state.screen or ScreenState())
        # The MCP servers start after the first frame (_warm_up), if any are configured.
        self.tools = AppTools(self, self.config, shown=self._shown_conversation)

    def services(self) -> ChatServices:
        """What the chat screen gets from the app (instead of reaching into it)."""
        return ChatServices(
            config=self.config,
            store=self.store,
            keymap=self.keymap,
            keys=self.api_keys,
            client_pool=self.client_pool,
            kitty=lambda: self.terminal_keys.kitty,
            screen_memory=self.screen_memory,
            new_chat_with=self.state.override,
            tools=self.tools,
        )

    # ---- start-up ----------------------------------------------------------------------

    def get_default_screen(self) -> ChatScreen:
        # The chat screen is the app's base screen rather than one pushed over Textual's
        # blank default: one screen composed, styled and drawn before the first frame.
        self.chat = ChatScreen(self.state.opened, self.services())
        return self.chat

    def on_mount(self) -> None:
        for problem in self._theme_problems:
            self.notify(inert.text(problem), severity="warning", timeout=8, markup=False)
        if self.state.override is not None and self.state.opened.saved and self.chat:
            # `-c --model M`: the reopened conversation continues with M, and says so.
            self.chat.save_settings()
        version = compat.version_note()
        if version is not None:  # a Textual other than the pinned one: said, not fatal
            self.log.warning(version)
        notes = [*self.state.notes, *self._key_problems, *([version] if version else [])]
        for note in notes:
            self.notify(inert.text(note), severity="warning", timeout=8, markup=False)
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
        # The servers start in the background (the SDK is imported on the host's thread).
        self.tools.start()

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

    def _terminal_keys_changed(self) -> None:
        if self.chat is not None and self.chat.is_attached:
            self.chat.show_idle_hint(unless_busy=True)

    def show_sidebar(self) -> None:
        """Open the saved chats (the first-run screen's "browse" button)."""
        if self.chat is not None:
            self.chat.toggle_sidebar(show=True)

    def _shown_conversation(self) -> str | None:
        return self.chat.conversation.id if self.chat is not None else None

    def client_pool(self) -> ClientPool:
        """HTTP clients shared by every conversation of this run, closed on quit."""
        if self._client_pool is None:
            from chatterm.engine.pool import ClientPool

            self._client_pool = ClientPool(read_interval=STREAM_READ_INTERVAL)
        return self._client_pool

    # ---- actions bound on the app (the chat's own are ChatScreen's) --------------------

    def action_change_theme(self) -> None:
        from chatterm.ui.pickers.theme_picker import ThemePicker

        # The picker saves through the config editor, which updates self.config too.
        self.push_screen(ThemePicker(self.config.path, config=self.config))

    def action_show_tools(self) -> None:
        from chatterm.ui.tools.panel import ToolsPanel

        if self.chat is not None:
            self.push_screen(ToolsPanel(self.tools, self.chat.conversation.id,
                                        str(self.config.path or "")))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Textual's own "Theme" entry runs action_change_theme, which is ours: the palette
        # would list the same picker twice.
        for command in super().get_system_commands(screen):
            if command.callback != self.action_change_theme:
                yield command

    async def action_quit(self) -> None:
        """Quit, but first let every streaming reply be stopped and saved. Queued prompts
        are not saved (prompt_queue.py): with some, quitting asks first (Ctrl+Q again or
        Y quits)."""
        waiting = self.chat.queue.waiting() if self.chat is not None else 0
        if waiting and not self._quit_asked:
            from chatterm.ui.dialogs.confirm import ConfirmDialog

            self._quit_asked = True
            things = "1 queued prompt is" if waiting == 1 else f"{waiting} queued prompts are"
            self.push_screen(ConfirmDialog(
                f"{things} not sent yet, and will be lost: queued prompts are saved only "
                "when they are sent.\nQuit anyway?", confirm="Quit", cancel="Stay",
                danger=True, title="Quit with queued prompts"), self._quit_answered)
            return
        if self.chat is not None:
            await self.chat.stop_and_wait(every_chat=True)
        await self.tools.close()  # bounded: a server that will not exit is killed
        if self._client_pool is not None:
            await self._client_pool.aclose()
        self.exit(0)


    async def _quit_answered(self, quit_now: bool | None) -> None:
        if quit_now:
            await self.action_quit()
        else:
            self._quit_asked = False


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
            from chatterm.engine.writer import settle

            settle(state.store)  # the writes still queued land before the store closes
            state.store.close()
    return result or 0

