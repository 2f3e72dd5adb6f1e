"""The multi-line prompt: Enter sends, Shift+Enter / Ctrl+J / Alt+Enter insert a newline.

Both key sets come from the key map (`send` and `newline` in chatterm.ui.keys), so a
`[keys]` table can change them.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.widgets import TextArea

from chatterm.ui.events import PromptSubmitted

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


# Above this many characters the prompt stops soft-wrapping (see _on_paste).
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
                 send_keys: frozenset[str] = SEND_KEYS,
                 newline_keys: frozenset[str] = NEWLINE_KEYS) -> None:
        self.send_keys = with_aliases(send_keys)
        self.newline_keys = with_aliases(newline_keys) - self.send_keys
        super().__init__(
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            compact=True,
            placeholder=placeholder,
        )

    async def _on_key(self, event: events.Key) -> None:
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
            self._replace_via_keyboard("\n", start, end)
        # Anything else: Textual calls TextArea._on_key after this one (MRO dispatch).

    async def _on_paste(self, event: events.Paste) -> None:
        # Soft-wrapping a megabyte costs seconds per edit; past WRAP_LIMIT the prompt
        # scrolls sideways instead. TextArea._on_paste then inserts the text.
        if self.soft_wrap and len(self.document.text) + len(event.text) > WRAP_LIMIT:
            self.soft_wrap = False

    def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        if not self.soft_wrap and len(self.document.text) <= WRAP_LIMIT:
            self.soft_wrap = True

    def take_text(self) -> str:
        """Empty the prompt and return what it held."""
        text = self.text
        self.clear()
        return text
