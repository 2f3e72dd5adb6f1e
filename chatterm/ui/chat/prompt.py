"""The multi-line prompt: Enter sends, Ctrl+J / Alt+Enter (and Shift+Enter where the
terminal tells it from Enter) insert a newline, ↑ in an empty prompt recalls earlier
prompts, the chat's scrolling keys (PageUp/PageDown/Home/End) pass through to the chat,
Ctrl+E opens the prompt in the user's editor (prompt_editor.py), and Ctrl+A asks the
chat screen to attach a file (chatterm.ui.attach; a pasted path and Backspace in an empty
prompt are passed on to it too).

Every one of these keys comes from the key map (prompt-scope actions in chatterm.keymap),
so a `[keys]` table can change them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from textual import events
from textual.widgets import TextArea

from chatterm.keymap import DEFAULT_KEYMAP, keys_for
from chatterm.ui.attach.events import AttachRequested, EmptyBackspace, PathPasted
from chatterm.ui.attach.paths import MAX_PASTED_PATH
from chatterm.ui.chat.prompt_editor import open_in_editor, show_prompt_keys
from chatterm.ui.chat.prompt_history import PromptHistory
from chatterm.ui.events import ChatScrollRequested, PromptSubmitted

SEND_KEYS = frozenset({"enter"})
# Legacy terminals send the same byte for Shift+Enter and Enter, so Ctrl+J (a raw LF) is
# the newline key that works everywhere.
NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j", "alt+enter"})
# Other names terminals give the same keys: "shift+\r" is how Textual reports xterm's
# modifyOtherKeys Shift+Enter; Ctrl+J arrives with the alias "newline".
KEY_ALIASES = {"shift+enter": {"shift+\r"}, "ctrl+j": {"newline"}}


def with_aliases(keys: frozenset[str] | set[str]) -> frozenset[str]:
    found = set(keys)
    for key in keys:
        found |= KEY_ALIASES.get(key, set())
    return frozenset(found)


SCROLL_ACTIONS = ("scroll_page_up", "scroll_page_down", "scroll_top", "scroll_bottom")
# Home and End scroll the chat, so the prompt's own start and end move to Ctrl+Home/End.
PROMPT_START_END = {"ctrl+home": "start", "ctrl+end": "end"}

# Above this many characters the prompt stops soft-wrapping (see on_paste).
WRAP_LIMIT = 64_000


class PromptInput(TextArea):
    """A TextArea whose Enter submits instead of breaking the line."""

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 12;
    }
    """

    # Binding ids let a [keys] table rebind them; the TextArea keeps its editing keys.
    BINDINGS: ClassVar = []

    def __init__(self, *, id: str | None = None, placeholder: str = "",
                 keymap: Mapping[str, str] = DEFAULT_KEYMAP,
                 prompts: Callable[[], Sequence[str]] = tuple) -> None:
        """`prompts` gives this chat's earlier prompts, oldest first (for ↑ and Ctrl+↑)."""
        self.send_keys = with_aliases(frozenset(keys_for(keymap, "send")))
        self.newline_keys = with_aliases(frozenset(keys_for(keymap, "newline"))) - self.send_keys
        # Every other prompt-scope key -> its action.
        self.key_actions: dict[str, str] = {
            key: action
            for action in ("history_previous", "history_next", "clear_prompt", *SCROLL_ACTIONS)
            for key in with_aliases(frozenset(keys_for(keymap, action)))
        }
        self.editor_keys = with_aliases(frozenset(keys_for(keymap, "edit_in_editor")))
        self.attach_keys = with_aliases(frozenset(keys_for(keymap, "attach_file")))
        self.prompt_history = PromptHistory(prompts)
        super().__init__(
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            compact=True,
            placeholder=placeholder,
        )
        show_prompt_keys(self, keymap)

    async def on_key(self, event: events.Key) -> None:
        if self.read_only:
            return
        if event.key in self.send_keys:
            event.stop()
            event.prevent_default()
            self.post_message(PromptSubmitted(self.text))
            return
        if event.key in self.newline_keys or (
            "newline" in self.newline_keys and "newline" in event.aliases
        ):
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self.replace("\n", start, end, maintain_selection_offset=False)
            return
        if event.key in self.editor_keys:
            event.stop()
            event.prevent_default()
            self.action_edit_in_editor()
            return
        if event.key in self.attach_keys:
            event.stop()
            event.prevent_default()
            self.action_attach_file()
            return
        if event.key == "backspace" and self.document.end == (0, 0):
            self.post_message(EmptyBackspace())  # the last attachment chip goes
            return
        action = self.key_actions.get(event.key) or self._arrow_action(event.key)
        if action is None and event.key in PROMPT_START_END:
            event.stop()
            event.prevent_default()
            to_end = PROMPT_START_END[event.key] == "end"
            self.move_cursor(self.document.end if to_end else (0, 0))
            return
        if action is None:
            return  # Textual calls TextArea's key handler after this one (MRO dispatch).
        event.stop()
        event.prevent_default()
        if action in SCROLL_ACTIONS:
            self.post_message(ChatScrollRequested(action))
        elif action == "clear_prompt":
            self.clear()  # an edit like any other: Ctrl+Z brings the text back
        elif action == "history_previous":
            self._show(self.prompt_history.previous(self.text))
        else:
            self._show(self.prompt_history.next(self.text))

    def action_edit_in_editor(self) -> None:
        """The footer's key runs this too."""
        open_in_editor(self)

    def action_attach_file(self) -> None:
        """Ctrl+A (and the footer's key): the chat screen opens the attach dialog."""
        self.post_message(AttachRequested())

    def _arrow_action(self, key: str) -> str | None:
        """↑ recalls an earlier prompt when the prompt is empty, and keeps walking while
        a recalled prompt is shown and the cursor is on its top row; ↓ on its bottom row
        walks forward. Anywhere else the arrows move the cursor as usual."""
        if key not in ("up", "down"):
            return None
        # Cheap tests first: a megabyte paste must not be joined into a string per arrow.
        empty = self.document.end == (0, 0)
        recalling = self.prompt_history.active and self.prompt_history.recalling(self.text)
        if key == "up" and (empty or (
                recalling and self.navigator.is_first_wrapped_line(self.cursor_location))):
            return "history_previous"
        if key == "down" and recalling and (
                self.navigator.is_last_wrapped_line(self.cursor_location)):
            return "history_next"
        return None

    def _show(self, text: str | None) -> None:
        if text is None:
            return
        # One edit, so Ctrl+Z undoes a recall too; the cursor goes to the end, as in a shell.
        self.replace(text, (0, 0), self.document.end, maintain_selection_offset=False)
        self.move_cursor(self.document.end)

    async def on_paste(self, event: events.Paste) -> None:
        # Soft-wrapping a megabyte costs seconds per edit; past WRAP_LIMIT the prompt
        # scrolls sideways instead. TextArea's paste handler then inserts the text.
        if self.soft_wrap and len(self.document.text) + len(event.text) > WRAP_LIMIT:
            self.soft_wrap = False
        # A terminal pastes a file dropped on it as its path: the screen may offer to
        # attach it (the text goes in as typed either way).
        if len(event.text) <= MAX_PASTED_PATH:
            self.post_message(PathPasted(event.text))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if not self.soft_wrap and len(self.document.text) <= WRAP_LIMIT:
            self.soft_wrap = True

    def take_text(self) -> str:
        """Empty the prompt and return what it held."""
        text = self.text
        self.clear()
        return text
